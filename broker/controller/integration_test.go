package controller

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
	"github.com/zkafka/zkafka/internal/testutil"
	"github.com/zkafka/zkafka/zkcoord"
)

// fakeBroker is a TCP endpoint that speaks just enough Kafka for a
// controller: it answers ApiVersions and records (and acknowledges)
// LeaderAndIsr, UpdateMetadata and StopReplica.
type fakeBroker struct {
	t  *testing.T
	ln net.Listener

	mu   sync.Mutex
	reqs []kmsg.Request
	wg   sync.WaitGroup
}

func startFakeBroker(t *testing.T) *fakeBroker {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeBroker{t: t, ln: ln}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(func() { ln.Close(); f.wg.Wait() })
	return f
}

func (f *fakeBroker) port() int32 { return int32(f.ln.Addr().(*net.TCPAddr).Port) }

func (f *fakeBroker) accept() {
	defer f.wg.Done()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		conns = append(conns, c)
		f.wg.Add(1)
		go f.serve(c)
	}
}

func (f *fakeBroker) serve(c net.Conn) {
	defer f.wg.Done()
	defer c.Close()
	rd := bufio.NewReader(c)
	var buf []byte
	for {
		frame, err := wire.ReadFrame(rd, buf[:0], 1<<26)
		if err != nil {
			return
		}
		h, body, err := wire.ParseRequestHeader(frame, wire.IsFlexible)
		if err != nil {
			return
		}
		req := kmsg.RequestForKey(h.Key)
		if req == nil {
			return
		}
		req.SetVersion(h.Version)
		if err := req.ReadFrom(body); err != nil {
			f.t.Errorf("fake broker: decode key %d v%d: %v", h.Key, h.Version, err)
			return
		}
		resp := f.answer(req)
		if _, err := c.Write(wire.AppendResponse(nil, h.CorrelationID, resp)); err != nil {
			return
		}
	}
}

func (f *fakeBroker) answer(req kmsg.Request) kmsg.Response {
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	switch r := req.(type) {
	case *kmsg.ApiVersionsRequest:
		av := resp.(*kmsg.ApiVersionsResponse)
		for _, k := range [][3]int16{{4, 0, 4}, {5, 0, 2}, {6, 0, 6}, {18, 0, 3}} {
			av.ApiKeys = append(av.ApiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: k[0], MinVersion: k[1], MaxVersion: k[2]})
		}
		return av
	case *kmsg.LeaderAndISRRequest:
		lr := resp.(*kmsg.LeaderAndISRResponse)
		for _, ts := range r.TopicStates {
			for _, p := range ts.PartitionStates {
				lr.Partitions = append(lr.Partitions, kmsg.LeaderAndISRResponseTopicPartition{Topic: ts.Topic, Partition: p.Partition})
			}
		}
	case *kmsg.StopReplicaRequest:
		sr := resp.(*kmsg.StopReplicaResponse)
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				sr.Partitions = append(sr.Partitions, kmsg.StopReplicaResponsePartition{Topic: t.Topic, Partition: p})
			}
		}
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	return resp
}

// requests returns the recorded requests with key (all keys if key < 0).
func (f *fakeBroker) requests(key int16) []kmsg.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []kmsg.Request
	for _, r := range f.reqs {
		if key < 0 || r.Key() == key {
			out = append(out, r)
		}
	}
	return out
}

// testBroker is one broker of the test cluster: a session, a registration,
// a fake endpoint and a controller.
type testBroker struct {
	id    int32
	s     *zkcoord.Session
	fake  *fakeBroker
	epoch int64
	c     *Controller
	done  chan struct{}
	stop  context.CancelFunc
}

type cluster struct {
	t       *testing.T
	connect string
	cfg     func(id int32) Config
}

func (cl *cluster) session() *zkcoord.Session {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := zkcoord.Connect(ctx, cl.connect, 4*time.Second, nil)
	if err != nil {
		cl.t.Fatal(err)
	}
	cl.t.Cleanup(s.Close)
	if err := s.CreateTopLevelPaths(ctx); err != nil {
		cl.t.Fatal(err)
	}
	return s
}

func testLogger(t *testing.T) logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	if os.Getenv("ZKAFKA_TEST_LOG") != "" {
		l.SetOutput(os.Stderr)
		l.SetLevel(logrus.DebugLevel)
	}
	return l
}

// start registers broker id (with fake as its endpoint) and runs its
// controller.
func (cl *cluster) start(id int32, fake *fakeBroker) *testBroker {
	t := cl.t
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := &testBroker{id: id, s: cl.session(), fake: fake, done: make(chan struct{})}
	var err error
	b.epoch, err = b.s.RegisterBroker(ctx, zkcoord.BrokerInfo{ID: id, JMXPort: -1, Rack: "rack1", Endpoints: []zkcoord.EndPoint{
		{ListenerName: "PLAINTEXT", Host: "127.0.0.1", Port: fake.port(), SecurityProtocol: "PLAINTEXT"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	b.c = New(cl.cfg(id), b.s, testLogger(t).WithField("test_broker", id))
	rctx, stop := context.WithCancel(context.Background())
	b.stop = stop
	go func() {
		defer close(b.done)
		if err := b.c.Run(rctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(b.halt)
	return b
}

// halt stops the controller and waits for Run to return.
func (b *testBroker) halt() {
	b.stop()
	<-b.done
}

// kill closes the broker's session (its registration and, if it is the
// controller, /controller vanish at once) and waits for its controller.
func (b *testBroker) kill() {
	b.s.Close()
	<-b.done
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func getJSON(t *testing.T, s *zkcoord.Session, path string) map[string]any {
	t.Helper()
	data, _, err := s.Get(context.Background(), path)
	if err != nil {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func wantJSON(t *testing.T, s *zkcoord.Session, path, want string) {
	t.Helper()
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	waitFor(t, path+" = "+want, func() bool {
		got = getJSON(t, s, path)
		return reflect.DeepEqual(got, w)
	})
}

func controllerEpoch(s *zkcoord.Session) string {
	data, _, _ := s.Get(context.Background(), zkcoord.ControllerEpochPath)
	return string(data)
}

// partitionStates flattens the LeaderAndIsr requests a broker received.
func leaderAndIsrStates(f *fakeBroker) []*kmsg.LeaderAndISRRequest {
	var out []*kmsg.LeaderAndISRRequest
	for _, r := range f.requests(4) {
		out = append(out, r.(*kmsg.LeaderAndISRRequest))
	}
	return out
}

// findLAI returns the last LeaderAndIsr partition state for topic/partition
// with the given controller epoch.
func findLAI(f *fakeBroker, topic string, partition, epoch int32) (*kmsg.LeaderAndISRRequest, *kmsg.LeaderAndISRRequestTopicPartition) {
	reqs := leaderAndIsrStates(f)
	for i := len(reqs) - 1; i >= 0; i-- {
		r := reqs[i]
		if r.ControllerEpoch != epoch {
			continue
		}
		for _, ts := range r.TopicStates {
			for j := range ts.PartitionStates {
				if ts.Topic == topic && ts.PartitionStates[j].Partition == partition {
					return r, &ts.PartitionStates[j]
				}
			}
		}
	}
	return nil, nil
}

func TestIntegration_Controller(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (real ZooKeeper)")
	}
	zk := testutil.StartZooKeeper(t)
	t.Run("FailoverNewTopicRejoin", func(t *testing.T) {
		testFailoverNewTopicRejoin(t, &cluster{t: t, connect: zk.Connect("/failover"), cfg: DefaultConfig})
	})
	t.Run("Deletion", func(t *testing.T) {
		testDeletion(t, &cluster{t: t, connect: zk.Connect("/deletion"), cfg: DefaultConfig})
	})
	t.Run("ConflictingWriteAndIsrNotification", func(t *testing.T) {
		testConflictAndIsrNotification(t, &cluster{t: t, connect: zk.Connect("/conflict"), cfg: DefaultConfig})
	})
	t.Run("SessionExpiryEvents", func(t *testing.T) {
		testSessionEvents(t, &cluster{t: t, connect: zk.Connect("/session"), cfg: DefaultConfig})
	})
	t.Run("DeletionDisabled", func(t *testing.T) {
		testDeletionDisabled(t, &cluster{t: t, connect: zk.Connect("/nodelete"), cfg: func(id int32) Config {
			c := DefaultConfig(id)
			c.DeleteTopicEnable = false
			return c
		}})
	})
}

func testFailoverNewTopicRejoin(t *testing.T, cl *cluster) {
	ctx := context.Background()
	f1, f2 := startFakeBroker(t), startFakeBroker(t)
	b1 := cl.start(1, f1)
	waitFor(t, "broker 1 to be controller", b1.c.IsActive)
	b2 := cl.start(2, f2)
	admin := cl.session()

	// First controller: epoch 1, Kafka's /controller JSON.
	if e := controllerEpoch(admin); e != "1" {
		t.Fatalf("/controller_epoch = %q", e)
	}
	ctrl := getJSON(t, admin, zkcoord.ControllerPath)
	if ctrl["version"] != 1.0 || ctrl["brokerid"] != 1.0 || len(ctrl) != 3 {
		t.Fatalf("/controller = %v", ctrl)
	}
	if _, ok := ctrl["timestamp"].(string); !ok {
		t.Fatalf("/controller timestamp is not a string: %v", ctrl)
	}
	if b2.c.IsActive() {
		t.Fatal("two active controllers")
	}
	// Broker 2 joined: it gets UpdateMetadata listing both brokers.
	waitFor(t, "UpdateMetadata with both brokers at broker 2", func() bool {
		for _, r := range f2.requests(6) {
			if len(r.(*kmsg.UpdateMetadataRequest).LiveBrokers) == 2 {
				return true
			}
		}
		return false
	})

	// A topic created as kafka-topics does: state znodes with Kafka's JSON.
	if err := admin.CreateTopic(ctx, "t", map[int32][]int32{0: {1, 2}, 1: {2, 1}}, nil); err != nil {
		t.Fatal(err)
	}
	wantJSON(t, admin, zkcoord.PartitionStatePath("t", 0), `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":0,"isr":[1,2]}`)
	wantJSON(t, admin, zkcoord.PartitionStatePath("t", 1), `{"controller_epoch":1,"leader":2,"version":1,"leader_epoch":0,"isr":[2,1]}`)

	// LeaderAndIsr (is_new) and UpdateMetadata reach both brokers.
	var lai *kmsg.LeaderAndISRRequest
	var ps *kmsg.LeaderAndISRRequestTopicPartition
	waitFor(t, "LeaderAndIsr for t-0 at broker 2", func() bool { lai, ps = findLAI(f2, "t", 0, 1); return ps != nil })
	if lai.Version != 4 || lai.ControllerID != 1 || lai.ControllerEpoch != 1 || lai.BrokerEpoch != b2.epoch {
		t.Fatalf("LeaderAndIsr header: v%d %+v", lai.Version, lai)
	}
	if ps.Leader != 1 || ps.LeaderEpoch != 0 || !slices.Equal(ps.ISR, []int32{1, 2}) || ps.ZKVersion != 0 ||
		!slices.Equal(ps.Replicas, []int32{1, 2}) || !ps.IsNew || ps.ControllerEpoch != 1 {
		t.Fatalf("LeaderAndIsr partition: %+v", ps)
	}
	if len(lai.LiveLeaders) == 0 || lai.LiveLeaders[0].BrokerID != 1 || lai.LiveLeaders[0].Port != f1.port() || lai.LiveLeaders[0].Host != "127.0.0.1" {
		t.Fatalf("live leaders: %+v", lai.LiveLeaders)
	}
	waitFor(t, "LeaderAndIsr for t-1 at broker 1", func() bool { _, p := findLAI(f1, "t", 1, 1); return p != nil })
	waitFor(t, "UpdateMetadata for t at broker 1", func() bool {
		for _, r := range f1.requests(6) {
			um := r.(*kmsg.UpdateMetadataRequest)
			if len(um.TopicStates) == 1 && um.TopicStates[0].Topic == "t" {
				if um.Version != 6 || um.ControllerEpoch != 1 || um.BrokerEpoch != b1.epoch || len(um.LiveBrokers) != 2 {
					t.Fatalf("UpdateMetadata: v%d %+v", um.Version, um)
				}
				ep := um.LiveBrokers[1].Endpoints[0]
				if um.LiveBrokers[1].ID != 2 || ep.ListenerName != "PLAINTEXT" || ep.SecurityProtocol != 0 ||
					ep.Port != f2.port() || ep.Host != "127.0.0.1" || um.LiveBrokers[1].Rack == nil || *um.LiveBrokers[1].Rack != "rack1" {
					t.Fatalf("UpdateMetadata live broker: %+v", um.LiveBrokers[1])
				}
				return true
			}
		}
		return false
	})

	// Broker 1 (the controller) dies: broker 2 takes over with epoch 2 and
	// moves t-0's leadership to itself, dropping 1 from the ISRs.
	oldFence := zkcoord.ControllerEpoch{Epoch: 1, ZkVersion: 1}
	b1.kill()
	waitFor(t, "broker 2 to be controller", b2.c.IsActive)
	if e := controllerEpoch(admin); e != "2" {
		t.Fatalf("/controller_epoch = %q", e)
	}
	if ctrl := getJSON(t, admin, zkcoord.ControllerPath); ctrl["brokerid"] != 2.0 {
		t.Fatalf("/controller = %v", ctrl)
	}
	wantJSON(t, admin, zkcoord.PartitionStatePath("t", 0), `{"controller_epoch":2,"leader":2,"version":1,"leader_epoch":1,"isr":[2]}`)
	wantJSON(t, admin, zkcoord.PartitionStatePath("t", 1), `{"controller_epoch":2,"leader":2,"version":1,"leader_epoch":1,"isr":[2]}`)
	waitFor(t, "LeaderAndIsr epoch 2 for t-0 at broker 2", func() bool {
		_, p := findLAI(f2, "t", 0, 2)
		return p != nil && p.Leader == 2 && p.LeaderEpoch == 1 && p.ZKVersion == 1 && !p.IsNew
	})
	// The old controller is fenced out.
	if _, err := zkcoord.FencedMulti(ctx, admin, oldFence, zkcoord.CreateOp("/stale", nil, zkcoord.FlagPersistent)); !errors.Is(err, zkcoord.ErrControllerMoved) {
		t.Fatalf("write with the old controller's fence: %v", err)
	}

	// Broker 1 comes back (new session, new epoch): it gets UpdateMetadata
	// with all partitions and LeaderAndIsr for its replicas, as a follower.
	f1b := startFakeBroker(t)
	b1b := cl.start(1, f1b)
	waitFor(t, "LeaderAndIsr for t-0 at the restarted broker 1", func() bool {
		r, p := findLAI(f1b, "t", 0, 2)
		return p != nil && p.Leader == 2 && r.BrokerEpoch == b1b.epoch
	})
	waitFor(t, "UpdateMetadata with all partitions at the restarted broker 1", func() bool {
		for _, r := range f1b.requests(6) {
			um := r.(*kmsg.UpdateMetadataRequest)
			if len(um.TopicStates) == 1 && len(um.TopicStates[0].PartitionStates) == 2 && len(um.LiveBrokers) == 2 {
				return true
			}
		}
		return false
	})
	if b1b.c.IsActive() {
		t.Fatal("restarted broker 1 took over")
	}
}

func testDeletion(t *testing.T, cl *cluster) {
	ctx := context.Background()
	f1 := startFakeBroker(t)
	b1 := cl.start(1, f1)
	waitFor(t, "broker 1 to be controller", b1.c.IsActive)
	admin := cl.session()
	if err := admin.CreateTopic(ctx, "d", map[int32][]int32{0: {1}, 1: {1}}, nil); err != nil {
		t.Fatal(err)
	}
	wantJSON(t, admin, zkcoord.PartitionStatePath("d", 1), `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":0,"isr":[1]}`)
	// A marker for a topic that does not exist is removed at once.
	if _, err := admin.CreateRecursive(ctx, zkcoord.DeleteTopicPath("ghost"), nil, zkcoord.FlagPersistent); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ghost marker removed", func() bool {
		ok, _, _ := admin.Exists(ctx, zkcoord.DeleteTopicPath("ghost"))
		return !ok
	})

	if err := admin.MarkTopicForDeletion(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{zkcoord.TopicPath("d"), zkcoord.ConfigTopicPath("d"), zkcoord.DeleteTopicPath("d")} {
		waitFor(t, p+" deleted", func() bool {
			ok, _, err := admin.Exists(ctx, p)
			return err == nil && !ok
		})
	}
	// What the broker saw, in order: UpdateMetadata with leader -2, then
	// StopReplica(delete=false), then StopReplica(delete=true).
	var sawUM, sawStop, sawDelete bool
	for _, r := range f1.requests(-1) {
		switch r := r.(type) {
		case *kmsg.UpdateMetadataRequest:
			for _, ts := range r.TopicStates {
				if ts.Topic == "d" && len(ts.PartitionStates) == 2 && ts.PartitionStates[0].Leader == LeaderDuringDelete {
					sawUM = true
				}
			}
		case *kmsg.StopReplicaRequest:
			if r.Version != 2 || len(r.Topics) != 1 || r.Topics[0].Topic != "d" || !slices.Equal(r.Topics[0].Partitions, []int32{0, 1}) ||
				r.BrokerEpoch != b1.epoch || r.ControllerEpoch != 1 || r.ControllerID != 1 {
				t.Fatalf("StopReplica: v%d %+v", r.Version, r)
			}
			if !r.DeletePartitions {
				if !sawUM {
					t.Fatal("StopReplica before UpdateMetadata with leader -2")
				}
				sawStop = true
			} else {
				if !sawStop {
					t.Fatal("StopReplica(delete=true) before StopReplica(delete=false)")
				}
				sawDelete = true
			}
		}
	}
	if !sawUM || !sawStop || !sawDelete {
		t.Fatalf("UpdateMetadata(-2) %v, StopReplica %v, StopReplica(delete) %v", sawUM, sawStop, sawDelete)
	}
	// The topic can be created again.
	if err := admin.CreateTopic(ctx, "d", map[int32][]int32{0: {1}}, nil); err != nil {
		t.Fatal(err)
	}
	wantJSON(t, admin, zkcoord.PartitionStatePath("d", 0), `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":0,"isr":[1]}`)
}

func testDeletionDisabled(t *testing.T, cl *cluster) {
	ctx := context.Background()
	b1 := cl.start(1, startFakeBroker(t))
	waitFor(t, "broker 1 to be controller", b1.c.IsActive)
	admin := cl.session()
	if err := admin.CreateTopic(ctx, "keep", map[int32][]int32{0: {1}}, nil); err != nil {
		t.Fatal(err)
	}
	wantJSON(t, admin, zkcoord.PartitionStatePath("keep", 0), `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":0,"isr":[1]}`)
	if err := admin.MarkTopicForDeletion(ctx, "keep"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "marker removed", func() bool {
		ok, _, err := admin.Exists(ctx, zkcoord.DeleteTopicPath("keep"))
		return err == nil && !ok
	})
	if ok, _, _ := admin.Exists(ctx, zkcoord.PartitionStatePath("keep", 0)); !ok {
		t.Fatal("topic deleted although delete.topic.enable=false")
	}
}

func testConflictAndIsrNotification(t *testing.T, cl *cluster) {
	ctx := context.Background()
	b1 := cl.start(1, startFakeBroker(t))
	waitFor(t, "broker 1 to be controller", b1.c.IsActive)
	f3 := startFakeBroker(t)
	b2, _ := cl.start(2, startFakeBroker(t)), cl.start(3, f3)
	admin := cl.session()
	if err := admin.CreateTopic(ctx, "c", map[int32][]int32{0: {2, 3, 1}}, nil); err != nil {
		t.Fatal(err)
	}
	wantJSON(t, admin, zkcoord.PartitionStatePath("c", 0), `{"controller_epoch":1,"leader":2,"version":1,"leader_epoch":0,"isr":[2,3,1]}`)

	// The leader shrinks the ISR on its own (no new leader epoch) and tells
	// the controller through /isr_change_notification.
	st := zkcoord.LeaderAndIsr{Leader: 2, LeaderEpoch: 0, Isr: []int32{2, 3}, ControllerEpoch: 1}
	if _, err := admin.Set(ctx, zkcoord.PartitionStatePath("c", 0), zkcoord.EncodeLeaderAndIsr(st), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Create(ctx, zkcoord.IsrChangeSequentialPath,
		zkcoord.EncodeIsrChangeNotification([]zkcoord.TopicPartition{{Topic: "c", Partition: 0}}), zkcoord.FlagPersistent|zkcoord.FlagSequence); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "UpdateMetadata with the shrunk ISR at broker 3", func() bool {
		for _, r := range f3.requests(6) {
			for _, ts := range r.(*kmsg.UpdateMetadataRequest).TopicStates {
				if ts.Topic == "c" && slices.Equal(ts.PartitionStates[0].ISR, []int32{2, 3}) && ts.PartitionStates[0].ZKVersion == 1 {
					return true
				}
			}
		}
		return false
	})
	waitFor(t, "notification deleted", func() bool {
		names, _, err := admin.Children(ctx, zkcoord.IsrChangeNotificationPath)
		return err == nil && len(names) == 0
	})

	// Another change the controller is not told about: its cached zkVersion
	// is stale, its conditional write conflicts, it re-reads and decides
	// again. Broker 1 must not come back into the ISR.
	st.Isr = []int32{2, 3}
	st.LeaderEpoch = 0
	if _, err := admin.Set(ctx, zkcoord.PartitionStatePath("c", 0), zkcoord.EncodeLeaderAndIsr(st), 1); err != nil {
		t.Fatal(err)
	}
	b2.kill()
	wantJSON(t, admin, zkcoord.PartitionStatePath("c", 0), `{"controller_epoch":1,"leader":3,"version":1,"leader_epoch":1,"isr":[3]}`)
	waitFor(t, "LeaderAndIsr making broker 3 leader", func() bool {
		_, p := findLAI(f3, "c", 0, 1)
		return p != nil && p.Leader == 3 && p.ZKVersion == 3 && slices.Equal(p.ISR, []int32{3})
	})
}

// testSessionEvents drives the session-expiry path with synthetic session
// events (making a real session expire needs a paused process): Expired
// resigns, NewSession re-registers the watch and elects again; /controller
// still held by this session from the resigned term is deleted first.
func testSessionEvents(t *testing.T, cl *cluster) {
	b1 := cl.start(1, startFakeBroker(t))
	waitFor(t, "broker 1 to be controller", b1.c.IsActive)
	admin := cl.session()
	b1.c.events.push(evSession{zkcoord.SessionEvent{State: zkcoord.StateExpired}})
	waitFor(t, "resignation", func() bool { return !b1.c.IsActive() })
	b1.c.events.push(evSession{zkcoord.SessionEvent{State: zkcoord.StateNewSession}})
	waitFor(t, "re-election", b1.c.IsActive)
	if e := controllerEpoch(admin); e != "2" {
		t.Fatalf("/controller_epoch = %q after re-election", e)
	}
}
