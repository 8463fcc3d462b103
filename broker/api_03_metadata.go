package broker

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/zkcoord"
)

// handleMetadata answers from what the controller published (the metadata
// cache). Unknown topics are created when auto.create.topics.enable is on and
// the client allows it; they are reported LEADER_NOT_AVAILABLE until the
// controller has elected their leaders, as in Kafka.
func (b *Broker) handleMetadata(ctx context.Context, rc *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	resp.Brokers = b.meta.aliveBrokers(rc.conn.listener)
	if req.Version >= 2 {
		id := b.clusterID
		resp.ClusterID = &id
	}
	resp.ControllerID = b.meta.controller()
	if resp.ControllerID < 0 || !b.meta.isAlive(resp.ControllerID) {
		resp.ControllerID = -1
	}

	var names []string
	all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	if all {
		names = b.meta.topicNames()
	} else {
		for _, t := range req.Topics {
			if t.Topic != nil {
				names = append(names, *t.Topic)
			}
		}
	}
	autoCreate := b.cfg.AutoCreateTopicsEnable && (req.Version < 4 || req.AllowAutoTopicCreation)
	for _, name := range names {
		resp.Topics = append(resp.Topics, b.topicMetadata(ctx, rc, name, autoCreate && !all))
	}
	return resp, nil
}

func (b *Broker) topicMetadata(ctx context.Context, rc *reqCtx, name string, autoCreate bool) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic = &name
	mt.IsInternal = name == offsetsTopic
	parts, ok := b.meta.topic(name)
	if !ok {
		mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		if err := zkcoord.ValidateTopicName(name); err != nil {
			mt.ErrorCode = kerr.InvalidTopicException.Code
		} else if autoCreate {
			mt.ErrorCode = b.autoCreateTopic(ctx, rc, name)
		}
		return mt
	}
	for _, p := range sortedPartitionIDs(parts) {
		pm := parts[p]
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p
		mp.Leader = pm.leader
		mp.LeaderEpoch = pm.leaderEpoch
		mp.Replicas = pm.replicas
		mp.ISR = pm.isr
		mp.OfflineReplicas = pm.offlineReplicas
		if mp.OfflineReplicas == nil {
			mp.OfflineReplicas = []int32{}
		}
		switch {
		case pm.leader < 0 || !b.meta.isAlive(pm.leader):
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
			mp.Leader = -1
		case !b.meta.hasEndpoint(pm.leader, rc.conn.listener):
			mp.ErrorCode = kerr.ListenerNotFound.Code
			mp.Leader = -1
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}

// autoCreateTopic creates name with the broker's defaults and returns the
// error code to report for it now.
func (b *Broker) autoCreateTopic(ctx context.Context, rc *reqCtx, name string) int16 {
	err := b.createTopic(ctx, name, b.cfg.NumPartitions, b.cfg.DefaultReplicationFactor, nil, nil)
	switch {
	case err == nil:
		rc.log.WithField("topic", name).Info("auto-created topic")
		return kerr.LeaderNotAvailable.Code
	case errors.Is(err, zkcoord.ErrTopicExists):
		return kerr.LeaderNotAvailable.Code
	default:
		rc.log.WithError(err).WithField("topic", name).Warn("cannot auto-create topic")
		return topicErrorCode(err)
	}
}
