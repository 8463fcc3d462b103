package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestIntegration_GroupRebalanceTimes measures a broker-coordinated group
// (two kcat -G members and a franz-go member, session.timeout.ms 6000,
// auto commit every 100 ms)
// while a producer writes: how long the group takes to be Stable again
// after a member leaves cleanly (SIGTERM: LeaveGroup) and after one is
// killed (kill -9: the coordinator notices when its session times out), and
// how many messages were delivered twice. Every produced message must reach
// some member; the numbers are logged, not asserted.
func TestIntegration_GroupRebalanceTimes(t *testing.T) {
	e := newEnv(t, 3, groupProps(nil))
	const topic, group = "rb-topic", "rb"
	e.createTopic(topic, groupPartitions, 2)
	e.waitTopic(topic, groupPartitions)
	dir := t.TempDir()
	// Two kcat members (librdkafka; one is killed), and a franz-go member
	// that leaves cleanly: kcat drops a message it polled after SIGTERM
	// while librdkafka has already stored its offset, which would show as
	// a loss that is kcat's, not the broker's.
	var members []*kcatMember
	for i := 1; i <= 2; i++ {
		members = append(members, e.startKcatMember(t, group, topic, filepath.Join(dir, fmt.Sprint("m", i)), "-X", "session.timeout.ms=6000"))
	}
	leaver := newConsumed()
	leaverCtx, leaverStop := context.WithCancel(context.Background())
	leaverDone := make(chan struct{})
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.bootstrapRunning()...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.Balancers(kgo.RangeBalancer()), kgo.SessionTimeout(6*time.Second), kgo.AutoCommitInterval(100*time.Millisecond),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(leaverDone)
		for leaverCtx.Err() == nil {
			cl.PollFetches(leaverCtx).EachRecord(func(r *kgo.Record) { leaver.add(3, int(r.Partition), string(r.Value)) })
		}
	}()
	e.waitGroupStable(group, 3)

	// Produce in steps while the group changes.
	var mu sync.Mutex
	produced := 0
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			from := produced
			mu.Unlock()
			e.produceValues(topic, "c", from, from+100)
			mu.Lock()
			produced += 100
			mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
	}()
	time.Sleep(time.Second)

	start := time.Now()
	leaverStop()
	<-leaverDone
	cl.Close() // commits what was polled, then LeaveGroup
	e.waitGroupStable(group, 2)
	cleanLeave := time.Since(start)
	time.Sleep(time.Second)

	start = time.Now()
	members[1].cmd.Process.Signal(syscall.SIGKILL)
	e.waitGroupStable(group, 1)
	killed := time.Since(start)
	time.Sleep(time.Second)
	close(stop)
	<-done

	var got *consumed
	defer func() {
		if !t.Failed() {
			return
		}
		// Where is each value the members missed, and what did they print
		// around it?
		out := e.kcat("", "-b", e.c.Bootstrap(), "-t", topic, "-C", "-o", "beginning", "-e", "-q", "-f", "%p %o %s\n")
		where := map[string][2]int{}
		for _, l := range strings.Split(out, "\n") {
			var p, o int
			var v string
			if n, _ := fmt.Sscanf(l, "%d %d %s", &p, &o, &v); n == 3 {
				where[v] = [2]int{p, o}
			}
		}
		for i := 0; i < produced; i++ {
			v := fmt.Sprintf("c%d", i)
			if got == nil || len(got.by[v]) > 0 {
				continue
			}
			po := where[v]
			t.Logf("missed %s: partition %d offset %d", v, po[0], po[1])
			for m := range members {
				data, _ := os.ReadFile(filepath.Join(dir, fmt.Sprint("m", m+1)))
				for _, l := range strings.Split(string(data), "\n") {
					var p, o int
					if n, _ := fmt.Sscanf(l, "%d %d", &p, &o); n == 2 && p == po[0] && o >= po[1]-3 && o <= po[1]+3 {
						t.Logf("  member %d printed %s", m+1, l)
					}
				}
			}
		}
	}()
	eventually(t, 60*time.Second, func() error {
		got = newConsumed()
		for i, m := range members {
			m.read(t, i+1, got)
		}
		leaver.mu.Lock()
		for v, ms := range leaver.by {
			for range ms {
				got.add(3, 0, v)
			}
		}
		leaver.mu.Unlock()
		if n := got.missing("c", 0, produced); n > 0 {
			var which []string
			for i := 0; i < produced && len(which) < 5; i++ {
				if len(got.by[fmt.Sprintf("c%d", i)]) == 0 {
					which = append(which, fmt.Sprintf("c%d", i))
				}
			}
			return fmt.Errorf("%d of %d messages not received by any member: %v", n, produced, which)
		}
		return nil
	})
	distinct, total := got.count("c")
	t.Logf("group of 3 members (2 kcat, 1 franz-go): stable again %.2fs after a clean leave, %.2fs after kill -9 (session.timeout.ms 6000); %d messages produced, %d delivered, %d duplicates",
		cleanLeave.Seconds(), killed.Seconds(), produced, distinct, total-distinct)
}
