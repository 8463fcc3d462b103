package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// consumed records what the members of a group received: value -> the
// members that got it, and each member's partitions.
type consumed struct {
	mu    sync.Mutex
	by    map[string][]int
	parts map[int]map[int]bool
}

func newConsumed() *consumed {
	return &consumed{by: map[string][]int{}, parts: map[int]map[int]bool{}}
}

func (c *consumed) add(member, partition int, value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.by[value] = append(c.by[value], member)
	if c.parts[member] == nil {
		c.parts[member] = map[int]bool{}
	}
	c.parts[member][partition] = true
}

// has reports whether every value prefix<i>, i in [from, to), was received.
func (c *consumed) missing(prefix string, from, to int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for i := from; i < to; i++ {
		if len(c.by[fmt.Sprintf("%s%d", prefix, i)]) == 0 {
			n++
		}
	}
	return n
}

func (c *consumed) count(prefix string) (distinct, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for v, ms := range c.by {
		if strings.HasPrefix(v, prefix) {
			distinct++
			total += len(ms)
		}
	}
	return distinct, total
}

func (c *consumed) members() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.parts)
}

func (c *consumed) waitAll(t *testing.T, prefix string, from, to int) {
	t.Helper()
	eventually(t, 90*time.Second, func() error {
		if n := c.missing(prefix, from, to); n > 0 {
			return fmt.Errorf("%d of %d messages %s* not received", n, to-from, prefix)
		}
		return nil
	})
}

// TestIntegration_GroupsClients: consumer groups of unchanged real clients
// — kafka-go Readers with a GroupID, kcat -G (librdkafka's balanced
// consumer) and franz-go (cooperative-sticky, then eager range) — split a
// 6-partition topic between two members, commit to ZooKeeper, and resume
// from the committed offsets after a restart without skipping anything.
func TestIntegration_GroupsClients(t *testing.T) {
	e := newEnv(t, 3, groupProps(nil))
	t.Run("KafkaGo", func(t *testing.T) { testKafkaGoGroup(t, e) })
	t.Run("Kcat", func(t *testing.T) { testKcatGroup(t, e) })
	t.Run("FranzGo", func(t *testing.T) { testFranzGoGroup(t, e) })
}

const groupPartitions = 6

func testKafkaGoGroup(t *testing.T, e *env) {
	const topic, group = "kg-topic", "kg"
	e.createTopic(topic, groupPartitions, 2)
	e.waitTopic(topic, groupPartitions)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	got := newConsumed()
	var wg sync.WaitGroup
	start := func(id int) *kafka.Reader {
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: e.bootstrapRunning(), GroupID: group, Topic: topic, MaxWait: 100 * time.Millisecond,
			HeartbeatInterval: 300 * time.Millisecond, SessionTimeout: 10 * time.Second, RebalanceTimeout: 10 * time.Second,
			JoinGroupBackoff: 200 * time.Millisecond, StartOffset: kafka.FirstOffset,
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					return
				}
				got.add(id, m.Partition, string(m.Value))
				if err := r.CommitMessages(ctx, m); err != nil {
					t.Logf("reader %d: commit %s-%d@%d: %v", id, topic, m.Partition, m.Offset, err)
				}
			}
		}()
		return r
	}
	r1, r2 := start(1), start(2)
	e.waitGroupStable(group, 2)
	e.produceValues(topic, "a", 0, 600)
	got.waitAll(t, "a", 0, 600)
	if got.members() != 2 {
		t.Fatalf("only %d readers received messages", got.members())
	}
	e.waitCommitted(group, topic, groupPartitions)
	r1.Close()
	r2.Close()
	wg.Wait()

	// Resume after a restart: a new reader starts at the committed offsets.
	e.produceValues(topic, "b", 0, 300)
	r3 := start(3)
	defer r3.Close()
	got.waitAll(t, "b", 0, 300)
	if d, n := got.count("a"); d != 600 || n != 600 {
		t.Fatalf("after the restart: %d deliveries of %d distinct old messages, want 600 once each", n, d)
	}
	e.waitCommitted(group, topic, groupPartitions)
}

// kcatMember is a kcat -G process writing "partition offset value" lines.
type kcatMember struct {
	cmd  *exec.Cmd
	out  string
	done chan error
}

func (e *env) startKcatMember(t *testing.T, group, topic, outFile string, extra ...string) *kcatMember {
	args := append([]string{"-b", strings.Join(e.bootstrapRunning(), ","), "-G", group, "-q", "-u", "-f", "%p %o %s\n",
		"-X", "auto.offset.reset=earliest", "-X", "auto.commit.interval.ms=100", "-X", "session.timeout.ms=10000",
		"-X", "heartbeat.interval.ms=300"}, extra...)
	args = append(args, topic)
	f, err := os.Create(outFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("kcat", args...)
	cmd.Stdout = f
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m := &kcatMember{cmd: cmd, out: outFile, done: make(chan error, 1)}
	go func() {
		err := cmd.Wait()
		f.Close()
		if err != nil {
			err = fmt.Errorf("%v: %s", err, stderr.String())
		}
		m.done <- err
	}()
	t.Cleanup(func() { m.cmd.Process.Kill() })
	return m
}

// stop ends a kcat member with SIGTERM: it commits and leaves the group.
func (m *kcatMember) stop(t *testing.T) {
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-m.done:
		if err != nil {
			t.Fatalf("kcat: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("kcat did not exit on SIGTERM")
	}
}

// read adds the member's output lines to got.
func (m *kcatMember) read(t *testing.T, id int, got *consumed) {
	f, err := os.Open(m.out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var p int
		var off int64
		var v string
		if n, _ := fmt.Sscanf(sc.Text(), "%d %d %s", &p, &off, &v); n == 3 {
			got.add(id, p, v)
		}
	}
}

func testKcatGroup(t *testing.T, e *env) {
	const topic, group = "kc-topic", "kc"
	e.createTopic(topic, groupPartitions, 2)
	e.waitTopic(topic, groupPartitions)
	dir := t.TempDir()
	m1 := e.startKcatMember(t, group, topic, filepath.Join(dir, "m1"))
	m2 := e.startKcatMember(t, group, topic, filepath.Join(dir, "m2"))
	e.waitGroupStable(group, 2)
	e.produceValues(topic, "a", 0, 600)
	var got *consumed
	eventually(t, 90*time.Second, func() error {
		got = newConsumed()
		m1.read(t, 1, got)
		m2.read(t, 2, got)
		if n := got.missing("a", 0, 600); n > 0 {
			return fmt.Errorf("%d messages not received", n)
		}
		return nil
	})
	if got.members() != 2 {
		t.Fatalf("only %d kcat members received messages", got.members())
	}
	e.waitCommitted(group, topic, groupPartitions)
	m1.stop(t)
	m2.stop(t)

	// A restarted member reads exactly the messages produced since.
	e.produceValues(topic, "b", 0, 300)
	m3 := e.startKcatMember(t, group, topic, filepath.Join(dir, "m3"), "-c", "300")
	select {
	case err := <-m3.done:
		if err != nil {
			t.Fatalf("kcat: %v", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("restarted kcat member did not get 300 messages")
	}
	again := newConsumed()
	m3.read(t, 3, again)
	if again.missing("b", 0, 300) != 0 {
		t.Fatal("restarted member missed messages")
	}
	if d, _ := again.count("a"); d != 0 {
		t.Fatalf("restarted member re-read %d committed messages", d)
	}
}

func testFranzGoGroup(t *testing.T, e *env) {
	const topic, group = "fg-topic", "fg"
	e.createTopic(topic, groupPartitions, 2)
	e.waitTopic(topic, groupPartitions)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	got := newConsumed()
	var wg sync.WaitGroup
	start := func(id int, balancer kgo.GroupBalancer) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(e.bootstrapRunning()...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.Balancers(balancer), kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchMaxWait(200*time.Millisecond), kgo.SessionTimeout(10*time.Second), kgo.HeartbeatInterval(300*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				fs := cl.PollFetches(ctx)
				if fs.IsClientClosed() || ctx.Err() != nil {
					return
				}
				var recs []*kgo.Record
				fs.EachRecord(func(r *kgo.Record) {
					got.add(id, int(r.Partition), string(r.Value))
					recs = append(recs, r)
				})
				if len(recs) > 0 {
					if err := cl.CommitRecords(ctx, recs...); err != nil {
						t.Logf("client %d: commit: %v", id, err)
					}
				}
			}
		}()
		return cl
	}
	c1, c2 := start(1, kgo.CooperativeStickyBalancer()), start(2, kgo.CooperativeStickyBalancer())
	e.waitGroupStable(group, 2)
	e.produceValues(topic, "a", 0, 600)
	got.waitAll(t, "a", 0, 600)
	if got.members() != 2 {
		t.Fatalf("only %d clients received records", got.members())
	}
	e.waitCommitted(group, topic, groupPartitions)
	c1.Close()
	c2.Close()
	wg.Wait()

	e.produceValues(topic, "b", 0, 300)
	c3 := start(3, kgo.RangeBalancer()) // an eager balancer this time
	got.waitAll(t, "b", 0, 300)
	c3.Close()
	wg.Wait()
	if d, n := got.count("a"); d != 600 || n != 600 {
		t.Fatalf("after the restart: %d deliveries of %d distinct old records, want 600 once each", n, d)
	}
}
