package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/controller"
)

// handleListPartitionReassignments lists the reassignments in progress
// (replicas, adding and removing replicas), of every partition (null
// topics) or of the partitions asked for, whether they were started
// through AlterPartitionReassignments or /admin/reassign_partitions. Only
// the controller answers; another broker says NOT_CONTROLLER.
func (b *Broker) handleListPartitionReassignments(ctx context.Context, rc *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.ListPartitionReassignmentsRequest)
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	var tps []controller.TP
	if req.Topics != nil {
		tps = []controller.TP{}
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				tps = append(tps, controller.TP{Topic: t.Topic, Partition: p})
			}
		}
	}
	res, err := b.ctrl.ListPartitionReassignments(ctx, tps)
	if err != nil {
		return nil, err
	}
	if res.ErrorCode != 0 {
		resp.ErrorCode = res.ErrorCode
		return resp, nil
	}
	byTopic := map[string]int{}
	for _, tp := range sortedTPs(res.Reassignments) {
		ra := res.Reassignments[tp]
		i := topicSlot(byTopic, &resp.Topics, tp.Topic, func(name string) kmsg.ListPartitionReassignmentsResponseTopic {
			t := kmsg.NewListPartitionReassignmentsResponseTopic()
			t.Topic = name
			return t
		})
		p := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
		p.Partition = tp.Partition
		p.Replicas, p.AddingReplicas, p.RemovingReplicas = nonNil(ra.Replicas), nonNil(ra.Adding), nonNil(ra.Removing)
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, p)
	}
	return resp, nil
}

func nonNil(ids []int32) []int32 {
	if ids == nil {
		return []int32{}
	}
	return ids
}
