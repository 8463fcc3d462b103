package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
)

// topicZNode is /brokers/topics/T as 2.4 writes it.
type topicZNode struct {
	Version  int                `json:"version"`
	Parts    map[string][]int32 `json:"partitions"`
	Adding   map[string][]int32 `json:"adding_replicas"`
	Removing map[string][]int32 `json:"removing_replicas"`
}

func readTopicZNode(t *testing.T, conn *zk.Conn, topic string) topicZNode {
	t.Helper()
	data, _, err := conn.Get("/zkafka/brokers/topics/" + topic)
	if err != nil {
		t.Fatal(err)
	}
	var tz topicZNode
	if err := json.Unmarshal(data, &tz); err != nil {
		t.Fatalf("/brokers/topics/%s: %v: %s", topic, err, data)
	}
	return tz
}

func controllerID(t *testing.T, conn *zk.Conn) int32 {
	t.Helper()
	data, _, err := conn.Get("/zkafka/controller")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		BrokerID int32 `json:"brokerid"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c.BrokerID
}

func alterRequest(parts map[string]map[int32][]int32) *kmsg.AlterPartitionAssignmentsRequest {
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	for topic, ps := range parts {
		rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
		rt.Topic = topic
		for p, reps := range ps {
			rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
			rp.Partition, rp.Replicas = p, reps
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	return req
}

func alterCodes(resp *kmsg.AlterPartitionAssignmentsResponse) map[string]int16 {
	out := map[string]int16{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out[fmt.Sprintf("%s-%d", t.Topic, p.Partition)] = p.ErrorCode
		}
	}
	return out
}

func listReassignments(ctx context.Context, t *testing.T, c *wire.Conn) map[string]kmsg.ListPartitionReassignmentsResponseTopicPartition {
	t.Helper()
	r, err := c.Request(ctx, kmsg.NewPtrListPartitionReassignmentsRequest())
	if err != nil {
		t.Fatal(err)
	}
	resp := r.(*kmsg.ListPartitionReassignmentsResponse)
	if resp.ErrorCode != 0 {
		t.Fatalf("ListPartitionReassignments: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	out := map[string]kmsg.ListPartitionReassignmentsResponseTopicPartition{}
	for _, tp := range resp.Topics {
		for _, p := range tp.Partitions {
			out[fmt.Sprintf("%s-%d", tp.Topic, p.Partition)] = p
		}
	}
	return out
}

// TestIntegration_ReassignPartitionsAPI drives reassignments through
// AlterPartitionReassignments/ListPartitionReassignments (franz-go's kmsg
// requests and `zkafka reassign-partitions --bootstrap-server`) on 3 broker
// processes: 2.4's validation errors and NOT_CONTROLLER; a move of a
// partition's leader with its data, to completion, with the topic and
// state znodes as 2.4 leaves them; then, with a broker stopped (SIGSTOP)
// so that replicas added on it cannot catch up, one reassignment started
// through the API and one through /admin/reassign_partitions, both listed
// by the API and seen in progress by the ZooKeeper tool, and both
// cancelled through the API: the znodes return to the original replicas,
// /admin/reassign_partitions is gone, and the added replicas are deleted
// once the broker runs again.
func TestIntegration_ReassignPartitionsAPI(t *testing.T) {
	e := newEnv(t, 3, map[string]string{
		"auto.leader.rebalance.enable": "false",
		// A broker stopped for a few seconds keeps its session.
		"zookeeper.session.timeout.ms": "30000",
	})
	conn := e.zkConn()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(e.c.Bootstrap(), ",")...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	e.createTopic("mv", 2, 2)
	e.waitTopic("mv", 2)
	ctrl := controllerID(t, conn)

	// Only the controller answers.
	for _, b := range e.c.Brokers {
		if int32(b.ID) == ctrl {
			continue
		}
		wc, err := wire.Dial(ctx, b.Addr(), "e2e")
		if err != nil {
			t.Fatal(err)
		}
		r, err := wc.Request(ctx, kmsg.NewPtrListPartitionReassignmentsRequest())
		if err != nil {
			t.Fatal(err)
		}
		a, err := wc.Request(ctx, alterRequest(map[string]map[int32][]int32{"mv": {0: {1, 2}}}))
		wc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if c1, c2 := r.(*kmsg.ListPartitionReassignmentsResponse).ErrorCode, a.(*kmsg.AlterPartitionAssignmentsResponse).ErrorCode; c1 != kerr.NotController.Code || c2 != kerr.NotController.Code {
			t.Fatalf("broker %d (not the controller) answered List %d, Alter %d", b.ID, c1, c2)
		}
		break
	}

	// 2.4's validation, per partition.
	resp, err := alterRequest(map[string]map[int32][]int32{
		"mv":   {0: {}, 1: {1, 1}},
		"mv2":  {0: {1, 2}},
		"nope": {0: nil},
	}).RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int16{"mv-0": kerr.InvalidReplicaAssignment.Code, "mv-1": kerr.InvalidReplicaAssignment.Code,
		"mv2-0": kerr.UnknownTopicOrPartition.Code, "nope-0": kerr.NoReassignmentInProgress.Code}
	if got := alterCodes(resp); resp.ErrorCode != 0 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("validation: top %d, partitions %v, want %v", resp.ErrorCode, got, want)
	}
	resp, err = alterRequest(map[string]map[int32][]int32{"mv": {0: {1, 9}, 1: nil}}).RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]int16{"mv-0": kerr.InvalidReplicaAssignment.Code, "mv-1": kerr.NoReassignmentInProgress.Code}
	if got := alterCodes(resp); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("validation: partitions %v, want %v", got, want)
	}
	if out := e.run("", "reassign-partitions", "--bootstrap-server", e.c.Bootstrap(), "--list"); out != "No partition reassignments found.\n" {
		t.Fatalf("--list printed %q", out)
	}

	// A complete move of mv-0's leader through the tool, data intact.
	before := topicAssignment(t, conn, "mv")
	st := mustState(t, conn, "mv", 0)
	var spare, follower int32
	for id := int32(1); id <= 3; id++ {
		if !slices.Contains(before[0], id) {
			spare = id
		} else if id != st.Leader {
			follower = id
		}
	}
	target := []int32{spare, follower}
	var recs []*kgo.Record
	for i := range 1000 {
		recs = append(recs, &kgo.Record{Topic: "mv", Partition: 0, Value: fmt.Appendf(nil, "mv-%05d", i)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.json")
	os.WriteFile(plan, fmt.Appendf(nil, `{"version":1,"partitions":[{"topic":"mv","partition":0,"replicas":[%d,%d]}]}`, target[0], target[1]), 0o644)
	out := e.run("", "reassign-partitions", "--bootstrap-server", e.c.Bootstrap(), "--execute", "--reassignment-json-file", plan)
	cur := fmt.Sprintf(`{"version":1,"partitions":[{"topic":"mv","partition":0,"replicas":[%d,%d],"log_dirs":["any","any"]}]}`, before[0][0], before[0][1])
	if want := "Current partition replica assignment\n\n" + cur + "\n\nSave this to use as the --reassignment-json-file option during rollback\n" +
		"Successfully started partition reassignment for mv-0\n"; out != want {
		t.Fatalf("--execute printed %q, want %q", out, want)
	}
	started := time.Now()
	eventually(t, 60*time.Second, func() error {
		out := e.run("", "reassign-partitions", "--bootstrap-server", e.c.Bootstrap(), "--verify", "--reassignment-json-file", plan)
		if out != "Status of partition reassignment:\nReassignment of partition mv-0 is complete.\n" {
			return fmt.Errorf("--verify: %q", out)
		}
		return nil
	})
	t.Logf("mv-0 (1000 records) moved from %v to %v in %s", before[0], target, time.Since(started).Round(time.Millisecond))
	tz := readTopicZNode(t, conn, "mv")
	if !slices.Equal(tz.Parts["0"], target) || !slices.Equal(tz.Parts["1"], before[1]) || len(tz.Adding)+len(tz.Removing) != 0 {
		t.Fatalf("/brokers/topics/mv after the move: %+v", tz)
	}
	sorted := slices.Clone(target)
	slices.Sort(sorted)
	now := e.waitISR(conn, "mv", 0, sorted)
	if !slices.Contains(target, now.Leader) || now.LeaderEpoch <= st.LeaderEpoch {
		t.Fatalf("mv-0 state after the move %+v (before %+v)", now, st)
	}
	if ok, _, _ := conn.Exists("/zkafka/admin/reassign_partitions"); ok {
		t.Fatal("/admin/reassign_partitions exists after an API reassignment")
	}
	eventually(t, 30*time.Second, func() error {
		if _, err := os.Stat(filepath.Join(e.broker(st.Leader).Dir, "mv-0")); err == nil {
			return fmt.Errorf("mv-0 still on broker %d", st.Leader)
		}
		return nil
	})
	got := e.readPartition(ctx, "mv", 0, 1000)
	for i, v := range got {
		if v != fmt.Sprintf("mv-%05d", i) {
			t.Fatalf("record %d after the move is %q", i, v)
		}
	}

	// Reassignments that stay in progress: replicas added on a stopped
	// broker x (not the controller) cannot catch up.
	e.createTopic("hold", 3, 1)
	e.waitTopic("hold", 3)
	ctrl = controllerID(t, conn)
	x := ctrl%3 + 1
	orig := topicAssignment(t, conn, "hold")
	var parts []int
	for p := range 3 {
		if orig[p][0] != x {
			parts = append(parts, p)
		}
	}
	pAPI, pZK := parts[0], parts[1]
	bx := e.broker(x)
	if err := bx.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			bx.Signal(syscall.SIGCONT)
		}
	}()
	// While x is stopped, requests go to the controller only (a
	// connection to x would hang).
	ctrlAddr := e.broker(ctrl).Addr()
	cc, err := wire.Dial(ctx, ctrlAddr, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	apiTarget, zkTarget := []int32{orig[pAPI][0], x}, []int32{x, orig[pZK][0]}
	r, err := cc.Request(ctx, alterRequest(map[string]map[int32][]int32{"hold": {int32(pAPI): apiTarget}}))
	if err != nil {
		t.Fatal(err)
	}
	resp = r.(*kmsg.AlterPartitionAssignmentsResponse)
	if got := alterCodes(resp); resp.ErrorCode != 0 || len(got) != 1 || got[fmt.Sprintf("hold-%d", pAPI)] != 0 {
		t.Fatalf("alter hold-%d: top %d, %v", pAPI, resp.ErrorCode, got)
	}
	zkPlan := filepath.Join(dir, "zk.json")
	os.WriteFile(zkPlan, fmt.Appendf(nil, `{"version":1,"partitions":[{"topic":"hold","partition":%d,"replicas":[%d,%d]}]}`, pZK, zkTarget[0], zkTarget[1]), 0o644)
	e.run("", "reassign-partitions", "--zookeeper", e.c.ZK, "--execute", "--reassignment-json-file", zkPlan)

	// Both are listed, whichever way they were started.
	keyAPI, keyZK := fmt.Sprintf("hold-%d", pAPI), fmt.Sprintf("hold-%d", pZK)
	eventually(t, 30*time.Second, func() error {
		l := listReassignments(ctx, t, cc)
		a, z := l[keyAPI], l[keyZK]
		if len(l) != 2 || !slices.Equal(a.Replicas, apiTarget) || !slices.Equal(a.AddingReplicas, []int32{x}) || len(a.RemovingReplicas) != 0 ||
			!slices.Equal(z.Replicas, zkTarget) || !slices.Equal(z.AddingReplicas, []int32{x}) {
			return fmt.Errorf("listed %+v", l)
		}
		return nil
	})
	out = e.run("", "reassign-partitions", "--bootstrap-server", ctrlAddr, "--list")
	lines := []string{fmt.Sprintf("%s: replicas: %d,%d. adding: %d.", keyAPI, apiTarget[0], apiTarget[1], x),
		fmt.Sprintf("%s: replicas: %d,%d. adding: %d.", keyZK, zkTarget[0], zkTarget[1], x)}
	slices.Sort(lines)
	if want := "Current partition reassignments:\n" + strings.Join(lines, "\n") + "\n"; out != want {
		t.Fatalf("--list printed %q, want %q", out, want)
	}
	t.Logf("broker %d stopped; --list:\n%s", x, out)
	for _, tc := range []struct {
		p       int
		target  []int32
		adding  []int32
		removal []int32
	}{{pAPI, apiTarget, []int32{x}, nil}, {pZK, zkTarget, []int32{x}, nil}} {
		tz := readTopicZNode(t, conn, "hold")
		k := fmt.Sprint(tc.p)
		if !slices.Equal(tz.Parts[k], tc.target) || !slices.Equal(tz.Adding[k], tc.adding) || len(tz.Removing[k]) != 0 {
			t.Fatalf("/brokers/topics/hold while in progress: %+v", tz)
		}
		if s := mustState(t, conn, "hold", tc.p); !slices.Equal(s.ISR, orig[tc.p]) || s.Leader != orig[tc.p][0] {
			t.Fatalf("hold-%d state while in progress: %+v", tc.p, s)
		}
	}
	// The ZooKeeper tool sees the API's reassignment through the topic znode.
	apiPlan := filepath.Join(dir, "api.json")
	os.WriteFile(apiPlan, fmt.Appendf(nil, `{"version":1,"partitions":[{"topic":"hold","partition":%d,"replicas":[%d,%d]}]}`, pAPI, apiTarget[0], apiTarget[1]), 0o644)
	if out := e.run("", "reassign-partitions", "--zookeeper", e.c.ZK, "--verify", "--reassignment-json-file", apiPlan); out !=
		"Status of partition reassignment: \nReassignment of partition "+keyAPI+" is still in progress\n" {
		t.Fatalf("--zookeeper --verify printed %q", out)
	}
	if out := e.run("", "reassign-partitions", "--bootstrap-server", ctrlAddr, "--verify", "--reassignment-json-file", zkPlan); out !=
		"Status of partition reassignment:\nReassignment of partition "+keyZK+" is still in progress.\n" {
		t.Fatalf("--bootstrap-server --verify printed %q", out)
	}

	// Cancel both through the API: back to the original replicas; the
	// API takes hold-pZK out of /admin/reassign_partitions.
	both := filepath.Join(dir, "both.json")
	os.WriteFile(both, fmt.Appendf(nil, `{"version":1,"partitions":[{"topic":"hold","partition":%d,"replicas":[%d,%d]},{"topic":"hold","partition":%d,"replicas":[%d,%d]}]}`,
		pAPI, apiTarget[0], apiTarget[1], pZK, zkTarget[0], zkTarget[1]), 0o644)
	out = e.run("", "reassign-partitions", "--bootstrap-server", ctrlAddr, "--cancel", "--reassignment-json-file", both)
	ks := []string{keyAPI, keyZK}
	slices.Sort(ks)
	if want := "Successfully cancelled partition reassignments for: " + strings.Join(ks, ",") + "\nNone of the specified partition moves are active.\n"; out != want {
		t.Fatalf("--cancel printed %q, want %q", out, want)
	}
	if l := listReassignments(ctx, t, cc); len(l) != 0 {
		t.Fatalf("listed after cancel: %+v", l)
	}
	tz = readTopicZNode(t, conn, "hold")
	for p := range 3 {
		if !slices.Equal(tz.Parts[fmt.Sprint(p)], orig[p]) {
			t.Fatalf("/brokers/topics/hold after cancel: %+v, want %v", tz, orig)
		}
	}
	if len(tz.Adding)+len(tz.Removing) != 0 {
		t.Fatalf("/brokers/topics/hold after cancel: %+v", tz)
	}
	for _, p := range []int{pAPI, pZK} {
		if s := mustState(t, conn, "hold", p); !slices.Equal(s.ISR, orig[p]) || s.Leader != orig[p][0] {
			t.Fatalf("hold-%d state after cancel: %+v", p, s)
		}
	}
	if ok, _, _ := conn.Exists("/zkafka/admin/reassign_partitions"); ok {
		t.Fatal("/admin/reassign_partitions left after its partition was cancelled through the API")
	}
	out = e.run("", "reassign-partitions", "--bootstrap-server", ctrlAddr, "--cancel", "--reassignment-json-file", both)
	if out != "None of the specified partition reassignments are active.\nNone of the specified partition moves are active.\n" {
		t.Fatalf("second --cancel printed %q", out)
	}

	// Broker x runs again: the replicas it was given are deleted.
	if err := bx.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	// Once x's metadata shows the epochs the cancellations wrote, it has
	// handled the LeaderAndIsr that created the added replicas (the
	// controller's requests to a broker are sent in order); then they must
	// go.
	epochs := map[int32]int32{}
	for _, p := range []int{pAPI, pZK} {
		epochs[int32(p)] = mustState(t, conn, "hold", p).LeaderEpoch
	}
	eventually(t, 60*time.Second, func() error {
		m, err := metadata(ctx, bx.Addr())
		if err != nil {
			return err
		}
		for _, tp := range m.Topics {
			if tp.Topic == nil || *tp.Topic != "hold" {
				continue
			}
			for _, p := range tp.Partitions {
				if want, ok := epochs[p.Partition]; ok && p.LeaderEpoch != want {
					return fmt.Errorf("broker %d: hold-%d at leader epoch %d, want %d", x, p.Partition, p.LeaderEpoch, want)
				}
			}
			return nil
		}
		return fmt.Errorf("broker %d does not know hold", x)
	})
	eventually(t, 60*time.Second, func() error {
		for _, p := range []int{pAPI, pZK} {
			if _, err := os.Stat(filepath.Join(bx.Dir, fmt.Sprintf("hold-%d", p))); err == nil {
				return fmt.Errorf("hold-%d still on broker %d", p, x)
			}
		}
		return nil
	})
	// And the partitions still take writes.
	for _, p := range []int{pAPI, pZK} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "hold", Partition: int32(p), Value: []byte("after")}).FirstErr(); err != nil {
			t.Fatalf("produce to hold-%d after cancel: %v", p, err)
		}
	}
}
