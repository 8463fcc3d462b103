package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ackTimes records, per partition, when acks=all produces were acknowledged.
type ackTimes struct {
	mu    sync.Mutex
	times map[int32][]time.Time
	vals  map[string]bool
	errs  []error
}

func (a *ackTimes) add(r *kgo.Record, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.errs = append(a.errs, err)
		return
	}
	a.times[r.Partition] = append(a.times[r.Partition], time.Now())
	a.vals[string(r.Value)] = true
}

// maxGap is the longest time between two acknowledgements of partition p
// within [from, to] (the edges count as acknowledgements).
func (a *ackTimes) maxGap(p int32, from, to time.Time) time.Duration {
	gap, _ := a.maxGapAt(p, from, to)
	return gap
}

// maxGapAt is maxGap with the time the longest gap began.
func (a *ackTimes) maxGapAt(p int32, from, to time.Time) (gap time.Duration, began time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	prev := from
	for _, at := range a.times[p] {
		if at.Before(from) || at.After(to) {
			continue
		}
		if d := at.Sub(prev); d > gap {
			gap, began = d, prev
		}
		prev = at
	}
	if d := to.Sub(prev); d > gap {
		gap, began = d, prev
	}
	return gap, began
}

// zkLeaderWatch polls the state znodes and adds up, per partition, how long
// the leader was -1.
type zkLeaderWatch struct {
	mu         sync.Mutex
	leaderless map[int]time.Duration
	leaders    map[int][]int32 // leader changes seen
}

func watchLeaders(ctx context.Context, conn *zk.Conn, topic string, partitions int) *zkLeaderWatch {
	w := &zkLeaderWatch{leaderless: map[int]time.Duration{}, leaders: map[int][]int32{}}
	go func() {
		last := time.Now()
		for ctx.Err() == nil {
			now := time.Now()
			for p := 0; p < partitions; p++ {
				st, err := readState(conn, topic, p)
				if err != nil {
					continue
				}
				w.mu.Lock()
				if st.Leader < 0 {
					w.leaderless[p] += now.Sub(last)
				}
				if ls := w.leaders[p]; len(ls) == 0 || ls[len(ls)-1] != st.Leader {
					w.leaders[p] = append(ls, st.Leader)
				}
				w.mu.Unlock()
			}
			last = now
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return w
}

// TestIntegration_ControlledShutdown stops two of three brokers with SIGTERM
// while a producer writes with acks=all: first the controller (its
// controlled shutdown runs on its own event loop), then another broker (it
// sends ControlledShutdown to the new controller). Each moves its
// leaderships away before it stops serving: no state znode ever shows
// leader -1, the producer sees no error it cannot retry, every acknowledged
// record is read back, and the longest pause between acknowledgements of
// each partition is reported.
func TestIntegration_ControlledShutdown(t *testing.T) {
	e := newEnv(t, 3, map[string]string{"replica.lag.time.max.ms": "5000", "controlled.shutdown.retry.backoff.ms": "500"})
	conn := e.zkConn()
	const parts = 3
	e.createTopic("cs", parts, 3)
	e.waitTopic("cs", parts)
	for p := 0; p < parts; p++ {
		e.waitISR(conn, "cs", p, []int32{1, 2, 3})
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(e.c.Bootstrap(), ",")...), kgo.DefaultProduceTopic("cs"),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite(), kgo.ProducerLinger(2*time.Millisecond),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.MaxBufferedRecords(200),
		kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }),
		kgo.MetadataMinAge(50*time.Millisecond), clientLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	acks := &ackTimes{times: map[int32][]time.Time{}, vals: map[string]bool{}}
	watch := watchLeaders(ctx, conn, "cs", parts)

	stop := make(chan struct{})
	var producing sync.WaitGroup
	producing.Add(1)
	sent := 0
	go func() { // bounded: stops on stop, ctx or 500k records
		defer producing.Done()
		for ; sent < 500000; sent++ {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			default:
			}
			cl.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("cs-%07d", sent))}, acks.add)
		}
	}()
	waitAcks := func(n int) {
		eventually(t, 60*time.Second, func() error {
			acks.mu.Lock()
			defer acks.mu.Unlock()
			for p := int32(0); p < parts; p++ {
				if len(acks.times[p]) < n {
					return fmt.Errorf("cs-%d: %d acks", p, len(acks.times[p]))
				}
			}
			return nil
		})
	}
	waitAcks(200)

	controllerID := func() int32 {
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
	shutdown := func(victim int32, what string) {
		var led []int
		for p := 0; p < parts; p++ {
			if mustState(t, conn, "cs", p).Leader == victim {
				led = append(led, p)
			}
		}
		b := e.broker(victim)
		start := time.Now()
		if err := b.Stop(); err != nil {
			t.Fatalf("broker %d: %v", victim, err)
		}
		stopped := time.Now()
		if !strings.Contains(b.Log(), "controlled shutdown succeeded") {
			t.Fatalf("broker %d did not complete a controlled shutdown", victim)
		}
		for _, p := range led {
			st := mustState(t, conn, "cs", p)
			if st.Leader == victim || st.Leader < 0 || slices.Contains(st.ISR, victim) {
				t.Fatalf("cs-%d after the controlled shutdown of %d: %+v", p, victim, st)
			}
		}
		acks.mu.Lock()
		n := len(acks.times[0])
		acks.mu.Unlock()
		waitAcks(n + 200) // production carries on on the new leaders
		done := time.Now()
		// Every partition: those it led move, the others lose it from
		// their ISR (a leader epoch bump that keeps the leader).
		for p := 0; p < parts; p++ {
			how := "its ISR shrank"
			if slices.Contains(led, p) {
				how = "its leader moved"
			}
			gap, began := acks.maxGapAt(int32(p), start, done)
			t.Logf("%s (broker %d): SIGTERM at %s, exit after %.0f ms; cs-%d (%s) longest pause between acks=all acknowledgements %.0f ms (from %s)",
				what, victim, start.Format("15:04:05.000"), stopped.Sub(start).Seconds()*1000, p, how, gap.Seconds()*1000, began.Format("15:04:05.000"))
		}
	}
	// Baseline: the longest pause between acknowledgements with nobody
	// shutting down, over about two seconds.
	base := time.Now()
	time.Sleep(2 * time.Second)
	for p := int32(0); p < parts; p++ {
		t.Logf("baseline: cs-%d longest pause between acks=all acknowledgements %.0f ms", p, acks.maxGap(p, base, time.Now()).Seconds()*1000)
	}
	ctrl := controllerID()
	shutdown(ctrl, "controller")
	e.waitBrokers(2)
	next := controllerID()
	var other int32 = -1
	for _, b := range e.c.Brokers {
		if b.Running() && int32(b.ID) != next {
			other = int32(b.ID)
		}
	}
	shutdown(other, "non-controller")
	close(stop)
	producing.Wait()
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	watch.mu.Lock()
	for p := 0; p < parts; p++ {
		if watch.leaderless[p] > 0 {
			t.Errorf("cs-%d had leader -1 in ZooKeeper for %s", p, watch.leaderless[p])
		}
		t.Logf("cs-%d leaders seen in ZooKeeper: %v (leader -1 for %s)", p, watch.leaders[p], watch.leaderless[p])
	}
	watch.mu.Unlock()
	acks.mu.Lock()
	for _, err := range acks.errs {
		if !kerr.IsRetriable(err) && !errors.Is(err, context.Canceled) {
			t.Errorf("non-retriable produce error: %v", err)
		}
	}
	t.Logf("%d records sent, %d acknowledged, %d produce errors", sent, len(acks.vals), len(acks.errs))
	acked := acks.vals
	acks.mu.Unlock()

	// Everything acknowledged is on the last broker.
	consumer, err := kgo.NewClient(kgo.SeedBrokers(e.broker(next).Addr()), kgo.ConsumeTopics("cs"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	seen := map[string]bool{}
	for missing := len(acked); missing > 0; {
		fs := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d acknowledged records never read back", missing)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !seen[string(r.Value)] && acked[string(r.Value)] {
				missing--
			}
			seen[string(r.Value)] = true
		})
	}
}
