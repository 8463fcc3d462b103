package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleDeleteGroups deletes groups without members, with their offsets.
func (b *Broker) handleDeleteGroups(ctx context.Context, _ *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.DeleteGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	for _, id := range req.Groups {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group, rg.ErrorCode = id, b.groups.DeleteGroup(ctx, id)
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil
}
