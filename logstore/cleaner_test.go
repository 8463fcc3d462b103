package logstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// kv is one test record; a nil value is a tombstone, a nil key a keyless
// record.
type kv struct{ key, value []byte }

func rec(k, v string) kv { return kv{[]byte(k), []byte(v)} }
func tomb(k string) kv   { return kv{key: []byte(k)} }

// keyedBatch builds one batch of recs with codec; pid >= 0 makes it an
// idempotent producer's batch with sequence seq.
func keyedBatch(tb testing.TB, codec int, pid int64, seq int32, ts int64, recs ...kv) []byte {
	tb.Helper()
	h := BatchHeader{PartitionLeaderEpoch: -1, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, FirstTimestamp: ts, MaxTimestamp: ts}
	if pid >= 0 {
		h.ProducerID, h.ProducerEpoch, h.BaseSequence = pid, 0, seq
	}
	rs := make([]Record, len(recs))
	for i, r := range recs {
		rs[i] = Record{Offset: int64(i), Timestamp: ts + int64(i), Key: r.key, Value: r.value}
	}
	b, err := EncodeRecords(h, codec, rs)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// logRecord is a record as read back, with its batch.
type logRecord struct {
	offset     int64
	key, value string
	tombstone  bool
}

type logBatch struct {
	h     BatchHeader
	bytes []byte
	recs  []logRecord
}

// readLog decodes every batch of the log from its start.
func readLog(t testing.TB, l *Log) []logBatch {
	t.Helper()
	b := readAll(t, l, l.LogStartOffset(), math.MaxInt32)
	var out []logBatch
	for _, h := range parseAll(t, b) {
		raw := b[:h.Size()]
		b = b[h.Size():]
		_, recs, err := DecodeRecords(raw)
		if err != nil {
			t.Fatalf("decode batch at %d: %v", h.BaseOffset, err)
		}
		lb := logBatch{h: h, bytes: raw}
		for _, r := range recs {
			lb.recs = append(lb.recs, logRecord{r.Offset, string(r.Key), string(r.Value), r.Value == nil})
		}
		out = append(out, lb)
	}
	return out
}

func records(bs []logBatch) []logRecord {
	var out []logRecord
	for _, b := range bs {
		out = append(out, b.recs...)
	}
	return out
}

// compacted is the model of one cleaning of recs mapping [firstDirty,
// mapEnd): a record below mapEnd survives when it is its key's latest in
// the mapped range (or its key is not mapped) and is not a dropped
// tombstone; the rest is kept.
func compacted(recs []logRecord, firstDirty, mapEnd int64, dropTombstone func(logRecord) bool) []logRecord {
	latest := map[string]int64{}
	for _, r := range recs {
		if r.offset >= firstDirty && r.offset < mapEnd {
			latest[r.key] = r.offset
		}
	}
	var out []logRecord
	for _, r := range recs {
		if r.offset < mapEnd {
			if l, ok := latest[r.key]; ok && r.offset < l {
				continue
			}
			if r.tombstone && dropTombstone != nil && dropTombstone(r) {
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

func compactConfig() Config {
	cfg := DefaultConfig()
	cfg.SegmentBytes, cfg.IndexIntervalBytes, cfg.IndexMaxBytes = 1024, 128, 1024
	cfg.CleanupDelete, cfg.CleanupCompact = false, true
	cfg.MinCleanableDirtyRatio = 0.01
	return cfg
}

// fillCompacted appends rounds of overwrites and deletes of keys k00..k19
// in batches of five records, plus, per round, one key written once.
func fillCompacted(t testing.TB, l *Log, codec, rounds int) {
	t.Helper()
	ts := time.Now().Add(-time.Hour).UnixMilli()
	for r := 0; r < rounds; r++ {
		for j := 0; j < 4; j++ {
			var recs []kv
			for k := 5 * j; k < 5*j+5; k++ {
				key := fmt.Sprintf("k%02d", k)
				switch {
				case r == rounds-1 && k%3 != 0:
					// the last round overwrites some keys only: earlier
					// batches keep part of their records.
				case r == 2 && k%7 == 0:
					recs = append(recs, tomb(key))
				default:
					recs = append(recs, rec(key, fmt.Sprintf("v%d-%s-%s", r, key, strings.Repeat("x", k))))
				}
			}
			if len(recs) > 0 {
				mustAppend(t, l, keyedBatch(t, codec, -1, 0, ts, recs...))
			}
			ts += 10
		}
		mustAppend(t, l, keyedBatch(t, codec, -1, 0, ts, rec(fmt.Sprint("once", r), "only")))
	}
	l.SetHighWatermark(l.LogEndOffset())
}

func openCompactManager(t testing.TB, dir string, cfg Config) (*Manager, *Log) {
	t.Helper()
	m, err := OpenManager([]string{dir}, cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	l, err := m.GetOrCreate(TopicPartition{"c", 0}, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, l
}

func activeBase(l *Log) int64 { return l.active().base }

// rollAndAppend rolls a new active segment and appends one record to it.
func rollAndAppend(t testing.TB, l *Log, codec int) {
	t.Helper()
	l.mu.Lock()
	_, err := l.roll(l.LogEndOffset())
	l.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, keyedBatch(t, codec, -1, 0, time.Now().UnixMilli(), rec("tail", "t")))
	l.SetHighWatermark(l.LogEndOffset())
}

func TestCleanerCompactsEveryCodec(t *testing.T) {
	for codec := CompressionNone; codec <= CompressionZstd; codec++ {
		t.Run(CompressionName(codec), func(t *testing.T) {
			dir := t.TempDir()
			cfg := compactConfig()
			m, l := openCompactManager(t, dir, cfg)
			defer m.Close()
			fillCompacted(t, l, codec, 8)
			rollAndAppend(t, l, codec) // every round is cleanable
			cfg.SegmentBytes = 4096    // cleaned groups merge several segments
			if err := l.SetConfig(cfg); err != nil {
				t.Fatal(err)
			}
			before := readLog(t, l)
			origBatch := map[int64][]byte{}
			for _, b := range before {
				origBatch[b.h.BaseOffset] = b.bytes
			}
			sizeBefore, segsBefore, end := l.Size(), l.NumSegments(), activeBase(l)
			held, err := l.Read(0, math.MaxInt32, math.MaxInt64, true) // a reader holding old regions
			if err != nil {
				t.Fatal(err)
			}
			n, err := m.CleanNow(context.Background(), CleanerConfig{})
			if n != 1 || err != nil {
				t.Fatalf("CleanNow = %d, %v", n, err)
			}
			after := readLog(t, l)
			copied, rewritten := 0, 0
			want := compacted(records(before), 0, end, nil)
			if got := records(after); !equalRecords(got, want) {
				t.Fatalf("records after cleaning:\n got %v\nwant %v", got, want)
			}
			for _, b := range after {
				if b.h.Compression() != codec {
					t.Fatalf("batch at %d: codec %s", b.h.BaseOffset, CompressionName(b.h.Compression()))
				}
				orig := origBatch[b.h.BaseOffset]
				if orig == nil {
					t.Fatalf("batch at %d: no original batch with this base offset", b.h.BaseOffset)
				}
				oh, _ := ParseBatchHeader(orig)
				if b.h.LastOffsetDelta != oh.LastOffsetDelta {
					t.Fatalf("batch at %d: last offset delta %d, was %d", b.h.BaseOffset, b.h.LastOffsetDelta, oh.LastOffsetDelta)
				}
				switch {
				case b.h.NumRecords == oh.NumRecords && !bytes.Equal(b.bytes, orig):
					t.Fatalf("batch at %d kept every record but its bytes changed", b.h.BaseOffset)
				case b.h.NumRecords == oh.NumRecords:
					copied++
				default:
					rewritten++
				}
			}
			if copied == 0 || rewritten == 0 {
				t.Fatalf("%d batches copied, %d rewritten: the test should exercise both", copied, rewritten)
			}
			if l.Size() >= sizeBefore || l.NumSegments() >= segsBefore {
				t.Fatalf("size %d -> %d, segments %d -> %d", sizeBefore, l.Size(), segsBefore, l.NumSegments())
			}
			if l.CleanerOffset() != end {
				t.Fatalf("cleaner offset %d, want %d", l.CleanerOffset(), end)
			}
			if _, err := held.AppendTo(nil); err != nil {
				t.Fatalf("region handed out before the cleaning: %v", err)
			}
			// Nothing dirty: a second pass cleans nothing.
			if n, err := m.CleanNow(context.Background(), CleanerConfig{}); n != 0 || err != nil {
				t.Fatalf("second CleanNow = %d, %v", n, err)
			}
			for _, s := range l.segments() {
				if err := VerifyIndex(s.logPath); err != nil {
					t.Fatal(err)
				}
			}
			assertNoTempFiles(t, l.Dir())
		})
	}
}

func equalRecords(a, b []logRecord) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func assertNoTempFiles(t testing.TB, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if n := e.Name(); strings.HasSuffix(n, cleanedSuffix) || strings.HasSuffix(n, swapSuffix) {
			t.Fatalf("temporary file %s left", n)
		}
	}
}

func TestCleanerCheckpointSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := compactConfig()
	m, l := openCompactManager(t, dir, cfg)
	fillCompacted(t, l, CompressionNone, 4)
	if n, err := m.CleanNow(context.Background(), CleanerConfig{}); n != 1 || err != nil {
		t.Fatalf("CleanNow = %d, %v", n, err)
	}
	off := l.CleanerOffset()
	c, err := ReadCheckpointFile(filepath.Join(dir, CleanerOffsetCheckpointFile))
	if err != nil || c[TopicPartition{"c", 0}] != off || off <= 0 {
		t.Fatalf("checkpoint %v (%v), log says %d", c, err, off)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m, err = OpenManager([]string{dir}, cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, _ = m.Get(TopicPartition{"c", 0})
	if l.CleanerOffset() != off {
		t.Fatalf("cleaner offset after restart %d, want %d", l.CleanerOffset(), off)
	}
	job, _ := l.cleanSnapshot()
	if p := planClean(job.view, time.Now().UnixMilli()); p.firstDirty != off || p.cleanableBytes != 0 {
		t.Fatalf("plan after restart %+v", p)
	}
	// A truncation below the checkpoint lowers it.
	if err := l.TruncateTo(off - 3); err != nil {
		t.Fatal(err)
	}
	if l.CleanerOffset() != off-3 {
		t.Fatalf("cleaner offset after truncation %d, want %d", l.CleanerOffset(), off-3)
	}
}

func TestCleanerTombstoneExpiry(t *testing.T) {
	dir := t.TempDir()
	cfg := compactConfig()
	cfg.DeleteRetention = time.Hour
	m, l := openCompactManager(t, dir, cfg)
	defer m.Close()
	ts := time.Now().Add(-time.Hour).UnixMilli()
	filler := 0
	fill := func(n int) { // unique keys: segments stay full after cleaning
		for i := 0; i < n; i++ {
			mustAppend(t, l, keyedBatch(t, CompressionNone, -1, 0, ts, rec(fmt.Sprintf("f%04d", filler), strings.Repeat("f", 100))))
			filler++
		}
	}
	mustAppend(t, l, keyedBatch(t, CompressionNone, -1, 0, ts, rec("dead1", "x"), rec("dead2", "y")))
	mustAppend(t, l, keyedBatch(t, CompressionNone, -1, 0, ts, tomb("dead1")))
	fill(30)
	mustAppend(t, l, keyedBatch(t, CompressionNone, -1, 0, ts, tomb("dead2")))
	l.mu.Lock()
	l.roll(l.LogEndOffset()) // dead2's tombstone ends the last segment to clean
	l.mu.Unlock()
	fill(1)
	l.SetHighWatermark(l.LogEndOffset())
	if n, err := m.CleanNow(context.Background(), CleanerConfig{}); n != 1 || err != nil {
		t.Fatalf("first CleanNow = %d, %v", n, err)
	}
	tombstones := func() map[string]bool {
		out := map[string]bool{}
		for _, r := range records(readLog(t, l)) {
			if r.tombstone {
				out[r.key] = true
			}
		}
		return out
	}
	if got := tombstones(); !got["dead1"] || !got["dead2"] {
		t.Fatalf("first cleaning dropped tombstones: %v", got)
	}
	// Make the clean section old except its last segment (the deletion
	// horizon is that segment's mtime minus delete.retention.ms).
	now := time.Now()
	segs := l.segments()
	for i, s := range segs[:len(segs)-2] {
		mt := now.Add(-3 * time.Hour)
		if i == len(segs)-3 {
			mt = now
		}
		if err := os.Chtimes(s.logPath, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	fill(20)
	l.SetHighWatermark(l.LogEndOffset())
	before := records(readLog(t, l))
	if n, err := m.CleanNow(context.Background(), CleanerConfig{}); n != 1 || err != nil {
		t.Fatalf("second CleanNow = %d, %v", n, err)
	}
	if got := tombstones(); got["dead1"] || !got["dead2"] {
		t.Fatalf("after the horizon: tombstones %v, want only dead2", got)
	}
	want := compacted(before, 0, 0, nil) // nothing else changes
	var wantNoDead1 []logRecord
	for _, r := range want {
		if r.key != "dead1" {
			wantNoDead1 = append(wantNoDead1, r)
		}
	}
	if got := records(readLog(t, l)); !equalRecords(got, wantNoDead1) {
		t.Fatalf("records:\n got %v\nwant %v", got, wantNoDead1)
	}
}

func TestCleanerKeepsProducersLastBatchEmpty(t *testing.T) {
	dir := t.TempDir()
	cfg := compactConfig()
	m, l := openCompactManager(t, dir, cfg)
	defer m.Close()
	ts := time.Now().UnixMilli()
	mustAppend(t, l, keyedBatch(t, CompressionLZ4, 5, 0, ts, rec("p1", "a"), rec("p2", "b")))
	last := mustAppend(t, l, keyedBatch(t, CompressionLZ4, 5, 2, ts, rec("p1", "c"), rec("p3", "d")))
	mustAppend(t, l, keyedBatch(t, CompressionNone, -1, 0, ts, rec("p1", "e"), rec("p2", "f"), rec("p3", "g")))
	l.mu.Lock()
	l.roll(l.LogEndOffset())
	l.mu.Unlock()
	mustAppend(t, l, keyedBatch(t, CompressionNone, -1, 0, ts, rec("z", "z")))
	l.SetHighWatermark(l.LogEndOffset())
	if n, err := m.CleanNow(context.Background(), CleanerConfig{}); n != 1 || err != nil {
		t.Fatalf("CleanNow = %d, %v", n, err)
	}
	bs := readLog(t, l)
	if len(bs) != 3 {
		t.Fatalf("%d batches, want the producer's empty last batch, the overwrite and z", len(bs))
	}
	e := bs[0].h
	if e.ProducerID != 5 || e.NumRecords != 0 || e.BaseOffset != last.FirstOffset || e.LastOffset() != last.LastOffset || e.BaseSequence != 2 {
		t.Fatalf("kept batch %+v, want producer 5's empty batch [%d, %d]", e, last.FirstOffset, last.LastOffset)
	}
	if got := records(bs); len(got) != 4 || got[0].value != "e" {
		t.Fatalf("records %v", got)
	}
	// The empty batch stays through another cleaning while it is the
	// producer's last.
	mustAppend(t, l, keyedBatch(t, CompressionNone, -1, 0, ts, rec("p1", "h")))
	l.mu.Lock()
	l.roll(l.LogEndOffset())
	l.mu.Unlock()
	mustAppend(t, l, keyedBatch(t, CompressionNone, -1, 0, ts, rec("z", "z2")))
	l.SetHighWatermark(l.LogEndOffset())
	cfg.MinCleanableDirtyRatio = 0
	l.SetConfig(cfg)
	if _, err := m.CleanNow(context.Background(), CleanerConfig{}); err != nil {
		t.Fatal(err)
	}
	if bs := readLog(t, l); bs[0].h.ProducerID != 5 || bs[0].h.NumRecords != 0 {
		t.Fatalf("first batch after the second cleaning %+v", bs[0].h)
	}
}

func TestCleanerOffsetMapFull(t *testing.T) {
	dir := t.TempDir()
	cfg := compactConfig()
	cfg.MinCleanableDirtyRatio = 0
	m, l := openCompactManager(t, dir, cfg)
	defer m.Close()
	fillCompacted(t, l, CompressionSnappy, 6)
	before := records(readLog(t, l))
	end := activeBase(l)
	small := CleanerConfig{DedupeBufferSize: 8 * offsetMapSlotSize, DedupeBufferLoadFactor: 0.75} // 6 keys a pass
	passes := 0
	for l.CleanerOffset() < end {
		prev := l.CleanerOffset()
		if n, err := m.CleanNow(context.Background(), small); n != 1 || err != nil {
			t.Fatalf("pass %d: CleanNow = %d, %v", passes, n, err)
		}
		if l.CleanerOffset() <= prev {
			t.Fatalf("pass %d made no progress: %d", passes, prev)
		}
		passes++
	}
	if passes < 3 {
		t.Fatalf("only %d passes with a 6-key map", passes)
	}
	if got, want := records(readLog(t, l)), compacted(before, 0, end, nil); !equalRecords(got, want) {
		t.Fatalf("after %d passes:\n got %v\nwant %v", passes, got, want)
	}
}

func TestCompactedLogRefusesKeylessRecords(t *testing.T) {
	l := openTestLog(t, t.TempDir(), compactConfig())
	defer l.Close()
	ok := keyedBatch(t, CompressionGzip, -1, 0, 1, rec("a", "1"), tomb("b"))
	if _, err := l.Append(ok, 0); err != nil {
		t.Fatal(err)
	}
	for _, codec := range []int{CompressionNone, CompressionZstd} {
		bad := keyedBatch(t, codec, -1, 0, 1, rec("a", "1"), kv{value: []byte("no key")})
		_, err := l.Append(bad, 0)
		if !errors.Is(err, ErrInvalidRecord) || !strings.Contains(err.Error(), "Compacted topic cannot accept message without key in topic partition t-0.") {
			t.Fatalf("%s: keyless record: %v", CompressionName(codec), err)
		}
	}
	if l.LogEndOffset() != 2 {
		t.Fatalf("LEO %d", l.LogEndOffset())
	}
}

// cleanOnce runs one cleaning of l with c, as the Manager would.
func cleanOnce(l *Log, c *cleaner) (cleanStats, error) {
	job, ok := l.cleanSnapshot()
	if !ok {
		return cleanStats{}, errors.New("not cleanable")
	}
	job.plan = planClean(job.view, time.Now().UnixMilli())
	return c.clean(context.Background(), l, job, time.Now())
}

func TestCleanerAbortsWhenTheLogChanges(t *testing.T) {
	dir := t.TempDir()
	cfg := compactConfig()
	l := openTestLog(t, dir, cfg)
	defer l.Close()
	fillCompacted(t, l, CompressionNone, 4)
	before := records(readLog(t, l))
	c := newCleaner(0, CleanerConfig{DedupeBufferSize: 1 << 20, DedupeBufferLoadFactor: 0.9, IOBufferSize: 1 << 16, Threads: 1}, testLogger())
	c.swapHook = func(step int) error {
		if step == 0 {
			return l.TruncateTo(l.LogEndOffset() - 1)
		}
		return nil
	}
	if _, err := cleanOnce(l, c); !errors.Is(err, errCleaningAborted) {
		t.Fatalf("clean after a truncation: %v", err)
	}
	if got := records(readLog(t, l)); !equalRecords(got, before[:len(before)-1]) {
		t.Fatal("the aborted cleaning changed the log")
	}
	assertNoTempFiles(t, dir)
	if l.CleanerOffset() != 0 {
		t.Fatalf("cleaner offset %d after an aborted cleaning", l.CleanerOffset())
	}
}

// TestCleanerCrashAtEverySwapStep stops the swap at each step as a crash
// would (files left as they are, nothing flushed), reopens the log and
// checks that recovery completed or rolled back the swap: the records are
// exactly those before or exactly those after the cleaning, indexes match,
// no temporary file is left and the log takes appends.
func TestCleanerCrashAtEverySwapStep(t *testing.T) {
	for step := 0; step <= 6; step++ {
		t.Run(fmt.Sprint("step", step), func(t *testing.T) {
			dir := t.TempDir()
			cfg := compactConfig()
			l := openTestLog(t, dir, cfg)
			fillCompacted(t, l, CompressionGzip, 6)
			// Bigger segments for the cleaned groups: several old segments
			// go into each cleaned one.
			cfg.SegmentBytes = 8192
			if err := l.SetConfig(cfg); err != nil {
				t.Fatal(err)
			}
			before := records(readLog(t, l))
			want := compacted(before, 0, activeBase(l), nil)
			c := newCleaner(0, CleanerConfig{DedupeBufferSize: 1 << 20, DedupeBufferLoadFactor: 0.9, IOBufferSize: 1 << 16, Threads: 1}, testLogger())
			c.swapHook = func(s int) error {
				if s == step {
					return errSimulatedCrash
				}
				return nil
			}
			if _, err := cleanOnce(l, c); !errors.Is(err, errSimulatedCrash) {
				t.Fatalf("clean: %v", err)
			}
			crash(l)
			l = openTestLog(t, dir, cfg)
			defer l.Close()
			got := records(readLog(t, l))
			if !equalRecords(got, before) && !equalRecords(got, want) {
				t.Fatalf("after recovery neither the old nor the cleaned records:\n got %v\nold %v\nnew %v", got, before, want)
			}
			for _, s := range l.segments() {
				if err := VerifyIndex(s.logPath); err != nil {
					t.Fatal(err)
				}
			}
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if n := e.Name(); strings.HasSuffix(n, cleanedSuffix) || strings.HasSuffix(n, swapSuffix) || strings.HasSuffix(n, deletedSuffix) {
					t.Fatalf("file %s left after recovery", n)
				}
			}
			leo := l.LogEndOffset()
			if info := mustAppend(t, l, keyedBatch(t, CompressionNone, -1, 0, 1, rec("after", "crash"))); info.FirstOffset != leo {
				t.Fatalf("append after recovery at %d, LEO was %d", info.FirstOffset, leo)
			}
			t.Logf("step %d: recovered to the %s records", step, map[bool]string{true: "cleaned", false: "old"}[equalRecords(got, want)])
		})
	}
}

// TestCleanerConcurrentWithAppendsAndReads runs the cleaner in the
// background (RunCleaner) while a writer appends overwrites and a reader
// keeps reading the whole log: the race detector watches, every read sees
// increasing offsets and valid batches, and at the end the log is a
// subsequence of what was written holding every key's latest value.
func TestCleanerConcurrentWithAppendsAndReads(t *testing.T) {
	dir := t.TempDir()
	cfg := compactConfig()
	cfg.FileDeleteDelay = 5 * time.Second // readers hold regions of replaced segments meanwhile
	m, l := openCompactManager(t, dir, cfg)
	defer m.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cleanerDone := make(chan error, 1)
	go func() { cleanerDone <- m.RunCleaner(ctx, CleanerConfig{Backoff: time.Millisecond}) }()

	written := map[int64]logRecord{}
	latest := map[string]string{}
	stopReader := make(chan struct{})
	readerDone := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stopReader:
				readerDone <- nil
				return
			default:
			}
			r, err := l.Read(l.LogStartOffset(), math.MaxInt32, l.HighWatermark(), true)
			if err != nil {
				readerDone <- err
				return
			}
			b, err := r.AppendTo(nil)
			if err != nil {
				readerDone <- err // a region must stay readable until the delayed delete
				return
			}
			prev := int64(-1)
			for len(b) > 0 {
				h, err := ParseBatchHeader(b)
				if err == nil {
					err = checkCRC(h, b[:h.Size()])
				}
				if err != nil || h.BaseOffset <= prev {
					readerDone <- fmt.Errorf("batch at %d after %d: %v", h.BaseOffset, prev, err)
					return
				}
				prev = h.LastOffset()
				b = b[h.Size():]
			}
		}
	}()
	ts := time.Now().UnixMilli()
	for i := 0; i < 400; i++ {
		var recs []kv
		for j := 0; j < 4; j++ {
			k, v := fmt.Sprintf("k%02d", (i*4+j)%37), fmt.Sprint("v", i, "-", j)
			recs = append(recs, rec(k, v))
		}
		info := mustAppend(t, l, keyedBatch(t, CompressionSnappy, -1, 0, ts, recs...))
		for j, r := range recs {
			written[info.FirstOffset+int64(j)] = logRecord{info.FirstOffset + int64(j), string(r.key), string(r.value), false}
			latest[string(r.key)] = string(r.value)
		}
		l.SetHighWatermark(l.LogEndOffset())
	}
	close(stopReader)
	if err := <-readerDone; err != nil {
		t.Fatalf("reader: %v", err)
	}
	rollAndAppend(t, l, CompressionNone)
	eventually := time.Now().Add(time.Minute)
	for l.CleanerOffset() < activeBase(l) && time.Now().Before(eventually) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-cleanerDone; err != nil {
		t.Fatal(err)
	}
	if l.CleanerOffset() < activeBase(l) {
		t.Fatalf("cleaner offset %d never reached %d", l.CleanerOffset(), activeBase(l))
	}
	got := records(readLog(t, l))
	last := map[string]string{}
	for _, r := range got {
		if r.key == "tail" {
			continue
		}
		if w, ok := written[r.offset]; !ok || w != r {
			t.Fatalf("record %+v was never written so (%+v)", r, w)
		}
		last[r.key] = r.value
	}
	if !reflect.DeepEqual(last, latest) {
		t.Fatalf("latest values:\n got %v\nwant %v", last, latest)
	}
	if len(got) > len(latest)+1 {
		t.Fatalf("%d records left for %d keys", len(got), len(latest))
	}
}

// FuzzCompactedRecords feeds arbitrary record bytes, under a valid batch
// header and CRC (what a client can send), to the produce-time key check
// and the cleaner's record walk: neither panics, and a batch the check
// accepts walks to the same offsets and keys as DecodeRecords gives.
func FuzzCompactedRecords(f *testing.F) {
	for codec := CompressionNone; codec <= CompressionZstd; codec++ {
		b := keyedBatch(f, codec, -1, 0, 1, rec("a", "1"), tomb("b"), kv{value: []byte("x")})
		h, _ := ParseBatchHeader(b)
		f.Add(b[batchHeaderSize:], int32(3), int16(codec))
		f.Add(b[batchHeaderSize:], h.NumRecords+5, int16(codec))
	}
	f.Fuzz(func(t *testing.T, body []byte, n int32, attrs int16) {
		h := BatchHeader{NumRecords: n, Attributes: attrs &^ attrControl, ProducerID: -1, BaseSequence: -1}
		b, err := EncodeRecords(h, CompressionNone, nil)
		if err != nil {
			t.Skip()
		}
		b = append(b, body...)
		binary.BigEndian.PutUint32(b[offBatchLength:], uint32(len(b)-batchLogOverhead))
		binary.BigEndian.PutUint16(b[offAttributes:], uint16(h.Attributes))
		binary.BigEndian.PutUint32(b[offRecordCount:], uint32(n))
		binary.BigEndian.PutUint32(b[offCRC:], batchCRC(b))
		h, err = ParseBatchHeader(b)
		if err != nil || checkHeader(h, int64(len(b))) != nil {
			return
		}
		var walked []Record
		werr := eachRecord(h, b, func(off int64, key []byte, hasValue bool) bool {
			walked = append(walked, Record{Offset: off, Key: key})
			return true
		})
		if checkRecordKeys(b, TopicPartition{"t", 0}) != nil {
			return
		}
		_, recs, _ := DecodeRecords(b)
		if werr != nil || len(walked) != len(recs) {
			t.Fatalf("accepted batch: walk %v (%d records), decode %d records", werr, len(walked), len(recs))
		}
		for i := range recs {
			if walked[i].Offset != recs[i].Offset || !bytes.Equal(walked[i].Key, recs[i].Key) || recs[i].Key == nil {
				t.Fatalf("record %d: walk %+v, decode %+v", i, walked[i], recs[i])
			}
		}
	})
}
