package consumergroup

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/sirupsen/logrus"

	"github.com/zkafka/zkafka/internal/ownercheck"
	"github.com/zkafka/zkafka/internal/testutil"
	"github.com/zkafka/zkafka/zkcoord"
)

// cluster is a private ZooKeeper with broker processes on a chroot.
type cluster struct {
	t       *testing.T
	zk      *testutil.ZooKeeper
	brokers *testutil.Cluster
	connect string
	chroot  string
}

func startCluster(t *testing.T, n int) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs ZooKeeper and broker processes")
	}
	zk := testutil.StartZooKeeper(t)
	chroot := "/zkafka"
	connect := zk.Addr() + chroot
	c := testutil.StartCluster(t, connect, n, nil)
	return &cluster{t: t, zk: zk, brokers: c, connect: connect, chroot: chroot}
}

// createTopic writes /brokers/topics/<t> as Kafka's AdminZkClient does and
// waits until every partition has a leader.
func (c *cluster) createTopic(topic string, partitions int32, rf int16) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := zkcoord.Connect(ctx, c.connect, 10*time.Second, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	defer s.Close()
	var ids []int32
	for _, b := range c.brokers.Brokers {
		ids = append(ids, int32(b.ID))
	}
	a, err := zkcoord.AssignReplicasRackUnaware(partitions, rf, ids, -1, -1)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := s.CreateTopic(ctx, topic, a, nil); err != nil {
		c.t.Fatal(err)
	}
	c.waitLeaders(ctx, topic, int(partitions))
}

func (c *cluster) waitLeaders(ctx context.Context, topic string, partitions int) {
	c.t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(strings.Split(c.brokers.Bootstrap(), ",")...), Timeout: 5 * time.Second}
	for {
		md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err == nil && len(md.Topics) == 1 && md.Topics[0].Error == nil && len(md.Topics[0].Partitions) == partitions {
			ok := true
			for _, p := range md.Topics[0].Partitions {
				ok = ok && p.Error == nil && p.Leader.ID > 0
			}
			if ok {
				return
			}
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("topic %s has no leaders for all %d partitions: %v", topic, partitions, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// member is an in-process group member whose deliveries are recorded.
type member struct {
	killed    func(time.Time)
	mu        sync.Mutex
	delivered map[TopicPartition][]int64
	refused   int // MarkOffset answered ErrNotOwned
	c         *Consumer
	cancel    context.CancelFunc
	done      chan struct{}
}

// tally counts deliveries per message value.
type tally struct {
	mu    sync.Mutex
	seen  map[string]int
	where map[string][]string
	total int
	ch    chan struct{} // signalled on every delivery
}

func newTally() *tally { return &tally{seen: map[string]int{}, ch: make(chan struct{}, 1)} }

func (t *tally) add(v, where string) {
	t.mu.Lock()
	t.seen[v]++
	if t.where == nil {
		t.where = map[string][]string{}
	}
	t.where[v] = append(t.where[v], where)
	t.total++
	t.mu.Unlock()
	select {
	case t.ch <- struct{}{}:
	default:
	}
}

// waitAll waits until every one of values was delivered at least once.
func (t *tally) waitAll(ctx context.Context, values []string) error {
	for {
		t.mu.Lock()
		missing := 0
		first := ""
		for _, v := range values {
			if t.seen[v] == 0 {
				if missing == 0 {
					first = v
				}
				missing++
			}
		}
		t.mu.Unlock()
		if missing == 0 {
			return nil
		}
		select {
		case <-t.ch:
		case <-ctx.Done():
			return fmt.Errorf("%d of %d messages never delivered (first: %s)", missing, len(values), first)
		}
	}
}

func (t *tally) duplicates() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := 0
	for _, n := range t.seen {
		d += n - 1
	}
	return d
}

func testLogger(t *testing.T) logrus.FieldLogger {
	l := logrus.New()
	l.SetLevel(logrus.InfoLevel)
	l.SetOutput(testWriter{t})
	return l
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func joinMember(t *testing.T, cfg Config, k *ownercheck.Checker, tl *tally) *member {
	t.Helper()
	var id string
	var idMu sync.Mutex
	cfg.OnOwnership = func(ev OwnershipEvent) {
		idMu.Lock()
		me := id
		idMu.Unlock()
		if me == "" {
			me = ConsumerOfThread(ev.ThreadID)
		}
		tp := ownercheck.TP{Topic: ev.Partition.Topic, Partition: ev.Partition.Partition}
		switch ev.Kind {
		case Claimed:
			k.Claimed(me, tp, ev.Time)
		default:
			k.Released(me, tp, ev.Time)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := Join(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	idMu.Lock()
	id = c.ID()
	idMu.Unlock()
	rctx, rcancel := context.WithCancel(context.Background())
	m := &member{c: c, cancel: rcancel, done: make(chan struct{}), killed: func(at time.Time) { k.Killed(c.ID(), at) },
		delivered: map[TopicPartition][]int64{}}
	go func() {
		defer close(m.done)
		for {
			msg, err := c.Fetch(rctx)
			if err != nil {
				return
			}
			now := time.Now()
			k.Delivered(c.ID(), ownercheck.TP{Topic: msg.Topic, Partition: msg.Partition}, msg.Offset, now)
			tl.add(string(msg.Value), fmt.Sprintf("%s %s-%d@%d", c.ID()[len(c.ID())-8:], msg.Topic, msg.Partition, msg.Offset))
			tp := TopicPartition{Topic: msg.Topic, Partition: msg.Partition}
			m.mu.Lock()
			m.delivered[tp] = append(m.delivered[tp], msg.Offset)
			if err := c.MarkOffset(msg); err != nil { // ErrNotOwned: the next owner delivers it again
				m.refused++
			}
			m.mu.Unlock()
		}
	}()
	t.Cleanup(func() { m.stop(context.Background(), false) })
	return m
}

func (m *member) stop(ctx context.Context, crash bool) error {
	m.cancel()
	<-m.done
	if crash {
		m.killed(time.Now())
		m.c.abandon()
		return nil
	}
	return m.c.Close(ctx)
}

// uncommitted counts the messages a crashed member delivered past its
// last commit (valid once it has stopped).
func (m *member) uncommitted() int {
	n := 0
	for tp := range m.c.r.owned {
		committed, ok := m.c.r.committed[tp]
		for _, off := range m.delivered[tp] {
			if !ok || off >= committed {
				n++
			}
		}
	}
	return n
}

func members(ms ...*member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.c.ID())
	}
	return out
}

// TestIntegration_GroupAtLeastOnce runs in-process members against a real
// ZooKeeper and three broker processes while keyed messages are produced:
// one member, then three, then one leaves cleanly, then one crashes
// (session closed without commit or release). Every message is delivered
// at least once, the ownership invariants hold throughout, and duplicates
// stay within the uncommitted window.
func TestIntegration_GroupAtLeastOnce(t *testing.T) {
	cl := startCluster(t, 3)
	const topic = "cg-alo"
	cl.createTopic(topic, 6, 2)
	group := "alo"
	k, err := ownercheck.Start(cl.zk.Addr(), cl.chroot, group)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Stop()
	tl := newTally()
	cfg := Config{
		ZooKeeper: cl.connect, Group: group, Topics: []string{topic}, AutoOffsetReset: OffsetResetSmallest,
		AutoCommitInterval: 200 * time.Millisecond, RebalanceBackoff: 500 * time.Millisecond, Logger: testLogger(t),
	}
	w := &kafka.Writer{Addr: kafka.TCP(strings.Split(cl.brokers.Bootstrap(), ",")...), Topic: topic, Balancer: &kafka.Hash{},
		BatchTimeout: 5 * time.Millisecond, RequiredAcks: kafka.RequireOne}
	defer w.Close()
	var values []string
	produce := func(n int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		var msgs []kafka.Message
		for i := 0; i < n; i++ {
			v := fmt.Sprintf("m%05d", len(values))
			values = append(values, v)
			msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprintf("k%d", len(values)%37)), Value: []byte(v)})
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	settle := func(what string, live ...*member) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		start := time.Now()
		owners, _, err := k.WaitSettled(ctx, map[string]int32{topic: 6}, members(live...))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		t.Logf("%s: settled after %s: %v", what, time.Since(start).Round(time.Millisecond), owners)
	}
	waitAll := func(what string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := tl.waitAll(ctx, values); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		t.Logf("%s: %d messages produced, %d deliveries, %d duplicates so far", what, len(values), tl.total, tl.duplicates())
		n := 0
		for v, w := range tl.where {
			if len(w) > 1 && n < 5 {
				n++
				t.Logf("dup %s: %v", v, w)
			}
		}
	}

	a := joinMember(t, cfg, k, tl)
	settle("one member", a)
	produce(300)
	waitAll("one member")

	b := joinMember(t, cfg, k, tl)
	produce(300)
	c := joinMember(t, cfg, k, tl)
	produce(300)
	settle("three members", a, b, c)
	waitAll("three members")

	produce(300)
	if err := b.stop(context.Background(), false); err != nil {
		t.Fatalf("clean leave: %v", err)
	}
	produce(300)
	settle("after a clean leave", a, c)
	waitAll("after a clean leave")

	produce(300)
	c.stop(context.Background(), true)
	produce(300)
	settle("after a crash", a)
	waitAll("after a crash")

	if err := a.stop(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	// duplicates come only from the crashed member's uncommitted window
	// and from messages fetched just before a rebalance whose mark was
	// refused
	window := c.uncommitted()
	refused := a.refused + b.refused + c.refused
	t.Logf("crashed member's uncommitted window: %d messages; refused marks: %d", window, refused)
	if d := tl.duplicates(); d > window+refused {
		t.Fatalf("%d duplicates, more than the uncommitted window (%d) plus refused marks (%d)", d, window, refused)
	}
	if err := k.Check(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d messages, %d deliveries, %d duplicates, %d ownership intervals checked", len(values), tl.total, tl.duplicates(), k.Intervals())

	// everything was committed on the last Close: a new member starts at
	// the end and gets nothing old
	s, err := zkcoord.Connect(context.Background(), cl.connect, 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var sum int64
	for p := int32(0); p < 6; p++ {
		off, ok, err := s.GetConsumerOffset(context.Background(), group, topic, p)
		if err != nil || !ok {
			t.Fatalf("no committed offset for partition %d: %v", p, err)
		}
		sum += off
	}
	if sum != int64(len(values)) {
		t.Fatalf("committed offsets add up to %d, want %d", sum, len(values))
	}
	for _, p := range []string{zkcoord.ConsumerGroupIDsPath(group), zkcoord.ConsumerGroupOwnersTopicPath(group, topic)} {
		kids, _, err := s.Children(context.Background(), p)
		if err != nil || len(kids) != 0 {
			t.Fatalf("%s after every member closed: %v %v", p, kids, err)
		}
	}
}
