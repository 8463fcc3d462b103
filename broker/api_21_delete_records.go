package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/logstore"
)

// deleteRecordsHighWatermark is DeleteRecordsRequest.HIGH_WATERMARK: delete
// up to the high watermark.
const deleteRecordsHighWatermark = -1

// deleteRecordsInternalTopic is Kafka 2.4's only internal topic whose
// records clients may not delete.
const deleteRecordsInternalTopic = "__consumer_offsets"

// handleDeleteRecords moves the log start offset of partitions this broker
// leads (Kafka's ReplicaManager.deleteRecords and
// Partition.deleteRecordsOnLeader): offset -1 means the high watermark; an
// offset < 0 or above the high watermark is OFFSET_OUT_OF_RANGE; a log
// without the delete cleanup policy is POLICY_VIOLATION; an internal topic is
// INVALID_TOPIC_EXCEPTION. The answer's low_watermark is the leader's new log
// start offset (-1 on error).
//
// Kafka answers once every replica's log start offset reached the request
// (DelayedDeleteRecords, bounded by timeout_ms); zkafka answers at once with
// the leader's, and followers catch up through their own retention pass.
func (b *Broker) handleDeleteRecords(_ context.Context, _ *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark, sp.ErrorCode = b.deleteRecords(logstore.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}, rp.Offset)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

func (b *Broker) deleteRecords(tp logstore.TopicPartition, offset int64) (lowWatermark int64, code int16) {
	if tp.Topic == deleteRecordsInternalTopic {
		return -1, kerr.InvalidTopicException.Code
	}
	p, epoch, code := b.replicas.leaderFor(tp, b.meta)
	if code != 0 {
		return -1, code
	}
	// Under the leadership lock, so a leader replaced meanwhile does not
	// move the log start of what is now a follower's log.
	p.leadership.RLock()
	defer p.leadership.RUnlock()
	if _, now, code := b.replicas.leaderFor(tp, b.meta); code != 0 || now != epoch {
		return -1, kerr.NotLeaderForPartition.Code
	}
	if !p.log.Config().CleanupDelete {
		return -1, kerr.PolicyViolation.Code
	}
	if offset == deleteRecordsHighWatermark {
		offset = p.log.HighWatermark()
	}
	start, err := p.log.DeleteRecordsBefore(offset)
	if err != nil {
		code := storageErrorCode(err)
		if code == kerr.KafkaStorageError.Code {
			b.log.WithError(err).WithField("partition", tp.String()).Error("delete records failed")
		}
		return -1, code
	}
	return start, 0
}
