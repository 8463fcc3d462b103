package broker

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/zkcoord"
)

// handleCreateTopics writes each new topic to ZooKeeper and waits (up to the
// request's timeout) until the controller has elected leaders for all its
// partitions and published them, as Kafka does. Any broker accepts it: the
// write goes to ZooKeeper, which orders concurrent creations.
func (b *Broker) handleCreateTopics(ctx context.Context, rc *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	type created struct {
		idx        int
		partitions int
	}
	var wait []created
	seen := map[string]int{}
	for _, t := range req.Topics {
		seen[t.Topic]++
	}
	for _, t := range req.Topics {
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic = t.Topic
		rt.NumPartitions, rt.ReplicationFactor = -1, -1
		partitions, rf, assignment, configs, err := b.createTopicArgs(t)
		if err == nil && seen[t.Topic] > 1 {
			err = zkcoord.KafkaErrorf(errInvalidRequest, "Create topics request from client contains multiple entries for the topic %s.", t.Topic)
		}
		if err == nil && !req.ValidateOnly {
			err = b.createTopic(ctx, t.Topic, partitions, rf, assignment, configs)
		} else if err == nil {
			_, err = b.planTopic(t.Topic, partitions, rf, assignment)
		}
		if err != nil {
			rt.ErrorCode = topicErrorCode(err)
			msg := err.Error()
			rt.ErrorMessage = &msg
		} else {
			rt.NumPartitions, rt.ReplicationFactor = partitions, rf
			// The Java AdminClient streams this list (v5+): never null.
			rt.Configs = []kmsg.CreateTopicsResponseTopicConfig{}
			for _, name := range sortedKeys(configs) {
				v := configs[name]
				c := kmsg.NewCreateTopicsResponseTopicConfig()
				c.Name, c.Value, c.Source = name, &v, 1 // DYNAMIC_TOPIC_CONFIG
				rt.Configs = append(rt.Configs, c)
			}
			if !req.ValidateOnly {
				rc.log.WithField("topic", t.Topic).Info("created topic")
				wait = append(wait, created{len(resp.Topics), int(partitions)})
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if len(wait) > 0 {
		timeout := time.Duration(max(req.TimeoutMillis, 0)) * time.Millisecond
		b.waitForMetadata(ctx, timeout, func() bool {
			for _, w := range wait {
				if !b.topicReady(resp.Topics[w.idx].Topic, w.partitions) {
					return false
				}
			}
			return true
		})
		for _, w := range wait {
			if !b.topicReady(resp.Topics[w.idx].Topic, w.partitions) && req.TimeoutMillis > 0 {
				// Created in ZooKeeper; leaders not yet elected: Kafka's answer.
				resp.Topics[w.idx].ErrorCode = kerr.RequestTimedOut.Code
			}
		}
	}
	return resp, nil
}

// createTopicArgs works out partitions, replication factor, explicit
// assignment and configs of one CreateTopics entry, applying the broker
// defaults for -1. planTopic validates them.
func (b *Broker) createTopicArgs(t kmsg.CreateTopicsRequestTopic) (int32, int16, map[int32][]int32, map[string]string, error) {
	configs := map[string]string{}
	for _, c := range t.Configs {
		if c.Value == nil {
			return 0, 0, nil, nil, zkcoord.KafkaErrorf(errInvalidConfig, "Null value not supported for topic configs: %s", c.Name)
		}
		configs[c.Name] = *c.Value
	}
	if err := validateTopicConfigs(configs); err != nil {
		return 0, 0, nil, nil, err
	}
	if len(t.ReplicaAssignment) == 0 {
		partitions, rf := t.NumPartitions, t.ReplicationFactor
		if partitions == -1 {
			partitions = b.cfg.NumPartitions
		}
		if rf == -1 {
			rf = b.cfg.DefaultReplicationFactor
		}
		return partitions, rf, nil, configs, nil
	}
	if t.NumPartitions != -1 || t.ReplicationFactor != -1 {
		return 0, 0, nil, nil, zkcoord.KafkaErrorf(errInvalidRequest, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.")
	}
	assignment := make(map[int32][]int32, len(t.ReplicaAssignment))
	for _, a := range t.ReplicaAssignment {
		assignment[a.Partition] = a.Replicas
	}
	if len(assignment) != len(t.ReplicaAssignment) {
		return 0, 0, nil, nil, zkcoord.KafkaErrorf(zkcoord.ErrInvalidReplicaAssignment, "a partition appears twice in the replica assignment")
	}
	return int32(len(assignment)), int16(len(assignment[0])), assignment, configs, nil
}
