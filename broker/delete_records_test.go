package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

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

func TestDeleteRecordsEveryVersion(t *testing.T) {
	tb := newTestBroker(t)
	c := tb.dial(t)
	tb.lead(t, c, "t", 2, 0)
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
