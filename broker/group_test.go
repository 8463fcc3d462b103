package broker

import (
	"context"
	"io"
	"math"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
	"github.com/zkafka/zkafka/internal/testutil"
	"github.com/zkafka/zkafka/zkcoord"
)

// groupTestBroker is a test broker with a group coordinator whose offsets go
// to a real ZooKeeper (chroot /kafka), leading all 50 partitions of
// __consumer_offsets and topic "t" (4 partitions).
type groupTestBroker struct {
	*testBroker
	raw *zk.Conn // chroot-less client to read znodes as zkCli does
	c   *wire.Conn
}

func newGroupTestBroker(t *testing.T) *groupTestBroker {
	t.Helper()
	if testing.Short() {
		t.Skip("needs ZooKeeper")
	}
	z := testutil.StartZooKeeper(t)
	log := logrus.New()
	log.SetOutput(io.Discard)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	s, err := zkcoord.Connect(ctx, z.Connect("/kafka"), 6*time.Second, log)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stopRun := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	t.Cleanup(func() { stopRun(); <-runDone; s.Close() })
	tb := newTestBrokerWith(t, 1, func(b *Broker) {
		b.zk = s
		b.cfg.OffsetsTopicNumPartitions = 50
		b.groups = b.newGroupCoordinator()
		go func() { b.groups.Run(runCtx); close(runDone) }()
	})
	raw, _, err := zk.Connect([]string{z.Addr()}, 6*time.Second, zk.WithLogger(discardZKLog{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(raw.Close)
	gb := &groupTestBroker{testBroker: tb, raw: raw, c: tb.dial(t)}
	tb.lead(t, gb.c, offsetsTopic, 50, 0)
	tb.lead(t, gb.c, "t", 4, 0)
	return gb
}

type discardZKLog struct{}

func (discardZKLog) Printf(string, ...any) {}

// joinSync makes one member join group at the given JoinGroup version (and
// the matching SyncGroup), returning its member id and generation.
func (gb *groupTestBroker) joinSync(t *testing.T, groupID string, v int16) (string, int32) {
	t.Helper()
	join := kmsg.NewPtrJoinGroupRequest()
	join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis, join.ProtocolType = groupID, 10000, 10000, "consumer"
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 0, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 0}}}
	r := request[*kmsg.JoinGroupResponse](t, gb.c, join, v)
	if v >= 4 { // KIP-394: first the member id, then the real join
		if r.ErrorCode != kerr.MemberIDRequired.Code || r.MemberID == "" {
			t.Fatalf("join v%d: want MEMBER_ID_REQUIRED with an id, got %+v", v, r)
		}
		join.MemberID = r.MemberID
		r = request[*kmsg.JoinGroupResponse](t, gb.c, join, v)
	}
	if r.ErrorCode != 0 || r.Generation != 1 || r.LeaderID != r.MemberID || len(r.Members) != 1 || r.Protocol == nil || *r.Protocol != "range" {
		t.Fatalf("join v%d: %+v", v, r)
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.Generation, sync.MemberID = groupID, r.Generation, r.MemberID
	sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: r.MemberID, MemberAssignment: []byte("assignment")}}
	sv := min(v, 4)
	sr := request[*kmsg.SyncGroupResponse](t, gb.c, sync, sv)
	if sr.ErrorCode != 0 || string(sr.MemberAssignment) != "assignment" {
		t.Fatalf("sync v%d: %+v", sv, sr)
	}
	return r.MemberID, r.Generation
}

func TestGroupAPIsEveryVersion(t *testing.T) {
	gb := newGroupTestBroker(t)
	c := gb.c
	_, portStr, _ := net.SplitHostPort(gb.addr)
	port, _ := strconv.Atoi(portStr)
	for v := int16(0); v <= 3; v++ {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey = "g"
		r := request[*kmsg.FindCoordinatorResponse](t, c, req, v)
		if r.ErrorCode != 0 || r.NodeID != 1 || r.Host != "127.0.0.1" || r.Port != int32(port) {
			t.Fatalf("find coordinator v%d: %+v", v, r)
		}
	}
	for v := int16(0); v <= 6; v++ {
		groupID := "g" + strconv.Itoa(int(v))
		member, gen := gb.joinSync(t, groupID, v)
		hb := kmsg.NewPtrHeartbeatRequest()
		hb.Group, hb.Generation, hb.MemberID = groupID, gen, member
		if r := request[*kmsg.HeartbeatResponse](t, c, hb, min(v, 4)); r.ErrorCode != 0 {
			t.Fatalf("heartbeat v%d: %d", min(v, 4), r.ErrorCode)
		}
		hb.Generation = gen + 1
		if r := request[*kmsg.HeartbeatResponse](t, c, hb, min(v, 4)); r.ErrorCode != kerr.IllegalGeneration.Code {
			t.Fatalf("heartbeat v%d, wrong generation: %d", min(v, 4), r.ErrorCode)
		}
		dv := min(v, 5)
		dg := kmsg.NewPtrDescribeGroupsRequest()
		dg.Groups = []string{groupID, "nobody"}
		dg.IncludeAuthorizedOperations = true
		dr := request[*kmsg.DescribeGroupsResponse](t, c, dg, dv)
		g0 := dr.Groups[0]
		if g0.ErrorCode != 0 || g0.State != "Stable" || g0.ProtocolType != "consumer" || g0.Protocol != "range" || len(g0.Members) != 1 ||
			string(g0.Members[0].MemberAssignment) != "assignment" || g0.Members[0].ClientHost != "/127.0.0.1" || g0.Members[0].ClientID != "test" {
			t.Fatalf("describe v%d: %+v", dv, g0)
		}
		if dv >= 3 && g0.AuthorizedOperations == math.MinInt32 {
			t.Fatalf("describe v%d: no authorized operations", dv)
		}
		if dr.Groups[1].State != "Dead" {
			t.Fatalf("describe unknown group v%d: %+v", dv, dr.Groups[1])
		}
		lv := min(v, 4)
		leave := kmsg.NewPtrLeaveGroupRequest()
		leave.Group = groupID
		if lv < 3 {
			leave.MemberID = member
		} else {
			leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: member}, {MemberID: "ghost"}}
		}
		lr := request[*kmsg.LeaveGroupResponse](t, c, leave, lv)
		if lr.ErrorCode != 0 || (lv >= 3 && (len(lr.Members) != 2 || lr.Members[0].ErrorCode != 0 || lr.Members[1].ErrorCode != kerr.UnknownMemberID.Code)) {
			t.Fatalf("leave v%d: %+v", lv, lr)
		}
	}

	// OffsetCommit v0-8 (simple commits to an empty group, generation -1)
	// and OffsetFetch v0-6 read them back; ZooKeeper holds decimal text.
	for v := int16(0); v <= 8; v++ {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.Generation = "simple", -1
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "t"
		rt.Partitions = []kmsg.OffsetCommitRequestTopicPartition{{Partition: 1, Offset: int64(100 + v), LeaderEpoch: -1}}
		req.Topics = []kmsg.OffsetCommitRequestTopic{rt}
		r := request[*kmsg.OffsetCommitResponse](t, c, req, v)
		if r.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("commit v%d: %d", v, r.Topics[0].Partitions[0].ErrorCode)
		}
		data, _, err := gb.raw.Get("/kafka/consumers/simple/offsets/t/1")
		if err != nil || string(data) != strconv.Itoa(int(100+v)) {
			t.Fatalf("commit v%d: znode %q %v", v, data, err)
		}
	}
	for v := int16(0); v <= 6; v++ {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Group = "simple"
		req.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{1, 2}}}
		r := request[*kmsg.OffsetFetchResponse](t, c, req, v)
		ps := r.Topics[0].Partitions
		if r.ErrorCode != 0 || len(ps) != 2 || ps[0].Offset != 108 || ps[1].Offset != -1 || ps[0].ErrorCode != 0 {
			t.Fatalf("fetch v%d: %+v", v, r)
		}
		if v >= 2 { // null topics: every committed partition
			req.Topics = nil
			r = request[*kmsg.OffsetFetchResponse](t, c, req, v)
			if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 || r.Topics[0].Partitions[0].Offset != 108 {
				t.Fatalf("fetch all v%d: %+v", v, r)
			}
		}
	}
	for v := int16(0); v <= 3; v++ {
		r := request[*kmsg.ListGroupsResponse](t, c, kmsg.NewPtrListGroupsRequest(), v)
		names := map[string]bool{}
		for _, g := range r.Groups {
			names[g.Group] = true
		}
		if r.ErrorCode != 0 || !names["simple"] || !names["g0"] || !names["g6"] {
			t.Fatalf("list v%d: %+v", v, r)
		}
	}
	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = "simple"
	od.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 1}}}, {Topic: "nope", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
	odr := request[*kmsg.OffsetDeleteResponse](t, c, od, 0)
	if odr.ErrorCode != 0 || odr.Topics[0].Partitions[0].ErrorCode != 0 || odr.Topics[1].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("offset delete: %+v", odr)
	}
	if ok, _, _ := gb.raw.Exists("/kafka/consumers/simple/offsets/t/1"); ok {
		t.Fatal("offset delete left the znode")
	}
	for v := int16(0); v <= 2; v++ {
		req := kmsg.NewPtrDeleteGroupsRequest()
		req.Groups = []string{"g" + strconv.Itoa(int(v)), "never-existed"}
		r := request[*kmsg.DeleteGroupsResponse](t, c, req, v)
		if r.Groups[0].ErrorCode != 0 || r.Groups[1].ErrorCode != kerr.GroupIDNotFound.Code {
			t.Fatalf("delete groups v%d: %+v", v, r)
		}
	}
}

// Two members of one group: the leader gets both members' metadata, the
// follower's SyncGroup parks until the leader's assignment arrives,
// commits check the generation, and a non-empty group cannot be deleted.
func TestGroupRebalanceOverTheWire(t *testing.T) {
	gb := newGroupTestBroker(t)
	join := func(c *wire.Conn, member string) *kmsg.JoinGroupResponse {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis, req.ProtocolType, req.MemberID = "two", 10000, 30000, "consumer", member
		req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte("m")}}
		return request[*kmsg.JoinGroupResponse](t, c, req, 2)
	}
	c1, c2 := gb.c, gb.dial(t)
	first := join(c1, "")
	if first.ErrorCode != 0 || first.Generation != 1 {
		t.Fatalf("first: %+v", first)
	}
	// Generation 1 completes (Stable): until then a heartbeat answers
	// REBALANCE_IN_PROGRESS too, and the first member's rejoin below would
	// get generation 1 again if the second's join had not arrived yet.
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.Generation, sync.MemberID = "two", 1, first.MemberID
	sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: first.MemberID, MemberAssignment: []byte("a1")}}
	if r := request[*kmsg.SyncGroupResponse](t, c1, sync, 2); r.ErrorCode != 0 {
		t.Fatalf("sync generation 1: %+v", r)
	}
	// The second member parks until the first rejoins (it learns of the
	// rebalance from its heartbeat).
	second := make(chan *kmsg.JoinGroupResponse, 1)
	go func() {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis, req.ProtocolType = "two", 10000, 30000, "consumer"
		req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte("m")}}
		req.SetVersion(2)
		resp, err := c2.Request(context.Background(), req)
		if err != nil {
			second <- nil
			return
		}
		second <- resp.(*kmsg.JoinGroupResponse)
	}()
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.Generation, hb.MemberID = "two", 1, first.MemberID
	deadline := time.Now().Add(20 * time.Second)
	for request[*kmsg.HeartbeatResponse](t, c1, hb, 0).ErrorCode != kerr.RebalanceInProgress.Code {
		if time.Now().After(deadline) {
			t.Fatal("no rebalance announced")
		}
		time.Sleep(10 * time.Millisecond)
	}
	lead := join(c1, first.MemberID)
	follow := <-second
	if follow == nil || lead.Generation != 2 || follow.Generation != 2 || len(lead.Members) != 2 || len(follow.Members) != 0 || follow.LeaderID != first.MemberID {
		t.Fatalf("generation 2: leader %+v follower %+v", lead, follow)
	}
	// A commit with the old generation is refused.
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.Generation, commit.MemberID = "two", 1, first.MemberID
	commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 5}}}}
	if r := request[*kmsg.OffsetCommitResponse](t, c1, commit, 2); r.Topics[0].Partitions[0].ErrorCode != kerr.IllegalGeneration.Code {
		t.Fatalf("stale commit: %+v", r)
	}
	commit.Generation = 2
	if r := request[*kmsg.OffsetCommitResponse](t, c1, commit, 2); r.Topics[0].Partitions[0].ErrorCode != kerr.RebalanceInProgress.Code {
		t.Fatalf("commit before sync: %+v", r)
	}
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Groups = []string{"two"}
	if r := request[*kmsg.DeleteGroupsResponse](t, c1, del, 1); r.Groups[0].ErrorCode != kerr.NonEmptyGroup.Code {
		t.Fatalf("delete active group: %+v", r)
	}
}

// FindCoordinator creates __consumer_offsets like Kafka when it is missing;
// with too few brokers for its replication factor it only answers
// COORDINATOR_NOT_AVAILABLE.
func TestFindCoordinatorCreatesOffsetsTopic(t *testing.T) {
	if testing.Short() {
		t.Skip("needs ZooKeeper")
	}
	z := testutil.StartZooKeeper(t)
	log := logrus.New()
	log.SetOutput(io.Discard)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := zkcoord.Connect(ctx, z.Connect("/kafka"), 6*time.Second, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	find := func(rf int16) *kmsg.FindCoordinatorResponse {
		tb := newTestBrokerWith(t, 1, func(b *Broker) {
			b.zk = s
			b.cfg.OffsetsTopicNumPartitions, b.cfg.OffsetsTopicReplicationFactor = 5, rf
			b.groups = b.newGroupCoordinator()
		})
		c := tb.dial(t)
		tb.lead(t, c, "other", 1, 0) // makes brokers 1 and 2 alive
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey = "g"
		return request[*kmsg.FindCoordinatorResponse](t, c, req, 3)
	}
	if r := find(3); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("RF 3 with 2 brokers: %+v", r)
	}
	if ok, _ := s.TopicExists(ctx, offsetsTopic); ok {
		t.Fatal("offsets topic created with too few brokers")
	}
	if r := find(2); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("first lookup: %+v", r)
	}
	a, _, err := s.GetTopicAssignment(ctx, offsetsTopic)
	if err != nil || len(a.Partitions) != 5 || len(a.Partitions[0]) != 2 {
		t.Fatalf("offsets topic assignment: %+v %v", a, err)
	}
	cfg, err := s.GetTopicConfig(ctx, offsetsTopic)
	if err != nil || cfg["cleanup.policy"] != "compact" || cfg["segment.bytes"] != "104857600" || cfg["compression.type"] != "producer" {
		t.Fatalf("offsets topic config: %v %v", cfg, err)
	}
}
