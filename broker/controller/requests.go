package controller

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Request versions a 2.4 controller sends (inter.broker.protocol.version
// 2.4); the sender lowers them to what the target broker advertises.
const (
	leaderAndIsrVersion   int16 = 4
	updateMetadataVersion int16 = 6
	stopReplicaVersion    int16 = 2
)

// outRequest is one request for one broker. stopDelete marks
// StopReplica(delete=true), whose answer goes back to the loop.
type outRequest struct {
	req        kmsg.Request
	maxVersion int16
	stopDelete bool
}

// buildBatch turns a batch into per-broker requests from the current state,
// in Kafka's order: LeaderAndIsr, UpdateMetadata, StopReplica(false),
// StopReplica(true). Brokers that are not live get nothing (Kafka's channel
// manager drops requests for brokers it has no sender for).
func (s *State) buildBatch(b *Batch, listener string) map[int32][]outRequest {
	out := map[int32][]outRequest{}
	add := func(id int32, r outRequest) {
		if s.isLive(id) {
			out[id] = append(out[id], r)
		}
	}
	for _, id := range sortedKeys(b.LeaderAndIsr) {
		if len(b.LeaderAndIsr[id]) == 0 {
			continue
		}
		if req := s.leaderAndIsrRequest(id, b.LeaderAndIsr[id], listener); req != nil {
			add(id, outRequest{req: req, maxVersion: leaderAndIsrVersion})
		}
	}
	if len(b.UMBrokers) > 0 {
		tps := s.Partitions()
		if !b.UMAll {
			tps = sortedTPKeys(b.UMPartitions)
		}
		for _, id := range sortedKeys(b.UMBrokers) {
			add(id, outRequest{req: s.updateMetadataRequest(id, tps), maxVersion: updateMetadataVersion})
		}
	}
	for _, id := range sortedKeys(b.StopReplica) {
		add(id, outRequest{req: s.stopReplicaRequest(id, b.StopReplica[id], false), maxVersion: stopReplicaVersion})
	}
	for _, id := range sortedKeys(b.StopDelete) {
		add(id, outRequest{req: s.stopReplicaRequest(id, b.StopDelete[id], true), maxVersion: stopReplicaVersion, stopDelete: true})
	}
	return out
}

func sortedTPKeys(m map[TP]bool) []TP {
	out := make([]TP, 0, len(m))
	for tp := range m {
		out = append(out, tp)
	}
	sortTPs(out)
	return out
}

func (s *State) brokerEpoch(id int32) int64 {
	if b, ok := s.Live[id]; ok {
		return b.Epoch
	}
	return -1
}

// leaderAndIsrRequest builds LeaderAndIsr for broker with the cached
// leadership of parts (value: is_new). Partitions without leadership are
// skipped; nil if none is left. Both the v0-1 (flat) and v2+ (per topic)
// layouts are filled, the encoder uses the one of the version sent.
func (s *State) leaderAndIsrRequest(broker int32, parts map[TP]bool, listener string) *kmsg.LeaderAndISRRequest {
	req := kmsg.NewPtrLeaderAndISRRequest()
	req.ControllerID = s.ControllerID
	req.ControllerEpoch = s.Epoch
	req.BrokerEpoch = s.brokerEpoch(broker)
	leaders := map[int32]bool{}
	for _, tp := range sortedTPKeys(parts) {
		l, ok := s.Leadership[tp]
		if !ok {
			continue
		}
		ps := kmsg.NewLeaderAndISRRequestTopicPartition()
		ps.Topic = tp.Topic
		ps.Partition = tp.Partition
		ps.ControllerEpoch = l.ControllerEpoch
		ps.Leader = l.Leader
		ps.LeaderEpoch = l.LeaderEpoch
		ps.ISR = nonNil(l.ISR)
		ps.ZKVersion = l.ZkVersion
		ps.Replicas = nonNil(s.Replicas(tp))
		ps.AddingReplicas = []int32{}
		ps.RemovingReplicas = []int32{}
		if r := s.Reassigning[tp]; r != nil {
			ps.AddingReplicas, ps.RemovingReplicas = nonNil(r.Adding()), nonNil(r.Removing())
		}
		ps.IsNew = parts[tp]
		req.PartitionStates = append(req.PartitionStates, ps)
		if n := len(req.TopicStates); n == 0 || req.TopicStates[n-1].Topic != tp.Topic {
			ts := kmsg.NewLeaderAndISRRequestTopicState()
			ts.Topic = tp.Topic
			req.TopicStates = append(req.TopicStates, ts)
		}
		ts := &req.TopicStates[len(req.TopicStates)-1]
		ts.PartitionStates = append(ts.PartitionStates, ps)
		leaders[l.Leader] = true
	}
	if len(req.PartitionStates) == 0 {
		return nil
	}
	for _, id := range sortedKeys(leaders) {
		b, live := s.Live[id]
		if !live {
			continue
		}
		e, ok := b.Endpoint(listener)
		if !ok {
			continue
		}
		ll := kmsg.NewLeaderAndISRRequestLiveLeader()
		ll.BrokerID, ll.Host, ll.Port = id, e.Host, e.Port
		req.LiveLeaders = append(req.LiveLeaders, ll)
	}
	return req
}

// updateMetadataRequest builds UpdateMetadata for broker with the
// partitions tps (those without leadership are skipped; partitions of topics
// being deleted carry leader -2 as LeaderAndIsr.duringDelete makes it) and
// every live broker with all its endpoints.
func (s *State) updateMetadataRequest(broker int32, tps []TP) *kmsg.UpdateMetadataRequest {
	req := kmsg.NewPtrUpdateMetadataRequest()
	req.ControllerID = s.ControllerID
	req.ControllerEpoch = s.Epoch
	req.BrokerEpoch = s.brokerEpoch(broker)
	for _, tp := range tps {
		l, ok := s.Leadership[tp]
		if !ok {
			continue
		}
		reps := s.Replicas(tp)
		ps := kmsg.NewUpdateMetadataRequestTopicPartition()
		ps.Topic = tp.Topic
		ps.Partition = tp.Partition
		ps.ControllerEpoch = l.ControllerEpoch
		ps.Leader, ps.LeaderEpoch, ps.ZKVersion = l.Leader, l.LeaderEpoch, l.ZkVersion
		if s.Deleting[tp.Topic] != nil {
			ps.Leader, ps.LeaderEpoch, ps.ZKVersion = LeaderDuringDelete, 0, 0
		}
		ps.ISR = nonNil(l.ISR)
		ps.Replicas = nonNil(reps)
		ps.OfflineReplicas = nonNil(filter(reps, func(id int32) bool { return !s.isLive(id) }))
		req.PartitionStates = append(req.PartitionStates, ps)
		if n := len(req.TopicStates); n == 0 || req.TopicStates[n-1].Topic != tp.Topic {
			ts := kmsg.NewUpdateMetadataRequestTopicState()
			ts.Topic = tp.Topic
			req.TopicStates = append(req.TopicStates, ts)
		}
		ts := &req.TopicStates[len(req.TopicStates)-1]
		ts.PartitionStates = append(ts.PartitionStates, ps)
	}
	for _, id := range s.LiveIDs() {
		b := s.Live[id]
		lb := kmsg.NewUpdateMetadataRequestLiveBroker()
		lb.ID = id
		for _, e := range b.Endpoints {
			ep := kmsg.NewUpdateMetadataRequestLiveBrokerEndpoint()
			ep.Port, ep.Host, ep.ListenerName, ep.SecurityProtocol = e.Port, e.Host, e.Listener, e.SecurityProtocol
			lb.Endpoints = append(lb.Endpoints, ep)
			if e.SecurityProtocol == 0 && lb.Host == "" { // v0 carries one PLAINTEXT host:port
				lb.Host, lb.Port = e.Host, e.Port
			}
		}
		if b.Rack != "" {
			rack := b.Rack
			lb.Rack = &rack
		}
		req.LiveBrokers = append(req.LiveBrokers, lb)
	}
	return req
}

// stopReplicaRequest builds StopReplica (v1-v2 layout) for broker.
func (s *State) stopReplicaRequest(broker int32, tps []TP, del bool) *kmsg.StopReplicaRequest {
	req := kmsg.NewPtrStopReplicaRequest()
	req.ControllerID = s.ControllerID
	req.ControllerEpoch = s.Epoch
	req.BrokerEpoch = s.brokerEpoch(broker)
	req.DeletePartitions = del
	tps = slices.Clone(tps)
	sortTPs(tps)
	for _, tp := range tps {
		if n := len(req.Topics); n == 0 || req.Topics[n-1].Topic != tp.Topic {
			t := kmsg.NewStopReplicaRequestTopic()
			t.Topic = tp.Topic
			req.Topics = append(req.Topics, t)
		}
		t := &req.Topics[len(req.Topics)-1]
		t.Partitions = append(t.Partitions, tp.Partition)
	}
	return req
}

// stopReplicaV0 rewrites a v1+ StopReplica into v0's one entry per partition.
func stopReplicaV0(req *kmsg.StopReplicaRequest) {
	var flat []kmsg.StopReplicaRequestTopic
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			e := kmsg.NewStopReplicaRequestTopic()
			e.Topic, e.Partition = t.Topic, p
			flat = append(flat, e)
		}
	}
	req.Topics = flat
}

func nonNil(ids []int32) []int32 {
	if ids == nil {
		return []int32{}
	}
	return slices.Clone(ids)
}
