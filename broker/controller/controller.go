package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"

	"github.com/zkafka/zkafka/internal/goroutine"
	"github.com/zkafka/zkafka/zkcoord"
)

// Events of the controller's queue. Events of an active term carry the
// term they were registered in; the loop drops those of an older term.
type event any

type (
	// evControllerChange: startup, the /controller watch fired, a new
	// ZooKeeper session, or a retry after a failed election.
	evControllerChange struct{}
	// evSession: a session state change of the ZooKeeper session.
	evSession struct{ ev zkcoord.SessionEvent }
	// evBrokerChange: children of /brokers/ids changed.
	evBrokerChange struct{ term uint64 }
	// evTopicChange: children of /brokers/topics changed.
	evTopicChange struct{ term uint64 }
	// evTopicModified: /brokers/topics/T changed (partitions added).
	evTopicModified struct {
		term  uint64
		topic string
	}
	// evDeleteTopics: children of /admin/delete_topics changed.
	evDeleteTopics struct{ term uint64 }
	// evIsrChange: children of /isr_change_notification changed.
	evIsrChange struct{ term uint64 }
	// evPreferredElection: /admin/preferred_replica_election was created,
	// changed or deleted.
	evPreferredElection struct{ term uint64 }
	// evAutoRebalance: time for the leader imbalance check.
	evAutoRebalance struct{ term uint64 }
	// evReassign: /admin/reassign_partitions was created, changed or
	// deleted.
	evReassign struct{ term uint64 }
	// evReassignIsr: the state znode of a partition being reassigned
	// changed.
	evReassignIsr struct {
		term uint64
		tp   TP
	}
	// evStopReplicaResponse: a broker answered StopReplica(delete=true).
	evStopReplicaResponse struct {
		term   uint64
		broker int32
		errs   map[TP]int16
	}
)

// Controller is the controller module of one broker: it runs on every
// broker, takes part in the election through /controller and, while it
// holds it, is the cluster's controller. Create it with New and call Run
// once.
type Controller struct {
	cfg    Config
	zk     *zkcoord.Session
	log    logrus.FieldLogger
	events *queue
	g      goroutine.Group
	runCtx context.Context

	// Everything below is owned by the event loop goroutine.
	term         uint64 // incremented on every successful election
	active       bool
	fence        zkcoord.ControllerEpoch
	st           *State
	termCtx      context.Context // cancelled on resignation: ends watches and senders
	termCancel   context.CancelFunc
	senders      map[int32]*sender
	stateWatches map[TP]bool // state znodes watched for reassignments this term
	retryBackoff time.Duration
}

// New returns a controller for the broker cfg.BrokerID using session s.
func New(cfg Config, s *zkcoord.Session, log logrus.FieldLogger) *Controller {
	cfg.EnsureDefaults()
	if log == nil {
		l := logrus.New()
		l.SetLevel(logrus.PanicLevel)
		log = l
	}
	return &Controller{
		cfg:    cfg,
		zk:     s,
		log:    log.WithFields(logrus.Fields{"component": "controller", "broker_id": cfg.BrokerID}),
		events: newQueue(),
	}
}

// Run takes part in controller elections and, when elected, acts as the
// controller until ctx ends or the ZooKeeper session is closed. It returns
// nil then, after every goroutine it started has ended; an active controller
// deletes /controller on the way out so that another broker takes over at
// once. Run must be called once, after the broker registered itself.
func (c *Controller) Run(ctx context.Context) error {
	if err := c.cfg.Validate(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.runCtx = ctx
	sess, unsubscribe := c.zk.Subscribe()
	c.g.Go("controller-session", func() {
		for ev := range sess {
			c.events.push(evSession{ev})
		}
	})
	c.events.push(evControllerChange{})
	defer func() {
		c.shutdown()
		unsubscribe()
		cancel()
		c.g.Wait()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.zk.Done():
			return nil
		case <-c.events.signal:
		}
		for ctx.Err() == nil {
			ev, ok := c.events.pop()
			if !ok {
				break
			}
			c.handle(ctx, ev)
		}
	}
}

// IsActive reports whether this broker is the controller. It is for tests
// and status pages: the answer may be stale when it arrives.
func (c *Controller) IsActive() bool {
	ch := make(chan bool, 1)
	c.events.push(evQuery{func() { ch <- c.active }})
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		return false
	}
}

// evQuery runs a function on the loop (IsActive).
type evQuery struct{ fn func() }

func (c *Controller) handle(ctx context.Context, ev event) {
	switch e := ev.(type) {
	case evQuery:
		e.fn()
	case evControllerChange:
		c.onControllerChange(ctx)
	case evSession:
		c.onSession(e.ev)
	case evBrokerChange:
		c.step(ctx, e.term, c.onBrokerChange)
	case evTopicChange:
		c.step(ctx, e.term, c.onTopicChange)
	case evTopicModified:
		c.step(ctx, e.term, func(ctx context.Context) error { return c.onTopicModified(ctx, e.topic) })
	case evDeleteTopics:
		c.step(ctx, e.term, c.onDeleteTopics)
	case evIsrChange:
		c.step(ctx, e.term, c.onIsrChange)
	case evControlledShutdown:
		c.onControlledShutdown(ctx, e)
	case evElectLeaders:
		c.onElectLeaders(ctx, e)
	case evAlterReassignments:
		c.onAlterReassignments(ctx, e)
	case evListReassignments:
		c.onListReassignments(e)
	case evPreferredElection:
		c.step(ctx, e.term, c.onPreferredElection)
	case evAutoRebalance:
		c.step(ctx, e.term, c.onAutoRebalance)
	case evReassign:
		c.step(ctx, e.term, c.onReassignZNode)
	case evReassignIsr:
		c.step(ctx, e.term, func(ctx context.Context) error { return c.onReassignIsr(ctx, e.tp) })
	case evStopReplicaResponse:
		c.step(ctx, e.term, func(ctx context.Context) error {
			return c.execute(ctx, c.st.OnStopReplicaDeleteResponse(e.broker, e.errs))
		})
	}
}

// step runs an active controller's handler if the event belongs to the
// current term; a failure moves the controller (see failed).
func (c *Controller) step(ctx context.Context, term uint64, f func(context.Context) error) {
	if !c.active || term != c.term {
		return
	}
	if err := f(ctx); err != nil {
		c.failed(ctx, err)
	}
}

// failed handles an error of the active controller. ErrControllerMoved
// means another controller exists: resign. Anything else leaves the cached
// state in doubt (and maybe a watch unregistered), so the controller does
// what 2.4's triggerControllerMove does: resign and delete /controller
// (fenced), which makes every broker run an election and the winner reload
// everything.
func (c *Controller) failed(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	if errors.Is(err, zkcoord.ErrControllerMoved) {
		c.log.WithError(err).Info("controller moved")
		c.resign()
		c.events.push(evControllerChange{})
		return
	}
	c.log.WithError(err).Error("controller error; resigning and deleting /controller so that an election runs")
	fence := c.fence
	c.resign()
	if err := zkcoord.DeleteController(ctx, c.zk, fence); err != nil && !errors.Is(err, zkcoord.ErrControllerMoved) {
		c.log.WithError(err).Warn("could not delete /controller; will retry")
		c.retryLater(evControllerChange{})
	}
}

// retryLater queues ev after a growing backoff.
func (c *Controller) retryLater(ev event) {
	if c.retryBackoff == 0 {
		c.retryBackoff = c.cfg.RetryBackoff
	} else {
		c.retryBackoff = min(2*c.retryBackoff, 2*time.Second)
	}
	d := c.retryBackoff
	c.g.Go("controller-retry", func() {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			c.events.push(ev)
		case <-c.runCtx.Done():
		}
	})
}

// watch turns a one-shot ZooKeeper watch into an event, unless ctx ends
// first or the watch is dropped (session expiry or close: the session
// events take over).
func (c *Controller) watch(ctx context.Context, ch <-chan zkcoord.Event, ev event) {
	if ch == nil {
		return
	}
	c.g.Go("controller-watch", func() {
		select {
		case e, ok := <-ch:
			if ok && e.Type != zk.EventNotWatching {
				c.events.push(ev)
			}
		case <-ctx.Done():
		}
	})
}

// --- election ---------------------------------------------------------------

// onSession: an expired session resigns (2.4's Expire event); a new session
// re-registers the /controller watch and runs an election (the broker
// re-registers itself through its own OnNewSession hook).
func (c *Controller) onSession(ev zkcoord.SessionEvent) {
	switch ev.State {
	case zkcoord.StateExpired:
		if c.active {
			c.log.Warn("ZooKeeper session expired; resigning as controller")
		}
		c.resign()
	case zkcoord.StateNewSession:
		if !c.cfg.ElectAfterRegistration {
			c.events.push(evControllerChange{})
		}
	}
}

// BrokerRegistered tells the controller that its broker registered again
// after a session expiry: with ElectAfterRegistration it now stands for
// election. Safe to call from any goroutine.
func (c *Controller) BrokerRegistered() {
	c.events.push(evControllerChange{})
}

// controllerZNode is /controller as read: broker id (-1 if absent), owner
// session and data version.
type controllerZNode struct {
	id      int32
	owner   int64
	version int32
}

func (c *Controller) readController(ctx context.Context) (controllerZNode, <-chan zkcoord.Event, error) {
	none := controllerZNode{id: -1}
	ok, _, ch, err := c.zk.ExistsW(ctx, zkcoord.ControllerPath)
	if err != nil || !ok {
		return none, ch, err
	}
	data, st, err := c.zk.Get(ctx, zkcoord.ControllerPath)
	if errors.Is(err, zkcoord.ErrNoNode) {
		return none, ch, nil // deleted meanwhile: the watch fires
	}
	if err != nil {
		return none, ch, err
	}
	info, err := zkcoord.DecodeControllerInfo(data)
	if err != nil {
		return none, ch, err
	}
	return controllerZNode{id: info.BrokerID, owner: st.EphemeralOwner, version: st.Version}, ch, nil
}

// onControllerChange re-reads /controller (re-arming its watch) and elects,
// resigns or cleans up.
func (c *Controller) onControllerChange(ctx context.Context) {
	cur, ch, err := c.readController(ctx)
	c.watch(ctx, ch, evControllerChange{})
	if err != nil {
		if ctx.Err() == nil {
			c.log.WithError(err).Warn("cannot read /controller; will retry")
			c.retryLater(evControllerChange{})
		}
		return
	}
	me := c.cfg.BrokerID
	switch {
	case cur.id == -1:
		c.elect(ctx)
	case cur.id == me && c.active:
	case cur.id == me && cur.owner == c.zk.SessionID():
		// Ours, but this controller is not active (its failover failed):
		// delete it so that an election runs.
		if err := c.zk.Delete(ctx, zkcoord.ControllerPath, cur.version); err != nil && !errors.Is(err, zkcoord.ErrNoNode) {
			c.retryLater(evControllerChange{})
		}
	case c.active:
		c.log.WithField("controller", cur.id).Info("controller moved to another broker; resigning")
		c.resign()
	}
}

func (c *Controller) elect(ctx context.Context) {
	fence, err := zkcoord.ElectController(ctx, c.zk, c.cfg.BrokerID)
	switch {
	case err == nil:
	case errors.Is(err, zkcoord.ErrControllerExists), errors.Is(err, zkcoord.ErrControllerMoved):
		c.log.WithError(err).Debug("not elected")
		return
	default:
		if ctx.Err() == nil {
			c.log.WithError(err).Warn("controller election failed; will retry")
			c.retryLater(evControllerChange{})
		}
		return
	}
	c.retryBackoff = 0
	c.term++
	c.active, c.fence = true, fence
	c.termCtx, c.termCancel = context.WithCancel(c.runCtx)
	c.senders = map[int32]*sender{}
	c.stateWatches = map[TP]bool{}
	c.log.WithFields(logrus.Fields{"epoch": fence.Epoch, "epoch_zk_version": fence.ZkVersion}).Info("elected controller")
	start := time.Now()
	if err := c.onFailover(ctx); err != nil {
		c.failed(ctx, err)
		return
	}
	c.log.WithFields(logrus.Fields{"epoch": fence.Epoch, "brokers": len(c.st.Live), "partitions": len(c.st.Leadership),
		"took": time.Since(start).Round(time.Millisecond)}).Info("controller failover done")
}

// resign is onControllerResignation: stop watches and senders, forget the
// state. Idempotent.
func (c *Controller) resign() {
	if !c.active {
		return
	}
	c.termCancel()
	for _, s := range c.senders {
		s.stop()
	}
	c.senders = nil
	c.st = nil
	c.active = false
	c.log.WithField("epoch", c.fence.Epoch).Info("resigned as controller")
}

// shutdown: an active controller deletes /controller (best effort, fenced)
// before resigning, so that the cluster does not wait for this broker's
// session to end.
func (c *Controller) shutdown() {
	if !c.active {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := zkcoord.DeleteController(ctx, c.zk, c.fence); err != nil && !errors.Is(err, zkcoord.ErrClosed) {
		c.log.WithError(err).Debug("could not delete /controller on shutdown")
	}
	c.resign()
}

// --- senders ----------------------------------------------------------------

// startSender (re)starts the request sender of broker b.
func (c *Controller) startSender(b Broker) {
	if old := c.senders[b.ID]; old != nil {
		old.stop()
		delete(c.senders, b.ID)
	}
	ep, ok := b.Endpoint(c.cfg.ListenerName)
	if !ok {
		c.log.WithFields(logrus.Fields{"target_broker": b.ID, "listener": c.cfg.ListenerName}).
			Error("broker has no endpoint for the inter-broker listener; requests to it are dropped")
		return
	}
	s := newSender(c.termCtx, b.ID, zkcoord.EndPoint{Host: ep.Host, Port: ep.Port}.Addr(), c.term, &c.cfg, c.log, c.events)
	if c.g.Go(fmt.Sprintf("controller-sender-%d", b.ID), s.run) {
		c.senders[b.ID] = s
	}
}

func (c *Controller) stopSender(id int32) {
	if s := c.senders[id]; s != nil {
		s.stop()
		delete(c.senders, id)
	}
}

// send queues the requests of a batch, built from the current state.
func (c *Controller) send(b *Batch) {
	for id, reqs := range c.st.buildBatch(b, c.cfg.ListenerName) {
		if s := c.senders[id]; s != nil {
			s.enqueue(reqs...)
		}
	}
}
