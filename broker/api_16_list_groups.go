package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleListGroups lists the groups this broker coordinates.
func (b *Broker) handleListGroups(ctx context.Context, _ *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.ListGroupsRequest)
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	code, groups := b.groups.List(ctx)
	resp.ErrorCode = code
	for _, g := range groups {
		rg := kmsg.NewListGroupsResponseGroup()
		rg.Group, rg.ProtocolType = g.GroupID, g.ProtocolType
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil
}
