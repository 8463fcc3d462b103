package e2e

import (
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/zkafka/zkafka/internal/testutil"
)

// fetchWaitMax is the replica.fetch.wait.max.ms of the tests that pause
// followers: how long a leader may hold a follower's fetch.
const fetchWaitMax = 100 * time.Millisecond

// pauseFollowers stops bs (SIGSTOP) and then lets the fetches the leader
// may still hold for them expire (5 × replica.fetch.wait.max.ms), so that
// nothing appended afterwards reaches them in an answer to a fetch sent
// before they stopped. This pause is set-up, not an assertion.
func pauseFollowers(t *testing.T, bs []*testutil.Broker) {
	t.Helper()
	for _, b := range bs {
		if err := b.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Signal(syscall.SIGCONT) }) // never leave one stopped
	}
	time.Sleep(5 * fetchWaitMax)
}

func resume(t *testing.T, bs []*testutil.Broker) {
	t.Helper()
	for _, b := range bs {
		if err := b.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
	}
}

// TestIntegration_DivergentLeadersConverge: three times in a row the
// partition's leader appends records (acks=1) that its paused followers
// never fetch, and is killed (kill -9); a follower from the ISR is elected,
// takes acks=all writes, and the old leader returns as a follower. Each
// time the returning leader truncates its unreplicated suffix (found by
// OffsetForLeaderEpoch) before fetching: afterwards every replica's log is
// the same batches byte for byte, no unreplicated record survives, and the
// acks=all records are all there, once each, in the order acknowledged.
func TestIntegration_DivergentLeadersConverge(t *testing.T) {
	e := newEnv(t, 3, failureProps(map[string]string{"replica.fetch.wait.max.ms": fmt.Sprint(fetchWaitMax.Milliseconds())}))
	conn := e.zkConn()
	const topic = "diverge"
	e.createTopic(topic, 1, 3)
	e.waitTopic(topic, 1)

	var acked []string
	var leaders []int32
	for cycle := 1; cycle <= 3; cycle++ {
		st := e.waitISR(conn, topic, 0, []int32{1, 2, 3})
		leader := e.broker(st.Leader)
		leaders = append(leaders, st.Leader)
		followers := e.others(leader)
		all := numbered(fmt.Sprintf("c%d-all", cycle), 40)
		mustProduce(t, leader.Addr(), topic, 0, -1, all)
		acked = append(acked, all...)

		pauseFollowers(t, followers)
		suffix := numbered(fmt.Sprintf("c%d-one", cycle), 15)
		mustProduce(t, leader.Addr(), topic, 0, 1, suffix)
		mustProduce(t, leader.Addr(), topic, 0, 1, suffix[:5]) // a second batch
		onLeader := batchValues(t, replicaBatches(t, leader, topic, 0))
		if !slices.Equal(onLeader[len(onLeader)-20:], append(slices.Clone(suffix), suffix[:5]...)) {
			t.Fatalf("cycle %d: the leader's log does not end with the unreplicated records", cycle)
		}
		leader.Kill()
		resume(t, followers)

		next := e.waitState(conn, topic, 0, func(s partitionState) error {
			if s.Leader == st.Leader || s.Leader < 0 {
				return fmt.Errorf("no new leader")
			}
			return nil
		})
		if next.LeaderEpoch <= st.LeaderEpoch || !slices.Contains(st.ISR, next.Leader) {
			t.Fatalf("cycle %d: election %+v -> %+v", cycle, st, next)
		}
		e.waitISR(conn, topic, 0, brokerIDs(followers))
		newLeader := e.broker(next.Leader)
		served, _ := fetchAll(t, newLeader.Addr(), topic, 0)
		if v, ok := containsAny(recordValues(served), suffix); ok {
			t.Fatalf("cycle %d: the new leader has %s, which its old leader appended after the followers stopped", cycle, v)
		}
		after := numbered(fmt.Sprintf("c%d-after", cycle), 40)
		mustProduce(t, newLeader.Addr(), topic, 0, -1, after)
		acked = append(acked, after...)

		leader.Start()
		leader.WaitListening(30 * time.Second)
		e.waitISR(conn, topic, 0, []int32{1, 2, 3})
		vals := batchValues(t, e.waitLogsIdentical(topic, 0))
		if v, ok := containsAny(vals, suffix); ok {
			t.Fatalf("cycle %d: unreplicated record %s survived the old leader's return", cycle, v)
		}
	}
	final, _ := fetchAll(t, e.broker(mustState(t, conn, topic, 0).Leader).Addr(), topic, 0)
	if !slices.Equal(recordValues(final), acked) {
		t.Fatalf("the partition holds %d records, want the %d acks=all records once each in order", len(final), len(acked))
	}
	for i, r := range final {
		if r.Offset != int64(i) {
			t.Fatalf("record %d at offset %d", i, r.Offset)
		}
	}
	t.Logf("leaders killed in turn: %v; %d acks=all records, each once", leaders, len(acked))
}

// TestIntegration_NotEnoughReplicasAfterAppend: min.insync.replicas=2 and
// three replicas. An acks=all produce is appended by the leader while both
// followers are paused: consumers do not see it (the high-water mark stays
// before it) until the leader drops the followers from the ISR after
// replica.lag.time.max.ms; then the high-water mark passes it and, as
// Kafka 2.4's Partition.checkEnoughReplicasReachOffset decides, the produce
// is answered NOT_ENOUGH_REPLICAS_AFTER_APPEND (the record stays, readable);
// one with a shorter request timeout is answered REQUEST_TIMED_OUT.
// With the ISR below min.insync.replicas an acks=all write is refused with
// NOT_ENOUGH_REPLICAS and nothing is stored, while acks=1 and acks=0 writes
// are stored. When the followers run again they rejoin and catch up.
func TestIntegration_NotEnoughReplicasAfterAppend(t *testing.T) {
	e := newEnv(t, 3, map[string]string{
		"replica.lag.time.max.ms":      "3000",
		"replica.fetch.wait.max.ms":    fmt.Sprint(fetchWaitMax.Milliseconds()),
		"zookeeper.session.timeout.ms": "30000", // the paused followers stay registered
		"auto.leader.rebalance.enable": "false",
	})
	conn := e.zkConn()
	const topic = "minisr"
	e.run("", "topics", "--bootstrap-server", e.c.Brokers[0].Addr(), "--create", "--topic", topic,
		"--partitions", "1", "--replication-factor", "3", "--config", "min.insync.replicas=2")
	e.waitTopic(topic, 1)
	st := e.waitISR(conn, topic, 0, []int32{1, 2, 3})
	leader := e.broker(st.Leader)
	followers := e.others(leader)
	mustProduce(t, leader.Addr(), topic, 0, -1, []string{"before"})
	e.waitLogsIdentical(topic, 0)

	pauseFollowers(t, followers)
	// Not acknowledged within the request timeout (the ISR is still full):
	// REQUEST_TIMED_OUT, the record stays appended (2.4's DelayedProduce
	// expiry).
	if code, base := produceTo(t, leader.Addr(), topic, 0, -1, 300*time.Millisecond, []string{"timed-out"}); code != kerr.RequestTimedOut.Code || base != 1 {
		t.Fatalf("acks=all produce the paused followers never fetch: %v at base offset %d, want REQUEST_TIMED_OUT at 1", kerr.ErrorForCode(code), base)
	}
	type answer struct {
		code int16
		base int64
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		code, base, err := tryProduce(leader.Addr(), topic, 0, -1, 30*time.Second, []string{"appended"})
		answered <- answer{code, base, err}
	}()
	eventually(t, 10*time.Second, func() error {
		if n := len(replicaBatches(t, leader, topic, 0)); n != 3 {
			return fmt.Errorf("leader's log has %d batches", n)
		}
		return nil
	})
	// Appended, not acknowledged by the (still full) ISR: a consumer sees
	// nothing past the high-water mark. The ISR in ZooKeeper changes before
	// the leader's, so a full ISR read after the fetch means the fetch was
	// answered with the full ISR.
	recs, hw, code := fetchFrom(t, leader.Addr(), topic, 0, 0)
	if s := mustState(t, conn, topic, 0); len(s.ISR) == 3 {
		if code != 0 || hw != 1 || len(recs) != 1 {
			t.Fatalf("before the ISR shrank a consumer saw %d records, high-water mark %d (%v); want 1 and 1 (3 appended)", len(recs), hw, kerr.ErrorForCode(code))
		}
	} else {
		t.Logf("the ISR shrank to %v before the consumer's fetch: the high-water mark check was skipped", s.ISR)
	}
	select {
	case a := <-answered:
		if a.err != nil {
			t.Fatal(a.err)
		}
		// 2.4's DelayedProduce keeps the append's base offset in the
		// answer and only sets the error.
		if a.code != kerr.NotEnoughReplicasAfterAppend.Code || a.base != 2 {
			t.Fatalf("acks=all produce whose ISR shrank below min.insync.replicas after the append: %v (base offset %d), want NOT_ENOUGH_REPLICAS_AFTER_APPEND at base offset 2",
				kerr.ErrorForCode(a.code), a.base)
		}
	case <-time.After(45 * time.Second):
		t.Fatal("acks=all produce not answered")
	}
	if s := mustState(t, conn, topic, 0); !slices.Equal(s.ISR, []int32{st.Leader}) || s.LeaderEpoch != st.LeaderEpoch {
		t.Fatalf("state after the followers paused: %+v", s)
	}
	recs, hw = fetchAll(t, leader.Addr(), topic, 0)
	if !slices.Equal(recordValues(recs), []string{"before", "timed-out", "appended"}) || hw != 3 {
		t.Fatalf("after NOT_ENOUGH_REPLICAS_AFTER_APPEND a consumer reads %v (high-water mark %d), want the appended record", recordValues(recs), hw)
	}

	// ISR 1 < min.insync.replicas 2: acks=all refused and not stored;
	// acks=1 and acks=0 are stored (Kafka checks min.insync.replicas for
	// acks=all only).
	if code, _ := produceTo(t, leader.Addr(), topic, 0, -1, 5*time.Second, []string{"refused"}); code != kerr.NotEnoughReplicas.Code {
		t.Fatalf("acks=all with ISR below min.insync.replicas: %v, want NOT_ENOUGH_REPLICAS", kerr.ErrorForCode(code))
	}
	if base := mustProduce(t, leader.Addr(), topic, 0, 1, []string{"acks1"}); base != 3 {
		t.Fatalf("acks=1 record at offset %d, want 3 (the refused one must not be stored)", base)
	}
	produceTo(t, leader.Addr(), topic, 0, 0, 5*time.Second, []string{"acks0"})
	want := []string{"before", "timed-out", "appended", "acks1", "acks0"}
	eventually(t, 10*time.Second, func() error {
		if recs, _ := fetchAll(t, leader.Addr(), topic, 0); !slices.Equal(recordValues(recs), want) {
			return fmt.Errorf("consumer reads %v, want %v", recordValues(recs), want)
		}
		return nil
	})

	resume(t, followers)
	e.waitISR(conn, topic, 0, []int32{1, 2, 3})
	mustProduce(t, leader.Addr(), topic, 0, -1, []string{"rejoined"})
	if vals := batchValues(t, e.waitLogsIdentical(topic, 0)); !slices.Equal(vals, append(want, "rejoined")) {
		t.Fatalf("replicas hold %v", vals)
	}
}
