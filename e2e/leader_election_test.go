package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
)

// topicAssignment reads /brokers/topics/<t>'s partitions.
func topicAssignment(t *testing.T, conn *zk.Conn, topic string) map[int][]int32 {
	t.Helper()
	data, _, err := conn.Get("/zkafka/brokers/topics/" + topic)
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Partitions map[string][]int32 `json:"partitions"`
	}
	if err := json.Unmarshal(data, &j); err != nil {
		t.Fatal(err)
	}
	out := map[int][]int32{}
	for k, v := range j.Partitions {
		var p int
		fmt.Sscan(k, &p)
		out[p] = v
	}
	return out
}

// bounce stops a broker (controlled shutdown moves its leaderships away)
// and starts it again, then waits until it is back in every ISR of topic.
func (e *env) bounce(conn *zk.Conn, id int32, topic string, partitions int) {
	e.t.Helper()
	b := e.broker(id)
	if err := b.Stop(); err != nil {
		e.t.Fatalf("broker %d: %v", id, err)
	}
	e.waitBrokers(len(e.c.Brokers) - 1)
	b.Start()
	b.WaitListening(30 * time.Second)
	e.waitBrokers(len(e.c.Brokers))
	for p := 0; p < partitions; p++ {
		e.waitISR(conn, topic, p, []int32{1, 2, 3})
	}
}

// preferredFor returns the partition whose preferred replica is id.
func preferredFor(t *testing.T, a map[int][]int32, id int32) int {
	for p, reps := range a {
		if reps[0] == id {
			return p
		}
	}
	t.Fatalf("broker %d is no partition's preferred replica: %v", id, a)
	return -1
}

func (e *env) waitLeader(conn *zk.Conn, topic string, p int, leader int32) {
	e.t.Helper()
	eventually(e.t, 30*time.Second, func() error {
		st, err := readState(conn, topic, p)
		if err != nil {
			return err
		}
		if st.Leader != leader {
			return fmt.Errorf("%s-%d led by %d, want %d", topic, p, st.Leader, leader)
		}
		return nil
	})
}

// TestIntegration_PreferredLeaderElection: a bounced broker loses its
// leaderships; kafka-leader-election's preferred election (ElectLeaders on
// the controller) gives one back, a second run finds nothing to do;
// preferred-replica-election's /admin/preferred_replica_election gives the
// others back and the controller deletes the znode; an unclean election of
// a partition with a live leader is not needed.
func TestIntegration_PreferredLeaderElection(t *testing.T) {
	e := newEnv(t, 3, map[string]string{"auto.leader.rebalance.enable": "false", "replica.lag.time.max.ms": "3000"})
	conn := e.zkConn()
	e.createTopic("pe", 3, 3)
	e.waitTopic("pe", 3)
	a := topicAssignment(t, conn, "pe")
	for p := 0; p < 3; p++ {
		e.waitISR(conn, "pe", p, []int32{1, 2, 3})
	}
	boot := e.c.Bootstrap()

	e.bounce(conn, 1, "pe", 3)
	p1 := preferredFor(t, a, 1)
	if st := mustState(t, conn, "pe", p1); st.Leader == 1 {
		t.Fatalf("pe-%d still led by 1 after its restart", p1)
	}
	out := e.run("", "leader-election", "--bootstrap-server", boot, "--election-type", "preferred", "--topic", "pe", "--partition", fmt.Sprint(p1))
	if want := fmt.Sprintf("Successfully completed leader election (PREFERRED) for partitions pe-%d\n", p1); out != want {
		t.Fatalf("leader-election printed %q, want %q", out, want)
	}
	e.waitLeader(conn, "pe", p1, 1)
	out = e.run("", "leader-election", "--bootstrap-server", boot, "--election-type", "preferred", "--topic", "pe", "--partition", fmt.Sprint(p1))
	if want := fmt.Sprintf("Valid replica already elected for partitions pe-%d\n", p1); out != want {
		t.Fatalf("second leader-election printed %q, want %q", out, want)
	}
	out = e.run("", "leader-election", "--bootstrap-server", boot, "--election-type", "unclean", "--topic", "pe", "--partition", "0")
	if want := "Valid replica already elected for partitions pe-0\n"; out != want {
		t.Fatalf("unclean leader-election printed %q, want %q", out, want)
	}
	stdout, _, err := e.tryRun("", "leader-election", "--bootstrap-server", boot, "--election-type", "preferred", "--topic", "nope", "--partition", "0")
	if err == nil || !strings.Contains(stdout, "Error completing leader election (PREFERRED) for partition: nope-0: org.apache.kafka.common.errors.UnknownTopicOrPartitionException") {
		t.Fatalf("unknown partition: err %v, stdout %q", err, stdout)
	}

	// Through ZooKeeper: every partition of a JSON file.
	e.bounce(conn, 2, "pe", 3)
	p2 := preferredFor(t, a, 2)
	if st := mustState(t, conn, "pe", p2); st.Leader == 2 {
		t.Fatalf("pe-%d still led by 2 after its restart", p2)
	}
	f := filepath.Join(t.TempDir(), "election.json")
	if err := os.WriteFile(f, []byte(`{"partitions":[{"topic":"pe","partition":0},{"topic":"pe","partition":1},{"topic":"pe","partition":2},{"topic":"pe","partition":7}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out = e.run("", "preferred-replica-election", "--zookeeper", e.c.ZK, "--path-to-json-file", f)
	for _, want := range []string{"Skipping preferred replica leader election for partition pe-7 since it doesn't exist.",
		"Created preferred replica election path with pe-0,pe-1,pe-2", "Successfully started preferred replica election for partitions Set(pe-0, pe-1, pe-2)"} {
		if !strings.Contains(out, want) {
			t.Fatalf("preferred-replica-election output %q lacks %q", out, want)
		}
	}
	for p := 0; p < 3; p++ {
		e.waitLeader(conn, "pe", p, a[p][0])
	}
	eventually(t, 30*time.Second, func() error {
		if ok, _, err := conn.Exists("/zkafka/admin/preferred_replica_election"); err != nil || ok {
			return fmt.Errorf("/admin/preferred_replica_election still there (%v)", err)
		}
		return nil
	})
}

// TestIntegration_AutoLeaderRebalance: with auto.leader.rebalance.enable the
// controller gives a restarted broker its preferred leaderships back by
// itself once it is in sync again.
func TestIntegration_AutoLeaderRebalance(t *testing.T) {
	e := newEnv(t, 3, map[string]string{"leader.imbalance.check.interval.seconds": "1", "replica.lag.time.max.ms": "3000"})
	conn := e.zkConn()
	e.createTopic("ar", 3, 3)
	e.waitTopic("ar", 3)
	a := topicAssignment(t, conn, "ar")
	for p := 0; p < 3; p++ {
		e.waitISR(conn, "ar", p, []int32{1, 2, 3})
	}
	p3 := preferredFor(t, a, 3)
	b := e.broker(3)
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	if st := mustState(t, conn, "ar", p3); st.Leader == 3 {
		t.Fatalf("ar-%d still led by 3 after its controlled shutdown", p3)
	}
	b.Start()
	b.WaitListening(30 * time.Second)
	for p := 0; p < 3; p++ {
		e.waitLeader(conn, "ar", p, a[p][0])
	}
}

// TestIntegration_CreatePartitions: topics --alter --partitions through the
// controller's CreatePartitions and through ZooKeeper; the controller
// creates the new partitions' state and leaders, and they take records.
func TestIntegration_CreatePartitions(t *testing.T) {
	e := newEnv(t, 3, nil)
	e.createTopic("cp", 2, 2)
	e.waitTopic("cp", 2)
	boot := e.c.Brokers[1].Addr()
	if out := e.run("", "topics", "--bootstrap-server", boot, "--alter", "--topic", "cp", "--partitions", "4"); out != "" {
		t.Fatalf("--alter printed %q", out)
	}
	e.waitTopic("cp", 4)
	out := e.run("", "topics", "--zookeeper", e.c.ZK, "--alter", "--topic", "cp", "--partitions", "6", "--replica-assignment", "1:2,2:3,3:1,1:3,2:1,3:2")
	if !strings.Contains(out, "Adding partitions succeeded!") || !strings.Contains(out, "WARNING: If partitions are increased") {
		t.Fatalf("--alter --zookeeper printed %q", out)
	}
	e.waitTopic("cp", 6)
	conn := e.zkConn()
	if a := topicAssignment(t, conn, "cp"); fmt.Sprint(a[4], a[5]) != "[2 1] [3 2]" {
		t.Fatalf("manual assignment not applied: %v", a)
	}
	_, errOut, err := e.tryRun("", "topics", "--bootstrap-server", boot, "--alter", "--topic", "cp", "--partitions", "3")
	if err == nil || !strings.Contains(errOut, "Error while executing topic command : org.apache.kafka.common.errors.InvalidPartitionsException: The number of partitions for a topic can only be increased. Topic cp currently has 6 partitions, 3 would not be an increase.") {
		t.Fatalf("decrease: %v %q", err, errOut)
	}
	_, errOut, err = e.tryRun("", "topics", "--bootstrap-server", boot, "--alter", "--topic", "nope", "--partitions", "3")
	if err == nil || !strings.Contains(errOut, "Topic 'nope' does not exist as expected") {
		t.Fatalf("unknown topic: %v %q", err, errOut)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(e.c.Bootstrap(), ",")...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ConsumeTopics("cp"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for p := int32(0); p < 6; p++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "cp", Partition: p, Value: []byte(fmt.Sprintf("to-%d", p))}).FirstErr(); err != nil {
			t.Fatalf("produce to cp-%d: %v", p, err)
		}
	}
	got := map[int32]string{}
	for len(got) < 6 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got[r.Partition] = string(r.Value) })
	}
	for p := int32(0); p < 6; p++ {
		if got[p] != fmt.Sprintf("to-%d", p) {
			t.Fatalf("read back %v", got)
		}
	}
}

// TestIntegration_ElectLeadersAnswersAfterMetadata: ElectLeaders is answered
// only once the receiving broker's metadata shows the elected leader (2.4's
// DelayedElectLeader), so a Metadata request sent to that broker right after
// a successful answer names the new leader; likewise after `zkafka
// leader-election` printed its success.
func TestIntegration_ElectLeadersAnswersAfterMetadata(t *testing.T) {
	e := newEnv(t, 3, map[string]string{"auto.leader.rebalance.enable": "false"})
	conn := e.zkConn()
	const parts = 3
	e.createTopic("ea", parts, 3)
	e.waitTopic("ea", parts)
	for p := 0; p < parts; p++ {
		e.waitISR(conn, "ea", p, []int32{1, 2, 3})
	}
	a := topicAssignment(t, conn, "ea")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m, err := metadata(ctx, e.c.Brokers[0].Addr())
	if err != nil {
		t.Fatal(err)
	}
	ctrl := e.broker(m.ControllerID)
	leaderIn := func(m *kmsg.MetadataResponse, p int) int32 {
		for _, mt := range m.Topics {
			if mt.Topic != nil && *mt.Topic == "ea" {
				for _, mp := range mt.Partitions {
					if mp.Partition == int32(p) {
						return mp.Leader
					}
				}
			}
		}
		return -1
	}

	// Over the wire: ElectLeaders, then Metadata on the same connection.
	for _, victim := range []int32{1, 2, 3} {
		if victim == m.ControllerID {
			continue
		}
		e.bounce(conn, victim, "ea", parts)
		p := preferredFor(t, a, victim)
		if st := mustState(t, conn, "ea", p); st.Leader == victim {
			t.Fatalf("ea-%d still led by %d after its restart", p, victim)
		}
		c, err := wire.Dial(ctx, ctrl.Addr(), "e2e")
		if err != nil {
			t.Fatal(err)
		}
		el := kmsg.NewPtrElectLeadersRequest()
		el.SetVersion(2)
		el.TimeoutMillis = 30000
		rt := kmsg.NewElectLeadersRequestTopic()
		rt.Topic, rt.Partitions = "ea", []int32{int32(p)}
		el.Topics = []kmsg.ElectLeadersRequestTopic{rt}
		r, err := c.Request(ctx, el)
		if err != nil {
			t.Fatal(err)
		}
		er := r.(*kmsg.ElectLeadersResponse)
		if er.ErrorCode != 0 || len(er.Topics) != 1 || len(er.Topics[0].Partitions) != 1 || er.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("ElectLeaders ea-%d: %+v", p, er)
		}
		md := kmsg.NewPtrMetadataRequest()
		md.SetVersion(7)
		r, err = c.Request(ctx, md)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := leaderIn(r.(*kmsg.MetadataResponse), p); got != victim {
			t.Fatalf("metadata right after a successful ElectLeaders names %d as ea-%d's leader, want %d", got, p, victim)
		}
	}

	// Through the CLI, which sends ElectLeaders to the controller.
	victim := int32(1)
	if victim == m.ControllerID {
		victim = 2
	}
	e.bounce(conn, victim, "ea", parts)
	p := preferredFor(t, a, victim)
	out := e.run("", "leader-election", "--bootstrap-server", e.c.Bootstrap(), "--election-type", "preferred", "--topic", "ea", "--partition", fmt.Sprint(p))
	if want := fmt.Sprintf("Successfully completed leader election (PREFERRED) for partitions ea-%d\n", p); out != want {
		t.Fatalf("leader-election printed %q, want %q", out, want)
	}
	md, err := metadata(ctx, ctrl.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if got := leaderIn(md, p); got != victim {
		t.Fatalf("metadata right after leader-election's success names %d as ea-%d's leader, want %d", got, p, victim)
	}
}
