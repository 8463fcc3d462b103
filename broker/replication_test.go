package broker

import (
	"slices"
	"testing"
	"time"
)

func TestUpdateFetchStateCaughtUp(t *testing.T) {
	t0 := time.Unix(1000, 0)
	f := &followerState{leo: -1, lastFetchLeaderLEO: -1}
	// Behind the leader's end: not caught up.
	f.updateFetchState(5, 0, 10, t0)
	if !f.lastCaughtUp.IsZero() || f.leo != 5 {
		t.Fatalf("behind: %+v", f)
	}
	// Now at what the leader had at the previous fetch (10), while the
	// leader moved to 20: caught up as of the previous fetch.
	f.updateFetchState(10, 0, 20, t0.Add(time.Second))
	if !f.lastCaughtUp.Equal(t0) {
		t.Fatalf("caught up to previous fetch: lastCaughtUp %v, want %v", f.lastCaughtUp, t0)
	}
	// At the leader's end: caught up now.
	f.updateFetchState(20, 0, 20, t0.Add(2*time.Second))
	if !f.lastCaughtUp.Equal(t0.Add(2 * time.Second)) {
		t.Fatalf("at the end: %v", f.lastCaughtUp)
	}
	// Falling behind never moves lastCaughtUp back.
	f.updateFetchState(20, 0, 50, t0.Add(3*time.Second))
	f.updateFetchState(21, 0, 60, t0.Add(4*time.Second))
	if !f.lastCaughtUp.Equal(t0.Add(2 * time.Second)) {
		t.Fatalf("behind again: %v", f.lastCaughtUp)
	}
}

func TestHighWatermark(t *testing.T) {
	fs := map[int32]*followerState{2: {leo: 7}, 3: {leo: 4}, 4: {leo: -1}}
	for _, tc := range []struct {
		isr    []int32
		hw     int64
		ok     bool
		reason string
	}{
		{[]int32{1}, 10, true, "leader alone: its LEO"},
		{[]int32{1, 2}, 7, true, "smallest LEO in the ISR"},
		{[]int32{1, 2, 3}, 4, true, "smallest LEO in the ISR"},
		{[]int32{3, 1, 2}, 4, true, "order does not matter"},
		{[]int32{1, 2, 4}, 0, false, "an ISR member that has not fetched holds the HW"},
		{[]int32{1, 5}, 0, false, "an unknown ISR member holds the HW"},
	} {
		hw, ok := highWatermark(1, 10, tc.isr, fs)
		if hw != tc.hw || ok != tc.ok {
			t.Errorf("%s: isr %v: got (%d, %v), want (%d, %v)", tc.reason, tc.isr, hw, ok, tc.hw, tc.ok)
		}
	}
}

func TestShouldJoinISR(t *testing.T) {
	replicas := []int32{1, 2, 3}
	for _, tc := range []struct {
		id                   int32
		leo                  int64
		isr                  []int32
		hw, leaderEpochStart int64
		want                 bool
	}{
		{2, 10, []int32{1}, 10, 5, true},
		{2, 9, []int32{1}, 10, 5, false},     // below the HW
		{2, 10, []int32{1}, 8, 12, false},    // below the leader epoch start
		{2, 10, []int32{1, 2}, 10, 5, false}, // already in
		{4, 10, []int32{1}, 10, 5, false},    // not a replica
		{3, -1, []int32{1}, 0, 0, false},     // has not fetched
	} {
		f := &followerState{leo: tc.leo}
		if got := shouldJoinISR(tc.id, f, tc.isr, replicas, tc.hw, tc.leaderEpochStart); got != tc.want {
			t.Errorf("%+v: got %v", tc, got)
		}
	}
}

func TestLaggingISR(t *testing.T) {
	now := time.Unix(1000, 0)
	fs := map[int32]*followerState{
		2: {lastCaughtUp: now.Add(-5 * time.Second)},
		3: {lastCaughtUp: now.Add(-11 * time.Second)},
		4: {}, // never caught up
	}
	got := laggingISR(1, []int32{1, 2, 3, 4, 5}, fs, now, 10*time.Second)
	if want := []int32{3, 4, 5}; !slices.Equal(got, want) {
		t.Fatalf("lagging %v, want %v", got, want)
	}
	if got := without([]int32{1, 2, 3, 4, 5}, got); !slices.Equal(got, []int32{1, 2}) {
		t.Fatalf("new ISR %v", got)
	}
	// A new leader gives ISR members a full lag period.
	fs = newFollowerStates(1, []int32{1, 2, 3}, []int32{1, 2}, now)
	if got := laggingISR(1, []int32{1, 2}, fs, now.Add(9*time.Second), 10*time.Second); len(got) != 0 {
		t.Fatalf("fresh leader: lagging %v", got)
	}
	if fs[3].leo != -1 || !fs[3].lastCaughtUp.IsZero() {
		t.Fatalf("out-of-sync follower state %+v", fs[3])
	}
}

// TestTruncationFor covers Kafka 2.4's truncation cases (KIP-101, KIP-279).
func TestTruncationFor(t *testing.T) {
	// The follower's epochs: 0 from offset 0, 2 from 10, 3 from 20; LEO 30.
	followerEnd := func(epoch int32) (int32, int64) {
		switch {
		case epoch >= 3:
			return 3, 30
		case epoch == 2:
			return 2, 20
		case epoch == 1 || epoch == 0:
			return 0, 10
		}
		return -1, -1
	}
	for _, tc := range []struct {
		name        string
		leaderEpoch int32
		leaderEnd   int64
		want        truncation
	}{
		{"leader has our epoch, ends later: keep our log", 3, 40, truncation{30, true}},
		{"leader has our epoch, ends earlier: cut to its end", 3, 25, truncation{25, true}},
		{"leader's epoch 2 ends where ours does", 2, 20, truncation{20, true}},
		{"leader's epoch 2 ends earlier", 2, 15, truncation{15, true}},
		{"leader knows epoch 1 that we never saw: cut to our end of epoch 0 and ask again", 1, 12, truncation{10, false}},
		{"leader knows none of our epochs: high-water mark", -1, -1, truncation{18, true}},
		{"leader without epochs (old protocol): its end offset", -1, 22, truncation{22, true}},
	} {
		if got := truncationFor(tc.leaderEpoch, tc.leaderEnd, 30, 18, followerEnd); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
	none := func(int32) (int32, int64) { return -1, -1 }
	if got := truncationFor(0, 5, 30, 18, none); got != (truncation{18, true}) {
		t.Errorf("no epoch at or below the leader's: got %+v", got)
	}
}

func TestPartitionBackoff(t *testing.T) {
	st := &fetchState{}
	var got []time.Duration
	for i := 0; i < 8; i++ {
		got = append(got, st.partitionBackoff(6, time.Second)) // NOT_LEADER_FOR_PARTITION
	}
	want := []time.Duration{25, 50, 100, 200, 400, 800, 1000, 1000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("backoffs %v", got)
		}
	}
	if d := st.partitionBackoff(74, time.Second); d != time.Second { // FENCED_LEADER_EPOCH: we are stale
		t.Fatalf("fenced epoch backoff %v", d)
	}
}

func TestLowWatermark(t *testing.T) {
	alive := func(ids ...int32) func(int32) bool { return func(id int32) bool { return slices.Contains(ids, id) } }
	fs := map[int32]*followerState{2: {leo: 30, logStart: 7}, 3: {leo: -1, logStart: -1}, 4: {leo: 30, logStart: 12}}
	for _, tc := range []struct {
		name   string
		leader int64
		alive  func(int32) bool
		want   int64
	}{
		{"a live follower that has not fetched holds it at -1", 10, alive(2, 3, 4), -1},
		{"smallest live follower", 10, alive(2, 4), 7},
		{"the leader's own when followers are ahead", 10, alive(4), 10},
		{"followers on dead brokers do not count (in the ISR or not)", 10, alive(), 10},
		{"leader behind everyone", 3, alive(2, 4), 3},
	} {
		if got := lowWatermark(tc.leader, fs, tc.alive); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	// A fetch records the follower's log start, unknown before.
	f := newFollowerStates(1, []int32{1, 2}, []int32{1, 2}, time.Unix(0, 0))[2]
	if f.logStart != -1 {
		t.Fatalf("initial log start %d", f.logStart)
	}
	f.updateFetchState(30, 9, 30, time.Unix(1, 0))
	if f.logStart != 9 {
		t.Fatalf("log start after a fetch %d", f.logStart)
	}
}

func TestFollowerStatesAfterEpochBump(t *testing.T) {
	t0, now := time.Unix(1000, 0), time.Unix(1005, 0)
	old := map[int32]*followerState{
		2: {leo: 40, lastCaughtUp: t0, lastFetch: t0, lastFetchLeaderLEO: 40},
		3: {leo: 30, lastCaughtUp: t0.Add(-time.Second), lastFetch: t0, lastFetchLeaderLEO: 40},
		4: {leo: 12, lastFetchLeaderLEO: 40, lastFetch: t0}, // never caught up
	}
	for _, tc := range []struct {
		name          string
		replicas, isr []int32
		want          map[int32]followerState
	}{
		{"same ISR: everything kept", []int32{1, 2, 3}, []int32{1, 2, 3}, map[int32]followerState{
			2: *old[2], 3: *old[3]}},
		{"a follower leaves the ISR: its offset stays, its caught-up time goes", []int32{1, 2, 3}, []int32{1, 2}, map[int32]followerState{
			2: *old[2], 3: {leo: 30, lastFetch: t0, lastFetchLeaderLEO: 40}}},
		{"a replica removed from the assignment is forgotten", []int32{1, 2}, []int32{1, 2}, map[int32]followerState{
			2: *old[2]}},
		{"a new replica starts unknown, caught up now if the controller put it in the ISR", []int32{1, 2, 5, 6}, []int32{1, 2, 5}, map[int32]followerState{
			2: *old[2], 5: {leo: -1, logStart: -1, lastFetchLeaderLEO: -1, lastCaughtUp: now}, 6: {leo: -1, logStart: -1, lastFetchLeaderLEO: -1}}},
		{"an ISR member never caught up gets now, keeping its offset", []int32{1, 4}, []int32{1, 4}, map[int32]followerState{
			4: {leo: 12, lastFetch: t0, lastFetchLeaderLEO: 40, lastCaughtUp: now}}},
	} {
		got := followerStatesAfterEpochBump(1, old, tc.replicas, tc.isr, now)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d followers, want %d", tc.name, len(got), len(tc.want))
		}
		for id, w := range tc.want {
			if g := got[id]; g == nil || *g != w {
				t.Errorf("%s: follower %d: got %+v, want %+v", tc.name, id, g, w)
			}
		}
	}
	if old[3].lastCaughtUp.IsZero() || old[2].leo != 40 {
		t.Fatalf("the old states were changed: %+v %+v", old[2], old[3])
	}
}
