package broker

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/controller"
)

// publishLeader applies an UpdateMetadata naming leader for al-0.
func publishLeader(tb *testBroker, leader int32) {
	req := kmsg.NewPtrUpdateMetadataRequest()
	req.SetVersion(6)
	ts := kmsg.NewUpdateMetadataRequestTopicState()
	ts.Topic = "al"
	ps := kmsg.NewUpdateMetadataRequestTopicPartition()
	ps.Partition, ps.Leader, ps.LeaderEpoch, ps.ISR, ps.Replicas = 0, leader, leader, []int32{1, 2}, []int32{1, 2}
	ts.PartitionStates = []kmsg.UpdateMetadataRequestTopicPartition{ps}
	req.TopicStates = []kmsg.UpdateMetadataRequestTopicState{ts}
	tb.b.meta.update(req)
}

// ElectLeaders' answer waits for the metadata cache to show each elected
// leader (2.4's DelayedElectLeader): woken by UpdateMetadata, or
// REQUEST_TIMED_OUT for what it does not show by the timeout.
func TestAwaitElectedLeaders(t *testing.T) {
	tb := newTestBroker(t)
	ctx := context.Background()
	publishLeader(tb, 1)
	elected, notNeeded := controller.TP{Topic: "al", Partition: 0}, controller.TP{Topic: "al", Partition: 1}

	results := map[controller.TP]controller.ElectionResult{
		elected:   {Leader: 2},
		notNeeded: {ErrorCode: kerr.ElectionNotNeeded.Code},
	}
	if err := tb.b.awaitElectedLeaders(ctx, 0, results); err != nil {
		t.Fatal(err)
	}
	if results[elected].ErrorCode != kerr.RequestTimedOut.Code || results[notNeeded].ErrorCode != kerr.ElectionNotNeeded.Code {
		t.Fatalf("not shown by the timeout: %+v", results)
	}

	results = map[controller.TP]controller.ElectionResult{elected: {Leader: 2}}
	done := make(chan error, 1)
	go func() { done <- tb.b.awaitElectedLeaders(ctx, time.Minute, results) }()
	publishLeader(tb, 2) // the wait is a minute: only this update can end it early
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if results[elected].ErrorCode != 0 {
		t.Fatalf("shown by UpdateMetadata: %+v", results)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	results = map[controller.TP]controller.ElectionResult{elected: {Leader: 3}}
	if err := tb.b.awaitElectedLeaders(cctx, time.Minute, results); err == nil {
		t.Fatal("a closed connection's wait did not fail")
	}
}
