package controller

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

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

// BeingReassigned is ReplicaAssignment.isBeingReassigned: replicas are
// being added or removed. A cancelled reassignment (target = original) or a
// reordering is not, and completes at once.
func (r *Reassignment) BeingReassigned() bool {
	return len(r.Adding()) > 0 || len(r.Removing()) > 0
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

// reassignmentComplete is isReassignmentComplete: nothing is being added or
// removed, or every target replica is in the ISR.
func (s *State) reassignmentComplete(tp TP, r *Reassignment) bool {
	if !r.BeingReassigned() {
		return true
	}
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
// reassignments, or targets changed, or cancellations: target = the
// original replicas): unknown partitions and topics being deleted fail with
// UNKNOWN_TOPIC_OR_PARTITION-like results (failed, to be removed from
// /admin/reassign_partitions), the others start (phase A) or, if their
// target is already in sync, complete (phase B). Replicas of a reassignment
// in progress that the new one no longer has (2.4's unneededReplicas: the
// adding replicas of a cancelled or replaced reassignment) leave the ISR and
// are stopped and deleted.
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
		unneeded := filter(reps, func(id int32) bool { return !slices.Contains(r.Full(), id) })
		s.Reassigning[tp] = r
		s.Assignments[tp.Topic][tp.Partition] = r.Full()
		p.merge(s.planReassignStep(tp, true, unneeded))
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
			p.merge(s.planReassignStep(tp, false, nil))
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
	return s.planReassignStep(tp, false, nil)
}

// planReassignStep plans phase A or B for tp (already in Reassigning, with
// RS in Assignments). writeTopic makes phase A write the topic znode
// (phase B always does). unneeded are replicas of the previous RS that the
// new one dropped: they leave the ISR (a leader among them is replaced by
// the first RS member in the remaining ISR that can lead) and are stopped
// and deleted.
func (s *State) planReassignStep(tp TP, writeTopic bool, unneeded []int32) *Plan {
	r := s.Reassigning[tp]
	if s.reassignmentComplete(tp, r) {
		// Target in sync already (a subset or reordering of the
		// replicas, or a cancellation): straight to phase B. 2.4 first
		// writes RS, AR and RR too; here the topic znode is written once,
		// after the state (a crash in between leaves the old replicas
		// there and /admin/reassign_partitions, which the next controller
		// runs again).
		return s.planReassignComplete(tp, r, unneeded)
	}
	p := &Plan{WatchStates: []TP{tp}}
	if writeTopic {
		p.TopicsBefore = []string{tp.Topic}
	}
	// Phase A: epoch bump, LeaderAndIsr to RS (AR as new).
	after := newBatch()
	p.After = []*Batch{after}
	cur, ok := s.Leadership[tp]
	if !ok || cur.ControllerEpoch > s.Epoch {
		return p
	}
	nl := cur
	nl.ISR = withoutReplicas(cur.ISR, unneeded)
	if slices.Contains(unneeded, cur.Leader) {
		nl.Leader = NoLeader
		for _, id := range r.Full() {
			if s.canLead(id) && slices.Contains(nl.ISR, id) {
				nl.Leader = id
				break
			}
		}
	}
	nl.LeaderEpoch, nl.ControllerEpoch = cur.LeaderEpoch+1, s.Epoch
	p.Writes = append(p.Writes, Write{TP: tp, New: nl, Replan: func() *Plan { return s.replanReassign(tp, unneeded) }})
	after.addLeaderAndIsr(s, filter(r.Full(), func(id int32) bool { return s.isLive(id) && !slices.Contains(r.Adding(), id) }), tp, false)
	after.addLeaderAndIsr(s, filter(r.Adding(), s.isLive), tp, true)
	if stop, del := stopAndDelete(s, tp, unneeded); stop != nil {
		p.After = append(p.After, stop, del)
	}
	return p
}

// withoutReplicas returns isr without ids, but never empty (the last
// members stay, as Kafka's removeReplicasFromIsr keeps a lone member).
func withoutReplicas(isr, ids []int32) []int32 {
	out := filter(isr, func(id int32) bool { return !slices.Contains(ids, id) })
	if len(out) == 0 {
		return slices.Clone(isr)
	}
	return out
}

// stopAndDelete returns the StopReplica (delete=false) and StopReplica
// (delete=true) batches for the live brokers among ids (nil, nil if none).
func stopAndDelete(s *State, tp TP, ids []int32) (stop, del *Batch) {
	for _, id := range ids {
		if !s.isLive(id) {
			continue
		}
		if stop == nil {
			stop, del = newBatch(), newBatch()
		}
		stop.StopReplica[id] = append(stop.StopReplica[id], tp)
		del.StopDelete[id] = append(del.StopDelete[id], tp)
	}
	return stop, del
}

// planReassignComplete is phase B for tp (target in sync): RS = TRS, the
// leader moves into TRS if needed, RR and unneeded leave the ISR and are
// stopped and deleted.
func (s *State) planReassignComplete(tp TP, r *Reassignment, unneeded []int32) *Plan {
	cur, ok := s.Leadership[tp]
	if !ok || cur.ControllerEpoch > s.Epoch {
		return &Plan{}
	}
	removing := r.Removing()
	for _, id := range unneeded {
		if !slices.Contains(removing, id) {
			removing = append(removing, id)
		}
	}
	nl := cur
	nl.ISR = withoutReplicas(cur.ISR, removing)
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
	lai := newBatch()
	lai.addLeaderAndIsr(s, filter(r.Target, s.isLive), tp, false)
	after := []*Batch{lai}
	if stop, del := stopAndDelete(s, tp, removing); stop != nil {
		after = append(after, stop, del)
	}
	replan := func() *Plan {
		// Decide again with the reassignment as it was (it left
		// Reassigning when this step was planned).
		s.Reassigning[tp] = r
		s.Assignments[tp.Topic][tp.Partition] = r.Full()
		return s.planReassignStep(tp, false, unneeded)
	}
	return &Plan{
		Writes:       []Write{{TP: tp, New: nl, Replan: replan}},
		After:        after,
		TopicsAfter:  []string{tp.Topic},
		ReassignDone: []TP{tp},
	}
}

func (s *State) replanReassign(tp TP, unneeded []int32) *Plan {
	if s.Reassigning[tp] == nil {
		return &Plan{}
	}
	return s.planReassignStep(tp, false, unneeded)
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

// ReassignTarget is one partition of an AlterPartitionReassignments
// request: a new target replica list, or Cancel (a null replica list:
// revert to the original replicas).
type ReassignTarget struct {
	Replicas []int32
	Cancel   bool
}

// ReassignResult is the outcome of one partition of an
// AlterPartitionReassignments request (2.4's ApiError: a code, and a
// message only where 2.4 sets one).
type ReassignResult struct {
	ErrorCode int16
	Message   string
}

// unknownPartitionResult is maybeTriggerPartitionReassignment's answer for
// a partition that does not exist or whose topic is being deleted.
var unknownPartitionResult = ReassignResult{ErrorCode: kerr.UnknownTopicOrPartition.Code, Message: "The partition does not exist."}

// ValidateAlterReassignments is the first half of 2.4's
// processApiPartitionReassignment (replicasAreValid, maybeBuildReassignment):
// it returns the targets to run through PlanReassignment (a cancellation's
// target is the original replicas) and the partitions refused:
// INVALID_REPLICA_ASSIGNMENT for an empty list, duplicates, negative ids or
// an added replica on a broker that is not live (or is shutting down);
// NO_REASSIGNMENT_IN_PROGRESS to cancel a partition not being reassigned.
// Unknown partitions with a valid target pass here and fail in
// PlanReassignment (UNKNOWN_TOPIC_OR_PARTITION), as in 2.4. It changes
// nothing.
func (s *State) ValidateAlterReassignments(reqs map[TP]ReassignTarget) (targets map[TP][]int32, refused map[TP]ReassignResult) {
	targets, refused = map[TP][]int32{}, map[TP]ReassignResult{}
	for tp, req := range reqs {
		cur := s.Reassigning[tp]
		var adding []int32
		if cur != nil {
			adding = cur.Adding()
		}
		if !req.Cancel {
			if !ValidTarget(req.Replicas) {
				refused[tp] = ReassignResult{ErrorCode: kerr.InvalidReplicaAssignment.Code}
				continue
			}
			r := ReassignTo(s.Replicas(tp), adding, req.Replicas)
			if !all(r.Adding(), s.canLead) {
				refused[tp] = ReassignResult{ErrorCode: kerr.InvalidReplicaAssignment.Code}
				continue
			}
			targets[tp] = slices.Clone(req.Replicas)
			continue
		}
		if cur == nil || !cur.BeingReassigned() {
			refused[tp] = ReassignResult{ErrorCode: kerr.NoReassignmentInProgress.Code}
			continue
		}
		targets[tp] = slices.Clone(cur.Original)
	}
	return targets, refused
}

func all(ids []int32, ok func(int32) bool) bool {
	for _, id := range ids {
		if !ok(id) {
			return false
		}
	}
	return true
}

// OngoingReassignment is one partition being reassigned as
// ListPartitionReassignments shows it: RS, AR and RR.
type OngoingReassignment struct {
	Replicas, Adding, Removing []int32
}

// ListReassignments is processListPartitionReassignments: the partitions
// of tps (nil: every partition) that are being reassigned (replicas being
// added or removed).
func (s *State) ListReassignments(tps []TP) map[TP]OngoingReassignment {
	if tps == nil {
		tps = sortedTPKeysOf(s.Reassigning)
	}
	out := map[TP]OngoingReassignment{}
	for _, tp := range tps {
		if r := s.Reassigning[tp]; r != nil && r.BeingReassigned() {
			out[tp] = OngoingReassignment{Replicas: r.Full(), Adding: r.Adding(), Removing: r.Removing()}
		}
	}
	return out
}
