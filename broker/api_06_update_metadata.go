package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleUpdateMetadata replaces what this broker knows of live brokers and
// partition leadership with what the controller published.
func (b *Broker) handleUpdateMetadata(_ context.Context, rc *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.UpdateMetadataRequest)
	resp := req.ResponseKind().(*kmsg.UpdateMetadataResponse)
	if code := b.checkControllerRequest(rc, req.ControllerEpoch, req.BrokerEpoch, req.Version >= 5); code != 0 {
		resp.ErrorCode = code
		return resp, nil
	}
	b.meta.update(req)
	return resp, nil
}
