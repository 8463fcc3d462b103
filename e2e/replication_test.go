package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
	"github.com/zkafka/zkafka/internal/testutil"
)

// partitionState is a /brokers/topics/<t>/partitions/<p>/state znode.
type partitionState struct {
	Leader          int32   `json:"leader"`
	LeaderEpoch     int32   `json:"leader_epoch"`
	ISR             []int32 `json:"isr"`
	ControllerEpoch int32   `json:"controller_epoch"`
}

func (e *env) zkConn() *zk.Conn {
	e.t.Helper()
	conn, _, err := zk.Connect([]string{e.zk.Addr()}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(conn.Close)
	return conn
}

func readState(conn *zk.Conn, topic string, p int) (partitionState, error) {
	data, _, err := conn.Get(fmt.Sprintf("/zkafka/brokers/topics/%s/partitions/%d/state", topic, p))
	if err != nil {
		return partitionState{}, err
	}
	var st partitionState
	err = json.Unmarshal(data, &st)
	sort.Slice(st.ISR, func(i, j int) bool { return st.ISR[i] < st.ISR[j] })
	return st, err
}

// replicaLog reads the first segment of a partition replica from a broker's
// log dir.
func replicaLog(b *testutil.Broker, topic string, p int) []byte {
	data, _ := os.ReadFile(filepath.Join(b.Dir, fmt.Sprintf("%s-%d", topic, p), "00000000000000000000.log"))
	return data
}

// waitReplicasIdentical waits until every running replica of the topic's
// partitions holds the same bytes as the others (and at least minBytes).
func (e *env) waitReplicasIdentical(topic string, partitions int, minBytes int) {
	e.t.Helper()
	eventually(e.t, 30*time.Second, func() error {
		for p := 0; p < partitions; p++ {
			var first []byte
			for i, b := range e.c.Brokers {
				if !b.Running() {
					continue
				}
				data := replicaLog(b, topic, p)
				if len(data) < minBytes {
					return fmt.Errorf("%s-%d on broker %d has %d bytes", topic, p, b.ID, len(data))
				}
				if i == 0 || first == nil {
					first = data
				} else if !bytes.Equal(first, data) {
					return fmt.Errorf("%s-%d differs between replicas (%d vs %d bytes)", topic, p, len(first), len(data))
				}
			}
		}
		return nil
	})
}

func (e *env) waitISR(conn *zk.Conn, topic string, p int, want []int32) partitionState {
	e.t.Helper()
	var st partitionState
	eventually(e.t, 30*time.Second, func() error {
		var err error
		if st, err = readState(conn, topic, p); err != nil {
			return err
		}
		if !slices.Equal(st.ISR, want) {
			return fmt.Errorf("%s-%d isr %v, want %v", topic, p, st.ISR, want)
		}
		return nil
	})
	return st
}

func (e *env) broker(id int32) *testutil.Broker {
	for _, b := range e.c.Brokers {
		if int32(b.ID) == id {
			return b
		}
	}
	e.t.Fatalf("no broker %d", id)
	return nil
}

// produceRaw sends one acks=all produce of a small batch straight to a
// broker and returns the partition's error code.
func produceRaw(t *testing.T, addr, topic string, p int32) int16 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := wire.Dial(ctx, addr, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(7)
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	recs := testutil.AppendRecord(nil, 0, nil, []byte("strict"))
	rt.Partitions = []kmsg.ProduceRequestTopicPartition{{Partition: p, Records: testutil.BuildBatch(0, 1, time.Now().UnixMilli(), recs)}}
	req.Topics = []kmsg.ProduceRequestTopic{rt}
	r, err := conn.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return r.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
}

// TestIntegration_ReplicationISR: followers copy the leader's log byte for
// byte; a follower that stops fetching leaves the ISR (written by the leader
// into the state znode) and acks=all then refuses writes that would have
// fewer than min.insync.replicas copies; when it runs again it catches up
// and rejoins the ISR.
func TestIntegration_ReplicationISR(t *testing.T) {
	e := newEnv(t, 3, map[string]string{"replica.lag.time.max.ms": "1500", "zookeeper.session.timeout.ms": "30000"})
	conn := e.zkConn()
	e.createTopic("rep", 3, 3)
	e.run("", "topics", "--bootstrap-server", e.c.Brokers[0].Addr(), "--create", "--topic", "strict",
		"--partitions", "1", "--replication-factor", "3", "--config", "min.insync.replicas=3")
	e.waitTopic("rep", 3)
	e.waitTopic("strict", 1)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(e.c.Bootstrap(), ",")...), kgo.DefaultProduceTopic("rep"),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite(), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := 0; i < 3000; i++ {
		recs = append(recs, &kgo.Record{Key: []byte(strconv.Itoa(i % 17)), Value: []byte(fmt.Sprintf("value-%06d", i))})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("acks=all produce: %v", err)
	}
	e.waitReplicasIdentical("rep", 3, 100)
	for p := 0; p < 3; p++ {
		e.waitISR(conn, "rep", p, []int32{1, 2, 3})
	}
	if code := produceRaw(t, e.broker(mustState(t, conn, "strict", 0).Leader).Addr(), "strict", 0); code != 0 {
		t.Fatalf("acks=all with the full ISR: error %v", kerr.ErrorForCode(code))
	}

	// Stop a follower of strict-0 (its ZooKeeper session outlives the
	// pause): the leader drops it from the ISR after replica.lag.time.max.ms.
	st := mustState(t, conn, "strict", 0)
	_, notifyStat, err := conn.Get("/zkafka/isr_change_notification")
	if err != nil {
		t.Fatal(err)
	}
	var follower *testutil.Broker
	for _, b := range e.c.Brokers {
		if int32(b.ID) != st.Leader {
			follower = b
			break
		}
	}
	if err := follower.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { follower.Signal(syscall.SIGCONT) })
	shrunk := without(t, []int32{1, 2, 3}, int32(follower.ID))
	after := e.waitISR(conn, "strict", 0, shrunk)
	if after.Leader != st.Leader || after.LeaderEpoch != st.LeaderEpoch {
		t.Fatalf("ISR shrink changed leadership: %+v -> %+v", st, after)
	}
	// The leader announced the change under /isr_change_notification, the
	// controller removed the notification (the parent's cversion counts
	// both) and sent UpdateMetadata: the broker that neither leads nor was
	// stopped, which learns ISRs from the controller only, reports it.
	var bystander *testutil.Broker
	for _, b := range e.c.Brokers {
		if int32(b.ID) != st.Leader && b != follower {
			bystander = b
		}
	}
	eventually(t, 30*time.Second, func() error {
		pm, err := partitionMetadata(bystander.Addr(), "strict", 0)
		if err != nil {
			return err
		}
		if isr := slices.Sorted(slices.Values(pm.ISR)); !slices.Equal(isr, shrunk) {
			return fmt.Errorf("broker %d: strict-0 ISR %v, want %v", bystander.ID, isr, shrunk)
		}
		names, stat, err := conn.Children("/zkafka/isr_change_notification")
		if err != nil || len(names) > 0 || stat.Cversion < notifyStat.Cversion+2 {
			return fmt.Errorf("isr_change_notification children %v, cversion %d (was %d): %v", names, stat.Cversion, notifyStat.Cversion, err)
		}
		return nil
	})
	leaderAddr := e.broker(st.Leader).Addr()
	if code := produceRaw(t, leaderAddr, "strict", 0); code != kerr.NotEnoughReplicas.Code {
		t.Fatalf("acks=all with ISR %v < min.insync.replicas 3: error %v, want NOT_ENOUGH_REPLICAS", shrunk, kerr.ErrorForCode(code))
	}
	// The other topic (min.insync.replicas 1) still takes acks=all writes,
	// acknowledged by the smaller ISR.
	for p := 0; p < 3; p++ {
		if s := mustState(t, conn, "rep", p); s.Leader != int32(follower.ID) {
			e.waitISR(conn, "rep", p, shrunk)
		}
	}

	if err := follower.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	e.waitISR(conn, "strict", 0, []int32{1, 2, 3})
	if code := produceRaw(t, leaderAddr, "strict", 0); code != 0 {
		t.Fatalf("acks=all after the follower rejoined: error %v", kerr.ErrorForCode(code))
	}
	e.waitReplicasIdentical("strict", 1, 1)
	// The controller learnt the ISR changes (isr_change_notification) and
	// told every broker: metadata shows the full ISR again.
	eventually(t, 30*time.Second, func() error {
		return e.eachMetadata(func(id int, m *kmsg.MetadataResponse) error {
			for _, tm := range m.Topics {
				if *tm.Topic == "strict" && len(tm.Partitions[0].ISR) != 3 {
					return fmt.Errorf("broker %d: strict-0 ISR %v", id, tm.Partitions[0].ISR)
				}
			}
			return nil
		})
	})
}

func mustState(t *testing.T, conn *zk.Conn, topic string, p int) partitionState {
	t.Helper()
	st, err := readState(conn, topic, p)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func without(t *testing.T, ids []int32, drop int32) []int32 {
	t.Helper()
	var out []int32
	for _, id := range ids {
		if id != drop {
			out = append(out, id)
		}
	}
	return out
}

// ackLog records what a producer was told was written.
type ackLog struct {
	mu     sync.Mutex
	acked  map[string]bool
	first  map[int32]time.Time // first ack per partition after a mark, by another broker than victim
	mark   time.Time
	victim int32
}

func (a *ackLog) add(r *kgo.Record) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.acked[string(r.Value)] = true
}

// OnProduceBatchWritten is a kgo hook: a batch was acknowledged by node.
// Only acknowledgements from another broker than the victim count as the
// first after a mark: an answer the killed leader sent just before it died
// can still be read after the kill.
func (a *ackLog) OnProduceBatchWritten(meta kgo.BrokerMetadata, _ string, partition int32, _ kgo.ProduceBatchMetrics) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mark.IsZero() || meta.NodeID == a.victim {
		return
	}
	if _, ok := a.first[partition]; !ok {
		a.first[partition] = time.Now()
	}
}

// TestIntegration_LeaderFailoverLosesNothingAcked kills the leader of a
// partition (kill -9) while an idempotent producer writes with acks=all,
// repeatedly, and checks that every acknowledged record is read back exactly
// once afterwards: the
// controller elects a new leader from the ISR, which has everything
// acknowledged. A killed broker restarted later truncates what it had
// beyond the new leader and its log becomes identical to the others'.
func TestIntegration_LeaderFailoverLosesNothingAcked(t *testing.T) {
	e := newEnv(t, 3, map[string]string{"replica.lag.time.max.ms": "3000"})
	conn := e.zkConn()
	e.createTopic("fo", 2, 3)
	e.waitTopic("fo", 2)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// An idempotent producer (InitProducerId, sequence numbers): retries
	// across the failover must not duplicate anything.
	acks := &ackLog{acked: map[string]bool{}, first: map[int32]time.Time{}, victim: -1}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(e.c.Bootstrap(), ",")...), kgo.DefaultProduceTopic("fo"),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(5*time.Millisecond),
		kgo.RecordRetries(1000), kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }),
		kgo.MetadataMinAge(250*time.Millisecond), kgo.WithHooks(acks))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var sent int
	var produceErrs []error
	var perr sync.Mutex
	produce := func(n int) {
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			sent++
			wg.Add(1)
			cl.Produce(ctx, &kgo.Record{Key: []byte(strconv.Itoa(sent % 13)), Value: []byte(fmt.Sprintf("r-%07d", sent))},
				func(r *kgo.Record, err error) {
					defer wg.Done()
					if err != nil {
						perr.Lock()
						produceErrs = append(produceErrs, err)
						perr.Unlock()
						return
					}
					acks.add(r)
				})
		}
		wg.Wait()
	}

	const cycles = 3
	for cycle := 1; cycle <= cycles; cycle++ {
		produce(2000)
		st := mustState(t, conn, "fo", 0)
		victim := e.broker(st.Leader)
		if cycle == 2 {
			// Kill the controller instead: another broker must take
			// over /controller and carry on electing leaders.
			data, _, err := conn.Get("/zkafka/controller")
			if err != nil {
				t.Fatal(err)
			}
			var ctrl struct {
				BrokerID int32 `json:"brokerid"`
			}
			if err := json.Unmarshal(data, &ctrl); err != nil {
				t.Fatal(err)
			}
			victim = e.broker(ctrl.BrokerID)
		}
		// Keep producing while the leader dies.
		done := make(chan struct{})
		go func() { defer close(done); produce(3000) }()
		time.Sleep(50 * time.Millisecond)
		acks.mu.Lock()
		acks.mark, acks.first, acks.victim = time.Now(), map[int32]time.Time{}, int32(victim.ID)
		acks.mu.Unlock()
		killed := time.Now()
		victim.Kill()
		<-done
		var next partitionState
		eventually(t, 30*time.Second, func() error {
			var err error
			if next, err = readState(conn, "fo", 0); err != nil {
				return err
			}
			if slices.Contains(next.ISR, int32(victim.ID)) || next.Leader < 0 {
				return fmt.Errorf("fo-0 state %+v still has broker %d", next, victim.ID)
			}
			return nil
		})
		if next.Leader != st.Leader && next.LeaderEpoch <= st.LeaderEpoch {
			t.Fatalf("cycle %d: new state %+v after %+v", cycle, next, st)
		}
		// The leader may drop the dead broker from the ISR itself (after
		// replica.lag.time.max.ms) before its session expires; a new
		// controller comes with the expiry.
		eventually(t, 30*time.Second, func() error {
			data, _, err := conn.Get("/zkafka/controller")
			if err != nil || bytes.Contains(data, []byte(fmt.Sprintf(`"brokerid":%d,`, victim.ID))) {
				return fmt.Errorf("cycle %d: /controller = %s, %v", cycle, data, err)
			}
			return nil
		})
		produce(500)
		acks.mu.Lock()
		if at, ok := acks.first[0]; ok {
			t.Logf("cycle %d: broker %d killed (fo-0 leader was %d); first acks=all produce to fo-0 acknowledged %.2fs later, leader %d", cycle, victim.ID, st.Leader, at.Sub(killed).Seconds(), next.Leader)
		}
		acks.mu.Unlock()
		// Bring the killed broker back: it truncates and catches up.
		victim.Start()
		victim.WaitListening(30 * time.Second)
		e.waitBrokers(3)
		e.waitISR(conn, "fo", 0, []int32{1, 2, 3})
		e.waitISR(conn, "fo", 1, []int32{1, 2, 3})
		e.waitReplicasIdentical("fo", 2, 100)
	}
	perr.Lock()
	if len(produceErrs) > 0 {
		t.Logf("%d produces failed (not acknowledged; allowed): first %v", len(produceErrs), produceErrs[0])
	}
	perr.Unlock()

	// Read everything back.
	consumer, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(e.c.Bootstrap(), ",")...), kgo.ConsumeTopics("fo"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	seen := map[string]int{}
	for missing := len(acks.acked); missing > 0; {
		fs := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d acknowledged records never read back", missing)
		}
		fs.EachRecord(func(r *kgo.Record) {
			seen[string(r.Value)]++
			if seen[string(r.Value)] == 1 && acks.acked[string(r.Value)] {
				missing--
			}
		})
	}
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	t.Logf("%d kill -9 cycles (leader, controller, leader): %d records sent, %d acknowledged, all read back; %d duplicates", cycles, sent, len(acks.acked), dups)
	if dups > 0 {
		t.Fatalf("an idempotent producer's records were written %d times too often", dups)
	}
}
