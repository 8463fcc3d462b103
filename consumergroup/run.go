package consumergroup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/zkafka/zkafka/zkcoord"
)

// runState is owned by the run goroutine.
type runState struct {
	sess        <-chan zkcoord.SessionEvent
	unsubscribe func()
	pendingSess []zkcoord.SessionEvent // session events seen while waiting inside a rebalance

	watches chan watchFired
	armed   map[string]bool // paths with a live watch

	st           memberState
	owned        map[TopicPartition]string // owner znodes we created
	claimSession int64                     // session that created them
	committed    map[TopicPartition]int64  // last offsets read or written
	starts       map[TopicPartition]int64  // where a fetcher restarts when nothing is marked
	fetchers     map[TopicPartition]*fetcher
	brokers      []string
	noBrokers    bool
	retry        *time.Timer
}

type watchFired struct {
	path string
	ev   zkcoord.Event
}

func (r *runState) init() {
	r.watches = make(chan watchFired, 64)
	r.armed = map[string]bool{}
	r.owned = map[TopicPartition]string{}
	r.committed = map[TopicPartition]int64{}
	r.starts = map[TopicPartition]int64{}
	r.fetchers = map[TopicPartition]*fetcher{}
	r.st = memberState{Registered: true, Dirty: true}
}

// run is the member's owning goroutine.
func (c *Consumer) run(first chan struct{}) {
	defer close(c.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	c.handle(ctx, evChange)
	close(first)

	commitTick := time.NewTicker(c.cfg.AutoCommitInterval)
	defer commitTick.Stop()
	if c.cfg.DisableAutoCommit {
		commitTick.Stop()
	}
	for {
		if len(c.r.pendingSess) > 0 {
			ev := c.r.pendingSess[0]
			c.r.pendingSess = c.r.pendingSess[1:]
			c.onSession(ctx, ev)
			continue
		}
		var retryC <-chan time.Time
		if c.r.retry != nil {
			retryC = c.r.retry.C
		}
		select {
		case <-c.stop:
			c.finish()
			return
		case w := <-c.r.watches:
			if c.onWatch(ctx, w) {
				c.drainWatches(ctx)
				c.handle(ctx, evChange)
			}
		case ev, ok := <-c.r.sess:
			if ok {
				c.onSession(ctx, ev)
			}
		case <-retryC:
			c.r.retry = nil
			c.handle(ctx, evRetry)
		case <-commitTick.C:
			if err := c.commit(ctx); err != nil {
				c.log.WithError(err).Warn("auto commit failed")
			}
		case req := <-c.reqs:
			req.reply <- c.commit(req.ctx)
		}
	}
}

func (c *Consumer) onSession(ctx context.Context, ev zkcoord.SessionEvent) {
	switch ev.State {
	case zkcoord.StateDisconnected:
		c.handle(ctx, evDisconnected)
	case zkcoord.StateConnected:
		c.handle(ctx, evReconnected)
	case zkcoord.StateExpired:
		c.log.Warn("ZooKeeper session expired: stopped fetching; the partitions' owner znodes are gone")
		c.handle(ctx, evExpired)
	case zkcoord.StateNewSession:
		c.handle(ctx, evNewSession)
	}
}

// handle runs decide and performs its steps.
func (c *Consumer) handle(ctx context.Context, ev memberEvent) {
	st, steps := decide(c.r.st, ev)
	c.r.st = st
	for _, s := range steps {
		if ctx.Err() != nil {
			return
		}
		switch s {
		case stepStopFetching:
			c.stopFetching()
		case stepResumeFetching:
			c.startFetching(c.r.owned)
		case stepForgetOwnership:
			for _, tp := range sortedTPs(c.r.owned) {
				c.emit(Lost, tp, c.r.owned[tp])
			}
			c.r.owned = map[TopicPartition]string{}
			c.r.armed = map[string]bool{}
			c.setGeneration(nil, false)
		case stepRegister:
			if err := c.zk.RegisterConsumer(ctx, c.cfg.Group, c.id, c.cfg.registration()); err != nil {
				c.log.WithError(err).Error("could not register again after the session expired")
				return
			}
			c.log.Info("registered again in the new ZooKeeper session")
			c.r.st.Registered = true
		case stepRebalance:
			if c.rebalance(ctx) {
				c.r.st.Dirty = false
				c.r.st.Owning = len(c.r.owned) > 0
			} else if ctx.Err() == nil && len(c.r.pendingSess) == 0 {
				c.scheduleRetry()
			}
		}
	}
}

func (c *Consumer) scheduleRetry() {
	if c.r.retry != nil {
		c.r.retry.Stop()
	}
	c.r.retry = time.NewTimer(c.cfg.RebalanceBackoff)
}

// onWatch records that a watch fired; it reports whether the group must
// rebalance.
func (c *Consumer) onWatch(ctx context.Context, w watchFired) bool {
	if w.ev.Type == zkcoord.EventNotWatching {
		// The session expired (or the client closed): nothing changed in
		// the group. The expiry's session event forgets the ownership and
		// the new session rebalances (and arms its watches; this event may
		// come after that, so it must not touch armed); rebalancing here
		// would "release" owner znodes that already died with the session.
		return false
	}
	c.r.armed[w.path] = false
	if w.path == zkcoord.BrokerIDsPath && !c.r.noBrokers {
		// brokers come and go without a rebalance (as in Kafka 0.10):
		// refresh the bootstrap list for future fetchers
		c.refreshBrokers(ctx)
		return false
	}
	return true
}

// drainWatches consumes watches that fired meanwhile (one rebalance
// covers them all).
func (c *Consumer) drainWatches(ctx context.Context) {
	for {
		select {
		case w := <-c.r.watches:
			c.onWatch(ctx, w)
		default:
			return
		}
	}
}

// arm forwards the one-shot watch w on path to the run loop.
func (c *Consumer) arm(path string, w <-chan zkcoord.Event) {
	if w == nil {
		return
	}
	c.r.armed[path] = true
	go func() {
		select {
		case ev, ok := <-w:
			if !ok {
				ev = zkcoord.Event{Path: path}
			}
			select {
			case c.r.watches <- watchFired{path: path, ev: ev}:
			case <-c.stop:
			}
		case <-c.stop:
		}
	}()
}

func (c *Consumer) refreshBrokers(ctx context.Context) {
	var w <-chan zkcoord.Event
	var err error
	if !c.r.armed[zkcoord.BrokerIDsPath] {
		if err = c.zk.EnsurePath(ctx, zkcoord.BrokerIDsPath); err == nil {
			_, _, w, err = c.zk.ChildrenW(ctx, zkcoord.BrokerIDsPath)
		}
		if err != nil {
			c.log.WithError(err).Warn("could not watch /brokers/ids")
		} else {
			c.arm(zkcoord.BrokerIDsPath, w)
		}
	}
	brokers, err := c.zk.GetBrokers(ctx)
	if err != nil {
		c.log.WithError(err).Warn("could not read /brokers/ids")
		return
	}
	var addrs []string
	for _, b := range brokers {
		if a := b.Addr(); a != "" {
			addrs = append(addrs, a)
		}
	}
	c.r.brokers = addrs
	c.r.noBrokers = len(addrs) == 0
}

// stopFetching ends the generation: Fetch hands out nothing more, and the
// fetchers are stopped and waited for.
func (c *Consumer) stopFetching() {
	c.setGeneration(c.r.owned, false)
	for tp, f := range c.r.fetchers {
		f.stop()
		delete(c.r.fetchers, tp)
	}
}

// startFetching starts a new generation on owned: each partition resumes
// after its last mark, or where the generation started.
func (c *Consumer) startFetching(owned map[TopicPartition]string) {
	gen := c.setGeneration(owned, true)
	for _, tp := range sortedTPs(owned) {
		start := c.r.starts[tp]
		if off, ok := c.marked(tp); ok {
			start = off
		}
		c.r.starts[tp] = start
		c.r.fetchers[tp] = c.startFetcher(tp, start, gen, c.r.brokers)
	}
	c.log.WithFields(logrus.Fields{"generation": gen, "partitions": tpList(owned)}).Info("fetching")
}

// commit writes changed marks of the partitions we own, if the session
// that claimed them is still ours.
func (c *Consumer) commit(ctx context.Context) error {
	if len(c.r.owned) == 0 {
		return nil
	}
	if c.r.st.Paused || c.zk.SessionID() != c.r.claimSession {
		return errors.New("consumergroup: not committing: the ZooKeeper session that owns the partitions is not connected")
	}
	pending := c.pendingMarks(c.r.committed)
	for tp := range pending {
		if _, ok := c.r.owned[tp]; !ok {
			delete(pending, tp)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	if err := c.zk.CommitConsumerOffsets(ctx, c.cfg.Group, pending); err != nil {
		return fmt.Errorf("consumergroup: commit offsets: %w", err)
	}
	for tp, off := range pending {
		c.r.committed[tp] = off
	}
	c.log.WithField("offsets", len(pending)).Debug("committed offsets")
	return nil
}

// releaseAll deletes our owner znodes (Kafka's releasePartitionOwnership).
func (c *Consumer) releaseAll(ctx context.Context) {
	for _, tp := range sortedTPs(c.r.owned) {
		th := c.r.owned[tp]
		c.emit(Released, tp, th)
		if err := c.zk.ReleasePartitionOwner(ctx, c.cfg.Group, tp, th); err != nil {
			c.log.WithError(err).WithField("partition", tp.String()).Warn("could not delete owner znode")
		}
		delete(c.r.owned, tp)
	}
	c.r.st.Owning = false
}

// finish is Close's work on the run goroutine.
func (c *Consumer) finish() {
	c.close.mu.Lock()
	ctx, crash := c.close.ctx, c.close.crash
	c.close.mu.Unlock()
	c.stopFetching()
	var err error
	if !crash {
		if cerr := c.commit(ctx); cerr != nil && len(c.r.owned) > 0 {
			err = cerr
		}
		c.releaseAll(ctx)
		c.setGeneration(nil, false)
		derr := c.zk.Delete(ctx, zkcoord.ConsumerGroupIDPath(c.cfg.Group, c.id), zkcoord.AnyVersion)
		if derr != nil && !errors.Is(derr, zkcoord.ErrNoNode) && err == nil {
			err = derr
		}
		c.log.Info("consumer closed")
	}
	if c.r.retry != nil {
		c.r.retry.Stop()
	}
	c.r.unsubscribe()
	c.zk.Close()
	c.close.mu.Lock()
	c.close.err = err
	c.close.mu.Unlock()
}

func sortedTPs[V any](m map[TopicPartition]V) []TopicPartition {
	out := make([]TopicPartition, 0, len(m))
	for tp := range m {
		out = append(out, tp)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

func tpList[V any](m map[TopicPartition]V) []string {
	var out []string
	for _, tp := range sortedTPs(m) {
		out = append(out, tp.String())
	}
	return slices.Clip(out)
}
