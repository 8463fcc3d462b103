package broker

import (
	"context"
	"reflect"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/logstore"
)

// handleFetch reads whole record batches from the logs this broker leads, up
// to each partition's high-water mark, honouring partition_max_bytes and
// max_bytes with Kafka's rule that the first batch found is returned whole
// even if larger (KIP-74). When less than min_bytes is available the request
// waits up to max_wait_ms and is woken by appends, not by polling.
//
// Fetch sessions (KIP-227) are not kept: every request is answered in full
// with session id 0, which tells clients to keep sending full requests.
//
// The answer is a *fetchResponse: record sets stay file regions that the
// connection writer sends with sendfile.
func (b *Broker) handleFetch(ctx context.Context, rc *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.FetchRequest)
	if req.Version >= 7 && req.SessionID != 0 {
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return resp, nil
	}
	var timer <-chan time.Time
	if req.MaxWaitMillis > 0 {
		t := time.NewTimer(time.Duration(req.MaxWaitMillis) * time.Millisecond)
		defer t.Stop()
		timer = t.C
	}
	for {
		// The change signals are taken before reading, so no append between
		// the read and the wait is missed.
		changed := b.fetchSignals(req)
		resp, size, failed := b.readFetch(ctx, rc, req)
		if failed || size >= int64(req.MinBytes) || timer == nil {
			return resp, nil
		}
		cases := make([]reflect.SelectCase, 0, len(changed)+2)
		cases = append(cases,
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer)},
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())})
		for _, ch := range changed {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
		}
		b.parkedFetches.Add(1)
		chosen, _, _ := reflect.Select(cases)
		b.parkedFetches.Add(-1)
		switch chosen {
		case 0: // max_wait_ms passed
			resp, _, _ = b.readFetch(ctx, rc, req)
			return resp, nil
		case 1:
			return nil, ctx.Err()
		}
	}
}

// fetchSignals returns the change channels of the requested partitions
// hosted here: their logs' (appends, high-water mark moves, close) and
// their leadership's (leader, leader epoch or ISR changed). The latter
// answers a parked fetch whose leader epoch a LeaderAndIsr just fenced, or
// whose partition this broker stopped leading, at once (Kafka's
// DelayedFetch cases A and E) instead of after max_wait_ms: a follower
// whose fetcher is parked here cannot fetch the partitions it was just told
// to replicate until this fetch returns.
func (b *Broker) fetchSignals(req *kmsg.FetchRequest) []<-chan struct{} {
	var out []<-chan struct{}
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			if p := b.replicas.get(logstore.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}); p != nil {
				out = append(out, p.log.Changed(), p.stateChanged())
			}
		}
	}
	return out
}

// readFetch reads what is available now. It reports the bytes read and
// whether any partition failed (Kafka answers at once then).
func (b *Broker) readFetch(ctx context.Context, rc *reqCtx, req *kmsg.FetchRequest) (*fetchResponse, int64, bool) {
	resp := &fetchResponse{FetchResponse: req.ResponseKind().(*kmsg.FetchResponse)}
	budget := int64(req.MaxBytes)
	if req.Version < 3 || budget <= 0 {
		budget = int64(^uint32(0) >> 1)
	}
	var total int64
	failed := false
	for _, rt := range req.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic = rt.Topic
		recs := make([]logstore.ReadResult, len(rt.Partitions))
		for i, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			recs[i] = b.fetchPartition(ctx, rc, req, rt.Topic, rp, min(int64(rp.PartitionMaxBytes), budget), total == 0, &sp)
			if sp.ErrorCode != 0 {
				failed = true
			}
			total += recs[i].Size
			budget = max(budget-recs[i].Size, 0)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
		resp.records = append(resp.records, recs)
	}
	return resp, total, failed
}

// fetchPartition fills sp's fields and returns the partition's record
// regions. An empty record set is encoded with size 0, never null (-1):
// librdkafka refuses a null one.
func (b *Broker) fetchPartition(ctx context.Context, rc *reqCtx, req *kmsg.FetchRequest, topic string, rp kmsg.FetchRequestTopicPartition, maxBytes int64, minOne bool, sp *kmsg.FetchResponseTopicPartition) logstore.ReadResult {
	sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
	tp := logstore.TopicPartition{Topic: topic, Partition: rp.Partition}
	// The client's current leader epoch is checked first, as Kafka does.
	requested := int32(-1)
	if req.Version >= 9 {
		requested = rp.CurrentLeaderEpoch
	}
	p, _, code := b.replicas.leaderForEpoch(tp, b.meta, requested)
	if code != 0 {
		sp.ErrorCode = code
		return logstore.ReadResult{}
	}
	// Consumers read up to the high-water mark; a follower (replica_id =
	// its broker id) reads up to the log end, and its fetch offset tells
	// the leader how far it got.
	maxOffset := p.log.HighWatermark()
	if req.ReplicaID >= 0 {
		leo := p.log.LogEndOffset()
		if rp.FetchOffset > leo || rp.FetchOffset < p.log.LogStartOffset() {
			// A diverged or lagging-behind-retention follower: it must not
			// count as having reached this offset.
			sp.ErrorCode = kerr.OffsetOutOfRange.Code
			return logstore.ReadResult{}
		}
		if !b.replicas.recordFollowerFetch(ctx, p, req.ReplicaID, rp.FetchOffset, rp.LogStartOffset, leo) {
			sp.ErrorCode = kerr.NotLeaderForPartition.Code // not an assigned replica
			return logstore.ReadResult{}
		}
		maxOffset = leo
	}
	hw := p.log.HighWatermark()
	sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = hw, hw, p.log.LogStartOffset()
	if maxBytes <= 0 && !minOne {
		return logstore.ReadResult{}
	}
	res, err := p.log.Read(rp.FetchOffset, int32(min(maxBytes, int64(^uint32(0)>>1))), maxOffset, minOne)
	if err != nil {
		sp.ErrorCode = storageErrorCode(err)
		if sp.ErrorCode == kerr.KafkaStorageError.Code {
			rc.log.WithError(err).WithField("partition", tp.String()).Error("fetch read failed")
		}
		return logstore.ReadResult{}
	}
	return res
}
