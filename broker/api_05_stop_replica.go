package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/logstore"
)

// handleStopReplica stops hosting partitions, deleting their data when the
// controller asks (topic deletion).
func (b *Broker) handleStopReplica(_ context.Context, rc *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.StopReplicaRequest)
	resp := req.ResponseKind().(*kmsg.StopReplicaResponse)
	if code := b.checkControllerRequest(rc, req.ControllerEpoch, req.BrokerEpoch, req.Version >= 1); code != 0 {
		resp.ErrorCode = code
		return resp, nil
	}
	stop := func(topic string, p int32) {
		code := b.replicas.stopReplica(logstore.TopicPartition{Topic: topic, Partition: p}, req.DeletePartitions)
		resp.Partitions = append(resp.Partitions, kmsg.StopReplicaResponsePartition{Topic: topic, Partition: p, ErrorCode: code})
	}
	for _, t := range req.Topics {
		if req.Version == 0 {
			stop(t.Topic, t.Partition)
			continue
		}
		for _, p := range t.Partitions {
			stop(t.Topic, p)
		}
	}
	return resp, nil
}
