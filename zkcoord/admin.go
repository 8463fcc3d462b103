package zkcoord

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Admin znodes written by tools and watched by the controller
// (ZK-LAYOUT.md): /admin/preferred_replica_election and
// /admin/reassign_partitions, and partition additions to /brokers/topics/<t>.

// ErrAdminOperationInProgress: an admin znode (preferred replica election,
// reassignment) already exists: the controller has not finished the
// previous operation.
var ErrAdminOperationInProgress = errors.New("admin operation in progress")

// CreatePreferredReplicaElection writes /admin/preferred_replica_election
// with tps (KafkaZkClient.createPreferredReplicaElection). If it exists,
// the error wraps ErrAdminOperationInProgress with 2.4's message.
func (s *Session) CreatePreferredReplicaElection(ctx context.Context, tps []TopicPartition) error {
	_, err := s.CreateRecursive(ctx, PreferredReplicaElectionPath, EncodePreferredReplicaElection(tps), FlagPersistent)
	if errors.Is(err, ErrNodeExists) {
		cur, _ := s.GetPreferredReplicaElection(ctx)
		names := make([]string, len(cur))
		for i, tp := range cur {
			names[i] = tp.String()
		}
		return KafkaErrorf(ErrAdminOperationInProgress, "Preferred replica leader election currently in progress for %s. Aborting operation",
			strings.Join(names, ","))
	}
	return err
}

// GetPreferredReplicaElection reads /admin/preferred_replica_election
// (nothing if absent).
func (s *Session) GetPreferredReplicaElection(ctx context.Context) ([]TopicPartition, error) {
	data, _, err := s.Get(ctx, PreferredReplicaElectionPath)
	if errors.Is(err, ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return DecodePreferredReplicaElection(data)
}

// GetAllPartitions lists every partition of every topic, sorted.
func (s *Session) GetAllPartitions(ctx context.Context) ([]TopicPartition, error) {
	topics, err := s.GetAllTopics(ctx)
	if err != nil {
		return nil, err
	}
	as, err := s.GetTopicAssignments(ctx, topics)
	if err != nil {
		return nil, err
	}
	var out []TopicPartition
	for _, t := range topics {
		a, ok := as[t]
		if !ok {
			continue
		}
		for _, p := range a.SortedPartitions() {
			out = append(out, TopicPartition{Topic: t, Partition: p})
		}
	}
	return out, nil
}

// TopicAssignmentRead is one topic's assignment as read, with the znode's
// version (the CAS token of partition additions and reassignments).
type TopicAssignmentRead struct {
	TopicAssignment
	ZkVersion int32
}

// GetTopicAssignments reads /brokers/topics/<t> of many topics, pipelined
// on the connection (bounded concurrency). Topics that are gone are absent
// from the result; a corrupt one fails the call.
func (s *Session) GetTopicAssignments(ctx context.Context, topics []string) (map[string]TopicAssignmentRead, error) {
	reads := make([]TopicAssignmentRead, len(topics))
	found := make([]bool, len(topics))
	err := parallel(ctx, len(topics), func(ctx context.Context, i int) error {
		a, v, err := s.GetTopicAssignment(ctx, topics[i])
		if errors.Is(err, ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		reads[i], found[i] = TopicAssignmentRead{a, v}, true
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]TopicAssignmentRead, len(topics))
	for i, t := range topics {
		if found[i] {
			out[t] = reads[i]
		}
	}
	return out, nil
}

// Errors of partition additions and reassignments, matched with errors.Is.
var (
	// ErrBrokerNotAvailable: an assignment names a broker that is not
	// registered (Kafka's BrokerNotAvailableException).
	ErrBrokerNotAvailable = errors.New("broker not available")
	// ErrReassignmentInProgress: /admin/reassign_partitions exists.
	ErrReassignmentInProgress = errors.New("reassignment in progress")
)

// PlanPartitionIncrease is AdminZkClient.createNewPartitionsAssignment: the
// replica lists of the partitions that grow topic (assignment cur) to total
// partitions. manual, if not nil, gives them (one list per new partition);
// otherwise they are assigned rack-unaware over brokers (sorted ids) with
// the replication factor of partition 0, starting at the first broker whose
// id is >= partition 0's first replica, as Kafka does. Errors carry 2.4's
// messages and wrap ErrInvalidPartitions, ErrInvalidReplicaAssignment or
// ErrBrokerNotAvailable.
func PlanPartitionIncrease(topic string, cur map[int32][]int32, total int32, manual [][]int32, brokers []int32) (map[int32][]int32, error) {
	p0, ok := cur[0]
	if !ok || len(p0) == 0 {
		return nil, KafkaErrorf(ErrInvalidReplicaAssignment, "Unexpected existing replica assignment for topic '%s', partition id 0 is missing. Assignment: %v", topic, cur)
	}
	existing := int32(len(cur))
	add := total - existing
	if add <= 0 {
		return nil, KafkaErrorf(ErrInvalidPartitions, "The number of partitions for a topic can only be increased. Topic %s currently has %d partitions, %d would not be an increase.", topic, existing, total)
	}
	if manual == nil {
		start := 0
		for i, b := range brokers {
			if b >= p0[0] {
				start = i
				break
			}
		}
		return AssignReplicasRackUnaware(add, int16(len(p0)), brokers, int32(start), existing)
	}
	if int32(len(manual)) != add {
		return nil, KafkaErrorf(ErrInvalidReplicaAssignment, "Increasing the number of partitions by %d but %d assignments provided.", add, len(manual))
	}
	known := map[int32]bool{}
	for _, b := range brokers {
		known[b] = true
	}
	out := make(map[int32][]int32, add)
	var badParts, badRFs []string
	var unknown []string
	for i, reps := range manual {
		p := existing + int32(i)
		if len(reps) == 0 {
			return nil, KafkaErrorf(ErrInvalidReplicaAssignment, "Cannot have replication factor of 0 for partition id %d.", p)
		}
		seen := map[int32]bool{}
		for _, r := range reps {
			if seen[r] {
				return nil, KafkaErrorf(ErrInvalidReplicaAssignment, "Duplicate brokers not allowed in replica assignment: %s for partition id %d.", joinIDs(reps, ", "), p)
			}
			seen[r] = true
			if !known[r] {
				unknown = append(unknown, fmt.Sprint(r))
			}
		}
		if len(reps) != len(p0) {
			badParts = append(badParts, fmt.Sprint(p))
			badRFs = append(badRFs, fmt.Sprint(len(reps)))
		}
		out[p] = append([]int32(nil), reps...)
	}
	if len(badParts) > 0 {
		return nil, KafkaErrorf(ErrInvalidReplicaAssignment, "Inconsistent replication factor between partitions, partition 0 has %d while partitions [%s] have replication factors [%s], respectively.",
			len(p0), strings.Join(badParts, ", "), strings.Join(badRFs, ", "))
	}
	if len(unknown) > 0 {
		return nil, KafkaErrorf(ErrBrokerNotAvailable, "Unknown broker(s) in replica assignment: %s.", strings.Join(unknown, ", "))
	}
	return out, nil
}

func joinIDs(ids []int32, sep string) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, sep)
}

// AddPartitions writes the new partitions' replica lists (from
// PlanPartitionIncrease) into /brokers/topics/<t> at the version read, as
// AdminZkClient.addPartitions does; a concurrent change fails with
// ErrBadVersion instead of being overwritten. The controller's
// partition-modification watch then creates the partitions' state.
func (s *Session) AddPartitions(ctx context.Context, topic string, cur TopicAssignment, expectedVersion int32, added map[int32][]int32) error {
	all := make(map[int32][]int32, len(cur.Partitions)+len(added))
	for p, r := range cur.Partitions {
		all[p] = r
	}
	for p, r := range added {
		if _, ok := all[p]; ok {
			return KafkaErrorf(ErrInvalidPartitions, "partition %d of %s already exists", p, topic)
		}
		all[p] = r
	}
	a := TopicAssignment{Partitions: all, AddingReplicas: cur.AddingReplicas, RemovingReplicas: cur.RemovingReplicas}
	_, err := s.Set(ctx, TopicPath(topic), EncodeTopicAssignment(a), expectedVersion)
	return err
}

// sortTPs sorts partitions by topic then partition.
func sortTPs(tps []TopicPartition) {
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
}

// CreatePartitionReassignment writes /admin/reassign_partitions
// (KafkaZkClient.createPartitionReassignment). If one is in progress the
// error wraps ErrReassignmentInProgress with 2.4's message.
func (s *Session) CreatePartitionReassignment(ctx context.Context, rs []PartitionReassignment) error {
	_, err := s.CreateRecursive(ctx, ReassignPartitionsPath, EncodeReassignPartitions(rs), FlagPersistent)
	if errors.Is(err, ErrNodeExists) {
		cur, _ := s.GetPartitionReassignment(ctx)
		var names []string
		for _, r := range cur {
			names = append(names, TopicPartition{Topic: r.Topic, Partition: r.Partition}.String())
		}
		return KafkaErrorf(ErrReassignmentInProgress, "Partition reassignment currently in progress for %s. Aborting operation", strings.Join(names, ","))
	}
	return err
}

// GetPartitionReassignment reads /admin/reassign_partitions (nothing if
// absent).
func (s *Session) GetPartitionReassignment(ctx context.Context) ([]PartitionReassignment, error) {
	data, _, err := s.Get(ctx, ReassignPartitionsPath)
	if errors.Is(err, ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return DecodeReassignPartitions(data)
}
