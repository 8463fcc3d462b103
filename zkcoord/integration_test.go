package zkcoord

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"
	"github.com/zkafka/zkafka/internal/testutil"
)

func testLogger(t testing.TB) logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	if testing.Verbose() {
		l.SetOutput(testWriter{t})
		l.SetLevel(logrus.DebugLevel)
	}
	return l
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func startZK(t *testing.T) *testutil.ZooKeeper {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test (real ZooKeeper)")
	}
	return testutil.StartZooKeeper(t)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func connectT(t *testing.T, connect string, timeout time.Duration) *Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Connect(ctx, connect, timeout, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// rawConn is a chroot-less go-zookeeper connection for inspecting the tree.
func rawConn(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, _, err := zk.Connect([]string{addr}, 5*time.Second, zk.WithLogger(logrusPrintf{testLogger(t)}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

type logrusPrintf struct{ l logrus.FieldLogger }

func (l logrusPrintf) Printf(f string, a ...any) { l.l.Debugf(f, a...) }

func TestIntegration_ConnectChroot(t *testing.T) {
	z := startZK(t)
	ctx := testCtx(t)
	s := connectT(t, z.Connect("/kafka/prod"), 4*time.Second)
	if s.SessionID() == 0 || s.Chroot() != "/kafka/prod" {
		t.Fatalf("session %x chroot %q", s.SessionID(), s.Chroot())
	}
	raw := rawConn(t, z.Addr())
	// chroot created recursively, persistent, no data
	for _, p := range []string{"/kafka", "/kafka/prod"} {
		data, st, err := raw.Get(p)
		if err != nil || len(data) != 0 || st.EphemeralOwner != 0 {
			t.Fatalf("%s: %q %+v %v", p, data, st, err)
		}
	}
	// paths are chroot-relative both ways
	if _, err := s.CreateRecursive(ctx, "/a/b", []byte("x"), FlagPersistent); err != nil {
		t.Fatal(err)
	}
	if d, _, err := raw.Get("/kafka/prod/a/b"); err != nil || string(d) != "x" {
		t.Fatalf("raw get: %q %v", d, err)
	}
	seq, err := s.Create(ctx, "/a/n_", nil, FlagSequence)
	if err != nil || !regexp.MustCompile(`^/a/n_\d{10}$`).MatchString(seq) {
		t.Fatalf("sequential create returned %q %v", seq, err)
	}
	children, _, err := s.Children(ctx, "/")
	if err != nil || len(children) != 1 || children[0] != "a" {
		t.Fatalf("children of chroot root: %v %v", children, err)
	}
	// watches deliver chroot-relative paths
	_, _, w, err := s.GetW(ctx, "/a/b")
	if err != nil {
		t.Fatal(err)
	}
	_, _, cw, err := s.ChildrenW(ctx, "/a")
	if err != nil {
		t.Fatal(err)
	}
	ok, _, ew, err := s.ExistsW(ctx, "/a/c")
	if err != nil || ok {
		t.Fatal(ok, err)
	}
	if _, err := s.Set(ctx, "/a/b", []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "/a/c", nil, FlagPersistent); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ch   <-chan Event
		typ  zk.EventType
		path string
	}{{w, zk.EventNodeDataChanged, "/a/b"}, {cw, zk.EventNodeChildrenChanged, "/a"}, {ew, zk.EventNodeCreated, "/a/c"}} {
		select {
		case ev := <-c.ch:
			if ev.Type != c.typ || ev.Path != c.path {
				t.Errorf("watch event %+v, want %v %s", ev, c.typ, c.path)
			}
		case <-ctx.Done():
			t.Fatal("no watch event")
		}
	}
	// version checks and sentinels
	if _, err := s.Set(ctx, "/a/b", nil, 0); !errors.Is(err, ErrBadVersion) {
		t.Errorf("stale set: %v", err)
	}
	if _, _, err := s.Get(ctx, "/nope"); !errors.Is(err, ErrNoNode) || !errors.Is(err, zk.ErrNoNode) {
		t.Errorf("get missing: %v", err)
	}
	if _, _, err := s.Get(ctx, "relative"); err == nil {
		t.Error("relative path accepted")
	}
	// multi: chroot-prefixed, failing op's error surfaces
	res, err := s.Multi(ctx, CheckVersionOp("/a/b", 1), CreateOp("/a/m_", []byte("m"), FlagSequence), SetDataOp("/a/c", []byte("c"), 0))
	if err != nil || len(res) != 3 || !strings.HasPrefix(res[1].String, "/a/m_") {
		t.Fatalf("multi: %+v %v", res, err)
	}
	_, err = s.Multi(ctx, CheckVersionOp("/a/b", 0), DeleteOp("/a/c", AnyVersion))
	if !errors.Is(err, ErrBadVersion) {
		t.Fatalf("fenced multi: %v", err)
	}
	if ok, _, _ := s.Exists(ctx, "/a/c"); !ok {
		t.Fatal("failed multi was not atomic")
	}
	if err := s.DeleteRecursive(ctx, "/a"); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := raw.Exists("/kafka/prod/a"); ok {
		t.Fatal("DeleteRecursive left /a")
	}
	// ctx honoured
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.Get(cctx, "/"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
	s.Close()
	if _, _, err := s.Get(ctx, "/"); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestIntegration_ConnectUnreachable(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	s, err := Connect(ctx, addr+"/x", 2*time.Second, testLogger(t))
	if err == nil {
		s.Close()
		t.Fatal("connected to nothing")
	}
	if !strings.Contains(err.Error(), addr) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error should name %s and wrap the deadline: %v", addr, err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("Connect took %v", time.Since(start))
	}
	t.Log(err)
}

// referenceTopLevel is `ls /realkafka` plus the persistent subtrees of the
// reference dump's STEP 0 that createTopLevelPaths makes (everything except
// /cluster, /controller, /controller_epoch and the broker registration).
func TestIntegration_TopLevelPathsAndClusterID(t *testing.T) {
	z := startZK(t)
	ctx := testCtx(t)
	s := connectT(t, z.Connect("/realkafka"), 4*time.Second)
	if err := s.CreateTopLevelPaths(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTopLevelPaths(ctx); err != nil { // idempotent
		t.Fatalf("second run: %v", err)
	}
	id, err := s.GetOrCreateClusterID(ctx)
	if err != nil || len(id) != 22 {
		t.Fatalf("cluster id %q %v", id, err)
	}
	// a second broker reads the same id
	s2 := connectT(t, z.Connect("/realkafka"), 4*time.Second)
	if id2, err := s2.GetOrCreateClusterID(ctx); err != nil || id2 != id {
		t.Fatalf("second broker got %q %v, want %q", id2, err, id)
	}
	data, _, err := s.Get(ctx, ClusterIDPath)
	if err != nil || !jsonEqual(data, []byte(`{"version":"1","id":"`+id+`"}`)) {
		t.Fatalf("/cluster/id = %s %v", data, err)
	}

	got := walk(t, rawConn(t, z.Addr()), "/realkafka")
	want := referencePersistentTree(t)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("tree differs from Kafka 2.4.1's:\n got %v\nwant %v", got, want)
	}
}

// walk lists every path under root (relative to it), sorted, and checks
// that container nodes have no data.
func walk(t *testing.T, c *zk.Conn, root string) []string {
	var out []string
	var rec func(p string)
	rec = func(p string) {
		children, _, err := c.Children(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range children {
			cp := p + "/" + ch
			out = append(out, strings.TrimPrefix(cp, root))
			rec(cp)
		}
	}
	rec(root)
	sort.Strings(out)
	return out
}

// referencePersistentTree is the reference dump's STEP 0 tree minus what is
// created by the controller/registration (and /cluster, created with the id).
func referencePersistentTree(t *testing.T) []string {
	data, err := os.ReadFile("testdata/kafka-2.4.1-zk-dump.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	inStep0 := false
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "== STEP 0") {
			inStep0 = true
			continue
		}
		if strings.HasPrefix(l, "== STEP 1") {
			break
		}
		if !inStep0 || !strings.HasPrefix(l, "/realkafka/") {
			continue
		}
		p := strings.TrimPrefix(strings.Fields(l)[0], "/realkafka")
		if strings.HasPrefix(p, "/controller") || strings.HasPrefix(p, "/brokers/ids/") {
			continue
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func testBroker(id int32, port int32) BrokerInfo {
	return BrokerInfo{ID: id, JMXPort: -1, Endpoints: []EndPoint{{ListenerName: "PLAINTEXT", Host: "127.0.0.1", Port: port, SecurityProtocol: "PLAINTEXT"}}}
}

func TestIntegration_RegisterBroker(t *testing.T) {
	z := startZK(t)
	ctx := testCtx(t)
	s1 := connectT(t, z.Connect("/k"), 4*time.Second)
	if err := s1.CreateTopLevelPaths(ctx); err != nil {
		t.Fatal(err)
	}
	epoch, err := s1.RegisterBroker(ctx, testBroker(1, 19092))
	if err != nil {
		t.Fatal(err)
	}
	raw := rawConn(t, z.Addr())
	data, st, err := raw.Get("/k/brokers/ids/1")
	if err != nil {
		t.Fatal(err)
	}
	// Kafka's shape: version 1 after the checked-ephemeral multi, czxid = epoch
	if st.EphemeralOwner != s1.SessionID() || st.Version != 1 || st.Czxid != epoch {
		t.Fatalf("stat %+v, session %x, epoch %d", st, s1.SessionID(), epoch)
	}
	re := regexp.MustCompile(`^\{"listener_security_protocol_map":\{"PLAINTEXT":"PLAINTEXT"\},"endpoints":\["PLAINTEXT://127.0.0.1:19092"\],"jmx_port":-1,"host":"127.0.0.1","timestamp":"\d{13}","port":19092,"version":4\}$`)
	if !re.Match(data) {
		t.Fatalf("registration JSON %s", data)
	}
	// same session again: success, same epoch
	if e2, err := s1.RegisterBroker(ctx, testBroker(1, 19092)); err != nil || e2 != epoch {
		t.Fatalf("re-register same session: %d %v", e2, err)
	}
	// another session: Kafka's error text
	s2 := connectT(t, z.Connect("/k"), 4*time.Second)
	_, err = s2.RegisterBroker(ctx, testBroker(1, 29092))
	if !errors.Is(err, ErrBrokerIDRegistered) || err.Error() != "broker.id 1 is already registered by 127.0.0.1:19092" {
		t.Fatalf("duplicate id: %v", err)
	}
	e2, err := s2.RegisterBroker(ctx, testBroker(2, 19093))
	if err != nil {
		t.Fatal(err)
	}
	brokers, err := s2.GetBrokers(ctx)
	if err != nil || len(brokers) != 2 || brokers[0].ID != 1 || brokers[1].ID != 2 || brokers[0].Epoch != epoch || brokers[1].Epoch != e2 {
		t.Fatalf("GetBrokers: %+v %v", brokers, err)
	}
	if b, err := s2.GetBroker(ctx, 1); err != nil || b.Addr() != "127.0.0.1:19092" || b.Version != 4 {
		t.Fatalf("GetBroker: %+v %v", b, err)
	}
	// clean close removes the registration at once
	s1.Close()
	if ok, _, err := raw.Exists("/k/brokers/ids/1"); ok || err != nil {
		t.Fatalf("registration survived Close: %v %v", ok, err)
	}
	if _, err := s2.RegisterBroker(ctx, testBroker(1, 29092)); err != nil {
		t.Fatalf("id 1 free after close: %v", err)
	}
}

// sessionSniffer records the session id and password of the latest
// ZooKeeper handshake seen on connections it dials.
type sessionSniffer struct {
	mu  sync.Mutex
	sid int64
	pw  []byte
}

func (s *sessionSniffer) dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout(network, addr, timeout)
	if err != nil {
		return nil, err
	}
	return &sniffConn{Conn: c, s: s}, nil
}

func (s *sessionSniffer) get() (int64, []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sid, append([]byte(nil), s.pw...)
}

type sniffConn struct {
	net.Conn
	s    *sessionSniffer
	buf  []byte
	done bool
}

func (c *sniffConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.done {
		c.buf = append(c.buf, p[:n]...)
		// [len][protocolVersion int32][timeout int32][sessionID int64][passwd len int32][passwd]
		if len(c.buf) >= 4 && len(c.buf) >= 4+int(binary.BigEndian.Uint32(c.buf)) {
			b := c.buf[4:]
			if len(b) >= 20 {
				sid := int64(binary.BigEndian.Uint64(b[8:]))
				pl := int(binary.BigEndian.Uint32(b[16:]))
				if pl >= 0 && len(b) >= 20+pl && sid != 0 {
					c.s.mu.Lock()
					c.s.sid, c.s.pw = sid, append([]byte(nil), b[20:20+pl]...)
					c.s.mu.Unlock()
				}
			}
			c.done = true
		}
	}
	return n, err
}

// expireSession takes the session over on a raw connection and closes it,
// which is what the server does on expiry: ephemerals go, and the owner's
// next reconnect is told the session expired.
func expireSession(t *testing.T, addr string, sid int64, pw []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var req bytes.Buffer
	for _, v := range []any{int32(0), int64(0), int32(4000), sid, int32(len(pw))} {
		_ = binary.Write(&req, binary.BigEndian, v)
	}
	req.Write(pw)
	send := func(b []byte) {
		frame := binary.BigEndian.AppendUint32(nil, uint32(len(b)))
		if _, err := c.Write(append(frame, b...)); err != nil {
			t.Fatal(err)
		}
	}
	recv := func() []byte {
		var l [4]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, binary.BigEndian.Uint32(l[:]))
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	send(req.Bytes())
	if resp := recv(); len(resp) < 16 || int64(binary.BigEndian.Uint64(resp[8:])) != sid {
		t.Fatalf("could not take over session %x: %x", sid, resp)
	}
	send(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 1), uint32(0xfffffff5))) // xid 1, closeSession (-11)
	recv()
}

func connectSniffed(t *testing.T, connect string) (*Session, *sessionSniffer) {
	t.Helper()
	sn := &sessionSniffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := connect0(ctx, connect, 4*time.Second, testLogger(t), sn.dial)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, sn
}

func waitState(t *testing.T, ch <-chan SessionEvent, want State) SessionEvent {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("stream closed waiting for %v", want)
			}
			if ev.State == want {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %v event", want)
		}
	}
}

func TestIntegration_ReregisterAfterSessionExpiry(t *testing.T) {
	z := startZK(t)
	ctx := testCtx(t)
	s, sn := connectSniffed(t, z.Connect("/k"))
	if err := s.CreateTopLevelPaths(ctx); err != nil {
		t.Fatal(err)
	}
	events, unsub := s.Subscribe()
	defer unsub()
	var order []string
	var mu sync.Mutex
	epochs := make(chan int64, 4)
	first, stop, err := s.EnsureBrokerRegistered(ctx, testBroker(1, 19092), func(e int64) {
		mu.Lock()
		order = append(order, "register")
		mu.Unlock()
		epochs <- e
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	s.OnNewSession(func(ctx context.Context) {
		mu.Lock()
		order = append(order, "second hook")
		mu.Unlock()
	})
	oldSID := s.SessionID()
	sid, pw := sn.get()
	if sid != oldSID {
		t.Fatalf("sniffed %x, session %x", sid, oldSID)
	}
	expireSession(t, z.Addr(), sid, pw)

	if ev := waitState(t, events, StateExpired); ev.SessionID != oldSID {
		t.Fatalf("expired event %+v", ev)
	}
	ev := waitState(t, events, StateNewSession)
	if ev.SessionID == oldSID || ev.SessionID != s.SessionID() {
		t.Fatalf("new session event %+v (old %x, now %x)", ev, oldSID, s.SessionID())
	}
	var newEpoch int64
	select {
	case newEpoch = <-epochs:
	case <-ctx.Done():
		t.Fatal("broker not re-registered")
	}
	if newEpoch <= first {
		t.Fatalf("broker epoch did not grow: %d → %d", first, newEpoch)
	}
	b, err := s.GetBroker(ctx, 1)
	if err != nil || b.Epoch != newEpoch {
		t.Fatalf("after expiry: %+v %v", b, err)
	}
	_, st, err := s.Get(ctx, BrokerIDPath(1))
	if err != nil || st.EphemeralOwner != s.SessionID() {
		t.Fatalf("owner %x, session %x, %v", st.EphemeralOwner, s.SessionID(), err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		got := strings.Join(order, ",")
		mu.Unlock()
		if got == "register,second hook" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hooks ran as %q", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestIntegration_DisconnectKeepsSession(t *testing.T) {
	z := startZK(t)
	ctx := testCtx(t)
	s := connectT(t, z.Connect(""), 10*time.Second)
	events, unsub := s.Subscribe()
	defer unsub()
	if _, err := s.RegisterBroker(ctx, testBroker(3, 1)); err != nil {
		t.Fatal(err)
	}
	sid := s.SessionID()
	z.Kill()
	waitState(t, events, StateDisconnected)
	z.Restart()
	ev := waitState(t, events, StateConnected)
	if ev.SessionID != sid {
		t.Fatalf("reconnected with session %x, want %x", ev.SessionID, sid)
	}
	if _, err := s.GetBroker(ctx, 3); err != nil {
		t.Fatalf("registration lost over a server restart: %v", err)
	}
}

func TestIntegration_Topics(t *testing.T) {
	z := startZK(t)
	ctx := testCtx(t)
	s := connectT(t, z.Connect("/realkafka"), 4*time.Second)
	if err := s.CreateTopLevelPaths(ctx); err != nil {
		t.Fatal(err)
	}
	raw := rawConn(t, z.Addr())
	_, before, _ := raw.Exists("/realkafka")
	a := map[int32][]int32{0: {1, 2}, 1: {2, 1}, 2: {1, 2}}
	if err := s.CreateTopic(ctx, "t1", a, nil); err != nil {
		t.Fatal(err)
	}
	cfgData, cfgStat, err := raw.Get("/realkafka/config/topics/t1")
	if err != nil || string(cfgData) != `{"version":1,"config":{}}` {
		t.Fatalf("config: %s %v", cfgData, err)
	}
	topicData, topicStat, err := raw.Get("/realkafka/brokers/topics/t1")
	if err != nil || !jsonEqual(topicData, []byte(`{"version":2,"partitions":{"2":[1,2],"1":[2,1],"0":[1,2]},"adding_replicas":{},"removing_replicas":{}}`)) {
		t.Fatalf("topic: %s %v", topicData, err)
	}
	// Kafka's order: config first, then the assignment
	if !(before.Pzxid < cfgStat.Czxid && cfgStat.Czxid < topicStat.Czxid) {
		t.Fatalf("write order: config czxid %d, topic czxid %d", cfgStat.Czxid, topicStat.Czxid)
	}
	if err := s.CreateTopic(ctx, "t1", a, nil); !errors.Is(err, ErrTopicExists) {
		t.Fatalf("duplicate create: %v", err)
	}
	if err := s.CreateTopic(ctx, "bad/name", a, nil); !errors.Is(err, ErrInvalidTopic) {
		t.Fatalf("bad name: %v", err)
	}
	if err := s.CreateTopic(ctx, "a.b", map[int32][]int32{0: {1}}, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTopic(ctx, "a_b", map[int32][]int32{0: {1}}, nil); !errors.Is(err, ErrInvalidTopic) {
		t.Fatalf("collision: %v", err)
	}
	if ok, _, _ := raw.Exists("/realkafka/config/topics/a_b"); ok {
		t.Fatal("rejected topic left a config znode")
	}
	got, ver, err := s.GetTopicAssignment(ctx, "t1")
	if err != nil || ver != 0 || len(got.Partitions) != 3 || got.Partitions[1][0] != 2 {
		t.Fatalf("GetTopicAssignment: %+v %d %v", got, ver, err)
	}
	if _, _, err := s.GetTopicAssignment(ctx, "nope"); !errors.Is(err, ErrUnknownTopic) || !errors.Is(err, ErrNoNode) {
		t.Fatalf("missing topic: %v", err)
	}
	if all, err := s.GetAllTopics(ctx); err != nil || strings.Join(all, ",") != "a.b,t1" {
		t.Fatalf("GetAllTopics: %v %v", all, err)
	}
	if c, err := s.GetTopicConfig(ctx, "a.b"); err != nil || c["cleanup.policy"] != "compact" {
		t.Fatalf("GetTopicConfig: %v %v", c, err)
	}

	// config change + notification
	if err := s.SetTopicConfig(ctx, "t1", map[string]string{"retention.ms": "86400000"}); err != nil {
		t.Fatal(err)
	}
	if d, _, _ := raw.Get("/realkafka/config/topics/t1"); string(d) != `{"version":1,"config":{"retention.ms":"86400000"}}` {
		t.Fatalf("config after change: %s", d)
	}
	changes, _, _ := raw.Children("/realkafka/config/changes")
	if len(changes) != 1 || changes[0] != "config_change_0000000000" {
		t.Fatalf("notifications %v", changes)
	}
	if d, _, _ := raw.Get("/realkafka/config/changes/config_change_0000000000"); string(d) != `{"version":2,"entity_path":"topics/t1"}` {
		t.Fatalf("notification %s", d)
	}
	if err := s.SetTopicConfig(ctx, "nope", nil); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("config of unknown topic: %v", err)
	}

	// deletion marker
	if err := s.MarkTopicForDeletion(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if d, st, err := raw.Get("/realkafka/admin/delete_topics/t1"); err != nil || len(d) != 0 || st.EphemeralOwner != 0 {
		t.Fatalf("marker: %q %v", d, err)
	}
	if err := s.MarkTopicForDeletion(ctx, "t1"); !errors.Is(err, ErrTopicMarkedForDeletion) {
		t.Fatalf("second mark: %v", err)
	}
	if err := s.MarkTopicForDeletion(ctx, "nope"); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("mark unknown: %v", err)
	}
	if m, err := s.TopicsMarkedForDeletion(ctx); err != nil || len(m) != 1 || m[0] != "t1" {
		t.Fatalf("marked: %v %v", m, err)
	}

	// partition state reads
	if _, _, err := s.GetPartitionState(ctx, "t1", 0); !errors.Is(err, ErrNoPartitionState) || !errors.Is(err, ErrNoNode) {
		t.Fatalf("absent state: %v", err)
	}
	st0 := LeaderAndIsr{Leader: 1, LeaderEpoch: 0, Isr: []int32{1, 2}, ControllerEpoch: 1}
	if _, err := s.CreateRecursive(ctx, PartitionStatePath("t1", 0), EncodeLeaderAndIsr(st0), FlagPersistent); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Set(ctx, PartitionStatePath("t1", 0), EncodeLeaderAndIsr(st0), 0); err != nil {
		t.Fatal(err)
	}
	l, v, err := s.GetPartitionState(ctx, "t1", 0)
	if err != nil || v != 1 || l.Leader != 1 || len(l.Isr) != 2 {
		t.Fatalf("state: %+v %d %v", l, v, err)
	}
	var tps []TopicPartition
	for p := int32(0); p < 100; p++ {
		tps = append(tps, TopicPartition{"t1", p})
	}
	states, err := s.GetPartitionStates(ctx, tps)
	if err != nil || len(states) != 1 || states[TopicPartition{"t1", 0}].ZkVersion != 1 {
		t.Fatalf("batched: %v %v", states, err)
	}

	// consumer offsets (old consumer)
	if _, ok, err := s.GetConsumerOffset(ctx, "g", "t1", 0); ok || err != nil {
		t.Fatalf("absent offset: %v %v", ok, err)
	}
	if err := s.SetConsumerOffset(ctx, "g", "t1", 0, 42); err != nil {
		t.Fatal(err)
	}
	if err := s.SetConsumerOffset(ctx, "g", "t1", 0, 43); err != nil {
		t.Fatal(err)
	}
	if d, _, _ := raw.Get("/realkafka/consumers/g/offsets/t1/0"); string(d) != "43" {
		t.Fatalf("offset znode %q", d)
	}
	if o, ok, err := s.GetConsumerOffset(ctx, "g", "t1", 0); o != 43 || !ok || err != nil {
		t.Fatalf("offset: %d %v %v", o, ok, err)
	}
}

func TestIntegration_ProducerIDBlocks(t *testing.T) {
	z := startZK(t)
	ctx := testCtx(t)
	s1 := connectT(t, z.Connect("/k"), 4*time.Second)
	s2 := connectT(t, z.Connect("/k"), 4*time.Second)
	if err := s1.CreateTopLevelPaths(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := s1.AllocateProducerIDBlock(ctx, 1)
	if err != nil || b != (ProducerIDBlock{1, 0, 999}) {
		t.Fatalf("first block %+v %v", b, err)
	}
	d, st, _ := s1.Get(ctx, LatestProducerIDBlockPath)
	if string(d) != `{"version":1,"broker":1,"block_start":"0","block_end":"999"}` || st.Version != 1 {
		t.Fatalf("znode %s v%d", d, st.Version)
	}
	// concurrent allocation from two brokers never hands out a block twice
	var mu sync.Mutex
	seen := map[int64]bool{0: true}
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func(s *Session, id int32) {
			defer wg.Done()
			b, err := s.AllocateProducerIDBlock(ctx, id)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if seen[b.BlockStart] || b.BlockEnd != b.BlockStart+999 {
				t.Errorf("block %+v reused or malformed", b)
			}
			seen[b.BlockStart] = true
		}([]*Session{s1, s2}[i%2], int32(i%2+1))
	}
	wg.Wait()
	if len(seen) != 11 {
		t.Fatalf("blocks %v", seen)
	}
}
