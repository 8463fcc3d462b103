package zkcoord

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
)

// MaxTopicNameLength is Kafka's Topic.MaxNameLength.
const MaxTopicNameLength = 249

// ValidateTopicName applies Kafka's Topic.validate: 1-249 characters of
// [a-zA-Z0-9._-], not "." or "..". Errors wrap ErrInvalidTopic.
func ValidateTopicName(topic string) error {
	switch {
	case topic == "":
		return KafkaErrorf(ErrInvalidTopic, "Topic name is illegal, it can't be empty")
	case topic == "." || topic == "..":
		return KafkaErrorf(ErrInvalidTopic, "Topic name cannot be \".\" or \"..\"")
	case len(topic) > MaxTopicNameLength:
		return KafkaErrorf(ErrInvalidTopic, "Topic name is illegal, it can't be longer than %d characters, topic name: %s", MaxTopicNameLength, topic)
	}
	for i := 0; i < len(topic); i++ {
		c := topic[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return KafkaErrorf(ErrInvalidTopic, "Topic name \"%s\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'", topic)
		}
	}
	return nil
}

// TopicHasCollisionChars reports whether the name contains '.' or '_'.
func TopicHasCollisionChars(topic string) bool { return strings.ContainsAny(topic, "._") }

// UnifyCollisionChars maps '.' to '_' (Kafka's Topic.unifyCollisionChars).
func UnifyCollisionChars(topic string) string { return strings.ReplaceAll(topic, ".", "_") }

// AssignReplicasRackUnaware is Kafka's
// AdminUtils.assignReplicasToBrokersRackUnaware. brokers is used in the
// order given (Kafka passes live broker ids sorted ascending). A negative
// fixedStartIndex means random startIndex and nextReplicaShift; otherwise
// both equal fixedStartIndex. Partition ids start at max(0,startPartitionID).
func AssignReplicasRackUnaware(nPartitions int32, replicationFactor int16, brokers []int32, fixedStartIndex, startPartitionID int32) (map[int32][]int32, error) {
	return assignReplicasRackUnaware(nPartitions, replicationFactor, brokers, fixedStartIndex, startPartitionID, rand.IntN)
}

func assignReplicasRackUnaware(nPartitions int32, replicationFactor int16, brokers []int32, fixedStartIndex, startPartitionID int32, randN func(int) int) (map[int32][]int32, error) {
	if nPartitions <= 0 {
		return nil, KafkaErrorf(ErrInvalidPartitions, "Number of partitions must be larger than 0.")
	}
	if replicationFactor <= 0 {
		return nil, KafkaErrorf(ErrInvalidReplicationFactor, "Replication factor must be larger than 0.")
	}
	n := len(brokers)
	if int(replicationFactor) > n {
		return nil, KafkaErrorf(ErrInvalidReplicationFactor, "Replication factor: %d larger than available brokers: %d.", replicationFactor, n)
	}
	if fixedStartIndex >= int32(n) {
		fixedStartIndex %= int32(n)
	}
	var startIndex, nextReplicaShift int
	if fixedStartIndex >= 0 {
		startIndex, nextReplicaShift = int(fixedStartIndex), int(fixedStartIndex)
	} else {
		startIndex, nextReplicaShift = randN(n), randN(n)
	}
	current := int(max(0, startPartitionID))
	ret := make(map[int32][]int32, nPartitions)
	for i := int32(0); i < nPartitions; i++ {
		if current > 0 && current%n == 0 {
			nextReplicaShift++
		}
		first := (current + startIndex) % n
		replicas := make([]int32, 0, replicationFactor)
		replicas = append(replicas, brokers[first])
		for j := 0; j < int(replicationFactor)-1; j++ {
			shift := 1 + (nextReplicaShift+j)%(n-1)
			replicas = append(replicas, brokers[(first+shift)%n])
		}
		ret[int32(current)] = replicas
		current++
	}
	return ret, nil
}

// ValidateReplicaAssignment applies Kafka's checks on a new topic's
// assignment (AdminZkClient.validateTopicCreate): at least one partition,
// partition ids 0..n-1, no duplicate replicas, same replication factor
// everywhere, non-empty replica lists. Errors wrap ErrInvalidReplicaAssignment.
func ValidateReplicaAssignment(assignment map[int32][]int32) error {
	if len(assignment) == 0 {
		return KafkaErrorf(ErrInvalidReplicaAssignment, "Number of partitions must be larger than 0.")
	}
	rf := -1
	for p := int32(0); p < int32(len(assignment)); p++ {
		replicas, ok := assignment[p]
		if !ok {
			return KafkaErrorf(ErrInvalidReplicaAssignment, "partitions should be a consecutive 0-based integer sequence")
		}
		if len(replicas) == 0 {
			return KafkaErrorf(ErrInvalidReplicaAssignment, "Cannot have replication factor of 0 for partition id %d.", p)
		}
		seen := make(map[int32]bool, len(replicas))
		for _, r := range replicas {
			if seen[r] {
				return KafkaErrorf(ErrInvalidReplicaAssignment, "Duplicate replica assignment found: %v", assignment)
			}
			seen[r] = true
		}
		if rf == -1 {
			rf = len(replicas)
		} else if rf != len(replicas) {
			return KafkaErrorf(ErrInvalidReplicaAssignment, "All partitions should have the same number of replicas")
		}
	}
	return nil
}

// CreateTopic creates a topic the way AdminZkClient.createTopicWithAssignment
// does: validate the name (ErrInvalidTopic, also for '.'/'_' collisions with
// an existing topic) and the assignment, fail with ErrTopicExists if
// /brokers/topics/<t> exists, write /config/topics/<t> (set, or create if
// missing), then create /brokers/topics/<t> (version 2 JSON) with parents.
// The controller reacts to the new child of /brokers/topics.
func (s *Session) CreateTopic(ctx context.Context, topic string, assignment map[int32][]int32, configs map[string]string) error {
	if err := ValidateTopicName(topic); err != nil {
		return err
	}
	if err := ValidateReplicaAssignment(assignment); err != nil {
		return err
	}
	if ok, _, err := s.Exists(ctx, TopicPath(topic)); err != nil {
		return err
	} else if ok {
		return KafkaErrorf(ErrTopicExists, "Topic '%s' already exists.", topic)
	}
	if TopicHasCollisionChars(topic) {
		all, err := s.GetAllTopics(ctx)
		if err != nil {
			return err
		}
		var colliding []string
		for _, t := range all {
			if t != topic && UnifyCollisionChars(t) == UnifyCollisionChars(topic) {
				colliding = append(colliding, t)
			}
		}
		if len(colliding) > 0 {
			return KafkaErrorf(ErrInvalidTopic, "Topic '%s' collides with existing topics: %s", topic, strings.Join(colliding, ", "))
		}
	}
	if err := s.setOrCreate(ctx, ConfigTopicPath(topic), EncodeEntityConfig(configs)); err != nil {
		return fmt.Errorf("zkcoord: write config of topic %s: %w", topic, err)
	}
	data := EncodeTopicAssignment(TopicAssignment{Partitions: assignment})
	if _, err := s.CreateRecursive(ctx, TopicPath(topic), data, FlagPersistent); err != nil {
		if errors.Is(err, ErrNodeExists) {
			return KafkaErrorf(ErrTopicExists, "Topic '%s' already exists.", topic)
		}
		return fmt.Errorf("zkcoord: create topic %s: %w", topic, err)
	}
	s.log.WithField("topic", topic).Info("created topic")
	return nil
}

// setOrCreate is Kafka's setOrCreateEntityConfigs: setData(any version),
// on NONODE createRecursive (and on a lost race, set again).
func (s *Session) setOrCreate(ctx context.Context, p string, data []byte) error {
	_, err := s.Set(ctx, p, data, AnyVersion)
	if !errors.Is(err, ErrNoNode) {
		return err
	}
	_, err = s.CreateRecursive(ctx, p, data, FlagPersistent)
	if errors.Is(err, ErrNodeExists) {
		_, err = s.Set(ctx, p, data, AnyVersion)
	}
	return err
}

// GetAllTopics lists /brokers/topics, sorted.
func (s *Session) GetAllTopics(ctx context.Context) ([]string, error) {
	return s.sortedChildren(ctx, TopicsPath)
}

// sortedChildren lists a znode's children, sorted; none if it is absent.
func (s *Session) sortedChildren(ctx context.Context, p string) ([]string, error) {
	children, _, err := s.Children(ctx, p)
	if errors.Is(err, ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sort.Strings(children)
	return children, nil
}

// TopicExists reports whether /brokers/topics/<t> exists.
func (s *Session) TopicExists(ctx context.Context, topic string) (bool, error) {
	ok, _, err := s.Exists(ctx, TopicPath(topic))
	return ok, err
}

// GetTopicAssignment reads /brokers/topics/<t> and its zkVersion.
// ErrUnknownTopic (wrapping ErrNoNode) if absent.
func (s *Session) GetTopicAssignment(ctx context.Context, topic string) (TopicAssignment, int32, error) {
	data, st, err := s.Get(ctx, TopicPath(topic))
	if errors.Is(err, ErrNoNode) {
		return TopicAssignment{}, 0, fmt.Errorf("%w: %s: %w", ErrUnknownTopic, topic, err)
	}
	if err != nil {
		return TopicAssignment{}, 0, err
	}
	a, err := DecodeTopicAssignment(topic, data)
	if err != nil {
		return TopicAssignment{}, 0, err
	}
	return a, st.Version, nil
}

// GetTopicConfig reads /config/topics/<t>; a missing znode is an empty
// config (Kafka's fetchEntityConfig).
func (s *Session) GetTopicConfig(ctx context.Context, topic string) (map[string]string, error) {
	return s.GetEntityConfig(ctx, ConfigTypeTopic, topic)
}

// GetEntityConfig reads /config/<type>/<entity>; missing → empty config.
func (s *Session) GetEntityConfig(ctx context.Context, entityType, entity string) (map[string]string, error) {
	data, _, err := s.Get(ctx, ConfigEntityPath(entityType, entity))
	if errors.Is(err, ErrNoNode) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return map[string]string{}, nil
	}
	return DecodeEntityConfig(data)
}

// SetTopicConfig replaces the topic's config overrides (AdminZkClient
// .changeTopicConfig): ErrUnknownTopic if the topic does not exist, then
// set-or-create /config/topics/<t> and create the sequential notification
// /config/changes/config_change_<seq> {"version":2,"entity_path":"topics/<t>"}.
func (s *Session) SetTopicConfig(ctx context.Context, topic string, configs map[string]string) error {
	ok, err := s.TopicExists(ctx, topic)
	if err != nil {
		return err
	}
	if !ok {
		return KafkaErrorf(ErrUnknownTopic, "Topic %s does not exist", topic)
	}
	return s.SetEntityConfig(ctx, ConfigTypeTopic, topic, configs)
}

// SetEntityConfig writes /config/<type>/<entity> and a v2 change
// notification (AdminZkClient.changeEntityConfig) in one multi, see
// ChangeEntityConfig. No existence check.
func (s *Session) SetEntityConfig(ctx context.Context, entityType, entity string, configs map[string]string) error {
	return s.ChangeEntityConfig(ctx, entityType, entity, configs)
}

// MarkTopicForDeletion creates /admin/delete_topics/<t> (no data)
// (AdminZkClient.deleteTopic): ErrUnknownTopic if the topic does not exist,
// ErrTopicMarkedForDeletion if the marker already exists.
func (s *Session) MarkTopicForDeletion(ctx context.Context, topic string) error {
	ok, err := s.TopicExists(ctx, topic)
	if err != nil {
		return err
	}
	if !ok {
		return KafkaErrorf(ErrUnknownTopic, "Topic `%s` to delete does not exist", topic)
	}
	_, err = s.CreateRecursive(ctx, DeleteTopicPath(topic), nil, FlagPersistent)
	if errors.Is(err, ErrNodeExists) {
		return KafkaErrorf(ErrTopicMarkedForDeletion, "topic %s is already marked for deletion", topic)
	}
	return err
}

// TopicsMarkedForDeletion lists /admin/delete_topics, sorted.
func (s *Session) TopicsMarkedForDeletion(ctx context.Context) ([]string, error) {
	return s.sortedChildren(ctx, DeleteTopicsPath)
}

// PartitionState is a decoded state znode with its zkVersion.
type PartitionState struct {
	LeaderAndIsr
	ZkVersion int32
}

// GetPartitionState reads /brokers/topics/<t>/partitions/<p>/state.
// ErrNoPartitionState (and ErrNoNode) if absent.
func (s *Session) GetPartitionState(ctx context.Context, topic string, partition int32) (LeaderAndIsr, int32, error) {
	data, st, err := s.Get(ctx, PartitionStatePath(topic, partition))
	if errors.Is(err, ErrNoNode) {
		return LeaderAndIsr{}, 0, fmt.Errorf("%w: %s-%d: %w", ErrNoPartitionState, topic, partition, err)
	}
	if err != nil {
		return LeaderAndIsr{}, 0, err
	}
	l, err := DecodeLeaderAndIsr(data)
	if err != nil {
		return LeaderAndIsr{}, 0, err
	}
	return l, st.Version, nil
}

// GetPartitionStates reads many state znodes, pipelined on the connection
// (bounded concurrency; go-zookeeper v1.0.4 has no multi-read). Partitions
// without a state znode are absent from the result; any other error fails
// the whole call.
func (s *Session) GetPartitionStates(ctx context.Context, tps []TopicPartition) (map[TopicPartition]PartitionState, error) {
	states := make([]PartitionState, len(tps))
	found := make([]bool, len(tps))
	err := parallel(ctx, len(tps), func(ctx context.Context, i int) error {
		l, v, err := s.GetPartitionState(ctx, tps[i].Topic, tps[i].Partition)
		if errors.Is(err, ErrNoPartitionState) {
			return nil
		}
		if err != nil {
			return err
		}
		states[i], found[i] = PartitionState{LeaderAndIsr: l, ZkVersion: v}, true
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make(map[TopicPartition]PartitionState, len(tps))
	for i, tp := range tps {
		if found[i] {
			out[tp] = states[i]
		}
	}
	return out, nil
}
