package controller

import (
	"reflect"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestElectPreferred(t *testing.T) {
	can := func(ids ...int32) func(int32) bool {
		return func(id int32) bool { return slices.Contains(ids, id) }
	}
	tests := []struct {
		name       string
		assignment []int32
		isr        []int32
		canLead    func(int32) bool
		leader     int32
		ok         bool
	}{
		{"preferred live and in sync", []int32{2, 1, 3}, []int32{1, 3, 2}, can(1, 2, 3), 2, true},
		{"preferred out of sync", []int32{2, 1}, []int32{1}, can(1, 2), NoLeader, false},
		{"preferred down or shutting down", []int32{2, 1}, []int32{1, 2}, can(1), NoLeader, false},
		{"no replicas", nil, nil, can(1), NoLeader, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if l, ok := ElectPreferred(tc.assignment, tc.isr, tc.canLead); l != tc.leader || ok != tc.ok {
				t.Fatalf("got (%d, %v), want (%d, %v)", l, ok, tc.leader, tc.ok)
			}
		})
	}
}

func TestPlanElection(t *testing.T) {
	lead := func(leader int32, isr ...int32) Leadership {
		return Leadership{Leader: leader, LeaderEpoch: 3, ISR: isr, ControllerEpoch: 5, ZkVersion: 7}
	}
	tests := []struct {
		name    string
		typ     ElectionType
		live    []int32
		assign  []int32
		lead    Leadership
		unclean bool
		code    int16
		want    []write
	}{
		{"preferred moves leadership back, ISR kept", ElectPreferredLeader, []int32{1, 2, 3}, []int32{1, 2, 3}, lead(2, 2, 3, 1),
			false, 0, []write{{p: 0, leader: 1, epoch: 4, isr: []int32{2, 3, 1}, version: 7}}},
		{"preferred already leads", ElectPreferredLeader, []int32{1, 2}, []int32{1, 2}, lead(1, 1, 2), false, kerr.ElectionNotNeeded.Code, nil},
		{"preferred not in sync", ElectPreferredLeader, []int32{1, 2}, []int32{1, 2}, lead(2, 2), false, kerr.PreferredLeaderNotAvailable.Code, nil},
		{"preferred down", ElectPreferredLeader, []int32{2}, []int32{1, 2}, lead(2, 2, 1), false, kerr.PreferredLeaderNotAvailable.Code, nil},
		{"unclean not needed with a live leader", ElectUncleanLeader, []int32{1, 2}, []int32{1, 2}, lead(2, 2), false, kerr.ElectionNotNeeded.Code, nil},
		{"unclean elects an out-of-sync replica", ElectUncleanLeader, []int32{2, 3}, []int32{1, 2, 3}, lead(NoLeader, 1),
			false, 0, []write{{p: 0, leader: 2, epoch: 4, isr: []int32{2}, version: 7}}},
		{"unclean prefers a live ISR member", ElectUncleanLeader, []int32{2, 3}, []int32{1, 2, 3}, lead(NoLeader, 1, 3),
			false, 0, []write{{p: 0, leader: 3, epoch: 4, isr: []int32{3}, version: 7}}},
		{"unclean with nothing live", ElectUncleanLeader, []int32{4}, []int32{1, 2}, lead(NoLeader, 1), false, kerr.EligibleLeadersNotAvailable.Code, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := testState(tc.live, map[int32][]int32{0: tc.assign}, map[int32]Leadership{0: tc.lead})
			p, res := s.PlanElection([]TP{{"t", 0}, {"t", 9}, {"t", 0}}, tc.typ)
			if res[TP{"t", 0}].ErrorCode != tc.code {
				t.Fatalf("result %+v, want code %d", res[TP{"t", 0}], tc.code)
			}
			if res[TP{"t", 9}].ErrorCode != kerr.UnknownTopicOrPartition.Code {
				t.Fatalf("unknown partition: %+v", res[TP{"t", 9}])
			}
			checkWrites(t, p.Writes, tc.want)
			if len(tc.want) > 0 {
				want := map[int32][]int32{}
				for _, r := range tc.live {
					if slices.Contains(tc.assign, r) {
						want[r] = []int32{0}
					}
				}
				if got := laiTargets(p.After[0]); !reflect.DeepEqual(got, want) {
					t.Fatalf("LeaderAndIsr to %v, want %v", got, want)
				}
			}
		})
	}
	// A topic being deleted is refused.
	s := testState([]int32{1, 2}, map[int32][]int32{0: {1, 2}}, map[int32]Leadership{0: lead(2, 2, 1)})
	s.Deleting["t"] = &deletion{replicas: map[replicaKey]replicaStatus{}}
	if _, res := s.PlanElection([]TP{{"t", 0}}, ElectPreferredLeader); res[TP{"t", 0}].ErrorCode != kerr.InvalidTopicException.Code {
		t.Fatalf("deleting topic: %+v", res)
	}
	// A shutting-down preferred replica is not elected.
	s = testState([]int32{1, 2}, map[int32][]int32{0: {1, 2}}, map[int32]Leadership{0: lead(2, 2, 1)})
	s.ShuttingDown[1] = true
	if _, res := s.PlanElection([]TP{{"t", 0}}, ElectPreferredLeader); res[TP{"t", 0}].ErrorCode != kerr.PreferredLeaderNotAvailable.Code {
		t.Fatalf("shutting down preferred: %+v", res)
	}
}

func TestImbalancedPartitions(t *testing.T) {
	// Broker 1 is preferred for 0..9; 2 of them are led by 2 (20% > 10%),
	// one of which has 1 out of the ISR. Broker 2 is preferred for 10
	// and leads it.
	assign := map[int32][]int32{10: {2, 1}}
	lead := map[int32]Leadership{10: {Leader: 2, ISR: []int32{2, 1}, ControllerEpoch: 5}}
	for p := int32(0); p < 10; p++ {
		assign[p] = []int32{1, 2}
		lead[p] = Leadership{Leader: 1, ISR: []int32{1, 2}, ControllerEpoch: 5}
	}
	lead[3] = Leadership{Leader: 2, ISR: []int32{2, 1}, ControllerEpoch: 5}
	lead[7] = Leadership{Leader: 2, ISR: []int32{2}, ControllerEpoch: 5}
	tests := []struct {
		name string
		pct  int32
		edit func(s *State)
		want []TP
	}{
		{"above threshold: electable ones", 10, nil, []TP{{"t", 3}}},
		{"at threshold: nothing", 20, nil, nil},
		{"preferred shutting down", 10, func(s *State) { s.ShuttingDown[1] = true }, nil},
		{"reassignment in progress", 10, func(s *State) { s.Reassigning[TP{"t", 0}] = &Reassignment{} }, nil},
		{"topic being deleted", 10, func(s *State) { s.Deleting["t"] = &deletion{} }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := testState([]int32{1, 2}, assign, lead)
			if tc.edit != nil {
				tc.edit(s)
			}
			if got := s.ImbalancedPartitions(tc.pct); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
