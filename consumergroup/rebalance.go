package consumergroup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/zkafka/zkafka/zkcoord"
)

// errInterrupted: an attempt stopped because something changed (a watch
// or a session event): start over at once with fresh state.
var errInterrupted = errors.New("interrupted by a change")

// rebalance is Kafka's syncedRebalance: stop fetching, commit, release, and
// then up to rebalance.max.retries attempts to read the group, assign and
// claim. It reports success; on failure nothing is owned.
func (c *Consumer) rebalance(ctx context.Context) bool {
	start := time.Now()
	c.log.Info("rebalance started")
	c.stopFetching()
	if err := c.commit(ctx); err != nil {
		c.log.WithError(err).Warn("commit before releasing partitions failed")
	}
	c.releaseAll(ctx)
	c.setGeneration(nil, false)
	for attempt := 1; attempt <= c.cfg.RebalanceMaxRetries; attempt++ {
		c.drainWatches(ctx)
		err := c.rebalanceAttempt(ctx)
		if err == nil {
			c.log.WithFields(logrus.Fields{"attempt": attempt, "took": time.Since(start).Round(time.Millisecond), "partitions": tpList(c.r.owned)}).
				Info("rebalance done")
			return true
		}
		c.releaseAll(ctx)
		if ctx.Err() != nil || len(c.r.pendingSess) > 0 {
			return false
		}
		c.log.WithError(err).WithField("attempt", attempt).Info("rebalance attempt failed")
		if errors.Is(err, errInterrupted) {
			continue
		}
		if attempt < c.cfg.RebalanceMaxRetries && !c.backoff(ctx) {
			return false
		}
	}
	c.log.WithField("attempts", c.cfg.RebalanceMaxRetries).
		Errorf("can't rebalance after %d retries; retrying after %s or the next change", c.cfg.RebalanceMaxRetries, c.cfg.RebalanceBackoff)
	return false
}

// backoff waits rebalance.backoff.ms, cut short by a watch (something
// changed: retry now). It returns false if a session event or Close
// interrupted it.
func (c *Consumer) backoff(ctx context.Context) bool {
	t := time.NewTimer(c.cfg.RebalanceBackoff)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case w := <-c.r.watches:
		c.onWatch(ctx, w)
		return true
	case ev, ok := <-c.r.sess:
		if ok {
			c.r.pendingSess = append(c.r.pendingSess, ev)
		}
		return false
	case <-ctx.Done():
		return false
	}
}

// rebalanceAttempt reads the group, assigns, claims and starts fetching.
func (c *Consumer) rebalanceAttempt(ctx context.Context) error {
	c.refreshBrokers(ctx)
	if c.r.noBrokers {
		// Kafka: no brokers, nothing to consume; the /brokers/ids watch
		// triggers the next rebalance
		c.log.Warn("no brokers registered in ZooKeeper; waiting for one")
		c.r.claimSession = c.zk.SessionID()
		return nil
	}
	ac, err := c.readAssignmentContext(ctx)
	if err != nil {
		return err
	}
	mine := Mine(Assign(c.cfg.Strategy, ac), c.id)
	c.log.WithFields(logrus.Fields{"members": len(ac.Consumers), "assigned": tpList(mine)}).Debug("assignment computed")
	c.r.claimSession = c.zk.SessionID()
	if err := c.claimAll(ctx, mine); err != nil {
		return err
	}
	// Offsets are read after the claims: the previous owner commits before
	// it releases, so what we read now is its final word.
	c.r.committed = map[TopicPartition]int64{}
	c.r.starts = map[TopicPartition]int64{}
	for _, tp := range sortedTPs(mine) {
		off, ok, err := c.zk.GetConsumerOffset(ctx, c.cfg.Group, tp.Topic, tp.Partition)
		if err != nil {
			return err
		}
		if ok {
			c.r.committed[tp] = off
			c.r.starts[tp] = off
		} else {
			c.r.starts[tp] = c.resetOffset()
		}
	}
	c.startFetching(c.r.owned)
	return nil
}

// readAssignmentContext reads members, topics and partition counts,
// arming the watches Kafka's consumer has: the ids children, the data of
// each subscribed topic, and /brokers/topics children for wildcards.
func (c *Consumer) readAssignmentContext(ctx context.Context) (AssignmentContext, error) {
	idsPath := zkcoord.ConsumerGroupIDsPath(c.cfg.Group)
	members, w, err := c.zk.GetConsumerMembers(ctx, c.cfg.Group, !c.r.armed[idsPath])
	if err != nil {
		return AssignmentContext{}, err
	}
	c.arm(idsPath, w)
	if !slices.ContainsFunc(members, func(m zkcoord.ConsumerMember) bool { return m.ID == c.id }) {
		// our registration is gone while the session lives (deleted by
		// hand?): register again and re-read
		if err := c.zk.RegisterConsumer(ctx, c.cfg.Group, c.id, c.cfg.registration()); err != nil {
			return AssignmentContext{}, err
		}
		return AssignmentContext{}, fmt.Errorf("%w: own registration was missing; registered again", errInterrupted)
	}
	wildcard := c.cfg.Whitelist != "" || c.cfg.Blacklist != ""
	anyWildcard := wildcard
	for _, m := range members {
		if m.Registration.Pattern != zkcoord.ConsumerPatternStatic {
			anyWildcard = true
		}
	}
	var allTopics []string
	if anyWildcard {
		if wildcard && !c.r.armed[zkcoord.TopicsPath] {
			if err := c.zk.EnsurePath(ctx, zkcoord.TopicsPath); err != nil {
				return AssignmentContext{}, err
			}
			var w <-chan zkcoord.Event
			allTopics, _, w, err = c.zk.ChildrenW(ctx, zkcoord.TopicsPath)
			c.arm(zkcoord.TopicsPath, w)
		} else {
			allTopics, err = c.zk.GetAllTopics(ctx)
		}
		if err != nil {
			return AssignmentContext{}, err
		}
	}
	mySub, err := ResolveSubscription(c.cfg.registration(), allTopics, !c.cfg.IncludeInternalTopics)
	if err != nil {
		return AssignmentContext{}, err
	}
	needed := map[string]bool{}
	for t := range mySub {
		needed[t] = true
	}
	for _, m := range members {
		sub, _ := ResolveSubscription(m.Registration, allTopics, !c.cfg.IncludeInternalTopics)
		for t := range sub {
			needed[t] = true
		}
	}
	partitions := map[string][]int32{}
	for t := range needed {
		if _, mine := mySub[t]; mine && !c.r.armed[zkcoord.TopicPath(t)] {
			// an exists watch also covers a topic created later
			_, _, w, err := c.zk.ExistsW(ctx, zkcoord.TopicPath(t))
			if err != nil {
				return AssignmentContext{}, err
			}
			c.arm(zkcoord.TopicPath(t), w)
		}
		a, _, err := c.zk.GetTopicAssignment(ctx, t)
		if errors.Is(err, zkcoord.ErrNoNode) {
			continue
		}
		if err != nil {
			return AssignmentContext{}, err
		}
		partitions[t] = a.SortedPartitions()
	}
	return NewAssignmentContext(c.id, members, allTopics, partitions, !c.cfg.IncludeInternalTopics), nil
}

// claimAll creates the owner znodes of mine in order. A partition still
// owned by someone else is waited for with a watch on its owner znode, up
// to rebalance.backoff.ms in all; a change in the group (any of our
// watches) or a session event interrupts the attempt.
func (c *Consumer) claimAll(ctx context.Context, mine map[TopicPartition]string) error {
	deadline := time.NewTimer(c.cfg.RebalanceBackoff)
	defer deadline.Stop()
	for _, tp := range sortedTPs(mine) {
		th := mine[tp]
		for {
			ok, owner, err := c.zk.ClaimPartitionOwner(ctx, c.cfg.Group, tp, th)
			if err != nil {
				return err
			}
			if ok {
				c.r.owned[tp] = th
				c.emit(Claimed, tp, th)
				break
			}
			exists, w, err := c.zk.WatchPartitionOwner(ctx, c.cfg.Group, tp)
			if err != nil {
				return err
			}
			if !exists {
				continue
			}
			c.log.WithFields(logrus.Fields{"partition": tp.String(), "owner": owner}).Debug("waiting for the previous owner to release")
			select {
			case <-w:
			case <-deadline.C:
				return fmt.Errorf("%s is still owned by %s", tp, owner)
			case fw := <-c.r.watches:
				if c.onWatch(ctx, fw) {
					return errInterrupted
				}
			case ev, ok := <-c.r.sess:
				if ok {
					c.r.pendingSess = append(c.r.pendingSess, ev)
				}
				return errInterrupted
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}
