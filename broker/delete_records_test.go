package broker

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
	"github.com/zkafka/zkafka/logstore"
)

func deleteRecordsReq(offsets map[string]map[int32]int64) *kmsg.DeleteRecordsRequest {
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.TimeoutMillis = 5000
	for topic, parts := range offsets {
		rt := kmsg.NewDeleteRecordsRequestTopic()
		rt.Topic = topic
		for p, off := range parts {
			rp := kmsg.NewDeleteRecordsRequestTopicPartition()
			rp.Partition, rp.Offset = p, off
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// deleteRecords sends one DeleteRecords for one partition and returns its
// answer.
func deleteRecords(t *testing.T, tb *testBroker, topic string, p int32, offset int64, version int16) kmsg.DeleteRecordsResponseTopicPartition {
	t.Helper()
	r := request[*kmsg.DeleteRecordsResponse](t, tb.dial(t), deleteRecordsReq(map[string]map[int32]int64{topic: {p: offset}}), version)
	if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
		t.Fatalf("response %+v", r)
	}
	return r.Topics[0].Partitions[0]
}

// aliveBrokers tells the test broker (an UpdateMetadata) that only the
// given brokers are alive; broker 1 is the test broker itself.
func (tb *testBroker) aliveBrokers(t *testing.T, c *wire.Conn, ids ...int32) {
	t.Helper()
	_, port, _ := net.SplitHostPort(tb.addr)
	portN, _ := strconv.Atoi(port)
	um := kmsg.NewPtrUpdateMetadataRequest()
	um.ControllerID, um.ControllerEpoch, um.BrokerEpoch = 1, 1, -1
	for _, id := range ids {
		lb := kmsg.NewUpdateMetadataRequestLiveBroker()
		lb.ID = id
		lb.Endpoints = []kmsg.UpdateMetadataRequestLiveBrokerEndpoint{{Host: "127.0.0.1", Port: int32(portN), ListenerName: "PLAINTEXT"}}
		if id != 1 {
			lb.Endpoints[0].Port = 1
		}
		um.LiveBrokers = append(um.LiveBrokers, lb)
	}
	if r := request[*kmsg.UpdateMetadataResponse](t, c, um, 6); r.ErrorCode != 0 {
		t.Fatalf("UpdateMetadata: %d", r.ErrorCode)
	}
}

// followerFetch is a Fetch of replica id from offset reporting logStart, as
// a follower sends it; it returns the partition's answer.
func followerFetch(t *testing.T, c *wire.Conn, id int32, topic string, p int32, offset, logStart int64) kmsg.FetchResponseTopicPartition {
	t.Helper()
	req := fetchReq(topic, p, offset, 0, 0)
	req.ReplicaID = id
	req.Topics[0].Partitions[0].LogStartOffset = logStart
	return request[*kmsg.FetchResponse](t, c, req, 11).Topics[0].Partitions[0]
}

func TestDeleteRecordsEveryVersion(t *testing.T) {
	tb := newTestBroker(t)
	c := tb.dial(t)
	tb.lead(t, c, "t", 2, 0)
	// The follower's broker (2) is not alive: only the leader's log start
	// counts (TestDeleteRecordsWaitsForFollowers has the rest).
	tb.aliveBrokers(t, c, 1)
	for i := 0; i < 10; i++ {
		r := request[*kmsg.ProduceResponse](t, c, produceReq("t", 0, testBatch(3), 1), 8)
		if r.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("produce: %d", r.Topics[0].Partitions[0].ErrorCode)
		}
	}
	for v := int16(0); v <= 1; v++ {
		for _, tc := range []struct {
			name   string
			topic  string
			p      int32
			offset int64
			code   int16
			low    int64
		}{
			{"move the log start", "t", 0, 4 + 5*int64(v), 0, 4 + 5*int64(v)},
			{"lower: unchanged", "t", 0, 2, 0, 4 + 5*int64(v)},
			{"beyond the high watermark", "t", 0, 31, kerr.OffsetOutOfRange.Code, -1},
			{"negative", "t", 0, -2, kerr.OffsetOutOfRange.Code, -1},
			{"empty partition to its HW", "t", 1, -1, 0, 0},
			{"unknown topic", "nope", 0, 1, kerr.UnknownTopicOrPartition.Code, -1},
			{"unknown partition", "t", 7, 1, kerr.UnknownTopicOrPartition.Code, -1},
			{"internal topic", "__consumer_offsets", 0, 1, kerr.InvalidTopicException.Code, -1},
		} {
			sp := deleteRecords(t, tb, tc.topic, tc.p, tc.offset, v)
			if sp.ErrorCode != tc.code || sp.LowWatermark != tc.low {
				t.Errorf("v%d %s: error %d low watermark %d, want %d %d", v, tc.name, sp.ErrorCode, sp.LowWatermark, tc.code, tc.low)
			}
		}
	}
	// Below the log start: fetch is OFFSET_OUT_OF_RANGE, ListOffsets
	// earliest answers the new start.
	r := request[*kmsg.FetchResponse](t, c, fetchReq("t", 0, 3, 0, 1), 11)
	if sp := r.Topics[0].Partitions[0]; sp.ErrorCode != kerr.OffsetOutOfRange.Code || sp.LogStartOffset != 9 {
		t.Fatalf("fetch below log start: error %d, log start %d", sp.ErrorCode, sp.LogStartOffset)
	}
	lo := kmsg.NewPtrListOffsetsRequest()
	lo.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp = 0, listEarliest
	rt.Partitions = []kmsg.ListOffsetsRequestTopicPartition{rp}
	lo.Topics = []kmsg.ListOffsetsRequestTopic{rt}
	if sp := request[*kmsg.ListOffsetsResponse](t, c, lo, 5).Topics[0].Partitions[0]; sp.ErrorCode != 0 || sp.Offset != 9 {
		t.Fatalf("earliest: error %d offset %d", sp.ErrorCode, sp.Offset)
	}
	// -1 deletes up to the high watermark.
	if sp := deleteRecords(t, tb, "t", 0, -1, 1); sp.ErrorCode != 0 || sp.LowWatermark != 30 {
		t.Fatalf("to HW: %+v", sp)
	}
	// A compact-only topic refuses (Kafka's PolicyViolationException).
	l, _ := tb.b.logs.Get(logstore.TopicPartition{Topic: "t", Partition: 1})
	cfg := l.Config()
	cfg.CleanupDelete, cfg.CleanupCompact = false, true
	if err := l.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if sp := deleteRecords(t, tb, "t", 1, 0, 1); sp.ErrorCode != kerr.PolicyViolation.Code || sp.LowWatermark != -1 {
		t.Fatalf("compact topic: %+v", sp)
	}
	// Several partitions in one request, each answered.
	resp := request[*kmsg.DeleteRecordsResponse](t, c, deleteRecordsReq(map[string]map[int32]int64{"t": {0: 30, 1: 0}, "nope": {0: 0}}), 1)
	codes := map[string]int16{}
	for _, rt := range resp.Topics {
		for _, sp := range rt.Partitions {
			codes[rt.Topic+"/"+string(rune('0'+sp.Partition))] = sp.ErrorCode
		}
	}
	if len(codes) != 3 || codes["t/0"] != 0 || codes["t/1"] != kerr.PolicyViolation.Code || codes["nope/0"] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("multi-partition answer %v", codes)
	}
}

// TestDeleteRecordsWaitsForFollowers: DeleteRecords answers once the low
// watermark (the smallest log start offset of the leader and of the
// followers on live brokers, reported in their fetches) reached the
// offset, as Kafka 2.4's DelayedDeleteRecords.
func TestDeleteRecordsWaitsForFollowers(t *testing.T) {
	tb := newTestBroker(t)
	c := tb.dial(t)
	tb.lead(t, c, "w", 1, 0) // replicas [1,2], broker 2 alive
	for i := 0; i < 10; i++ {
		if r := request[*kmsg.ProduceResponse](t, c, produceReq("w", 0, testBatch(3), 1), 8); r.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("produce: %d", r.Topics[0].Partitions[0].ErrorCode)
		}
	}
	del := func(offset int64, timeoutMs int32) kmsg.DeleteRecordsResponseTopicPartition {
		req := deleteRecordsReq(map[string]map[int32]int64{"w": {0: offset}})
		req.TimeoutMillis = timeoutMs
		return request[*kmsg.DeleteRecordsResponse](t, tb.dial(t), req, 1).Topics[0].Partitions[0]
	}
	l, _ := tb.b.logs.Get(logstore.TopicPartition{Topic: "w", Partition: 0})

	// Follower 2 is alive but has not fetched: its log start is unknown,
	// the request times out with the low watermark it had (-1), though the
	// leader's log start moved.
	if sp := del(6, 100); sp.ErrorCode != kerr.RequestTimedOut.Code || sp.LowWatermark != -1 || l.LogStartOffset() != 6 {
		t.Fatalf("unknown follower: %+v, leader log start %d", sp, l.LogStartOffset())
	}
	// It fetches, still at log start 0; the leader tells it its own.
	if fp := followerFetch(t, c, 2, "w", 0, 30, 0); fp.ErrorCode != 0 || fp.LogStartOffset != 6 {
		t.Fatalf("follower fetch: %+v", fp)
	}
	// A request parks until the follower reports a log start at or past
	// the offset; the low watermark answered is the smallest log start.
	got := make(chan kmsg.DeleteRecordsResponseTopicPartition, 1)
	go func() { got <- del(9, 30000) }()
	waitLogStart(t, l, 9)                 // the leader moved its own first
	followerFetch(t, c, 2, "w", 0, 30, 7) // not there yet
	followerFetch(t, c, 2, "w", 0, 30, 12)
	if sp := <-got; sp.ErrorCode != 0 || sp.LowWatermark != 9 {
		t.Fatalf("after the follower caught up: %+v", sp)
	}
	// A follower whose broker died stops counting: the wait ends on the
	// metadata update.
	go func() { got <- del(15, 30000) }()
	waitLogStart(t, l, 15)
	tb.aliveBrokers(t, c, 1)
	if sp := <-got; sp.ErrorCode != 0 || sp.LowWatermark != 15 {
		t.Fatalf("after the follower's broker died: %+v", sp)
	}
	// A v4 fetch carries no log start: the follower counts as unknown
	// again once alive.
	tb.aliveBrokers(t, c, 1, 2)
	req := fetchReq("w", 0, 30, 0, 0)
	req.ReplicaID = 2
	request[*kmsg.FetchResponse](t, c, req, 4)
	if sp := del(15, 50); sp.ErrorCode != kerr.RequestTimedOut.Code || sp.LowWatermark != -1 {
		t.Fatalf("v4 follower: %+v", sp)
	}
}

func waitLogStart(t *testing.T, l *logstore.Log, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for l.LogStartOffset() != want {
		if time.Now().After(deadline) {
			t.Fatalf("log start %d, want %d", l.LogStartOffset(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestDeleteRecordsReplicatedInProcess: a real follower (its replica
// fetcher) takes the leader's log start offset from the Fetch answers and
// reports its own in the next fetch, so a DeleteRecords on the leader
// answers with both moved; a follower that stops fetching while its broker
// lives makes the next one time out.
func TestDeleteRecordsReplicatedInProcess(t *testing.T) {
	b1, b2 := newTestBrokerID(t, 1), newTestBrokerID(t, 2)
	c1, c2 := b1.dial(t), b2.dial(t)
	tp := logstore.TopicPartition{Topic: "d", Partition: 0}
	leaders := map[int32]*testBroker{1: b1}
	leaderAndIsr(t, c1, "d", 0, 1, 0, []int32{1, 2}, []int32{1, 2}, leaders)
	leaderAndIsr(t, c2, "d", 0, 1, 0, []int32{1, 2}, []int32{1, 2}, leaders)
	b1.aliveBrokers(t, c1, 1, 2)
	for i := 0; i < 20; i++ {
		r := request[*kmsg.ProduceResponse](t, c1, produceReq("d", 0, testBatch(5), -1), 8)
		if sp := r.Topics[0].Partitions[0]; sp.ErrorCode != 0 {
			t.Fatalf("acks=all produce %d: %v", i, kerr.ErrorForCode(sp.ErrorCode))
		}
	}
	l1, _ := b1.b.logs.Get(tp)
	l2, _ := b2.b.logs.Get(tp)
	req := deleteRecordsReq(map[string]map[int32]int64{"d": {0: 50}})
	req.TimeoutMillis = 30000
	sp := request[*kmsg.DeleteRecordsResponse](t, c1, req, 1).Topics[0].Partitions[0]
	if sp.ErrorCode != 0 || sp.LowWatermark != 50 {
		t.Fatalf("DeleteRecords: %+v", sp)
	}
	// Answered only once the follower reported it: its log start is there.
	if l1.LogStartOffset() != 50 || l2.LogStartOffset() != 50 {
		t.Fatalf("log starts: leader %d, follower %d", l1.LogStartOffset(), l2.LogStartOffset())
	}
	// The follower stops fetching but its broker lives: time out, with the
	// low watermark of the start.
	b2.b.replicas.fetchers.remove(tp)
	req = deleteRecordsReq(map[string]map[int32]int64{"d": {0: 70}})
	req.TimeoutMillis = 200
	sp = request[*kmsg.DeleteRecordsResponse](t, c1, req, 1).Topics[0].Partitions[0]
	if sp.ErrorCode != kerr.RequestTimedOut.Code || sp.LowWatermark != 50 || l2.LogStartOffset() != 50 {
		t.Fatalf("stopped follower: %+v, follower log start %d", sp, l2.LogStartOffset())
	}
}
