package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/group"
)

// handleLeaveGroup removes one member (v0-2) or a batch (v3+, by member id
// or group.instance.id).
func (b *Broker) handleLeaveGroup(ctx context.Context, _ *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.LeaveGroupRequest)
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	var members []group.MemberIdentity
	if req.Version < 3 {
		members = []group.MemberIdentity{{MemberID: req.MemberID}}
	} else {
		for _, m := range req.Members {
			members = append(members, group.MemberIdentity{MemberID: m.MemberID, InstanceID: m.InstanceID})
		}
	}
	code, codes, err := b.groups.Leave(ctx, req.Group, members)
	if err != nil {
		return nil, err
	}
	resp.ErrorCode = code
	if req.Version < 3 {
		if code == 0 && len(codes) == 1 { // one member: its error is the answer
			resp.ErrorCode = codes[0]
		}
		return resp, nil
	}
	for i, c := range codes {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ErrorCode = members[i].MemberID, members[i].InstanceID, c
		resp.Members = append(resp.Members, rm)
	}
	return resp, nil
}
