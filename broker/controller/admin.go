package controller

import (
	"context"
	"errors"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/zkafka/zkafka/zkcoord"
)

// Requests other parts of the broker make to the controller (the
// ControlledShutdown and ElectLeaders APIs). Each is an event on the loop
// with a reply channel; a broker that is not the active controller answers
// NOT_CONTROLLER.

// ControlledShutdownResult is the controller's answer to a controlled
// shutdown: an error code (0, NOT_CONTROLLER, BROKER_NOT_AVAILABLE,
// STALE_BROKER_EPOCH, UNKNOWN_SERVER_ERROR) and the replicated partitions
// the broker still leads.
type ControlledShutdownResult struct {
	ErrorCode int16
	Remaining []TP
}

type evControlledShutdown struct {
	broker int32
	epoch  int64 // -1: unknown (ControlledShutdown v0-1)
	reply  chan ControlledShutdownResult
}

// ControlledShutdown asks the controller to move broker's leaderships away
// (Kafka's ControlledShutdown request, handled by the controller's event
// loop). brokerEpoch is the requester's broker epoch, -1 if unknown. It
// fails only when ctx ends first.
func (c *Controller) ControlledShutdown(ctx context.Context, broker int32, brokerEpoch int64) (ControlledShutdownResult, error) {
	reply := make(chan ControlledShutdownResult, 1)
	c.events.push(evControlledShutdown{broker: broker, epoch: brokerEpoch, reply: reply})
	select {
	case r := <-reply:
		return r, nil
	case <-ctx.Done():
		return ControlledShutdownResult{}, ctx.Err()
	}
}

// onControlledShutdown is processControlledShutdown.
func (c *Controller) onControlledShutdown(ctx context.Context, e evControlledShutdown) {
	res := ControlledShutdownResult{}
	defer func() { e.reply <- res }()
	if !c.active {
		res.ErrorCode = kerr.NotController.Code
		return
	}
	b, ok := c.st.Live[e.broker]
	switch {
	case !ok:
		res.ErrorCode = kerr.BrokerNotAvailable.Code
		return
	case e.epoch >= 0 && e.epoch < b.Epoch:
		res.ErrorCode = kerr.StaleBrokerEpoch.Code
		return
	}
	log := c.log.WithFields(logrus.Fields{"shutting_down_broker": e.broker})
	log.Info("controlled shutdown requested")
	// Decide on the state znodes as they are (leaders change ISRs without
	// the controller), as 2.4's elections and ISR removals read them first.
	err := c.readStates(ctx, c.st, c.st.shutdownCandidates(e.broker))
	if err == nil {
		err = c.execute(ctx, c.st.PlanControlledShutdown(e.broker))
	}
	if err != nil {
		res.ErrorCode = errorCode(err)
		c.failed(ctx, err)
		return
	}
	res.Remaining = c.st.ControlledShutdownRemaining(e.broker)
	log.WithField("remaining_partitions", len(res.Remaining)).Info("controlled shutdown handled")
}

// errorCode maps a controller failure to the Kafka error code of a reply.
func errorCode(err error) int16 {
	if errors.Is(err, zkcoord.ErrControllerMoved) {
		return kerr.NotController.Code
	}
	return kerr.UnknownServerError.Code
}

// ElectLeadersResult is the controller's answer to ElectLeaders: a
// top-level error code (NOT_CONTROLLER when this broker is not the
// controller) and one result per partition asked for.
type ElectLeadersResult struct {
	ErrorCode int16
	Results   map[TP]ElectionResult
}

type evElectLeaders struct {
	tps   []TP // nil: every partition
	typ   ElectionType
	reply chan ElectLeadersResult
}

// ElectLeaders runs elections of type typ for tps (nil: every partition),
// as the ElectLeaders API asks, and answers once the new states are written
// and the LeaderAndIsr/UpdateMetadata requests queued; each successful
// result carries the elected leader. It fails only when ctx ends first.
func (c *Controller) ElectLeaders(ctx context.Context, tps []TP, typ ElectionType) (ElectLeadersResult, error) {
	reply := make(chan ElectLeadersResult, 1)
	c.events.push(evElectLeaders{tps: tps, typ: typ, reply: reply})
	select {
	case r := <-reply:
		return r, nil
	case <-ctx.Done():
		return ElectLeadersResult{}, ctx.Err()
	}
}

// onElectLeaders is processReplicaLeaderElection for an AdminClient trigger.
func (c *Controller) onElectLeaders(ctx context.Context, e evElectLeaders) {
	res := ElectLeadersResult{Results: map[TP]ElectionResult{}}
	defer func() { e.reply <- res }()
	if !c.active {
		res.ErrorCode = kerr.NotController.Code
		return
	}
	tps := e.tps
	if tps == nil {
		tps = c.st.Partitions()
	}
	p, results, err := c.planElection(ctx, tps, e.typ)
	res.Results = results
	if err == nil {
		err = c.execute(ctx, p)
	}
	if err != nil {
		code := errorCode(err)
		for tp, r := range res.Results {
			if r.ErrorCode == 0 {
				res.Results[tp] = ElectionResult{ErrorCode: code, Message: err.Error()}
			}
		}
		c.failed(ctx, err)
		return
	}
	// The leader each successful election left, as written (a conflicting
	// write was decided again): what the broker waits to see published.
	for tp, r := range res.Results {
		if r.ErrorCode == 0 {
			r.Leader = c.st.Leadership[tp].Leader
			res.Results[tp] = r
		}
	}
	c.logElection(e.typ, "admin client", results)
}

func (c *Controller) logElection(typ ElectionType, trigger string, results map[TP]ElectionResult) {
	var elected, failed []string
	for _, tp := range sortedTPKeysOf(results) {
		switch results[tp].ErrorCode {
		case 0:
			elected = append(elected, tpString(tp))
		case kerr.ElectionNotNeeded.Code:
		default:
			failed = append(failed, tpString(tp)+": "+kerr.ErrorForCode(results[tp].ErrorCode).Error())
		}
	}
	if len(elected) > 0 || len(failed) > 0 {
		c.log.WithFields(logrus.Fields{"type": typ.String(), "trigger": trigger, "elected": elected, "failed": failed}).Info("leader election")
	}
}

func sortedTPKeysOf[V any](m map[TP]V) []TP {
	out := make([]TP, 0, len(m))
	for tp := range m {
		out = append(out, tp)
	}
	sortTPs(out)
	return out
}

// planElection re-reads the state znodes of the known partitions of tps
// (ISRs change without the controller), then decides the elections.
func (c *Controller) planElection(ctx context.Context, tps []TP, typ ElectionType) (*Plan, map[TP]ElectionResult, error) {
	var known []TP
	for _, tp := range tps {
		if c.st.Replicas(tp) != nil && c.st.Deleting[tp.Topic] == nil {
			known = append(known, tp)
		}
	}
	if err := c.readStates(ctx, c.st, known); err != nil {
		return nil, nil, err
	}
	p, results := c.st.PlanElection(tps, typ)
	return p, results, nil
}

// FlushRequests waits until the requests this controller queued to brokers
// were answered (or ctx ends). A broker that was the controller calls it
// after its own controlled shutdown, so that the LeaderAndIsr and
// UpdateMetadata telling the others about their new leaderships are not
// dropped when it stops.
func (c *Controller) FlushRequests(ctx context.Context) {
	ch := make(chan []*sender, 1)
	c.events.push(evQuery{func() {
		var ss []*sender
		for _, s := range c.senders {
			ss = append(ss, s)
		}
		ch <- ss
	}})
	var ss []*sender
	select {
	case ss = <-ch:
	case <-ctx.Done():
		return
	}
	for _, s := range ss {
		s.waitIdle(ctx)
	}
}
