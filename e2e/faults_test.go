package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
	"github.com/zkafka/zkafka/internal/testutil"
)

// TestIntegration_RestartLosesNothing produces, restarts every broker (one
// cleanly, one with kill -9) and reads everything back.
func TestIntegration_RestartLosesNothing(t *testing.T) {
	e := newEnv(t, 2, nil)
	e.createTopic("durable", 2, 1)
	e.waitTopic("durable", 2)
	var in strings.Builder
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&in, "k%d:v%d\n", i%11, i)
	}
	e.kcat(in.String(), "-b", e.c.Bootstrap(), "-t", "durable", "-P", "-K:")
	before := e.kcat("", "-b", e.c.Bootstrap(), "-t", "durable", "-C", "-o", "beginning", "-e", "-q", "-f", "%p %o %k %s\n")

	if err := e.c.Brokers[0].Stop(); err != nil {
		t.Fatalf("broker 1 did not shut down cleanly: %v", err)
	}
	e.c.Brokers[1].Kill()
	e.c.Brokers[0].Start()
	e.c.Brokers[1].Start()
	e.c.Brokers[0].WaitListening(30 * time.Second)
	e.c.Brokers[1].WaitListening(30 * time.Second)
	e.waitBrokers(2)
	e.waitTopic("durable", 2)
	after := e.kcat("", "-b", e.c.Bootstrap(), "-t", "durable", "-C", "-o", "beginning", "-e", "-q", "-f", "%p %o %k %s\n")
	if sortLines(before) != sortLines(after) {
		t.Fatalf("data changed across restarts: %d lines before, %d after", strings.Count(before, "\n"), strings.Count(after, "\n"))
	}
	if strings.Count(after, "\n") != 5000 {
		t.Fatalf("read %d messages after restart, want 5000", strings.Count(after, "\n"))
	}
}

func sortLines(s string) string {
	lines := strings.Split(s, "\n")
	sortStrings(lines)
	return strings.Join(lines, "\n")
}

// TestIntegration_MalformedFrames sends garbage to a broker; each bad
// connection gets an answer or is closed, and the broker keeps serving.
func TestIntegration_MalformedFrames(t *testing.T) {
	e := newEnv(t, 1, nil)
	addr := e.c.Brokers[0].Addr()
	frame := func(body []byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
	}
	cases := map[string][]byte{
		"text":             []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"negative size":    {0xff, 0xff, 0xff, 0xff},
		"huge size":        {0x7f, 0xff, 0xff, 0xff},
		"short header":     frame([]byte{0, 3}),
		"unknown key":      frame([]byte{0x03, 0xe7, 0, 0, 0, 0, 0, 1, 0xff, 0xff}),
		"bad version":      frame([]byte{0, 3, 0x00, 99, 0, 0, 0, 1, 0xff, 0xff}),
		"truncated body":   frame([]byte{0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0, 0, 0, 5, 0, 1}),
		"huge array":       frame([]byte{0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff}),
		"bad client id":    frame([]byte{0, 18, 0, 0, 0, 0, 0, 1, 0x7f, 0xff}),
		"fetch bad record": frame(append([]byte{0, 1, 0, 11, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0xff, 0xff)),
	}
	for name, data := range cases {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c.Write(data)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var answer [4]byte
		n, err := io.ReadFull(c, answer[:])
		c.Close()
		if n < 4 && err != io.EOF && err != io.ErrUnexpectedEOF && !strings.Contains(fmt.Sprint(err), "reset") {
			t.Fatalf("%s: the broker neither answered nor closed the connection: %v", name, err)
		}
		// The broker still serves a well-formed client.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := metadata(ctx, addr); err != nil {
			t.Fatalf("after %s: broker stopped serving: %v", name, err)
		}
		cancel()
	}
	// A well-formed Produce whose records are garbage is answered with
	// CORRUPT_MESSAGE, and the connection lives on.
	e.createTopic("x", 1, 1)
	e.waitTopic("x", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := wire.Dial(ctx, addr, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(7)
	req.Acks, req.TimeoutMillis = 1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "x"
	rt.Partitions = []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: bytes.Repeat([]byte{7}, 70)}}
	req.Topics = []kmsg.ProduceRequestTopic{rt}
	resp, err := conn.Request(ctx, req)
	if err != nil {
		t.Fatalf("garbage records: %v", err)
	}
	if code := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.CorruptMessage.Code {
		t.Fatalf("garbage records: error %d, want CORRUPT_MESSAGE", code)
	}
	if _, err := conn.Request(ctx, kmsg.NewPtrApiVersionsRequest()); err != nil {
		t.Fatalf("connection did not live on after a refused produce: %v", err)
	}
	if !e.c.Brokers[0].Running() {
		t.Fatal("broker died")
	}
	if log := e.c.Brokers[0].Log(); strings.Contains(log, "panic") {
		t.Fatalf("broker log mentions a panic:\n%s", log)
	}
}

// TestIntegration_BrokerStartupErrors: a duplicate broker.id and a listener
// port in use each stop a broker with a message that says what is wrong.
func TestIntegration_BrokerStartupErrors(t *testing.T) {
	e := newEnv(t, 1, nil)
	dir := t.TempDir()
	port := testutil.FreePort(t)
	cfg := filepath.Join(dir, "dup.properties")
	os.WriteFile(cfg, []byte(fmt.Sprintf("broker.id=1\nlisteners=PLAINTEXT://127.0.0.1:%d\nlog.dirs=%s\nzookeeper.connect=%s\n", port, filepath.Join(dir, "logs"), e.c.ZK)), 0o644)
	_, stderr, err := e.tryRun("", "broker", cfg)
	want := fmt.Sprintf("broker.id 1 is already registered by 127.0.0.1:%d", e.c.Brokers[0].Port)
	if err == nil || !strings.Contains(stderr, want) {
		t.Fatalf("duplicate broker.id: err %v, stderr %q, want %q", err, stderr, want)
	}

	cfg2 := filepath.Join(dir, "busy.properties")
	os.WriteFile(cfg2, []byte(fmt.Sprintf("broker.id=2\nlisteners=PLAINTEXT://127.0.0.1:%d\nlog.dirs=%s\nzookeeper.connect=%s\n", e.c.Brokers[0].Port, filepath.Join(dir, "logs2"), e.c.ZK)), 0o644)
	_, stderr, err = e.tryRun("", "broker", cfg2)
	if err == nil || !strings.Contains(stderr, fmt.Sprintf("port %d is already in use", e.c.Brokers[0].Port)) || !strings.Contains(stderr, "ss -ltnp") {
		t.Fatalf("port in use: err %v, stderr %q", err, stderr)
	}

	_, stderr, err = e.tryRun("", "broker", cfg, "--override", "broker.id=abc")
	if err == nil || !strings.Contains(stderr, "broker.id") {
		t.Fatalf("invalid value: err %v, stderr %q", err, stderr)
	}
}

// TestIntegration_DeleteTopic deletes a topic through /admin/delete_topics
// and checks that its znodes and data are gone.
func TestIntegration_DeleteTopic(t *testing.T) {
	e := newEnv(t, 2, nil)
	e.createTopic("doomed", 2, 2)
	e.waitTopic("doomed", 2)
	e.kcat("a\nb\nc\n", "-b", e.c.Bootstrap(), "-t", "doomed", "-P")
	out := e.run("", "topics", "--bootstrap-server", e.c.Brokers[0].Addr(), "--delete", "--topic", "doomed")
	if !strings.Contains(out, "marked for deletion") {
		t.Fatalf("delete output %q", out)
	}
	eventually(t, 30*time.Second, func() error {
		for _, b := range e.c.Brokers {
			matches, _ := filepath.Glob(filepath.Join(b.Dir, "doomed-*"))
			for _, m := range matches {
				if !strings.HasSuffix(m, "-delete") {
					return fmt.Errorf("broker %d still has %s", b.ID, m)
				}
			}
		}
		if out := e.run("", "topics", "--bootstrap-server", e.c.Brokers[1].Addr(), "--list"); strings.Contains(out, "doomed") {
			return fmt.Errorf("topic still listed")
		}
		return nil
	})
}

// TestIntegration_CreateTopicErrors: refused topic creations say why in
// Kafka's words, and nothing is written to ZooKeeper.
func TestIntegration_CreateTopicErrors(t *testing.T) {
	e := newEnv(t, 1, nil)
	addr := e.c.Brokers[0].Addr()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--topic", "rf3", "--partitions", "1", "--replication-factor", "3"}, "Replication factor: 3 larger than available brokers: 1."},
		{[]string{"--topic", "bad/name", "--partitions", "1", "--replication-factor", "1"}, "bad/name"},
		{[]string{"--topic", "cfg", "--partitions", "1", "--replication-factor", "1", "--config", "no.such.config=1"}, "Unknown topic config name: no.such.config"},
		{[]string{"--topic", "huge", "--partitions", "1000000", "--replication-factor", "1"}, "would not fit a ZooKeeper znode"},
	} {
		_, stderr, err := e.tryRun("", append([]string{"topics", "--bootstrap-server", addr, "--create"}, tc.args...)...)
		if err == nil || !strings.Contains(stderr, tc.want) {
			t.Fatalf("%v: err %v, stderr %q, want %q", tc.args, err, stderr, tc.want)
		}
	}
	if out := e.run("", "topics", "--bootstrap-server", addr, "--list"); strings.TrimSpace(out) != "" {
		t.Fatalf("refused topics were created: %q", out)
	}
}
