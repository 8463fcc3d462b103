package wire

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Conn is a blocking Kafka protocol client connection: one request in flight
// at a time. It is safe for concurrent use; callers are serialized.
type Conn struct {
	mu       sync.Mutex
	nc       net.Conn
	rd       *bufio.Reader
	clientID *string
	corr     int32
	buf      []byte
	versions map[int16][2]int16 // key -> [min, max] from ApiVersions, nil until asked
	broken   error
}

// MaxResponseBytes bounds what a response frame may be.
const MaxResponseBytes = 1 << 30

// Dial connects to addr ("host:port").
func Dial(ctx context.Context, addr, clientID string) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &Conn{nc: nc, rd: bufio.NewReaderSize(nc, 64<<10)}
	if clientID != "" {
		c.clientID = &clientID
	}
	return c, nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// RemoteAddr returns the peer address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Request sends req (at the version set on it) and waits for its response.
// A context deadline or cancellation closes the connection, since the
// response stream would otherwise be out of step.
func (c *Conn) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return nil, c.broken
	}
	resp, err := c.roundTrip(ctx, req)
	if err != nil {
		c.broken = err
		c.nc.Close()
	}
	return resp, err
}

func (c *Conn) roundTrip(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() && c.broken == nil {
			// Cancelled as the exchange ended: the past deadline may be set
			// after this returns, so the next request would fail on an
			// i/o timeout. Fail it at once instead.
			c.broken = fmt.Errorf("connection abandoned: %w", context.Cause(ctx))
		}
	}()
	c.corr++
	corr := c.corr
	c.buf = AppendRequest(c.buf[:0], req, corr, c.clientID)
	if _, err := c.nc.Write(c.buf); err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("write request key %d: %w", req.Key(), err))
	}
	if ack, ok := req.(*kmsg.ProduceRequest); ok && ack.Acks == 0 {
		return nil, nil
	}
	frame, err := ReadFrame(c.rd, c.buf[:0], MaxResponseBytes)
	if err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("read response to key %d: %w", req.Key(), err))
	}
	c.buf = frame
	resp := req.ResponseKind()
	if err := ParseResponse(frame, corr, resp); err != nil {
		return nil, fmt.Errorf("decode response to key %d v%d: %w", req.Key(), req.GetVersion(), err)
	}
	return resp, nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errors.Join(ctx.Err(), err)
	}
	return err
}

// Versions asks the peer for its ApiVersions (once per connection, cached)
// and returns key -> [min, max].
func (c *Conn) Versions(ctx context.Context) (map[int16][2]int16, error) {
	c.mu.Lock()
	v := c.versions
	c.mu.Unlock()
	if v != nil {
		return v, nil
	}
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(0)
	r, err := c.Request(ctx, req)
	if err != nil {
		return nil, err
	}
	resp := r.(*kmsg.ApiVersionsResponse)
	if resp.ErrorCode != 0 {
		return nil, fmt.Errorf("ApiVersions: error code %d", resp.ErrorCode)
	}
	v = make(map[int16][2]int16, len(resp.ApiKeys))
	for _, k := range resp.ApiKeys {
		v[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	c.mu.Lock()
	c.versions = v
	c.mu.Unlock()
	return v, nil
}

// PickVersion sets req's version to the highest both sides speak, capped at
// max (pass -1 for no cap). It fails if the peer does not speak the key.
func (c *Conn) PickVersion(ctx context.Context, req kmsg.Request, max int16) error {
	v, err := c.Versions(ctx)
	if err != nil {
		return err
	}
	r, ok := v[req.Key()]
	if !ok {
		return fmt.Errorf("peer %s does not support API key %d", c.nc.RemoteAddr(), req.Key())
	}
	ver := min(r[1], req.MaxVersion())
	if max >= 0 {
		ver = min(ver, max)
	}
	if ver < r[0] {
		return fmt.Errorf("peer %s supports API key %d only from v%d", c.nc.RemoteAddr(), req.Key(), r[0])
	}
	req.SetVersion(ver)
	return nil
}
