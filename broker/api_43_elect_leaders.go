package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/controller"
)

// handleElectLeaders runs preferred (v0+) or unclean (v1+) leader elections
// through the controller module. Clients send it to the controller; other
// brokers answer NOT_CONTROLLER for each partition, as 2.4 does. With null
// topics every partition is elected and those that needed no election are
// left out of the answer.
func (b *Broker) handleElectLeaders(ctx context.Context, rc *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.ElectLeadersRequest)
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	typ := controller.ElectPreferredLeader
	if req.Version >= 1 {
		switch req.ElectionType {
		case 0:
		case 1:
			typ = controller.ElectUncleanLeader
		default:
			resp.ErrorCode = kerr.InvalidRequest.Code
			return resp, nil
		}
	}
	var tps []controller.TP
	if req.Topics != nil {
		tps = []controller.TP{}
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				tps = append(tps, controller.TP{Topic: t.Topic, Partition: p})
			}
		}
	}
	res, err := b.ctrl.ElectLeaders(ctx, tps, typ)
	if err != nil {
		return nil, err
	}
	results := res.Results
	if res.ErrorCode != 0 { // not the controller: every partition asked for says so
		results = map[controller.TP]controller.ElectionResult{}
		for _, tp := range tps {
			results[tp] = controller.ElectionResult{ErrorCode: res.ErrorCode}
		}
	}
	byTopic := map[string]int{}
	for _, tp := range sortedElectionTPs(results) {
		r := results[tp]
		if tps == nil && r.ErrorCode == kerr.ElectionNotNeeded.Code {
			continue
		}
		i, ok := byTopic[tp.Topic]
		if !ok {
			t := kmsg.NewElectLeadersResponseTopic()
			t.Topic = tp.Topic
			resp.Topics = append(resp.Topics, t)
			i = len(resp.Topics) - 1
			byTopic[tp.Topic] = i
		}
		p := kmsg.NewElectLeadersResponseTopicPartition()
		p.Partition, p.ErrorCode = tp.Partition, r.ErrorCode
		if r.ErrorCode != 0 && r.Message != "" {
			msg := r.Message
			p.ErrorMessage = &msg
		}
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, p)
	}
	return resp, nil
}

func sortedElectionTPs(m map[controller.TP]controller.ElectionResult) []controller.TP {
	out := make([]controller.TP, 0, len(m))
	for tp := range m {
		out = append(out, tp)
	}
	controller.SortTPs(out)
	return out
}
