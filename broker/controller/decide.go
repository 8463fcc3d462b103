package controller

import (
	"maps"
	"slices"
)

// This file holds the controller's decisions: pure functions of State and an
// event that change State's in-memory view (live brokers, deletion progress)
// and return a Plan. They perform no I/O; the event loop executes the Plan
// (fenced ZooKeeper writes, then requests), and applies write results back
// with State.Apply.

// Write is one partition state znode write the loop performs, always fenced
// by the /controller_epoch check.
type Write struct {
	TP     TP
	Create bool       // create .../partitions/P[/state] (NewPartition -> OnlinePartition)
	New    Leadership // for an update, New.ZkVersion is the expected version
	// Replan decides again, by the same rule, once the state znode was
	// re-read after this write conflicted (BADVERSION, NODEEXISTS); nil
	// means next()'s decision (PlanReconcile).
	Replan func() *Plan
}

// Batch collects controller-to-broker requests, like Kafka's
// ControllerBrokerRequestBatch. Requests are built from State when the batch
// is sent, so they carry the leadership as written. Per broker they are
// queued in the order LeaderAndIsr, UpdateMetadata, StopReplica.
type Batch struct {
	LeaderAndIsr map[int32]map[TP]bool // broker -> partitions (value: is_new)
	UMBrokers    map[int32]bool        // brokers to send UpdateMetadata to
	UMPartitions map[TP]bool           // partitions the UpdateMetadata carries
	UMAll        bool                  // UpdateMetadata carries every partition
	StopReplica  map[int32][]TP        // StopReplica(delete_partitions=false)
	StopDelete   map[int32][]TP        // StopReplica(delete_partitions=true); responses come back as events
}

func newBatch() *Batch {
	return &Batch{
		LeaderAndIsr: map[int32]map[TP]bool{},
		UMBrokers:    map[int32]bool{},
		UMPartitions: map[TP]bool{},
		StopReplica:  map[int32][]TP{},
		StopDelete:   map[int32][]TP{},
	}
}

// addLeaderAndIsr queues LeaderAndIsr for tp to brokers and, as Kafka does,
// UpdateMetadata for tp to every live broker.
func (b *Batch) addLeaderAndIsr(s *State, brokers []int32, tp TP, isNew bool) {
	for _, id := range brokers {
		if id < 0 {
			continue
		}
		m := b.LeaderAndIsr[id]
		if m == nil {
			m = map[TP]bool{}
			b.LeaderAndIsr[id] = m
		}
		m[tp] = m[tp] || isNew
	}
	b.addUpdateMetadata(s.LiveIDs(), tp)
}

func (b *Batch) addUpdateMetadata(brokers []int32, tps ...TP) {
	for _, id := range brokers {
		b.UMBrokers[id] = true
	}
	for _, tp := range tps {
		b.UMPartitions[tp] = true
	}
}

// drop removes tp from the batch (its ZooKeeper write failed).
func (b *Batch) drop(tp TP) {
	for _, m := range b.LeaderAndIsr {
		delete(m, tp)
	}
	delete(b.UMPartitions, tp)
}

// Empty reports whether the batch sends nothing.
func (b *Batch) Empty() bool {
	for _, m := range b.LeaderAndIsr {
		if len(m) > 0 {
			return false
		}
	}
	return len(b.UMBrokers) == 0 && len(b.StopReplica) == 0 && len(b.StopDelete) == 0
}

// Plan is what the loop must do for one event: send Before, perform Writes,
// apply their results, send After (minus partitions whose write failed),
// then delete the znodes of DeleteTopics and the /admin/delete_topics
// markers in RemoveMarkers.
type Plan struct {
	Before        []*Batch
	Writes        []Write
	After         []*Batch
	DeleteTopics  []string
	RemoveMarkers []string
	// Reassignment steps: topics whose /brokers/topics/T is rewritten from
	// State before anything else (TopicsBefore) or after the requests
	// (TopicsAfter), partitions whose reassignment finished (removed from
	// /admin/reassign_partitions last), and state znodes to watch.
	TopicsBefore []string
	TopicsAfter  []string
	ReassignDone []TP
	WatchStates  []TP
}

func (p *Plan) merge(o *Plan) {
	if o == nil {
		return
	}
	p.Before = append(p.Before, o.Before...)
	p.Writes = append(p.Writes, o.Writes...)
	p.After = append(p.After, o.After...)
	p.DeleteTopics = append(p.DeleteTopics, o.DeleteTopics...)
	p.RemoveMarkers = append(p.RemoveMarkers, o.RemoveMarkers...)
	p.TopicsBefore = appendNew(p.TopicsBefore, o.TopicsBefore...)
	p.TopicsAfter = appendNew(p.TopicsAfter, o.TopicsAfter...)
	p.ReassignDone = append(p.ReassignDone, o.ReassignDone...)
	p.WatchStates = append(p.WatchStates, o.WatchStates...)
}

func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		if !slices.Contains(list, it) {
			list = append(list, it)
		}
	}
	return list
}

// Empty reports whether the plan does nothing.
func (p *Plan) Empty() bool {
	for _, b := range append(slices.Clone(p.Before), p.After...) {
		if !b.Empty() {
			return false
		}
	}
	return len(p.Writes) == 0 && len(p.DeleteTopics) == 0 && len(p.RemoveMarkers) == 0 &&
		len(p.TopicsBefore) == 0 && len(p.TopicsAfter) == 0 && len(p.ReassignDone) == 0 && len(p.WatchStates) == 0
}

// ElectOffline is Kafka's OfflinePartitionLeaderElectionStrategy: the first
// replica in assignment order that is live and in the ISR leads, and the ISR
// keeps its live members. With no such replica and unclean election allowed,
// the first live replica leads alone (ISR = [leader]). Otherwise ok is false.
func ElectOffline(assignment, isr []int32, live func(int32) bool, unclean bool) (leader int32, newISR []int32, ok bool) {
	liveISR := filter(isr, live)
	for _, r := range assignment {
		if live(r) && slices.Contains(liveISR, r) {
			return r, liveISR, true
		}
	}
	if unclean {
		for _, r := range assignment {
			if live(r) {
				return r, []int32{r}, true
			}
		}
	}
	return NoLeader, nil, false
}

// shrinkISR removes the replicas that are not live from isr, but never
// empties it: an ISR whose members are all dead is left as it is, so that
// the last in-sync replicas can be elected cleanly when they return (Kafka
// keeps the last member the same way).
func shrinkISR(isr []int32, live func(int32) bool) []int32 {
	out := filter(isr, live)
	if len(out) == 0 {
		return slices.Clone(isr)
	}
	return out
}

func filter(ids []int32, keep func(int32) bool) []int32 {
	var out []int32
	for _, id := range ids {
		if keep(id) {
			out = append(out, id)
		}
	}
	return out
}

// next decides the state znode tp should have given the live brokers:
// create it for a new partition with a live replica, elect a leader when the
// current one is not live, remove dead replicas from the ISR. ok is false
// when nothing is to be written (including topics being deleted, new
// partitions without live replicas and partitions last written by a newer
// controller).
func (s *State) next(tp TP) (w Write, ok bool) {
	if s.Deleting[tp.Topic] != nil || s.Replicas(tp) == nil {
		return Write{}, false
	}
	cur, exists := s.Leadership[tp]
	if !exists {
		live := s.onlineReplicas(tp)
		if len(live) == 0 {
			return Write{}, false // stays NewPartition until a replica is live
		}
		return Write{TP: tp, Create: true, New: Leadership{
			Leader: live[0], ISR: live, LeaderEpoch: 0, ControllerEpoch: s.Epoch,
		}}, true
	}
	if cur.ControllerEpoch > s.Epoch {
		return Write{}, false // a newer controller wrote it; our fenced writes will fail anyway
	}
	nl := cur
	nl.ISR = slices.Clone(cur.ISR)
	nl.ControllerEpoch = s.Epoch
	if cur.Leader == NoLeader || !s.isLive(cur.Leader) {
		if leader, isr, elected := ElectOffline(s.Replicas(tp), cur.ISR, s.canLead, s.unclean(tp.Topic)); elected {
			nl.Leader, nl.ISR = leader, isr
		} else {
			nl.Leader, nl.ISR = NoLeader, shrinkISR(cur.ISR, s.isLive)
			if cur.Leader == NoLeader && slices.Equal(nl.ISR, cur.ISR) {
				return Write{}, false // still offline, nothing new
			}
		}
	} else {
		nl.ISR = shrinkISR(cur.ISR, s.isLive)
		if slices.Equal(nl.ISR, cur.ISR) {
			return Write{}, false
		}
	}
	nl.LeaderEpoch = cur.LeaderEpoch + 1
	return Write{TP: tp, New: nl}, true
}

// reconcile plans the writes next() wants for tps and the requests that
// follow them: LeaderAndIsr to the partition's live replicas (is_new for a
// created partition, sent to its ISR as Kafka does) and UpdateMetadata to all
// live brokers.
func (s *State) reconcile(tps []TP, after *Batch) []Write {
	var writes []Write
	for _, tp := range tps {
		w, ok := s.next(tp)
		if !ok {
			continue
		}
		writes = append(writes, w)
		if w.Create {
			after.addLeaderAndIsr(s, w.New.ISR, tp, true)
		} else {
			after.addLeaderAndIsr(s, s.liveReplicas(tp), tp, false)
		}
	}
	return writes
}

// PlanFailover is onControllerFailover once State is loaded: UpdateMetadata
// with every partition to every live broker first, then elections for
// new/offline partitions and removal of dead replicas from ISRs, then
// LeaderAndIsr for every partition to its live replicas, then deletions.
func (s *State) PlanFailover() *Plan {
	before := newBatch()
	before.UMAll = true
	before.addUpdateMetadata(s.LiveIDs())
	after := newBatch()
	p := &Plan{Before: []*Batch{before}, After: []*Batch{after}}
	p.Writes = s.reconcile(s.Partitions(), after)
	for _, tp := range s.Partitions() {
		if _, ok := s.Leadership[tp]; ok && s.Deleting[tp.Topic] == nil {
			after.addLeaderAndIsr(s, s.liveReplicas(tp), tp, false)
		}
	}
	p.merge(s.PlanDeletions())
	return p
}

// DiffBrokers compares a new reading of /brokers/ids (with czxid epochs)
// with the live brokers: dead brokers disappeared, born ones appeared; a
// broker whose epoch changed has bounced and is in both (2.4 handles it as
// a failure followed by a startup). Both are sorted.
func (s *State) DiffBrokers(live map[int32]Broker) (dead, born []int32) {
	for id, old := range s.Live {
		if nb, ok := live[id]; !ok || nb.Epoch != old.Epoch {
			dead = append(dead, id)
		}
	}
	for id, nb := range live {
		if old, ok := s.Live[id]; !ok || nb.Epoch != old.Epoch {
			born = append(born, id)
		}
	}
	slices.Sort(dead)
	slices.Sort(born)
	return dead, born
}

// PlanBrokerChange is processBrokerChange for a new reading of
// /brokers/ids: the plan of PlanBrokerFailure for the dead (and bounced)
// brokers, then a function returning PlanBrokerStartup's plan for the new
// (and bounced) ones, to be called once the first plan's writes are applied.
func (s *State) PlanBrokerChange(live map[int32]Broker) (failure *Plan, startup func() *Plan, dead, born []int32) {
	dead, born = s.DiffBrokers(live)
	failure = &Plan{}
	if len(dead) > 0 {
		failure = s.PlanBrokerFailure(dead)
	}
	return failure, func() *Plan { return s.PlanBrokerStartup(live, born) }, dead, born
}

// PlanBrokerFailure is onBrokerFailure: the dead brokers leave the live set;
// partitions they led get a leader (offline election, skipping topics being
// deleted), dead replicas leave ISRs (never emptying one), LeaderAndIsr for
// the changed partitions goes to their live replicas and UpdateMetadata to
// every live broker; if nothing changed, UpdateMetadata without partitions
// still tells everybody about the dead. Deletion requests awaiting an
// answer from a dead broker will be sent again when it returns.
func (s *State) PlanBrokerFailure(dead []int32) *Plan {
	live := maps.Clone(s.Live)
	for _, id := range dead {
		delete(live, id)
	}
	s.Live = live
	for _, id := range dead {
		delete(s.ShuttingDown, id)
	}
	for _, d := range s.Deleting {
		for k, st := range d.replicas {
			if slices.Contains(dead, k.Broker) && st == replicaDeleteStarted {
				d.replicas[k] = replicaDeletePending // its answer will never come
			}
		}
	}
	after := newBatch()
	p := &Plan{After: []*Batch{after}}
	p.Writes = s.reconcile(s.Partitions(), after)
	if len(p.Writes) == 0 {
		after.addUpdateMetadata(s.LiveIDs())
	}
	return p
}

// PlanBrokerStartup is onBrokerStartup with live as the new live set:
// UpdateMetadata with the new broker list to the others and with every
// partition to the new brokers (before any write); LeaderAndIsr for each of
// their partitions to the new brokers; elections for offline partitions a
// returning replica can lead and creation of new partitions that now have a
// live replica (LeaderAndIsr to live replicas, UpdateMetadata to all);
// deletions waiting for a returning broker resume.
func (s *State) PlanBrokerStartup(live map[int32]Broker, born []int32) *Plan {
	s.Live = maps.Clone(live)
	p := &Plan{}
	if len(born) == 0 {
		return p
	}
	before := newBatch()
	var existing []int32
	for _, id := range s.LiveIDs() {
		if !slices.Contains(born, id) {
			existing = append(existing, id)
		}
	}
	before.addUpdateMetadata(existing)
	all := newBatch()
	all.UMAll = true
	all.addUpdateMetadata(born)
	p.Before = []*Batch{before, all}
	after := newBatch()
	p.After = []*Batch{after}
	for _, tp := range s.Partitions() {
		if _, ok := s.Leadership[tp]; !ok || s.Deleting[tp.Topic] != nil {
			continue
		}
		for _, r := range s.Replicas(tp) {
			if slices.Contains(born, r) {
				after.addLeaderAndIsr(s, []int32{r}, tp, false)
			}
		}
	}
	p.Writes = s.reconcile(s.Partitions(), after)
	p.merge(s.PlanDeletions())
	return p
}

// PlanNewPartitions is onNewPartitionCreation for partitions whose
// assignment was just added to State (new topics or partition additions):
// create their state znodes (leader = first live replica, ISR = live
// replicas, leader_epoch 0), LeaderAndIsr with is_new to the ISR,
// UpdateMetadata to all live brokers.
func (s *State) PlanNewPartitions(tps []TP) *Plan {
	after := newBatch()
	sortTPs(tps)
	return &Plan{Writes: s.reconcile(tps, after), After: []*Batch{after}}
}

// PlanReconcile re-plans tps after their state znodes were re-read (a
// conditional write failed with BADVERSION or NODEEXISTS).
func (s *State) PlanReconcile(tps []TP) *Plan { return s.PlanNewPartitions(tps) }

// QueueDeletions handles the children of /admin/delete_topics: with deletion
// disabled every marker is removed; a marker for an unknown topic is removed
// at once; the others are queued (PlanDeletions then starts them). The
// returned plan removes markers.
func (s *State) QueueDeletions(topics []string, enabled bool) *Plan {
	p := &Plan{}
	for _, t := range topics {
		switch {
		case !enabled || s.Assignments[t] == nil:
			if s.Deleting[t] == nil {
				p.RemoveMarkers = append(p.RemoveMarkers, t)
			}
		case s.Deleting[t] == nil:
			s.Deleting[t] = &deletion{replicas: map[replicaKey]replicaStatus{}}
		}
	}
	return p
}

// eligible reports whether every replica of the topic is on a live broker
// (Kafka's topic deletion waits while one is not: "ineligible").
func (s *State) eligible(topic string) bool {
	if s.ReassigningTopic(topic) {
		return false
	}
	for _, reps := range s.Assignments[topic] {
		for _, r := range reps {
			if !s.isLive(r) {
				return false
			}
		}
	}
	return true
}

// PlanDeletions advances every queued deletion (TopicDeletionManager's
// resumeDeletions): a topic whose replicas are all live starts: UpdateMetadata
// with leader -2 for its partitions to all live brokers, the state znodes get
// leader -1 (leader_epoch+1, fenced), then StopReplica(delete=false) and
// StopReplica(delete=true) go to each replica. Replicas that failed or were
// on a broker that died are asked again once all are live. A topic whose
// replicas all answered is finished: its znodes are deleted.
func (s *State) PlanDeletions() *Plan {
	p := &Plan{}
	for _, topic := range sortedKeys(s.Deleting) {
		d := s.Deleting[topic]
		if s.deletionDone(topic, d) {
			p.DeleteTopics = append(p.DeleteTopics, topic)
			continue
		}
		if !s.eligible(topic) {
			continue
		}
		stop, del := newBatch(), newBatch()
		if !d.started {
			d.started = true
			um := newBatch()
			um.addUpdateMetadata(s.LiveIDs(), s.TopicPartitions(topic)...)
			p.Before = append(p.Before, um)
			for _, tp := range s.TopicPartitions(topic) {
				if w, ok := s.offlineForDelete(tp); ok {
					p.Writes = append(p.Writes, w)
				}
			}
		}
		for _, tp := range s.TopicPartitions(topic) {
			for _, r := range s.Replicas(tp) {
				k := replicaKey{tp, r}
				st, seen := d.replicas[k]
				if seen && (st == replicaDeleteStarted || st == replicaDeleteDone) {
					continue
				}
				d.replicas[k] = replicaDeleteStarted
				stop.StopReplica[r] = append(stop.StopReplica[r], tp)
				del.StopDelete[r] = append(del.StopDelete[r], tp)
			}
		}
		if !stop.Empty() {
			p.After = append(p.After, stop, del)
		}
	}
	return p
}

// offlineForDelete is the OfflineReplica transition of every replica of a
// partition being deleted: leader -1, dead-to-be replicas out of the ISR
// (never emptied), leader_epoch+1.
func (s *State) offlineForDelete(tp TP) (Write, bool) {
	cur, ok := s.Leadership[tp]
	if !ok || cur.ControllerEpoch > s.Epoch {
		return Write{}, false
	}
	reps := s.Replicas(tp)
	isr := shrinkISR(cur.ISR, func(id int32) bool { return !slices.Contains(reps, id) })
	if cur.Leader == NoLeader && slices.Equal(isr, cur.ISR) {
		return Write{}, false
	}
	nl := cur
	nl.Leader, nl.ISR, nl.LeaderEpoch, nl.ControllerEpoch = NoLeader, isr, cur.LeaderEpoch+1, s.Epoch
	return Write{TP: tp, New: nl}, true
}

func (s *State) deletionDone(topic string, d *deletion) bool {
	if !d.started {
		return false
	}
	for _, tp := range s.TopicPartitions(topic) {
		for _, r := range s.Replicas(tp) {
			if d.replicas[replicaKey{tp, r}] != replicaDeleteDone {
				return false
			}
		}
	}
	return true
}

// OnStopReplicaDeleteResponse records a broker's answer to
// StopReplica(delete=true): per-partition error codes (0 = deleted). A
// transport failure is not reported here: the broker's death resets its
// replicas. It returns the plan that follows (finishing or retrying
// deletions).
func (s *State) OnStopReplicaDeleteResponse(broker int32, errs map[TP]int16) *Plan {
	for tp, code := range errs {
		d := s.Deleting[tp.Topic]
		if d == nil {
			continue
		}
		k := replicaKey{tp, broker}
		if _, ok := d.replicas[k]; !ok {
			continue
		}
		if code == 0 {
			d.replicas[k] = replicaDeleteDone
		} else {
			d.replicas[k] = replicaDeleteFailed
		}
	}
	return s.planFinished()
}

// planFinished returns a plan deleting the znodes of finished deletions only
// (failed replicas are retried on the next broker change or failover, as
// Kafka does).
func (s *State) planFinished() *Plan {
	p := &Plan{}
	for _, topic := range sortedKeys(s.Deleting) {
		if s.deletionDone(topic, s.Deleting[topic]) {
			p.DeleteTopics = append(p.DeleteTopics, topic)
		}
	}
	return p
}

// TopicDeleted forgets a topic whose znodes are gone.
func (s *State) TopicDeleted(topic string) {
	for p := range s.Assignments[topic] {
		delete(s.Leadership, TP{topic, p})
	}
	delete(s.Assignments, topic)
	delete(s.Deleting, topic)
	delete(s.TopicUnclean, topic)
}

// AddPartitions records assignments read from /brokers/topics/T and returns
// the partitions that are new to State, sorted. Changed replica lists of
// known partitions (reassignments) are not applied. Partitions added to a
// topic being deleted are ignored.
func (s *State) AddPartitions(topic string, assignment map[int32][]int32) []TP {
	if s.Deleting[topic] != nil {
		return nil
	}
	parts := s.Assignments[topic]
	if parts == nil {
		parts = map[int32][]int32{}
		s.Assignments[topic] = parts
	}
	var added []TP
	for p, reps := range assignment {
		if _, ok := parts[p]; ok {
			continue
		}
		parts[p] = slices.Clone(reps)
		added = append(added, TP{topic, p})
	}
	sortTPs(added)
	return added
}

// Apply records the result of a successful write: the new leadership with
// the znode version ZooKeeper returned.
func (s *State) Apply(w Write, zkVersion int32) {
	l := w.New
	l.ISR = slices.Clone(l.ISR)
	l.ZkVersion = zkVersion
	s.Leadership[w.TP] = l
}
