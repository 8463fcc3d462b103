package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/zkafka/zkafka/zkcoord"
)

// zkGroups is groupAdmin directly in ZooKeeper, for classic consumer groups
// (and any group's offsets): /consumers/<g>/ids, owners and offsets, as
// kafka-consumer-groups.sh --zookeeper read them. Log offsets come from the
// brokers registered in ZooKeeper.
type zkGroups struct {
	s *zkcoord.Session
	k *kafkaClient
}

func newZKGroups(ctx context.Context, connect string) (*zkGroups, error) {
	a, err := newZKAdmin(ctx, connect)
	if err != nil {
		return nil, err
	}
	brokers, err := a.s.GetBrokers(ctx)
	if err != nil {
		a.Close()
		return nil, err
	}
	var addrs []string
	for _, b := range brokers {
		if len(b.Endpoints) > 0 {
			addrs = append(addrs, b.Endpoints[0].Addr())
		}
	}
	return &zkGroups{s: a.s, k: newKafkaClient(addrs)}, nil
}

func (z *zkGroups) Close() {
	z.k.Close()
	z.s.Close()
}

func (z *zkGroups) client() *kafkaClient { return z.k }

func (z *zkGroups) ListGroups(ctx context.Context) ([]string, error) {
	return z.s.ConsumerGroups(ctx)
}

func (z *zkGroups) DescribeGroup(ctx context.Context, group string) (groupDescription, error) {
	if ok, _, err := z.s.Exists(ctx, zkcoord.ConsumerGroupPath(group)); err != nil {
		return groupDescription{}, err
	} else if !ok {
		return groupDescription{State: "Dead"}, nil
	}
	d := groupDescription{State: "Empty", Committed: map[tp]int64{}}
	offs, err := z.s.ConsumerOffsets(ctx, group, nil)
	if err != nil {
		return groupDescription{}, err
	}
	for x, o := range offs {
		d.Committed[tp{x.Topic, x.Partition}] = o
	}
	ids, _, err := z.s.Children(ctx, zkcoord.ConsumerGroupIDsPath(group))
	if err != nil && !errors.Is(err, zkcoord.ErrNoNode) {
		return groupDescription{}, err
	}
	if len(ids) > 0 {
		d.State = "Stable"
	}
	known := map[string]bool{}
	for _, id := range ids {
		known[id] = true
	}
	assigned := map[string][]tp{}
	topics, _, err := z.s.Children(ctx, zkcoord.ConsumerGroupOwnersPath(group))
	if err != nil && !errors.Is(err, zkcoord.ErrNoNode) {
		return groupDescription{}, err
	}
	for _, t := range topics {
		parts, _, err := z.s.Children(ctx, zkcoord.ConsumerGroupOwnersTopicPath(group, t))
		if err != nil {
			continue
		}
		for _, p := range parts {
			var n int32
			if _, err := fmt.Sscanf(p, "%d", &n); err != nil {
				continue
			}
			owner, _, err := z.s.Get(ctx, zkcoord.ConsumerGroupOwnerPath(group, t, n))
			if err != nil {
				continue
			}
			// The owner is "<consumer id>-<thread>"; Kafka's tool shows the
			// consumer id.
			id := string(owner)
			if i := strings.LastIndexByte(id, '-'); i > 0 && !known[id] {
				id = id[:i]
			}
			assigned[id] = append(assigned[id], tp{t, n})
		}
	}
	for _, id := range ids {
		d.Members = append(d.Members, groupMember{ConsumerID: id, Host: "-", ClientID: "-", Assigned: assigned[id]})
		delete(assigned, id)
	}
	for id, a := range assigned { // owners whose registration is gone
		d.Members = append(d.Members, groupMember{ConsumerID: id, Host: "-", ClientID: "-", Assigned: a})
	}
	return d, nil
}

func (z *zkGroups) CommitOffsets(ctx context.Context, group string, offsets map[tp]int64) error {
	m := make(map[zkcoord.TopicPartition]int64, len(offsets))
	for x, o := range offsets {
		m[zkcoord.TopicPartition{Topic: x.topic, Partition: x.partition}] = o
	}
	return z.s.CommitConsumerOffsets(ctx, group, m)
}

func (z *zkGroups) DeleteGroup(ctx context.Context, group string) error {
	err := z.s.DeleteConsumerGroup(ctx, group)
	switch {
	case errors.Is(err, zkcoord.ErrNoNode):
		return errors.New("The group id does not exist.")
	case errors.Is(err, zkcoord.ErrConsumerGroupNotEmpty):
		return errors.New("The group is not empty.")
	}
	return err
}
