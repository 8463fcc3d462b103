package broker

import (
	"context"
	"time"

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
// INVALID_TOPIC_EXCEPTION.
//
// As Kafka's DelayedDeleteRecords, the answer waits until the partition's
// low watermark (the smallest log start offset of the leader and of the
// followers on live brokers, which report theirs in their fetches) reached
// the offset, and carries it as low_watermark. A partition not there by
// timeout_ms is answered REQUEST_TIMED_OUT with the low watermark it had
// when the request arrived; one whose leadership moved meanwhile,
// NOT_LEADER_FOR_PARTITION. The wait is woken by the partition's changes
// (followers' fetches raising their log start, leadership and ISR), its
// log's, and metadata updates (a follower's broker died), never by polling.
func (b *Broker) handleDeleteRecords(ctx context.Context, _ *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	var waits []deleteWait
	for ti, rt := range req.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		for pi, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			d := b.deleteRecords(logstore.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}, rp.Offset)
			sp.LowWatermark, sp.ErrorCode = d.lowWatermark, d.code
			if d.code == 0 && d.lowWatermark < d.requested {
				waits = append(waits, deleteWait{p: d.p, requested: d.requested, topic: ti, partition: pi})
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(waits) > 0 {
		timeout := time.Duration(max(req.TimeoutMillis, 0)) * time.Millisecond
		if err := b.awaitLowWatermark(ctx, timeout, waits, resp); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// deleteResult is the leader's part of one partition's DeleteRecords.
type deleteResult struct {
	p            *partition
	requested    int64 // the offset asked for (the high watermark for -1)
	lowWatermark int64 // -1 on error
	code         int16
}

// deleteWait is one partition of a DeleteRecords waiting for its low
// watermark to reach requested.
type deleteWait struct {
	p                *partition
	requested        int64
	topic, partition int // indexes into the response
}

func (b *Broker) deleteRecords(tp logstore.TopicPartition, offset int64) deleteResult {
	fail := func(code int16) deleteResult { return deleteResult{lowWatermark: -1, code: code} }
	if tp.Topic == deleteRecordsInternalTopic {
		return fail(kerr.InvalidTopicException.Code)
	}
	p, epoch, code := b.replicas.leaderFor(tp, b.meta)
	if code != 0 {
		return fail(code)
	}
	// Under the leadership lock, so a leader replaced meanwhile does not
	// move the log start of what is now a follower's log.
	p.leadership.RLock()
	defer p.leadership.RUnlock()
	if _, now, code := b.replicas.leaderFor(tp, b.meta); code != 0 || now != epoch {
		return fail(kerr.NotLeaderForPartition.Code)
	}
	if !p.log.Config().CleanupDelete {
		return fail(kerr.PolicyViolation.Code)
	}
	if offset == deleteRecordsHighWatermark {
		offset = p.log.HighWatermark()
	}
	if _, err := p.log.DeleteRecordsBefore(offset); err != nil {
		code := storageErrorCode(err)
		if code == kerr.KafkaStorageError.Code {
			b.log.WithError(err).WithField("partition", tp.String()).Error("delete records failed")
		}
		return fail(code)
	}
	lw, code := b.replicas.lowWatermarkIfLeader(p, b.meta.isAlive)
	if code != 0 {
		return fail(code)
	}
	return deleteResult{p: p, requested: offset, lowWatermark: lw}
}

// awaitLowWatermark waits until each partition's low watermark reached its
// requested offset (DelayedDeleteRecords.tryComplete), or timeout.
func (b *Broker) awaitLowWatermark(ctx context.Context, timeout time.Duration, waits []deleteWait, resp *kmsg.DeleteRecordsResponse) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	timedOut := false
	for _, w := range waits {
		sp := &resp.Topics[w.topic].Partitions[w.partition]
		for {
			// Take the signals before checking, so no change is missed.
			logChanged, stateChanged, metaChanged := w.p.log.Changed(), w.p.stateChanged(), b.meta.Changed()
			lw, code := b.replicas.lowWatermarkIfLeader(w.p, b.meta.isAlive)
			if code != 0 {
				sp.LowWatermark, sp.ErrorCode = -1, code
				break
			}
			if lw >= w.requested {
				sp.LowWatermark = lw
				break
			}
			if timedOut {
				sp.ErrorCode = kerr.RequestTimedOut.Code // with the low watermark of the start
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-timer.C:
				timedOut = true
			case <-logChanged:
			case <-stateChanged:
			case <-metaChanged:
			}
		}
	}
	return nil
}
