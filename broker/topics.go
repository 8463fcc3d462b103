package broker

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/zkafka/zkafka/zkcoord"
)

// Request errors of topic creation that only the broker raises; the others
// (invalid partitions, replication factor, assignment, topic name) are
// zkcoord's. All carry Kafka's own message (zkcoord.KafkaErrorf) and are
// mapped to error codes by topicErrorCode.
var (
	errInvalidRequest = errors.New("invalid request")
	errInvalidConfig  = errors.New("invalid config")
)

// maxTopicReplicas bounds partitions × replication factor of one topic, so
// that its assignment JSON fits ZooKeeper's 1 MiB znode limit (jute.maxbuffer).
const maxTopicReplicas = 100000

// planTopic validates a new topic and works out its replica assignment:
// the explicit one (checked, on live brokers), or Kafka's rack-unaware
// assignment over the live brokers (which checks partitions and replication
// factor).
func (b *Broker) planTopic(name string, partitions int32, rf int16, assignment map[int32][]int32) (map[int32][]int32, error) {
	if err := zkcoord.ValidateTopicName(name); err != nil {
		return nil, err
	}
	if assignment != nil {
		return assignment, b.checkAssignment(assignment)
	}
	if int64(partitions)*int64(rf) > maxTopicReplicas { // before anything is allocated
		return nil, zkcoord.KafkaErrorf(zkcoord.ErrInvalidPartitions, "%d partitions with replication factor %d: the replica assignment would not fit a ZooKeeper znode (at most %d replicas per topic).", partitions, rf, maxTopicReplicas)
	}
	brokers := b.meta.aliveBrokerIDs()
	if len(brokers) == 0 {
		brokers = []int32{b.cfg.BrokerID}
	}
	return zkcoord.AssignReplicasRackUnaware(partitions, rf, brokers, -1, 0)
}

// createTopic writes a new topic's config and replica assignment to ZooKeeper
// (Kafka's AdminZkClient order); the controller notices it and elects
// leaders.
func (b *Broker) createTopic(ctx context.Context, name string, partitions int32, rf int16, assignment map[int32][]int32, configs map[string]string) error {
	assignment, err := b.planTopic(name, partitions, rf, assignment)
	if err != nil {
		return err
	}
	return b.zk.CreateTopic(ctx, name, assignment, configs)
}

// checkAssignment validates an explicit replica assignment as Kafka does
// (zkcoord.ValidateReplicaAssignment) and checks that its brokers are alive.
func (b *Broker) checkAssignment(assignment map[int32][]int32) error {
	if err := zkcoord.ValidateReplicaAssignment(assignment); err != nil {
		return err
	}
	for _, p := range sortedPartitionIDs(assignment) {
		for _, r := range assignment[p] {
			if !b.meta.isAlive(r) {
				return zkcoord.KafkaErrorf(zkcoord.ErrInvalidReplicaAssignment, "Unknown broker %d in the replica assignment of partition %d.", r, p)
			}
		}
	}
	return nil
}

// topicErrorCode maps a topic admin error to its Kafka error code.
func topicErrorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, zkcoord.ErrTopicExists):
		return kerr.TopicAlreadyExists.Code
	case errors.Is(err, zkcoord.ErrInvalidTopic):
		return kerr.InvalidTopicException.Code
	case errors.Is(err, zkcoord.ErrInvalidPartitions):
		return kerr.InvalidPartitions.Code
	case errors.Is(err, zkcoord.ErrInvalidReplicationFactor):
		return kerr.InvalidReplicationFactor.Code
	case errors.Is(err, zkcoord.ErrInvalidReplicaAssignment):
		return kerr.InvalidReplicaAssignment.Code
	case errors.Is(err, errInvalidRequest):
		return kerr.InvalidRequest.Code
	case errors.Is(err, errInvalidConfig):
		return kerr.InvalidConfig.Code
	case errors.Is(err, zkcoord.ErrUnknownTopic):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, zkcoord.ErrTopicMarkedForDeletion):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, context.DeadlineExceeded):
		return kerr.RequestTimedOut.Code
	}
	return kerr.UnknownServerError.Code
}

// waitForMetadata waits until cond holds on the metadata cache, or until
// timeout or ctx ends; it reports whether cond held.
func (b *Broker) waitForMetadata(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		changed := b.meta.Changed()
		if cond() {
			return true
		}
		select {
		case <-changed:
		case <-t.C:
			return cond()
		case <-ctx.Done():
			return false
		}
	}
}

// topicReady reports whether the metadata cache has all partitions of a
// topic with a leader.
func (b *Broker) topicReady(name string, partitions int) bool {
	parts, ok := b.meta.topic(name)
	if !ok || len(parts) < partitions {
		return false
	}
	for _, pm := range parts {
		if pm.leader < 0 {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sortedPartitionIDs[V any](m map[int32]V) []int32 {
	ids := make([]int32, 0, len(m))
	for p := range m {
		ids = append(ids, p)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}
