package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/logstore"
)

const (
	listLatest   = -1
	listEarliest = -2
)

// handleListOffsets answers earliest (-2), latest (-1, the high-water mark for
// consumers) and by-timestamp offset lookups.
func (b *Broker) handleListOffsets(_ context.Context, _ *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	// From v1 a partition asked for twice fails in every occurrence, as in
	// Kafka's handleListOffsetRequestV1AndAbove.
	count := map[logstore.TopicPartition]int{}
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			count[logstore.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}]++
		}
	}
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			tp := logstore.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}
			if req.Version >= 1 && count[tp] > 1 {
				sp.Timestamp, sp.Offset = -1, -1
				sp.ErrorCode = kerr.InvalidRequest.Code
			} else {
				b.listOffset(req, tp, rp, &sp)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

func (b *Broker) listOffset(req *kmsg.ListOffsetsRequest, tp logstore.TopicPartition, rp kmsg.ListOffsetsRequestTopicPartition, sp *kmsg.ListOffsetsResponseTopicPartition) {
	sp.Timestamp, sp.Offset = -1, -1
	// The client's current leader epoch is checked first, as Kafka does.
	requested := int32(-1)
	if req.Version >= 4 {
		requested = rp.CurrentLeaderEpoch
	}
	p, epoch, code := b.replicas.leaderForEpoch(tp, b.meta, requested)
	if code != 0 {
		sp.ErrorCode = code
		return
	}
	// Consumers see up to the high-water mark; a replica (replica_id >= 0,
	// a follower handling OFFSET_OUT_OF_RANGE) sees the log end.
	hw := p.log.HighWatermark()
	if req.ReplicaID >= 0 {
		hw = p.log.LogEndOffset()
	}
	var offset, ts int64 = -1, -1
	switch rp.Timestamp {
	case listLatest:
		offset = hw
	case listEarliest:
		offset = p.log.LogStartOffset()
	default:
		if o, t, ok := p.log.OffsetForTimestamp(rp.Timestamp); ok && o < hw {
			offset, ts = o, t
		}
	}
	if req.Version == 0 {
		sp.OldStyleOffsets = []int64{}
		if offset >= 0 && rp.MaxNumOffsets > 0 {
			sp.OldStyleOffsets = append(sp.OldStyleOffsets, offset)
		}
		return
	}
	sp.Offset, sp.Timestamp = offset, ts
	if req.Version >= 4 {
		sp.LeaderEpoch = epoch
	}
}
