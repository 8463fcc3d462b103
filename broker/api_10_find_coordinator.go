package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Coordinator key types of FindCoordinator v1+.
const (
	coordinatorGroup = 0
	coordinatorTxn   = 1
)

// handleFindCoordinator answers with the leader of the group's
// __consumer_offsets partition, creating the topic on first use as Kafka
// does (COORDINATOR_NOT_AVAILABLE until its leaders are elected, and while
// fewer brokers are alive than offsets.topic.replication.factor).
func (b *Broker) handleFindCoordinator(ctx context.Context, rc *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	fail := func(e *kerr.Error) (kmsg.Response, error) {
		resp.ErrorCode, resp.NodeID, resp.Port = e.Code, -1, -1
		msg := e.Description
		resp.ErrorMessage = &msg
		return resp, nil
	}
	if req.CoordinatorType == coordinatorTxn {
		return fail(kerr.CoordinatorNotAvailable) // transactions are not supported (UNSUPPORTED.md)
	}
	if req.CoordinatorType != coordinatorGroup {
		return fail(kerr.InvalidRequest)
	}
	if !b.meta.hasTopic(offsetsTopic) {
		b.createOffsetsTopic(ctx, rc)
		return fail(kerr.CoordinatorNotAvailable)
	}
	pm, ok := b.meta.partition(offsetsTopic, b.groups.Partition(req.CoordinatorKey))
	if !ok || pm.leader < 0 || !b.meta.isAlive(pm.leader) {
		return fail(kerr.CoordinatorNotAvailable)
	}
	for _, br := range b.meta.aliveBrokers(rc.conn.listener) {
		if br.NodeID == pm.leader {
			resp.NodeID, resp.Host, resp.Port = br.NodeID, br.Host, br.Port
			none := "NONE"
			resp.ErrorMessage = &none
			return resp, nil
		}
	}
	return fail(kerr.CoordinatorNotAvailable) // the leader has no endpoint on this listener
}

// createOffsetsTopic creates __consumer_offsets (Kafka's
// createInternalTopic): refused while fewer brokers are alive than its
// replication factor.
func (b *Broker) createOffsetsTopic(ctx context.Context, rc *reqCtx) {
	rf := b.cfg.OffsetsTopicReplicationFactor
	if alive := len(b.meta.aliveBrokerIDs()); alive < int(rf) {
		rc.log.Errorf("Number of alive brokers '%d' does not meet the required replication factor '%d' for the offsets topic (configured via 'offsets.topic.replication.factor'). This error can be ignored if the cluster is starting up and not all brokers are up yet.", alive, rf)
		return
	}
	err := b.createTopic(ctx, offsetsTopic, b.cfg.OffsetsTopicNumPartitions, rf, nil, offsetsTopicConfigs)
	switch {
	case err == nil:
		rc.log.WithField("topic", offsetsTopic).Info("created the offsets topic")
	case topicErrorCode(err) == kerr.TopicAlreadyExists.Code:
	default:
		rc.log.WithError(err).Warn("cannot create the offsets topic")
	}
}
