package controller

import (
	"reflect"
	"slices"
	"testing"
)

func TestElectControlledShutdown(t *testing.T) {
	set := func(ids ...int32) func(int32) bool {
		return func(id int32) bool { return slices.Contains(ids, id) }
	}
	tests := []struct {
		name       string
		assignment []int32
		isr        []int32
		live       func(int32) bool
		shutting   func(int32) bool
		leader     int32
		isrOut     []int32
		ok         bool
	}{
		{"next ISR member in assignment order", []int32{1, 2, 3}, []int32{1, 3, 2}, set(1, 2, 3), set(1), 2, []int32{3, 2}, true},
		{"out-of-sync replica is skipped", []int32{1, 2, 3}, []int32{1, 3}, set(1, 2, 3), set(1), 3, []int32{3}, true},
		{"dead ISR member is skipped", []int32{1, 2, 3}, []int32{1, 2, 3}, set(1, 3), set(1), 3, []int32{2, 3}, true},
		{"two shutting down", []int32{1, 2, 3}, []int32{1, 2, 3}, set(1, 2, 3), set(1, 2), 3, []int32{3}, true},
		{"only the shutting broker in sync", []int32{1, 2}, []int32{1}, set(1, 2), set(1), NoLeader, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, isr, ok := ElectControlledShutdown(tc.assignment, tc.isr, tc.live, tc.shutting)
			if l != tc.leader || ok != tc.ok || (ok && !slices.Equal(isr, tc.isrOut)) {
				t.Fatalf("got (%d, %v, %v), want (%d, %v, %v)", l, isr, ok, tc.leader, tc.isrOut, tc.ok)
			}
		})
	}
}

func TestRemoveFromISR(t *testing.T) {
	tests := []struct {
		name    string
		in      Leadership
		replica int32
		out     Leadership
		changed bool
	}{
		{"follower leaves", Leadership{Leader: 1, LeaderEpoch: 4, ISR: []int32{1, 2, 3}}, 2, Leadership{Leader: 1, LeaderEpoch: 5, ISR: []int32{1, 3}}, true},
		{"not in ISR", Leadership{Leader: 1, LeaderEpoch: 4, ISR: []int32{1, 3}}, 2, Leadership{Leader: 1, LeaderEpoch: 4, ISR: []int32{1, 3}}, false},
		{"last member stays, leader goes", Leadership{Leader: 2, LeaderEpoch: 4, ISR: []int32{2}}, 2, Leadership{Leader: NoLeader, LeaderEpoch: 5, ISR: []int32{2}}, true},
		{"last member, not leader: nothing", Leadership{Leader: NoLeader, LeaderEpoch: 4, ISR: []int32{2}}, 2, Leadership{Leader: NoLeader, LeaderEpoch: 4, ISR: []int32{2}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := removeFromISR(tc.in, tc.replica)
			if changed != tc.changed || !got.equal(tc.out) {
				t.Fatalf("got %+v %v, want %+v %v", got, changed, tc.out, tc.changed)
			}
		})
	}
}

// TestPlanControlledShutdown follows 2.4's doControlledShutdown on the
// golden reference's shape: broker 1 leads t-0 and t-2, follows t-1, and
// alone hosts t-3 (not replicated: left alone).
func TestPlanControlledShutdown(t *testing.T) {
	s := testState([]int32{1, 2, 3},
		map[int32][]int32{0: {1, 2, 3}, 1: {2, 1, 3}, 2: {1, 3}, 3: {1}, 4: {2, 3}},
		map[int32]Leadership{
			0: {Leader: 1, LeaderEpoch: 3, ISR: []int32{2, 1, 3}, ControllerEpoch: 5, ZkVersion: 4},
			1: {Leader: 2, LeaderEpoch: 1, ISR: []int32{2, 1}, ControllerEpoch: 5, ZkVersion: 2},
			2: {Leader: 1, LeaderEpoch: 7, ISR: []int32{1}, ControllerEpoch: 5, ZkVersion: 9},
			3: {Leader: 1, LeaderEpoch: 0, ISR: []int32{1}, ControllerEpoch: 5, ZkVersion: 0},
			4: {Leader: 2, LeaderEpoch: 0, ISR: []int32{2, 3}, ControllerEpoch: 5, ZkVersion: 0},
		})
	p := s.PlanControlledShutdown(1)
	if !s.ShuttingDown[1] {
		t.Fatal("broker 1 not marked shutting down")
	}
	// t-0 moves to 2 (first ISR member in assignment order, not shutting
	// down) with 1 out of the ISR; t-1 loses follower 1 from its ISR; t-2
	// has no other ISR member and stays; t-3 has one replica; t-4 has no
	// replica on 1.
	checkWrites(t, p.Writes, []write{
		{p: 0, leader: 2, epoch: 4, isr: []int32{2, 3}, version: 4},
		{p: 1, leader: 2, epoch: 2, isr: []int32{2}, version: 2},
	})
	after, stop := p.After[0], p.After[1]
	// LeaderAndIsr: t-0 to all its live replicas (1 becomes a follower),
	// t-1 to its live replicas but the shutting broker.
	if got := laiTargets(after); !reflect.DeepEqual(got, map[int32][]int32{1: {0}, 2: {0, 1}, 3: {0, 1}}) {
		t.Fatalf("LeaderAndIsr targets %v", got)
	}
	if !reflect.DeepEqual(stop.StopReplica, map[int32][]TP{1: {{"t", 1}}}) || len(stop.StopDelete) != 0 {
		t.Fatalf("StopReplica %v / delete %v", stop.StopReplica, stop.StopDelete)
	}
	if len(after.UMBrokers) != 3 {
		t.Fatalf("UpdateMetadata to %v", after.UMBrokers)
	}
	for _, w := range p.Writes {
		s.Apply(w, w.New.ZkVersion+1)
	}
	if got := s.ControlledShutdownRemaining(1); !slices.Equal(got, []TP{{"t", 2}}) {
		t.Fatalf("remaining %v", got)
	}
	// A conflicting write is decided again by the same rule on the
	// re-read state (here t-0's ISR changed to [1, 3] meanwhile).
	s.Leadership[TP{"t", 0}] = Leadership{Leader: 1, LeaderEpoch: 8, ISR: []int32{1, 3}, ControllerEpoch: 5, ZkVersion: 11}
	re := p.Writes[0].Replan()
	checkWrites(t, re.Writes, []write{{p: 0, leader: 3, epoch: 9, isr: []int32{3}, version: 11}})

	// Shutting-down brokers are not elected when a leader dies meanwhile,
	// nor put into new partitions.
	s.Leadership[TP{"t", 4}] = Leadership{Leader: 3, LeaderEpoch: 0, ISR: []int32{3, 1, 2}, ControllerEpoch: 5}
	s.Assignments["t"][4] = []int32{3, 1, 2}
	s.Assignments["t"][5] = []int32{1, 3}
	f := s.PlanBrokerFailure([]int32{3})
	i := slices.IndexFunc(f.Writes, func(w Write) bool { return w.TP.Partition == 4 })
	if i < 0 || f.Writes[i].New.Leader != 2 {
		t.Fatalf("t-4 not elected to 2 (1 is shutting down): %+v", f.Writes)
	}
	n := s.PlanNewPartitions([]TP{{"t", 5}})
	if len(n.Writes) != 0 {
		t.Fatalf("new partition on shutting broker created: %+v", n.Writes)
	}
	// Its death forgets the shutdown.
	s.PlanBrokerFailure([]int32{1})
	if s.ShuttingDown[1] {
		t.Fatal("dead broker still shutting down")
	}
}
