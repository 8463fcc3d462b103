package broker

import (
	"context"
	"fmt"
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
			err = fmt.Errorf("%w: topic %q appears more than once in the request", errInvalidRequest, t.Topic)
		}
		if err == nil && !req.ValidateOnly {
			err = b.createTopic(ctx, t.Topic, partitions, rf, assignment, configs)
		} else if err == nil {
			err = zkcoord.ValidateTopicName(t.Topic)
		}
		if err != nil {
			rt.ErrorCode = topicErrorCode(err)
			msg := err.Error()
			rt.ErrorMessage = &msg
		} else {
			rt.NumPartitions, rt.ReplicationFactor = partitions, rf
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

// createTopicArgs works out partitions, replication factor, assignment and
// configs of one CreateTopics entry, applying the broker defaults for -1.
func (b *Broker) createTopicArgs(t kmsg.CreateTopicsRequestTopic) (int32, int16, map[int32][]int32, map[string]string, error) {
	configs := map[string]string{}
	for _, c := range t.Configs {
		if c.Value == nil {
			return 0, 0, nil, nil, fmt.Errorf("%w: config %s has a null value", errInvalidConfig, c.Name)
		}
		configs[c.Name] = *c.Value
	}
	if len(t.ReplicaAssignment) > 0 {
		if t.NumPartitions != -1 || t.ReplicationFactor != -1 {
			return 0, 0, nil, nil, fmt.Errorf("%w: both a replica assignment and partitions/replication factor were given", errInvalidRequest)
		}
		assignment := make(map[int32][]int32, len(t.ReplicaAssignment))
		for _, a := range t.ReplicaAssignment {
			assignment[a.Partition] = a.Replicas
		}
		if len(assignment) != len(t.ReplicaAssignment) {
			return 0, 0, nil, nil, fmt.Errorf("%w: a partition appears twice", errInvalidReplicaAssignment)
		}
		if err := b.checkAssignment(assignment); err != nil {
			return 0, 0, nil, nil, err
		}
		return int32(len(assignment)), int16(len(assignment[0])), assignment, configs, nil
	}
	partitions, rf := t.NumPartitions, t.ReplicationFactor
	if partitions == -1 {
		partitions = b.cfg.NumPartitions
	}
	if rf == -1 {
		rf = b.cfg.DefaultReplicationFactor
	}
	if partitions <= 0 {
		return 0, 0, nil, nil, errInvalidPartitions
	}
	if rf <= 0 {
		return 0, 0, nil, nil, errInvalidReplicationFactor
	}
	if n := len(b.meta.aliveBrokerIDs()); int(rf) > max(n, 1) {
		return 0, 0, nil, nil, fmt.Errorf("%w: replication factor: %d larger than available brokers: %d", errInvalidReplicationFactor, rf, n)
	}
	return partitions, rf, nil, configs, nil
}
