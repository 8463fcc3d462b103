package e2e

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestIntegration_Quickstart is the seeds' quickstart on a 3-broker cluster:
// create topic logstash, list it, produce keyed messages with kcat, consume
// them back from the beginning with kcat and with zkafka console-consumer,
// and check what zkCli users would see in ZooKeeper.
func TestIntegration_Quickstart(t *testing.T) {
	e := newEnv(t, 3, nil)
	e.createTopic("logstash", 3, 3)
	e.waitTopic("logstash", 3)

	if out := e.run("", "topics", "--bootstrap-server", e.c.Brokers[1].Addr(), "--list"); !strings.Contains(out, "logstash\n") {
		t.Fatalf("--list: %q", out)
	}

	// kcat -L lists 3 brokers and the topic with its leaders.
	md := e.kcat("", "-b", e.c.Brokers[0].Addr(), "-L", "-J")
	var meta struct {
		Brokers []struct{ ID int32 } `json:"brokers"`
		Topics  []struct {
			Topic      string `json:"topic"`
			Partitions []struct {
				Partition int32                `json:"partition"`
				Leader    int32                `json:"leader"`
				Replicas  []struct{ ID int32 } `json:"replicas"`
				ISRs      []struct{ ID int32 } `json:"isrs"`
			} `json:"partitions"`
		} `json:"topics"`
	}
	if err := json.Unmarshal([]byte(md), &meta); err != nil {
		t.Fatalf("kcat -L -J: %v\n%s", err, md)
	}
	if len(meta.Brokers) != 3 {
		t.Fatalf("kcat sees %d brokers: %s", len(meta.Brokers), md)
	}
	if len(meta.Topics) != 1 || meta.Topics[0].Topic != "logstash" || len(meta.Topics[0].Partitions) != 3 {
		t.Fatalf("kcat topics: %s", md)
	}
	for _, p := range meta.Topics[0].Partitions {
		if p.Leader < 1 || p.Leader > 3 || len(p.Replicas) != 3 || len(p.ISRs) != 3 {
			t.Fatalf("partition %d: %+v", p.Partition, p)
		}
	}

	// 100,000 keyed messages with kcat.
	const n = 100000
	var in strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&in, "key-%d:value-%d\n", i%97, i)
	}
	e.kcat(in.String(), "-b", e.c.Bootstrap(), "-t", "logstash", "-P", "-K:", "-X", "linger.ms=20")

	out := e.kcat("", "-b", e.c.Bootstrap(), "-t", "logstash", "-C", "-o", "beginning", "-e", "-q", "-f", "%p %o %k %s\n")
	checkKeyed(t, out, n)

	// zkafka's own console consumer reads the same 100,000 values.
	got := e.run("", "console-consumer", "--bootstrap-server", e.c.Brokers[2].Addr(), "--topic", "logstash",
		"--from-beginning", "--max-messages", strconv.Itoa(n), "--timeout-ms", "20000")
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("console-consumer printed %d lines, want %d", len(lines), n)
	}
	seen := make(map[string]bool, n)
	for _, l := range lines {
		seen[l] = true
	}
	for i := 0; i < n; i++ {
		if !seen["value-"+strconv.Itoa(i)] {
			t.Fatalf("console-consumer lacks value-%d", i)
		}
	}

	checkZooKeeper(t, e)
}

// checkKeyed checks kcat's "%p %o %k %s" output: every message once,
// offsets increasing per partition, every key in one partition with its
// values in production order.
func checkKeyed(t *testing.T, out string, n int) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("consumed %d messages, want %d", len(lines), n)
	}
	lastOffset := map[string]int64{}
	keyPartition := map[string]string{}
	lastValue := map[string]int{}
	seen := make([]bool, n)
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 4 {
			t.Fatalf("bad line %q", l)
		}
		p, key, val := f[0], f[2], f[3]
		off, _ := strconv.ParseInt(f[1], 10, 64)
		if last, ok := lastOffset[p]; ok && off <= last {
			t.Fatalf("partition %s: offset %d after %d", p, off, last)
		}
		lastOffset[p] = off
		if kp, ok := keyPartition[key]; ok && kp != p {
			t.Fatalf("key %s in partitions %s and %s", key, kp, p)
		}
		keyPartition[key] = p
		v, err := strconv.Atoi(strings.TrimPrefix(val, "value-"))
		if err != nil || v < 0 || v >= n || seen[v] {
			t.Fatalf("bad or duplicate value %q", val)
		}
		seen[v] = true
		if lv, ok := lastValue[key]; ok && v <= lv {
			t.Fatalf("key %s: value %d after %d", key, v, lv)
		}
		lastValue[key] = v
		if want := fmt.Sprintf("key-%d", v%97); key != want {
			t.Fatalf("value %d has key %s, want %s", v, key, want)
		}
	}
	if len(lastOffset) != 3 {
		t.Fatalf("messages in %d partitions, want 3", len(lastOffset))
	}
}

// checkZooKeeper reads the znodes zkCli users look at, with a plain
// ZooKeeper client, and checks Kafka 2.4's JSON.
func checkZooKeeper(t *testing.T, e *env) {
	t.Helper()
	conn, _, err := zk.Connect([]string{e.zk.Addr()}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	get := func(p string) (map[string]any, *zk.Stat) {
		t.Helper()
		data, st, err := conn.Get("/zkafka" + p)
		if err != nil {
			t.Fatalf("get %s: %v", p, err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s is not JSON: %q", p, data)
		}
		return m, st
	}
	ids, _, err := conn.Children("/zkafka/brokers/ids")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(ids)
	if strings.Join(ids, ",") != "1,2,3" {
		t.Fatalf("/brokers/ids = %v", ids)
	}
	b1, st := get("/brokers/ids/1")
	if st.EphemeralOwner == 0 {
		t.Fatal("/brokers/ids/1 is not ephemeral")
	}
	if b1["version"] != 4.0 || b1["jmx_port"] != -1.0 || b1["host"] != "127.0.0.1" || b1["port"] != float64(e.c.Brokers[0].Port) {
		t.Fatalf("/brokers/ids/1 = %v", b1)
	}
	if _, ok := b1["timestamp"].(string); !ok {
		t.Fatalf("timestamp must be a string: %v", b1)
	}
	if eps, _ := b1["endpoints"].([]any); len(eps) != 1 || eps[0] != fmt.Sprintf("PLAINTEXT://127.0.0.1:%d", e.c.Brokers[0].Port) {
		t.Fatalf("endpoints: %v", b1["endpoints"])
	}
	if m, _ := b1["listener_security_protocol_map"].(map[string]any); m["PLAINTEXT"] != "PLAINTEXT" {
		t.Fatalf("listener_security_protocol_map: %v", b1)
	}
	ctrl, st := get("/controller")
	if st.EphemeralOwner == 0 || ctrl["version"] != 1.0 {
		t.Fatalf("/controller = %v", ctrl)
	}
	if _, ok := ctrl["timestamp"].(string); !ok {
		t.Fatalf("/controller timestamp must be a string: %v", ctrl)
	}
	epoch, _, err := conn.Get("/zkafka/controller_epoch")
	if err != nil || string(epoch) != "1" {
		t.Fatalf("/controller_epoch = %q, %v", epoch, err)
	}
	topic, _ := get("/brokers/topics/logstash")
	parts, _ := topic["partitions"].(map[string]any)
	if topic["version"] != 2.0 || len(parts) != 3 || topic["adding_replicas"] == nil || topic["removing_replicas"] == nil {
		t.Fatalf("/brokers/topics/logstash = %v", topic)
	}
	for p := 0; p < 3; p++ {
		state, _ := get(fmt.Sprintf("/brokers/topics/logstash/partitions/%d/state", p))
		replicas := parts[strconv.Itoa(p)].([]any)
		if state["version"] != 1.0 || state["leader_epoch"] != 0.0 || state["controller_epoch"] != 1.0 ||
			state["leader"] != replicas[0] || len(state["isr"].([]any)) != 3 {
			t.Fatalf("partition %d state = %v (replicas %v)", p, state, replicas)
		}
	}
	cfg, _ := get("/config/topics/logstash")
	if cfg["version"] != 1.0 {
		t.Fatalf("/config/topics/logstash = %v", cfg)
	}
	cid, _ := get("/cluster/id")
	if cid["version"] != "1" || len(cid["id"].(string)) != 22 {
		t.Fatalf("/cluster/id = %v", cid)
	}
	for _, p := range []string{"/consumers", "/admin/delete_topics", "/isr_change_notification", "/config/changes", "/brokers/seqid", "/latest_producer_id_block", "/log_dir_event_notification", "/config/clients", "/config/users", "/config/brokers"} {
		if ok, _, err := conn.Exists("/zkafka" + p); err != nil || !ok {
			t.Fatalf("%s missing (%v)", p, err)
		}
	}
}
