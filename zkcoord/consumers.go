package zkcoord

import (
	"context"
	"errors"
)

// GetConsumerOffset reads /consumers/<g>/offsets/<t>/<p>; ok is false when
// no offset was committed.
func (s *Session) GetConsumerOffset(ctx context.Context, group, topic string, partition int32) (offset int64, ok bool, err error) {
	data, _, err := s.Get(ctx, ConsumerGroupOffsetPath(group, topic, partition))
	if errors.Is(err, ErrNoNode) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	offset, err = DecodeConsumerOffset(data)
	if err != nil {
		return 0, false, err
	}
	return offset, true, nil
}

// SetConsumerOffset writes the offset as decimal text: setData, creating
// the znode and its parents (persistent) on NONODE (Kafka's
// setOrCreateConsumerOffset / ZkUtils.updatePersistentPath).
func (s *Session) SetConsumerOffset(ctx context.Context, group, topic string, partition int32, offset int64) error {
	return s.setOrCreate(ctx, ConsumerGroupOffsetPath(group, topic, partition), EncodeConsumerOffset(offset))
}
