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
	if err := c.execute(ctx, c.st.PlanControlledShutdown(e.broker)); err != nil {
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
