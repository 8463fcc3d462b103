package zkcoord

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/zkafka/zkafka/internal/testutil"
)

// TestIntegration_ControllerZK runs the controller-side ZooKeeper tests
// against one private server, each in its own chroot.
func TestIntegration_ControllerZK(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (real ZooKeeper)")
	}
	zk := testutil.StartZooKeeper(t)
	connect := func(t *testing.T, chroot string) *Session {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := Connect(ctx, zk.Connect(chroot), 4*time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	t.Run("ElectController", func(t *testing.T) { testElectController(t, connect) })
	t.Run("PartitionStates", func(t *testing.T) { testPartitionStates(t, connect) })
	t.Run("BatchesLargerThanOneMulti", func(t *testing.T) { testBigBatches(t, connect) })
}

type connectFunc func(t *testing.T, chroot string) *Session

func testElectController(t *testing.T, connect connectFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s1 := connect(t, "/elect")
	s2 := connect(t, "/elect")

	if id, err := GetController(ctx, s1); err != nil || id != -1 {
		t.Fatalf("GetController before election: %d, %v", id, err)
	}
	e1, err := ElectController(ctx, s1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if e1.Epoch != 1 || e1.ZkVersion != 1 {
		t.Fatalf("first controller epoch %+v, want {1 1}", e1)
	}
	data, st, err := s1.Get(ctx, ControllerPath)
	if err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	if err := json.Unmarshal(data, &j); err != nil {
		t.Fatal(err)
	}
	if j["version"] != 1.0 || j["brokerid"] != 1.0 || len(j) != 3 {
		t.Fatalf("/controller = %s", data)
	}
	if _, ok := j["timestamp"].(string); !ok {
		t.Fatalf("timestamp is not a string: %s", data)
	}
	if st.EphemeralOwner != s1.SessionID() {
		t.Fatal("/controller is not ephemeral")
	}
	if data, _, _ := s1.Get(ctx, ControllerEpochPath); string(data) != "1" {
		t.Fatalf("/controller_epoch = %q", data)
	}

	// Broker 2 loses; it watches /controller.
	if _, err := ElectController(ctx, s2, 2); !errors.Is(err, ErrControllerExists) {
		t.Fatalf("second election: %v", err)
	}
	id, watch, err := WatchController(ctx, s2)
	if err != nil || id != 1 {
		t.Fatalf("WatchController: %d, %v", id, err)
	}
	// A retried election multi whose first response was lost succeeds.
	if e, err := controllerAndEpochAre(ctx, s1, 1, 1); err != nil || e != e1 {
		t.Fatalf("lost-response recheck: %+v, %v", e, err)
	}
	if _, err := controllerAndEpochAre(ctx, s2, 1, 1); !errors.Is(err, ErrControllerMoved) {
		t.Fatalf("recheck from another session: %v", err)
	}

	// Fenced writes work for the controller.
	if _, err := FencedMulti(ctx, s1, e1, CreateOp("/fenced", nil, FlagPersistent)); err != nil {
		t.Fatal(err)
	}

	s1.Close() // the ephemeral goes at once
	select {
	case <-watch:
	case <-ctx.Done():
		t.Fatal("no watch event after the controller's session closed")
	}
	e2, err := ElectController(ctx, s2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if e2.Epoch != 2 || e2.ZkVersion != 2 {
		t.Fatalf("second controller epoch %+v, want {2 2}", e2)
	}
	if id, err := GetController(ctx, s2); err != nil || id != 2 {
		t.Fatalf("GetController: %d, %v", id, err)
	}
	// The old controller's fence no longer holds.
	_, err = FencedMulti(ctx, s2, e1, DeleteOp("/fenced", AnyVersion))
	if !errors.Is(err, ErrControllerMoved) {
		t.Fatalf("write with an old fence: %v", err)
	}
	if err := DeleteTopicDeletionMarkers(ctx, s2, e1, []string{"x"}); !errors.Is(err, ErrControllerMoved) {
		t.Fatalf("fenced delete with an old fence: %v", err)
	}
	if ok, _, _ := s2.Exists(ctx, "/fenced"); !ok {
		t.Fatal("fenced-out write happened")
	}
	if err := DeleteController(ctx, s2, e2); err != nil {
		t.Fatal(err)
	}
	if id, _ := GetController(ctx, s2); id != -1 {
		t.Fatal("/controller not deleted")
	}
}

func testPartitionStates(t *testing.T, connect connectFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := connect(t, "/states")
	if err := s.CreateTopLevelPaths(ctx); err != nil {
		t.Fatal(err)
	}
	fence, err := ElectController(ctx, s, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTopic(ctx, "t", map[int32][]int32{0: {1, 2}, 1: {2, 1}, 2: {1, 2}}, nil); err != nil {
		t.Fatal(err)
	}
	states := map[TopicPartition]LeaderAndIsr{
		{"t", 0}: {Leader: 1, Isr: []int32{1, 2}, ControllerEpoch: 1},
		{"t", 1}: {Leader: 2, Isr: []int32{2, 1}, ControllerEpoch: 1},
	}
	res, err := CreatePartitionStates(ctx, s, fence, states)
	if err != nil {
		t.Fatal(err)
	}
	for tp, r := range res {
		if r.Err != nil || r.ZkVersion != 0 {
			t.Fatalf("%s: %+v", tp, r)
		}
	}
	data, _, err := s.Get(ctx, PartitionStatePath("t", 1))
	if err != nil {
		t.Fatal(err)
	}
	var j, want map[string]any
	json.Unmarshal(data, &j)
	json.Unmarshal([]byte(`{"controller_epoch":1,"leader":2,"version":1,"leader_epoch":0,"isr":[2,1]}`), &want)
	if !reflect.DeepEqual(j, want) {
		t.Fatalf("state znode %s", data)
	}
	// Partition 2 is new; partition 0 exists: only it fails.
	res, err = CreatePartitionStates(ctx, s, fence, map[TopicPartition]LeaderAndIsr{
		{"t", 0}: {Leader: 2, Isr: []int32{2}, ControllerEpoch: 1},
		{"t", 2}: {Leader: 1, Isr: []int32{1}, ControllerEpoch: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res[TopicPartition{"t", 0}].Err, ErrNodeExists) || res[TopicPartition{"t", 2}].Err != nil {
		t.Fatalf("%+v", res)
	}
	// A partition of a missing topic fails with NONODE, alone.
	res, err = CreatePartitionStates(ctx, s, fence, map[TopicPartition]LeaderAndIsr{{"gone", 0}: {Leader: 1, Isr: []int32{1}}})
	if err != nil || !errors.Is(res[TopicPartition{"gone", 0}].Err, ErrNoNode) {
		t.Fatalf("%+v %v", res, err)
	}

	// Conditional updates: partition 1 was changed behind our back.
	if _, err := s.Set(ctx, PartitionStatePath("t", 1), EncodeLeaderAndIsr(LeaderAndIsr{Leader: 2, Isr: []int32{2}, ControllerEpoch: 1}), 0); err != nil {
		t.Fatal(err)
	}
	up, err := UpdatePartitionStates(ctx, s, fence, map[TopicPartition]PartitionStateUpdate{
		{"t", 0}: {State: LeaderAndIsr{Leader: 2, LeaderEpoch: 1, Isr: []int32{2}, ControllerEpoch: 1}, ExpectedZkVersion: 0},
		{"t", 1}: {State: LeaderAndIsr{Leader: 1, LeaderEpoch: 1, Isr: []int32{1}, ControllerEpoch: 1}, ExpectedZkVersion: 0},
		{"t", 2}: {State: LeaderAndIsr{Leader: -1, LeaderEpoch: 1, Isr: []int32{1}, ControllerEpoch: 1}, ExpectedZkVersion: 0},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := up[TopicPartition{"t", 0}]; r.Err != nil || r.ZkVersion != 1 {
		t.Fatalf("t-0: %+v", r)
	}
	if r := up[TopicPartition{"t", 1}]; !errors.Is(r.Err, ErrBadVersion) {
		t.Fatalf("t-1: %+v", r)
	}
	if r := up[TopicPartition{"t", 2}]; r.Err != nil || r.ZkVersion != 1 {
		t.Fatalf("t-2: %+v", r)
	}
	l, v, err := s.GetPartitionState(ctx, "t", 0)
	if err != nil || l.Leader != 2 || l.LeaderEpoch != 1 || v != 1 {
		t.Fatalf("t-0 after update: %+v v%d %v", l, v, err)
	}

	// Deletion removes everything, fenced.
	if err := s.MarkTopicForDeletion(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if err := DeleteTopicZNodes(ctx, s, ControllerEpoch{Epoch: 0, ZkVersion: 0}, "t"); !errors.Is(err, ErrControllerMoved) {
		t.Fatalf("delete with a stale fence: %v", err)
	}
	if err := DeleteTopicZNodes(ctx, s, fence, "t"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{TopicPath("t"), ConfigTopicPath("t"), DeleteTopicPath("t")} {
		if ok, _, err := s.Exists(ctx, p); ok || err != nil {
			t.Fatalf("%s still exists (%v)", p, err)
		}
	}
	// Again: nothing left, no error.
	if err := DeleteTopicZNodes(ctx, s, fence, "t"); err != nil {
		t.Fatal(err)
	}

	// ISR change notifications are read and deleted.
	name, err := s.Create(ctx, IsrChangeSequentialPath, EncodeIsrChangeNotification([]TopicPartition{{"a", 1}}), FlagPersistent|FlagSequence)
	if err != nil {
		t.Fatal(err)
	}
	children, _, _ := s.Children(ctx, IsrChangeNotificationPath)
	ns, err := GetIsrChangeNotifications(ctx, s, children)
	if err != nil || len(ns) != 1 || ns[0].Partitions[0] != (TopicPartition{"a", 1}) || IsrChangeNotificationChildPath(ns[0].Name) != name {
		t.Fatalf("%+v %v", ns, err)
	}
	if err := DeleteIsrChangeNotifications(ctx, s, fence, children); err != nil {
		t.Fatal(err)
	}
	if children, _, _ := s.Children(ctx, IsrChangeNotificationPath); len(children) != 0 {
		t.Fatalf("left: %v", children)
	}
}

func testBigBatches(t *testing.T, connect connectFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := connect(t, "/big")
	if err := s.CreateTopLevelPaths(ctx); err != nil {
		t.Fatal(err)
	}
	fence, err := ElectController(ctx, s, 1)
	if err != nil {
		t.Fatal(err)
	}
	const n = 300 // 601 ops: two multis
	assign := map[int32][]int32{}
	states := map[TopicPartition]LeaderAndIsr{}
	for p := int32(0); p < n; p++ {
		assign[p] = []int32{1}
		states[TopicPartition{"big", p}] = LeaderAndIsr{Leader: 1, Isr: []int32{1}, ControllerEpoch: 1}
	}
	if err := s.CreateTopic(ctx, "big", assign, nil); err != nil {
		t.Fatal(err)
	}
	res, err := CreatePartitionStates(ctx, s, fence, states)
	if err != nil {
		t.Fatal(err)
	}
	for tp, r := range res {
		if r.Err != nil {
			t.Fatalf("%s: %v", tp, r.Err)
		}
	}
	tps := make([]TopicPartition, 0, n)
	for tp := range states {
		tps = append(tps, tp)
	}
	got, err := s.GetPartitionStates(ctx, tps)
	if err != nil || len(got) != n {
		t.Fatalf("%d states, %v", len(got), err)
	}
	if err := DeleteTopicZNodes(ctx, s, fence, "big"); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := s.Exists(ctx, TopicPath("big")); ok {
		t.Fatal("topic left")
	}
}
