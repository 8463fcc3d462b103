package broker

import (
	"testing"
	"time"

	"github.com/zkafka/zkafka/logstore"
)

// A fetch built while a partition backs off waits at most until that
// partition's pause ends, so the partition is not held up by the long
// poll; without one it waits replica.fetch.wait.max.ms.
func TestBuildFetchWaitsNoLongerThanABackoff(t *testing.T) {
	tb := newTestBrokerID(t, 2)
	part := func(n int32) *partition {
		p, code := tb.b.replicas.getOrCreate(logstore.TopicPartition{Topic: "bf", Partition: n})
		if code != 0 {
			t.Fatalf("partition %d: error %d", n, code)
		}
		return p
	}
	f := &fetcher{m: tb.b.replicas.fetchers, parts: map[logstore.TopicPartition]*fetchState{
		{Topic: "bf", Partition: 0}: {p: part(0)},
	}}
	req, _ := f.buildFetch()
	if req == nil || req.MaxWaitMillis != 500 {
		t.Fatalf("no partition backing off: %+v", req)
	}
	f.parts[logstore.TopicPartition{Topic: "bf", Partition: 1}] = &fetchState{p: part(1), truncating: true, delayUntil: time.Now().Add(40 * time.Millisecond)}
	req, _ = f.buildFetch()
	if req == nil || len(req.Topics[0].Partitions) != 1 || req.MaxWaitMillis > 40 {
		t.Fatalf("one partition backing off for 40 ms: %+v", req)
	}
	delete(f.parts, logstore.TopicPartition{Topic: "bf", Partition: 0})
	if req, wait := f.buildFetch(); req != nil || wait <= 0 || wait > 40*time.Millisecond {
		t.Fatalf("only a partition backing off: request %+v, wait %s", req, wait)
	}
}
