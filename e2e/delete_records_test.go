package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
	"github.com/zkafka/zkafka/logstore"
)

// deleteRecordsWithin sends DeleteRecords v1 with timeout_ms to conn and
// returns the partition's low watermark and error code.
func deleteRecordsWithin(t *testing.T, ctx context.Context, conn *wire.Conn, topic string, p int32, offset int64, timeoutMs int32) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.SetVersion(1)
	req.TimeoutMillis = timeoutMs
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = p, offset
	rt.Partitions = []kmsg.DeleteRecordsRequestTopicPartition{rp}
	req.Topics = []kmsg.DeleteRecordsRequestTopic{rt}
	r, err := conn.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	sp := r.(*kmsg.DeleteRecordsResponse).Topics[0].Partitions[0]
	return sp.LowWatermark, sp.ErrorCode
}

// checkpointedLogStart reads a broker's log-start-offset-checkpoint entry
// for tp (-1 if absent: the log starts at its first segment, offset 0 here).
func checkpointedLogStart(dir string, tp logstore.TopicPartition) (int64, error) {
	m, err := logstore.ReadCheckpointFile(filepath.Join(dir, logstore.LogStartOffsetCheckpointFile))
	if err != nil {
		return -1, err
	}
	if v, ok := m[tp]; ok {
		return v, nil
	}
	return -1, nil
}

// TestIntegration_DeleteRecordsWaitsForReplicas: on a 3-broker, RF 3
// partition, DeleteRecords answers once every live replica's log start
// offset reached the offset (Kafka 2.4's DelayedDeleteRecords and
// lowWatermarkIfLeader), with low_watermark = the offset, and each
// broker's log-start-offset-checkpoint shows it. A follower that is alive
// (registered) but does not fetch (SIGSTOP) makes the request time out
// (REQUEST_TIMED_OUT, with the low watermark of the start); once it runs
// again it follows. A follower whose broker is gone (SIGTERM) no longer
// counts, as 2.4 only counts replicas on live brokers.
func TestIntegration_DeleteRecordsWaitsForReplicas(t *testing.T) {
	e := newEnv(t, 3, map[string]string{
		"auto.leader.rebalance.enable":                  "false",
		"log.flush.start.offset.checkpoint.interval.ms": "200",
		"zookeeper.session.timeout.ms":                  "30000", // SIGSTOP for a while keeps the session
	})
	conn := e.zkConn()
	e.createTopic("dw", 1, 3)
	e.waitTopic("dw", 1)
	e.waitISR(conn, "dw", 0, []int32{1, 2, 3})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(e.c.Bootstrap(), ",")...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := range 1000 {
		recs = append(recs, &kgo.Record{Topic: "dw", Partition: 0, Value: fmt.Appendf(nil, "dw-%04d", i)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	st := mustState(t, conn, "dw", 0)
	leader := e.broker(st.Leader)
	lc, err := wire.Dial(ctx, leader.Addr(), "e2e")
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	tp := logstore.TopicPartition{Topic: "dw", Partition: 0}
	replicasAt := func(brokers []int32, want int64) {
		t.Helper()
		eventually(t, 30*time.Second, func() error {
			for _, id := range brokers {
				if got, err := checkpointedLogStart(e.broker(id).Dir, tp); err != nil || got < want {
					return fmt.Errorf("broker %d: log start %d (%v), want >= %d", id, got, err, want)
				}
			}
			return nil
		})
	}

	// Every replica live and fetching: answered with the offset.
	started := time.Now()
	if low, code := deleteRecordsWithin(t, ctx, lc, "dw", 0, 400, 30000); code != 0 || low != 400 {
		t.Fatalf("DeleteRecords 400: error %v, low watermark %d", kerr.ErrorForCode(code), low)
	}
	t.Logf("DeleteRecords to 400 on RF 3 answered in %s", time.Since(started).Round(time.Millisecond))
	replicasAt([]int32{1, 2, 3}, 400)
	if start := listEarliest(t, ctx, lc, "dw"); start != 400 {
		t.Fatalf("earliest %d", start)
	}

	// A follower stopped (SIGSTOP: still registered, so alive to the
	// leader) holds the low watermark: timed out, with the low watermark
	// of the start (400).
	ctrl := controllerID(t, conn)
	var paused int32
	for _, id := range []int32{1, 2, 3} {
		if id != st.Leader && (paused == 0 || paused == ctrl) {
			paused = id
		}
	}
	pb := e.broker(paused)
	if err := pb.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	cont := func() {
		if pb.Running() {
			pb.Signal(syscall.SIGCONT)
		}
	}
	defer cont()
	if low, code := deleteRecordsWithin(t, ctx, lc, "dw", 0, 600, 1000); code != kerr.RequestTimedOut.Code || low != 400 {
		t.Fatalf("DeleteRecords 600 with broker %d stopped: error %v, low watermark %d", paused, kerr.ErrorForCode(code), low)
	}
	// The leader moved its own log start anyway; the running follower too.
	var others []int32
	for _, id := range []int32{1, 2, 3} {
		if id != paused {
			others = append(others, id)
		}
	}
	replicasAt(others, 600)
	// It runs again: it takes the leader's log start and reports it.
	cont()
	if low, code := deleteRecordsWithin(t, ctx, lc, "dw", 0, 600, 30000); code != 0 || low != 600 {
		t.Fatalf("DeleteRecords 600 after SIGCONT: error %v, low watermark %d", kerr.ErrorForCode(code), low)
	}
	replicasAt([]int32{1, 2, 3}, 600)

	// Its broker shuts down (deregistered): it no longer counts.
	if err := pb.Stop(); err != nil {
		t.Fatalf("broker %d: %v", paused, err)
	}
	if low, code := deleteRecordsWithin(t, ctx, lc, "dw", 0, 800, 30000); code != 0 || low != 800 {
		t.Fatalf("DeleteRecords 800 with broker %d down: error %v, low watermark %d", paused, kerr.ErrorForCode(code), low)
	}
	replicasAt(others, 800)
	if got, _ := checkpointedLogStart(pb.Dir, tp); got != 600 {
		t.Fatalf("the stopped broker's log start %d, want 600", got)
	}
	if !slices.Contains(others, st.Leader) {
		t.Fatal("the leader was stopped")
	}
}
