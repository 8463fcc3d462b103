package controller

import (
	"context"
	"errors"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/zkafka/zkafka/zkcoord"
)

// Handlers of the admin znodes and the auto leader rebalance.

// autoRebalanceFirstDelay is when the first imbalance check runs after an
// election (2.4 schedules it 5 s after failover).
const autoRebalanceFirstDelay = 5 * time.Second

// readAdminZNode reads an /admin znode and watches it for its creation or
// change (the watch fires ev); ok is false when it does not exist.
func (c *Controller) readAdminZNode(ctx context.Context, path string, ev event) (data []byte, ok bool, err error) {
	ok, _, w, err := c.zk.ExistsW(ctx, path)
	if err != nil {
		return nil, false, err
	}
	c.watch(c.termCtx, w, ev)
	if !ok {
		return nil, false, nil
	}
	data, _, err = c.zk.Get(ctx, path)
	if errors.Is(err, zkcoord.ErrNoNode) {
		return nil, false, nil
	}
	return data, err == nil, err
}

// onPreferredElection is PreferredReplicaElection: /admin/preferred_replica_election
// was created (or the controller just failed over). The partitions it lists
// get a preferred-replica election, then the znode is deleted (fenced).
func (c *Controller) onPreferredElection(ctx context.Context) error {
	path := zkcoord.PreferredReplicaElectionPath
	data, ok, err := c.readAdminZNode(ctx, path, evPreferredElection{c.term})
	if err != nil || !ok {
		return err
	}
	ztps, err := zkcoord.DecodePreferredReplicaElection(data)
	if err != nil {
		c.log.WithError(err).Error("ignoring a corrupt " + path)
	} else {
		var tps []TP
		for _, z := range ztps {
			tp := TP{z.Topic, z.Partition}
			if c.st.Replicas(tp) != nil && c.st.Deleting[tp.Topic] == nil {
				tps = append(tps, tp)
			}
		}
		p, results, err := c.planElection(ctx, tps, ElectPreferredLeader)
		if err != nil {
			return err
		}
		if err := c.execute(ctx, p); err != nil {
			return err
		}
		c.logElection(ElectPreferredLeader, "zookeeper", results)
	}
	return zkcoord.FencedDelete(ctx, c.zk, c.fence, path)
}

// scheduleAutoRebalance queues an imbalance check of this term after d.
func (c *Controller) scheduleAutoRebalance(d time.Duration) {
	if !c.cfg.AutoLeaderRebalanceEnable {
		return
	}
	ctx, term := c.termCtx, c.term
	c.g.Go("controller-auto-rebalance", func() {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			c.events.push(evAutoRebalance{term})
		case <-ctx.Done():
		}
	})
}

// onAutoRebalance is AutoPreferredReplicaLeaderElection: elect the preferred
// replicas of brokers whose leader imbalance exceeds
// leader.imbalance.per.broker.percentage, then check again after
// leader.imbalance.check.interval.seconds.
func (c *Controller) onAutoRebalance(ctx context.Context) error {
	defer c.scheduleAutoRebalance(c.cfg.LeaderImbalanceCheckInterval)
	tps := c.st.ImbalancedPartitions(c.cfg.LeaderImbalancePerBrokerPercentage)
	if len(tps) == 0 {
		return nil
	}
	c.log.WithFields(logrus.Fields{"partitions": len(tps)}).Info("leader imbalance above the threshold; electing preferred replicas")
	p, results, err := c.planElection(ctx, tps, ElectPreferredLeader)
	if err != nil {
		return err
	}
	if err := c.execute(ctx, p); err != nil {
		return err
	}
	c.logElection(ElectPreferredLeader, "auto rebalance", results)
	return nil
}
