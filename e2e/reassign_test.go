package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestIntegration_ReassignPartitions moves one partition's replicas with
// kafka-reassign-partitions' ZooKeeper flow: its leader is replaced by the
// broker that had no replica. The new replica catches up, leadership moves
// into the target set, the removed replica is deleted from its broker,
// /brokers/topics and /admin/reassign_partitions end as 2.4 leaves them,
// and every record written before is read back from the new replicas.
func TestIntegration_ReassignPartitions(t *testing.T) {
	e := newEnv(t, 3, map[string]string{"auto.leader.rebalance.enable": "false"})
	conn := e.zkConn()
	e.createTopic("ra", 2, 2)
	e.waitTopic("ra", 2)
	before := topicAssignment(t, conn, "ra")
	st := mustState(t, conn, "ra", 0)
	var spare int32
	for id := int32(1); id <= 3; id++ {
		if !slices.Contains(before[0], id) {
			spare = id
		}
	}
	leader := st.Leader
	var follower int32
	for _, id := range before[0] {
		if id != leader {
			follower = id
		}
	}
	target := []int32{spare, follower}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(e.c.Bootstrap(), ",")...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(from, n int) {
		var recs []*kgo.Record
		for i := from; i < from+n; i++ {
			recs = append(recs, &kgo.Record{Topic: "ra", Partition: 0, Value: []byte(fmt.Sprintf("ra-%05d", i))})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	produce(0, 2000)

	// --generate proposes an assignment in 2.4's format.
	dir := t.TempDir()
	topicsFile := filepath.Join(dir, "topics.json")
	os.WriteFile(topicsFile, []byte(`{"topics":[{"topic":"ra"}],"version":1}`), 0o644)
	out := e.run("", "reassign-partitions", "--zookeeper", e.c.ZK, "--generate", "--topics-to-move-json-file", topicsFile, "--broker-list", "1,2,3")
	cur := fmt.Sprintf(`{"version":1,"partitions":[{"topic":"ra","partition":0,"replicas":[%d,%d],"log_dirs":["any","any"]},{"topic":"ra","partition":1,"replicas":[%d,%d],"log_dirs":["any","any"]}]}`,
		before[0][0], before[0][1], before[1][0], before[1][1])
	if !strings.HasPrefix(out, "Current partition replica assignment\n"+cur+"\n\nProposed partition reassignment configuration\n{\"version\":1,\"partitions\":[") {
		t.Fatalf("--generate printed %q", out)
	}

	plan := filepath.Join(dir, "plan.json")
	os.WriteFile(plan, []byte(fmt.Sprintf(`{"version":1,"partitions":[{"topic":"ra","partition":0,"replicas":[%d,%d]}]}`, target[0], target[1])), 0o644)
	out = e.run("", "reassign-partitions", "--zookeeper", e.c.ZK, "--execute", "--reassignment-json-file", plan)
	if want := "Current partition replica assignment\n\n" + cur + "\n\nSave this to use as the --reassignment-json-file option during rollback\nSuccessfully started reassignment of partitions.\n"; out != want {
		t.Fatalf("--execute printed %q, want %q", out, want)
	}
	started := time.Now()
	eventually(t, 60*time.Second, func() error {
		out := e.run("", "reassign-partitions", "--zookeeper", e.c.ZK, "--verify", "--reassignment-json-file", plan)
		if out != "Status of partition reassignment: \nReassignment of partition ra-0 completed successfully\n" {
			return fmt.Errorf("--verify: %q", out)
		}
		return nil
	})
	t.Logf("ra-0 (2000 records) moved from %v to %v in %s", before[0], target, time.Since(started).Round(time.Millisecond))

	// The znodes as 2.4 leaves them.
	data, _, err := conn.Get("/zkafka/brokers/topics/ra")
	if err != nil {
		t.Fatal(err)
	}
	var tz struct {
		Version  int                `json:"version"`
		Parts    map[string][]int32 `json:"partitions"`
		Adding   map[string][]int32 `json:"adding_replicas"`
		Removing map[string][]int32 `json:"removing_replicas"`
	}
	if err := json.Unmarshal(data, &tz); err != nil {
		t.Fatal(err)
	}
	if tz.Version != 2 || !slices.Equal(tz.Parts["0"], target) || !slices.Equal(tz.Parts["1"], before[1]) || len(tz.Adding) != 0 || len(tz.Removing) != 0 {
		t.Fatalf("/brokers/topics/ra = %s", data)
	}
	if ok, _, _ := conn.Exists("/zkafka/admin/reassign_partitions"); ok {
		t.Fatal("/admin/reassign_partitions left behind")
	}
	want := slices.Clone(target)
	slices.Sort(want)
	now := e.waitISR(conn, "ra", 0, want)
	if !slices.Contains(target, now.Leader) || now.LeaderEpoch <= st.LeaderEpoch {
		t.Fatalf("ra-0 state after reassignment %+v (before %+v)", now, st)
	}
	// The removed replica is deleted from its broker.
	eventually(t, 30*time.Second, func() error {
		if _, err := os.Stat(filepath.Join(e.broker(leader).Dir, "ra-0")); err == nil {
			return fmt.Errorf("ra-0 still on broker %d", leader)
		}
		return nil
	})

	// Data intact, and the partition takes writes on its new replicas.
	produce(2000, 100)
	got := e.readPartition(ctx, "ra", 0, 2100)
	for i, v := range got {
		if v != fmt.Sprintf("ra-%05d", i) {
			t.Fatalf("record %d is %q", i, v)
		}
	}
	if len(got) != 2100 {
		t.Fatalf("read back %d records", len(got))
	}
}

// readPartition reads the values of partition p of topic from its start
// until it has n records or ctx ends.
func (e *env) readPartition(ctx context.Context, topic string, p int32, n int) []string {
	e.t.Helper()
	consumer, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(e.c.Bootstrap(), ",")...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		e.t.Fatal(err)
	}
	defer consumer.Close()
	var got []string
	for len(got) < n && ctx.Err() == nil {
		consumer.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}
