package controller

import (
	"context"
	"errors"

	"github.com/sirupsen/logrus"

	"github.com/zkafka/zkafka/zkcoord"
)

// Handlers of partition reassignment (decide_reassign.go has the rules).

// writeTopic rewrites /brokers/topics/T from State (replicas, and
// adding/removing replicas of partitions being reassigned), fenced. A
// topic that is gone is skipped.
func (c *Controller) writeTopic(ctx context.Context, topic string) error {
	if c.st.Assignments[topic] == nil {
		return nil
	}
	data := zkcoord.EncodeTopicAssignment(c.st.TopicAssignmentOf(topic))
	_, err := zkcoord.FencedMulti(ctx, c.zk, c.fence, zkcoord.SetDataOp(zkcoord.TopicPath(topic), data, zkcoord.AnyVersion))
	if errors.Is(err, zkcoord.ErrNoNode) && !errors.Is(err, zkcoord.ErrControllerMoved) {
		return nil
	}
	return err
}

// removeFromReassignZNode is maybeRemoveFromZkReassignment: the entries
// for which remove is true leave /admin/reassign_partitions, which is
// deleted once empty (both fenced).
func (c *Controller) removeFromReassignZNode(ctx context.Context, remove func(zkcoord.PartitionReassignment) bool) error {
	path := zkcoord.ReassignPartitionsPath
	data, _, err := c.zk.Get(ctx, path)
	if errors.Is(err, zkcoord.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	entries, err := zkcoord.DecodeReassignPartitions(data)
	if err != nil {
		c.log.WithError(err).Error("deleting a corrupt " + path)
		return zkcoord.FencedDelete(ctx, c.zk, c.fence, path)
	}
	var rest []zkcoord.PartitionReassignment
	for _, e := range entries {
		if !remove(e) {
			rest = append(rest, e)
		}
	}
	if len(rest) == len(entries) {
		return nil
	}
	if len(rest) == 0 {
		c.log.Info("No more partitions need to be reassigned. Deleting zk path " + path)
		return zkcoord.FencedDelete(ctx, c.zk, c.fence, path)
	}
	_, err = zkcoord.FencedMulti(ctx, c.zk, c.fence, zkcoord.SetDataOp(path, zkcoord.EncodeReassignPartitions(rest), zkcoord.AnyVersion))
	return err
}

// inTPs returns a removeFromReassignZNode predicate: the entries of tps.
func inTPs(tps []TP) func(zkcoord.PartitionReassignment) bool {
	set := map[TP]bool{}
	for _, tp := range tps {
		set[tp] = true
	}
	return func(e zkcoord.PartitionReassignment) bool { return set[TP{e.Topic, e.Partition}] }
}

// completedIn returns the removeFromReassignZNode predicate of completed
// reassignments (2.4's removePartitionFromReassigningPartitions): an entry
// of tps leaves only if its target is the partition's replica list now,
// so a newer target written meanwhile stays and runs.
func (c *Controller) completedIn(tps []TP) func(zkcoord.PartitionReassignment) bool {
	in := inTPs(tps)
	return func(e zkcoord.PartitionReassignment) bool {
		return in(e) && equalIDs(e.Replicas, c.st.Replicas(TP{e.Topic, e.Partition}))
	}
}

// watchState arms a data watch on the state znode of a partition being
// reassigned (PartitionReassignmentIsrChangeHandler), once per term.
func (c *Controller) watchState(ctx context.Context, tp TP) error {
	if c.stateWatches[tp] {
		return nil
	}
	_, _, w, err := c.zk.GetW(ctx, zkcoord.PartitionStatePath(tp.Topic, tp.Partition))
	if errors.Is(err, zkcoord.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	c.stateWatches[tp] = true
	c.watch(c.termCtx, w, evReassignIsr{term: c.term, tp: tp})
	return nil
}

// onReassignZNode is ZkPartitionReassignment: /admin/reassign_partitions
// was created or changed (or the controller failed over). New targets
// start; unknown partitions are removed from the znode.
func (c *Controller) onReassignZNode(ctx context.Context) error {
	path := zkcoord.ReassignPartitionsPath
	data, ok, err := c.readAdminZNode(ctx, path, evReassign{c.term})
	if err != nil || !ok {
		return err
	}
	entries, err := zkcoord.DecodeReassignPartitions(data)
	if err != nil {
		c.log.WithError(err).Error("deleting a corrupt " + path)
		return zkcoord.FencedDelete(ctx, c.zk, c.fence, path)
	}
	targets := map[TP][]int32{}
	var known []TP
	for _, e := range entries {
		tp := TP{e.Topic, e.Partition}
		if r := c.st.Reassigning[tp]; r != nil && equalIDs(r.Target, e.Replicas) {
			continue // already under way
		}
		targets[tp] = e.Replicas
		if c.st.Replicas(tp) != nil {
			known = append(known, tp)
		}
	}
	if len(targets) == 0 {
		return nil
	}
	if err := c.readStates(ctx, c.st, known); err != nil {
		return err
	}
	p, failed := c.st.PlanReassignment(targets)
	c.log.WithFields(logrus.Fields{"partitions": len(targets) - len(failed), "failed": failed}).Info("partition reassignment requested")
	if err := c.execute(ctx, p); err != nil {
		return err
	}
	if len(failed) > 0 {
		c.log.WithField("partitions", failed).Warn("removing reassignments of unknown partitions, topics being deleted or invalid targets")
		return c.removeFromReassignZNode(ctx, inTPs(failed))
	}
	return nil
}

// onReassignIsr is PartitionReassignmentIsrChange: the state znode of a
// partition being reassigned changed; once its target is in sync the
// reassignment completes.
func (c *Controller) onReassignIsr(ctx context.Context, tp TP) error {
	delete(c.stateWatches, tp)
	if c.st.Reassigning[tp] == nil {
		return nil
	}
	if err := c.readStates(ctx, c.st, []TP{tp}); err != nil {
		return err
	}
	return c.finishReassignments(ctx, []TP{tp})
}

// finishReassignments completes the reassignments of tps whose target is in
// sync (states freshly read), resumes deletions they held back, and keeps
// watching the others.
func (c *Controller) finishReassignments(ctx context.Context, tps []TP) error {
	p := &Plan{}
	for _, tp := range tps {
		if c.st.Reassigning[tp] == nil {
			continue
		}
		step := c.st.PlanReassignmentIsrChange(tp)
		if len(step.Writes) == 0 {
			step.WatchStates = append(step.WatchStates, tp)
		} else {
			c.log.WithFields(logrus.Fields{"topic": tp.Topic, "partition": tp.Partition}).Info("reassignment target in sync; completing")
		}
		p.merge(step)
	}
	if err := c.execute(ctx, p); err != nil {
		return err
	}
	if len(p.ReassignDone) > 0 {
		return c.execute(ctx, c.st.PlanDeletions())
	}
	return nil
}

func equalIDs(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
