package controller

import (
	"cmp"
	"slices"
)

// Special leader ids, as in Kafka's LeaderAndIsr object.
const (
	// NoLeader marks an offline partition in its state znode.
	NoLeader int32 = -1
	// LeaderDuringDelete is only sent in UpdateMetadata for partitions of a
	// topic being deleted; brokers then drop the partition from their cache.
	LeaderDuringDelete int32 = -2
)

// TP names one partition.
type TP struct {
	Topic     string
	Partition int32
}

func (tp TP) compare(o TP) int {
	if c := cmp.Compare(tp.Topic, o.Topic); c != 0 {
		return c
	}
	return cmp.Compare(tp.Partition, o.Partition)
}

// Leadership is a partition's state znode as the controller caches it:
// /brokers/topics/T/partitions/P/state plus the znode's version.
type Leadership struct {
	Leader          int32
	LeaderEpoch     int32
	ISR             []int32
	ControllerEpoch int32 // epoch of the controller that last wrote it
	ZkVersion       int32 // znode data version: the CAS token
}

func (l Leadership) equal(o Leadership) bool {
	return l.Leader == o.Leader && l.LeaderEpoch == o.LeaderEpoch &&
		l.ControllerEpoch == o.ControllerEpoch && slices.Equal(l.ISR, o.ISR)
}

// Endpoint is one advertised listener of a broker.
type Endpoint struct {
	Listener         string // listener name, e.g. PLAINTEXT
	Host             string
	Port             int32
	SecurityProtocol int16 // PLAINTEXT=0, SSL=1, SASL_PLAINTEXT=2, SASL_SSL=3
}

// Broker is a live broker: its registration and its epoch (czxid of
// /brokers/ids/N).
type Broker struct {
	ID        int32
	Epoch     int64
	Endpoints []Endpoint
	Rack      string // "" = no rack
}

// Endpoint returns the broker's endpoint on listener, if it has one.
func (b Broker) Endpoint(listener string) (Endpoint, bool) {
	for _, e := range b.Endpoints {
		if e.Listener == listener {
			return e, true
		}
	}
	return Endpoint{}, false
}

// replicaStatus is the progress of one replica's deletion.
type replicaStatus int8

const (
	replicaDeletePending replicaStatus = iota // not yet asked (or to be asked again)
	replicaDeleteStarted                      // StopReplica(delete=true) queued
	replicaDeleteDone                         // broker answered without error
	replicaDeleteFailed                       // broker answered with an error
)

// deletion is the progress of one topic queued for deletion
// (/admin/delete_topics/T), as TopicDeletionManager keeps it.
type deletion struct {
	started  bool
	replicas map[replicaKey]replicaStatus
}

type replicaKey struct {
	TP
	Broker int32
}

// State is everything the active controller knows (Kafka's
// ControllerContext). It is owned by the event loop; the decision functions
// read it and return plans, the loop applies the results of ZooKeeper writes
// back into it.
type State struct {
	ControllerID int32
	Epoch        int32 // controller epoch (value of /controller_epoch)

	Live        map[int32]Broker
	Assignments map[string]map[int32][]int32 // topic -> partition -> replicas
	Leadership  map[TP]Leadership
	Deleting    map[string]*deletion // topics queued for deletion
	// ShuttingDown holds the live brokers that asked for a controlled
	// shutdown (Kafka's shuttingDownBrokerIds): they still get requests but
	// are never elected leader nor put into a new partition's ISR.
	ShuttingDown map[int32]bool
	// Reassigning holds the partitions being reassigned, keyed by
	// partition (Kafka's partitionsBeingReassigned).
	Reassigning map[TP]*Reassignment

	// UncleanLeaderElection allows electing a live out-of-sync replica when
	// no ISR member is live (unclean.leader.election.enable); TopicUnclean
	// holds the topics that override it in /config/topics/T.
	UncleanLeaderElection bool
	TopicUnclean          map[string]bool
}

// unclean reports whether topic allows unclean leader election.
func (s *State) unclean(topic string) bool {
	if v, ok := s.TopicUnclean[topic]; ok {
		return v
	}
	return s.UncleanLeaderElection
}

// NewState returns an empty state for controller id at epoch.
func NewState(id, epoch int32) *State {
	return &State{
		ControllerID: id,
		Epoch:        epoch,
		Live:         map[int32]Broker{},
		Assignments:  map[string]map[int32][]int32{},
		Leadership:   map[TP]Leadership{},
		Deleting:     map[string]*deletion{},
		TopicUnclean: map[string]bool{},
		ShuttingDown: map[int32]bool{},
		Reassigning:  map[TP]*Reassignment{},
	}
}

// Replicas returns the assignment of tp (nil if unknown).
func (s *State) Replicas(tp TP) []int32 {
	return s.Assignments[tp.Topic][tp.Partition]
}

func (s *State) isLive(id int32) bool {
	_, ok := s.Live[id]
	return ok
}

// canLead reports whether broker id may become a leader or join a new
// partition's ISR: live and not shutting down (Kafka's isReplicaOnline
// without includeShuttingDownBrokers).
func (s *State) canLead(id int32) bool {
	return s.isLive(id) && !s.ShuttingDown[id]
}

// onlineReplicas returns the replicas of tp that can lead, in assignment order.
func (s *State) onlineReplicas(tp TP) []int32 {
	return filter(s.Replicas(tp), s.canLead)
}

// liveReplicas returns the replicas of tp on live brokers, in assignment order.
func (s *State) liveReplicas(tp TP) []int32 {
	var out []int32
	for _, r := range s.Replicas(tp) {
		if s.isLive(r) {
			out = append(out, r)
		}
	}
	return out
}

// Partitions returns every known partition, sorted.
func (s *State) Partitions() []TP {
	var out []TP
	for t, parts := range s.Assignments {
		for p := range parts {
			out = append(out, TP{t, p})
		}
	}
	sortTPs(out)
	return out
}

// TopicPartitions returns topic's partitions, sorted.
func (s *State) TopicPartitions(topic string) []TP {
	var out []TP
	for p := range s.Assignments[topic] {
		out = append(out, TP{topic, p})
	}
	sortTPs(out)
	return out
}

// LiveIDs returns the live broker ids, sorted.
func (s *State) LiveIDs() []int32 {
	ids := make([]int32, 0, len(s.Live))
	for id := range s.Live {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func sortTPs(tps []TP) { slices.SortFunc(tps, TP.compare) }

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// SortTPs sorts partitions by topic, then partition.
func SortTPs(tps []TP) { sortTPs(tps) }
