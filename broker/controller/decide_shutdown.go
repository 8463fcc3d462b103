package controller

import "slices"

// Controlled shutdown (2.4's KafkaController.doControlledShutdown): the
// broker is marked shutting down, every replicated partition it leads gets a
// leader among the other ISR members (ControlledShutdownLeaderElection), and
// every replicated partition it follows is stopped on it (StopReplica with
// delete=false) and loses it from the ISR (the OfflineReplica transition).
// The answer lists the replicated partitions it still leads.

// ElectControlledShutdown is Kafka's controlledShutdownPartitionLeaderElection:
// the first replica in assignment order that is live, in the ISR and not
// shutting down leads; the new ISR is the old one without the shutting-down
// brokers. ok is false when no replica qualifies (the partition keeps its
// leader).
func ElectControlledShutdown(assignment, isr []int32, live, shuttingDown func(int32) bool) (leader int32, newISR []int32, ok bool) {
	newISR = filter(isr, func(id int32) bool { return !shuttingDown(id) })
	for _, r := range assignment {
		if live(r) && !shuttingDown(r) && slices.Contains(newISR, r) {
			return r, newISR, true
		}
	}
	return NoLeader, nil, false
}

// removeFromISR is the ISR side of Kafka's OfflineReplica transition
// (removeReplicasFromIsr): replica leaves the ISR unless it is its last
// member; a removed leader leaves the partition without leader. ok is false
// when replica is not in the ISR (nothing to write).
func removeFromISR(l Leadership, replica int32) (Leadership, bool) {
	if !slices.Contains(l.ISR, replica) {
		return l, false
	}
	nl := l
	nl.ISR = slices.Clone(l.ISR)
	if len(l.ISR) > 1 {
		nl.ISR = filter(l.ISR, func(id int32) bool { return id != replica })
	}
	if l.Leader == replica {
		nl.Leader = NoLeader
	}
	if nl.Leader == l.Leader && slices.Equal(nl.ISR, l.ISR) {
		return l, false
	}
	nl.LeaderEpoch = l.LeaderEpoch + 1
	return nl, true
}

// shutdownCandidates returns the partitions a controlled shutdown of broker
// acts on: replicated (more than one replica) partitions with a replica on
// broker and a known leadership, outside topics being deleted.
func (s *State) shutdownCandidates(broker int32) []TP {
	var out []TP
	for _, tp := range s.Partitions() {
		reps := s.Replicas(tp)
		if len(reps) <= 1 || !slices.Contains(reps, broker) || s.Deleting[tp.Topic] != nil {
			continue
		}
		if _, ok := s.Leadership[tp]; ok {
			out = append(out, tp)
		}
	}
	return out
}

// PlanControlledShutdown marks broker as shutting down and plans moving its
// leaderships away and taking it out of the ISRs it is in. LeaderAndIsr for
// moved leaderships goes to the partition's live replicas (the shutting
// broker included: it becomes a follower), for ISR removals to the live
// replicas but the shutting one; StopReplica(delete=false) goes to the
// shutting broker for the partitions it follows; UpdateMetadata to every
// live broker. Conflicting writes are decided again the same way.
func (s *State) PlanControlledShutdown(broker int32) *Plan {
	s.ShuttingDown[broker] = true
	return s.planControlledShutdown(broker, s.shutdownCandidates(broker))
}

func (s *State) planControlledShutdown(broker int32, tps []TP) *Plan {
	after, stop := newBatch(), newBatch()
	p := &Plan{After: []*Batch{after, stop}}
	shutting := func(id int32) bool { return s.ShuttingDown[id] }
	for _, tp := range tps {
		cur, ok := s.Leadership[tp]
		if !ok || cur.ControllerEpoch > s.Epoch || !s.isLive(broker) {
			continue
		}
		if cur.Leader == broker {
			leader, isr, ok := ElectControlledShutdown(s.Replicas(tp), cur.ISR, s.isLive, shutting)
			if !ok {
				continue // stays led by the shutting broker: reported as remaining
			}
			nl := cur
			nl.Leader, nl.ISR, nl.LeaderEpoch, nl.ControllerEpoch = leader, isr, cur.LeaderEpoch+1, s.Epoch
			p.Writes = append(p.Writes, Write{TP: tp, New: nl, Replan: s.replanShutdown(broker, tp)})
			after.addLeaderAndIsr(s, s.liveReplicas(tp), tp, false)
			continue
		}
		stop.StopReplica[broker] = append(stop.StopReplica[broker], tp)
		if nl, changed := removeFromISR(cur, broker); changed {
			nl.ControllerEpoch = s.Epoch
			p.Writes = append(p.Writes, Write{TP: tp, New: nl, Replan: s.replanShutdown(broker, tp)})
			after.addLeaderAndIsr(s, filter(s.liveReplicas(tp), func(id int32) bool { return id != broker }), tp, false)
		}
	}
	return p
}

func (s *State) replanShutdown(broker int32, tp TP) func() *Plan {
	return func() *Plan { return s.planControlledShutdown(broker, []TP{tp}) }
}

// ControlledShutdownRemaining returns the replicated partitions broker still
// leads (the ControlledShutdown response's remaining partitions), sorted.
func (s *State) ControlledShutdownRemaining(broker int32) []TP {
	var out []TP
	for _, tp := range s.Partitions() {
		if l, ok := s.Leadership[tp]; ok && l.Leader == broker && len(s.Replicas(tp)) > 1 {
			out = append(out, tp)
		}
	}
	return out
}
