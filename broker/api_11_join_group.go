package broker

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/group"
)

// handleJoinGroup parks until the group's rebalance completes (or the
// client goes away).
func (b *Broker) handleJoinGroup(ctx context.Context, rc *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.JoinGroupRequest)
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	rebalance := req.RebalanceTimeoutMillis
	if req.Version == 0 { // v0 has no rebalance timeout: the session timeout serves
		rebalance = req.SessionTimeoutMillis
	}
	jr := group.JoinRequest{
		MemberID:             req.MemberID,
		RequireKnownMemberID: req.Version >= 4,
		ClientID:             rc.hdr.ClientIDString(),
		ClientHost:           rc.clientHost(),
		RebalanceTimeout:     time.Duration(rebalance) * time.Millisecond,
		SessionTimeout:       time.Duration(req.SessionTimeoutMillis) * time.Millisecond,
		ProtocolType:         req.ProtocolType,
	}
	if req.Version >= 5 {
		jr.InstanceID = req.InstanceID
	}
	for _, p := range req.Protocols {
		jr.Protocols = append(jr.Protocols, group.Protocol{Name: p.Name, Metadata: p.Metadata})
	}
	res, err := b.groups.Join(ctx, req.Group, jr)
	if err != nil {
		return nil, err
	}
	resp.ErrorCode, resp.Generation, resp.LeaderID, resp.MemberID = res.Error, res.Generation, res.LeaderID, res.MemberID
	protocol := res.Protocol
	resp.Protocol = &protocol
	if req.Version >= 7 {
		pt := res.ProtocolType
		resp.ProtocolType = &pt
	}
	for _, m := range res.Members {
		rm := kmsg.NewJoinGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ProtocolMetadata = m.MemberID, m.InstanceID, m.Metadata
		resp.Members = append(resp.Members, rm)
	}
	return resp, nil
}
