package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/zkafka/zkafka/logstore"
)

func quietLogger() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

func mustEncode(t *testing.T, h logstore.BatchHeader, codec int, recs []logstore.Record) []byte {
	t.Helper()
	b, err := logstore.EncodeRecords(h, codec, recs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeSegment appends batches to a fresh log through the log store (offsets,
// leader epoch, .index and .timeindex as the broker writes them) and
// returns the partition directory. The batches are stored as a follower
// stores them (offsets assigned here, leader epoch 5), so idempotent
// batches need not start at sequence 0.
func writeSegment(t *testing.T, batches ...[]byte) string {
	t.Helper()
	dir := t.TempDir()
	cfg := logstore.DefaultConfig()
	cfg.IndexIntervalBytes = 1 // an index entry for every batch
	m, err := logstore.OpenManager([]string{dir}, cfg, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	l, err := m.GetOrCreate(logstore.TopicPartition{Topic: "t", Partition: 0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	next := int64(0)
	for _, b := range batches {
		b = append([]byte(nil), b...)
		binary.BigEndian.PutUint64(b, uint64(next)) // base offset and leader epoch lie outside the CRC
		binary.BigEndian.PutUint32(b[12:], 5)
		info, err := l.AppendAsFollower(b)
		if err != nil {
			t.Fatal(err)
		}
		next = info.LastOffset + 1
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "t-0")
}

const seg0 = "00000000000000000000"

func TestDumpLogPrintsBatchesRecordsAndIndexes(t *testing.T) {
	b1 := mustEncode(t, logstore.BatchHeader{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, logstore.CompressionNone, []logstore.Record{
		{Offset: 0, Timestamp: 1000, Key: []byte("k0"), Value: []byte("hello")},
		{Offset: 1, Timestamp: 1002, Value: []byte("world"), Headers: []logstore.RecordHeader{{Key: "h1", Value: []byte("x")}, {Key: "h2"}}},
		{Offset: 2, Timestamp: 1001, Key: []byte("gone")}, // tombstone
	})
	b2 := mustEncode(t, logstore.BatchHeader{ProducerID: 7, ProducerEpoch: 1, BaseSequence: 10}, logstore.CompressionGzip, []logstore.Record{
		{Offset: 0, Timestamp: 2000, Value: []byte("zipped")},
		{Offset: 1, Timestamp: 2001, Value: []byte("again")},
	})
	dir := writeSegment(t, b1, b2)
	logPath := filepath.Join(dir, seg0+".log")

	code, out, errOut := runCLI(t, "", "dump-log", "--files", logPath, "--print-data-log")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	h1, _ := logstore.ParseBatchHeader(b1)
	h2, _ := logstore.ParseBatchHeader(b2)
	want := []string{
		"Dumping " + logPath,
		"Starting offset: 0",
		fmt.Sprintf("baseOffset: 0 lastOffset: 2 count: 3 baseSequence: -1 lastSequence: -1 producerId: -1 producerEpoch: -1 partitionLeaderEpoch: 5 isTransactional: false isControl: false position: 0 CreateTime: 1002 size: %d magic: 2 compresscodec: NONE crc: %d isvalid: true", len(b1), h1.CRC),
		"| offset: 0 CreateTime: 1000 keysize: 2 valuesize: 5 sequence: -1 headerKeys: [] key: k0 payload: hello",
		"| offset: 1 CreateTime: 1002 keysize: -1 valuesize: 5 sequence: -1 headerKeys: [h1,h2] payload: world",
		"| offset: 2 CreateTime: 1001 keysize: 4 valuesize: -1 sequence: -1 headerKeys: []",
		fmt.Sprintf("baseOffset: 3 lastOffset: 4 count: 2 baseSequence: 10 lastSequence: 11 producerId: 7 producerEpoch: 1 partitionLeaderEpoch: 5 isTransactional: false isControl: false position: %d CreateTime: 2001 size: %d magic: 2 compresscodec: GZIP crc: %d isvalid: true", len(b1), len(b2), h2.CRC),
		"| offset: 3 CreateTime: 2000 keysize: -1 valuesize: 6 sequence: 10 headerKeys: [] payload: zipped",
		"| offset: 4 CreateTime: 2001 keysize: -1 valuesize: 5 sequence: 11 headerKeys: [] payload: again",
	}
	if got := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("output:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}

	// without --print-data-log or --deep-iteration: batches only
	_, out, _ = runCLI(t, "", "dump-log", "--files", logPath)
	if strings.Contains(out, "| offset") || strings.Count(out, "baseOffset:") != 2 {
		t.Fatalf("shallow dump:\n%s", out)
	}
	// --deep-iteration: records without contents
	_, out, _ = runCLI(t, "", "dump-log", "--files", logPath, "--deep-iteration")
	if !strings.Contains(out, "| offset: 0 CreateTime: 1000 keysize: 2 valuesize: 5 sequence: -1 headerKeys: []\n") || strings.Contains(out, "payload") {
		t.Fatalf("deep dump:\n%s", out)
	}

	idx, tidx := filepath.Join(dir, seg0+".index"), filepath.Join(dir, seg0+".timeindex")
	code, out, errOut = runCLI(t, "", "dump-log", "--files", idx+","+tidx)
	want = []string{
		// the first batch of a segment is never indexed (Kafka's
		// bytesSinceLastIndexEntry rule)
		"Dumping " + idx,
		fmt.Sprintf("offset: 4 position: %d", len(b1)),
		"Dumping " + tidx,
		"timestamp: 2001 offset: 4",
	}
	if code != 0 || strings.TrimSuffix(out, "\n") != strings.Join(want, "\n") {
		t.Fatalf("exit %d, stderr %q, output:\n%s\nwant:\n%s", code, errOut, out, strings.Join(want, "\n"))
	}
	code, out, errOut = runCLI(t, "", "dump-log", "--files", idx+","+tidx, "--verify-index-only")
	if code != 0 || out != "Dumping "+idx+"\nDumping "+tidx+"\n" || errOut != "" {
		t.Fatalf("verify: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = runCLI(t, "", "dump-log", "--files", idx+","+tidx, "--index-sanity-check")
	if code != 0 || !strings.Contains(out, idx+" passed sanity check.\n") || !strings.Contains(out, tidx+" passed sanity check.\n") {
		t.Fatalf("sanity: exit %d, stdout %q", code, out)
	}
}

func TestDumpLogIndexMismatches(t *testing.T) {
	var batches [][]byte
	for i := 0; i < 3; i++ {
		batches = append(batches, mustEncode(t, logstore.BatchHeader{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, logstore.CompressionNone,
			[]logstore.Record{{Offset: 0, Timestamp: int64(100 + i), Value: []byte("v")}}))
	}
	dir := writeSegment(t, batches...)
	idx, tidx := filepath.Join(dir, seg0+".index"), filepath.Join(dir, seg0+".timeindex")
	// batches 1 and 2 are indexed: the second index entry now points at
	// the first batch, the first time index entry has a wrong timestamp
	b, _ := os.ReadFile(idx)
	binary.BigEndian.PutUint32(b[12:], 0)
	os.WriteFile(idx, b, 0o644)
	b, _ = os.ReadFile(tidx)
	binary.BigEndian.PutUint64(b[0:], 999)
	os.WriteFile(tidx, b, 0o644)

	code, out, errOut := runCLI(t, "", "dump-log", "--files", idx+","+tidx, "--verify-index-only")
	absIdx, _ := filepath.Abs(idx)
	absT, _ := filepath.Abs(tidx)
	wantErr := "Mismatches in :" + absIdx + "\n  Index offset: 2, log offset: 0\n" +
		"Found timestamp mismatch in :" + absT + "\n  Index timestamp: 999, log timestamp: 101\n" +
		"Found out of order timestamp in :" + absT + "\n  Index timestamp: 102, Previously indexed timestamp: 999\n"
	if code != 1 || errOut != wantErr || out != "Dumping "+idx+"\nDumping "+tidx+"\n" {
		t.Fatalf("exit %d\nstdout %q\nstderr:\n%s\nwant:\n%s", code, out, errOut, wantErr)
	}
}

// A segment written by hand: a control batch (transaction marker) and an
// offset gap (as after compaction).
func TestDumpLogControlBatchAndGaps(t *testing.T) {
	ctrlKey := []byte{0, 0, 0, 1}       // version 0, COMMIT
	ctrlVal := []byte{0, 0, 0, 0, 0, 3} // version 0, coordinator epoch 3
	data := mustEncode(t, logstore.BatchHeader{BaseOffset: 10, ProducerID: 4, ProducerEpoch: 0, BaseSequence: 0, Attributes: 0x10},
		logstore.CompressionNone, []logstore.Record{{Offset: 10, Timestamp: 5, Value: []byte("a")}, {Offset: 12, Timestamp: 5, Value: []byte("b")}})
	ctrl := mustEncode(t, logstore.BatchHeader{BaseOffset: 13, ProducerID: 4, ProducerEpoch: 0, BaseSequence: -1, Attributes: 0x30},
		logstore.CompressionNone, []logstore.Record{{Offset: 13, Timestamp: 6, Key: ctrlKey, Value: ctrlVal}})
	path := filepath.Join(t.TempDir(), "00000000000000000010.log")
	os.WriteFile(path, append(data, ctrl...), 0o644)

	code, out, errOut := runCLI(t, "", "dump-log", "--files", path, "--print-data-log")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"Starting offset: 10\n",
		"isTransactional: true isControl: false",
		"| offset: 12 CreateTime: 5 keysize: -1 valuesize: 1 sequence: 2 headerKeys: [] payload: b\n",
		"isTransactional: true isControl: true",
		"| offset: 13 CreateTime: 6 keysize: 4 valuesize: 6 sequence: -1 headerKeys: [] endTxnMarker: COMMIT coordinatorEpoch: 3\n",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("missing %q in:\n%s", want, out)
		}
	}
	abs, _ := filepath.Abs(path)
	if errOut != "Non-consecutive offsets in "+abs+"\n  10 is followed by 12\n" {
		t.Fatalf("stderr %q", errOut)
	}
}

func TestDumpLogCorrupt(t *testing.T) {
	good := mustEncode(t, logstore.BatchHeader{}, logstore.CompressionNone, []logstore.Record{{Offset: 0, Value: []byte("value")}})
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)-2] ^= 0xff
	tooSmall := append([]byte(nil), good...)
	binary.BigEndian.PutUint32(tooSmall[8:], 20)
	zstdGarbage := append([]byte(nil), good...)
	zstdGarbage[22] = logstore.CompressionZstd
	cases := []struct {
		name, file string
		args       []string
		stdout     []string
		stderr     string
	}{
		{"crc", write("00000000000000000000.log", flipped), nil, []string{"isvalid: false"}, ""},
		{"torn tail", write("00000000000000000001.log", append(good, good[:30]...)), nil,
			[]string{"isvalid: true", "Found 30 invalid bytes at the end of 00000000000000000001.log"}, ""},
		{"size below header", write("00000000000000000002.log", tooSmall), nil, nil, "Found record size 32 smaller than minimum record overhead (61)"},
		{"undecodable records", write("00000000000000000003.log", zstdGarbage), []string{"--deep-iteration"}, nil, "Corrupt batch at position 0 of"},
		{"bad name", write("segment.log", good), nil, nil, "a segment file name starts with the segment's base offset"},
		{"missing", filepath.Join(dir, "00000000000000000009.log"), nil, nil, "cannot read"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "", append([]string{"dump-log", "--files", c.file}, c.args...)...)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stdout %q stderr %q", code, out, errOut)
			}
			for _, w := range c.stdout {
				if !strings.Contains(out, w) {
					t.Fatalf("stdout lacks %q:\n%s", w, out)
				}
			}
			if !strings.Contains(errOut, c.stderr) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Fatalf("stderr %q, want one line with %q", errOut, c.stderr)
			}
		})
	}
	if code, _, errOut := runCLI(t, "", "dump-log"); code != 2 || !strings.Contains(errOut, `Missing required argument "[files]"`) {
		t.Fatalf("no --files: exit %d %q", code, errOut)
	}
}

func TestDumpLogProducerSnapshot(t *testing.T) {
	batch := func(pid int64, seq int32, n int) []byte {
		recs := make([]logstore.Record, n)
		for i := range recs {
			recs[i] = logstore.Record{Offset: int64(i), Timestamp: 1700000000000, Value: []byte("v")}
		}
		h := logstore.BatchHeader{PartitionLeaderEpoch: -1, ProducerID: pid, ProducerEpoch: 3, BaseSequence: seq, FirstTimestamp: 1700000000000, MaxTimestamp: 1700000000000}
		return mustEncode(t, h, logstore.CompressionNone, recs)
	}
	// A clean close leaves a snapshot at the log end (offset 7).
	dir := writeSegment(t, batch(42, 0, 2), batch(9, 0, 1), batch(42, 2, 4))
	snap := filepath.Join(dir, "00000000000000000007.snapshot")
	code, out, errOut := runCLI(t, "", "dump-log", "--files", snap)
	want := "Dumping " + snap + "\n" +
		"producerId: 9 producerEpoch: 3 coordinatorEpoch: -1 currentTxnFirstOffset: None firstSequence: 0 lastSequence: 0 lastOffset: 2 offsetDelta: 0 timestamp: 1700000000000\n" +
		"producerId: 42 producerEpoch: 3 coordinatorEpoch: -1 currentTxnFirstOffset: None firstSequence: 2 lastSequence: 5 lastOffset: 6 offsetDelta: 3 timestamp: 1700000000000\n"
	if code != 0 || out != want || errOut != "" {
		t.Fatalf("exit %d\nstdout %q\nwant   %q\nstderr %q", code, out, want, errOut)
	}
	b, _ := os.ReadFile(snap)
	b[len(b)-1] ^= 1
	os.WriteFile(snap, b, 0o644)
	if code, _, errOut := runCLI(t, "", "dump-log", "--files", snap); code != 1 || !strings.Contains(errOut, "CRC") {
		t.Fatalf("corrupt snapshot: exit %d, stderr %q", code, errOut)
	}
}
