package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/sirupsen/logrus"

	"github.com/zkafka/zkafka/zkcoord"
)

// The active controller's event handlers: read ZooKeeper (re-arming the
// watch that fired), update State, ask decide.go for a Plan, execute it.

// maxWriteRetries bounds how often partitions whose conditional write
// conflicted are re-read and decided again within one event.
const maxWriteRetries = 5

// onFailover is 2.4's onControllerFailover.
func (c *Controller) onFailover(ctx context.Context) error {
	tctx, term := c.termCtx, c.term
	for _, p := range []string{zkcoord.BrokerIDsPath, zkcoord.TopicsPath, zkcoord.DeleteTopicsPath, zkcoord.IsrChangeNotificationPath} {
		if err := c.zk.EnsurePath(ctx, p); err != nil {
			return err
		}
	}
	// 1. Watches.
	if _, _, w, err := c.zk.ChildrenW(ctx, zkcoord.BrokerIDsPath); err != nil {
		return err
	} else {
		c.watch(tctx, w, evBrokerChange{term})
	}
	topics, _, w, err := c.zk.ChildrenW(ctx, zkcoord.TopicsPath)
	if err != nil {
		return err
	}
	c.watch(tctx, w, evTopicChange{term})
	markers, _, w, err := c.zk.ChildrenW(ctx, zkcoord.DeleteTopicsPath)
	if err != nil {
		return err
	}
	c.watch(tctx, w, evDeleteTopics{term})
	isrNotes, _, w, err := c.zk.ChildrenW(ctx, zkcoord.IsrChangeNotificationPath)
	if err != nil {
		return err
	}
	c.watch(tctx, w, evIsrChange{term})

	// 2. Context: live brokers, assignments, partition states.
	st := NewState(c.cfg.BrokerID, c.fence.Epoch)
	st.UncleanLeaderElection = c.cfg.UncleanLeaderElectionEnable
	live, err := c.readBrokers(ctx)
	if err != nil {
		return err
	}
	st.Live = live
	slices.Sort(topics)
	if _, err := c.loadTopics(ctx, st, topics, true); err != nil {
		return err
	}
	if err := c.readStates(ctx, st, st.Partitions()); err != nil {
		return err
	}
	c.st = st

	// 3. Leftover ISR change notifications: the states were just read.
	if len(isrNotes) > 0 {
		if err := zkcoord.DeleteIsrChangeNotifications(ctx, c.zk, c.fence, isrNotes); err != nil {
			return err
		}
	}
	// 4. Senders, deletions, then UpdateMetadata, elections, LeaderAndIsr.
	for _, id := range st.LiveIDs() {
		c.startSender(st.Live[id])
	}
	p := st.QueueDeletions(markers, c.cfg.DeleteTopicEnable)
	p.merge(st.PlanFailover())
	if err := c.execute(ctx, p); err != nil {
		return err
	}
	// 5. Reassignments recorded in topic znodes resume, then
	// /admin/reassign_partitions (arming its watch).
	if err := c.execute(ctx, st.PlanResumeReassignments(sortedTPKeysOf(st.Reassigning))); err != nil {
		return err
	}
	if err := c.onReassignZNode(ctx); err != nil {
		return err
	}
	// 6. Pending preferred-replica election (also arms its watch), then
	// the auto leader rebalance.
	if err := c.onPreferredElection(ctx); err != nil {
		return err
	}
	c.scheduleAutoRebalance(autoRebalanceFirstDelay)
	return nil
}

// readBrokers reads every registration under /brokers/ids.
func (c *Controller) readBrokers(ctx context.Context) (map[int32]Broker, error) {
	infos, err := c.zk.GetBrokers(ctx)
	if err != nil {
		return nil, err
	}
	live := make(map[int32]Broker, len(infos))
	for _, b := range infos {
		live[b.ID] = toBroker(b)
	}
	return live, nil
}

// loadTopics reads /brokers/topics/T of every topic with a data watch and
// their unclean election overrides, all pipelined, and adds their
// partitions to st (and, on failover, the reassignments they record). It
// returns the partitions that were new to st, sorted.
// Vanished topics add nothing; corrupt ones are logged and skipped.
func (c *Controller) loadTopics(ctx context.Context, st *State, topics []string, failover bool) ([]TP, error) {
	if len(topics) == 0 {
		return nil, nil
	}
	reads, err := c.zk.GetTopicsW(ctx, topics)
	if err != nil {
		return nil, err
	}
	present := make([]string, 0, len(reads))
	for _, t := range topics {
		if r, ok := reads[t]; ok {
			c.watch(c.termCtx, r.Watch, evTopicModified{term: c.term, topic: t})
			if r.Err != nil {
				c.log.WithError(r.Err).WithField("topic", t).Error("ignoring topic with a corrupt assignment")
				continue
			}
			present = append(present, t)
		}
	}
	cfgs, err := c.zk.GetTopicConfigs(ctx, present)
	if err != nil {
		return nil, err
	}
	var added []TP
	for _, t := range present {
		if v, ok := cfgs[t]["unclean.leader.election.enable"]; ok {
			if b, err := strconv.ParseBool(v); err == nil {
				st.TopicUnclean[t] = b
			}
		}
		added = append(added, st.AddPartitions(t, reads[t].Assignment.Partitions)...)
		if failover { // reassignments recorded in the topic znode resume
			st.NoteReassignments(t, reads[t].Assignment)
		}
	}
	sortTPs(added)
	return added, nil
}

func (c *Controller) loadTopicPartitions(ctx context.Context, st *State, topic string) ([]TP, error) {
	return c.loadTopics(ctx, st, []string{topic}, false)
}

// readStates reads the state znodes of tps into st (absent ones are
// forgotten: those partitions are new).
func (c *Controller) readStates(ctx context.Context, st *State, tps []TP) error {
	if len(tps) == 0 {
		return nil
	}
	ztps := make([]zkcoord.TopicPartition, len(tps))
	for i, tp := range tps {
		ztps[i] = zkcoord.TopicPartition{Topic: tp.Topic, Partition: tp.Partition}
	}
	states, err := c.zk.GetPartitionStates(ctx, ztps)
	if err != nil {
		return err
	}
	for i, tp := range tps {
		if ps, ok := states[ztps[i]]; ok {
			st.Leadership[tp] = Leadership{Leader: ps.Leader, LeaderEpoch: ps.LeaderEpoch, ISR: ps.Isr,
				ControllerEpoch: ps.ControllerEpoch, ZkVersion: ps.ZkVersion}
		} else {
			delete(st.Leadership, tp)
		}
	}
	return nil
}

// onBrokerChange is BrokerChange: brokers that appeared, disappeared or
// re-registered (new czxid).
func (c *Controller) onBrokerChange(ctx context.Context) error {
	_, _, w, err := c.zk.ChildrenW(ctx, zkcoord.BrokerIDsPath)
	if err != nil {
		return err
	}
	c.watch(c.termCtx, w, evBrokerChange{c.term})
	live, err := c.readBrokers(ctx)
	if err != nil {
		return err
	}
	failure, startup, dead, born := c.st.PlanBrokerChange(live)
	if len(dead) > 0 || len(born) > 0 {
		c.log.WithFields(logrus.Fields{"dead_or_bounced": dead, "new_or_bounced": born, "live": sortedKeys(live)}).Info("brokers changed")
	}
	for _, id := range dead {
		c.stopSender(id)
	}
	if err := c.execute(ctx, failure); err != nil {
		return err
	}
	for _, id := range born {
		c.startSender(live[id])
	}
	return c.execute(ctx, startup())
}

// onTopicChange is TopicChange: new topics get their partitions created;
// topics whose znode is gone are forgotten.
func (c *Controller) onTopicChange(ctx context.Context) error {
	topics, _, w, err := c.zk.ChildrenW(ctx, zkcoord.TopicsPath)
	if err != nil {
		return err
	}
	c.watch(c.termCtx, w, evTopicChange{c.term})
	present := map[string]bool{}
	for _, t := range topics {
		present[t] = true
	}
	for _, t := range sortedKeys(c.st.Assignments) {
		if !present[t] {
			c.st.TopicDeleted(t)
		}
	}
	slices.Sort(topics)
	var fresh []string
	for _, t := range topics {
		if c.st.Assignments[t] == nil {
			fresh = append(fresh, t)
		}
	}
	added, err := c.loadTopics(ctx, c.st, fresh, false)
	if err != nil {
		return err
	}
	if len(fresh) > 0 {
		c.log.WithFields(logrus.Fields{"topics": fresh, "partitions": len(added)}).Info("new topics")
	}
	return c.execute(ctx, c.st.PlanNewPartitions(added))
}

// onTopicModified is PartitionModifications: partitions added to a topic.
func (c *Controller) onTopicModified(ctx context.Context, topic string) error {
	if c.st.Assignments[topic] == nil {
		return nil // unknown (or gone): TopicChange handles it
	}
	added, err := c.loadTopicPartitions(ctx, c.st, topic)
	if err != nil || len(added) == 0 {
		return err
	}
	c.log.WithFields(logrus.Fields{"topic": topic, "new_partitions": len(added)}).Info("partitions added")
	return c.execute(ctx, c.st.PlanNewPartitions(added))
}

// onDeleteTopics is TopicDeletion: markers under /admin/delete_topics.
func (c *Controller) onDeleteTopics(ctx context.Context) error {
	markers, _, w, err := c.zk.ChildrenW(ctx, zkcoord.DeleteTopicsPath)
	if err != nil {
		return err
	}
	c.watch(c.termCtx, w, evDeleteTopics{c.term})
	p := c.st.QueueDeletions(markers, c.cfg.DeleteTopicEnable)
	p.merge(c.st.PlanDeletions())
	return c.execute(ctx, p)
}

// onIsrChange is IsrChangeNotification: leaders changed ISRs; re-read those
// states, tell every broker (UpdateMetadata), delete the notifications.
func (c *Controller) onIsrChange(ctx context.Context) error {
	names, _, w, err := c.zk.ChildrenW(ctx, zkcoord.IsrChangeNotificationPath)
	if err != nil {
		return err
	}
	c.watch(c.termCtx, w, evIsrChange{c.term})
	if len(names) == 0 {
		return nil
	}
	notes, err := zkcoord.GetIsrChangeNotifications(ctx, c.zk, names)
	if err != nil {
		return err
	}
	seen := map[TP]bool{}
	var tps []TP
	for _, n := range notes {
		for _, ztp := range n.Partitions {
			tp := TP{ztp.Topic, ztp.Partition}
			if !seen[tp] && c.st.Replicas(tp) != nil && c.st.Deleting[tp.Topic] == nil {
				seen[tp] = true
				tps = append(tps, tp)
			}
		}
	}
	if err := c.readStates(ctx, c.st, tps); err != nil {
		return err
	}
	if len(tps) > 0 {
		b := newBatch()
		b.addUpdateMetadata(c.st.LiveIDs(), tps...)
		c.send(b)
	}
	if err := zkcoord.DeleteIsrChangeNotifications(ctx, c.zk, c.fence, names); err != nil {
		return err
	}
	var reassigning []TP
	for _, tp := range tps {
		if c.st.Reassigning[tp] != nil {
			reassigning = append(reassigning, tp)
		}
	}
	return c.finishReassignments(ctx, reassigning)
}

// execute performs a plan: topic znode rewrites (TopicsBefore), Before
// requests, fenced state writes (applied to State), After requests without
// the partitions whose write failed, TopicsAfter rewrites, topic znode
// deletions, marker removals, /admin/reassign_partitions updates, and
// state watches. Writes that conflicted (BADVERSION, NODEEXISTS) are
// re-read and decided again by their own rule.
func (c *Controller) execute(ctx context.Context, p *Plan) error {
	for attempt := 0; p != nil; attempt++ {
		for _, t := range p.TopicsBefore {
			if err := c.writeTopic(ctx, t); err != nil {
				return err
			}
		}
		for _, b := range p.Before {
			c.send(b)
		}
		retry, dropped, err := c.writeStates(ctx, p.Writes)
		if err != nil {
			return err
		}
		var conflicts []TP
		for _, w := range retry {
			conflicts = append(conflicts, w.TP)
		}
		for _, tp := range append(conflicts, dropped...) {
			for _, b := range p.After {
				b.drop(tp)
			}
		}
		for _, b := range p.After {
			c.send(b)
		}
		for _, t := range p.TopicsAfter {
			if err := c.writeTopic(ctx, t); err != nil {
				return err
			}
		}
		for _, t := range p.DeleteTopics {
			if err := zkcoord.DeleteTopicZNodes(ctx, c.zk, c.fence, t); err != nil {
				return err
			}
			c.st.TopicDeleted(t)
			c.log.WithField("topic", t).Info("topic deleted")
		}
		if len(p.RemoveMarkers) > 0 {
			c.log.WithField("topics", p.RemoveMarkers).Info("removing topic deletion markers (unknown topics or deletion disabled)")
			if err := zkcoord.DeleteTopicDeletionMarkers(ctx, c.zk, c.fence, p.RemoveMarkers); err != nil {
				return err
			}
		}
		if len(p.ReassignDone) > 0 {
			if err := c.removeFromReassignZNode(ctx, c.completedIn(p.ReassignDone)); err != nil {
				return err
			}
		}
		for _, tp := range p.WatchStates {
			if err := c.watchState(ctx, tp); err != nil {
				return err
			}
		}
		p = nil
		if len(retry) > 0 {
			if attempt >= maxWriteRetries {
				return fmt.Errorf("partition state writes keep conflicting: %v", conflicts)
			}
			if err := c.readStates(ctx, c.st, conflicts); err != nil {
				return err
			}
			p = &Plan{}
			var plain []TP
			for _, w := range retry {
				if w.Replan != nil {
					p.merge(w.Replan())
				} else {
					plain = append(plain, w.TP)
				}
			}
			p.merge(c.st.PlanReconcile(plain))
		}
	}
	return nil
}

// writeStates performs the plan's state writes, fenced, and applies the
// successful ones to State. retry: conflicts to decide again; dropped:
// partitions whose topic is gone or whose write failed otherwise.
func (c *Controller) writeStates(ctx context.Context, writes []Write) (retry []Write, dropped []TP, err error) {
	if len(writes) == 0 {
		return nil, nil, nil
	}
	creates := map[zkcoord.TopicPartition]zkcoord.LeaderAndIsr{}
	updates := map[zkcoord.TopicPartition]zkcoord.PartitionStateUpdate{}
	byTP := map[zkcoord.TopicPartition]Write{}
	for _, w := range writes {
		ztp := zkcoord.TopicPartition{Topic: w.TP.Topic, Partition: w.TP.Partition}
		byTP[ztp] = w
		l := zkcoord.LeaderAndIsr{Leader: w.New.Leader, LeaderEpoch: w.New.LeaderEpoch, Isr: w.New.ISR, ControllerEpoch: w.New.ControllerEpoch}
		if w.Create {
			creates[ztp] = l
		} else {
			updates[ztp] = zkcoord.PartitionStateUpdate{State: l, ExpectedZkVersion: w.New.ZkVersion}
		}
	}
	results := map[zkcoord.TopicPartition]zkcoord.PartitionWriteResult{}
	if len(creates) > 0 {
		res, err := zkcoord.CreatePartitionStates(ctx, c.zk, c.fence, creates)
		if err != nil {
			return nil, nil, err
		}
		for k, v := range res {
			results[k] = v
		}
	}
	if len(updates) > 0 {
		res, err := zkcoord.UpdatePartitionStates(ctx, c.zk, c.fence, updates)
		if err != nil {
			return nil, nil, err
		}
		for k, v := range res {
			results[k] = v
		}
	}
	for ztp, w := range byTP {
		r, ok := results[ztp]
		switch {
		case ok && r.Err == nil:
			c.st.Apply(w, r.ZkVersion)
			c.log.WithFields(logrus.Fields{"topic": w.TP.Topic, "partition": w.TP.Partition, "leader": w.New.Leader,
				"leader_epoch": w.New.LeaderEpoch, "isr": w.New.ISR}).Debug("partition state written")
		case ok && (errors.Is(r.Err, zkcoord.ErrBadVersion) || errors.Is(r.Err, zkcoord.ErrNodeExists)):
			retry = append(retry, w)
		default:
			c.log.WithError(r.Err).WithField("topic", w.TP.Topic).Warn("partition state write failed")
			dropped = append(dropped, w.TP)
		}
	}
	slices.SortFunc(retry, func(a, b Write) int { return a.TP.compare(b.TP) })
	return retry, dropped, nil
}

// securityProtocols maps protocol names to their ids in UpdateMetadata.
var securityProtocols = map[string]int16{
	zkcoord.SecurityProtocolPlaintext: 0, zkcoord.SecurityProtocolSSL: 1,
	zkcoord.SecurityProtocolSASLPlaintext: 2, zkcoord.SecurityProtocolSASLSSL: 3,
}

func toBroker(b zkcoord.BrokerInfo) Broker {
	out := Broker{ID: b.ID, Epoch: b.Epoch, Rack: b.Rack}
	for _, e := range b.Endpoints {
		proto := e.SecurityProtocol
		if proto == "" {
			proto = e.ListenerName
		}
		out.Endpoints = append(out.Endpoints, Endpoint{Listener: e.ListenerName, Host: e.Host, Port: e.Port,
			SecurityProtocol: securityProtocols[proto]})
	}
	return out
}
