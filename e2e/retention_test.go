package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
	"github.com/zkafka/zkafka/internal/testutil"
)

// TestIntegration_Retention runs a broker process with 1 KiB segments and a
// 200 ms retention check: retention.bytes and retention.ms topic overrides
// delete whole segments (renamed .deleted, removed after
// file.delete.delay.ms), the log start offset advances (ListOffsets
// earliest), a fetch below it is OFFSET_OUT_OF_RANGE, and DeleteRecords
// moves it on request and survives a restart (log-start-offset-checkpoint).
func TestIntegration_Retention(t *testing.T) {
	e := newEnv(t, 1, map[string]string{
		"log.segment.bytes":                             "1024",
		"log.retention.check.interval.ms":               "200",
		"log.flush.start.offset.checkpoint.interval.ms": "200",
	})
	b := e.c.Brokers[0]
	e.run("", "topics", "--bootstrap-server", b.Addr(), "--create", "--topic", "by-bytes", "--partitions", "1",
		"--replication-factor", "1", "--config", "retention.bytes=3000", "--config", "file.delete.delay.ms=5000")
	e.run("", "topics", "--bootstrap-server", b.Addr(), "--create", "--topic", "by-time", "--partitions", "1",
		"--replication-factor", "1", "--config", "retention.ms=86400000", "--config", "file.delete.delay.ms=100")
	e.createTopic("dr", 1, 1)
	for _, topic := range []string{"by-bytes", "by-time", "dr"} {
		e.waitTopic(topic, 1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := wire.Dial(ctx, b.Addr(), "e2e-retention")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { conn.Close() }()

	// 30 batches of 3 records (~400 bytes each): about 12 segments.
	old := time.Now().Add(-48 * time.Hour).UnixMilli()
	for i := 0; i < 30; i++ {
		for topic, ts := range map[string]int64{"by-bytes": time.Now().UnixMilli(), "by-time": old, "dr": time.Now().UnixMilli()} {
			produceBatch(t, ctx, conn, topic, ts)
		}
	}

	// retention.bytes: old segments become .deleted, then disappear.
	dir := filepath.Join(b.Dir, "by-bytes-0")
	eventually(t, 30*time.Second, func() error {
		if m, _ := filepath.Glob(filepath.Join(dir, "*.log.deleted")); len(m) == 0 {
			return fmt.Errorf("no .deleted segment yet")
		}
		return nil
	})
	eventually(t, 30*time.Second, func() error {
		if m, _ := filepath.Glob(filepath.Join(dir, "*.deleted")); len(m) > 0 {
			return fmt.Errorf("still there: %v", m)
		}
		return nil
	})
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	var size int64
	for _, p := range logs {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		size += fi.Size()
	}
	if size > 3000+1024 || len(logs) < 2 {
		t.Fatalf("by-bytes: %d bytes in %d segments left", size, len(logs))
	}
	first := filepath.Base(logs[0]) // sorted by Glob: the oldest segment
	var firstBase int64
	fmt.Sscanf(strings.TrimSuffix(first, ".log"), "%d", &firstBase)
	if start := listEarliest(t, ctx, conn, "by-bytes"); start != firstBase || start == 0 {
		t.Fatalf("by-bytes: earliest %d, first segment %s", start, first)
	}
	if code := fetchCode(t, ctx, conn, "by-bytes", 0); code != kerr.OffsetOutOfRange.Code {
		t.Fatalf("by-bytes: fetch below the log start: error %d", code)
	}

	// retention.ms: every batch is two days old: all segments go, the log
	// rolls a new empty one at the end.
	eventually(t, 30*time.Second, func() error {
		if start := listEarliest(t, ctx, conn, "by-time"); start != 90 {
			return fmt.Errorf("by-time earliest %d", start)
		}
		if m, _ := filepath.Glob(filepath.Join(b.Dir, "by-time-0", "*.log")); len(m) != 1 || filepath.Base(m[0]) != fmt.Sprintf("%020d.log", 90) {
			return fmt.Errorf("by-time segments %v", m)
		}
		return nil
	})

	// DeleteRecords through the Kafka protocol.
	if low, code := deleteRecordsReq(t, ctx, conn, "dr", 0, 25); code != 0 || low != 25 {
		t.Fatalf("DeleteRecords: error %d low watermark %d", code, low)
	}
	if low, code := deleteRecordsReq(t, ctx, conn, "dr", 0, 91); code != kerr.OffsetOutOfRange.Code || low != -1 {
		t.Fatalf("DeleteRecords past the HW: error %d low watermark %d", code, low)
	}
	if start := listEarliest(t, ctx, conn, "dr"); start != 25 {
		t.Fatalf("dr: earliest %d", start)
	}
	if code := fetchCode(t, ctx, conn, "dr", 24); code != kerr.OffsetOutOfRange.Code {
		t.Fatalf("dr: fetch below the log start: error %d", code)
	}
	if code := fetchCode(t, ctx, conn, "dr", 25); code != 0 {
		t.Fatalf("dr: fetch at the log start: error %d", code)
	}
	eventually(t, 30*time.Second, func() error {
		data, err := os.ReadFile(filepath.Join(b.Dir, "log-start-offset-checkpoint"))
		if err != nil || !strings.Contains(string(data), "\ndr 0 25\n") {
			return fmt.Errorf("checkpoint %q %v", data, err)
		}
		return nil
	})
	conn.Close()
	b.Kill() // the checkpoint, not a clean shutdown, carries the log start
	b.Start()
	b.WaitListening(30 * time.Second)
	e.waitTopic("dr", 1)
	conn, err = wire.Dial(ctx, b.Addr(), "e2e-retention")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if start := listEarliestErr(ctx, conn, "dr"); start != 25 {
			return fmt.Errorf("dr after restart: earliest %d", start)
		}
		return nil
	})
}

func produceBatch(t *testing.T, ctx context.Context, conn *wire.Conn, topic string, ts int64) {
	t.Helper()
	var recs []byte
	for i := 0; i < 3; i++ {
		recs = testutil.AppendRecord(recs, int64(i), nil, []byte(strings.Repeat("v", 100)))
	}
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(7)
	req.Acks, req.TimeoutMillis = 1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rt.Partitions = []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: testutil.BuildBatch(0, 3, ts, recs)}}
	req.Topics = []kmsg.ProduceRequestTopic{rt}
	r, err := conn.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if code := r.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("produce to %s: error %d", topic, code)
	}
}

func listEarliestErr(ctx context.Context, conn *wire.Conn, topic string) int64 {
	return listOffsetErr(ctx, conn, topic, -2)
}

// listOffsetErr is ListOffsets v5 of partition 0 at timestamp (-1 latest,
// -2 earliest): the offset, or minus the error code (-100 when the request
// failed).
func listOffsetErr(ctx context.Context, conn *wire.Conn, topic string, timestamp int64) int64 {
	req := kmsg.NewPtrListOffsetsRequest()
	req.SetVersion(5)
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = 0, timestamp, -1
	rt.Partitions = []kmsg.ListOffsetsRequestTopicPartition{rp}
	req.Topics = []kmsg.ListOffsetsRequestTopic{rt}
	r, err := conn.Request(ctx, req)
	if err != nil {
		return -100
	}
	sp := r.(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
	if sp.ErrorCode != 0 {
		return -int64(sp.ErrorCode)
	}
	return sp.Offset
}

func listEarliest(t *testing.T, ctx context.Context, conn *wire.Conn, topic string) int64 {
	t.Helper()
	off := listEarliestErr(ctx, conn, topic)
	if off < 0 {
		t.Fatalf("list offsets %s: %d", topic, off)
	}
	return off
}

// fetchCode fetches from offset and returns the partition's error code; on
// success the first batch must hold offset.
func fetchCode(t *testing.T, ctx context.Context, conn *wire.Conn, topic string, offset int64) int16 {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(11)
	req.ReplicaID, req.MaxBytes, req.MinBytes = -1, 1<<20, 1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 0, offset, 1<<20, -1
	rt.Partitions = []kmsg.FetchRequestTopicPartition{rp}
	req.Topics = []kmsg.FetchRequestTopic{rt}
	r, err := conn.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	sp := r.(*kmsg.FetchResponse).Topics[0].Partitions[0]
	if sp.ErrorCode == 0 {
		if len(sp.RecordBatches) < 61 {
			t.Fatalf("fetch %s at %d: %d bytes", topic, offset, len(sp.RecordBatches))
		}
		base := int64(binary.BigEndian.Uint64(sp.RecordBatches))
		last := base + int64(binary.BigEndian.Uint32(sp.RecordBatches[23:]))
		if base > offset || last < offset {
			t.Fatalf("fetch %s at %d: first batch [%d, %d]", topic, offset, base, last)
		}
	}
	return sp.ErrorCode
}

func deleteRecordsReq(t *testing.T, ctx context.Context, conn *wire.Conn, topic string, p int32, offset int64) (int64, int16) {
	t.Helper()
	return deleteRecordsWithin(t, ctx, conn, topic, p, offset, 5000)
}
