package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/group"
)

// handleOffsetDelete deletes committed offsets of a group (KIP-496), unless
// the group's active members subscribe to the topic.
func (b *Broker) handleOffsetDelete(ctx context.Context, _ *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.OffsetDeleteRequest)
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	codes := map[group.TopicPartition]int16{}
	var tps []group.TopicPartition
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			tp := groupTP(rt.Topic, rp.Partition)
			if _, ok := b.meta.partition(rt.Topic, rp.Partition); !ok {
				codes[tp] = kerr.UnknownTopicOrPartition.Code
				continue
			}
			tps = append(tps, tp)
		}
	}
	code, res := b.groups.DeleteOffsets(ctx, req.Group, tps)
	if code != 0 {
		resp.ErrorCode = code
		return resp, nil
	}
	for tp, c := range res {
		codes[tp] = c
	}
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetDeleteResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetDeleteResponseTopicPartition()
			sp.Partition, sp.ErrorCode = rp.Partition, codes[groupTP(rt.Topic, rp.Partition)]
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
