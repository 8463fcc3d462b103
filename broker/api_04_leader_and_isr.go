package broker

import (
	"context"
	"net"
	"strconv"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/logstore"
)

// handleLeaderAndIsr applies the controller's decision of who leads each
// partition: this broker opens (creating if new) the log of every partition
// it is a replica of and becomes its leader or a follower.
func (b *Broker) handleLeaderAndIsr(_ context.Context, rc *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.LeaderAndISRRequest)
	resp := req.ResponseKind().(*kmsg.LeaderAndISRResponse)
	if code := b.checkControllerRequest(rc, req.ControllerEpoch, req.BrokerEpoch, req.Version >= 2); code != 0 {
		resp.ErrorCode = code
		return resp, nil
	}
	// Followers find their leader among the request's live leaders, at its
	// inter-broker endpoint.
	leaderAddr := func(id int32) (string, bool) {
		for _, l := range req.LiveLeaders {
			if l.BrokerID == id {
				return net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port))), true
			}
		}
		return "", false
	}
	apply := func(topic string, ps kmsg.LeaderAndISRRequestTopicPartition) {
		tp := logstore.TopicPartition{Topic: topic, Partition: ps.Partition}
		code := b.replicas.becomeLeaderOrFollower(tp, partitionState{
			controllerEpoch: ps.ControllerEpoch,
			leader:          ps.Leader, leaderEpoch: ps.LeaderEpoch, zkVersion: ps.ZKVersion,
			isr: ps.ISR, replicas: ps.Replicas,
		}, leaderAddr)
		resp.Partitions = append(resp.Partitions, kmsg.LeaderAndISRResponseTopicPartition{Topic: topic, Partition: ps.Partition, ErrorCode: code})
	}
	for _, ps := range req.PartitionStates {
		apply(ps.Topic, ps)
	}
	for _, ts := range req.TopicStates {
		for _, ps := range ts.PartitionStates {
			apply(ts.Topic, ps)
		}
	}
	return resp, nil
}

// checkControllerRequest fences requests from old controllers (controller
// epoch) and requests meant for an earlier incarnation of this broker
// (broker epoch, KIP-380), returning the Kafka error code or 0.
func (b *Broker) checkControllerRequest(rc *reqCtx, controllerEpoch int32, brokerEpoch int64, hasBrokerEpoch bool) int16 {
	if hasBrokerEpoch && brokerEpoch != -1 && brokerEpoch < b.brokerEpoch() {
		rc.log.WithFields(logrus.Fields{"request_broker_epoch": brokerEpoch, "broker_epoch": b.brokerEpoch()}).Info("rejecting controller request for an earlier incarnation")
		return kerr.StaleBrokerEpoch.Code
	}
	if err := b.replicas.checkControllerEpoch(controllerEpoch); err != nil {
		rc.log.WithError(err).Info("rejecting controller request")
		return kerr.StaleControllerEpoch.Code
	}
	return 0
}
