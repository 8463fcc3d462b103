package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
	"github.com/zkafka/zkafka/internal/testutil"
)

// env is one test's world: a private ZooKeeper and a broker cluster on it.
type env struct {
	t  *testing.T
	zk *testutil.ZooKeeper
	c  *testutil.Cluster
}

func newEnv(t *testing.T, brokers int, props map[string]string) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs ZooKeeper and broker processes")
	}
	zk := testutil.StartZooKeeper(t)
	connect := zk.Addr() + "/zkafka"
	c := testutil.StartCluster(t, connect, brokers, props)
	e := &env{t: t, zk: zk, c: c}
	e.waitBrokers(brokers)
	return e
}

// run runs the zkafka binary and returns stdout, failing the test on error.
func (e *env) run(stdin string, args ...string) string {
	e.t.Helper()
	out, errOut, err := e.tryRun(stdin, args...)
	if err != nil {
		e.t.Fatalf("zkafka %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func (e *env) tryRun(stdin string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testutil.Binary(e.t), args...)
	var out, errOut bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// kcat runs kcat with args and returns stdout.
func (e *env) kcat(stdin string, args ...string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kcat", args...)
	var out, errOut bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		e.t.Fatalf("kcat %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// createTopic creates a topic with the zkafka CLI.
func (e *env) createTopic(name string, partitions, rf int) {
	e.t.Helper()
	out := e.run("", "topics", "--bootstrap-server", e.c.Brokers[0].Addr(), "--create", "--topic", name,
		"--partitions", fmt.Sprint(partitions), "--replication-factor", fmt.Sprint(rf))
	if !strings.Contains(out, "Created topic "+name+".") {
		e.t.Fatalf("unexpected create output: %q", out)
	}
}

// eventually retries f until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("condition not met within %s: %v", timeout, err)
}

// metadata asks one broker for metadata (all topics) over the Kafka protocol.
func metadata(ctx context.Context, addr string) (*kmsg.MetadataResponse, error) {
	conn, err := wire.Dial(ctx, addr, "e2e")
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(7)
	resp, err := conn.Request(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}

// eachMetadata asks every running broker for metadata and hands it to fn.
func (e *env) eachMetadata(fn func(brokerID int, m *kmsg.MetadataResponse) error) error {
	for _, b := range e.c.Brokers {
		if !b.Running() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		m, err := metadata(ctx, b.Addr())
		cancel()
		if err != nil {
			return err
		}
		if err := fn(b.ID, m); err != nil {
			return err
		}
	}
	return nil
}

// waitBrokers waits until every broker's metadata lists n live brokers and a
// controller.
func (e *env) waitBrokers(n int) {
	e.t.Helper()
	eventually(e.t, 30*time.Second, func() error {
		return e.eachMetadata(func(id int, m *kmsg.MetadataResponse) error {
			if len(m.Brokers) != n || m.ControllerID < 0 {
				return fmt.Errorf("broker %d sees %d brokers, controller %d", id, len(m.Brokers), m.ControllerID)
			}
			return nil
		})
	})
}

// waitTopic waits until every running broker's metadata has the topic with
// leaders for all partitions.
func (e *env) waitTopic(name string, partitions int) {
	e.t.Helper()
	eventually(e.t, 30*time.Second, func() error {
		return e.eachMetadata(func(id int, m *kmsg.MetadataResponse) error {
			for _, t := range m.Topics {
				if t.Topic == nil || *t.Topic != name {
					continue
				}
				if t.ErrorCode != 0 || len(t.Partitions) != partitions {
					return fmt.Errorf("broker %d: topic %s error %d, %d partitions", id, name, t.ErrorCode, len(t.Partitions))
				}
				for _, p := range t.Partitions {
					if p.Leader < 0 || p.ErrorCode != 0 {
						return fmt.Errorf("broker %d: %s-%d has no leader", id, name, p.Partition)
					}
				}
				return nil
			}
			return fmt.Errorf("broker %d does not know topic %s", id, name)
		})
	})
}

func sortStrings(s []string) { sort.Strings(s) }

// clientLog is a franz-go client option that writes the client's debug log,
// with microsecond timestamps, to the file named by ZKAFKA_E2E_CLIENT_LOG
// (for reading a run's timeline next to the brokers' logs); without it, no
// log.
func clientLog(t *testing.T) kgo.Opt {
	path := os.Getenv("ZKAFKA_E2E_CLIENT_LOG")
	if path == "" {
		return kgo.WithLogger(nil)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return kgo.WithLogger(kgo.BasicLogger(f, kgo.LogLevelDebug, func() string { return time.Now().Format("15:04:05.000000 ") }))
}
