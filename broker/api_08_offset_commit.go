package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/group"
)

// handleOffsetCommit stores committed offsets in ZooKeeper. v0 writes them
// directly, with no group checks (Kafka 2.4 also wrote v0 commits to
// ZooKeeper); v1+ go through the group's coordinator, which checks member
// and generation.
func (b *Broker) handleOffsetCommit(ctx context.Context, _ *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.OffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	codes := map[group.TopicPartition]int16{}
	commits := map[group.TopicPartition]group.OffsetCommit{}
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			tp := groupTP(rt.Topic, rp.Partition)
			if _, ok := b.meta.partition(rt.Topic, rp.Partition); !ok {
				codes[tp] = kerr.UnknownTopicOrPartition.Code
				continue
			}
			commits[tp] = group.OffsetCommit{Offset: rp.Offset, Metadata: rp.Metadata}
		}
	}
	if len(commits) > 0 {
		var res map[group.TopicPartition]int16
		if req.Version == 0 {
			res = b.groups.StoreOffsets(ctx, req.Group, commits)
		} else {
			var inst *string
			if req.Version >= 7 {
				inst = req.InstanceID
			}
			var err error
			if res, err = b.groups.CommitOffsets(ctx, req.Group, req.MemberID, inst, req.Generation, commits); err != nil {
				return nil, err
			}
		}
		for tp, c := range res {
			codes[tp] = c
		}
	}
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition, sp.ErrorCode = rp.Partition, codes[groupTP(rt.Topic, rp.Partition)]
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
