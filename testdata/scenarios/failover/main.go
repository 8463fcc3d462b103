// Command failover reproduces a leader failover on the local cluster that
// `make run` starts (ZooKeeper on 127.0.0.1:2181, brokers 1-3 on
// 127.0.0.1:9092-9094, pids in data/broker-N.pid). Run it from the
// repository root through testdata/scenarios/failover.sh.
//
// It creates a topic with one partition replicated three times
// (min.insync.replicas=2), produces with acks=all from an idempotent
// producer, kills the partition's leader with SIGKILL, keeps producing, and
// prints: the partition's state znode before and after (as zkCli's get
// shows it), the time from the kill to the first produce acknowledged by the
// new leader, and the counts proving every acknowledged record is read back
// exactly once. It then restarts the killed broker (scripts/run.sh) and
// shows the ISR whole again.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	topic  = "failover-demo"
	zkAddr = "127.0.0.1:2181"
)

var brokers = []string{"127.0.0.1:9092", "127.0.0.1:9093", "127.0.0.1:9094"}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "failover:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, _, err := zk.Connect([]string{zkAddr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		return err
	}
	defer conn.Close()
	statePath := "/brokers/topics/" + topic + "/partitions/0/state"

	out, err := exec.Command("bin/zkafka", "topics", "--bootstrap-server", brokers[0], "--create",
		"--topic", topic, "--partitions", "1", "--replication-factor", "3", "--config", "min.insync.replicas=2").CombinedOutput()
	if err != nil && !strings.Contains(string(out), "already exists") {
		return fmt.Errorf("create topic: %v: %s", err, out)
	}
	state, err := waitState(ctx, conn, statePath, func(s string) bool { return strings.Contains(s, `"isr":[`) && strings.Count(s, ",") >= 6 })
	if err != nil {
		return err
	}
	fmt.Printf("before: get %s\n%s\n\n", statePath, state)

	// Records are named after this run, so that a run on a cluster where the
	// topic has records of earlier runs counts only its own.
	run := fmt.Sprintf("run-%d", time.Now().UnixNano())
	var mu sync.Mutex
	acked := map[string]bool{}
	var firstAfterKill time.Time
	var killedAt time.Time
	killedLeader := int32(-1)
	// The first acknowledgement from another broker than the killed leader:
	// an answer the old leader sent just before it died can still be read
	// after the kill, so the time of the first callback would be wrong.
	onAck := ackHook(func(node int32) {
		mu.Lock()
		defer mu.Unlock()
		if !killedAt.IsZero() && firstAfterKill.IsZero() && node != killedLeader {
			firstAfterKill = time.Now()
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(2*time.Millisecond), kgo.RecordRetries(1000), kgo.MetadataMinAge(250*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }), kgo.WithHooks(onAck))
	if err != nil {
		return err
	}
	defer cl.Close()
	sent, failed := 0, 0
	produce := func(n int) {
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			sent++
			wg.Add(1)
			cl.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("%s-%08d", run, sent))}, func(r *kgo.Record, err error) {
				defer wg.Done()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed++
					return
				}
				acked[string(r.Value)] = true
			})
			time.Sleep(200 * time.Microsecond)
		}
		wg.Wait()
	}
	produce(5000)

	leader, err := leaderOf(state)
	if err != nil {
		return err
	}
	pid, err := os.ReadFile(fmt.Sprintf("data/broker-%d.pid", leader))
	if err != nil {
		return fmt.Errorf("leader %d is not a broker started by make run: %w", leader, err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(pid)))
	done := make(chan struct{})
	go func() { defer close(done); produce(20000) }()
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	killedAt, killedLeader = time.Now(), int32(leader)
	mu.Unlock()
	if err := syscall.Kill(n, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill -9 broker %d (pid %d): %w", leader, n, err)
	}
	fmt.Printf("kill -9 broker %d (pid %d), the leader, at %s\n", leader, n, killedAt.Format("15:04:05.000"))
	<-done
	after, err := waitState(ctx, conn, statePath, func(s string) bool {
		l, err := leaderOf(s)
		return err == nil && l != leader && l >= 0
	})
	if err != nil {
		return err
	}
	fmt.Printf("\nafter: get %s\n%s\n\n", statePath, after)
	mu.Lock()
	if !firstAfterKill.IsZero() {
		fmt.Printf("first acks=all produce acknowledged by the new leader %.2f s after the kill (zookeeper.session.timeout.ms decides most of it)\n", firstAfterKill.Sub(killedAt).Seconds())
	}
	fmt.Printf("produced %d records: %d acknowledged, %d not acknowledged\n", sent, len(acked), failed)
	mu.Unlock()

	consumer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer consumer.Close()
	seen := map[string]int{}
	missing := len(acked)
	for missing > 0 {
		fs := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			return fmt.Errorf("%d acknowledged records not read back", missing)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !strings.HasPrefix(string(r.Value), run+"-") {
				return // an earlier run's
			}
			seen[string(r.Value)]++
			if seen[string(r.Value)] == 1 && acked[string(r.Value)] {
				missing--
			}
		})
	}
	dups := 0
	for _, c := range seen {
		dups += c - 1
	}
	fmt.Printf("consumed: all %d acknowledged records, %d duplicates\n", len(acked), dups)
	if dups > 0 {
		return fmt.Errorf("%d duplicates", dups)
	}

	fmt.Printf("\nrestarting broker %d (scripts/run.sh) ...\n", leader)
	if out, err := exec.Command("scripts/run.sh").CombinedOutput(); err != nil {
		return fmt.Errorf("scripts/run.sh: %v: %s", err, out)
	}
	whole, err := waitState(ctx, conn, statePath, func(s string) bool { return strings.Contains(s, strconv.Itoa(leader)) && strings.Count(s, ",") >= 6 })
	if err != nil {
		return err
	}
	fmt.Printf("caught up and back in the ISR: get %s\n%s\n", statePath, whole)
	return nil
}

func waitState(ctx context.Context, conn *zk.Conn, path string, ok func(string) bool) (string, error) {
	for {
		data, _, err := conn.Get(path)
		if err == nil && ok(string(data)) {
			return string(data), nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for %s: last %q, %v", path, data, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func leaderOf(state string) (int, error) {
	i := strings.Index(state, `"leader":`)
	if i < 0 {
		return 0, fmt.Errorf("no leader in %q", state)
	}
	rest := state[i+len(`"leader":`):]
	j := strings.IndexAny(rest, ",}")
	return strconv.Atoi(rest[:j])
}

// ackHook is a kgo hook called with the broker that acknowledged each
// produced batch.
type ackHook func(node int32)

func (h ackHook) OnProduceBatchWritten(meta kgo.BrokerMetadata, _ string, _ int32, _ kgo.ProduceBatchMetrics) {
	h(meta.NodeID)
}
