package zkcoord

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zkafka/zkafka/internal/testutil"
)

// delayConn adds a fixed latency to everything ZooKeeper sends (a network
// round trip of about delay) and counts request frames going out and
// response frames coming in, keeping the largest number of requests that
// were outstanding at once.
type delayConn struct {
	net.Conn
	delay time.Duration
	in    chan delayedChunk
	buf   []byte

	sent, received atomic.Int64
	maxInFlight    atomic.Int64
	frameLeft      int // bytes left of the response frame being read (reader goroutine)
	header         []byte
}

type delayedChunk struct {
	data  []byte
	ready time.Time
	err   error
}

func newDelayConn(c net.Conn, delay time.Duration) *delayConn {
	d := &delayConn{Conn: c, delay: delay, in: make(chan delayedChunk, 1024)}
	go d.readLoop()
	return d
}

func (d *delayConn) readLoop() {
	for {
		b := make([]byte, 64<<10)
		n, err := d.Conn.Read(b)
		if n > 0 {
			d.countResponses(b[:n])
			d.in <- delayedChunk{data: b[:n], ready: time.Now().Add(d.delay)}
		}
		if err != nil {
			d.in <- delayedChunk{err: err}
			return
		}
	}
}

// countResponses parses the length-prefixed frames of the incoming stream.
func (d *delayConn) countResponses(b []byte) {
	for len(b) > 0 {
		if d.frameLeft > 0 {
			k := min(d.frameLeft, len(b))
			d.frameLeft -= k
			b = b[k:]
			continue
		}
		need := 4 - len(d.header)
		k := min(need, len(b))
		d.header = append(d.header, b[:k]...)
		b = b[k:]
		if len(d.header) == 4 {
			d.frameLeft = int(binary.BigEndian.Uint32(d.header))
			d.header = d.header[:0]
			d.received.Add(1)
		}
	}
}

func (d *delayConn) Read(p []byte) (int, error) {
	if len(d.buf) == 0 {
		c := <-d.in
		if c.err != nil {
			return 0, c.err
		}
		time.Sleep(time.Until(c.ready))
		d.buf = c.data
	}
	n := copy(p, d.buf)
	d.buf = d.buf[n:]
	return n, nil
}

func (d *delayConn) Write(p []byte) (int, error) {
	// go-zookeeper writes one request frame per Write.
	out := d.sent.Add(1) - d.received.Load()
	for {
		m := d.maxInFlight.Load()
		if out <= m || d.maxInFlight.CompareAndSwap(m, out) {
			break
		}
	}
	return d.Conn.Write(p)
}

// loadLikeController reads what a controller's failover reads: the topic
// list, every topic znode (with watches) and config, every state znode.
func loadLikeController(ctx context.Context, s *Session) (int, error) {
	topics, err := s.GetAllTopics(ctx)
	if err != nil {
		return 0, err
	}
	reads, err := s.GetTopicsW(ctx, topics)
	if err != nil {
		return 0, err
	}
	if _, err := s.GetTopicConfigs(ctx, topics); err != nil {
		return 0, err
	}
	var tps []TopicPartition
	for _, t := range topics {
		for p := range reads[t].Assignment.Partitions {
			tps = append(tps, TopicPartition{Topic: t, Partition: p})
		}
	}
	states, err := s.GetPartitionStates(ctx, tps)
	return len(states), err
}

// populate creates topics×parts partitions with assignments, configs and
// state znodes, as a cluster that has been running.
func populate(t testing.TB, s *Session, topics, parts int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.CreateTopLevelPaths(ctx); err != nil {
		t.Fatal(err)
	}
	fence, err := ElectController(ctx, s, 1)
	if err != nil {
		t.Fatal(err)
	}
	states := map[TopicPartition]LeaderAndIsr{}
	for i := 0; i < topics; i++ {
		name := fmt.Sprintf("topic-%03d", i)
		a := map[int32][]int32{}
		for p := int32(0); p < int32(parts); p++ {
			a[p] = []int32{1 + p%3, 1 + (p+1)%3, 1 + (p+2)%3}
			states[TopicPartition{name, p}] = LeaderAndIsr{Leader: a[p][0], Isr: a[p], ControllerEpoch: 1}
		}
		if err := s.CreateTopic(ctx, name, a, map[string]string{"retention.ms": "1000"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := CreatePartitionStates(ctx, s, fence, states); err != nil {
		t.Fatal(err)
	}
}

func delayedSession(t testing.TB, connect string, delay time.Duration) (*Session, func() *delayConn) {
	var mu sync.Mutex
	var last *delayConn
	dialer := func(network, addr string, timeout time.Duration) (net.Conn, error) {
		c, err := net.DialTimeout(network, addr, timeout)
		if err != nil {
			return nil, err
		}
		d := newDelayConn(c, delay)
		mu.Lock()
		last = d
		mu.Unlock()
		return d, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := connect0(ctx, connect, 10*time.Second, nil, dialer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, func() *delayConn { mu.Lock(); defer mu.Unlock(); return last }
}

// TestIntegration_BatchedFailoverReads loads 2000 partitions (100 topics)
// the way the controller's failover does, over a connection with 2 ms of
// added latency: everything is read, and the reads were pipelined (many
// requests outstanding at once on the one session) rather than one round
// trip per znode. The time it took is logged, with the number of
// sequential round trips it amounts to.
func TestIntegration_BatchedFailoverReads(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (real ZooKeeper)")
	}
	zk := testutil.StartZooKeeper(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	admin, err := Connect(ctx, zk.Connect("/batch"), 10*time.Second, nil)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	populate(t, admin, 100, 20)

	const delay = 2 * time.Millisecond
	s, conn := delayedSession(t, zk.Connect("/batch"), delay)
	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	before := conn().sent.Load()
	start := time.Now()
	n, err := loadLikeController(ctx, s)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2000 {
		t.Fatalf("%d partition states read, want 2000", n)
	}
	reqs := conn().sent.Load() - before
	if reqs < 2201 {
		t.Fatalf("%d requests, want at least 1 list + 100 topics + 100 configs + 2000 states", reqs)
	}
	if m := conn().maxInFlight.Load(); m < 16 {
		t.Fatalf("at most %d requests were outstanding at once: reads are not pipelined", m)
	}
	t.Logf("2000 partitions, 100 topics: %d requests in %s with %s latency = %.0f sequential round trips (at most %d outstanding at once)",
		reqs, took.Round(time.Millisecond), delay, float64(took)/float64(delay), conn().maxInFlight.Load())
}

// BenchmarkFailoverReads measures a controller-style load of 2000
// partitions over a connection with 1 ms added latency, pipelined as the
// controller does and, for comparison, one read after the other.
func BenchmarkFailoverReads(b *testing.B) {
	zk := testutil.StartZooKeeper(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	admin, err := Connect(ctx, zk.Connect("/bench"), 10*time.Second, nil)
	cancel()
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	populate(b, admin, 100, 20)
	const delay = time.Millisecond
	s, _ := delayedSession(b, zk.Connect("/bench"), delay)
	ctx = context.Background()
	b.Run("pipelined", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if n, err := loadLikeController(ctx, s); err != nil || n != 2000 {
				b.Fatal(n, err)
			}
		}
		b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(delay), "round-trips/op")
	})
	b.Run("sequential", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			topics, _ := s.GetAllTopics(ctx)
			n := 0
			for _, t := range topics {
				a, _, err := s.GetTopicAssignment(ctx, t)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.GetTopicConfig(ctx, t); err != nil {
					b.Fatal(err)
				}
				for p := range a.Partitions {
					if _, _, err := s.GetPartitionState(ctx, t, p); err != nil {
						b.Fatal(err)
					}
					n++
				}
			}
			if n != 2000 {
				b.Fatal(n)
			}
		}
		b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(delay), "round-trips/op")
	})
}
