package zkcoord

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
)

// AllocateProducerIDBlock reserves the next block of ProducerIDBlockSize
// producer ids for brokerID (Kafka's ProducerIdManager.getNewProducerIdBlock):
// read /latest_producer_id_block with its zkVersion; the first block is
// [0, 999], later ones follow the stored block_end; write it with a
// conditional setData and retry on BADVERSION (another broker won).
func (s *Session) AllocateProducerIDBlock(ctx context.Context, brokerID int32) (ProducerIDBlock, error) {
	for {
		data, st, err := s.Get(ctx, LatestProducerIDBlockPath)
		if errors.Is(err, ErrNoNode) {
			if err := s.EnsurePath(ctx, LatestProducerIDBlockPath); err != nil {
				return ProducerIDBlock{}, err
			}
			continue
		}
		if err != nil {
			return ProducerIDBlock{}, err
		}
		next := ProducerIDBlock{BrokerID: brokerID, BlockStart: 0, BlockEnd: ProducerIDBlockSize - 1}
		if len(bytes.TrimSpace(data)) > 0 {
			cur, err := DecodeProducerIDBlock(data)
			if err != nil {
				return ProducerIDBlock{}, err
			}
			if cur.BlockEnd > math.MaxInt64-ProducerIDBlockSize {
				return ProducerIDBlock{}, fmt.Errorf("zkcoord: producer ids exhausted (last block ends at %d)", cur.BlockEnd)
			}
			next.BlockStart = cur.BlockEnd + 1
			next.BlockEnd = cur.BlockEnd + ProducerIDBlockSize
		}
		_, err = s.Set(ctx, LatestProducerIDBlockPath, EncodeProducerIDBlock(next), st.Version)
		if errors.Is(err, ErrBadVersion) {
			continue
		}
		if err != nil {
			return ProducerIDBlock{}, err
		}
		return next, nil
	}
}
