package logstore

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"hash/crc32"
	"io"
	"math"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// batchSpec describes a test batch.
type batchSpec struct {
	n         int   // records
	valueSize int   // bytes per value
	ts        int64 // first timestamp; record i has ts+i
	gzip      bool
}

// makeBatch builds a valid magic-v2 batch (kmsg.RecordBatch for the header,
// records encoded by hand), baseOffset 0, leader epoch -1.
func makeBatch(tb testing.TB, s batchSpec) []byte {
	tb.Helper()
	var recs []byte
	for i := 0; i < s.n; i++ {
		var body []byte
		body = append(body, 0)                     // attributes
		body = binary.AppendVarint(body, int64(i)) // timestamp delta
		body = binary.AppendVarint(body, int64(i)) // offset delta
		body = binary.AppendVarint(body, -1)       // null key
		body = binary.AppendVarint(body, int64(s.valueSize))
		for j := 0; j < s.valueSize; j++ {
			body = append(body, byte('a'+(i+j)%26))
		}
		body = binary.AppendVarint(body, 0) // headers
		recs = binary.AppendVarint(recs, int64(len(body)))
		recs = append(recs, body...)
	}
	var attrs int16
	if s.gzip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(recs)
		zw.Close()
		recs, attrs = buf.Bytes(), 1
	}
	rb := kmsg.NewRecordBatch()
	rb.FirstOffset = 0
	rb.PartitionLeaderEpoch = -1
	rb.Magic = 2
	rb.Attributes = attrs
	rb.LastOffsetDelta = int32(s.n - 1)
	rb.FirstTimestamp = s.ts
	rb.MaxTimestamp = s.ts + int64(s.n) - 1
	rb.ProducerID, rb.ProducerEpoch, rb.FirstSequence = -1, -1, -1
	rb.NumRecords = int32(s.n)
	rb.Records = recs
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func testLogger() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

// smallConfig rolls and indexes often.
func smallConfig() Config {
	return Config{SegmentBytes: 4096, IndexIntervalBytes: 256, IndexMaxBytes: 1024, MaxMessageBytes: 1 << 20}
}

func openTestLog(t testing.TB, dir string, cfg Config) *Log {
	t.Helper()
	cfg.EnsureDefaults()
	l, err := openLog(dir, TopicPartition{"t", 0}, cfg, testLogger(), openOptions{highWatermark: -1})
	if err != nil {
		t.Fatalf("openLog: %v", err)
	}
	return l
}

// crash closes the log's files without flushing, sealing or trimming, like a
// kill -9 (the page cache keeps the data).
func crash(l *Log) { l.close(false) }

func mustAppend(t testing.TB, l *Log, rec []byte) AppendInfo {
	t.Helper()
	info, err := l.Append(rec, 7)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return info
}

func readAll(t testing.TB, l *Log, offset int64, maxBytes int32) []byte {
	t.Helper()
	r, err := l.Read(offset, maxBytes, math.MaxInt64, true)
	if err != nil {
		t.Fatalf("read at %d: %v", offset, err)
	}
	b, err := r.AppendTo(nil)
	if err != nil {
		t.Fatalf("read bytes at %d: %v", offset, err)
	}
	if int64(len(b)) != r.Size {
		t.Fatalf("read %d bytes, Size %d", len(b), r.Size)
	}
	return b
}

// parseAll splits a byte range into validated batch headers.
func parseAll(t testing.TB, b []byte) []BatchHeader {
	t.Helper()
	var out []BatchHeader
	for len(b) > 0 {
		h, err := ParseBatchHeader(b)
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		if err := checkHeader(h, int64(len(b))); err != nil {
			t.Fatalf("header: %v", err)
		}
		if err := checkCRC(h, b[:h.Size()]); err != nil {
			t.Fatalf("crc: %v", err)
		}
		out = append(out, h)
		b = b[h.Size():]
	}
	return out
}
