package zkcoord

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"
)

// Create flags (same values as go-zookeeper's).
const (
	FlagPersistent          int32 = zk.FlagPersistent
	FlagEphemeral           int32 = zk.FlagEphemeral
	FlagSequence            int32 = zk.FlagSequence
	FlagEphemeralSequential int32 = zk.FlagEphemeralSequential
)

// AnyVersion matches any znode version in Set/Delete/Check (ZooKeeper's -1).
const AnyVersion int32 = -1

// Stat and Event are go-zookeeper's types; watch events delivered by Session
// carry chroot-relative paths.
type (
	Stat  = zk.Stat
	Event = zk.Event
)

// EventNotWatching is the type of a watch event that reports no change:
// the watch was dropped because its session expired or the client closed.
// The session's own events (StateExpired) say what to do.
const EventNotWatching = zk.EventNotWatching

// State is a session-level state reported to subscribers.
type State int

const (
	// StateConnected: connected with a live session (the first session, or
	// the same session again after a disconnection). Ephemerals and watches
	// are intact.
	StateConnected State = iota + 1
	// StateDisconnected: the TCP connection was lost. The session may still be
	// alive on the server; ephemerals persist until the server expires it.
	StateDisconnected
	// StateExpired: the server reported the old session expired. Its
	// ephemeral znodes are gone and all watches have fired with
	// EventNotWatching. A new session follows (StateNewSession).
	StateExpired
	// StateNewSession: a brand-new session was established after an expiry.
	// OnNewSession callbacks run after this event.
	StateNewSession
)

func (s State) String() string {
	switch s {
	case StateConnected:
		return "Connected"
	case StateDisconnected:
		return "Disconnected"
	case StateExpired:
		return "Expired"
	case StateNewSession:
		return "NewSession"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// SessionEvent is one session state transition.
type SessionEvent struct {
	State State
	// SessionID is the session the event is about: the new id for
	// Connected/NewSession, the lost id for Disconnected/Expired.
	SessionID int64
}

// Session is a chroot-aware ZooKeeper session. All paths given to and
// returned from its methods are relative to the chroot (absolute within it,
// starting with "/"). It is safe for concurrent use.
type Session struct {
	conn    *zk.Conn
	connp   atomic.Pointer[zk.Conn] // for the event callback, which may run before conn is set
	chroot  string                  // "" or "/a/b"
	servers []string
	log     logrus.FieldLogger
	zlog    *zkLogger

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// raw go-zookeeper session events, queued by the event callback
	evMu     sync.Mutex
	evQueue  []rawEvent
	evSignal chan struct{}

	firstSession chan struct{} // closed when the first session is established
	closed       atomic.Bool

	mu          sync.Mutex
	state       State
	sessionID   int64 // last session seen with StateHasSession
	subs        map[*subscriber]struct{}
	hooks       []*hook
	hookCtx     context.Context
	hookCancel  context.CancelFunc
	hookPending bool
	hookSignal  chan struct{}
}

type rawEvent struct {
	state     zk.State
	sessionID int64
}

type hook struct{ fn func(ctx context.Context) }

// ParseConnectString splits Kafka's zookeeper.connect
// ("host:port[,host:port...][/chroot]") into servers and chroot ("" when
// there is none or it is "/").
func ParseConnectString(connect string) (servers []string, chroot string, err error) {
	connect = strings.TrimSpace(connect)
	hosts := connect
	if i := strings.IndexByte(connect, '/'); i >= 0 {
		hosts, chroot = connect[:i], connect[i:]
	}
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			servers = append(servers, h)
		}
	}
	if len(servers) == 0 {
		return nil, "", fmt.Errorf("zkcoord: invalid zookeeper connect string %q: no servers", connect)
	}
	chroot = strings.TrimRight(chroot, "/")
	if chroot != "" {
		if err := validatePath(chroot); err != nil {
			return nil, "", fmt.Errorf("zkcoord: invalid chroot in zookeeper connect string %q: %w", connect, err)
		}
	}
	return servers, chroot, nil
}

func validatePath(p string) error {
	if p == "" || p[0] != '/' {
		return fmt.Errorf("%w: %q must start with /", zk.ErrInvalidPath, p)
	}
	if p == "/" {
		return nil
	}
	if strings.HasSuffix(p, "/") || strings.Contains(p, "//") || path.Clean(p) != p {
		return fmt.Errorf("%w: %q", zk.ErrInvalidPath, p)
	}
	return nil
}

// Connect opens a session to the ensemble in connect (Kafka's
// zookeeper.connect syntax), waits until a live session exists (bounded by
// ctx only: pass a ctx with a deadline, e.g. zookeeper.connection.timeout.ms)
// and creates the chroot (persistent, no data) if it is missing.
func Connect(ctx context.Context, connect string, sessionTimeout time.Duration, log logrus.FieldLogger) (*Session, error) {
	return connect0(ctx, connect, sessionTimeout, log, nil)
}

// connect0 is Connect with an optional dialer (tests use it to observe the
// session handshake).
func connect0(ctx context.Context, connect string, sessionTimeout time.Duration, log logrus.FieldLogger, dialer zk.Dialer) (*Session, error) {
	servers, chroot, err := ParseConnectString(connect)
	if err != nil {
		return nil, err
	}
	if log == nil {
		l := logrus.New()
		l.SetLevel(logrus.PanicLevel)
		log = l
	}
	s := newSession(log, servers, chroot)
	if dialer == nil {
		dialer = net.DialTimeout
	}
	conn, _, err := zk.Connect(servers, sessionTimeout,
		zk.WithLogger(s.zlog),
		zk.WithLogInfo(true),
		zk.WithEventCallback(s.onZKEvent),
		zk.WithDialer(dialer),
	)
	if err != nil {
		s.cancel()
		return nil, fmt.Errorf("zkcoord: connect to ZooKeeper at %s: %w", strings.Join(servers, ","), err)
	}
	s.conn = conn
	s.connp.Store(conn)
	s.start(s.dispatchLoop)
	s.start(s.hookLoop)

	select {
	case <-s.firstSession:
	case <-ctx.Done():
		last := s.zlog.lastError()
		s.Close()
		msg := fmt.Sprintf("zkcoord: could not establish a ZooKeeper session with %s", strings.Join(servers, ","))
		if last != "" {
			msg += " (last error: " + last + ")"
		}
		return nil, fmt.Errorf("%s: %w", msg, ctx.Err())
	}
	if chroot != "" {
		if err := s.ensureRaw(ctx, chroot); err != nil {
			s.Close()
			return nil, fmt.Errorf("zkcoord: create chroot %s: %w", chroot, err)
		}
	}
	s.log.WithFields(logrus.Fields{"servers": servers, "chroot": chroot, "zk_session": fmt.Sprintf("0x%x", s.SessionID())}).
		Info("ZooKeeper session established")
	return s, nil
}

// newSession builds a Session without a connection (tests drive its state
// machine directly).
func newSession(log logrus.FieldLogger, servers []string, chroot string) *Session {
	log = log.WithField("component", "zkcoord")
	sctx, cancel := context.WithCancel(context.Background())
	return &Session{
		chroot:       chroot,
		servers:      servers,
		log:          log,
		zlog:         &zkLogger{log: log.WithField("component", "go-zookeeper")},
		ctx:          sctx,
		cancel:       cancel,
		evSignal:     make(chan struct{}, 1),
		firstSession: make(chan struct{}),
		subs:         make(map[*subscriber]struct{}),
		hookSignal:   make(chan struct{}, 1),
	}
}

// ensureRaw creates an absolute (non-chrooted) path and its parents.
func (s *Session) ensureRaw(ctx context.Context, p string) error {
	if p == "/" || p == "" {
		return nil
	}
	_, err := await(ctx, func() (string, error) {
		return s.conn.Create(p, nil, zk.FlagPersistent, zk.WorldACL(zk.PermAll))
	})
	switch {
	case err == nil, errors.Is(err, zk.ErrNodeExists):
		return nil
	case errors.Is(err, zk.ErrNoNode):
		if err := s.ensureRaw(ctx, path.Dir(p)); err != nil {
			return err
		}
		return s.ensureRaw(ctx, p)
	}
	return err
}

// start runs f in a goroutine tracked for Close.
func (s *Session) start(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// Close closes the session (the server deletes its ephemeral znodes at once),
// cancels the context passed to OnNewSession callbacks, closes subscriber
// channels and waits for the session's goroutines. Must not be called from
// an OnNewSession callback. Idempotent.
func (s *Session) Close() {
	if !s.closed.CompareAndSwap(false, true) {
		return
	}
	s.cancel()
	if s.conn != nil {
		s.conn.Close()
	}
	s.mu.Lock()
	for sub := range s.subs {
		sub.stop()
	}
	s.subs = map[*subscriber]struct{}{}
	s.mu.Unlock()
	s.wg.Wait()
}

// Done is closed when Close has been called.
func (s *Session) Done() <-chan struct{} { return s.ctx.Done() }

// SessionID is the current ZooKeeper session id (0 while none is established).
func (s *Session) SessionID() int64 {
	if s.conn == nil {
		return 0
	}
	return s.conn.SessionID()
}

// Chroot is the chroot from the connect string ("" if none).
func (s *Session) Chroot() string { return s.chroot }

// Servers is the server list from the connect string.
func (s *Session) Servers() []string { return append([]string(nil), s.servers...) }

// State is the latest session state delivered to subscribers.
func (s *Session) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// --- session events --------------------------------------------------------

// onZKEvent runs on go-zookeeper's connection goroutine: never block here.
func (s *Session) onZKEvent(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	var sid int64
	if c := s.connp.Load(); c != nil {
		sid = c.SessionID()
	}
	s.evMu.Lock()
	s.evQueue = append(s.evQueue, rawEvent{state: ev.State, sessionID: sid})
	s.evMu.Unlock()
	select {
	case s.evSignal <- struct{}{}:
	default:
	}
}

func (s *Session) dispatchLoop() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.evSignal:
		}
		s.evMu.Lock()
		q := s.evQueue
		s.evQueue = nil
		s.evMu.Unlock()
		for _, ev := range q {
			s.handleRaw(ev)
		}
	}
}

func (s *Session) handleRaw(ev rawEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch ev.state {
	case zk.StateHasSession:
		if ev.sessionID == 0 {
			ev.sessionID = s.conn.SessionID()
		}
		switch {
		case s.sessionID == 0:
			s.sessionID = ev.sessionID
			s.emitLocked(StateConnected, ev.sessionID)
			close(s.firstSession)
		case ev.sessionID == s.sessionID:
			s.emitLocked(StateConnected, ev.sessionID)
		default:
			old := s.sessionID
			if s.state != StateExpired {
				s.expireLocked(old)
			}
			s.sessionID = ev.sessionID
			s.log.WithFields(logrus.Fields{"old_zk_session": fmt.Sprintf("0x%x", old), "zk_session": fmt.Sprintf("0x%x", ev.sessionID)}).
				Warn("new ZooKeeper session after expiry; ephemeral znodes must be re-created")
			s.emitLocked(StateNewSession, ev.sessionID)
			s.scheduleHooksLocked()
		}
	case zk.StateExpired:
		if s.sessionID != 0 && s.state != StateExpired {
			s.log.WithField("zk_session", fmt.Sprintf("0x%x", s.sessionID)).Warn("ZooKeeper session expired")
			s.expireLocked(s.sessionID)
		}
	case zk.StateDisconnected:
		if s.state == StateConnected || s.state == StateNewSession {
			s.log.WithField("zk_session", fmt.Sprintf("0x%x", s.sessionID)).Info("disconnected from ZooKeeper")
			s.emitLocked(StateDisconnected, s.sessionID)
		}
	case zk.StateAuthFailed:
		s.log.Error("ZooKeeper authentication failed")
	}
}

func (s *Session) expireLocked(old int64) {
	if s.hookCancel != nil {
		s.hookCancel()
		s.hookCancel = nil
	}
	s.emitLocked(StateExpired, old)
}

func (s *Session) emitLocked(st State, sid int64) {
	s.state = st
	ev := SessionEvent{State: st, SessionID: sid}
	for sub := range s.subs {
		sub.push(ev)
	}
}

// Subscribe returns a stream of session state transitions, starting with
// events after the call. The stream never drops events (it is buffered
// without bound) and is closed by cancel or Close. Call cancel when done.
func (s *Session) Subscribe() (events <-chan SessionEvent, cancel func()) {
	sub := newSubscriber()
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		close(sub.out)
		return sub.out, func() {}
	}
	s.subs[sub] = struct{}{}
	s.start(sub.run) // under mu: ordered before Close's wg.Wait
	s.mu.Unlock()
	return sub.out, func() {
		s.mu.Lock()
		delete(s.subs, sub)
		s.mu.Unlock()
		sub.stop()
	}
}

// OnNewSession registers fn to run every time a new session is established
// after an expiry (never for the first session: do initial work yourself).
// Callbacks run one after another in registration order on one tracked
// goroutine; ctx is cancelled if that session expires too or the Session is
// closed, and a fresh round starts for the next session. Callbacks must not
// call Close. The returned function unregisters fn.
func (s *Session) OnNewSession(fn func(ctx context.Context)) (remove func()) {
	h := &hook{fn: fn}
	s.mu.Lock()
	s.hooks = append(s.hooks, h)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, x := range s.hooks {
			if x == h {
				s.hooks = append(s.hooks[:i:i], s.hooks[i+1:]...)
				return
			}
		}
	}
}

func (s *Session) scheduleHooksLocked() {
	if s.hookCancel != nil {
		s.hookCancel()
	}
	s.hookCtx, s.hookCancel = context.WithCancel(s.ctx)
	s.hookPending = true
	select {
	case s.hookSignal <- struct{}{}:
	default:
	}
}

func (s *Session) hookLoop() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.hookSignal:
		}
		s.mu.Lock()
		if !s.hookPending {
			s.mu.Unlock()
			continue
		}
		s.hookPending = false
		ctx := s.hookCtx
		hooks := append([]*hook(nil), s.hooks...)
		s.mu.Unlock()
		for _, h := range hooks {
			if ctx.Err() != nil {
				break
			}
			s.runHook(ctx, h)
		}
	}
}

func (s *Session) runHook(ctx context.Context, h *hook) {
	defer func() {
		if r := recover(); r != nil {
			s.log.WithField("panic", r).Error("OnNewSession callback panicked")
		}
	}()
	h.fn(ctx)
}

// subscriber is an unbounded queue feeding one channel.
type subscriber struct {
	mu     sync.Mutex
	queue  []SessionEvent
	signal chan struct{}
	done   chan struct{}
	once   sync.Once
	out    chan SessionEvent
}

func newSubscriber() *subscriber {
	return &subscriber{signal: make(chan struct{}, 1), done: make(chan struct{}), out: make(chan SessionEvent)}
}

func (u *subscriber) push(ev SessionEvent) {
	u.mu.Lock()
	u.queue = append(u.queue, ev)
	u.mu.Unlock()
	select {
	case u.signal <- struct{}{}:
	default:
	}
}

func (u *subscriber) stop() { u.once.Do(func() { close(u.done) }) }

func (u *subscriber) run() {
	defer close(u.out)
	for {
		u.mu.Lock()
		q := u.queue
		u.queue = nil
		u.mu.Unlock()
		for _, ev := range q {
			select {
			case u.out <- ev:
			case <-u.done:
				return
			}
		}
		select {
		case <-u.done:
			return
		case <-u.signal:
		}
	}
}

// --- go-zookeeper logger -----------------------------------------------------

type zkLogger struct {
	log  logrus.FieldLogger
	mu   sync.Mutex
	last string
}

func (l *zkLogger) Printf(format string, args ...interface{}) {
	msg := fmt.Sprintf(format, args...)
	if strings.HasPrefix(msg, "failed") || strings.Contains(msg, "error") || strings.HasPrefix(msg, "authentication failed") {
		l.mu.Lock()
		l.last = msg
		l.mu.Unlock()
		l.log.Warn(msg)
		return
	}
	l.log.Debug(msg)
}

func (l *zkLogger) lastError() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}
