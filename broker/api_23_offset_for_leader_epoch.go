package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/logstore"
)

// handleOffsetForLeaderEpoch answers, for each partition led here, where the
// requested leader epoch ends in this log (KIP-101/KIP-279): the largest
// epoch <= the requested one and the start offset of the epoch after it
// (the log end for the latest epoch). Followers use it to truncate to the
// point where their log and the leader's agree before fetching; consumers
// (KIP-320) to detect truncation. current_leader_epoch (v2+) is checked
// as for Fetch.
func (b *Broker) handleOffsetForLeaderEpoch(_ context.Context, _ *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition, sp.LeaderEpoch, sp.EndOffset = rp.Partition, -1, -1
			// The client's current leader epoch is checked first, as Kafka does.
			requested := int32(-1)
			if req.Version >= 2 {
				requested = rp.CurrentLeaderEpoch
			}
			p, _, code := b.replicas.leaderForEpoch(logstore.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}, b.meta, requested)
			if code != 0 {
				sp.ErrorCode = code
			} else {
				sp.LeaderEpoch, sp.EndOffset = p.log.EndOffsetForEpoch(rp.LeaderEpoch)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
