package broker

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/controller"
)

// handleElectLeaders runs preferred (v0+) or unclean (v1+) leader elections
// through the controller module. Clients send it to the controller; other
// brokers answer NOT_CONTROLLER for each partition, as 2.4 does. With null
// topics every partition is elected and those that needed no election are
// left out of the answer. As 2.4's ReplicaManager.electLeaders
// (DelayedElectLeader), the answer waits until this broker's metadata shows
// every elected leader, or until timeout_ms from the request's arrival,
// when the elections not seen yet are answered REQUEST_TIMED_OUT: a
// client that reads metadata from this broker after a success sees the new
// leaders.
func (b *Broker) handleElectLeaders(ctx context.Context, rc *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.ElectLeadersRequest)
	deadline := time.Now().Add(time.Duration(max(req.TimeoutMillis, 0)) * time.Millisecond)
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
	} else if err := b.awaitElectedLeaders(ctx, time.Until(deadline), results); err != nil {
		return nil, err
	}
	byTopic := map[string]int{}
	for _, tp := range sortedTPs(results) {
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

// awaitElectedLeaders waits until the metadata cache shows the leader of
// every successful election in results, woken by the cache's change signal
// (UpdateMetadata), or until timeout; elections still not shown then become
// REQUEST_TIMED_OUT in results. It fails only when ctx ends first.
func (b *Broker) awaitElectedLeaders(ctx context.Context, timeout time.Duration, results map[controller.TP]controller.ElectionResult) error {
	unseen := func() []controller.TP {
		var out []controller.TP
		for tp, r := range results {
			if r.ErrorCode != 0 {
				continue
			}
			if pm, ok := b.meta.partition(tp.Topic, tp.Partition); !ok || pm.leader != r.Leader {
				out = append(out, tp)
			}
		}
		return out
	}
	b.waitForMetadata(ctx, timeout, func() bool { return len(unseen()) == 0 })
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, tp := range unseen() {
		results[tp] = controller.ElectionResult{ErrorCode: kerr.RequestTimedOut.Code}
	}
	return nil
}
