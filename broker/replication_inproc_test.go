package broker

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
	"github.com/zkafka/zkafka/logstore"
	"github.com/zkafka/zkafka/zkcoord"
)

// memISRStore keeps partition state versions in memory: the ISR writes of
// in-process replication tests (the real store is ZooKeeper, exercised by
// the e2e tests).
type memISRStore struct {
	mu       sync.Mutex
	versions map[logstore.TopicPartition]int32
	states   map[logstore.TopicPartition]zkcoord.LeaderAndIsr
	notified []logstore.TopicPartition
	// loseAnswers: writes land but report a timeout; failReads: reads fail.
	loseAnswers, failReads bool
}

func (s *memISRStore) updateLeaderAndIsr(_ context.Context, tp logstore.TopicPartition, st zkcoord.LeaderAndIsr, version int32) (int32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.versions[tp] != version {
		return 0, zkcoord.ErrBadVersion
	}
	s.versions[tp]++
	s.states[tp] = st
	if s.loseAnswers {
		return 0, context.DeadlineExceeded // written, but the answer is lost
	}
	return s.versions[tp], nil
}

func (s *memISRStore) readLeaderAndIsr(_ context.Context, tp logstore.TopicPartition) (zkcoord.LeaderAndIsr, int32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failReads {
		return zkcoord.LeaderAndIsr{}, 0, errors.New("connection lost")
	}
	return s.states[tp], s.versions[tp], nil
}

func (s *memISRStore) notifyIsrChanges(_ context.Context, tps []logstore.TopicPartition) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notified = append(s.notified, tps...)
	return nil
}

func (s *memISRStore) isr(tp logstore.TopicPartition) []int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.states[tp].Isr
}

// leaderAndIsr sends one partition's LeaderAndIsr (controller epoch 1) with
// the given live leaders.
func leaderAndIsr(t *testing.T, c *wire.Conn, topic string, p, leader, epoch int32, isr, replicas []int32, leaders map[int32]*testBroker) {
	t.Helper()
	lai := kmsg.NewPtrLeaderAndISRRequest()
	lai.ControllerID, lai.ControllerEpoch, lai.BrokerEpoch = 1, 1, -1
	ts := kmsg.NewLeaderAndISRRequestTopicState()
	ts.Topic = topic
	ps := kmsg.NewLeaderAndISRRequestTopicPartition()
	ps.Partition, ps.ControllerEpoch, ps.Leader, ps.LeaderEpoch = p, 1, leader, epoch
	ps.ISR, ps.Replicas = isr, replicas
	ts.PartitionStates = append(ts.PartitionStates, ps)
	lai.TopicStates = append(lai.TopicStates, ts)
	for id, tb := range leaders {
		host, port, _ := net.SplitHostPort(tb.addr)
		n, _ := strconv.Atoi(port)
		lai.LiveLeaders = append(lai.LiveLeaders, kmsg.LeaderAndISRRequestLiveLeader{BrokerID: id, Host: host, Port: int32(n)})
	}
	r := request[*kmsg.LeaderAndISRResponse](t, c, lai, 4)
	if r.ErrorCode != 0 || r.Partitions[0].ErrorCode != 0 {
		t.Fatalf("LeaderAndIsr: %+v", r)
	}
}

func logBytes(t *testing.T, tb *testBroker, tp logstore.TopicPartition) []byte {
	t.Helper()
	l, ok := tb.b.logs.Get(tp)
	if !ok {
		return nil
	}
	res, err := l.Read(l.LogStartOffset(), 1<<30, l.LogEndOffset(), true)
	if err != nil {
		t.Fatal(err)
	}
	b, err := res.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReplicationInProcess: a follower copies its leader's log byte for
// byte through Fetch; acks=all is answered once it has the batches; when it
// stops fetching the leader shrinks the ISR (a conditional state write) and
// acks=all then refuses writes below min.insync.replicas; when the follower
// fetches again it rejoins.
func TestReplicationInProcess(t *testing.T) {
	b1, b2 := newTestBrokerID(t, 1), newTestBrokerID(t, 2)
	store := &memISRStore{versions: map[logstore.TopicPartition]int32{}, states: map[logstore.TopicPartition]zkcoord.LeaderAndIsr{}}
	b1.b.replicas.isr = store
	b1.b.replicas.repl.lagTimeMax = 500 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b1.b.replicas.runISRMaintenance(ctx)
	c1, c2 := b1.dial(t), b2.dial(t)
	tp := logstore.TopicPartition{Topic: "r", Partition: 0}
	leaders := map[int32]*testBroker{1: b1}
	leaderAndIsr(t, c1, "r", 0, 1, 0, []int32{1, 2}, []int32{1, 2}, leaders)
	leaderAndIsr(t, c2, "r", 0, 1, 0, []int32{1, 2}, []int32{1, 2}, leaders)

	for i := 0; i < 20; i++ {
		r := request[*kmsg.ProduceResponse](t, c1, produceReq("r", 0, testBatch(5), -1), 8)
		if sp := r.Topics[0].Partitions[0]; sp.ErrorCode != 0 || sp.BaseOffset != int64(5*i) {
			t.Fatalf("acks=all produce %d: error %v, base %d", i, kerr.ErrorForCode(sp.ErrorCode), sp.BaseOffset)
		}
	}
	// acks=all was answered: the follower had every batch, byte for byte.
	if a, b := logBytes(t, b1, tp), logBytes(t, b2, tp); len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatalf("follower log (%d bytes) differs from leader's (%d bytes)", len(b), len(a))
	}
	l2, _ := b2.b.logs.Get(tp)
	waitFor(t, "the follower's high-water mark", func() bool { return l2.HighWatermark() == 100 })
	if e := l2.EpochEntries(); len(e) != 1 || e[0] != (logstore.EpochEntry{Epoch: 0, StartOffset: 0}) {
		t.Fatalf("follower epoch cache %v", e)
	}

	// The follower stops fetching: the leader drops it from the ISR.
	b2.b.replicas.fetchers.remove(tp)
	waitFor(t, "the ISR to shrink", func() bool { return len(store.isr(tp)) == 1 })
	p1 := b1.b.replicas.get(tp)
	p1.mu.Lock()
	p1.minInsync = 2
	p1.mu.Unlock()
	r := request[*kmsg.ProduceResponse](t, c1, produceReq("r", 0, testBatch(1), -1), 8)
	if code := r.Topics[0].Partitions[0].ErrorCode; code != kerr.NotEnoughReplicas.Code {
		t.Fatalf("acks=all below min.insync.replicas: %v", kerr.ErrorForCode(code))
	}
	if l1, _ := b1.b.logs.Get(tp); l1.LogEndOffset() != 100 {
		t.Fatalf("a refused write was stored: LEO %d", l1.LogEndOffset())
	}
	// acks=1 still works; the follower comes back, catches up, rejoins.
	r = request[*kmsg.ProduceResponse](t, c1, produceReq("r", 0, testBatch(1), 1), 8)
	if code := r.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("acks=1: %v", kerr.ErrorForCode(code))
	}
	b2.b.replicas.fetchers.add(tp, b2.b.replicas.get(tp), 1, b1.addr, 0)
	waitFor(t, "the ISR to grow", func() bool { return len(store.isr(tp)) == 2 })
	r = request[*kmsg.ProduceResponse](t, c1, produceReq("r", 0, testBatch(1), -1), 8)
	if code := r.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("acks=all after rejoin: %v", kerr.ErrorForCode(code))
	}
	if a, b := logBytes(t, b1, tp), logBytes(t, b2, tp); !bytes.Equal(a, b) {
		t.Fatalf("follower log differs after rejoin")
	}
}

// TestIdempotenceSurvivesLeaderChange: a producer's batch acknowledged by
// the old leader and retried against the new one (its former follower) is
// recognised as a duplicate there and not written twice.
func TestIdempotenceSurvivesLeaderChange(t *testing.T) {
	b1, b2 := newTestBrokerID(t, 1), newTestBrokerID(t, 2)
	c1, c2 := b1.dial(t), b2.dial(t)
	tp := logstore.TopicPartition{Topic: "idem", Partition: 0}
	both := map[int32]*testBroker{1: b1, 2: b2}
	leaderAndIsr(t, c1, "idem", 0, 1, 0, []int32{1, 2}, []int32{1, 2}, both)
	leaderAndIsr(t, c2, "idem", 0, 1, 0, []int32{1, 2}, []int32{1, 2}, both)
	pid := request[*kmsg.InitProducerIDResponse](t, c1, kmsg.NewPtrInitProducerIDRequest(), 1).ProducerID
	for seq := int32(0); seq < 9; seq += 3 {
		sp := request[*kmsg.ProduceResponse](t, c1, produceReq("idem", 0, idempotentBatch(pid, 0, seq, 3), -1), 8).Topics[0].Partitions[0]
		if sp.ErrorCode != 0 {
			t.Fatalf("produce seq %d: %v", seq, kerr.ErrorForCode(sp.ErrorCode))
		}
	}
	// Broker 2 takes over (epoch 1); broker 1 follows.
	leaderAndIsr(t, c2, "idem", 0, 2, 1, []int32{2, 1}, []int32{1, 2}, both)
	leaderAndIsr(t, c1, "idem", 0, 2, 1, []int32{2, 1}, []int32{1, 2}, both)
	l2, _ := b2.b.logs.Get(tp)
	sp := request[*kmsg.ProduceResponse](t, c2, produceReq("idem", 0, idempotentBatch(pid, 0, 6, 3), -1), 8).Topics[0].Partitions[0]
	if sp.ErrorCode != 0 || sp.BaseOffset != 6 || l2.LogEndOffset() != 9 {
		t.Fatalf("retry on the new leader: %v base %d, LEO %d", kerr.ErrorForCode(sp.ErrorCode), sp.BaseOffset, l2.LogEndOffset())
	}
	sp = request[*kmsg.ProduceResponse](t, c2, produceReq("idem", 0, idempotentBatch(pid, 0, 9, 1), -1), 8).Topics[0].Partitions[0]
	if sp.ErrorCode != 0 || sp.BaseOffset != 9 {
		t.Fatalf("next batch on the new leader: %v base %d", kerr.ErrorForCode(sp.ErrorCode), sp.BaseOffset)
	}
	waitFor(t, "the old leader to replicate from the new one", func() bool {
		return bytes.Equal(logBytes(t, b1, tp), logBytes(t, b2, tp))
	})
}

// TestFollowerFetchesAddedPartitionDuringLongPoll: a follower whose fetch
// is parked at its leader on an idle partition is told to replicate another
// partition of that leader. It does not wait for the long poll to end
// (replica.fetch.wait.max.ms, here a minute) before fetching it: an acks=all
// produce to the new partition, which needs the follower, is answered
// within its 5 s timeout.
func TestFollowerFetchesAddedPartitionDuringLongPoll(t *testing.T) {
	b1, b2 := newTestBrokerID(t, 1), newTestBrokerID(t, 2)
	b2.b.replicas.fetchers.cfg.waitMax = time.Minute // before any fetcher starts
	c1, c2 := b1.dial(t), b2.dial(t)
	leaders := map[int32]*testBroker{1: b1}
	leaderAndIsr(t, c1, "ap", 0, 1, 0, []int32{1, 2}, []int32{1, 2}, leaders)
	leaderAndIsr(t, c2, "ap", 0, 1, 0, []int32{1, 2}, []int32{1, 2}, leaders)
	waitFor(t, "the follower's fetch to park at the leader", func() bool { return b1.b.parkedFetches.Load() == 1 })

	leaderAndIsr(t, c1, "ap", 1, 1, 0, []int32{1, 2}, []int32{1, 2}, leaders)
	leaderAndIsr(t, c2, "ap", 1, 1, 0, []int32{1, 2}, []int32{1, 2}, leaders)
	r := request[*kmsg.ProduceResponse](t, c1, produceReq("ap", 1, testBatch(3), -1), 8)
	if code := r.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("acks=all produce to the added partition: %v", kerr.ErrorForCode(code))
	}
}

// TestEpochBumpKeepsReplicationState: a LeaderAndIsr that bumps the leader
// epoch and keeps the leader (Kafka's isNewLeader false) leaves the
// leader's view of its follower as the follower's fetches made it, and the
// follower's fetcher carries on (same fetcher, the new epoch); replication
// and acks=all go on.
func TestEpochBumpKeepsReplicationState(t *testing.T) {
	b1, b2 := newTestBrokerID(t, 1), newTestBrokerID(t, 2)
	c1, c2 := b1.dial(t), b2.dial(t)
	tp := logstore.TopicPartition{Topic: "eb", Partition: 0}
	leaders := map[int32]*testBroker{1: b1}
	leaderAndIsr(t, c1, "eb", 0, 1, 0, []int32{1, 2}, []int32{1, 2}, leaders)
	leaderAndIsr(t, c2, "eb", 0, 1, 0, []int32{1, 2}, []int32{1, 2}, leaders)
	for i := 0; i < 5; i++ {
		r := request[*kmsg.ProduceResponse](t, c1, produceReq("eb", 0, testBatch(5), -1), 8)
		if code := r.Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("acks=all produce %d: %v", i, kerr.ErrorForCode(code))
		}
	}
	p1 := b1.b.replicas.get(tp)
	followerLEO := func() int64 {
		p1.mu.RLock()
		defer p1.mu.RUnlock()
		return p1.followers[2].leo
	}
	waitFor(t, "the leader to learn the follower's log end", func() bool { return followerLEO() == 25 })
	b2.b.replicas.fetchers.mu.Lock()
	fetcherBefore := b2.b.replicas.fetchers.fetchers[1]
	b2.b.replicas.fetchers.mu.Unlock()

	// The leader gets epoch 1 first: the follower, still in epoch 0, is
	// fenced and cannot tell it anything until it gets epoch 1 too.
	leaderAndIsr(t, c1, "eb", 0, 1, 1, []int32{1, 2}, []int32{1, 2}, leaders)
	if leo := followerLEO(); leo != 25 {
		t.Fatalf("after the epoch bump the leader knows the follower's log end as %d, want 25", leo)
	}
	if l1, _ := b1.b.logs.Get(tp); l1.HighWatermark() != 25 {
		t.Fatalf("high-water mark %d after the epoch bump", l1.HighWatermark())
	}
	leaderAndIsr(t, c2, "eb", 0, 1, 1, []int32{1, 2}, []int32{1, 2}, leaders)
	b2.b.replicas.fetchers.mu.Lock()
	fetcherAfter := b2.b.replicas.fetchers.fetchers[1]
	b2.b.replicas.fetchers.mu.Unlock()
	if fetcherAfter == nil || fetcherAfter != fetcherBefore {
		t.Fatalf("the follower's fetcher was replaced (%p, then %p)", fetcherBefore, fetcherAfter)
	}
	fetcherAfter.mu.Lock()
	epoch := fetcherAfter.parts[tp].leaderEpoch
	fetcherAfter.mu.Unlock()
	if epoch != 1 {
		t.Fatalf("the follower fetches in epoch %d", epoch)
	}
	r := request[*kmsg.ProduceResponse](t, c1, produceReq("eb", 0, testBatch(5), -1), 8)
	if code := r.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("acks=all produce after the epoch bump: %v", kerr.ErrorForCode(code))
	}
	if a, b := logBytes(t, b1, tp), logBytes(t, b2, tp); !bytes.Equal(a, b) {
		t.Fatalf("follower log differs from the leader's after the epoch bump")
	}
}

// TestEpochBumpDroppingFollowerFromISR: a follower stops fetching (its
// controlled shutdown succeeded) while an acks=all produce waits for it;
// the controller's LeaderAndIsr takes it out of the ISR with an epoch bump
// that keeps the leader. The produce is answered at once: the follower's
// last fetch, recent as it is, no longer counts for the high-water mark
// (Kafka's resetLastCaughtUpTime), so nothing waits for
// replica.lag.time.max.ms (10 s here, beyond the produce's 5 s timeout).
func TestEpochBumpDroppingFollowerFromISR(t *testing.T) {
	b1, b2 := newTestBrokerID(t, 1), newTestBrokerID(t, 2)
	c1, c2 := b1.dial(t), b2.dial(t)
	tp := logstore.TopicPartition{Topic: "ed", Partition: 0}
	leaders := map[int32]*testBroker{1: b1}
	leaderAndIsr(t, c1, "ed", 0, 1, 0, []int32{1, 2}, []int32{1, 2}, leaders)
	leaderAndIsr(t, c2, "ed", 0, 1, 0, []int32{1, 2}, []int32{1, 2}, leaders)
	r := request[*kmsg.ProduceResponse](t, c1, produceReq("ed", 0, testBatch(5), -1), 8)
	if code := r.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("acks=all produce: %v", kerr.ErrorForCode(code))
	}
	b2.b.replicas.fetchers.remove(tp)

	c1b := b1.dial(t)
	done := make(chan int16, 1)
	go func() {
		req := produceReq("ed", 0, testBatch(1), -1)
		req.SetVersion(8)
		resp, err := c1b.Request(context.Background(), req)
		if err != nil {
			done <- -1
			return
		}
		done <- resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
	}()
	l1, _ := b1.b.logs.Get(tp)
	waitFor(t, "the append", func() bool { return l1.LogEndOffset() == 6 })
	leaderAndIsr(t, c1, "ed", 0, 1, 1, []int32{1}, []int32{1, 2}, leaders)
	if code := <-done; code != 0 {
		t.Fatalf("acks=all produce waiting across the ISR shrink: %v", kerr.ErrorForCode(code))
	}
}
