package consumergroup

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/zkafka/zkafka/zkcoord"
)

// Errors returned by Consumer methods.
var (
	// ErrClosed: the consumer was closed.
	ErrClosed = errors.New("consumergroup: consumer closed")
	// ErrNotOwned: MarkOffset for a message whose partition this consumer
	// no longer owns (a rebalance or a session loss happened since Fetch
	// returned it). Its offset is not committed; the next owner will
	// deliver the message again.
	ErrNotOwned = errors.New("consumergroup: partition no longer owned by this consumer (rebalanced since the message was fetched)")
)

// Message is one record delivered by Fetch.
type Message struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Time      time.Time
	// Generation is the fetch generation the message belongs to: every
	// stop of the fetchers (rebalance, ZooKeeper disconnection or session
	// loss) starts a new one, and MarkOffset refuses older generations.
	Generation int64
}

// Consumer is one member of a classic ZooKeeper consumer group. Fetch,
// MarkOffset, Commit, Assignment and Close may be called from any
// goroutine. All group state (registration, watches, owned partitions,
// fetchers, committed offsets) is owned by one goroutine; Fetch and
// MarkOffset share only the generation, the owned set and the marks, under
// a small mutex.
type Consumer struct {
	cfg   Config
	id    string
	log   logrus.FieldLogger
	zk    *zkcoord.Session
	msgs  chan Message
	reqs  chan request
	stop  chan struct{} // closed by Close or abandon
	done  chan struct{} // closed when run has returned
	once  sync.Once
	close struct {
		mu    sync.Mutex
		ctx   context.Context // for the shutdown work
		crash bool
		err   error
	}

	mu         sync.Mutex
	gen        int64                     // current fetch generation
	delivering bool                      // messages of gen may be handed out
	owned      map[TopicPartition]string // partition → thread id, as claimed
	marks      map[TopicPartition]int64  // next offset to commit

	r runState // owned by run
}

type request struct {
	commit bool
	ctx    context.Context
	reply  chan error
}

// Join registers a new member of cfg.Group and returns once the member is
// registered and its first rebalance has completed (or failed, which is
// logged and retried after the next change). ctx bounds only the joining.
func Join(ctx context.Context, cfg Config) (*Consumer, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	id := NewConsumerID(cfg.Group, cfg.ConsumerID)
	log := cfg.Logger.WithFields(logrus.Fields{"component": "consumergroup", "group": cfg.Group, "consumer_id": id})
	cctx, cancel := context.WithTimeout(ctx, cfg.ConnectionTimeout)
	zk, err := zkcoord.Connect(cctx, cfg.ZooKeeper, cfg.SessionTimeout, cfg.Logger)
	cancel()
	if err != nil {
		return nil, err
	}
	c := &Consumer{
		cfg: cfg, id: id, log: log, zk: zk,
		msgs:  make(chan Message, 1024),
		reqs:  make(chan request),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		owned: map[TopicPartition]string{},
		marks: map[TopicPartition]int64{},
	}
	c.r.init()
	c.r.sess, c.r.unsubscribe = zk.Subscribe()
	if err := zk.RegisterConsumer(ctx, cfg.Group, id, cfg.registration()); err != nil {
		c.r.unsubscribe()
		zk.Close()
		return nil, err
	}
	log.WithField("subscription", string(zkcoord.EncodeConsumerRegistration(cfg.registration()))).Info("registered consumer")
	first := make(chan struct{})
	go c.run(first)
	select {
	case <-first:
		return c, nil
	case <-ctx.Done():
		c.Close(context.Background())
		return nil, ctx.Err()
	}
}

// ID is the member's consumer id (the child name under /consumers/<g>/ids).
func (c *Consumer) ID() string { return c.id }

// Assignment returns the partitions this consumer currently owns (with
// the owning thread ids) and the fetch generation; empty while
// rebalancing or disconnected from ZooKeeper.
func (c *Consumer) Assignment() (generation int64, owned map[TopicPartition]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	owned = make(map[TopicPartition]string, len(c.owned))
	if c.delivering {
		for tp, th := range c.owned {
			owned[tp] = th
		}
	}
	return c.gen, owned
}

// Fetch returns the next message from any partition this consumer owns,
// blocking until one arrives, ctx ends or the consumer is closed. It never
// returns a message of a generation that has ended: once a rebalance
// starts, the ZooKeeper connection is lost or the session expires,
// messages already fetched for released partitions are dropped.
func (c *Consumer) Fetch(ctx context.Context) (Message, error) {
	for {
		select {
		case m := <-c.msgs:
			c.mu.Lock()
			ok := c.delivering && m.Generation == c.gen
			c.mu.Unlock()
			if ok {
				return m, nil
			}
		case <-ctx.Done():
			return Message{}, ctx.Err()
		case <-c.stop:
			return Message{}, ErrClosed
		}
	}
}

// MarkOffset records that m has been processed: the next commit writes
// m.Offset+1 for its partition. It returns ErrNotOwned if m's generation
// has ended (see Message.Generation).
func (c *Consumer) MarkOffset(m Message) error {
	tp := TopicPartition{Topic: m.Topic, Partition: m.Partition}
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.Generation != c.gen || !c.delivering {
		return ErrNotOwned
	}
	if _, ok := c.owned[tp]; !ok {
		return ErrNotOwned
	}
	if next := m.Offset + 1; next > c.marks[tp] {
		c.marks[tp] = next
	}
	return nil
}

// Commit writes the marked offsets of the owned partitions that changed
// since the last commit, in one ZooKeeper multi.
func (c *Consumer) Commit(ctx context.Context) error {
	req := request{commit: true, ctx: ctx, reply: make(chan error, 1)}
	select {
	case c.reqs <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stop:
		return ErrClosed
	}
	select {
	case err := <-req.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops fetching, commits the marked offsets, releases the owned
// partitions, deletes the registration and closes the ZooKeeper session.
// ctx bounds the clean-up; the session is closed in any case. Idempotent.
func (c *Consumer) Close(ctx context.Context) error {
	return c.shutdown(ctx, false)
}

// abandon simulates a crash (tests): fetching stops and the ZooKeeper
// session is closed without committing or deleting anything; the server
// drops the ephemerals with the session.
func (c *Consumer) abandon() { _ = c.shutdown(context.Background(), true) }

func (c *Consumer) shutdown(ctx context.Context, crash bool) error {
	c.once.Do(func() {
		c.close.mu.Lock()
		c.close.ctx, c.close.crash = ctx, crash
		c.close.mu.Unlock()
		close(c.stop)
	})
	select {
	case <-c.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	c.close.mu.Lock()
	defer c.close.mu.Unlock()
	return c.close.err
}

// setOwned publishes a new generation: delivering with the given owned set,
// or stopped (owned nil, delivering false). Marks of partitions no longer
// owned are dropped.
func (c *Consumer) setGeneration(owned map[TopicPartition]string, delivering bool) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.delivering = delivering
	c.owned = map[TopicPartition]string{}
	for tp, th := range owned {
		c.owned[tp] = th
	}
	for tp := range c.marks {
		if _, ok := c.owned[tp]; !ok {
			delete(c.marks, tp)
		}
	}
	return c.gen
}

// pendingMarks returns the marks that differ from the committed offsets.
func (c *Consumer) pendingMarks(committed map[TopicPartition]int64) map[TopicPartition]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[TopicPartition]int64{}
	for tp, off := range c.marks {
		if cur, ok := committed[tp]; !ok || cur != off {
			out[tp] = off
		}
	}
	return out
}

// marked returns the mark of tp (ok false if none).
func (c *Consumer) marked(tp TopicPartition) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	off, ok := c.marks[tp]
	return off, ok
}

func (c *Consumer) emit(kind OwnershipKind, tp TopicPartition, thread string) {
	if c.cfg.OnOwnership != nil {
		c.cfg.OnOwnership(OwnershipEvent{Kind: kind, Partition: tp, ThreadID: thread, Time: time.Now()})
	}
}

func (c *Consumer) String() string { return fmt.Sprintf("consumer %s of group %s", c.id, c.cfg.Group) }
