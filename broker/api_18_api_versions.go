package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleApiVersions(_ context.Context, _ *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.ApiVersionsRequest)
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = b.apiVersionKeys()
	return resp, nil
}

// unsupportedApiVersions is the KIP-511 answer to an ApiVersions request newer
// than the broker speaks: a v0 body with UNSUPPORTED_VERSION and only the
// ApiVersions range, so the client retries with a version we know.
func (b *Broker) unsupportedApiVersions() kmsg.Response {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	a := b.apis[apiVersionsKey]
	resp.ApiKeys = []kmsg.ApiVersionsResponseApiKey{{ApiKey: apiVersionsKey, MinVersion: a.min, MaxVersion: a.max}}
	return resp
}
