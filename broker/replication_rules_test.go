package broker

import (
	"context"
	"io"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/zkafka/zkafka/logstore"
	"github.com/zkafka/zkafka/zkcoord"
)

// rulesRM is a replica manager of broker 1 without network or ZooKeeper.
func rulesRM(t *testing.T) *replicaManager {
	log := logrus.New()
	log.SetOutput(io.Discard)
	lcfg := logstore.DefaultConfig()
	logs, err := logstore.OpenManager([]string{t.TempDir()}, lcfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logs.Close() })
	return newReplicaManager(1, logs, lcfg, nil, log)
}

var noLeaderAddr = func(int32) (string, bool) { return "", false }

// A broker becoming leader records its epoch's start before appending
// anything (Kafka's maybeAssignEpochStartOffset, KAFKA-7415), so a follower
// that saw an epoch this leader missed truncates to where they agree, not to
// its own high-water mark.
func TestBecomingLeaderAssignsEpochStart(t *testing.T) {
	rm := rulesRM(t)
	tp := logstore.TopicPartition{Topic: "t", Partition: 0}
	rm.becomeLeaderOrFollower(tp, partitionState{leader: 1, leaderEpoch: 3, isr: []int32{1}, replicas: []int32{1, 2}}, noLeaderAddr)
	p := rm.get(tp)
	for i := 0; i < 3; i++ {
		if _, err := rm.appendAsLeader(p, 3, testBatch(2), false); err != nil {
			t.Fatal(err)
		}
	}
	rm.becomeLeaderOrFollower(tp, partitionState{leader: 2, leaderEpoch: 4, isr: []int32{1, 2}, replicas: []int32{1, 2}}, noLeaderAddr)
	rm.becomeLeaderOrFollower(tp, partitionState{leader: 1, leaderEpoch: 5, isr: []int32{1, 2}, replicas: []int32{1, 2}}, noLeaderAddr)
	if e := p.log.EpochEntries(); !slices.Equal(e, []logstore.EpochEntry{{Epoch: 3, StartOffset: 0}, {Epoch: 5, StartOffset: 6}}) {
		t.Fatalf("epoch cache %v", e)
	}
	e, off := p.log.EndOffsetForEpoch(4)
	if e != 3 || off != 6 {
		t.Fatalf("EndOffsetForEpoch(4) = (%d, %d), want (3, 6)", e, off)
	}
	// A follower with epochs 3@0 and 4@6, LEO 10 and a lagging HW of 2
	// keeps the 6 records it shares with the leader.
	follower := func(ep int32) (int32, int64) {
		switch {
		case ep >= 4:
			return 4, 10
		case ep == 3:
			return 3, 6
		}
		return -1, -1
	}
	if tr := truncationFor(e, off, 10, 2, follower); tr != (truncation{offset: 6, done: true}) {
		t.Fatalf("truncation %+v, want to 6", tr)
	}
}

// A follower that keeps up, though the leader appends between its fetches,
// rejoins the ISR: the high-water mark waits for caught-up followers too
// (Kafka 2.4's maybeIncrementLeaderHW), so the follower reaches it.
func TestCaughtUpFollowerRejoinsUnderLoad(t *testing.T) {
	rm := rulesRM(t)
	store := &memISRStore{versions: map[logstore.TopicPartition]int32{}, states: map[logstore.TopicPartition]zkcoord.LeaderAndIsr{}}
	rm.isr = store
	tp := logstore.TopicPartition{Topic: "t", Partition: 0}
	rm.becomeLeaderOrFollower(tp, partitionState{leader: 1, leaderEpoch: 1, isr: []int32{1}, replicas: []int32{1, 2}}, noLeaderAddr)
	p := rm.get(tp)
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		leo := p.log.LogEndOffset()
		if _, err := rm.appendAsLeader(p, 1, testBatch(1), false); err != nil {
			t.Fatal(err)
		}
		rm.recordFollowerFetch(ctx, p, 2, leo, 0, p.log.LogEndOffset())
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if !slices.Equal(p.isr, []int32{1, 2}) {
		t.Fatalf("ISR %v: the follower one append behind never rejoined", p.isr)
	}
	// And nothing past what the follower has counts as committed.
	if hw := p.log.HighWatermark(); hw > p.followers[2].leo {
		t.Fatalf("HW %d past the ISR follower's LEO %d", hw, p.followers[2].leo)
	}
}

// Concurrent appends never move the high-water mark backwards.
func TestHighWatermarkNeverMovesBack(t *testing.T) {
	rm := rulesRM(t)
	tp := logstore.TopicPartition{Topic: "t", Partition: 0}
	rm.becomeLeaderOrFollower(tp, partitionState{leader: 1, leaderEpoch: 1, isr: []int32{1}, replicas: []int32{1}}, noLeaderAddr)
	p := rm.get(tp)
	var back atomic.Int64
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		last := int64(-1)
		for {
			select {
			case <-stop:
				return
			default:
			}
			hw := p.log.HighWatermark()
			if hw < last {
				back.Add(1)
			}
			last = hw
			runtime.Gosched()
		}
	}()
	errc := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			for i := 0; i < 2000; i++ {
				if _, err := rm.appendAsLeader(p, 1, testBatch(1), false); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	<-watched
	if n := back.Load(); n > 0 {
		t.Fatalf("the high-water mark moved backwards %d times", n)
	}
	if hw, leo := p.log.HighWatermark(), p.log.LogEndOffset(); hw != leo {
		t.Fatalf("HW %d, LEO %d", hw, leo)
	}
}

// min.insync.replicas changed on a live topic applies to acks=all at once.
func TestMinInsyncChangeAppliesAtRunTime(t *testing.T) {
	rm := rulesRM(t)
	tp := logstore.TopicPartition{Topic: "t", Partition: 0}
	rm.becomeLeaderOrFollower(tp, partitionState{leader: 1, leaderEpoch: 1, isr: []int32{1}, replicas: []int32{1, 2}}, noLeaderAddr)
	p := rm.get(tp)
	if _, err := rm.appendAsLeader(p, 1, testBatch(1), true); err != nil {
		t.Fatalf("acks=all with min.insync.replicas 1: %v", err)
	}
	if _, err := rm.applyTopicConfig("t", map[string]string{"min.insync.replicas": "2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := rm.appendAsLeader(p, 1, testBatch(1), true); storageErrorCode(err) != 19 {
		t.Fatalf("acks=all with ISR 1 < min.insync.replicas 2: %v", err)
	}
}

// An ISR write whose answer is lost (it landed, but the call timed out) is
// found by reading the state znode back and takes effect; when even that
// read fails, the follower being added keeps counting for the high-water
// mark, so nothing is acknowledged that ZooKeeper's ISR member may lack.
func TestISRWriteWithLostAnswer(t *testing.T) {
	for _, readsFail := range []bool{false, true} {
		rm := rulesRM(t)
		store := &memISRStore{versions: map[logstore.TopicPartition]int32{}, states: map[logstore.TopicPartition]zkcoord.LeaderAndIsr{},
			loseAnswers: true, failReads: readsFail}
		rm.isr = store
		tp := logstore.TopicPartition{Topic: "t", Partition: 0}
		rm.becomeLeaderOrFollower(tp, partitionState{leader: 1, leaderEpoch: 1, isr: []int32{1}, replicas: []int32{1, 2}}, noLeaderAddr)
		p := rm.get(tp)
		if _, err := rm.appendAsLeader(p, 1, testBatch(1), false); err != nil {
			t.Fatal(err)
		}
		rm.recordFollowerFetch(context.Background(), p, 2, 1, 0, 1) // caught up: joins
		if !slices.Equal(store.isr(tp), []int32{1, 2}) {
			t.Fatalf("ZooKeeper ISR %v", store.isr(tp))
		}
		p.mu.RLock()
		isr, joining := slices.Clone(p.isr), slices.Clone(p.joining)
		p.mu.RUnlock()
		switch {
		case !readsFail && (!slices.Equal(isr, []int32{1, 2}) || len(joining) != 0):
			t.Fatalf("read back: ISR %v, joining %v; want the write applied", isr, joining)
		case readsFail && (!slices.Equal(isr, []int32{1}) || !slices.Equal(joining, []int32{2})):
			t.Fatalf("outcome unknown: ISR %v, joining %v; want 2 still counted", isr, joining)
		}
		// Appends now wait for follower 2 in both cases.
		if _, err := rm.appendAsLeader(p, 1, testBatch(1), false); err != nil {
			t.Fatal(err)
		}
		if hw := p.log.HighWatermark(); hw != 1 {
			t.Fatalf("readsFail=%v: HW %d passed follower 2 at 1", readsFail, hw)
		}
	}
}

// An acks=all wait survives a leader epoch bump that keeps this broker
// leader, and fails once it stopped leading, even if it leads again.
func TestAcksAllWaitAcrossEpochBumps(t *testing.T) {
	rm := rulesRM(t)
	tp := logstore.TopicPartition{Topic: "t", Partition: 0}
	both := []int32{1, 2}
	rm.becomeLeaderOrFollower(tp, partitionState{leader: 1, leaderEpoch: 1, isr: both, replicas: both}, noLeaderAddr)
	p := rm.get(tp)
	info, since, err := rm.appendAsLeaderSince(p, 1, testBatch(1), true)
	if err != nil {
		t.Fatal(err)
	}
	if code, done := rm.ackState(p, since, info.LastOffset+1); done {
		t.Fatalf("done (%d) before the follower has the batch", code)
	}
	rm.becomeLeaderOrFollower(tp, partitionState{leader: 1, leaderEpoch: 2, isr: both, replicas: both}, noLeaderAddr)
	if code, done := rm.ackState(p, since, info.LastOffset+1); done {
		t.Fatalf("an epoch bump that kept the leader ended the wait with %d", code)
	}
	rm.becomeLeaderOrFollower(tp, partitionState{leader: 2, leaderEpoch: 3, isr: both, replicas: both}, noLeaderAddr)
	rm.becomeLeaderOrFollower(tp, partitionState{leader: 1, leaderEpoch: 4, isr: both, replicas: both}, noLeaderAddr)
	if code, done := rm.ackState(p, since, info.LastOffset+1); !done || code != 6 {
		t.Fatalf("after losing and regaining leadership: done %v code %d, want NOT_LEADER_FOR_PARTITION", done, code)
	}
}
