package controller

import (
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Leader elections asked for by an administrator (ElectLeaders API,
// /admin/preferred_replica_election) or by the auto leader rebalance:
// 2.4's onReplicaElection with the preferred and unclean strategies.

// ElectionType is the ElectLeaders election type.
type ElectionType int8

const (
	// ElectPreferredLeader moves leadership to the first replica of the
	// assignment if it is live and in the ISR.
	ElectPreferredLeader ElectionType = 0
	// ElectUncleanLeader elects a leader for a partition without a live
	// leader, an out-of-sync replica if no ISR member is live.
	ElectUncleanLeader ElectionType = 1
)

func (t ElectionType) String() string {
	if t == ElectUncleanLeader {
		return "UNCLEAN"
	}
	return "PREFERRED"
}

// ElectionResult is one partition's outcome: a Kafka error code (0 when a
// leader was elected) and a message.
type ElectionResult struct {
	ErrorCode int16
	Message   string
	// Leader is the partition's leader once an election succeeded
	// (ErrorCode 0) and was written; brokers answer ElectLeaders when
	// their metadata shows it. Set by the controller loop, not by
	// PlanElection.
	Leader int32
}

// ElectPreferred is Kafka's preferredReplicaPartitionLeaderElection: the
// first replica of the assignment leads if it can lead and is in the ISR.
func ElectPreferred(assignment, isr []int32, canLead func(int32) bool) (leader int32, ok bool) {
	if len(assignment) == 0 {
		return NoLeader, false
	}
	p := assignment[0]
	if canLead(p) && slices.Contains(isr, p) {
		return p, true
	}
	return NoLeader, false
}

// PlanElection decides elections of type typ for tps. Every partition gets a
// result: UNKNOWN_TOPIC_OR_PARTITION, INVALID_TOPIC_EXCEPTION (topic being
// deleted), ELECTION_NOT_NEEDED (the preferred replica already leads / the
// leader is live), PREFERRED_LEADER_NOT_AVAILABLE,
// ELIGIBLE_LEADERS_NOT_AVAILABLE, or 0 with a state write (leader_epoch+1),
// LeaderAndIsr to the live replicas and UpdateMetadata to every live broker.
// A write that conflicts is decided again the same way.
func (s *State) PlanElection(tps []TP, typ ElectionType) (*Plan, map[TP]ElectionResult) {
	results := map[TP]ElectionResult{}
	after := newBatch()
	p := &Plan{After: []*Batch{after}}
	for _, tp := range tps {
		if _, dup := results[tp]; dup {
			continue
		}
		w, res := s.elect(tp, typ)
		results[tp] = res
		if res.ErrorCode == 0 {
			w.Replan = func() *Plan { rp, _ := s.PlanElection([]TP{tp}, typ); return rp }
			p.Writes = append(p.Writes, w)
			after.addLeaderAndIsr(s, s.liveReplicas(tp), tp, false)
		}
	}
	return p, results
}

func (s *State) elect(tp TP, typ ElectionType) (Write, ElectionResult) {
	reps := s.Replicas(tp)
	cur, known := s.Leadership[tp]
	switch {
	case reps == nil:
		return Write{}, ElectionResult{ErrorCode: kerr.UnknownTopicOrPartition.Code, Message: "The partition does not exist."}
	case s.Deleting[tp.Topic] != nil:
		return Write{}, ElectionResult{ErrorCode: kerr.InvalidTopicException.Code, Message: "Deletion of topic " + tp.Topic + " in progress."}
	case !known || cur.ControllerEpoch > s.Epoch:
		return Write{}, ElectionResult{ErrorCode: kerr.EligibleLeadersNotAvailable.Code, Message: "The partition has no leader state yet."}
	}
	nl := cur
	nl.ISR = slices.Clone(cur.ISR)
	nl.ControllerEpoch = s.Epoch
	nl.LeaderEpoch = cur.LeaderEpoch + 1
	switch typ {
	case ElectUncleanLeader:
		if cur.Leader != NoLeader && s.isLive(cur.Leader) {
			return Write{}, ElectionResult{ErrorCode: kerr.ElectionNotNeeded.Code, Message: "Leader election not needed for topic partition."}
		}
		leader, isr, ok := ElectOffline(reps, cur.ISR, s.canLead, true)
		if !ok {
			return Write{}, ElectionResult{ErrorCode: kerr.EligibleLeadersNotAvailable.Code, Message: "No live replica can lead the partition."}
		}
		nl.Leader, nl.ISR = leader, isr
	default:
		if cur.Leader == reps[0] {
			return Write{}, ElectionResult{ErrorCode: kerr.ElectionNotNeeded.Code, Message: "Leader election not needed for topic partition."}
		}
		leader, ok := ElectPreferred(reps, cur.ISR, s.canLead)
		if !ok {
			return Write{}, ElectionResult{ErrorCode: kerr.PreferredLeaderNotAvailable.Code,
				Message: "Failed to elect leader for partition " + tpString(tp) + " under strategy PreferredReplicaPartitionLeaderElectionStrategy"}
		}
		nl.Leader = leader
	}
	return Write{TP: tp, New: nl}, ElectionResult{}
}

// ImbalancedPartitions is the choice of 2.4's checkAndTriggerAutoLeaderRebalance:
// partitions are grouped by preferred replica; for a broker whose share of
// partitions led by another broker exceeds pct percent, those partitions
// whose preferred replica can lead and is in the ISR are returned. Nothing
// while a reassignment is in progress; topics being deleted are skipped.
// The result is sorted.
func (s *State) ImbalancedPartitions(pct int32) []TP {
	if len(s.Reassigning) > 0 {
		return nil
	}
	byPreferred := map[int32][]TP{}
	for _, tp := range s.Partitions() {
		if reps := s.Replicas(tp); len(reps) > 0 && s.Deleting[tp.Topic] == nil {
			byPreferred[reps[0]] = append(byPreferred[reps[0]], tp)
		}
	}
	var out []TP
	for _, broker := range sortedKeys(byPreferred) {
		tps := byPreferred[broker]
		var notLed []TP
		for _, tp := range tps {
			if l, ok := s.Leadership[tp]; ok && l.Leader != broker {
				notLed = append(notLed, tp)
			}
		}
		// imbalance ratio = not led by the preferred replica / all
		if len(notLed) == 0 || int64(len(notLed))*100 <= int64(pct)*int64(len(tps)) {
			continue
		}
		for _, tp := range notLed {
			if _, ok := ElectPreferred(s.Replicas(tp), s.Leadership[tp].ISR, s.canLead); ok {
				out = append(out, tp)
			}
		}
	}
	sortTPs(out)
	return out
}

func tpString(tp TP) string { return tp.Topic + "-" + strconv.Itoa(int(tp.Partition)) }
