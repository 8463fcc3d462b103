package broker

import (
	"context"
	"errors"
	"net"

	"github.com/zkafka/zkafka/broker/group"
	"github.com/zkafka/zkafka/logstore"
	"github.com/zkafka/zkafka/zkcoord"
)

// offsetsTopic is Kafka's internal topic whose partition leaders coordinate
// consumer groups (Topic.GROUP_METADATA_TOPIC_NAME).
const offsetsTopic = "__consumer_offsets"

// offsetsTopicConfigs is what Kafka 2.4 writes to
// /config/topics/__consumer_offsets (GroupCoordinator.offsetsTopicConfigs
// with offsets.topic.segment.bytes' default).
var offsetsTopicConfigs = map[string]string{
	"cleanup.policy":   "compact",
	"compression.type": "producer",
	"segment.bytes":    "104857600",
}

// newGroupCoordinator builds the broker's group coordinator: it coordinates
// the groups of the __consumer_offsets partitions this broker leads and
// keeps their offsets in ZooKeeper.
func (b *Broker) newGroupCoordinator() *group.Coordinator {
	cfg := group.Config{
		OffsetsTopicNumPartitions: b.cfg.OffsetsTopicNumPartitions,
		MinSessionTimeout:         b.cfg.GroupMinSessionTimeout,
		MaxSessionTimeout:         b.cfg.GroupMaxSessionTimeout,
		MaxSize:                   int(b.cfg.GroupMaxSize),
		InitialRebalanceDelay:     b.cfg.GroupInitialRebalanceDelay,
		OffsetMetadataMaxBytes:    int(b.cfg.OffsetMetadataMaxBytes),
	}
	return group.New(cfg, b.leadsOffsetsPartition, zkOffsetStore{b.zk}, b.log.WithField("component", "group-coordinator"))
}

// leadsOffsetsPartition is the coordinator's Ownership: whether this broker
// leads __consumer_offsets-p, with the leader epoch.
func (b *Broker) leadsOffsetsPartition(p int32) (int32, bool) {
	_, epoch, code := b.replicas.leaderFor(logstore.TopicPartition{Topic: offsetsTopic, Partition: p}, b.meta)
	return epoch, code == 0
}

// clientHost is Kafka's client host string: "/" and the peer's IP.
func (rc *reqCtx) clientHost() string {
	addr := rc.conn.nc.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return "/" + host
	}
	return "/" + addr
}

// zkOffsetStore keeps group offsets in ZooKeeper under /consumers.
type zkOffsetStore struct{ zk *zkcoord.Session }

func toZK(tps []group.TopicPartition) []zkcoord.TopicPartition {
	if tps == nil {
		return nil
	}
	out := make([]zkcoord.TopicPartition, len(tps))
	for i, tp := range tps {
		out[i] = zkcoord.TopicPartition{Topic: tp.Topic, Partition: tp.Partition}
	}
	return out
}

func (s zkOffsetStore) CommitOffsets(ctx context.Context, g string, offsets map[group.TopicPartition]int64) error {
	m := make(map[zkcoord.TopicPartition]int64, len(offsets))
	for tp, o := range offsets {
		m[zkcoord.TopicPartition{Topic: tp.Topic, Partition: tp.Partition}] = o
	}
	return s.zk.CommitConsumerOffsets(ctx, g, m)
}

func (s zkOffsetStore) FetchOffsets(ctx context.Context, g string, tps []group.TopicPartition) (map[group.TopicPartition]int64, error) {
	m, err := s.zk.ConsumerOffsets(ctx, g, toZK(tps))
	if err != nil {
		return nil, err
	}
	out := make(map[group.TopicPartition]int64, len(m))
	for tp, o := range m {
		out[group.TopicPartition{Topic: tp.Topic, Partition: tp.Partition}] = o
	}
	return out, nil
}

func (s zkOffsetStore) DeleteOffsets(ctx context.Context, g string, tps []group.TopicPartition) error {
	return s.zk.DeleteConsumerOffsets(ctx, g, toZK(tps))
}

func (s zkOffsetStore) DeleteGroup(ctx context.Context, g string) error {
	err := s.zk.DeleteConsumerGroup(ctx, g)
	switch {
	case errors.Is(err, zkcoord.ErrNoNode):
		return group.ErrGroupNotFound
	case errors.Is(err, zkcoord.ErrConsumerGroupNotEmpty):
		return group.ErrGroupNotEmpty
	}
	return err
}

func (s zkOffsetStore) Groups(ctx context.Context) ([]string, error) {
	return s.zk.ConsumerGroups(ctx)
}

// groupTP names a partition for the group coordinator.
func groupTP(topic string, p int32) group.TopicPartition {
	return group.TopicPartition{Topic: topic, Partition: p}
}
