package broker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"syscall"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
)

// maxInFlightPerConn bounds how many pipelined requests of one connection are
// being handled at once; the reader stops reading beyond it (back-pressure).
const maxInFlightPerConn = 64

// listen binds every listener before anything else happens, so that a port
// already in use is reported at once with what to do about it.
func listen(eps []Endpoint) ([]net.Listener, error) {
	var lns []net.Listener
	for _, ep := range eps {
		addr := net.JoinHostPort(ep.Host, fmt.Sprint(ep.Port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			if errors.Is(err, syscall.EADDRINUSE) {
				return nil, fmt.Errorf("listener %s://%s: port %d is already in use; find the process holding it with `ss -ltnp 'sport = :%d'` (or `lsof -i :%d`), stop it or choose another port in listeners", ep.Name, addr, ep.Port, ep.Port, ep.Port)
			}
			return nil, fmt.Errorf("listener %s://%s: %w", ep.Name, addr, err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// serve accepts connections on ln until ctx is done.
func (b *Broker) serve(ctx context.Context, ln net.Listener, listenerName string) {
	if !b.goroutines.Go("close-listener", func() { <-ctx.Done(); ln.Close() }) {
		ln.Close() // shutdown began before the listener started: nobody would close it
		return
	}
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			b.log.WithError(err).Error("accept failed; listener stops")
			return
		}
		c := &conn{b: b, nc: nc, listener: listenerName, log: b.log.WithField("peer", nc.RemoteAddr().String())}
		if !b.goroutines.Go("conn", func() { c.run(ctx) }) {
			nc.Close() // shutting down
			return
		}
	}
}

// conn is one client connection. A reader goroutine parses requests and
// starts a handler for each; a writer goroutine sends the responses strictly
// in request order, so pipelined requests are answered in order while slow
// ones (long-polling fetches) do not stop the reading of the next.
type conn struct {
	b        *Broker
	nc       net.Conn
	listener string
	log      logrus.FieldLogger
}

// pending is one request's slot in the response queue.
type pending struct {
	done  chan struct{}
	frame []byte     // encoded response; nil for no response (acks=0)
	parts []respPart // or: a response made of bytes and file regions (Fetch)
	close bool       // close the connection instead of answering
}

func (c *conn) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer c.nc.Close()
	stop := context.AfterFunc(ctx, func() { c.nc.Close() })
	defer stop()

	queue := make(chan *pending, maxInFlightPerConn)
	writerDone := make(chan struct{})
	go func() { // writer: owned by this connection, ends with it
		defer close(writerDone)
		defer cancel()
		c.writeLoop(queue)
	}()
	if gone := c.readLoop(ctx, queue); gone {
		// The peer closed its side (or the broker is stopping): requests
		// still in flight are abandoned, as Kafka does on a disconnect.
		cancel()
	}
	close(queue)
	<-writerDone
}

// readLoop reads requests until the connection ends. It reports whether the
// peer is gone (EOF, read error, shutdown) rather than misbehaving, in which
// case a final "close" entry was queued behind the answers already due.
func (c *conn) readLoop(ctx context.Context, queue chan<- *pending) (gone bool) {
	rd := bufio.NewReaderSize(c.nc, 64<<10)
	maxFrame := c.b.cfg.SocketRequestMaxBytes
	budget := newByteBudget(int64(maxFrame))
	closeAfter := func(reason string, err error) bool {
		c.log.WithError(err).Info("closing connection: " + reason)
		p := &pending{done: make(chan struct{}), close: true}
		close(p.done)
		select {
		case queue <- p:
		case <-ctx.Done():
		}
		return false
	}
	var lastAppend <-chan struct{} // the previous produce request's appends are done
	for {
		frame, err := wire.ReadFrame(rd, nil, maxFrame)
		if err != nil {
			if errors.Is(err, wire.ErrMalformed) {
				return closeAfter("cannot read request", err)
			}
			if !errors.Is(err, io.EOF) && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				c.log.WithError(err).Debug("connection read failed")
			}
			return true
		}
		hdr, body, err := wire.ParseRequestHeader(frame, c.b.flexibleHeader)
		if err != nil {
			return closeAfter("malformed request header", err)
		}
		// Bound the memory held by this connection's in-flight requests.
		size := int64(len(frame))
		if err := budget.acquire(ctx, size); err != nil {
			return true
		}
		p := &pending{done: make(chan struct{})}
		select {
		case queue <- p:
		case <-ctx.Done():
			budget.release(size)
			return true
		}
		// Produce requests of one connection append in the order they
		// came (Kafka handles a connection's requests one at a time, and
		// producers with several requests in flight rely on it); each
		// waits for the previous one's appends, not for its answer.
		var turn *appendTurn
		if hdr.Key == produceKey {
			turn = &appendTurn{prev: lastAppend, done: make(chan struct{})}
			lastAppend = turn.done
		}
		started := c.b.goroutines.Go("request", func() {
			defer close(p.done)
			defer budget.release(size)
			defer turn.end()
			c.handle(ctx, hdr, body, p, turn)
		})
		if !started { // the broker is shutting down
			budget.release(size)
			p.close = true
			close(p.done)
			return true
		}
	}
}

// writeLoop sends the answers in request order. It flushes whenever it would
// otherwise wait, so an answer never sits in the buffer behind a request that
// is still being handled (a long-polling fetch) or one that has no answer
// (an acks=0 produce).
func (c *conn) writeLoop(queue <-chan *pending) {
	w := bufio.NewWriterSize(c.nc, 64<<10)
	defer w.Flush()
	for p := range queue {
		select {
		case <-p.done:
		default:
			if w.Flush() != nil {
				c.nc.Close()
				return
			}
			<-p.done
		}
		if p.close {
			w.Flush()
			c.nc.Close()
			return
		}
		if p.frame != nil {
			if _, err := w.Write(p.frame); err != nil {
				c.nc.Close()
				return
			}
		}
		if p.parts != nil {
			if err := c.writeParts(w, p.parts); err != nil {
				c.log.WithError(err).Info("closing connection: writing a fetch answer failed")
				c.nc.Close()
				return
			}
		}
		if len(queue) == 0 && w.Flush() != nil {
			c.nc.Close()
			return
		}
	}
}

// writeParts writes an answer made of bytes and file regions. On a TCP
// connection the regions go with sendfile(2), after the bytes before them
// were flushed; elsewhere they are copied with pread. An error leaves a
// frame half sent: the caller must close the connection.
func (c *conn) writeParts(w *bufio.Writer, parts []respPart) error {
	tcp, zeroCopy := c.nc.(*net.TCPConn)
	for _, pt := range parts {
		if pt.buf != nil {
			if _, err := w.Write(pt.buf); err != nil {
				return err
			}
			continue
		}
		if zeroCopy {
			if err := w.Flush(); err != nil {
				return err
			}
			n, err := pt.region.SendTo(tcp)
			c.b.sendfileBytes.Add(n)
			if err != nil {
				return err
			}
			continue
		}
		n, err := io.Copy(w, io.NewSectionReader(pt.region.File, pt.region.Pos, pt.region.Len))
		c.b.copiedBytes.Add(n)
		if err == nil && n < pt.region.Len {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return fmt.Errorf("copy %s at %d+%d: %w", pt.region.File.Name(), pt.region.Pos, pt.region.Len, err)
		}
	}
	return nil
}

// byteBudget bounds the bytes of requests a connection has in flight. One
// request is always admitted, whatever its size, so a request of up to
// socket.request.max.bytes never waits forever.
type byteBudget struct {
	mu    sync.Mutex
	used  int64
	max   int64
	freed chan struct{}
}

func newByteBudget(max int64) *byteBudget {
	return &byteBudget{max: max, freed: make(chan struct{})}
}

func (b *byteBudget) acquire(ctx context.Context, n int64) error {
	for {
		b.mu.Lock()
		if b.used == 0 || b.used+n <= b.max {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		freed := b.freed
		b.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// handle decodes one request, runs its handler and encodes the answer into p.
// A request the broker cannot parse or does not speak closes the connection,
// as Kafka does; a panic in a handler is a bug, logged with its stack, and
// also only closes this connection.
func (c *conn) handle(ctx context.Context, hdr wire.RequestHeader, body []byte, p *pending, turn *appendTurn) {
	log := c.log.WithFields(logrus.Fields{"api_key": hdr.Key, "api_version": hdr.Version, "client_id": hdr.ClientIDString()})
	defer func() {
		if r := recover(); r != nil {
			log.Errorf("bug: handler panicked: %v\n%s", r, debug.Stack())
			p.close = true
		}
	}()
	api, ok := c.b.apis[hdr.Key]
	if !ok {
		log.Info("closing connection: unsupported API key")
		p.close = true
		return
	}
	if hdr.Version < api.min || hdr.Version > api.max {
		if hdr.Key == apiVersionsKey {
			p.frame = wire.AppendResponse(nil, hdr.CorrelationID, c.b.unsupportedApiVersions())
			return
		}
		log.Info("closing connection: unsupported API version")
		p.close = true
		return
	}
	req := kmsg.RequestForKey(hdr.Key)
	req.SetVersion(hdr.Version)
	if err := req.ReadFrom(body); err != nil {
		log.WithError(err).Info("closing connection: malformed request body")
		p.close = true
		return
	}
	rc := &reqCtx{conn: c, hdr: hdr, log: log, turn: turn}
	resp, err := api.handle(ctx, rc, req)
	if err != nil {
		if ctx.Err() == nil {
			log.WithError(err).Info("closing connection")
		}
		p.close = true
		return
	}
	if resp == nil { // acks=0 produce: no response at all
		return
	}
	resp.SetVersion(hdr.Version)
	if fr, ok := resp.(*fetchResponse); ok {
		parts, err := fr.frame(hdr.CorrelationID)
		if err != nil {
			log.WithError(err).Error("closing connection: cannot encode fetch answer")
			p.close = true
			return
		}
		p.parts = parts
		return
	}
	p.frame = wire.AppendResponse(nil, hdr.CorrelationID, resp)
}

// reqCtx is what a handler knows about the request besides its body.
type reqCtx struct {
	conn *conn
	hdr  wire.RequestHeader
	log  logrus.FieldLogger
	turn *appendTurn // produce: its place in the connection's append order
}

const produceKey = 0

// appendTurn orders the appends of one connection's produce requests: a
// request appends after prev is closed and closes done when its appends are
// over (end is idempotent and nil-safe).
type appendTurn struct {
	prev <-chan struct{}
	done chan struct{}
	once sync.Once
}

// wait blocks until the previous produce request of the connection has
// appended.
func (t *appendTurn) wait(ctx context.Context) error {
	if t == nil || t.prev == nil {
		return nil
	}
	select {
	case <-t.prev:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (t *appendTurn) end() {
	if t != nil {
		t.once.Do(func() { close(t.done) })
	}
}
