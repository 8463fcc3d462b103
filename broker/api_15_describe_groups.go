package broker

import (
	"context"
	"math"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupOperations are the ACL operations DescribeGroups v3+ reports as
// authorized when asked: READ, DESCRIBE and DELETE (no ACLs are enforced).
const groupOperations = 1<<3 | 1<<8 | 1<<6

func (b *Broker) handleDescribeGroups(ctx context.Context, _ *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.DescribeGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, id := range req.Groups {
		code, sum, err := b.groups.Describe(ctx, id)
		if err != nil {
			return nil, err
		}
		rg := kmsg.NewDescribeGroupsResponseGroup()
		rg.Group, rg.ErrorCode = id, code
		rg.State, rg.ProtocolType, rg.Protocol = sum.State, sum.ProtocolType, sum.Protocol
		rg.AuthorizedOperations = math.MinInt32
		if req.IncludeAuthorizedOperations {
			rg.AuthorizedOperations = groupOperations
		}
		for _, m := range sum.Members {
			rm := kmsg.NewDescribeGroupsResponseGroupMember()
			rm.MemberID, rm.InstanceID, rm.ClientID, rm.ClientHost = m.MemberID, m.InstanceID, m.ClientID, m.ClientHost
			rm.ProtocolMetadata, rm.MemberAssignment = m.Metadata, m.Assignment
			if rm.ProtocolMetadata == nil {
				rm.ProtocolMetadata = []byte{}
			}
			if rm.MemberAssignment == nil {
				rm.MemberAssignment = []byte{}
			}
			rg.Members = append(rg.Members, rm)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil
}
