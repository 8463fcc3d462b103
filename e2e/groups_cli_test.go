package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	kafka "github.com/segmentio/kafka-go"
)

// TestIntegration_ConsumerGroupsTool: zkafka consumer-groups lists,
// describes (members, committed offset, log end offset, lag), resets (refused
// while the group is active) and deletes a broker-side group, and describes
// and deletes a classic ZooKeeper group through --zookeeper.
func TestIntegration_ConsumerGroupsTool(t *testing.T) {
	e := newEnv(t, 1, groupProps(map[string]string{"offsets.topic.replication.factor": "1"}))
	const topic, group = "cg", "cgg"
	boot := e.c.Brokers[0].Addr()
	zkc := e.zk.Addr() + "/zkafka"
	e.createTopic(topic, 3, 1)
	e.waitTopic(topic, 3)
	e.produceValues(topic, "v", 0, 30)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{boot}, GroupID: group, Topic: topic, MaxWait: 100 * time.Millisecond,
		HeartbeatInterval: 300 * time.Millisecond, SessionTimeout: 10 * time.Second, StartOffset: kafka.FirstOffset,
		Dialer: &kafka.Dialer{ClientID: "cg-reader", Timeout: 10 * time.Second}}) // kafka-go's default client id has spaces
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				return
			}
			r.CommitMessages(ctx, m)
		}
	}()
	e.waitCommitted(group, topic, 3)

	out := e.run("", "consumer-groups", "--bootstrap-server", boot, "--describe", "--group", group)
	lines := describeLines(t, out, 3)
	for _, f := range lines {
		if f[0] != group || f[1] != topic || f[3] != "10" || f[4] != "10" || f[5] != "0" || !strings.HasPrefix(f[6], "cg-reader-") || f[7] != "/127.0.0.1" || f[8] != "cg-reader" {
			t.Fatalf("describe of the active group: %q\n%s", f, out)
		}
	}
	_, errOut, err := e.tryRun("", "consumer-groups", "--bootstrap-server", boot, "--reset-offsets", "--group", group, "--topic", topic, "--to-earliest", "--execute")
	if err == nil || !strings.Contains(errOut, "Error: Assignments can only be reset if the group '"+group+"' is inactive, but the current state is Stable.") {
		t.Fatalf("reset of an active group: %v %q", err, errOut)
	}
	if out := e.run("", "consumer-groups", "--bootstrap-server", boot, "--list"); !strings.Contains(out, group+"\n") {
		t.Fatalf("list: %q", out)
	}
	r.Close()
	wg.Wait()

	_, errOut, err = e.tryRun("", "consumer-groups", "--bootstrap-server", boot, "--describe", "--group", group)
	if err != nil || !strings.Contains(errOut, "Consumer group '"+group+"' has no active members.") {
		t.Fatalf("describe of the empty group: %v %q", err, errOut)
	}
	out = e.run("", "consumer-groups", "--bootstrap-server", boot, "--reset-offsets", "--group", group, "--topic", topic, "--to-earliest", "--execute")
	if !strings.Contains(out, "NEW-OFFSET") || strings.Count(out, topic+" ") != 3 {
		t.Fatalf("reset output: %q", out)
	}
	for p, o := range e.zkOffsets(group, topic, 3) {
		if o != 0 {
			t.Fatalf("after --to-earliest: partition %d at %d", p, o)
		}
	}
	e.run("", "consumer-groups", "--bootstrap-server", boot, "--reset-offsets", "--group", group, "--topic", topic+":1", "--shift-by", "4", "--execute")
	e.run("", "consumer-groups", "--bootstrap-server", boot, "--reset-offsets", "--group", group, "--topic", topic+":2", "--to-offset", "1000", "--dry-run")
	if got := e.zkOffsets(group, topic, 3); got[0] != 0 || got[1] != 4 || got[2] != 0 {
		t.Fatalf("after --shift-by 4 on partition 1 and a dry run: %v", got)
	}
	e.run("", "consumer-groups", "--bootstrap-server", boot, "--reset-offsets", "--group", group, "--topic", topic+":2", "--to-offset", "1000", "--execute")
	if got := e.zkOffsets(group, topic, 3); got[2] != 10 {
		t.Fatalf("--to-offset beyond the end is clamped to it: %v", got)
	}
	// The same offsets, read straight from ZooKeeper.
	out, _, err = e.tryRun("", "consumer-groups", "--zookeeper", zkc, "--describe", "--group", group)
	if err != nil {
		t.Fatal(err)
	}
	lines = describeLines(t, out, 3)
	if lines[1][3] != "4" || lines[1][5] != "6" || lines[2][3] != "10" || lines[2][5] != "0" {
		t.Fatalf("--zookeeper describe: %q", out)
	}

	// A classic ZooKeeper group with one live consumer owning partition 0.
	raw, _, err := zk.Connect([]string{e.zk.Addr()}, 10*time.Second, zk.WithLogger(zkQuiet{}))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	acl := zk.WorldACL(zk.PermAll)
	for _, p := range []string{"/zkafka/consumers/classic", "/zkafka/consumers/classic/ids", "/zkafka/consumers/classic/owners", "/zkafka/consumers/classic/owners/cg",
		"/zkafka/consumers/classic/offsets", "/zkafka/consumers/classic/offsets/cg"} {
		if _, err := raw.Create(p, nil, 0, acl); err != nil && err != zk.ErrNodeExists {
			t.Fatal(err)
		}
	}
	raw.Create("/zkafka/consumers/classic/ids/host1-1700000000000-abcd1234", []byte(`{"version":1,"subscription":{"cg":1},"pattern":"static","timestamp":"1700000000000"}`), zk.FlagEphemeral, acl)
	raw.Create("/zkafka/consumers/classic/owners/cg/0", []byte("host1-1700000000000-abcd1234-0"), zk.FlagEphemeral, acl)
	raw.Create("/zkafka/consumers/classic/offsets/cg/0", []byte("7"), 0, acl)
	out = e.run("", "consumer-groups", "--zookeeper", zkc, "--describe", "--group", "classic")
	lines = describeLines(t, out, 1)
	if f := lines[0]; f[1] != topic || f[2] != "0" || f[3] != "7" || f[4] != "10" || f[5] != "3" || f[6] != "host1-1700000000000-abcd1234" {
		t.Fatalf("classic describe: %q", out)
	}
	if out := e.run("", "consumer-groups", "--zookeeper", zkc, "--list"); !strings.Contains(out, "classic\n") || !strings.Contains(out, group+"\n") {
		t.Fatalf("--zookeeper list: %q", out)
	}
	_, errOut, err = e.tryRun("", "consumer-groups", "--zookeeper", zkc, "--delete", "--group", "classic")
	if err == nil || !strings.Contains(errOut, "could not be deleted due to: The group is not empty.") {
		t.Fatalf("delete of a live classic group: %v %q", err, errOut)
	}
	if ok, _, _ := raw.Exists("/zkafka/consumers/classic/ids/host1-1700000000000-abcd1234"); !ok {
		t.Fatal("the live consumer's registration was deleted")
	}

	out = e.run("", "consumer-groups", "--bootstrap-server", boot, "--delete", "--group", group)
	if !strings.Contains(out, "Deletion of requested consumer groups ('"+group+"') was successful.") {
		t.Fatalf("delete: %q", out)
	}
	if ok, _, _ := raw.Exists("/zkafka/consumers/" + group); ok {
		t.Fatal("deleted group still in ZooKeeper")
	}
	_, errOut, err = e.tryRun("", "consumer-groups", "--bootstrap-server", boot, "--describe", "--group", group)
	if err == nil || !strings.Contains(errOut, "Consumer group '"+group+"' does not exist.") {
		t.Fatalf("describe of a deleted group: %v %q", err, errOut)
	}
}

// describeLines returns the fields of the n data lines under the header.
func describeLines(t *testing.T, out string, n int) [][]string {
	t.Helper()
	var rows [][]string
	header := false
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) == 0:
		case f[0] == "GROUP":
			header = true
			if strings.Join(f, " ") != "GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID" {
				t.Fatalf("header %q", l)
			}
		case header:
			rows = append(rows, f)
		}
	}
	if len(rows) != n {
		t.Fatalf("%d rows, want %d:\n%s", len(rows), n, out)
	}
	return rows
}
