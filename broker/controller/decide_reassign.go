package controller

import (
	"slices"

	"github.com/zkafka/zkafka/zkcoord"
)

// Partition reassignment, 2.4's ZooKeeper-driven flow (KafkaController.
// onPartitionReassignment). With ORS the original replicas, TRS the
// target, RS = TRS ++ ORS (distinct) the full set while it runs,
// AR = RS - ORS being added and RR = RS - TRS being removed:
//
//	Phase A (TRS not yet all in the ISR): /brokers/topics/T gets RS with
//	adding_replicas AR and removing_replicas RR; the leader epoch is bumped
//	and LeaderAndIsr (with AR and RR) goes to RS, is_new for AR; the
//	controller watches the state znode.
//	Phase B (TRS all in the ISR): RS = TRS in memory; the leader moves to
//	the first live TRS member in the ISR if it is not in TRS (else its
//	epoch is bumped) and RR leave the ISR, in one state write; LeaderAndIsr
//	to TRS; StopReplica (delete=false, then delete=true) to RR;
//	/brokers/topics/T gets RS = TRS without AR/RR; the partition leaves
//	/admin/reassign_partitions (deleted when empty); UpdateMetadata to all.

// Reassignment is one partition being reassigned: Original is ORS, the
// replicas before the reassignment began; Target is TRS.
type Reassignment struct {
	Original []int32
	Target   []int32
}

// Full returns RS = TRS followed by the ORS members not in TRS.
func (r *Reassignment) Full() []int32 {
	out := slices.Clone(r.Target)
	for _, id := range r.Original {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// Adding returns AR = RS - ORS.
func (r *Reassignment) Adding() []int32 {
	return filter(r.Full(), func(id int32) bool { return !slices.Contains(r.Original, id) })
}

// Removing returns RR = RS - TRS.
func (r *Reassignment) Removing() []int32 {
	return filter(r.Full(), func(id int32) bool { return !slices.Contains(r.Target, id) })
}

// ReassignTo is ReplicaAssignment.reassignTo: a reassignment of a partition
// whose replica list is current, with adding replicas (a reassignment in
// progress), to target. The original replicas are current minus adding.
func ReassignTo(current, adding, target []int32) *Reassignment {
	origin := filter(current, func(id int32) bool { return !slices.Contains(adding, id) })
	return &Reassignment{Original: origin, Target: slices.Clone(target)}
}

// ValidTarget reports whether target can be reassigned to: non-empty, no
// duplicates, no negative ids.
func ValidTarget(target []int32) bool {
	if len(target) == 0 {
		return false
	}
	seen := map[int32]bool{}
	for _, id := range target {
		if id < 0 || seen[id] {
			return false
		}
		seen[id] = true
	}
	return true
}

// ReassignmentFromZNode rebuilds a reassignment in progress from
// /brokers/topics/T's replicas, adding_replicas and removing_replicas (a
// new controller resuming it). ok is false when the partition is not being
// reassigned.
func ReassignmentFromZNode(replicas, adding, removing []int32) (*Reassignment, bool) {
	if len(adding) == 0 && len(removing) == 0 {
		return nil, false
	}
	return &Reassignment{
		Original: filter(replicas, func(id int32) bool { return !slices.Contains(adding, id) }),
		Target:   filter(replicas, func(id int32) bool { return !slices.Contains(removing, id) }),
	}, true
}

// reassignmentComplete is isReassignmentComplete: every target replica is
// in the ISR.
func (s *State) reassignmentComplete(tp TP, r *Reassignment) bool {
	l, ok := s.Leadership[tp]
	if !ok {
		return false
	}
	for _, id := range r.Target {
		if !slices.Contains(l.ISR, id) {
			return false
		}
	}
	return true
}

// NoteReassignments records the reassignments in progress recorded in a
// topic's znode (adding/removing replicas), as a new controller finds them.
// It returns the partitions being reassigned.
func (s *State) NoteReassignments(topic string, a zkcoord.TopicAssignment) []TP {
	var out []TP
	for p, reps := range a.Partitions {
		if r, ok := ReassignmentFromZNode(reps, a.AddingReplicas[p], a.RemovingReplicas[p]); ok {
			tp := TP{topic, p}
			s.Reassigning[tp] = r
			out = append(out, tp)
		}
	}
	sortTPs(out)
	return out
}

// PlanReassignment is onPartitionReassignment for each of targets (new
// reassignments, or targets changed): unknown partitions and topics being
// deleted fail with UNKNOWN_TOPIC_OR_PARTITION-like results (failed, to be
// removed from /admin/reassign_partitions), the others start (phase A) or,
// if their target is already in sync, complete (phase B).
func (s *State) PlanReassignment(targets map[TP][]int32) (p *Plan, failed []TP) {
	p = &Plan{}
	for _, tp := range sortedTPKeysOf(targets) {
		reps := s.Replicas(tp)
		if reps == nil || s.Deleting[tp.Topic] != nil || !ValidTarget(targets[tp]) {
			failed = append(failed, tp)
			continue
		}
		var adding []int32
		if cur := s.Reassigning[tp]; cur != nil {
			adding = cur.Adding()
		}
		r := ReassignTo(reps, adding, targets[tp])
		s.Reassigning[tp] = r
		s.Assignments[tp.Topic][tp.Partition] = r.Full()
		p.merge(s.planReassignStep(tp, true))
	}
	return p, failed
}

// PlanResumeReassignments re-runs onPartitionReassignment for partitions
// already recorded as being reassigned (after a failover); the topic znode
// already holds RS, AR and RR.
func (s *State) PlanResumeReassignments(tps []TP) *Plan {
	p := &Plan{}
	for _, tp := range tps {
		if s.Reassigning[tp] != nil && s.Deleting[tp.Topic] == nil {
			p.merge(s.planReassignStep(tp, false))
		}
	}
	return p
}

// PlanReassignmentIsrChange is PartitionReassignmentIsrChange: the state of
// a partition being reassigned changed (its state was just re-read); if the
// target is now in sync the reassignment completes.
func (s *State) PlanReassignmentIsrChange(tp TP) *Plan {
	r := s.Reassigning[tp]
	if r == nil || !s.reassignmentComplete(tp, r) {
		return &Plan{}
	}
	return s.planReassignStep(tp, false)
}

// planReassignStep plans phase A or B for tp (already in Reassigning, with
// RS in Assignments). writeTopic makes phase A write the topic znode
// (phase B always does).
func (s *State) planReassignStep(tp TP, writeTopic bool) *Plan {
	r := s.Reassigning[tp]
	if !s.reassignmentComplete(tp, r) {
		p := &Plan{WatchStates: []TP{tp}}
		if writeTopic {
			p.TopicsBefore = []string{tp.Topic}
		}
		// Phase A: epoch bump, LeaderAndIsr to RS (AR as new).
		after := newBatch()
		p.After = []*Batch{after}
		if cur, ok := s.Leadership[tp]; ok && cur.ControllerEpoch <= s.Epoch {
			nl := cur
			nl.ISR = slices.Clone(cur.ISR)
			nl.LeaderEpoch, nl.ControllerEpoch = cur.LeaderEpoch+1, s.Epoch
			p.Writes = append(p.Writes, Write{TP: tp, New: nl, Replan: func() *Plan { return s.replanReassign(tp) }})
			after.addLeaderAndIsr(s, filter(r.Full(), func(id int32) bool { return s.isLive(id) && !slices.Contains(r.Adding(), id) }), tp, false)
			after.addLeaderAndIsr(s, filter(r.Adding(), s.isLive), tp, true)
		}
		return p
	}
	// Target in sync already (a subset or reordering of the replicas):
	// straight to phase B. 2.4 first writes RS, AR and RR too; here the
	// topic znode is written once, after the state (a crash in between
	// leaves the old replicas there and /admin/reassign_partitions, which
	// the next controller runs again).
	return s.planReassignComplete(tp, r)
}

// planReassignComplete is phase B for tp (target in sync).
func (s *State) planReassignComplete(tp TP, r *Reassignment) *Plan {
	cur, ok := s.Leadership[tp]
	if !ok || cur.ControllerEpoch > s.Epoch {
		return &Plan{}
	}
	removing := r.Removing()
	nl := cur
	nl.ISR = filter(cur.ISR, func(id int32) bool { return !slices.Contains(removing, id) })
	if len(nl.ISR) == 0 {
		nl.ISR = slices.Clone(cur.ISR)
	}
	if !slices.Contains(r.Target, cur.Leader) || !s.canLead(cur.Leader) {
		// ReassignPartitionLeaderElectionStrategy: first live target
		// replica in the ISR.
		leader := NoLeader
		for _, id := range r.Target {
			if s.canLead(id) && slices.Contains(cur.ISR, id) {
				leader = id
				break
			}
		}
		if leader == NoLeader {
			return &Plan{} // no target replica can lead yet: retried on the next ISR or broker change
		}
		nl.Leader = leader
	}
	nl.LeaderEpoch, nl.ControllerEpoch = cur.LeaderEpoch+1, s.Epoch
	// RS = TRS in memory.
	delete(s.Reassigning, tp)
	s.Assignments[tp.Topic][tp.Partition] = slices.Clone(r.Target)
	lai, stop, del := newBatch(), newBatch(), newBatch()
	lai.addLeaderAndIsr(s, filter(r.Target, s.isLive), tp, false)
	for _, id := range removing {
		if s.isLive(id) {
			stop.StopReplica[id] = append(stop.StopReplica[id], tp)
			del.StopDelete[id] = append(del.StopDelete[id], tp)
		}
	}
	replan := func() *Plan {
		// Decide again with the reassignment as it was (it left
		// Reassigning when this step was planned).
		s.Reassigning[tp] = r
		s.Assignments[tp.Topic][tp.Partition] = r.Full()
		return s.planReassignStep(tp, false)
	}
	return &Plan{
		Writes:       []Write{{TP: tp, New: nl, Replan: replan}},
		After:        []*Batch{lai, stop, del},
		TopicsAfter:  []string{tp.Topic},
		ReassignDone: []TP{tp},
	}
}

func (s *State) replanReassign(tp TP) *Plan {
	if s.Reassigning[tp] == nil {
		return &Plan{}
	}
	return s.planReassignStep(tp, false)
}

// ReassigningTopic reports whether a partition of topic is being reassigned
// (its deletion waits, as 2.4 marks it ineligible).
func (s *State) ReassigningTopic(topic string) bool {
	for tp := range s.Reassigning {
		if tp.Topic == topic {
			return true
		}
	}
	return false
}

// TopicAssignmentOf returns topic's assignment as /brokers/topics/T must
// hold it: RS per partition, AR/RR for partitions being reassigned.
func (s *State) TopicAssignmentOf(topic string) zkcoord.TopicAssignment {
	a := zkcoord.TopicAssignment{Partitions: map[int32][]int32{}, AddingReplicas: map[int32][]int32{}, RemovingReplicas: map[int32][]int32{}}
	for p, reps := range s.Assignments[topic] {
		a.Partitions[p] = slices.Clone(reps)
		if r := s.Reassigning[TP{topic, p}]; r != nil {
			if ad := r.Adding(); len(ad) > 0 {
				a.AddingReplicas[p] = ad
			}
			if rm := r.Removing(); len(rm) > 0 {
				a.RemovingReplicas[p] = rm
			}
		}
	}
	return a
}
