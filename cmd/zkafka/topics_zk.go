package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/zkafka/zkafka/zkcoord"
)

// zkAdmin runs topic commands directly against ZooKeeper, as
// kafka-topics.sh --zookeeper does in Kafka 2.4.
type zkAdmin struct {
	connect string
	s       *zkcoord.Session
}

const zkToolTimeout = 15 * time.Second // session timeout and how long to wait for ZooKeeper

func newZKAdmin(ctx context.Context, connect string) (*zkAdmin, error) {
	cctx, cancel := context.WithTimeout(ctx, zkToolTimeout)
	defer cancel()
	s, err := zkcoord.Connect(cctx, connect, zkToolTimeout, nil)
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("cannot reach ZooKeeper at %s: is ZooKeeper running? (`make run` starts one)", connect)
		}
		return nil, err
	}
	return &zkAdmin{connect: connect, s: s}, nil
}

func (a *zkAdmin) Close() { a.s.Close() }

func (a *zkAdmin) ListTopics(ctx context.Context) (map[string]bool, error) {
	topics, err := a.s.GetAllTopics(ctx)
	if err != nil {
		return nil, err
	}
	marked, err := a.s.TopicsMarkedForDeletion(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(topics))
	for _, t := range topics {
		out[t] = false
	}
	for _, t := range marked {
		if _, ok := out[t]; ok {
			out[t] = true
		}
	}
	return out, nil
}

func (a *zkAdmin) CreateTopic(ctx context.Context, spec topicSpec) error {
	assignment := map[int32][]int32{}
	for i, r := range spec.Assignment {
		assignment[int32(i)] = r
	}
	if len(spec.Assignment) == 0 {
		ids, err := a.s.GetBrokerIDs(ctx)
		if err != nil {
			return err
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		if int(spec.ReplicationFactor) > len(ids) {
			return fmt.Errorf("Replication factor: %d larger than available brokers: %d.", spec.ReplicationFactor, len(ids))
		}
		assignment, err = zkcoord.AssignReplicasRackUnaware(spec.Partitions, spec.ReplicationFactor, ids, -1, -1)
		if err != nil {
			return err
		}
	}
	err := a.s.CreateTopic(ctx, spec.Name, assignment, spec.Configs)
	if errors.Is(err, zkcoord.ErrTopicExists) {
		return &topicExistsError{spec.Name}
	}
	return err
}

func (a *zkAdmin) DeleteTopic(ctx context.Context, topic string) error {
	return a.s.MarkTopicForDeletion(ctx, topic)
}

func (a *zkAdmin) DescribeTopic(ctx context.Context, topic string) (topicDescription, error) {
	asg, _, err := a.s.GetTopicAssignment(ctx, topic)
	if err != nil {
		return topicDescription{}, err
	}
	cfg, err := a.s.GetTopicConfig(ctx, topic)
	if err != nil {
		return topicDescription{}, err
	}
	ids, err := a.s.GetBrokerIDs(ctx)
	if err != nil {
		return topicDescription{}, err
	}
	live := map[int32]bool{}
	for _, id := range ids {
		live[id] = true
	}
	all, err := a.ListTopics(ctx)
	if err != nil {
		return topicDescription{}, err
	}
	d := topicDescription{Name: topic, MarkedForDeletion: all[topic]}
	for _, k := range sortedKeys(cfg) {
		d.Configs = append(d.Configs, k+"="+cfg[k])
	}
	var tps []zkcoord.TopicPartition
	for _, p := range asg.SortedPartitions() {
		tps = append(tps, zkcoord.TopicPartition{Topic: topic, Partition: p})
	}
	states, err := a.s.GetPartitionStates(ctx, tps)
	if err != nil {
		return topicDescription{}, err
	}
	for _, tp := range tps {
		pd := partitionDescription{ID: tp.Partition, Leader: -1, Replicas: asg.Partitions[tp.Partition]}
		if st, ok := states[tp]; ok {
			pd.Leader, pd.Isr = st.Leader, st.Isr
			pd.LeaderAlive = live[st.Leader]
		}
		d.Partitions = append(d.Partitions, pd)
	}
	return d, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sortPartitions(ps []partitionDescription) {
	sort.Slice(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
}

// splitList splits a comma-separated list, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
