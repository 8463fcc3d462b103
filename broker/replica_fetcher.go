package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"sync"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
	"github.com/zkafka/zkafka/internal/goroutine"
	"github.com/zkafka/zkafka/logstore"
)

// fetcherConfig holds the replica.fetch.* settings.
type fetcherConfig struct {
	waitMax          time.Duration // replica.fetch.wait.max.ms (500)
	minBytes         int32         // replica.fetch.min.bytes (1)
	maxBytes         int32         // replica.fetch.max.bytes (1 MiB), per partition
	responseMaxBytes int32         // replica.fetch.response.max.bytes (10 MiB)
	backoff          time.Duration // replica.fetch.backoff.ms (1000)
	socketTimeout    time.Duration // replica.socket.timeout.ms (30000)
}

func defaultFetcherConfig() fetcherConfig {
	return fetcherConfig{waitMax: 500 * time.Millisecond, minBytes: 1, maxBytes: 1 << 20,
		responseMaxBytes: 10 << 20, backoff: time.Second, socketTimeout: 30 * time.Second}
}

// fetcherManager runs one replica fetcher per leader broker this broker
// follows (Kafka's ReplicaFetcherManager with one fetcher per source
// broker). Fetchers speak the Kafka protocol: OffsetForLeaderEpoch to find
// where to truncate, then Fetch with replica_id = this broker's id.
type fetcherManager struct {
	rm         *replicaManager
	cfg        fetcherConfig
	log        logrus.FieldLogger
	ctx        context.Context
	goroutines *goroutine.Group

	mu       sync.Mutex
	fetchers map[int32]*fetcher // by leader id
	stopped  bool               // after a controlled shutdown: no fetching any more
}

func newFetcherManager(ctx context.Context, rm *replicaManager, cfg fetcherConfig, g *goroutine.Group, log logrus.FieldLogger) *fetcherManager {
	return &fetcherManager{rm: rm, cfg: cfg, log: log, ctx: ctx, goroutines: g, fetchers: map[int32]*fetcher{}}
}

// fetcher replicates the partitions this broker follows from one leader.
// Its goroutine owns the connection; parts is shared with add/remove under
// mu, which is also held while a response is applied to the logs, so once
// remove returns no append for that partition can follow.
type fetcher struct {
	m      *fetcherManager
	leader int32
	log    logrus.FieldLogger
	cancel context.CancelFunc

	mu    sync.Mutex
	addr  string
	parts map[logstore.TopicPartition]*fetchState
	wake  chan struct{} // buffered 1: something to do
	// inFlight cancels the Fetch request in flight (nil when none), and
	// interrupted records that add did so: a partition added meanwhile is
	// not in that request, and would wait until the leader's long poll
	// ends (up to replica.fetch.wait.max.ms) before it is fetched, with
	// the leader's acks=all produces waiting for it.
	inFlight    context.CancelFunc
	interrupted bool
}

// fetchState is one followed partition.
type fetchState struct {
	p           *partition
	leaderEpoch int32
	truncating  bool      // ask OffsetForLeaderEpoch before fetching
	delayUntil  time.Time // back off after an error
	// notReadyFor is the backoff after the leader answered that it does
	// not lead the partition (yet) in our epoch; 0 after a success.
	notReadyFor time.Duration
}

// leaderNotReadyBackoff is the first pause after a leader answered that it
// does not know it leads the partition yet: the controller sends
// LeaderAndIsr to the new leader and its followers at the same time, and a
// follower that gets there first would otherwise wait a whole
// replica.fetch.backoff.ms. The pause doubles up to that.
const leaderNotReadyBackoff = 25 * time.Millisecond

// partitionBackoff is how long a partition waits after error code from its
// leader.
func (st *fetchState) partitionBackoff(code int16, ceiling time.Duration) time.Duration {
	switch code {
	case kerr.NotLeaderForPartition.Code, kerr.UnknownLeaderEpoch.Code, kerr.UnknownTopicOrPartition.Code:
		// The leader may just not have applied its LeaderAndIsr yet.
		st.notReadyFor = min(ceiling, max(leaderNotReadyBackoff, 2*st.notReadyFor))
		return st.notReadyFor
	}
	return ceiling
}

// add makes this broker replicate tp from leader (at addr) in leaderEpoch,
// starting with truncation (OffsetForLeaderEpoch decides whether anything
// is cut). The caller has removed tp from any other leader's fetcher; if
// tp is on this leader's (an epoch bump that kept the leader), its state
// is replaced in place and the fetcher and its connection carry on.
func (m *fetcherManager) add(tp logstore.TopicPartition, p *partition, leader int32, addr string, leaderEpoch int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctx.Err() != nil || m.stopped {
		return
	}
	f := m.fetchers[leader]
	if f == nil {
		ctx, cancel := context.WithCancel(m.ctx)
		f = &fetcher{m: m, leader: leader, addr: addr, cancel: cancel, parts: map[logstore.TopicPartition]*fetchState{},
			wake: make(chan struct{}, 1), log: m.log.WithField("leader", leader)}
		if !m.goroutines.Go("replica-fetcher", func() { f.run(ctx) }) {
			cancel()
			return
		}
		m.fetchers[leader] = f
	}
	f.mu.Lock()
	f.addr = addr
	_, had := f.parts[tp]
	f.parts[tp] = &fetchState{p: p, leaderEpoch: leaderEpoch, truncating: true}
	if !had && f.inFlight != nil {
		// Not in the fetch in flight: end it (and its connection) rather
		// than wait for its long poll. A partition that was already in it
		// needs nothing: the leader answers a fetch whose epoch it fenced
		// at once.
		f.interrupted = true
		f.inFlight()
	}
	f.mu.Unlock()
	f.poke()
}

// remove stops replicating tp. When it returns, no fetcher appends to tp's
// log any more.
func (m *fetcherManager) remove(tp logstore.TopicPartition) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, f := range m.fetchers {
		f.mu.Lock()
		delete(f.parts, tp)
		empty := len(f.parts) == 0
		f.mu.Unlock()
		if empty {
			f.cancel()
			delete(m.fetchers, id)
		}
	}
}

func (f *fetcher) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// run is the fetcher's loop: connect, truncate what needs it, fetch, apply,
// until its context ends.
func (f *fetcher) run(ctx context.Context) {
	var conn *wire.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	backoff := func() {
		t := time.NewTimer(f.m.cfg.backoff)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	for ctx.Err() == nil {
		if conn == nil {
			f.mu.Lock()
			addr := f.addr
			f.mu.Unlock()
			dctx, cancel := context.WithTimeout(ctx, f.m.cfg.socketTimeout)
			c, err := wire.Dial(dctx, addr, fmt.Sprintf("broker-%d-fetcher", f.m.rm.brokerID))
			cancel()
			if err != nil {
				f.log.WithError(err).Debug("cannot connect to leader; retrying")
				backoff()
				continue
			}
			conn = c
		}
		if err := f.truncateAll(ctx, conn); err != nil {
			f.dropConn(ctx, &conn, err)
			backoff()
			continue
		}
		req, wait := f.buildFetch()
		if req == nil {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
			case <-f.wake:
			case <-t.C:
			}
			t.Stop()
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, f.m.cfg.socketTimeout+f.m.cfg.waitMax)
		f.mu.Lock()
		f.inFlight = cancel
		f.mu.Unlock()
		resp, err := conn.Request(rctx, req)
		f.mu.Lock()
		interrupted := f.interrupted
		f.inFlight, f.interrupted = nil, false
		f.mu.Unlock()
		cancel()
		if interrupted && ctx.Err() == nil {
			// Even an answer that arrived as it was cancelled is dropped
			// with its connection (the cancellation may have spoilt it for
			// the next request); what it carried is fetched again.
			f.log.Debug("fetch in flight interrupted: partitions were added; reconnecting")
			conn.Close()
			conn = nil
			continue
		}
		if err != nil {
			f.dropConn(ctx, &conn, err)
			backoff()
			continue
		}
		f.apply(ctx, conn, req, resp.(*kmsg.FetchResponse))
	}
}

func (f *fetcher) dropConn(ctx context.Context, conn **wire.Conn, err error) {
	if ctx.Err() == nil {
		f.log.WithError(err).Info("replica fetch failed; reconnecting")
	}
	(*conn).Close()
	*conn = nil
}

// truncateAll runs the truncation step for every partition that needs it:
// OffsetForLeaderEpoch for the follower's latest epoch, then truncation to
// where the leader's log and ours agree (truncationFor), repeated while the
// answer says to ask again about an older epoch.
func (f *fetcher) truncateAll(ctx context.Context, conn *wire.Conn) error {
	for round := 0; ; round++ {
		f.mu.Lock()
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.SetVersion(3)
		req.ReplicaID = f.m.rm.brokerID
		byTopic := map[string]int{}
		sent := map[logstore.TopicPartition]*fetchState{}
		now := time.Now()
		for tp, st := range f.parts {
			if !st.truncating || now.Before(st.delayUntil) {
				continue
			}
			sent[tp] = st
			i := topicSlot(byTopic, &req.Topics, tp.Topic, func(t string) kmsg.OffsetForLeaderEpochRequestTopic {
				rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
				rt.Topic = t
				return rt
			})
			rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
			rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = tp.Partition, st.leaderEpoch, st.p.log.LatestEpoch()
			req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
		}
		f.mu.Unlock()
		if len(req.Topics) == 0 {
			return nil
		}
		if round > 100 {
			return errors.New("truncation does not converge")
		}
		rctx, cancel := context.WithTimeout(ctx, f.m.cfg.socketTimeout)
		r, err := conn.Request(rctx, req)
		cancel()
		if err != nil {
			return err
		}
		resp := r.(*kmsg.OffsetForLeaderEpochResponse)
		f.mu.Lock()
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				tp := logstore.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}
				st := f.parts[tp]
				if st == nil || st != sent[tp] || !st.truncating {
					continue // removed or re-added (new epoch) meanwhile
				}
				if rp.ErrorCode != 0 {
					f.partitionError(tp, st, rp.ErrorCode)
					continue
				}
				l := st.p.log
				tr := truncationFor(rp.LeaderEpoch, rp.EndOffset, l.LogEndOffset(), l.HighWatermark(), l.EndOffsetForEpoch)
				if tr.offset < l.LogEndOffset() {
					f.log.WithFields(logrus.Fields{"partition": tp.String(), "log_end_offset": l.LogEndOffset(), "truncate_to": tr.offset,
						"leader_epoch": rp.LeaderEpoch, "leader_end_offset": rp.EndOffset}).Info("truncating follower log")
					if err := l.TruncateTo(tr.offset); err != nil {
						f.log.WithError(err).WithField("partition", tp.String()).Error("truncation failed")
						st.delayUntil = time.Now().Add(f.m.cfg.backoff)
						continue
					}
				}
				st.truncating = !tr.done
			}
		}
		f.mu.Unlock()
	}
}

// buildFetch returns the next Fetch request, or nil and how long to wait
// when no partition can be fetched now.
func (f *fetcher) buildFetch() (*kmsg.FetchRequest, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	wait := time.Hour
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(11)
	req.ReplicaID = f.m.rm.brokerID
	req.MaxWaitMillis = int32(f.m.cfg.waitMax.Milliseconds())
	req.MinBytes = f.m.cfg.minBytes
	req.MaxBytes = f.m.cfg.responseMaxBytes
	req.SessionEpoch = -1 // no fetch session: full requests
	byTopic := map[string]int{}
	for tp, st := range f.parts {
		if now.Before(st.delayUntil) {
			wait = min(wait, st.delayUntil.Sub(now))
			continue
		}
		if st.truncating {
			continue
		}
		i := topicSlot(byTopic, &req.Topics, tp.Topic, func(t string) kmsg.FetchRequestTopic {
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = t
			return rt
		})
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = tp.Partition
		rp.CurrentLeaderEpoch = st.leaderEpoch
		rp.FetchOffset = st.p.log.LogEndOffset()
		rp.LogStartOffset = st.p.log.LogStartOffset()
		rp.PartitionMaxBytes = f.m.cfg.maxBytes
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	if len(req.Topics) == 0 {
		return nil, wait
	}
	// A partition backing off is fetched (or truncated) when its pause
	// ends, not when this request's long poll does: the leader's acks=all
	// produces to it may be waiting for this follower.
	untilDelayEnds := (wait + time.Millisecond - 1).Truncate(time.Millisecond)
	req.MaxWaitMillis = int32(min(f.m.cfg.waitMax, untilDelayEnds).Milliseconds())
	return req, 0
}

// apply appends what the leader sent, unchanged, and takes the leader's
// high-water mark (capped at our log end).
func (f *fetcher) apply(ctx context.Context, conn *wire.Conn, req *kmsg.FetchRequest, resp *kmsg.FetchResponse) {
	if resp.ErrorCode != 0 {
		f.log.WithField("error", kerr.ErrorForCode(resp.ErrorCode)).Warn("replica fetch refused")
		f.mu.Lock()
		for _, st := range f.parts {
			st.delayUntil = time.Now().Add(f.m.cfg.backoff)
		}
		f.mu.Unlock()
		return
	}
	asked := map[logstore.TopicPartition]int64{}
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			asked[logstore.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}] = rp.FetchOffset
		}
	}
	outOfRange := map[logstore.TopicPartition]*fetchState{}
	f.mu.Lock()
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			tp := logstore.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}
			st := f.parts[tp]
			fetchOffset, ok := asked[tp]
			if st == nil || !ok || st.truncating || st.p.log.LogEndOffset() != fetchOffset {
				continue // removed or re-added since the request was built
			}
			switch rp.ErrorCode {
			case 0:
			case kerr.OffsetOutOfRange.Code:
				outOfRange[tp] = st
				continue
			default:
				f.partitionError(tp, st, rp.ErrorCode)
				continue
			}
			l := st.p.log
			f.log.WithFields(logrus.Fields{"partition": tp.String(), "fetch_offset": fetchOffset, "bytes": len(rp.RecordBatches), "leader_hw": rp.HighWatermark}).Trace("replica fetch")
			if len(rp.RecordBatches) > 0 {
				if _, err := l.AppendAsFollower(rp.RecordBatches); err != nil {
					f.log.WithError(err).WithField("partition", tp.String()).Error("cannot append replicated batches")
					st.delayUntil = time.Now().Add(f.m.cfg.backoff)
					continue
				}
			}
			l.SetHighWatermark(min(rp.HighWatermark, l.LogEndOffset()))
			f.followLogStart(tp, l, rp.LogStartOffset)
			st.notReadyFor = 0
		}
	}
	f.mu.Unlock()
	if len(outOfRange) > 0 {
		f.handleOutOfRange(ctx, conn, outOfRange)
	}
}

// followLogStart raises the follower's log start offset to the leader's
// (Kafka's ReplicaFetcherThread: log.maybeIncrementLogStartOffset(
// leaderLogStartOffset)), so that records deleted on the leader
// (DeleteRecords, retention) go here too and the next fetch reports the new
// start, which a DeleteRecords waiting on the leader needs. It never goes
// past this log's high-water mark (an answer racing a deletion may carry a
// start beyond what is replicated here; the next fetch then either brings
// the records or is answered OFFSET_OUT_OF_RANGE and starts over at the
// leader's start).
func (f *fetcher) followLogStart(tp logstore.TopicPartition, l *logstore.Log, leaderLogStart int64) {
	target := min(leaderLogStart, l.HighWatermark())
	if target <= l.LogStartOffset() {
		return
	}
	if _, err := l.DeleteRecordsBefore(target); err != nil {
		f.log.WithError(err).WithField("partition", tp.String()).Warn("cannot follow the leader's log start offset")
		return
	}
	f.log.WithFields(logrus.Fields{"partition": tp.String(), "log_start_offset": target}).Debug("log start offset follows the leader's")
}

// partitionError reacts to a per-partition error from the leader: the
// partition waits a backoff (a new LeaderAndIsr usually follows) and then
// truncates again, since its leader may have changed meanwhile. f.mu held.
func (f *fetcher) partitionError(tp logstore.TopicPartition, st *fetchState, code int16) {
	f.log.WithFields(logrus.Fields{"partition": tp.String(), "error": kerr.ErrorForCode(code)}).Debug("replica fetch partition error")
	st.delayUntil = time.Now().Add(st.partitionBackoff(code, f.m.cfg.backoff))
	st.truncating = true
}

// handleOutOfRange is Kafka's handleOutOfRangeError: when the leader's log
// ends before ours (an unclean election), truncate to its end; when ours
// ends before the leader's start (it deleted what we lack), start over at
// its log start.
func (f *fetcher) handleOutOfRange(ctx context.Context, conn *wire.Conn, states map[logstore.TopicPartition]*fetchState) {
	tps := make([]logstore.TopicPartition, 0, len(states))
	for tp := range states {
		tps = append(tps, tp)
	}
	ask := func(ts int64) (map[logstore.TopicPartition]int64, error) {
		req := kmsg.NewPtrListOffsetsRequest()
		req.SetVersion(2)
		req.ReplicaID = f.m.rm.brokerID
		for _, tp := range tps {
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = tp.Topic
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp, rp.MaxNumOffsets = tp.Partition, ts, 1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
		}
		rctx, cancel := context.WithTimeout(ctx, f.m.cfg.socketTimeout)
		defer cancel()
		r, err := conn.Request(rctx, req)
		if err != nil {
			return nil, err
		}
		out := map[logstore.TopicPartition]int64{}
		for _, rt := range r.(*kmsg.ListOffsetsResponse).Topics {
			for _, rp := range rt.Partitions {
				if rp.ErrorCode == 0 {
					out[logstore.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}] = rp.Offset
				}
			}
		}
		return out, nil
	}
	latest, err := ask(listLatest)
	if err != nil {
		return
	}
	earliest, err := ask(listEarliest)
	if err != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, tp := range tps {
		st := f.parts[tp]
		le, ok1 := latest[tp]
		ls, ok2 := earliest[tp]
		if st == nil || st != states[tp] || !ok1 || !ok2 {
			continue // removed or re-added meanwhile
		}
		l := st.p.log
		var err error
		switch leo := l.LogEndOffset(); {
		case le < leo:
			f.log.WithFields(logrus.Fields{"partition": tp.String(), "log_end_offset": leo, "leader_end_offset": le}).Warn("leader's log ends before ours (unclean election?): truncating")
			err = l.TruncateTo(le)
		case leo < ls:
			f.log.WithFields(logrus.Fields{"partition": tp.String(), "log_end_offset": leo, "leader_log_start": ls}).Info("leader no longer has our next offset: starting over at its log start")
			err = l.TruncateFullyAndStartAt(ls)
		}
		if err != nil {
			f.log.WithError(err).WithField("partition", tp.String()).Error("out-of-range handling failed")
			st.delayUntil = time.Now().Add(f.m.cfg.backoff)
		}
	}
}

// topicSlot returns the index of topic's entry in a request's topic list,
// appending one made by newTopic the first time the topic is seen.
func topicSlot[T any](index map[string]int, topics *[]T, topic string, newTopic func(string) T) int {
	i, ok := index[topic]
	if !ok {
		i = len(*topics)
		index[topic] = i
		*topics = append(*topics, newTopic(topic))
	}
	return i
}
