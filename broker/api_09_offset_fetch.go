package broker

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/group"
)

// handleOffsetFetch reads committed offsets from ZooKeeper: v0 directly
// (as Kafka 2.4 did), v1+ through the group's coordinator. Topics null
// (v2+) means every partition the group has an offset for. A partition
// without one is offset -1 with no error; metadata is always "" (not
// stored) and the leader epoch -1.
func (b *Broker) handleOffsetFetch(ctx context.Context, _ *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.OffsetFetchRequest)
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	var tps []group.TopicPartition
	if req.Topics != nil || req.Version < 2 {
		tps = []group.TopicPartition{}
		for _, rt := range req.Topics {
			for _, p := range rt.Partitions {
				tps = append(tps, groupTP(rt.Topic, p))
			}
		}
	}
	var code int16
	var offs map[group.TopicPartition]int64
	if req.Version == 0 {
		code, offs = b.groups.LoadOffsets(ctx, req.Group, tps)
	} else {
		code, offs = b.groups.FetchOffsets(ctx, req.Group, tps)
	}
	if code != 0 {
		if req.Version >= 2 {
			resp.ErrorCode = code
			return resp, nil
		}
		appendOffsetFetch(resp, tps, nil, code) // v0-1: the error in every partition
		return resp, nil
	}
	if tps == nil { // all of the group's partitions
		for tp := range offs {
			tps = append(tps, tp)
		}
		sort.Slice(tps, func(i, j int) bool {
			if tps[i].Topic != tps[j].Topic {
				return tps[i].Topic < tps[j].Topic
			}
			return tps[i].Partition < tps[j].Partition
		})
	}
	appendOffsetFetch(resp, tps, offs, 0)
	return resp, nil
}

// appendOffsetFetch adds tps, grouped by topic in request order.
func appendOffsetFetch(resp *kmsg.OffsetFetchResponse, tps []group.TopicPartition, offs map[group.TopicPartition]int64, code int16) {
	index := map[string]int{}
	for _, tp := range tps {
		i, ok := index[tp.Topic]
		if !ok {
			st := kmsg.NewOffsetFetchResponseTopic()
			st.Topic = tp.Topic
			resp.Topics = append(resp.Topics, st)
			i = len(resp.Topics) - 1
			index[tp.Topic] = i
		}
		sp := kmsg.NewOffsetFetchResponseTopicPartition()
		sp.Partition, sp.LeaderEpoch, sp.ErrorCode = tp.Partition, -1, code
		sp.Offset = -1
		if o, ok := offs[tp]; ok {
			sp.Offset = o
		}
		empty := ""
		sp.Metadata = &empty
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, sp)
	}
}
