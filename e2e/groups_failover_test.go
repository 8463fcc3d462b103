package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestIntegration_GroupCoordinatorFailover kills -9 the coordinator broker
// of a franz-go consumer group (3 brokers, offsets.topic.replication.factor
// 3): once the controller has moved leadership of the group's
// __consumer_offsets partition (after the ZooKeeper session timeout),
// another broker coordinates the group, the committed offsets are intact
// and the group carries on from them.
func TestIntegration_GroupCoordinatorFailover(t *testing.T) {
	e := newEnv(t, 3, groupProps(map[string]string{"offsets.topic.replication.factor": "3"}))
	const topic, group, parts = "fo-topic", "fo", 4
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// The data topic lives on the two brokers that will survive: this test
	// is about the coordinator, not about the replication of topic data.
	var coord int32
	eventually(t, 60*time.Second, func() error {
		var err error
		coord, _, err = e.coordinator(ctx, group)
		return err
	})
	var others []int
	for _, b := range e.c.Brokers {
		if int32(b.ID) != coord {
			others = append(others, b.ID)
		}
	}
	assignment := fmt.Sprintf("%d:%d,%d:%d,%d:%d,%d:%d", others[0], others[1], others[1], others[0], others[0], others[1], others[1], others[0])
	e.run("", "topics", "--bootstrap-server", e.c.Bootstrap(), "--create", "--topic", topic, "--replica-assignment", assignment)
	e.waitTopic(topic, parts)

	got := newConsumed()
	var (
		mu        sync.Mutex
		firstAtB  time.Time // when the first record produced after the kill arrived
		commitErr int
	)
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.bootstrapRunning()...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.Balancers(kgo.RangeBalancer()), kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond), kgo.SessionTimeout(10*time.Second), kgo.HeartbeatInterval(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			fs := cl.PollFetches(ctx)
			if fs.IsClientClosed() || ctx.Err() != nil {
				return
			}
			var recs []*kgo.Record
			fs.EachRecord(func(r *kgo.Record) {
				v := string(r.Value)
				if v[0] == 'b' {
					mu.Lock()
					if firstAtB.IsZero() {
						firstAtB = time.Now()
					}
					mu.Unlock()
				}
				got.add(1, int(r.Partition), v)
				recs = append(recs, r)
			})
			if len(recs) > 0 {
				if err := cl.CommitRecords(ctx, recs...); err != nil {
					mu.Lock()
					commitErr++
					mu.Unlock()
				}
			}
		}
	}()
	defer func() { cl.Close(); <-done }()

	e.waitGroupStable(group, 1)
	e.produceValues(topic, "a", 0, 200)
	got.waitAll(t, "a", 0, 200)
	before := e.waitCommitted(group, topic, parts)

	if c, _, err := e.coordinator(ctx, group); err != nil || c != coord {
		t.Fatalf("coordinator moved from %d to %d before the kill (%v)", coord, c, err)
	}
	killed := e.c.Brokers[coord-1]
	killedAt := time.Now()
	killed.Kill()
	t.Logf("killed coordinator broker %d", coord)

	// The offsets survive in ZooKeeper, whoever coordinates.
	if now := e.zkOffsets(group, topic, parts); fmt.Sprint(now) != fmt.Sprint(before) {
		t.Fatalf("committed offsets changed by the kill: %v, were %v", now, before)
	}
	e.produceValues(topic, "b", 0, 200)
	got.waitAll(t, "b", 0, 200)
	mu.Lock()
	t.Logf("first record produced after the kill consumed %s after kill -9; %d commits failed during the failover", firstAtB.Sub(killedAt).Round(time.Millisecond), commitErr)
	mu.Unlock()

	var newCoord int32
	eventually(t, 60*time.Second, func() error {
		c, _, err := e.coordinator(ctx, group)
		if err == nil && c == coord {
			err = fmt.Errorf("broker %d still named coordinator after it died", coord)
		}
		newCoord = c
		return err
	})
	t.Logf("broker %d coordinates the group %s after kill -9 (zookeeper.session.timeout.ms=6000)", newCoord, time.Since(killedAt).Round(100*time.Millisecond))
	// Everything consumed before the kill was committed: nothing came twice.
	if d, n := got.count("a"); d != 200 || n != 200 {
		t.Fatalf("%d deliveries of %d distinct records consumed before the kill, want 200 once each", n, d)
	}
	after := e.waitCommitted(group, topic, parts)
	for p, o := range after {
		if o < before[p] {
			t.Fatalf("%s-%d: committed offset went back from %d to %d", topic, p, before[p], o)
		}
	}
	// The member rejoined the new coordinator (membership is not carried
	// over: see broker/group's package doc).
	e.waitGroupStable(group, 1)
	e.produceValues(topic, "c", 0, 100)
	got.waitAll(t, "c", 0, 100)
	e.waitCommitted(group, topic, parts)
}
