package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/logstore"
)

// handleProduce appends each partition's record batches to the partition's
// log, as received but for the base offset and leader epoch. Each partition
// succeeds or fails on its own; a partition whose batches fail validation
// stores nothing.
//
// acks=all is answered after the local append: replication to followers is
// the next step (see broker/UNSUPPORTED.md).
func (b *Broker) handleProduce(_ context.Context, rc *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	acksOK := req.Acks == 0 || req.Acks == 1 || req.Acks == -1
	transactional := req.TransactionID != nil
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			switch {
			case !acksOK:
				sp.ErrorCode = kerr.InvalidRequiredAcks.Code
			case transactional:
				sp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
			default:
				b.produceTo(rc, logstore.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}, rp.Records, &sp)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
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

func (b *Broker) produceTo(rc *reqCtx, tp logstore.TopicPartition, records []byte, sp *kmsg.ProduceResponseTopicPartition) {
	p, epoch, code := b.replicas.leaderFor(tp, b.meta)
	if code != 0 {
		sp.ErrorCode = code
		return
	}
	info, err := b.replicas.appendAsLeader(p, epoch, records)
	if err != nil {
		sp.ErrorCode = storageErrorCode(err)
		msg := err.Error()
		sp.ErrorMessage = &msg
		rc.log.WithError(err).WithField("partition", tp.String()).Info("produce refused")
		return
	}
	sp.BaseOffset = info.FirstOffset
	sp.LogAppendTime = -1
	sp.LogStartOffset = p.log.LogStartOffset()
}
