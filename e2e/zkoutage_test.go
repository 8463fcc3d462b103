package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestIntegration_ZooKeeperOutage: with ZooKeeper down, brokers keep
// serving what they safely can — leaders and ISRs stay as they are, acks=all
// produces are acknowledged by the unchanged ISR, consumers read — and when
// ZooKeeper is back the sessions are still there and the cluster carries on
// (a topic created afterwards gets leaders).
func TestIntegration_ZooKeeperOutage(t *testing.T) {
	e := newEnv(t, 3, nil)
	e.createTopic("outage", 3, 3)
	e.waitTopic("outage", 3)
	seeds := strings.Split(e.c.Bootstrap(), ",")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic("outage"), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(from, n int) {
		t.Helper()
		var recs []*kgo.Record
		for i := from; i < from+n; i++ {
			recs = append(recs, &kgo.Record{Value: []byte(fmt.Sprintf("v%05d", i))})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("acks=all produce: %v", err)
		}
	}
	produce(0, 500)

	e.zk.Kill()
	produce(500, 500) // no ZooKeeper: the ISR is unchanged, acks=all still works
	consumer, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics("outage"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	seen := map[string]bool{}
	for len(seen) < 1000 && ctx.Err() == nil {
		consumer.PollFetches(ctx).EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
	}
	if len(seen) != 1000 {
		t.Fatalf("read %d of 1000 records while ZooKeeper was down", len(seen))
	}

	e.zk.Restart()
	produce(1000, 100)
	e.waitBrokers(3)
	e.createTopic("after-outage", 2, 3)
	e.waitTopic("after-outage", 2)
}
