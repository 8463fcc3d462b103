package controller

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// sender is Kafka's RequestSendThread: one goroutine and one FIFO queue per
// live broker. Requests go out one at a time in queue order; a request that
// fails (connection refused or lost, timeout) is retried with backoff on a
// new connection for as long as the sender lives. The loop stops a sender
// when its broker dies (or bounces), dropping what is queued.
type sender struct {
	broker int32
	addr   string
	term   uint64 // controller term the sender belongs to
	cfg    *Config
	log    logrus.FieldLogger
	events *queue

	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	items  []outRequest
	signal chan struct{}
	// pending counts requests queued or being sent (FlushRequests).
	pending atomic.Int64
}

func newSender(parent context.Context, broker int32, addr string, term uint64, cfg *Config, log logrus.FieldLogger, events *queue) *sender {
	ctx, cancel := context.WithCancel(parent)
	return &sender{
		broker: broker, addr: addr, term: term, cfg: cfg, events: events,
		log: log.WithFields(logrus.Fields{"target_broker": broker, "addr": addr}),
		ctx: ctx, cancel: cancel, signal: make(chan struct{}, 1),
	}
}

func (s *sender) enqueue(reqs ...outRequest) {
	s.pending.Add(int64(len(reqs)))
	s.mu.Lock()
	s.items = append(s.items, reqs...)
	s.mu.Unlock()
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

func (s *sender) stop() { s.cancel() }

func (s *sender) next() (outRequest, bool) {
	for {
		s.mu.Lock()
		if len(s.items) > 0 {
			r := s.items[0]
			s.items[0] = outRequest{}
			s.items = s.items[1:]
			s.mu.Unlock()
			return r, true
		}
		s.mu.Unlock()
		select {
		case <-s.ctx.Done():
			return outRequest{}, false
		case <-s.signal:
		}
	}
}

func (s *sender) run() {
	var conn Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for {
		r, ok := s.next()
		if !ok {
			return
		}
		backoff := s.cfg.RetryBackoff
		for {
			var resp kmsg.Response
			var err error
			if conn == nil {
				conn, err = s.dial()
			}
			if err == nil {
				resp, err = s.send(conn, r)
			}
			if err == nil {
				s.handle(r, resp)
				s.pending.Add(-1)
				break
			}
			if s.ctx.Err() != nil {
				return
			}
			s.log.WithError(err).WithField("api_key", r.req.Key()).Warn("controller request failed; reconnecting")
			if conn != nil {
				conn.Close()
				conn = nil
			}
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
		}
	}
}

// waitIdle waits until every queued request was answered, or ctx ends,
// or the sender stops.
func (s *sender) waitIdle(ctx context.Context) {
	for s.pending.Load() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-s.ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (s *sender) dial() (Conn, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.ConnectTimeout)
	defer cancel()
	return s.cfg.Dial(ctx, s.addr, strconv.Itoa(int(s.cfg.BrokerID)))
}

// send picks the version (the highest both speak, capped at what a 2.4
// controller sends) and sends. The request value is shared by no one else.
func (s *sender) send(conn Conn, r outRequest) (kmsg.Response, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.RequestTimeout)
	defer cancel()
	if err := conn.PickVersion(ctx, r.req, r.maxVersion); err != nil {
		return nil, err
	}
	if sr, ok := r.req.(*kmsg.StopReplicaRequest); ok && sr.Version == 0 {
		stopReplicaV0(sr)
	}
	return conn.Request(ctx, r.req)
}

// handle logs errors in a response and hands StopReplica(delete=true)
// answers to the event loop.
func (s *sender) handle(r outRequest, resp kmsg.Response) {
	top, parts := responseErrors(resp)
	if top != 0 {
		s.log.WithFields(logrus.Fields{"api_key": r.req.Key(), "error": kerr.ErrorForCode(top)}).Warn("controller request answered with an error")
	}
	for tp, code := range parts {
		if code != 0 {
			s.log.WithFields(logrus.Fields{"api_key": r.req.Key(), "topic": tp.Topic, "partition": tp.Partition,
				"error": kerr.ErrorForCode(code)}).Warn("controller request: partition error")
		}
	}
	if !r.stopDelete {
		return
	}
	errs := map[TP]int16{}
	if sr, ok := r.req.(*kmsg.StopReplicaRequest); ok {
		for _, t := range sr.Topics {
			ps := t.Partitions
			if sr.Version == 0 {
				ps = []int32{t.Partition}
			}
			for _, p := range ps {
				tp := TP{t.Topic, p}
				errs[tp] = top
				if c, ok := parts[tp]; ok && top == 0 {
					errs[tp] = c
				}
			}
		}
	}
	s.events.push(evStopReplicaResponse{term: s.term, broker: s.broker, errs: errs})
}

// responseErrors extracts the top-level and per-partition error codes.
func responseErrors(resp kmsg.Response) (int16, map[TP]int16) {
	parts := map[TP]int16{}
	switch r := resp.(type) {
	case *kmsg.LeaderAndISRResponse:
		for _, p := range r.Partitions { // v0-v4; v5+ (never sent) names topics by id
			parts[TP{p.Topic, p.Partition}] = p.ErrorCode
		}
		return r.ErrorCode, parts
	case *kmsg.UpdateMetadataResponse:
		return r.ErrorCode, parts
	case *kmsg.StopReplicaResponse:
		for _, p := range r.Partitions {
			parts[TP{p.Topic, p.Partition}] = p.ErrorCode
		}
		return r.ErrorCode, parts
	}
	return 0, parts
}
