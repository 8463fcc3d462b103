package broker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/zkafka/zkafka/zkcoord"
)

// errInvalidPartitions, errInvalidReplicationFactor and
// errInvalidReplicaAssignment are request errors of topic creation.
var (
	errInvalidPartitions        = errors.New("number of partitions must be larger than 0")
	errInvalidReplicationFactor = errors.New("replication factor must be larger than 0")
	errInvalidReplicaAssignment = errors.New("invalid replica assignment")
	errInvalidRequest           = errors.New("invalid request")
	errInvalidConfig            = errors.New("invalid config")
)

// createTopic writes a new topic's config and replica assignment to ZooKeeper
// (Kafka's AdminZkClient order); the controller notices it and elects
// leaders. With no explicit assignment, replicas are spread over the live
// brokers with Kafka's rack-unaware assignment.
func (b *Broker) createTopic(ctx context.Context, name string, partitions int32, rf int16, assignment map[int32][]int32, configs map[string]string) error {
	if err := zkcoord.ValidateTopicName(name); err != nil {
		return err
	}
	if assignment == nil {
		var err error
		if assignment, err = b.assignReplicas(partitions, rf); err != nil {
			return err
		}
	} else if err := b.checkAssignment(assignment); err != nil {
		return err
	}
	return b.zk.CreateTopic(ctx, name, assignment, configs)
}

func (b *Broker) assignReplicas(partitions int32, rf int16) (map[int32][]int32, error) {
	if partitions <= 0 {
		return nil, errInvalidPartitions
	}
	if rf <= 0 {
		return nil, errInvalidReplicationFactor
	}
	brokers := b.meta.aliveBrokerIDs()
	if len(brokers) == 0 {
		brokers = []int32{b.cfg.BrokerID}
	}
	if int(rf) > len(brokers) {
		return nil, fmt.Errorf("%w: replication factor %d larger than available brokers %d", errInvalidReplicationFactor, rf, len(brokers))
	}
	return zkcoord.AssignReplicasRackUnaware(partitions, rf, brokers, -1, 0)
}

// checkAssignment validates an explicit replica assignment as Kafka does:
// partitions numbered 0..n-1, a non-empty replica list without duplicates on
// every partition, all of the same length, on live brokers.
func (b *Broker) checkAssignment(assignment map[int32][]int32) error {
	n := len(assignment)
	var rf int
	for p, replicas := range assignment {
		if p < 0 || int(p) >= n {
			return fmt.Errorf("%w: partitions must be numbered consecutively from 0", errInvalidReplicaAssignment)
		}
		if len(replicas) == 0 || (rf != 0 && len(replicas) != rf) {
			return fmt.Errorf("%w: all partitions must have the same, non-zero number of replicas", errInvalidReplicaAssignment)
		}
		rf = len(replicas)
		seen := map[int32]bool{}
		for _, r := range replicas {
			if seen[r] {
				return fmt.Errorf("%w: duplicate replica %d in partition %d", errInvalidReplicaAssignment, r, p)
			}
			seen[r] = true
			if !b.meta.isAlive(r) {
				return fmt.Errorf("%w: broker %d of partition %d is not alive", errInvalidReplicaAssignment, r, p)
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
	case errors.Is(err, errInvalidPartitions):
		return kerr.InvalidPartitions.Code
	case errors.Is(err, errInvalidReplicationFactor):
		return kerr.InvalidReplicationFactor.Code
	case errors.Is(err, errInvalidReplicaAssignment):
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

func sortedPartitionIDs[V any](m map[int32]V) []int32 {
	ids := make([]int32, 0, len(m))
	for p := range m {
		ids = append(ids, p)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}
