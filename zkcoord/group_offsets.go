package zkcoord

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// ErrConsumerGroupNotEmpty: live consumers are registered under
// /consumers/<g>/ids, so the group cannot be deleted.
var ErrConsumerGroupNotEmpty = errors.New("consumer group has live members")

// commitAttempts bounds the retries of a commit racing with another writer
// creating or deleting the same znodes.
const commitAttempts = 5

// CommitConsumerOffsets writes the offsets of a group under
// /consumers/<g>/offsets/<t>/<p> (decimal text) in one ZooKeeper multi:
// setData on every partition znode, or, when some are missing, their parents
// created first and create/setData as each one needs.
func (s *Session) CommitConsumerOffsets(ctx context.Context, group string, offsets map[TopicPartition]int64) error {
	if len(offsets) == 0 {
		return nil
	}
	tps := sortedOffsetTPs(offsets)
	ops := make([]any, 0, len(tps))
	for _, tp := range tps {
		ops = append(ops, SetDataOp(ConsumerGroupOffsetPath(group, tp.Topic, tp.Partition), EncodeConsumerOffset(offsets[tp]), AnyVersion))
	}
	_, err := s.Multi(ctx, ops...)
	for attempt := 1; err != nil && attempt < commitAttempts; attempt++ {
		if !errors.Is(err, ErrNoNode) && !errors.Is(err, ErrNodeExists) {
			break
		}
		if ops, err = s.commitOps(ctx, group, tps, offsets); err != nil {
			break
		}
		_, err = s.Multi(ctx, ops...)
	}
	if err != nil {
		return fmt.Errorf("zkcoord: commit offsets of group %s: %w", group, err)
	}
	return nil
}

// commitOps creates the topic znodes of a commit and builds its multi with
// create for missing partition znodes and setData for existing ones.
func (s *Session) commitOps(ctx context.Context, group string, tps []TopicPartition, offsets map[TopicPartition]int64) ([]any, error) {
	ops := make([]any, 0, len(tps))
	done := map[string]bool{}
	for _, tp := range tps {
		if !done[tp.Topic] {
			if err := s.EnsurePath(ctx, ConsumerGroupOffsetsTopicPath(group, tp.Topic)); err != nil {
				return nil, err
			}
			done[tp.Topic] = true
		}
		p := ConsumerGroupOffsetPath(group, tp.Topic, tp.Partition)
		data := EncodeConsumerOffset(offsets[tp])
		ok, _, err := s.Exists(ctx, p)
		switch {
		case err != nil:
			return nil, err
		case ok:
			ops = append(ops, SetDataOp(p, data, AnyVersion))
		default:
			ops = append(ops, CreateOp(p, data, FlagPersistent))
		}
	}
	return ops, nil
}

func sortedOffsetTPs[V any](m map[TopicPartition]V) []TopicPartition {
	tps := make([]TopicPartition, 0, len(m))
	for tp := range m {
		tps = append(tps, tp)
	}
	sortTPs(tps)
	return tps
}

// ConsumerOffsets reads committed offsets of a group: those of tps, or
// with tps nil every partition under /consumers/<g>/offsets. Partitions
// without an offset are absent from the result; a znode that does not
// hold a decimal offset is reported as an error.
func (s *Session) ConsumerOffsets(ctx context.Context, group string, tps []TopicPartition) (map[TopicPartition]int64, error) {
	if tps == nil {
		var err error
		if tps, err = s.ConsumerOffsetPartitions(ctx, group); err != nil {
			return nil, err
		}
	}
	out := make(map[TopicPartition]int64, len(tps))
	for _, tp := range tps {
		off, ok, err := s.GetConsumerOffset(ctx, group, tp.Topic, tp.Partition)
		if err != nil {
			return nil, fmt.Errorf("zkcoord: offset of group %s for %s: %w", group, tp, err)
		}
		if ok {
			out[tp] = off
		}
	}
	return out, nil
}

// ConsumerOffsetPartitions lists the partitions that have a znode under
// /consumers/<g>/offsets (children that are not partition numbers are
// skipped).
func (s *Session) ConsumerOffsetPartitions(ctx context.Context, group string) ([]TopicPartition, error) {
	topics, err := s.sortedChildren(ctx, ConsumerGroupOffsetsPath(group))
	if errors.Is(err, ErrNoNode) {
		return []TopicPartition{}, nil
	}
	if err != nil {
		return nil, err
	}
	tps := []TopicPartition{}
	for _, t := range topics {
		parts, err := s.sortedChildren(ctx, ConsumerGroupOffsetsTopicPath(group, t))
		if errors.Is(err, ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, p := range parts {
			if n, err := strconv.ParseInt(p, 10, 32); err == nil && n >= 0 {
				tps = append(tps, TopicPartition{Topic: t, Partition: int32(n)})
			}
		}
	}
	sortTPs(tps)
	return tps, nil
}

// DeleteConsumerOffsets deletes the offset znodes of tps (missing ones are
// fine) and topic znodes left empty.
func (s *Session) DeleteConsumerOffsets(ctx context.Context, group string, tps []TopicPartition) error {
	topics := map[string]bool{}
	for _, tp := range tps {
		err := s.Delete(ctx, ConsumerGroupOffsetPath(group, tp.Topic, tp.Partition), AnyVersion)
		if err != nil && !errors.Is(err, ErrNoNode) {
			return err
		}
		topics[tp.Topic] = true
	}
	for t := range topics {
		err := s.Delete(ctx, ConsumerGroupOffsetsTopicPath(group, t), AnyVersion)
		if err != nil && !errors.Is(err, ErrNoNode) && !errors.Is(err, ErrNotEmpty) {
			return err
		}
	}
	return nil
}

// DeleteConsumerGroup removes /consumers/<g>: its offsets and owners, then
// ids and the group znode itself if no consumer is registered. The
// ephemeral ids of live classic consumers are never deleted:
// ErrConsumerGroupNotEmpty then. ErrNoNode if the group has no znode.
func (s *Session) DeleteConsumerGroup(ctx context.Context, group string) error {
	root := ConsumerGroupPath(group)
	if ok, _, err := s.Exists(ctx, root); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("zkcoord: consumer group %s: %w", group, ErrNoNode)
	}
	ids, _, err := s.Children(ctx, ConsumerGroupIDsPath(group))
	if err != nil && !errors.Is(err, ErrNoNode) {
		return err
	}
	if len(ids) > 0 {
		return fmt.Errorf("zkcoord: consumer group %s: %d consumers registered: %w", group, len(ids), ErrConsumerGroupNotEmpty)
	}
	for _, p := range []string{ConsumerGroupOffsetsPath(group), ConsumerGroupOwnersPath(group)} {
		if err := s.DeleteRecursive(ctx, p); err != nil {
			return err
		}
	}
	children, _, err := s.Children(ctx, root)
	if errors.Is(err, ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, c := range children {
		err := s.Delete(ctx, root+"/"+c, AnyVersion) // ids (only if empty) and anything else without children
		switch {
		case err == nil, errors.Is(err, ErrNoNode):
		case errors.Is(err, ErrNotEmpty):
			return fmt.Errorf("zkcoord: consumer group %s: %s is not empty: %w", group, c, ErrConsumerGroupNotEmpty)
		default:
			return err
		}
	}
	err = s.Delete(ctx, root, AnyVersion)
	switch {
	case err == nil, errors.Is(err, ErrNoNode):
		return nil
	case errors.Is(err, ErrNotEmpty): // a consumer registered meanwhile
		return fmt.Errorf("zkcoord: consumer group %s: %w", group, ErrConsumerGroupNotEmpty)
	}
	return err
}

// ConsumerGroups lists the children of /consumers, sorted.
func (s *Session) ConsumerGroups(ctx context.Context) ([]string, error) {
	groups, err := s.sortedChildren(ctx, ConsumersPath)
	if errors.Is(err, ErrNoNode) {
		return []string{}, nil
	}
	return groups, err
}
