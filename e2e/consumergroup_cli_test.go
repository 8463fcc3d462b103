package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/segmentio/kafka-go"

	"github.com/zkafka/zkafka/internal/ownercheck"
	"github.com/zkafka/zkafka/internal/testutil"
)

// groupProc is one `zkafka console-consumer --zookeeper --group` process.
type groupProc struct {
	id     string // consumer id: <group>_<name>
	cmd    *exec.Cmd
	done   chan struct{}
	own    string // ownership log
	mu     sync.Mutex
	values []string
}

// startGroupConsumer starts a classic group member printing
// "partition offset value" lines, with its ownership events in a file.
func (e *env) startGroupConsumer(group, name, topic string, extra ...string) *groupProc {
	e.t.Helper()
	dir := e.t.TempDir()
	p := &groupProc{id: group + "_" + name, done: make(chan struct{}), own: filepath.Join(dir, "ownership.log")}
	args := append([]string{"console-consumer", "--zookeeper", e.c.ZK, "--group", group, "--topic", topic, "--from-beginning",
		"--property", "print.partition=true", "--property", "print.offset=true",
		"--consumer-property", "consumer.id=" + name, "--consumer-property", "auto.commit.interval.ms=500",
		"--ownership-log", p.own}, extra...)
	p.cmd = exec.Command(testutil.Binary(e.t), args...)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		e.t.Fatal(err)
	}
	p.cmd.Stderr = stderr
	if err := p.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			// "Partition:P<TAB>Offset:O<TAB>VALUE"
			f := strings.Fields(sc.Text())
			if len(f) == 3 {
				p.mu.Lock()
				p.values = append(p.values, f[2])
				p.mu.Unlock()
			}
		}
		p.cmd.Wait()
		stderr.Close()
	}()
	e.t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
		}
		<-p.done
		if e.t.Failed() {
			data, _ := os.ReadFile(stderr.Name())
			e.t.Logf("---- %s stderr ----\n%s", p.id, data)
		}
	})
	return p
}

func (p *groupProc) delivered() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.values...)
}

// feed replays the process's ownership log into the checker.
func (p *groupProc) feed(t *testing.T, k *ownercheck.Checker) {
	data, err := os.ReadFile(p.own)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		if len(f) != 5 {
			continue
		}
		part, _ := strconv.Atoi(f[3])
		ns, _ := strconv.ParseInt(f[4], 10, 64)
		tp := ownercheck.TP{Topic: f[2], Partition: int32(part)}
		if f[0] == "claimed" {
			k.Claimed(p.id, tp, time.Unix(0, ns))
		} else {
			k.Released(p.id, tp, time.Unix(0, ns))
		}
	}
}

// TestIntegration_ConsumerGroupCLI runs three `console-consumer --zookeeper
// --group` processes on a 6-partition topic while keyed messages are
// produced, closes one with SIGTERM (clean leave) and kills another with
// SIGKILL (its partitions move after the 6 s session timeout). ZooKeeper's
// owners and the members' own claim/release logs never show a partition
// held twice; every message is printed at least once; duplicates are
// counted and reported.
func TestIntegration_ConsumerGroupCLI(t *testing.T) {
	e := newEnv(t, 3, nil)
	const topic, group = "cg-cli", "cli"
	e.createTopic(topic, 6, 2)
	e.waitTopic(topic, 6)
	k, err := ownercheck.Start(e.zk.Addr(), "/zkafka", group)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Stop()
	w := &kafka.Writer{Addr: kafka.TCP(strings.Split(e.c.Bootstrap(), ",")...), Topic: topic, Balancer: &kafka.Hash{},
		BatchTimeout: 5 * time.Millisecond, RequiredAcks: kafka.RequireOne}
	defer w.Close()
	var values []string
	produce := func(n int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var msgs []kafka.Message
		for i := 0; i < n; i++ {
			v := fmt.Sprintf("v%05d", len(values))
			values = append(values, v)
			msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprintf("key-%d", len(values)%53)), Value: []byte(v)})
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	settle := func(what string, since time.Time, live ...*groupProc) time.Duration {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		var ids []string
		for _, p := range live {
			ids = append(ids, p.id)
		}
		owners, at, err := k.WaitSettled(ctx, map[string]int32{topic: 6}, ids)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		d := at.Sub(since)
		t.Logf("%s: settled %s after the change: %v", what, d.Round(time.Millisecond), owners)
		return d
	}
	procs := map[string]*groupProc{}
	waitAll := func(what string) {
		t.Helper()
		eventually(t, 60*time.Second, func() error {
			seen := map[string]int{}
			for _, p := range procs {
				for _, v := range p.delivered() {
					seen[v]++
				}
			}
			for _, v := range values {
				if seen[v] == 0 {
					return fmt.Errorf("%s never printed", v)
				}
			}
			return nil
		})
	}
	count := func() (deliveries, dups int) {
		seen := map[string]int{}
		for _, p := range procs {
			for _, v := range p.delivered() {
				seen[v]++
				deliveries++
			}
		}
		for _, n := range seen {
			dups += n - 1
		}
		return
	}

	a := e.startGroupConsumer(group, "a", topic)
	b := e.startGroupConsumer(group, "b", topic)
	c := e.startGroupConsumer(group, "c", topic)
	procs["a"], procs["b"], procs["c"] = a, b, c
	produce(500)
	settle("three members", time.Now(), a, b, c)
	waitAll("three members")
	_, dupsBefore := count()

	produce(500)
	leave := time.Now()
	b.cmd.Process.Signal(syscall.SIGTERM)
	<-b.done
	cleanLeave := settle("clean leave (SIGTERM)", leave, a, c)
	produce(500)
	waitAll("after clean leave")
	_, dupsLeave := count()

	produce(500)
	kill := time.Now()
	c.cmd.Process.Kill()
	<-c.done
	killed := settle("kill -9", kill, a)
	produce(500)
	waitAll("after kill -9")
	deliveries, dups := count()

	a.cmd.Process.Signal(syscall.SIGTERM)
	<-a.done
	for _, p := range procs {
		p.feed(t, k)
	}
	k.Killed(c.id, kill) // its claims end when it died
	if err := k.Check(); err != nil {
		t.Fatal(err)
	}
	// ZooKeeper expires a session 6 s after its last ping (sent every 2 s)
	if killed < 4*time.Second {
		t.Errorf("partitions of the killed member moved after %s, before its session could time out", killed)
	}
	t.Logf("REPORT %d messages, %d deliveries; duplicates: %d with 3 joins, %d after the clean leave, %d after kill -9 (auto.commit.interval.ms=500); settle: clean leave %s, kill -9 %s (session timeout 6 s); %d ownership intervals checked",
		len(values), deliveries, dupsBefore, dupsLeave-dupsBefore, dups-dupsLeave, cleanLeave.Round(time.Millisecond), killed.Round(time.Millisecond), k.Intervals())
	if dupsLeave != dupsBefore {
		t.Errorf("a clean leave produced %d duplicates: it commits before releasing", dupsLeave-dupsBefore)
	}
}

// TestIntegration_ConsumerGroupSessionExpiry pauses a member (SIGSTOP) past
// its ZooKeeper session timeout: the other member takes all partitions;
// when the paused one runs again it notices the expired session, registers
// again (new ephemeral owner) and the group settles over both members.
// Every message is still printed at least once.
func TestIntegration_ConsumerGroupSessionExpiry(t *testing.T) {
	e := newEnv(t, 2, nil)
	const topic, group = "cg-expiry", "expiry"
	e.createTopic(topic, 4, 1)
	e.waitTopic(topic, 4)
	k, err := ownercheck.Start(e.zk.Addr(), "/zkafka", group)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Stop()
	a := e.startGroupConsumer(group, "a", topic)
	b := e.startGroupConsumer(group, "b", topic)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, _, err := k.WaitSettled(ctx, map[string]int32{topic: 4}, []string{a.id, b.id}); err != nil {
		t.Fatal(err)
	}
	conn, _, err := zk.Connect([]string{e.zk.Addr()}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	idPath := "/zkafka/consumers/" + group + "/ids/" + b.id
	_, before, err := conn.Get(idPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.cmd.Process.Signal(syscall.SIGCONT) })
	if _, _, err := k.WaitSettled(ctx, map[string]int32{topic: 4}, []string{a.id}); err != nil {
		t.Fatalf("a did not take b's partitions after b's session expired: %v", err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(strings.Split(e.c.Bootstrap(), ",")...), Topic: topic, Balancer: &kafka.Hash{}, BatchTimeout: 5 * time.Millisecond}
	defer w.Close()
	var values []string
	var msgs []kafka.Message
	for i := 0; i < 200; i++ {
		v := fmt.Sprintf("x%04d", i)
		values = append(values, v)
		msgs = append(msgs, kafka.Message{Key: []byte(v), Value: []byte(v)})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// b notices the expiry, registers in a new session and rebalances: the
	// group settles with partitions on both members again
	eventually(t, time.Minute, func() error {
		_, after, err := conn.Get(idPath)
		if err != nil {
			return err
		}
		if after.EphemeralOwner == before.EphemeralOwner {
			return fmt.Errorf("b's registration still belongs to its old session 0x%x", before.EphemeralOwner)
		}
		owners := map[string]int{}
		for _, o := range k.Owners() {
			owners[o]++
		}
		if owners[a.id+"-0"] != 2 || owners[b.id+"-0"] != 2 {
			return fmt.Errorf("owners %v", k.Owners())
		}
		return nil
	})
	eventually(t, time.Minute, func() error {
		seen := map[string]bool{}
		for _, p := range []*groupProc{a, b} {
			for _, v := range p.delivered() {
				seen[v] = true
			}
		}
		for _, v := range values {
			if !seen[v] {
				return fmt.Errorf("%s never printed", v)
			}
		}
		return nil
	})
	logData, _ := os.ReadFile(b.own)
	if !strings.Contains(string(logData), "lost ") {
		t.Fatalf("b's ownership log shows no lost partitions after its session expired:\n%s", logData)
	}
}
