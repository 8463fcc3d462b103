package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleControlledShutdown is the controller side of a broker's controlled
// shutdown: the controller module moves the requester's leaderships away
// and answers with the partitions it could not move. Brokers other than
// the controller answer NOT_CONTROLLER.
func (b *Broker) handleControlledShutdown(ctx context.Context, rc *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.ControlledShutdownRequest)
	resp := req.ResponseKind().(*kmsg.ControlledShutdownResponse)
	epoch := int64(-1) // v0-1 carry no broker epoch
	if req.Version >= 2 {
		epoch = req.BrokerEpoch
	}
	res, err := b.ctrl.ControlledShutdown(ctx, req.BrokerID, epoch)
	if err != nil {
		return nil, err // the connection is going away
	}
	resp.ErrorCode = res.ErrorCode
	for _, tp := range res.Remaining {
		p := kmsg.NewControlledShutdownResponsePartitionsRemaining()
		p.Topic, p.Partition = tp.Topic, tp.Partition
		resp.PartitionsRemaining = append(resp.PartitionsRemaining, p)
	}
	rc.log.WithFields(map[string]any{"shutting_down_broker": req.BrokerID, "error_code": res.ErrorCode,
		"remaining": len(res.Remaining)}).Info("controlled shutdown request answered")
	return resp, nil
}
