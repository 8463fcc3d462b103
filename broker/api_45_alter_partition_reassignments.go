package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/controller"
)

// handleAlterPartitionReassignments starts, replaces or cancels (a null
// replica list) partition reassignments through the controller module
// (KIP-455, Kafka 2.4). Clients send it to the controller; another broker
// answers NOT_CONTROLLER at the top level, as 2.4 does. The reassignments
// run on the controller's event loop with the same rules as
// /admin/reassign_partitions.
func (b *Broker) handleAlterPartitionReassignments(ctx context.Context, rc *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.AlterPartitionAssignmentsRequest)
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	reqs := map[controller.TP]controller.ReassignTarget{}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			reqs[controller.TP{Topic: t.Topic, Partition: p.Partition}] = controller.ReassignTarget{
				Replicas: p.Replicas, Cancel: p.Replicas == nil}
		}
	}
	res, err := b.ctrl.AlterPartitionReassignments(ctx, reqs)
	if err != nil {
		return nil, err
	}
	if res.ErrorCode != 0 {
		resp.ErrorCode = res.ErrorCode
		return resp, nil
	}
	byTopic := map[string]int{}
	for _, tp := range sortedTPs(res.Results) {
		r := res.Results[tp]
		i := topicSlot(byTopic, &resp.Topics, tp.Topic, func(name string) kmsg.AlterPartitionAssignmentsResponseTopic {
			t := kmsg.NewAlterPartitionAssignmentsResponseTopic()
			t.Topic = name
			return t
		})
		p := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
		p.Partition, p.ErrorCode = tp.Partition, r.ErrorCode
		if r.Message != "" {
			msg := r.Message
			p.ErrorMessage = &msg
		}
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, p)
	}
	return resp, nil
}

// sortedTPs returns the keys of m sorted by topic, then partition.
func sortedTPs[V any](m map[controller.TP]V) []controller.TP {
	out := make([]controller.TP, 0, len(m))
	for tp := range m {
		out = append(out, tp)
	}
	controller.SortTPs(out)
	return out
}
