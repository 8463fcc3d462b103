package broker

import (
	"sort"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// leaderDuringDelete is the leader id a controller sends in UpdateMetadata for
// partitions of a topic being deleted (Kafka's LeaderAndIsr.LeaderDuringDelete).
const leaderDuringDelete = -2

// metadataCache is what the controller published to this broker through
// UpdateMetadata: live brokers and every partition's leader, ISR and replicas.
// Metadata answers come only from here. It is a leaf structure guarded by a
// RWMutex: written by UpdateMetadata handling, read by every request.
type metadataCache struct {
	mu           sync.RWMutex
	controllerID int32
	brokers      map[int32]cachedBroker
	topics       map[string]map[int32]partitionMeta
	changed      chan struct{} // closed and replaced on every update
}

type cachedBroker struct {
	id        int32
	rack      *string
	endpoints map[string]hostPort // listener name -> address
}

type hostPort struct {
	host string
	port int32
}

type partitionMeta struct {
	leader          int32
	leaderEpoch     int32
	isr             []int32
	replicas        []int32
	offlineReplicas []int32
	zkVersion       int32
	controllerEpoch int32
}

func newMetadataCache() *metadataCache {
	return &metadataCache{
		controllerID: -1,
		brokers:      map[int32]cachedBroker{},
		topics:       map[string]map[int32]partitionMeta{},
		changed:      make(chan struct{}),
	}
}

// update applies an UpdateMetadata request; partitions sent with leader -2
// (topic being deleted) leave the cache.
func (m *metadataCache) update(req *kmsg.UpdateMetadataRequest) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.controllerID = req.ControllerID
	brokers := make(map[int32]cachedBroker, len(req.LiveBrokers))
	for _, lb := range req.LiveBrokers {
		cb := cachedBroker{id: lb.ID, rack: lb.Rack, endpoints: map[string]hostPort{}}
		if req.Version == 0 {
			cb.endpoints["PLAINTEXT"] = hostPort{lb.Host, lb.Port}
		}
		for _, ep := range lb.Endpoints {
			name := ep.ListenerName
			if req.Version < 3 { // before v3 the listener is named by its protocol
				name = protocolName(ep.SecurityProtocol)
			}
			cb.endpoints[name] = hostPort{ep.Host, ep.Port}
		}
		brokers[lb.ID] = cb
	}
	m.brokers = brokers
	apply := func(topic string, ps kmsg.UpdateMetadataRequestTopicPartition) {
		if ps.Leader == leaderDuringDelete {
			delete(m.topics[topic], ps.Partition)
			if len(m.topics[topic]) == 0 {
				delete(m.topics, topic)
			}
			return
		}
		parts := m.topics[topic]
		if parts == nil {
			parts = map[int32]partitionMeta{}
			m.topics[topic] = parts
		}
		parts[ps.Partition] = partitionMeta{
			leader: ps.Leader, leaderEpoch: ps.LeaderEpoch, isr: ps.ISR, replicas: ps.Replicas,
			offlineReplicas: ps.OfflineReplicas, zkVersion: ps.ZKVersion, controllerEpoch: ps.ControllerEpoch,
		}
	}
	for _, ps := range req.PartitionStates {
		apply(ps.Topic, ps)
	}
	for _, ts := range req.TopicStates {
		for _, ps := range ts.PartitionStates {
			apply(ts.Topic, ps)
		}
	}
	close(m.changed)
	m.changed = make(chan struct{})
}

func protocolName(p int16) string {
	switch p {
	case 0:
		return "PLAINTEXT"
	case 1:
		return "SSL"
	case 2:
		return "SASL_PLAINTEXT"
	case 3:
		return "SASL_SSL"
	}
	return "UNKNOWN"
}

// Changed returns a channel closed on the next update.
func (m *metadataCache) Changed() <-chan struct{} {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.changed
}

func (m *metadataCache) controller() int32 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.controllerID
}

// aliveBrokers returns the live brokers with an endpoint on listener, by id.
func (m *metadataCache) aliveBrokers(listener string) []kmsg.MetadataResponseBroker {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]kmsg.MetadataResponseBroker, 0, len(m.brokers))
	for _, b := range m.brokers {
		if ep, ok := b.endpoints[listener]; ok {
			out = append(out, kmsg.MetadataResponseBroker{NodeID: b.id, Host: ep.host, Port: ep.port, Rack: b.rack})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NodeID < out[j].NodeID })
	return out
}

func (m *metadataCache) aliveBrokerIDs() []int32 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ids := make([]int32, 0, len(m.brokers))
	for id := range m.brokers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func (m *metadataCache) isAlive(id int32) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.brokers[id]
	return ok
}

// hasEndpoint reports whether broker id is alive with an endpoint on listener.
func (m *metadataCache) hasEndpoint(id int32, listener string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.brokers[id].endpoints[listener]
	return ok
}

// topic returns a copy of a topic's partitions, or false if unknown.
func (m *metadataCache) topic(name string) (map[int32]partitionMeta, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	parts, ok := m.topics[name]
	if !ok {
		return nil, false
	}
	out := make(map[int32]partitionMeta, len(parts))
	for p, pm := range parts {
		out[p] = pm
	}
	return out, true
}

func (m *metadataCache) hasTopic(name string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.topics[name]
	return ok
}

func (m *metadataCache) partition(topic string, p int32) (partitionMeta, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	pm, ok := m.topics[topic][p]
	return pm, ok
}

func (m *metadataCache) topicNames() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	names := make([]string, 0, len(m.topics))
	for t := range m.topics {
		names = append(names, t)
	}
	sort.Strings(names)
	return names
}
