package controller

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/internal/testutil"
	"github.com/zkafka/zkafka/zkcoord"
)

func TestIntegration_ControllerDuties(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (real ZooKeeper)")
	}
	zk := testutil.StartZooKeeper(t)
	t.Run("StaleControllerFenced", func(t *testing.T) {
		testStaleControllerFenced(t, &cluster{t: t, connect: zk.Connect("/stale"), cfg: DefaultConfig})
	})
	t.Run("ControlledShutdown", func(t *testing.T) {
		testControlledShutdown(t, &cluster{t: t, connect: zk.Connect("/shutdown"), cfg: DefaultConfig})
	})
	t.Run("FailoverWith2000Partitions", func(t *testing.T) {
		testBigFailover(t, &cluster{t: t, connect: zk.Connect("/big"), cfg: DefaultConfig})
	})
}

// onLoop runs f on c's event loop and waits for it.
func onLoop(t *testing.T, c *Controller, f func()) {
	t.Helper()
	done := make(chan struct{})
	c.events.push(evQuery{func() { f(); close(done) }})
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("controller loop did not run the query")
	}
}

func stateOf(t *testing.T, s *zkcoord.Session, topic string, p int32) zkcoord.LeaderAndIsr {
	t.Helper()
	l, _, err := s.GetPartitionState(context.Background(), topic, p)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// testStaleControllerFenced: broker 1's controller is stuck (its event loop
// blocked) while /controller moves to broker 2. When it wakes up it still
// believes it is the controller and handles a queued controlled shutdown:
// its state writes are rejected by ZooKeeper (the /controller_epoch check),
// it answers NOT_CONTROLLER, resigns, and the state znodes keep what the
// new controller wrote.
func testStaleControllerFenced(t *testing.T, cl *cluster) {
	ctx := context.Background()
	b1 := cl.start(1, startFakeBroker(t))
	waitFor(t, "broker 1 to be controller", b1.c.IsActive)
	b2 := cl.start(2, startFakeBroker(t))
	admin := cl.session()
	if err := admin.CreateTopic(ctx, "t", map[int32][]int32{0: {1, 2}}, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "t-0 state", func() bool { _, _, err := admin.GetPartitionState(ctx, "t", 0); return err == nil })
	waitFor(t, "broker 2 registered with the controller", func() bool {
		n := 0
		onLoop(t, b1.c, func() { n = len(b1.c.st.Live) })
		return n == 2
	})

	release := make(chan struct{})
	b1.c.events.push(evQuery{func() { <-release }}) // the loop is stuck
	reply := make(chan ControlledShutdownResult, 1)
	b1.c.events.push(evControlledShutdown{broker: 1, epoch: -1, reply: reply})
	// /controller goes away (as if broker 1's session had been expired and
	// its controller znode deleted); broker 2 is elected.
	if err := admin.Delete(ctx, zkcoord.ControllerPath, zkcoord.AnyVersion); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "broker 2 to be controller", b2.c.IsActive)
	if e := controllerEpoch(admin); e != "2" {
		t.Fatalf("/controller_epoch = %q", e)
	}
	before, beforeVersion, err := admin.GetPartitionState(ctx, "t", 0)
	if err != nil {
		t.Fatal(err)
	}
	close(release)
	var res ControlledShutdownResult
	select {
	case res = <-reply:
	case <-time.After(30 * time.Second):
		t.Fatal("no answer from the stale controller")
	}
	if res.ErrorCode != kerr.NotController.Code {
		t.Fatalf("stale controller answered %+v, want NOT_CONTROLLER", res)
	}
	after, afterVersion, err := admin.GetPartitionState(ctx, "t", 0)
	if err != nil {
		t.Fatal(err)
	}
	if afterVersion != beforeVersion || after.Leader != 1 || before.Leader != 1 {
		t.Fatalf("the stale controller's write went through: %+v v%d -> %+v v%d", before, beforeVersion, after, afterVersion)
	}
	waitFor(t, "broker 1 to resign", func() bool { return !b1.c.IsActive() })
	if !b2.c.IsActive() {
		t.Fatal("broker 2 lost the controller role")
	}
}

// testControlledShutdown drives ControlledShutdown against a controller
// with fake brokers: refusals first, then leaderships move and the
// follower leaves the ISR with StopReplica(delete=false).
func testControlledShutdown(t *testing.T, cl *cluster) {
	ctx := context.Background()
	f1, f2 := startFakeBroker(t), startFakeBroker(t)
	b1 := cl.start(1, f1)
	waitFor(t, "broker 1 to be controller", b1.c.IsActive)
	b2 := cl.start(2, f2)
	admin := cl.session()
	if err := admin.CreateTopic(ctx, "t", map[int32][]int32{0: {1, 2}, 1: {2, 1}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := admin.CreateTopic(ctx, "solo", map[int32][]int32{0: {1}}, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the states", func() bool {
		st, err := admin.GetPartitionStates(ctx, []zkcoord.TopicPartition{{Topic: "t", Partition: 0}, {Topic: "t", Partition: 1}, {Topic: "solo", Partition: 0}})
		return err == nil && len(st) == 3
	})
	waitFor(t, "broker 2 live at the controller", func() bool {
		n := 0
		onLoop(t, b1.c, func() { n = len(b1.c.st.Live) })
		return n == 2
	})
	call := func(c *Controller, id int32, epoch int64) ControlledShutdownResult {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		r, err := c.ControlledShutdown(cctx, id, epoch)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := call(b2.c, 1, b1.epoch); r.ErrorCode != kerr.NotController.Code {
		t.Fatalf("non-controller answered %+v", r)
	}
	if r := call(b1.c, 9, -1); r.ErrorCode != kerr.BrokerNotAvailable.Code {
		t.Fatalf("unknown broker: %+v", r)
	}
	if r := call(b1.c, 2, b2.epoch-1); r.ErrorCode != kerr.StaleBrokerEpoch.Code {
		t.Fatalf("stale broker epoch: %+v", r)
	}
	r := call(b1.c, 1, b1.epoch)
	if r.ErrorCode != 0 || len(r.Remaining) != 0 {
		t.Fatalf("controlled shutdown of 1: %+v", r)
	}
	wantJSON(t, admin, zkcoord.PartitionStatePath("t", 0), `{"controller_epoch":1,"leader":2,"version":1,"leader_epoch":1,"isr":[2]}`)
	wantJSON(t, admin, zkcoord.PartitionStatePath("t", 1), `{"controller_epoch":1,"leader":2,"version":1,"leader_epoch":1,"isr":[2]}`)
	// Not replicated: left alone, and not reported as remaining.
	wantJSON(t, admin, zkcoord.PartitionStatePath("solo", 0), `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":0,"isr":[1]}`)
	waitFor(t, "StopReplica(delete=false) for t-1 at broker 1", func() bool {
		for _, req := range f1.requests(5) {
			sr := req.(*kmsg.StopReplicaRequest)
			if !sr.DeletePartitions && len(sr.Topics) == 1 && sr.Topics[0].Topic == "t" && slices.Equal(sr.Topics[0].Partitions, []int32{1}) {
				return true
			}
		}
		return false
	})
	waitFor(t, "LeaderAndIsr making broker 1 a follower of t-0", func() bool {
		_, p := findLAI(f1, "t", 0, 1)
		return p != nil && p.Leader == 2 && p.LeaderEpoch == 1
	})
	// A new partition of the shutting-down broker is not led by it.
	if err := admin.CreateTopic(ctx, "u", map[int32][]int32{0: {1, 2}}, nil); err != nil {
		t.Fatal(err)
	}
	wantJSON(t, admin, zkcoord.PartitionStatePath("u", 0), `{"controller_epoch":1,"leader":2,"version":1,"leader_epoch":0,"isr":[2]}`)
}

// testBigFailover: the controller dies with 2000 partitions in 100 topics;
// the next one loads them all (batched reads) and carries on.
func testBigFailover(t *testing.T, cl *cluster) {
	ctx := context.Background()
	b1 := cl.start(1, startFakeBroker(t))
	waitFor(t, "broker 1 to be controller", b1.c.IsActive)
	b2 := cl.start(2, startFakeBroker(t))
	admin := cl.session()
	var all []zkcoord.TopicPartition
	for i := 0; i < 100; i++ {
		name := fmt.Sprintf("big-%03d", i)
		a := map[int32][]int32{}
		for p := int32(0); p < 20; p++ {
			a[p] = []int32{1 + p%2, 2 - p%2}
			all = append(all, zkcoord.TopicPartition{Topic: name, Partition: p})
		}
		if err := admin.CreateTopic(ctx, name, a, nil); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st, err := admin.GetPartitionStates(ctx, all)
		if err == nil && len(st) == len(all) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d states created (%v)", len(st), len(all), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	killed := time.Now()
	b1.kill()
	waitFor(t, "broker 2 to be controller", b2.c.IsActive)
	took := time.Since(killed)
	var loaded, ledBy1 int
	onLoop(t, b2.c, func() {
		loaded = len(b2.c.st.Leadership)
		for _, l := range b2.c.st.Leadership {
			if l.Leader == 1 {
				ledBy1++
			}
		}
	})
	if loaded != 2000 || ledBy1 != 0 {
		t.Fatalf("new controller has %d partitions, %d still led by the dead broker", loaded, ledBy1)
	}
	if l := stateOf(t, admin, "big-099", 18); l.Leader != 2 || l.ControllerEpoch != 2 {
		t.Fatalf("big-099-18 after failover: %+v", l)
	}
	t.Logf("controller failover with 2000 partitions (1000 leaderships moved): %s from session close to the new controller done", took.Round(time.Millisecond))
}
