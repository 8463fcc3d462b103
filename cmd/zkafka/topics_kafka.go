package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol/metadata"
)

// topicExistsError is kafka-topics.sh's TopicExistsException message.
type topicExistsError struct{ topic string }

func (e *topicExistsError) Error() string { return fmt.Sprintf("Topic '%s' already exists.", e.topic) }

// brokerAdmin runs topic commands through a broker with the Kafka protocol
// (CreateTopics, DeleteTopics, Metadata, DescribeConfigs).
type brokerAdmin struct {
	bootstrap string
	addr      net.Addr
	transport *kafka.Transport
	client    *kafka.Client
	meta      *metadata.Response // from the last ListTopics, reused by DescribeTopic
	// describeConfigs records whether the broker implements DescribeConfigs
	// (nil until asked).
	describeConfigs *bool
}

const describeConfigsKey = 32 // Kafka API key of DescribeConfigs

func newBrokerAdmin(bootstrap string) *brokerAdmin {
	addrs := splitList(bootstrap)
	tr := &kafka.Transport{DialTimeout: 5 * time.Second, ClientID: "zkafka-topics"}
	addr := kafka.TCP(addrs...)
	return &brokerAdmin{
		bootstrap: bootstrap,
		addr:      addr,
		transport: tr,
		client:    &kafka.Client{Addr: addr, Transport: tr, Timeout: 30 * time.Second},
	}
}

func (a *brokerAdmin) Close() { a.transport.CloseIdleConnections() }

func (a *brokerAdmin) ListTopics(ctx context.Context) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	m, err := a.transport.RoundTrip(ctx, a.addr, &metadata.Request{})
	if err != nil {
		return nil, brokerReachError(err, a.bootstrap)
	}
	resp, ok := m.(*metadata.Response)
	if !ok {
		return nil, fmt.Errorf("unexpected metadata response %T from %s", m, a.bootstrap)
	}
	a.meta = resp
	out := make(map[string]bool, len(resp.Topics))
	for _, t := range resp.Topics {
		if t.ErrorCode == 0 || t.ErrorCode == int16(kafka.LeaderNotAvailable) {
			out[t.Name] = false
		}
	}
	return out, nil
}

func (a *brokerAdmin) CreateTopic(ctx context.Context, spec topicSpec) error {
	tc := kafka.TopicConfig{
		Topic:             spec.Name,
		NumPartitions:     int(spec.Partitions),
		ReplicationFactor: int(spec.ReplicationFactor),
	}
	for i, replicas := range spec.Assignment {
		ra := kafka.ReplicaAssignment{Partition: i}
		for _, r := range replicas {
			ra.Replicas = append(ra.Replicas, int(r))
		}
		tc.ReplicaAssignments = append(tc.ReplicaAssignments, ra)
	}
	if len(spec.Assignment) > 0 {
		tc.NumPartitions, tc.ReplicationFactor = -1, -1
	}
	for _, k := range spec.ConfigOrder {
		tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: spec.Configs[k]})
	}
	resp, err := a.client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{tc}})
	if err != nil {
		return brokerReachError(err, a.bootstrap)
	}
	if err := resp.Errors[spec.Name]; err != nil {
		if errors.Is(err, kafka.TopicAlreadyExists) {
			return &topicExistsError{spec.Name}
		}
		return errors.New(kafkaErrorMessage(err))
	}
	return nil
}

func (a *brokerAdmin) DeleteTopic(ctx context.Context, topic string) error {
	resp, err := a.client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	if err != nil {
		return brokerReachError(err, a.bootstrap)
	}
	if err := resp.Errors[topic]; err != nil {
		return errors.New(kafkaErrorMessage(err))
	}
	return nil
}

func (a *brokerAdmin) DescribeTopic(ctx context.Context, topic string) (topicDescription, error) {
	if a.meta == nil {
		if _, err := a.ListTopics(ctx); err != nil {
			return topicDescription{}, err
		}
	}
	d := topicDescription{Name: topic}
	live := map[int32]bool{}
	for _, b := range a.meta.Brokers {
		live[b.NodeID] = true
	}
	for _, t := range a.meta.Topics {
		if t.Name != topic {
			continue
		}
		for _, p := range t.Partitions {
			d.Partitions = append(d.Partitions, partitionDescription{
				ID: p.PartitionIndex, Leader: p.LeaderID, Replicas: p.ReplicaNodes, Isr: p.IsrNodes,
				LeaderAlive: live[p.LeaderID],
			})
		}
	}
	sortPartitions(d.Partitions)
	configs, err := a.topicConfigs(ctx, topic)
	if err != nil {
		return d, err
	}
	d.Configs = configs
	return d, nil
}

// topicConfigs returns the topic's configs that are not defaults, as
// kafka-topics.sh --describe shows them. A broker that does not implement
// DescribeConfigs yields none.
func (a *brokerAdmin) topicConfigs(ctx context.Context, topic string) ([]string, error) {
	if a.describeConfigs == nil {
		supported := false
		if v, err := a.client.ApiVersions(ctx, &kafka.ApiVersionsRequest{}); err == nil {
			for _, k := range v.ApiKeys {
				supported = supported || k.ApiKey == describeConfigsKey
			}
		}
		a.describeConfigs = &supported
	}
	if !*a.describeConfigs {
		return nil, nil
	}
	resp, err := a.client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{
		Resources: []kafka.DescribeConfigRequestResource{{ResourceType: kafka.ResourceTypeTopic, ResourceName: topic}},
	})
	if err != nil {
		if isUnsupported(err) {
			return nil, nil
		}
		return nil, brokerReachError(err, a.bootstrap)
	}
	var out []string
	for _, r := range resp.Resources {
		if r.Error != nil {
			return nil, errors.New(kafkaErrorMessage(r.Error))
		}
		for _, e := range r.ConfigEntries {
			const defaultConfigSource = 5
			if e.IsDefault || e.ConfigSource == defaultConfigSource {
				continue
			}
			out = append(out, e.ConfigName+"="+e.ConfigValue)
		}
	}
	return out, nil
}

func isUnsupported(err error) bool {
	return errors.Is(err, kafka.UnsupportedVersion) || strings.Contains(err.Error(), "not supported")
}

// kafkaErrorMessage returns the broker's error message when it sent one
// (as Kafka's tools print), else the error code's description.
func kafkaErrorMessage(err error) string {
	var ke kafka.Error
	if !errors.As(err, &ke) {
		return err.Error()
	}
	if msg, ok := strings.CutPrefix(err.Error(), ke.Error()+": "); ok && msg != "" {
		return msg
	}
	return ke.Title() + ": " + ke.Description()
}
