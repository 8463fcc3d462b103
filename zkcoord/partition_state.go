package zkcoord

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
)

// The controller's fenced writes of partition state and topic znodes
// (KafkaZkClient.createTopicPartitionStatesRaw, updateLeaderAndIsr,
// deleteTopicZNode...). Kafka 2.4 sends one {check, op} multi per znode,
// pipelined; zkafka batches up to maxMultiOps ops behind one check, and when
// a batch fails because of one op, it records that op's error and retries
// the rest, so one partition's conflict never blocks the others.

// maxMultiOps bounds the ops of one multi (ZooKeeper's request size limit,
// jute.maxbuffer, is 1 MB; partition state ops are ~100-200 bytes).
const maxMultiOps = 500

// PartitionWriteResult is the outcome of one partition's state write: the
// new zkVersion of the state znode, or Err (wrapping ErrNodeExists for a
// create, ErrBadVersion for a conditional update, ErrNoNode when the topic
// is gone).
type PartitionWriteResult struct {
	ZkVersion int32
	Err       error
}

// PartitionStateUpdate is a conditional update of one state znode.
type PartitionStateUpdate struct {
	State             LeaderAndIsr
	ExpectedZkVersion int32
}

// op is one multi op with the partition it belongs to (or -1) and whether
// NODEEXISTS/NONODE on it is fine (creating a parent that exists, deleting
// a node that is gone).
type fencedOp struct {
	op       any
	owner    int
	tolerate error
}

// runFenced executes ops behind the fence in batches of at most
// maxMultiOps. When a batch fails on an op, that op is dropped (its error is
// tolerable) or its owner is marked failed and all the owner's ops dropped,
// and the rest of the batch is retried. onDone is called with the responses
// of every op of a batch that succeeded. It returns per-owner errors, or an
// error for the whole call (ErrControllerMoved, connection loss...).
func runFenced(ctx context.Context, s *Session, fence ControllerEpoch, ops []fencedOp, onDone func(op fencedOp, r MultiResponse)) (map[int]error, error) {
	failed := map[int]error{}
	for len(ops) > 0 {
		n := min(len(ops), maxMultiOps)
		// Never split one owner's ops over two batches (creates of a
		// partition's parent and state must stay in order in one multi).
		for n < len(ops) && n > 1 && ops[n].owner >= 0 && ops[n].owner == ops[n-1].owner {
			n--
		}
		batch := slices.Clone(ops[:n])
		for len(batch) > 0 {
			raw := make([]any, len(batch))
			for i, o := range batch {
				raw[i] = o.op
			}
			res, err := FencedMulti(ctx, s, fence, raw...)
			if err == nil {
				for i, o := range batch {
					if i < len(res) {
						onDone(o, res[i])
					}
				}
				break
			}
			i, opErr := FailedOp(res)
			if errors.Is(err, ErrControllerMoved) || i < 0 || i >= len(batch) {
				return failed, err
			}
			bad := batch[i]
			if bad.tolerate != nil && errors.Is(opErr, bad.tolerate) {
				batch = slices.Delete(batch, i, i+1)
				continue
			}
			if bad.owner < 0 {
				return failed, err
			}
			failed[bad.owner] = opErr
			batch = slices.DeleteFunc(batch, func(o fencedOp) bool { return o.owner == bad.owner })
		}
		ops = ops[n:]
	}
	return failed, nil
}

func sortedTPs[V any](m map[TopicPartition]V) []TopicPartition {
	tps := make([]TopicPartition, 0, len(m))
	for tp := range m {
		tps = append(tps, tp)
	}
	slices.SortFunc(tps, func(a, b TopicPartition) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition) - int(b.Partition)
	})
	return tps
}

// CreatePartitionStates creates, behind the fence, the persistent znodes
// /brokers/topics/T/partitions, .../partitions/P (no data, existing ones are
// fine) and .../partitions/P/state with each partition's LeaderAndIsr JSON.
// Per partition: ZkVersion 0, or Err wrapping ErrNodeExists (the state
// exists) or ErrNoNode (the topic is gone). The error is for the whole call:
// ErrControllerMoved or a ZooKeeper failure.
func CreatePartitionStates(ctx context.Context, s *Session, fence ControllerEpoch, states map[TopicPartition]LeaderAndIsr) (map[TopicPartition]PartitionWriteResult, error) {
	tps := sortedTPs(states)
	out := make(map[TopicPartition]PartitionWriteResult, len(tps))
	var ops []fencedOp
	seenTopic := map[string]bool{}
	for i, tp := range tps {
		if !seenTopic[tp.Topic] {
			seenTopic[tp.Topic] = true
			ops = append(ops, fencedOp{op: CreateOp(TopicPartitionsPath(tp.Topic), nil, FlagPersistent), owner: i, tolerate: ErrNodeExists})
		}
		ops = append(ops,
			fencedOp{op: CreateOp(TopicPartitionPath(tp.Topic, tp.Partition), nil, FlagPersistent), owner: i, tolerate: ErrNodeExists},
			fencedOp{op: CreateOp(PartitionStatePath(tp.Topic, tp.Partition), EncodeLeaderAndIsr(states[tp]), FlagPersistent), owner: i},
		)
	}
	failed, err := runFenced(ctx, s, fence, ops, func(fencedOp, MultiResponse) {})
	for i, tp := range tps {
		if e, ok := failed[i]; ok {
			out[tp] = PartitionWriteResult{Err: fmt.Errorf("create state of %s: %w", tp, e)}
		} else if err == nil {
			out[tp] = PartitionWriteResult{ZkVersion: 0}
		}
	}
	return out, err
}

// UpdatePartitionStates sets each state znode behind the fence if its
// version is the expected one (the controller's conditional update of
// leader/ISR). Per partition: the new ZkVersion, or Err wrapping
// ErrBadVersion (someone, usually the leader changing the ISR, wrote it
// since it was read: re-read and decide again) or ErrNoNode.
func UpdatePartitionStates(ctx context.Context, s *Session, fence ControllerEpoch, updates map[TopicPartition]PartitionStateUpdate) (map[TopicPartition]PartitionWriteResult, error) {
	tps := sortedTPs(updates)
	out := make(map[TopicPartition]PartitionWriteResult, len(tps))
	ops := make([]fencedOp, len(tps))
	for i, tp := range tps {
		u := updates[tp]
		ops[i] = fencedOp{op: SetDataOp(PartitionStatePath(tp.Topic, tp.Partition), EncodeLeaderAndIsr(u.State), u.ExpectedZkVersion), owner: i}
	}
	failed, err := runFenced(ctx, s, fence, ops, func(o fencedOp, r MultiResponse) {
		if r.Stat != nil {
			out[tps[o.owner]] = PartitionWriteResult{ZkVersion: r.Stat.Version}
		}
	})
	for i, tp := range tps {
		if e, ok := failed[i]; ok {
			out[tp] = PartitionWriteResult{Err: fmt.Errorf("update state of %s: %w", tp, e)}
		}
	}
	return out, err
}

// FencedDelete deletes paths (any version) behind the fence, in the order
// given (children before parents); missing znodes are skipped.
func FencedDelete(ctx context.Context, s *Session, fence ControllerEpoch, paths ...string) error {
	ops := make([]fencedOp, len(paths))
	for i, p := range paths {
		ops[i] = fencedOp{op: DeleteOp(p, AnyVersion), owner: -1, tolerate: ErrNoNode}
	}
	_, err := runFenced(ctx, s, fence, ops, func(fencedOp, MultiResponse) {})
	return err
}

// subtree lists p and everything below it, deepest first (so deleting in
// order never hits NOTEMPTY). A missing p yields nothing.
func subtree(ctx context.Context, s *Session, p string) ([]string, error) {
	children, _, err := s.Children(ctx, p)
	if errors.Is(err, ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	slices.Sort(children)
	var out []string
	for _, c := range children {
		sub, err := subtree(ctx, s, path.Join(p, c))
		if err != nil {
			return nil, err
		}
		out = append(out, sub...)
	}
	return append(out, p), nil
}

// DeleteTopicZNodes is the end of a topic deletion (2.4's
// TopicDeletionManager.completeDeleteTopic), every delete fenced:
// /brokers/topics/T recursively, /config/topics/T, /admin/delete_topics/T.
// Missing znodes are fine; a child created meanwhile makes it list again.
func DeleteTopicZNodes(ctx context.Context, s *Session, fence ControllerEpoch, topic string) error {
	for attempt := 0; ; attempt++ {
		paths, err := subtree(ctx, s, TopicPath(topic))
		if err != nil {
			return err
		}
		paths = append(paths, ConfigTopicPath(topic), DeleteTopicPath(topic))
		err = FencedDelete(ctx, s, fence, paths...)
		if errors.Is(err, ErrNotEmpty) && attempt < 5 {
			continue
		}
		if err != nil {
			return fmt.Errorf("zkcoord: delete znodes of topic %s: %w", topic, err)
		}
		return nil
	}
}

// DeleteTopicDeletionMarkers removes /admin/delete_topics/T for each topic,
// fenced (markers of unknown topics, or all markers when topic deletion is
// disabled).
func DeleteTopicDeletionMarkers(ctx context.Context, s *Session, fence ControllerEpoch, topics []string) error {
	paths := make([]string, len(topics))
	for i, t := range topics {
		paths[i] = DeleteTopicPath(t)
	}
	return FencedDelete(ctx, s, fence, paths...)
}

// IsrChangeNotification is one child of /isr_change_notification.
type IsrChangeNotification struct {
	Name       string // e.g. isr_change_0000000042
	Partitions []TopicPartition
}

// GetIsrChangeNotifications reads the given children of
// /isr_change_notification (vanished ones are skipped, corrupt ones are
// returned with no partitions so that they get deleted).
func GetIsrChangeNotifications(ctx context.Context, s *Session, names []string) ([]IsrChangeNotification, error) {
	slices.Sort(names)
	var out []IsrChangeNotification
	for _, n := range names {
		data, _, err := s.Get(ctx, IsrChangeNotificationChildPath(n))
		if errors.Is(err, ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, err
		}
		tps, err := DecodeIsrChangeNotification(data)
		if err != nil {
			tps = nil
		}
		out = append(out, IsrChangeNotification{Name: n, Partitions: tps})
	}
	return out, nil
}

// DeleteIsrChangeNotifications deletes children of /isr_change_notification
// behind the fence (after processing, and all leftovers at failover).
func DeleteIsrChangeNotifications(ctx context.Context, s *Session, fence ControllerEpoch, names []string) error {
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = IsrChangeNotificationChildPath(n)
	}
	return FencedDelete(ctx, s, fence, paths...)
}

// DeleteLogDirEventNotifications deletes children of
// /log_dir_event_notification behind the fence.
func DeleteLogDirEventNotifications(ctx context.Context, s *Session, fence ControllerEpoch, names []string) error {
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = LogDirEventNotificationChildPath(n)
	}
	return FencedDelete(ctx, s, fence, paths...)
}
