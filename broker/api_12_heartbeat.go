package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleHeartbeat(ctx context.Context, _ *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.HeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	var inst *string
	if req.Version >= 3 {
		inst = req.InstanceID
	}
	code, err := b.groups.Heartbeat(ctx, req.Group, req.MemberID, inst, req.Generation)
	if err != nil {
		return nil, err
	}
	resp.ErrorCode = code
	return resp, nil
}
