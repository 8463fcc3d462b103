package controller

import (
	"reflect"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func brokers(ids ...int32) map[int32]Broker {
	m := map[int32]Broker{}
	for _, id := range ids {
		m[id] = Broker{ID: id, Epoch: int64(100 + id), Endpoints: []Endpoint{{Listener: "PLAINTEXT", Host: "h", Port: 9000 + id}}}
	}
	return m
}

// testState: controller 1 at epoch 5, topic "t" with the given assignment
// and leadership.
func testState(live []int32, assign map[int32][]int32, lead map[int32]Leadership) *State {
	s := NewState(1, 5)
	s.Live = brokers(live...)
	s.Assignments["t"] = assign
	for p, l := range lead {
		s.Leadership[TP{"t", p}] = l
	}
	return s
}

func TestElectOffline(t *testing.T) {
	live := func(ids ...int32) func(int32) bool {
		return func(id int32) bool { return slices.Contains(ids, id) }
	}
	tests := []struct {
		name       string
		assignment []int32
		isr        []int32
		live       func(int32) bool
		unclean    bool
		leader     int32
		isrOut     []int32
		ok         bool
	}{
		{"first live ISR member in assignment order", []int32{1, 2, 3}, []int32{3, 2, 1}, live(2, 3), false, 2, []int32{3, 2}, true},
		{"live replica not in ISR is skipped", []int32{1, 2, 3}, []int32{1, 3}, live(2, 3), false, 3, []int32{3}, true},
		{"no live ISR member, clean", []int32{1, 2}, []int32{1}, live(2), false, NoLeader, nil, false},
		{"no live ISR member, unclean", []int32{1, 2, 3}, []int32{1}, live(3, 2), true, 2, []int32{2}, true},
		{"nothing live, unclean", []int32{1, 2}, []int32{1}, live(), true, NoLeader, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, isr, ok := ElectOffline(tc.assignment, tc.isr, tc.live, tc.unclean)
			if l != tc.leader || !slices.Equal(isr, tc.isrOut) || ok != tc.ok {
				t.Fatalf("got (%d, %v, %v), want (%d, %v, %v)", l, isr, ok, tc.leader, tc.isrOut, tc.ok)
			}
		})
	}
}

// write is a compact expectation of one Write.
type write struct {
	p       int32
	create  bool
	leader  int32
	epoch   int32
	isr     []int32
	version int32 // expected zkVersion (updates)
}

func checkWrites(t *testing.T, got []Write, want []write) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("writes: got %d %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i, w := range want {
		g := got[i]
		if g.TP.Partition != w.p || g.Create != w.create || g.New.Leader != w.leader ||
			g.New.LeaderEpoch != w.epoch || !slices.Equal(g.New.ISR, w.isr) || g.New.ZkVersion != w.version || g.New.ControllerEpoch != 5 {
			t.Errorf("write %d: got %+v, want %+v", i, g, w)
		}
	}
}

func laiTargets(b *Batch) map[int32][]int32 {
	out := map[int32][]int32{}
	for id, m := range b.LeaderAndIsr {
		for tp := range m {
			out[id] = append(out[id], tp.Partition)
		}
		slices.Sort(out[id])
	}
	return out
}

func TestPlanNewPartitions(t *testing.T) {
	s := testState([]int32{1, 3}, map[int32][]int32{0: {2, 3, 1}, 1: {2}}, nil)
	p := s.PlanNewPartitions([]TP{{"t", 1}, {"t", 0}})
	// Partition 1 has no live replica: it stays new, nothing is written.
	checkWrites(t, p.Writes, []write{{p: 0, create: true, leader: 3, epoch: 0, isr: []int32{3, 1}}})
	after := p.After[0]
	if got := laiTargets(after); !reflect.DeepEqual(got, map[int32][]int32{1: {0}, 3: {0}}) {
		t.Fatalf("LeaderAndIsr targets %v", got)
	}
	if !after.LeaderAndIsr[3][TP{"t", 0}] {
		t.Fatal("is_new not set")
	}
	if !reflect.DeepEqual(after.UMBrokers, map[int32]bool{1: true, 3: true}) || !after.UMPartitions[TP{"t", 0}] {
		t.Fatalf("UpdateMetadata %v %v", after.UMBrokers, after.UMPartitions)
	}
}

func TestPlanBrokerChangeFailure(t *testing.T) {
	tests := []struct {
		name    string
		live    []int32 // before; broker 1 dies
		assign  []int32
		lead    Leadership
		unclean bool
		// topicClean: /config/topics/t sets unclean.leader.election.enable=false
		topicClean bool
		want       []write
		lai        map[int32][]int32
	}{
		{
			name: "leader dies, ISR member takes over", live: []int32{1, 2, 3}, assign: []int32{1, 2, 3},
			lead: Leadership{Leader: 1, LeaderEpoch: 4, ISR: []int32{1, 3, 2}, ControllerEpoch: 3, ZkVersion: 7},
			want: []write{{leader: 2, epoch: 5, isr: []int32{3, 2}, version: 7}},
			lai:  map[int32][]int32{2: {0}, 3: {0}},
		},
		{
			name: "leader dies, only out-of-sync replica live, clean: offline, ISR kept", live: []int32{1, 2}, assign: []int32{1, 2},
			lead: Leadership{Leader: 1, ISR: []int32{1}, ZkVersion: 1},
			want: []write{{leader: NoLeader, epoch: 1, isr: []int32{1}, version: 1}},
			lai:  map[int32][]int32{2: {0}},
		},
		{
			name: "leader dies, only out-of-sync replica live, unclean", live: []int32{1, 2}, assign: []int32{1, 2}, unclean: true,
			lead: Leadership{Leader: 1, ISR: []int32{1}, ZkVersion: 1},
			want: []write{{leader: 2, epoch: 1, isr: []int32{2}, version: 1}},
			lai:  map[int32][]int32{2: {0}},
		},
		{
			name: "topic config overrides the broker's unclean setting", live: []int32{1, 2}, assign: []int32{1, 2}, unclean: true,
			lead: Leadership{Leader: 1, ISR: []int32{1}, ZkVersion: 1}, topicClean: true,
			want: []write{{leader: NoLeader, epoch: 1, isr: []int32{1}, version: 1}},
			lai:  map[int32][]int32{2: {0}},
		},
		{
			name: "follower dies: ISR shrinks, leader stays", live: []int32{1, 2}, assign: []int32{2, 1},
			lead: Leadership{Leader: 2, LeaderEpoch: 2, ISR: []int32{2, 1}, ZkVersion: 3},
			want: []write{{leader: 2, epoch: 3, isr: []int32{2}, version: 3}},
			lai:  map[int32][]int32{2: {0}},
		},
		{
			name: "out-of-sync follower dies: nothing to write", live: []int32{1, 2}, assign: []int32{2, 1},
			lead: Leadership{Leader: 2, LeaderEpoch: 2, ISR: []int32{2}, ZkVersion: 3},
			lai:  map[int32][]int32{},
		},
		{
			name: "sole replica dies: offline, ISR never empty", live: []int32{1, 2}, assign: []int32{1},
			lead: Leadership{Leader: 1, ISR: []int32{1}},
			want: []write{{leader: NoLeader, epoch: 1, isr: []int32{1}}},
			lai:  map[int32][]int32{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := testState(tc.live, map[int32][]int32{0: tc.assign}, map[int32]Leadership{0: tc.lead})
			s.UncleanLeaderElection = tc.unclean
			if tc.topicClean {
				s.TopicUnclean["t"] = false
			}
			p, startup, dead, born := s.PlanBrokerChange(brokers(filter(tc.live, func(id int32) bool { return id != 1 })...))
			if !slices.Equal(dead, []int32{1}) || len(born) != 0 {
				t.Fatalf("dead %v born %v", dead, born)
			}
			if sp := startup(); !sp.Empty() {
				t.Fatalf("startup plan without new brokers: %+v", sp)
			}
			checkWrites(t, p.Writes, tc.want)
			if len(p.Before) != 0 {
				t.Fatalf("unexpected Before batches: %+v", p.Before)
			}
			after := p.After[0]
			if got := laiTargets(after); !reflect.DeepEqual(got, tc.lai) {
				t.Fatalf("LeaderAndIsr targets %v, want %v", got, tc.lai)
			}
			// Everybody alive hears about it, with or without partitions.
			if len(after.UMBrokers) != len(tc.live)-1 {
				t.Fatalf("UpdateMetadata to %v", after.UMBrokers)
			}
		})
	}
}

func TestPlanBrokerChangeRejoin(t *testing.T) {
	s := testState([]int32{2}, map[int32][]int32{0: {1, 2}, 1: {2, 1}, 2: {1}},
		map[int32]Leadership{
			0: {Leader: NoLeader, LeaderEpoch: 1, ISR: []int32{1}, ZkVersion: 1},
			1: {Leader: 2, LeaderEpoch: 1, ISR: []int32{2}, ZkVersion: 1},
		})
	failure, startup, dead, born := s.PlanBrokerChange(brokers(1, 2))
	if len(dead) != 0 || !slices.Equal(born, []int32{1}) || !failure.Empty() {
		t.Fatalf("dead %v born %v failure plan %+v", dead, born, failure)
	}
	p := startup()
	// Offline partition 0 gets its ISR member back as leader; new partition 2
	// (no state before, its only replica was dead) is created.
	checkWrites(t, p.Writes, []write{
		{p: 0, leader: 1, epoch: 2, isr: []int32{1}, version: 1},
		{p: 2, create: true, leader: 1, epoch: 0, isr: []int32{1}},
	})
	if len(p.Before) != 2 || !reflect.DeepEqual(p.Before[0].UMBrokers, map[int32]bool{2: true}) ||
		len(p.Before[0].UMPartitions) != 0 || p.Before[0].UMAll {
		t.Fatalf("UpdateMetadata to existing brokers: %+v", p.Before[0])
	}
	if !reflect.DeepEqual(p.Before[1].UMBrokers, map[int32]bool{1: true}) || !p.Before[1].UMAll {
		t.Fatalf("UpdateMetadata to the new broker: %+v", p.Before[1])
	}
	// The new broker learns all its partitions; partition 0's live replicas
	// learn the new leader.
	if got := laiTargets(p.After[0]); !reflect.DeepEqual(got, map[int32][]int32{1: {0, 1, 2}, 2: {0}}) {
		t.Fatalf("LeaderAndIsr targets %v", got)
	}
}

func TestPlanBrokerChangeBounce(t *testing.T) {
	s := testState([]int32{1, 2}, map[int32][]int32{0: {1, 2}},
		map[int32]Leadership{0: {Leader: 1, ISR: []int32{1, 2}}})
	live := brokers(1, 2)
	b := live[1]
	b.Epoch = 999 // re-registered: a new czxid
	live[1] = b
	failure, startup, dead, born := s.PlanBrokerChange(live)
	if !slices.Equal(dead, []int32{1}) || !slices.Equal(born, []int32{1}) {
		t.Fatalf("dead %v born %v", dead, born)
	}
	// As in 2.4, first a failure: leadership moves to the other ISR member.
	checkWrites(t, failure.Writes, []write{{leader: 2, epoch: 1, isr: []int32{2}}})
	applyWrites(s, failure)
	// Then a startup: the broker hears about everything, with its new epoch,
	// and follows.
	p := startup()
	checkWrites(t, p.Writes, nil)
	if !p.Before[1].UMAll || !p.Before[1].UMBrokers[1] {
		t.Fatalf("UpdateMetadata to the bounced broker: %+v", p.Before)
	}
	if got := laiTargets(p.After[0]); !reflect.DeepEqual(got, map[int32][]int32{1: {0}}) {
		t.Fatalf("LeaderAndIsr targets %v", got)
	}
	reqs := s.buildBatch(p.After[0], "PLAINTEXT")
	if r := reqs[1][0].req.(*kmsg.LeaderAndISRRequest); r.BrokerEpoch != 999 || r.TopicStates[0].PartitionStates[0].Leader != 2 {
		t.Fatalf("LeaderAndIsr to the bounced broker: %+v", r)
	}
}

// applyWrites records a plan's writes as successful (zkVersion+1).
func applyWrites(s *State, p *Plan) {
	for _, w := range p.Writes {
		v := w.New.ZkVersion + 1
		if w.Create {
			v = 0
		}
		s.Apply(w, v)
	}
}

// brokerChange runs both phases of a broker change, the failure's writes
// succeeding, and returns both plans merged.
func brokerChange(s *State, live map[int32]Broker) *Plan {
	failure, startup, _, _ := s.PlanBrokerChange(live)
	applyWrites(s, failure)
	failure.merge(startup())
	return failure
}

func TestPlanFailover(t *testing.T) {
	// Broker 1 died before this controller took over (its znode is gone).
	s := testState([]int32{2}, map[int32][]int32{0: {1, 2}, 1: {2, 1}, 2: {2}},
		map[int32]Leadership{
			0: {Leader: 1, ISR: []int32{1, 2}, ControllerEpoch: 4, ZkVersion: 0},
			1: {Leader: 2, ISR: []int32{2, 1}, ControllerEpoch: 4, ZkVersion: 0},
		})
	p := s.PlanFailover()
	if len(p.Before) != 1 || !p.Before[0].UMAll || !p.Before[0].UMBrokers[2] {
		t.Fatalf("UpdateMetadata first: %+v", p.Before)
	}
	checkWrites(t, p.Writes, []write{
		{p: 0, leader: 2, epoch: 1, isr: []int32{2}},
		{p: 1, leader: 2, epoch: 1, isr: []int32{2}},
		{p: 2, create: true, leader: 2, isr: []int32{2}},
	})
	if got := laiTargets(p.After[0]); !reflect.DeepEqual(got, map[int32][]int32{2: {0, 1, 2}}) {
		t.Fatalf("LeaderAndIsr targets %v", got)
	}
}

func TestNewerControllerEpochIsNotOverwritten(t *testing.T) {
	s := testState([]int32{2}, map[int32][]int32{0: {1, 2}},
		map[int32]Leadership{0: {Leader: 1, ISR: []int32{1, 2}, ControllerEpoch: 6}})
	if _, ok := s.next(TP{"t", 0}); ok {
		t.Fatal("wrote over a newer controller's state")
	}
}

func TestDeletion(t *testing.T) {
	lead := map[int32]Leadership{
		0: {Leader: 2, LeaderEpoch: 0, ISR: []int32{2}, ZkVersion: 0},
		1: {Leader: 1, LeaderEpoch: 3, ISR: []int32{1, 2}, ZkVersion: 4},
	}
	t.Run("disabled: markers removed, nothing else", func(t *testing.T) {
		s := testState([]int32{1, 2}, map[int32][]int32{0: {2}, 1: {1, 2}}, lead)
		p := s.QueueDeletions([]string{"t", "nope"}, false)
		if !slices.Equal(p.RemoveMarkers, []string{"t", "nope"}) || len(p.Writes) != 0 || len(p.After) != 0 || len(s.Deleting) != 0 {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("unknown topic: marker removed at once", func(t *testing.T) {
		s := testState([]int32{1, 2}, map[int32][]int32{0: {2}, 1: {1, 2}}, lead)
		p := s.QueueDeletions([]string{"nope"}, true)
		if !slices.Equal(p.RemoveMarkers, []string{"nope"}) || len(s.Deleting) != 0 {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("dead replica: waits for its broker", func(t *testing.T) {
		s := testState([]int32{2}, map[int32][]int32{0: {2}, 1: {1, 2}}, lead)
		p := s.QueueDeletions([]string{"t"}, true)
		p.merge(s.PlanDeletions())
		if !p.Empty() || s.Deleting["t"] == nil {
			t.Fatalf("started with a dead replica: %+v", p)
		}
		// The broker returns: deletion starts. Its partition is not elected:
		// topics being deleted are left alone.
		p = brokerChange(s, brokers(1, 2))
		checkWrites(t, p.Writes, []write{
			{p: 0, leader: NoLeader, epoch: 1, isr: []int32{2}},
			{p: 1, leader: NoLeader, epoch: 4, isr: []int32{1, 2}, version: 4},
		})
		if len(p.After) != 3 || len(p.After[1].StopReplica) != 2 || len(p.After[2].StopDelete) != 2 {
			t.Fatalf("StopReplica batches: %+v", p.After)
		}
	})
	t.Run("full run", func(t *testing.T) {
		s := testState([]int32{1, 2}, map[int32][]int32{0: {2}, 1: {1, 2}}, lead)
		p := s.QueueDeletions([]string{"t"}, true)
		p.merge(s.PlanDeletions())
		if len(p.Before) != 1 || !reflect.DeepEqual(sortedTPKeys(p.Before[0].UMPartitions), []TP{{"t", 0}, {"t", 1}}) ||
			len(p.Before[0].UMBrokers) != 2 {
			t.Fatalf("UpdateMetadata before: %+v", p.Before)
		}
		// UpdateMetadata carries leader -2.
		um := s.buildBatch(p.Before[0], "PLAINTEXT")[1][0].req.(*kmsg.UpdateMetadataRequest)
		for _, ps := range um.TopicStates[0].PartitionStates {
			if ps.Leader != LeaderDuringDelete {
				t.Fatalf("leader %d during delete", ps.Leader)
			}
		}
		checkWrites(t, p.Writes, []write{
			{p: 0, leader: NoLeader, epoch: 1, isr: []int32{2}},
			{p: 1, leader: NoLeader, epoch: 4, isr: []int32{1, 2}, version: 4},
		})
		stop, del := p.After[0], p.After[1]
		want := map[int32][]TP{1: {{"t", 1}}, 2: {{"t", 0}, {"t", 1}}}
		if !reflect.DeepEqual(stop.StopReplica, want) || !reflect.DeepEqual(del.StopDelete, want) {
			t.Fatalf("StopReplica %v / %v", stop.StopReplica, del.StopDelete)
		}
		// Asking again does nothing while answers are pending.
		if p := s.PlanDeletions(); !p.Empty() {
			t.Fatalf("replanned: %+v", p)
		}
		p = s.OnStopReplicaDeleteResponse(2, map[TP]int16{{"t", 0}: 0, {"t", 1}: 0})
		if !p.Empty() {
			t.Fatalf("finished early: %+v", p)
		}
		// Broker 1 fails the first time; it is asked again on the next change.
		p = s.OnStopReplicaDeleteResponse(1, map[TP]int16{{"t", 1}: 56})
		if !p.Empty() {
			t.Fatalf("finished with a failure: %+v", p)
		}
		p = s.PlanDeletions()
		if len(p.Writes) != 0 || len(p.Before) != 0 || !reflect.DeepEqual(p.After[1].StopDelete, map[int32][]TP{1: {{"t", 1}}}) {
			t.Fatalf("retry: %+v", p)
		}
		p = s.OnStopReplicaDeleteResponse(1, map[TP]int16{{"t", 1}: 0})
		if !slices.Equal(p.DeleteTopics, []string{"t"}) {
			t.Fatalf("not finished: %+v", p)
		}
		s.TopicDeleted("t")
		if len(s.Assignments) != 0 || len(s.Leadership) != 0 || len(s.Deleting) != 0 {
			t.Fatal("topic not forgotten")
		}
	})
	t.Run("replica's broker dies mid-deletion: asked again when it returns", func(t *testing.T) {
		s := testState([]int32{1, 2}, map[int32][]int32{0: {2}, 1: {1, 2}}, lead)
		s.QueueDeletions([]string{"t"}, true)
		s.PlanDeletions()
		s.OnStopReplicaDeleteResponse(2, map[TP]int16{{"t", 0}: 0, {"t", 1}: 0})
		p := brokerChange(s, brokers(2))
		if len(p.Writes) != 0 || len(p.DeleteTopics) != 0 {
			t.Fatalf("%+v", p)
		}
		p = brokerChange(s, brokers(1, 2))
		if !reflect.DeepEqual(p.After[len(p.After)-1].StopDelete, map[int32][]TP{1: {{"t", 1}}}) {
			t.Fatalf("%+v", p.After)
		}
	})
}

func TestAddPartitions(t *testing.T) {
	s := NewState(1, 1)
	if got := s.AddPartitions("t", map[int32][]int32{1: {1}, 0: {2}}); !reflect.DeepEqual(got, []TP{{"t", 0}, {"t", 1}}) {
		t.Fatal(got)
	}
	if got := s.AddPartitions("t", map[int32][]int32{1: {1}, 0: {2}, 2: {1}}); !reflect.DeepEqual(got, []TP{{"t", 2}}) {
		t.Fatal(got)
	}
	s.Deleting["t"] = &deletion{}
	if got := s.AddPartitions("t", map[int32][]int32{3: {1}}); got != nil {
		t.Fatal(got)
	}
}

func TestBuildRequests(t *testing.T) {
	s := testState([]int32{1, 2}, map[int32][]int32{0: {1, 2, 3}},
		map[int32]Leadership{0: {Leader: 2, LeaderEpoch: 7, ISR: []int32{2, 1}, ControllerEpoch: 4, ZkVersion: 9}})
	b := s.Live[2]
	b.Rack = "r2"
	b.Endpoints = append(b.Endpoints, Endpoint{Listener: "SSL", Host: "h2", Port: 9443, SecurityProtocol: 1})
	s.Live[2] = b
	batch := newBatch()
	batch.addLeaderAndIsr(s, []int32{1, 2, 3}, TP{"t", 0}, true)
	reqs := s.buildBatch(batch, "PLAINTEXT")
	if _, ok := reqs[3]; ok {
		t.Fatal("request for a dead broker")
	}
	if len(reqs[1]) != 2 {
		t.Fatalf("broker 1 gets %d requests", len(reqs[1]))
	}
	lai := reqs[1][0].req.(*kmsg.LeaderAndISRRequest)
	if lai.ControllerID != 1 || lai.ControllerEpoch != 5 || lai.BrokerEpoch != 101 || len(lai.TopicStates) != 1 {
		t.Fatalf("LeaderAndIsr header %+v", lai)
	}
	ps := lai.TopicStates[0].PartitionStates[0]
	want := kmsg.LeaderAndISRRequestTopicPartition{Topic: "t", Partition: 0, ControllerEpoch: 4, Leader: 2, LeaderEpoch: 7,
		ISR: []int32{2, 1}, ZKVersion: 9, Replicas: []int32{1, 2, 3}, AddingReplicas: []int32{}, RemovingReplicas: []int32{}, IsNew: true}
	if !reflect.DeepEqual(ps, want) {
		t.Fatalf("partition state\n got %+v\nwant %+v", ps, want)
	}
	if !reflect.DeepEqual(lai.LiveLeaders, []kmsg.LeaderAndISRRequestLiveLeader{{BrokerID: 2, Host: "h", Port: 9002}}) {
		t.Fatalf("live leaders %+v", lai.LiveLeaders)
	}
	um := reqs[1][1].req.(*kmsg.UpdateMetadataRequest)
	ups := um.TopicStates[0].PartitionStates[0]
	if ups.Leader != 2 || ups.ZKVersion != 9 || !slices.Equal(ups.OfflineReplicas, []int32{3}) || um.BrokerEpoch != 101 {
		t.Fatalf("UpdateMetadata partition %+v", ups)
	}
	if len(um.LiveBrokers) != 2 || len(um.LiveBrokers[1].Endpoints) != 2 || *um.LiveBrokers[1].Rack != "r2" || um.LiveBrokers[0].Rack != nil {
		t.Fatalf("live brokers %+v", um.LiveBrokers)
	}
	if e := um.LiveBrokers[1].Endpoints[1]; e.ListenerName != "SSL" || e.SecurityProtocol != 1 || e.Port != 9443 {
		t.Fatalf("endpoint %+v", e)
	}
	// Every request encodes and decodes at the versions we send.
	for _, r := range []outRequest{reqs[1][0], reqs[1][1], {req: s.stopReplicaRequest(1, []TP{{"t", 0}}, true), maxVersion: stopReplicaVersion}} {
		r.req.SetVersion(r.maxVersion)
		enc := r.req.AppendTo(nil)
		dec := r.req.ResponseKind().RequestKind()
		dec.SetVersion(r.maxVersion)
		if err := dec.ReadFrom(enc); err != nil {
			t.Fatalf("key %d: %v", r.req.Key(), err)
		}
	}
	sr := s.stopReplicaRequest(2, []TP{{"t", 1}, {"t", 0}, {"a", 3}}, true)
	if !sr.DeletePartitions || sr.BrokerEpoch != 102 || len(sr.Topics) != 2 || sr.Topics[0].Topic != "a" || !slices.Equal(sr.Topics[1].Partitions, []int32{0, 1}) {
		t.Fatalf("StopReplica %+v", sr)
	}
}
