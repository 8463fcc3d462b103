package broker

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/logstore"
)

// handleProduce appends each partition's record batches to the partition's
// log, as received but for the base offset and leader epoch. Each partition
// succeeds or fails on its own; a partition whose batches fail validation
// stores nothing.
//
// With acks=all (-1) a partition is answered once every ISR member has the
// batches (the high-water mark passed them) or after timeout_ms
// (REQUEST_TIMED_OUT); a write to an ISR smaller than min.insync.replicas is
// refused beforehand (NOT_ENOUGH_REPLICAS, nothing stored), and one whose
// ISR shrank below it meanwhile is answered
// NOT_ENOUGH_REPLICAS_AFTER_APPEND. A leader replaced while waiting answers
// NOT_LEADER_FOR_PARTITION: it never acknowledges what its successor may
// not have.
func (b *Broker) handleProduce(ctx context.Context, rc *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	acksOK := req.Acks == 0 || req.Acks == 1 || req.Acks == -1
	transactional := req.TransactionID != nil
	if err := rc.turn.wait(ctx); err != nil {
		return nil, err
	}
	var waits []ackWait
	for ti, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		for pi, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			switch {
			case !acksOK:
				sp.ErrorCode = kerr.InvalidRequiredAcks.Code
			case transactional:
				sp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
			default:
				p, since, next := b.produceTo(rc, logstore.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}, rp.Records, req.Acks == -1, &sp)
				if p != nil && req.Acks == -1 {
					waits = append(waits, ackWait{p: p, leaderSince: since, required: next, topic: ti, partition: pi})
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	rc.turn.end() // the next produce request of this connection may append
	if len(waits) > 0 {
		if err := b.awaitISR(ctx, time.Duration(req.TimeoutMillis)*time.Millisecond, waits, resp); err != nil {
			return nil, err
		}
	}
	if req.Acks == 0 {
		// Kafka closes the connection of an acks=0 producer whose request
		// failed, since it cannot be told otherwise.
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					return nil, kerr.ErrorForCode(p.ErrorCode)
				}
			}
		}
		return nil, nil
	}
	return resp, nil
}

// produceTo appends to one partition led here and fills sp. On success it
// returns the partition, the epoch its current leadership began in and the
// offset the high-water mark must reach for acks=all.
func (b *Broker) produceTo(rc *reqCtx, tp logstore.TopicPartition, records []byte, acksAll bool, sp *kmsg.ProduceResponseTopicPartition) (*partition, int32, int64) {
	p, epoch, code := b.replicas.leaderFor(tp, b.meta)
	if code != 0 {
		sp.ErrorCode = code
		return nil, 0, 0
	}
	info, since, err := b.replicas.appendAsLeaderSince(p, epoch, records, acksAll)
	if err != nil {
		sp.ErrorCode = storageErrorCode(err)
		msg := err.Error()
		sp.ErrorMessage = &msg
		rc.log.WithError(err).WithField("partition", tp.String()).Info("produce refused")
		return nil, 0, 0
	}
	sp.BaseOffset = info.FirstOffset
	sp.LogAppendTime = -1
	sp.LogStartOffset = p.log.LogStartOffset()
	return p, since, info.LastOffset + 1
}

// ackWait is one acks=all partition waiting for its ISR.
type ackWait struct {
	p                *partition
	leaderSince      int32 // the leadership the append was made in
	required         int64 // the high-water mark must reach this
	topic, partition int   // indexes into the response
}

// awaitISR waits until each partition's high-water mark reaches its
// required offset (Kafka's DelayedProduce), woken by the log's changes and
// the partition's leadership/ISR changes, never by polling. Partitions not
// done by the timeout get REQUEST_TIMED_OUT.
func (b *Broker) awaitISR(ctx context.Context, timeout time.Duration, waits []ackWait, resp *kmsg.ProduceResponse) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	timedOut := false
	for _, w := range waits {
		sp := &resp.Topics[w.topic].Partitions[w.partition]
		for {
			// Take the signals before checking, so no change is missed.
			logChanged, stateChanged := w.p.log.Changed(), w.p.stateChanged()
			if code, done := b.replicas.ackState(w.p, w.leaderSince, w.required); done {
				sp.ErrorCode = code
				break
			}
			if timedOut {
				sp.ErrorCode = kerr.RequestTimedOut.Code
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-timer.C:
				timedOut = true
			case <-logChanged:
			case <-stateChanged:
			}
		}
	}
	return nil
}
