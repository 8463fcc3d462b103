package broker

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleInitProducerID gives an idempotent producer its producer id and
// epoch 0 (Kafka's TransactionCoordinator.handleInitProducerId without a
// transactional id). Ids come from blocks of 1000 this broker reserves in
// /latest_producer_id_block, as every Kafka broker does, so ids are unique
// in the cluster. Transactions are not supported: a transactional id is
// refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED.
func (b *Broker) handleInitProducerID(ctx context.Context, rc *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp, nil
	}
	id, err := b.producerIDs.next(ctx)
	if err != nil {
		rc.log.WithError(err).Warn("cannot reserve producer ids")
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp, nil
}

// producerIDAllocator hands out producer ids from reserved blocks.
type producerIDAllocator struct {
	reserve func(ctx context.Context) (start, end int64, err error) // inclusive block

	mu       sync.Mutex
	cur, end int64 // next id to give; end of the block (inclusive); cur > end: none left
}

func newProducerIDAllocator(reserve func(ctx context.Context) (int64, int64, error)) *producerIDAllocator {
	return &producerIDAllocator{reserve: reserve, cur: 1, end: 0}
}

func (a *producerIDAllocator) next(ctx context.Context) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cur > a.end {
		start, end, err := a.reserve(ctx)
		if err != nil {
			return 0, err
		}
		a.cur, a.end = start, end
	}
	id := a.cur
	a.cur++
	return id, nil
}
