package controller

import (
	"reflect"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/zkafka/zkafka/zkcoord"
)

func TestReassignTo(t *testing.T) {
	tests := []struct {
		name                            string
		current, adding, target         []int32
		full, addingOut, removing, orig []int32
	}{
		{"move everything", []int32{1, 2, 3}, nil, []int32{4, 5, 6}, []int32{4, 5, 6, 1, 2, 3}, []int32{4, 5, 6}, []int32{1, 2, 3}, []int32{1, 2, 3}},
		{"replace one", []int32{1, 2}, nil, []int32{2, 3}, []int32{2, 3, 1}, []int32{3}, []int32{1}, []int32{1, 2}},
		{"reorder", []int32{1, 2}, nil, []int32{2, 1}, []int32{2, 1}, nil, nil, []int32{1, 2}},
		{"new target while one runs", []int32{2, 3, 1}, []int32{3}, []int32{1, 4}, []int32{1, 4, 2}, []int32{4}, []int32{2}, []int32{2, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ReassignTo(tc.current, tc.adding, tc.target)
			if !slices.Equal(r.Original, tc.orig) || !slices.Equal(r.Full(), tc.full) ||
				!slices.Equal(r.Adding(), tc.addingOut) || !slices.Equal(r.Removing(), tc.removing) {
				t.Fatalf("got orig %v full %v adding %v removing %v", r.Original, r.Full(), r.Adding(), r.Removing())
			}
			// What the topic znode records is enough to resume it.
			back, ok := ReassignmentFromZNode(r.Full(), r.Adding(), r.Removing())
			if len(r.Adding())+len(r.Removing()) == 0 {
				if ok {
					t.Fatal("a reordering looks like a reassignment in progress")
				}
				return
			}
			// (the original replicas come back in RS order, as in 2.4)
			if !ok || !slices.Equal(back.Target, r.Target) || !slices.Equal(back.Full(), r.Full()) ||
				!slices.Equal(back.Adding(), r.Adding()) || !slices.Equal(back.Removing(), r.Removing()) {
				t.Fatalf("from znode: %+v, want %+v", back, r)
			}
		})
	}
}

func TestPlanReassignment(t *testing.T) {
	s := testState([]int32{1, 2, 3}, map[int32][]int32{0: {1, 2}, 1: {1, 2}},
		map[int32]Leadership{
			0: {Leader: 1, LeaderEpoch: 4, ISR: []int32{1, 2}, ControllerEpoch: 5, ZkVersion: 6},
			1: {Leader: 1, LeaderEpoch: 0, ISR: []int32{1, 2}, ControllerEpoch: 5, ZkVersion: 0},
		})
	p, failed := s.PlanReassignment(map[TP][]int32{{"t", 0}: {2, 3}, {"t", 7}: {1}, {"t", 1}: {2, 2}})
	if !slices.Equal(failed, []TP{{"t", 1}, {"t", 7}}) {
		t.Fatalf("failed %v", failed)
	}
	// Phase A: RS/AR/RR recorded, epoch bump, LeaderAndIsr to RS with the
	// new replica as new, the state watched.
	if !slices.Equal(s.Replicas(TP{"t", 0}), []int32{2, 3, 1}) || s.Reassigning[TP{"t", 0}] == nil {
		t.Fatalf("assignment %v, reassigning %v", s.Replicas(TP{"t", 0}), s.Reassigning)
	}
	a := s.TopicAssignmentOf("t")
	if !reflect.DeepEqual(a, zkcoord.TopicAssignment{Partitions: map[int32][]int32{0: {2, 3, 1}, 1: {1, 2}},
		AddingReplicas: map[int32][]int32{0: {3}}, RemovingReplicas: map[int32][]int32{0: {1}}}) {
		t.Fatalf("topic znode %+v", a)
	}
	if !slices.Equal(p.TopicsBefore, []string{"t"}) || !slices.Equal(p.WatchStates, []TP{{"t", 0}}) || len(p.TopicsAfter) != 0 {
		t.Fatalf("plan %+v", p)
	}
	checkWrites(t, p.Writes, []write{{p: 0, leader: 1, epoch: 5, isr: []int32{1, 2}, version: 6}})
	if got := laiTargets(p.After[0]); !reflect.DeepEqual(got, map[int32][]int32{1: {0}, 2: {0}, 3: {0}}) {
		t.Fatalf("LeaderAndIsr to %v", got)
	}
	if !p.After[0].LeaderAndIsr[3][TP{"t", 0}] || p.After[0].LeaderAndIsr[2][TP{"t", 0}] {
		t.Fatal("is_new must be set for the added replica only")
	}
	for _, w := range p.Writes {
		s.Apply(w, w.New.ZkVersion+1)
	}
	req := s.leaderAndIsrRequest(3, map[TP]bool{{"t", 0}: true}, "PLAINTEXT")
	if ps := req.PartitionStates[0]; !slices.Equal(ps.AddingReplicas, []int32{3}) || !slices.Equal(ps.RemovingReplicas, []int32{1}) || !slices.Equal(ps.Replicas, []int32{2, 3, 1}) {
		t.Fatalf("LeaderAndIsr replicas %v adding %v removing %v", ps.Replicas, ps.AddingReplicas, ps.RemovingReplicas)
	}
	// Deleting the topic waits for the reassignment.
	if s.eligible("t") {
		t.Fatal("topic being reassigned is eligible for deletion")
	}

	// The new replica is not in sync yet: nothing.
	if p := s.PlanReassignmentIsrChange(TP{"t", 0}); !p.Empty() {
		t.Fatalf("premature completion %+v", p)
	}
	// It joined the ISR: phase B. The leader 1 is not in the target: 2
	// leads, 1 leaves the ISR, stops and is deleted; RS = TRS.
	l := s.Leadership[TP{"t", 0}]
	l.ISR, l.ZkVersion = []int32{1, 2, 3}, 8
	s.Leadership[TP{"t", 0}] = l
	p = s.PlanReassignmentIsrChange(TP{"t", 0})
	checkWrites(t, p.Writes, []write{{p: 0, leader: 2, epoch: 6, isr: []int32{2, 3}, version: 8}})
	if !slices.Equal(s.Replicas(TP{"t", 0}), []int32{2, 3}) || s.Reassigning[TP{"t", 0}] != nil {
		t.Fatalf("after completion: %v %v", s.Replicas(TP{"t", 0}), s.Reassigning)
	}
	if got := laiTargets(p.After[0]); !reflect.DeepEqual(got, map[int32][]int32{2: {0}, 3: {0}}) {
		t.Fatalf("LeaderAndIsr to %v", got)
	}
	if !reflect.DeepEqual(p.After[1].StopReplica, map[int32][]TP{1: {{"t", 0}}}) || !reflect.DeepEqual(p.After[2].StopDelete, map[int32][]TP{1: {{"t", 0}}}) {
		t.Fatalf("StopReplica %v / delete %v", p.After[1].StopReplica, p.After[2].StopDelete)
	}
	if !slices.Equal(p.TopicsAfter, []string{"t"}) || !slices.Equal(p.ReassignDone, []TP{{"t", 0}}) {
		t.Fatalf("plan %+v", p)
	}
	if a := s.TopicAssignmentOf("t"); len(a.AddingReplicas)+len(a.RemovingReplicas) != 0 || !slices.Equal(a.Partitions[0], []int32{2, 3}) {
		t.Fatalf("topic znode after completion %+v", a)
	}
	// A conflicting completion write is decided again as phase B.
	l = s.Leadership[TP{"t", 0}]
	l.ZkVersion = 9
	s.Leadership[TP{"t", 0}] = l
	re := p.Writes[0].Replan()
	checkWrites(t, re.Writes, []write{{p: 0, leader: 2, epoch: 6, isr: []int32{2, 3}, version: 9}})
}

func TestPlanReassignmentInSync(t *testing.T) {
	tests := []struct {
		name   string
		live   []int32
		target []int32
		want   []write
	}{
		{"shrink keeps a target leader", []int32{1, 2, 3}, []int32{3, 1}, []write{{p: 0, leader: 1, epoch: 3, isr: []int32{1, 3}, version: 2}}},
		{"leader leaves", []int32{1, 2, 3}, []int32{3, 2}, []write{{p: 0, leader: 3, epoch: 3, isr: []int32{2, 3}, version: 2}}},
		{"no live target replica: waits", []int32{1, 2}, []int32{3}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := testState(tc.live, map[int32][]int32{0: {1, 2, 3}},
				map[int32]Leadership{0: {Leader: 1, LeaderEpoch: 2, ISR: []int32{1, 2, 3}, ControllerEpoch: 5, ZkVersion: 2}})
			p, failed := s.PlanReassignment(map[TP][]int32{{"t", 0}: tc.target})
			if len(failed) != 0 {
				t.Fatalf("failed %v", failed)
			}
			checkWrites(t, p.Writes, tc.want)
			if (tc.want == nil) != (s.Reassigning[TP{"t", 0}] != nil) {
				t.Fatalf("reassigning %v", s.Reassigning)
			}
		})
	}
}

func TestValidateAlterReassignments(t *testing.T) {
	s := testState([]int32{1, 2, 3, 4}, map[int32][]int32{0: {1, 2}, 1: {2, 3, 1}, 2: {1, 3}},
		map[int32]Leadership{0: {Leader: 1, ISR: []int32{1, 2}, ControllerEpoch: 5}})
	s.ShuttingDown[4] = true
	s.Reassigning[TP{"t", 1}] = &Reassignment{Original: []int32{1, 2}, Target: []int32{2, 3}}
	// Partition 2 was cancelled but its original replicas are not all in
	// sync yet: 2.4 does not count it as being reassigned.
	s.Reassigning[TP{"t", 2}] = &Reassignment{Original: []int32{1, 3}, Target: []int32{1, 3}}
	invalid := ReassignResult{ErrorCode: kerr.InvalidReplicaAssignment.Code}
	none := ReassignResult{ErrorCode: kerr.NoReassignmentInProgress.Code}
	tests := []struct {
		name    string
		tp      TP
		req     ReassignTarget
		target  []int32
		refused *ReassignResult
	}{
		{"empty list", TP{"t", 0}, ReassignTarget{Replicas: []int32{}}, nil, &invalid},
		{"duplicates", TP{"t", 0}, ReassignTarget{Replicas: []int32{2, 2}}, nil, &invalid},
		{"negative id", TP{"t", 0}, ReassignTarget{Replicas: []int32{-1, 2}}, nil, &invalid},
		{"unknown broker added", TP{"t", 0}, ReassignTarget{Replicas: []int32{1, 9}}, nil, &invalid},
		{"shutting-down broker added", TP{"t", 0}, ReassignTarget{Replicas: []int32{1, 4}}, nil, &invalid},
		{"reorder", TP{"t", 0}, ReassignTarget{Replicas: []int32{2, 1}}, []int32{2, 1}, nil},
		{"move", TP{"t", 0}, ReassignTarget{Replicas: []int32{3, 2}}, []int32{3, 2}, nil},
		{"cancel without reassignment", TP{"t", 0}, ReassignTarget{Cancel: true}, nil, &none},
		{"cancel reverts to the original replicas", TP{"t", 1}, ReassignTarget{Cancel: true}, []int32{1, 2}, nil},
		{"new target while one runs: only added replicas must be live", TP{"t", 1}, ReassignTarget{Replicas: []int32{3, 1}}, []int32{3, 1}, nil},
		{"cancel of a finished cancellation", TP{"t", 2}, ReassignTarget{Cancel: true}, nil, &none},
		{"unknown partition passes (fails later)", TP{"t", 9}, ReassignTarget{Replicas: []int32{1, 2}}, []int32{1, 2}, nil},
		{"unknown partition on unknown brokers", TP{"t", 9}, ReassignTarget{Replicas: []int32{7}}, nil, &invalid},
		{"cancel of an unknown partition", TP{"nope", 0}, ReassignTarget{Cancel: true}, nil, &none},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			targets, refused := s.ValidateAlterReassignments(map[TP]ReassignTarget{tc.tp: tc.req})
			if tc.refused != nil {
				if len(targets) != 0 || refused[tc.tp] != *tc.refused {
					t.Fatalf("targets %v refused %v, want refused %v", targets, refused, *tc.refused)
				}
				return
			}
			if len(refused) != 0 || !slices.Equal(targets[tc.tp], tc.target) {
				t.Fatalf("targets %v refused %v, want target %v", targets, refused, tc.target)
			}
		})
	}
	// Validation changes nothing.
	if !slices.Equal(s.Replicas(TP{"t", 1}), []int32{2, 3, 1}) || len(s.Reassigning) != 2 {
		t.Fatalf("state changed: %v %v", s.Assignments, s.Reassigning)
	}
}

// A reassignment of [1,2] to [3,4] is under way: 3 caught up, 4 not.
func reassigningState() *State {
	s := testState([]int32{1, 2, 3, 4, 5}, map[int32][]int32{0: {3, 4, 1, 2}},
		map[int32]Leadership{0: {Leader: 1, LeaderEpoch: 7, ISR: []int32{1, 2, 3}, ControllerEpoch: 5, ZkVersion: 3}})
	s.Reassigning[TP{"t", 0}] = &Reassignment{Original: []int32{1, 2}, Target: []int32{3, 4}}
	return s
}

func TestPlanCancelReassignment(t *testing.T) {
	s := reassigningState()
	if got := s.ListReassignments(nil); !reflect.DeepEqual(got, map[TP]OngoingReassignment{{"t", 0}: {
		Replicas: []int32{3, 4, 1, 2}, Adding: []int32{3, 4}, Removing: []int32{1, 2}}}) {
		t.Fatalf("list %+v", got)
	}
	targets, refused := s.ValidateAlterReassignments(map[TP]ReassignTarget{{"t", 0}: {Cancel: true}})
	if len(refused) != 0 {
		t.Fatalf("refused %v", refused)
	}
	p, failed := s.PlanReassignment(targets)
	if len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	// Back to [1,2] at once (nothing left to add): the added replicas 3
	// and 4 leave the ISR, are stopped and deleted; the leader stays.
	checkWrites(t, p.Writes, []write{{p: 0, leader: 1, epoch: 8, isr: []int32{1, 2}, version: 3}})
	if !slices.Equal(s.Replicas(TP{"t", 0}), []int32{1, 2}) || s.Reassigning[TP{"t", 0}] != nil {
		t.Fatalf("after cancel: %v %v", s.Replicas(TP{"t", 0}), s.Reassigning)
	}
	if got := laiTargets(p.After[0]); !reflect.DeepEqual(got, map[int32][]int32{1: {0}, 2: {0}}) {
		t.Fatalf("LeaderAndIsr to %v", got)
	}
	want := map[int32][]TP{3: {{"t", 0}}, 4: {{"t", 0}}}
	if !reflect.DeepEqual(p.After[1].StopReplica, want) || !reflect.DeepEqual(p.After[2].StopDelete, want) {
		t.Fatalf("StopReplica %v / delete %v", p.After[1].StopReplica, p.After[2].StopDelete)
	}
	if !slices.Equal(p.TopicsAfter, []string{"t"}) || !slices.Equal(p.ReassignDone, []TP{{"t", 0}}) {
		t.Fatalf("plan %+v", p)
	}
	if a := s.TopicAssignmentOf("t"); len(a.AddingReplicas)+len(a.RemovingReplicas) != 0 {
		t.Fatalf("topic znode %+v", a)
	}
	if got := s.ListReassignments(nil); len(got) != 0 {
		t.Fatalf("still listed: %+v", got)
	}
}

func TestPlanReplaceReassignment(t *testing.T) {
	s := reassigningState()
	p, failed := s.PlanReassignment(map[TP][]int32{{"t", 0}: {3, 5}})
	if len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	// 4 is no longer wanted: out of the ISR (it was not in it), stopped
	// and deleted; 5 is added; phase A with RS [3,5,1,2].
	a := s.TopicAssignmentOf("t")
	if !reflect.DeepEqual(a, zkcoord.TopicAssignment{Partitions: map[int32][]int32{0: {3, 5, 1, 2}},
		AddingReplicas: map[int32][]int32{0: {3, 5}}, RemovingReplicas: map[int32][]int32{0: {1, 2}}}) {
		t.Fatalf("topic znode %+v", a)
	}
	checkWrites(t, p.Writes, []write{{p: 0, leader: 1, epoch: 8, isr: []int32{1, 2, 3}, version: 3}})
	if !slices.Equal(p.TopicsBefore, []string{"t"}) || len(p.ReassignDone) != 0 {
		t.Fatalf("plan %+v", p)
	}
	if len(p.After) != 3 || !reflect.DeepEqual(p.After[2].StopDelete, map[int32][]TP{4: {{"t", 0}}}) {
		t.Fatalf("after %+v", p.After)
	}
	if !p.After[0].LeaderAndIsr[5][TP{"t", 0}] || p.After[0].LeaderAndIsr[4] != nil {
		t.Fatalf("LeaderAndIsr %v", p.After[0].LeaderAndIsr)
	}
	// Only the requested partitions that are being reassigned are listed.
	s.Assignments["t"][1] = []int32{1}
	if got := s.ListReassignments([]TP{{"t", 1}, {"t", 0}, {"x", 0}}); len(got) != 1 || !slices.Equal(got[TP{"t", 0}].Adding, []int32{3, 5}) {
		t.Fatalf("list %+v", got)
	}
}
