package group

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// harness drives a group with a logical clock and numbered request tokens.
type harness struct {
	t       testing.TB
	g       *group
	now     time.Time
	tok     int64
	answers map[int64]any
}

func newHarness(t testing.TB, maxSize int, delay time.Duration) *harness {
	n := 0
	newID := func(prefix string) string { n++; return fmt.Sprintf("%s-%d", prefix, n) }
	return &harness{t: t, g: newGroup("g", limits{maxSize: maxSize, initialRebalanceDelay: delay}, newID), now: time.Unix(1000, 0), answers: map[int64]any{}}
}

func (h *harness) collect(outs []output) {
	for _, o := range outs {
		if _, dup := h.answers[o.token]; dup {
			h.t.Fatalf("token %d answered twice", o.token)
		}
		h.answers[o.token] = o.value
	}
}

// advance moves the clock and fires every timer due, as the driver does.
func (h *harness) advance(d time.Duration) {
	h.now = h.now.Add(d)
	for i := 0; i < 100; i++ {
		next, ok := h.g.nextDeadline()
		if !ok || next.After(h.now) {
			return
		}
		h.collect(h.g.tick(h.now))
	}
	h.t.Fatal("timers keep firing")
}

func joinReq(member string, protos ...string) JoinRequest {
	r := JoinRequest{MemberID: member, ClientID: "c", ClientHost: "/127.0.0.1", RebalanceTimeout: 60 * time.Second, SessionTimeout: 10 * time.Second, ProtocolType: "consumer"}
	if len(protos) == 0 {
		protos = []string{"range"}
	}
	for _, p := range protos {
		r.Protocols = append(r.Protocols, Protocol{Name: p, Metadata: []byte("md-" + p)})
	}
	return r
}

func (h *harness) join(req JoinRequest) int64 {
	h.tok++
	h.collect(h.g.join(h.now, req, h.tok))
	return h.tok
}

func (h *harness) sync(member string, gen int32, assign map[string][]byte) int64 {
	h.tok++
	h.collect(h.g.sync(h.now, SyncRequest{MemberID: member, Generation: gen, Assignments: assign}, h.tok))
	return h.tok
}

func (h *harness) joinResult(tok int64) JoinResult {
	h.t.Helper()
	v, ok := h.answers[tok]
	if !ok {
		h.t.Fatalf("join %d not answered", tok)
	}
	return v.(JoinResult)
}

func (h *harness) syncResult(tok int64) SyncResult {
	h.t.Helper()
	v, ok := h.answers[tok]
	if !ok {
		h.t.Fatalf("sync %d not answered", tok)
	}
	return v.(SyncResult)
}

func (h *harness) parked(tok int64) bool { _, ok := h.answers[tok]; return !ok }

// stable brings n members into a Stable group and returns their ids.
func (h *harness) stable(n int) []string {
	var toks []int64
	for i := 0; i < n; i++ {
		toks = append(toks, h.join(joinReq("")))
	}
	h.advance(0)
	var ids []string
	for _, tk := range toks {
		r := h.joinResult(tk)
		if r.Error != 0 {
			h.t.Fatalf("join: error %d", r.Error)
		}
		ids = append(ids, r.MemberID)
	}
	gen := h.g.generation
	assign := map[string][]byte{}
	for _, id := range ids {
		assign[id] = []byte("a-" + id)
	}
	var stoks []int64
	for _, id := range ids {
		if id != h.g.leader {
			stoks = append(stoks, h.sync(id, gen, nil))
		}
	}
	stoks = append(stoks, h.sync(h.g.leader, gen, assign))
	for _, tk := range stoks {
		if r := h.syncResult(tk); r.Error != 0 {
			h.t.Fatalf("sync: error %d", r.Error)
		}
	}
	if h.g.state != Stable {
		h.t.Fatalf("state %s, want Stable", h.g.state)
	}
	return ids
}

func TestSingleMemberJoinSync(t *testing.T) {
	h := newHarness(t, 100, 0)
	tk := h.join(joinReq(""))
	h.advance(0) // the initial delay (0 here) ends
	r := h.joinResult(tk)
	if r.Error != 0 || r.Generation != 1 || r.LeaderID != r.MemberID || r.Protocol != "range" || len(r.Members) != 1 {
		t.Fatalf("join: %+v", r)
	}
	s := h.syncResult(h.sync(r.MemberID, 1, map[string][]byte{r.MemberID: []byte("x")}))
	if s.Error != 0 || string(s.Assignment) != "x" || h.g.state != Stable {
		t.Fatalf("sync: %+v, state %s", s, h.g.state)
	}
}

func TestMemberIDRequired(t *testing.T) {
	h := newHarness(t, 100, 0)
	req := joinReq("")
	req.RequireKnownMemberID = true
	r := h.joinResult(h.join(req))
	if r.Error != kerr.MemberIDRequired.Code || r.MemberID == "" || h.g.state != Empty {
		t.Fatalf("first join: %+v state %s", r, h.g.state)
	}
	req.MemberID = r.MemberID
	tk := h.join(req)
	h.advance(0)
	r2 := h.joinResult(tk)
	if r2.Error != 0 || r2.MemberID != r.MemberID || r2.Generation != 1 {
		t.Fatalf("second join: %+v", r2)
	}
	// A pending member that never comes back expires after its session timeout.
	req.MemberID = ""
	r3 := h.joinResult(h.join(req))
	if _, ok := h.g.pending[r3.MemberID]; !ok {
		t.Fatal("not pending")
	}
	h.advance(req.SessionTimeout)
	if _, ok := h.g.pending[r3.MemberID]; ok {
		t.Fatal("pending member did not expire")
	}
}

func TestFollowerSyncParksUntilLeaderAssigns(t *testing.T) {
	h := newHarness(t, 100, 0)
	a := h.join(joinReq(""))
	h.advance(0)
	ra := h.joinResult(a)
	// A second member joins a CompletingRebalance group: rebalance again.
	h.sync(ra.MemberID, 1, map[string][]byte{ra.MemberID: []byte("a")})
	b := h.join(joinReq(""))
	if h.g.state != PreparingRebalance || !h.parked(b) {
		t.Fatalf("state %s", h.g.state)
	}
	a2 := h.join(joinReq(ra.MemberID))
	rb, ra2 := h.joinResult(b), h.joinResult(a2)
	if ra2.Generation != 2 || rb.Generation != 2 || ra2.LeaderID != ra.MemberID || len(ra2.Members) != 2 || len(rb.Members) != 0 {
		t.Fatalf("gen 2: leader %+v follower %+v", ra2, rb)
	}
	fs := h.sync(rb.MemberID, 2, nil)
	if !h.parked(fs) {
		t.Fatal("follower sync answered before the leader's")
	}
	ls := h.sync(ra.MemberID, 2, map[string][]byte{ra.MemberID: []byte("A"), rb.MemberID: []byte("B")})
	if string(h.syncResult(fs).Assignment) != "B" || string(h.syncResult(ls).Assignment) != "A" {
		t.Fatal("wrong assignments")
	}
	// DescribeGroups shows metadata and assignments once Stable.
	s := h.g.summary()
	if s.State != "Stable" || s.Protocol != "range" || len(s.Members) != 2 || string(s.Members[1].Assignment) != "B" {
		t.Fatalf("summary %+v", s)
	}
}

func TestInitialRebalanceDelayExtendsForNewMembers(t *testing.T) {
	h := newHarness(t, 100, 3*time.Second)
	a := h.join(joinReq(""))
	h.advance(time.Second)
	b := h.join(joinReq(""))
	h.advance(2 * time.Second) // first delay over, but a member arrived: wait again
	if !h.parked(a) || !h.parked(b) {
		t.Fatal("completed while members were still arriving")
	}
	h.advance(3 * time.Second)
	if h.joinResult(a).Generation != 1 || h.joinResult(b).Generation != 1 {
		t.Fatal("not completed after the extension")
	}
}

func TestInitialDelayBoundedByRebalanceTimeout(t *testing.T) {
	h := newHarness(t, 100, 3*time.Second)
	req := joinReq("")
	req.RebalanceTimeout = 4 * time.Second
	a := h.join(req)
	for i := 0; i < 10 && h.parked(a); i++ {
		h.advance(time.Second)
		h.join(req) // a new member every second
	}
	r := h.joinResult(a)
	if r.Error != 0 {
		t.Fatalf("join: %+v", r)
	}
	// delay 3 s, remaining 1 s: at most 3 + 1 s.
	if elapsed := h.now.Sub(time.Unix(1000, 0)); elapsed > 4*time.Second {
		t.Fatalf("initial delay lasted %s", elapsed)
	}
}

func TestHeartbeatErrors(t *testing.T) {
	h := newHarness(t, 100, 0)
	ids := h.stable(2)
	inst := "i"
	cases := []struct {
		name   string
		member string
		inst   *string
		gen    int32
		want   int16
	}{
		{"ok", ids[0], nil, 1, 0},
		{"unknown member", "nope", nil, 1, kerr.UnknownMemberID.Code},
		{"illegal generation", ids[0], nil, 7, kerr.IllegalGeneration.Code},
		{"unknown instance is not fenced", ids[0], &inst, 1, 0},
	}
	for _, tc := range cases {
		if got := h.g.heartbeat(h.now, tc.member, tc.inst, tc.gen); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	// The leader rejoining starts a rebalance: heartbeats say so.
	h.join(joinReq(ids[0]))
	if got := h.g.heartbeat(h.now, ids[1], nil, 1); got != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat during rebalance: %d", got)
	}
	if got := h.g.commitAllowed(h.now, ids[1], nil, 1); got != 0 {
		t.Fatalf("commit during PreparingRebalance: %d", got)
	}
}

func TestSessionExpiryRemovesMemberAndRebalances(t *testing.T) {
	h := newHarness(t, 100, 0)
	ids := h.stable(2)
	for i := 0; i < 3; i++ { // member 0 heartbeats, member 1 is silent
		h.advance(4 * time.Second)
		h.g.heartbeat(h.now, ids[0], nil, 1)
	}
	if h.g.has(ids[1]) || h.g.state != PreparingRebalance {
		t.Fatalf("expired member still there (state %s)", h.g.state)
	}
	if got := h.g.heartbeat(h.now, ids[0], nil, 1); got != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat: %d", got)
	}
	r := h.joinResult(h.join(joinReq(ids[0])))
	if r.Generation != 2 || len(r.Members) != 1 {
		t.Fatalf("rejoin: %+v", r)
	}
	if got := h.g.heartbeat(h.now, ids[1], nil, 2); got != kerr.UnknownMemberID.Code {
		t.Fatalf("expired member heartbeat: %d", got)
	}
}

func TestRebalanceTimeoutDropsMembersThatDoNotRejoin(t *testing.T) {
	h := newHarness(t, 100, 0)
	ids := h.stable(2)
	tk := h.join(joinReq(ids[0])) // leader rejoins, member 1 never does
	for i := 0; i < 15 && h.parked(tk); i++ {
		h.advance(5 * time.Second)
		h.g.heartbeat(h.now, ids[1], nil, 1) // heartbeats do not count as rejoining
	}
	r := h.joinResult(tk)
	if r.Generation != 2 || len(r.Members) != 1 || h.g.has(ids[1]) {
		t.Fatalf("after rebalance timeout: %+v", r)
	}
}

func TestLeaveGroup(t *testing.T) {
	h := newHarness(t, 100, 0)
	ids := h.stable(2)
	code, codes, outs := h.g.leave(h.now, []MemberIdentity{{MemberID: ids[1]}, {MemberID: "ghost"}})
	h.collect(outs)
	if code != 0 || codes[0] != 0 || codes[1] != kerr.UnknownMemberID.Code {
		t.Fatalf("leave: %d %v", code, codes)
	}
	if h.g.state != PreparingRebalance {
		t.Fatalf("state %s", h.g.state)
	}
	r := h.joinResult(h.join(joinReq(ids[0])))
	if r.Generation != 2 || len(r.Members) != 1 {
		t.Fatalf("rejoin: %+v", r)
	}
	// Last member leaves: Empty, generation bumped.
	_, _, outs = h.g.leave(h.now, []MemberIdentity{{MemberID: ids[0]}})
	h.collect(outs)
	if h.g.state != Empty || h.g.generation != 3 {
		t.Fatalf("state %s generation %d, want Empty 3", h.g.state, h.g.generation)
	}
}

func TestLeaderLeavingDuringSyncMakesOthersRejoin(t *testing.T) {
	h := newHarness(t, 100, 0)
	a, b := h.join(joinReq("")), h.join(joinReq(""))
	h.advance(0)
	ra, rb := h.joinResult(a), h.joinResult(b)
	follower := rb.MemberID
	if rb.MemberID == ra.LeaderID {
		follower = ra.MemberID
	}
	fs := h.sync(follower, 1, nil)
	_, _, outs := h.g.leave(h.now, []MemberIdentity{{MemberID: ra.LeaderID}})
	h.collect(outs)
	if r := h.syncResult(fs); r.Error != kerr.RebalanceInProgress.Code {
		t.Fatalf("follower sync: %+v", r)
	}
}

func TestStaticMemberRejoinKeepsGenerationAndFencesOldID(t *testing.T) {
	h := newHarness(t, 100, 0)
	inst := "instance-1"
	req := joinReq("")
	req.InstanceID = &inst
	tk0 := h.join(req)
	h.advance(0)
	old := h.joinResult(tk0)
	h.syncResult(h.sync(old.MemberID, 1, map[string][]byte{old.MemberID: []byte("x")}))
	// The same instance restarts with no member id: same generation, no
	// rebalance, the old leader id returned.
	r := h.joinResult(h.join(req))
	if r.Error != 0 || r.MemberID == old.MemberID || r.Generation != 1 || r.LeaderID != old.MemberID || h.g.state != Stable {
		t.Fatalf("static rejoin: %+v state %s", r, h.g.state)
	}
	if got := h.g.heartbeat(h.now, old.MemberID, &inst, 1); got != kerr.FencedInstanceID.Code {
		t.Fatalf("old member heartbeat: %d", got)
	}
	if got := h.g.heartbeat(h.now, r.MemberID, &inst, 1); got != 0 {
		t.Fatalf("new member heartbeat: %d", got)
	}
	s := h.syncResult(h.sync(r.MemberID, 1, nil))
	if s.Error != 0 || string(s.Assignment) != "x" {
		t.Fatalf("sync: %+v", s)
	}
	// Leave by instance id.
	_, codes, outs := h.g.leave(h.now, []MemberIdentity{{MemberID: old.MemberID, InstanceID: &inst}})
	h.collect(outs)
	if codes[0] != kerr.FencedInstanceID.Code {
		t.Fatalf("fenced leave: %v", codes)
	}
	_, codes, outs = h.g.leave(h.now, []MemberIdentity{{InstanceID: &inst}})
	h.collect(outs)
	if codes[0] != 0 || h.g.has(r.MemberID) {
		t.Fatalf("leave by instance: %v", codes)
	}
}

func TestCommitDecisions(t *testing.T) {
	h := newHarness(t, 100, 0)
	if got := h.g.commitAllowed(h.now, "", nil, -1); got != 0 {
		t.Fatalf("simple commit to an empty group: %d", got)
	}
	ids := h.stable(1)
	cases := []struct {
		name   string
		member string
		gen    int32
		want   int16
	}{
		{"member of generation", ids[0], 1, 0},
		{"older generation", ids[0], 0, kerr.IllegalGeneration.Code},
		{"unknown member", "x", 1, kerr.UnknownMemberID.Code},
		{"simple commit to an active group", "", -1, kerr.UnknownMemberID.Code},
	}
	for _, tc := range cases {
		if got := h.g.commitAllowed(h.now, tc.member, nil, tc.gen); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	h.join(joinReq(ids[0])) // rebalance completes at once: CompletingRebalance
	if h.g.state != CompletingRebalance {
		t.Fatalf("state %s", h.g.state)
	}
	if got := h.g.commitAllowed(h.now, ids[0], nil, 2); got != kerr.RebalanceInProgress.Code {
		t.Fatalf("commit while completing: %d", got)
	}
}

func TestGroupMaxSizeAndProtocols(t *testing.T) {
	h := newHarness(t, 2, 0)
	h.join(joinReq("", "range", "roundrobin"))
	h.join(joinReq("", "roundrobin"))
	r := h.joinResult(h.join(joinReq("")))
	if r.Error != kerr.GroupMaxSizeReached.Code {
		t.Fatalf("third member: %+v", r)
	}
	h.advance(0)
	if h.g.protocol != "roundrobin" {
		t.Fatalf("protocol %q, want the one all support", h.g.protocol)
	}
	bad := joinReq("", "sticky")
	if r := h.joinResult(h.join(bad)); r.Error != kerr.GroupMaxSizeReached.Code {
		t.Fatalf("full group: %+v", r)
	}
	h2 := newHarness(t, 100, 0)
	h2.join(joinReq("", "range"))
	if r := h2.joinResult(h2.join(joinReq("", "sticky"))); r.Error != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("inconsistent protocol: %+v", r)
	}
	other := joinReq("")
	other.ProtocolType = "connect"
	if r := h2.joinResult(h2.join(other)); r.Error != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("other protocol type: %+v", r)
	}
}

func TestSyncErrors(t *testing.T) {
	h := newHarness(t, 100, 0)
	ids := h.stable(1)
	cases := []struct {
		member string
		gen    int32
		want   int16
	}{
		{ids[0], 1, 0},
		{ids[0], 2, kerr.IllegalGeneration.Code},
		{"x", 1, kerr.UnknownMemberID.Code},
	}
	for _, tc := range cases {
		if got := h.syncResult(h.sync(tc.member, tc.gen, nil)); got.Error != tc.want {
			t.Errorf("sync %s gen %d: %d, want %d", tc.member, tc.gen, got.Error, tc.want)
		}
	}
	h.join(joinReq("")) // a newcomer: PreparingRebalance
	if got := h.syncResult(h.sync(ids[0], 1, nil)); got.Error != kerr.RebalanceInProgress.Code {
		t.Fatalf("sync while preparing: %d", got.Error)
	}
}

func TestUnloadAnswersParkedRequests(t *testing.T) {
	h := newHarness(t, 100, 0)
	ids := h.stable(2)
	tk := h.join(joinReq(ids[0]))
	h.collect(h.g.unload())
	if r := h.joinResult(tk); r.Error != kerr.NotCoordinator.Code {
		t.Fatalf("parked join: %+v", r)
	}
	if got := h.g.heartbeat(h.now, ids[1], nil, 1); got != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("heartbeat on dead group: %d", got)
	}
}

func TestRepeatedJoinReplacesParkedOne(t *testing.T) {
	h := newHarness(t, 100, 0)
	ids := h.stable(2)
	first := h.join(joinReq(ids[0]))
	second := h.join(joinReq(ids[0]))
	if r := h.joinResult(first); r.Error != kerr.RebalanceInProgress.Code {
		t.Fatalf("first join: %+v", r)
	}
	h.join(joinReq(ids[1]))
	if r := h.joinResult(second); r.Error != 0 || r.Generation != 2 {
		t.Fatalf("second join: %+v", r)
	}
}

func TestPartitionFor(t *testing.T) {
	cases := map[string]int32{
		// Expected values computed with Java 17's String.hashCode and
		// Kafka's Utils.abs(h) % 50.
		"hello":                 22,
		"g1":                    42,
		"polygenelubricants":    0, // hashCode is Integer.MIN_VALUE: Utils.abs gives 0
		"":                      0,
		"héllo":                 34,
		"😀":                     49, // a surrogate pair: two UTF-16 units
		"console-consumer-1234": 9,
	}
	for id, want := range cases {
		if got := PartitionFor(id, 50); got != want {
			t.Errorf("PartitionFor(%q) = %d, want %d", id, got, want)
		}
	}
}

func TestDecodeSubscriptionTopics(t *testing.T) {
	b := []byte{0, 1, 0, 0, 0, 2, 0, 1, 'a', 0, 2, 'b', 'c', 0xff, 0xff, 0xff, 0xff}
	got := decodeSubscriptionTopics(b)
	if len(got) != 2 || got[0] != "a" || got[1] != "bc" {
		t.Fatalf("topics %q", got)
	}
	for i := range b { // truncated input never panics
		decodeSubscriptionTopics(b[:i])
	}
}
