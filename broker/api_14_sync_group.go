package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/group"
)

// handleSyncGroup parks a member until the leader's assignment arrives.
func (b *Broker) handleSyncGroup(ctx context.Context, _ *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.SyncGroupRequest)
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	sr := group.SyncRequest{MemberID: req.MemberID, Generation: req.Generation, Assignments: map[string][]byte{}}
	if req.Version >= 3 {
		sr.InstanceID = req.InstanceID
	}
	for _, a := range req.GroupAssignment {
		sr.Assignments[a.MemberID] = a.MemberAssignment
	}
	res, err := b.groups.Sync(ctx, req.Group, sr)
	if err != nil {
		return nil, err
	}
	resp.ErrorCode, resp.MemberAssignment = res.Error, res.Assignment
	if resp.MemberAssignment == nil {
		resp.MemberAssignment = []byte{}
	}
	return resp, nil
}
