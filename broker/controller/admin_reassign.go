package controller

import (
	"context"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
)

// The AlterPartitionReassignments and ListPartitionReassignments APIs
// (KIP-455). Both are events on the controller's queue, like the
// /admin/reassign_partitions znode: one reassignment engine
// (decide_reassign.go) serves both triggers, and the topic znode's
// adding_replicas/removing_replicas record every reassignment in progress,
// whoever started it.

// AlterReassignmentsResult is the controller's answer to
// AlterPartitionReassignments: a top-level error code (NOT_CONTROLLER when
// this broker is not the controller) or one result per partition.
type AlterReassignmentsResult struct {
	ErrorCode int16
	Results   map[TP]ReassignResult
}

type evAlterReassignments struct {
	reqs  map[TP]ReassignTarget
	reply chan AlterReassignmentsResult
}

// AlterPartitionReassignments starts, replaces or cancels the reassignments
// of reqs, as 2.4's processApiPartitionReassignment. The answer comes once
// the topic znodes and state znodes were written (not when the
// reassignments complete). It fails only when ctx ends first.
func (c *Controller) AlterPartitionReassignments(ctx context.Context, reqs map[TP]ReassignTarget) (AlterReassignmentsResult, error) {
	reply := make(chan AlterReassignmentsResult, 1)
	c.events.push(evAlterReassignments{reqs: reqs, reply: reply})
	select {
	case r := <-reply:
		return r, nil
	case <-ctx.Done():
		return AlterReassignmentsResult{}, ctx.Err()
	}
}

// onAlterReassignments is processApiPartitionReassignment: validate, take
// the partitions out of /admin/reassign_partitions (the latest
// reassignment, API or ZooKeeper, wins), then run them as the znode's are.
func (c *Controller) onAlterReassignments(ctx context.Context, e evAlterReassignments) {
	res := AlterReassignmentsResult{Results: map[TP]ReassignResult{}}
	defer func() { e.reply <- res }()
	if !c.active {
		res.ErrorCode = kerr.NotController.Code
		return
	}
	var known []TP
	for tp := range e.reqs {
		if c.st.Replicas(tp) != nil {
			known = append(known, tp)
		}
	}
	sortTPs(known)
	err := c.readStates(ctx, c.st, known)
	if err == nil {
		err = c.alterReassignments(ctx, e.reqs, res.Results)
	}
	if err != nil {
		code := errorCode(err)
		for tp := range e.reqs {
			if r, ok := res.Results[tp]; !ok || r.ErrorCode == 0 {
				res.Results[tp] = ReassignResult{ErrorCode: code, Message: err.Error()}
			}
		}
		c.failed(ctx, err)
	}
}

func (c *Controller) alterReassignments(ctx context.Context, reqs map[TP]ReassignTarget, results map[TP]ReassignResult) error {
	targets, refused := c.st.ValidateAlterReassignments(reqs)
	for tp, r := range refused {
		results[tp] = r
	}
	if len(targets) == 0 {
		return nil
	}
	tps := sortedTPKeysOf(targets)
	if err := c.removeFromReassignZNode(ctx, inTPs(tps)); err != nil {
		return err
	}
	p, failed := c.st.PlanReassignment(targets)
	for _, tp := range tps {
		results[tp] = ReassignResult{}
	}
	for _, tp := range failed {
		results[tp] = unknownPartitionResult
	}
	c.log.WithFields(logrus.Fields{"partitions": len(targets) - len(failed), "failed": failed, "refused": len(refused)}).
		Info("partition reassignment requested through the API")
	if err := c.execute(ctx, p); err != nil {
		return err
	}
	if len(p.ReassignDone) > 0 {
		return c.execute(ctx, c.st.PlanDeletions())
	}
	return nil
}

// ListReassignmentsResult is the controller's answer to
// ListPartitionReassignments: a top-level error code (NOT_CONTROLLER) or
// the partitions being reassigned.
type ListReassignmentsResult struct {
	ErrorCode     int16
	Reassignments map[TP]OngoingReassignment
}

type evListReassignments struct {
	tps   []TP // nil: every partition
	reply chan ListReassignmentsResult
}

// ListPartitionReassignments returns the reassignments in progress among
// tps (nil: all), as 2.4's processListPartitionReassignments. It fails only
// when ctx ends first.
func (c *Controller) ListPartitionReassignments(ctx context.Context, tps []TP) (ListReassignmentsResult, error) {
	reply := make(chan ListReassignmentsResult, 1)
	c.events.push(evListReassignments{tps: tps, reply: reply})
	select {
	case r := <-reply:
		return r, nil
	case <-ctx.Done():
		return ListReassignmentsResult{}, ctx.Err()
	}
}

func (c *Controller) onListReassignments(e evListReassignments) {
	if !c.active {
		e.reply <- ListReassignmentsResult{ErrorCode: kerr.NotController.Code}
		return
	}
	e.reply <- ListReassignmentsResult{Reassignments: c.st.ListReassignments(e.tps)}
}
