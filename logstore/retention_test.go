package logstore

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// retentionLog builds a log of 1 KiB segments where segment i holds batches
// with timestamps base+i hours.
func retentionLog(t *testing.T, cfg Config, now time.Time, nsegs int) *Log {
	t.Helper()
	cfg.SegmentBytes = 1024
	cfg.FileDeleteDelay = time.Millisecond
	l := openTestLog(t, t.TempDir(), cfg)
	t.Cleanup(func() { l.Close() })
	for i := 0; l.NumSegments() < nsegs || l.active().size.Load() == 0; i++ {
		seg := l.NumSegments() - 1
		ts := now.Add(time.Duration(seg-nsegs) * time.Hour).UnixMilli()
		mustAppend(t, l, makeBatch(t, batchSpec{n: 2, valueSize: 150, ts: ts}))
		if l.NumSegments() > nsegs {
			t.Fatalf("overshot")
		}
	}
	return l
}

func bases(l *Log) []int64 {
	var out []int64
	for _, s := range l.segments() {
		out = append(out, s.base)
	}
	return out
}

func TestDeleteOldSegmentsByTime(t *testing.T) {
	now := time.Now()
	cfg := smallConfig()
	cfg.RetentionTime = 150 * time.Minute // segments 0..2 (5, 4, 3 hours old) go
	l := retentionLog(t, cfg, now, 5)
	all := bases(l)
	l.SetHighWatermark(all[2]) // only segments 0, 1 lie below the HW
	n, err := l.DeleteOldSegments(now)
	if err != nil || n != 2 {
		t.Fatalf("deleted %d, %v", n, err)
	}
	if got := bases(l); got[0] != all[2] || l.LogStartOffset() != all[2] {
		t.Fatalf("segments %v, start %d", got, l.LogStartOffset())
	}
	l.SetHighWatermark(l.LogEndOffset())
	if n, err := l.DeleteOldSegments(now); err != nil || n != 1 || l.LogStartOffset() != all[3] {
		t.Fatalf("second pass: %d %v start %d", n, err, l.LogStartOffset())
	}
	// Every segment breached: roll first, keep the new empty active one.
	leo := l.LogEndOffset()
	n, err = l.DeleteOldSegments(now.Add(24 * time.Hour))
	if err != nil || n != 2 || l.NumSegments() != 1 || l.active().base != leo || l.LogStartOffset() != leo || l.LogEndOffset() != leo {
		t.Fatalf("all: deleted %d %v; segments %v, [%d, %d)", n, err, bases(l), l.LogStartOffset(), l.LogEndOffset())
	}
	// The empty active segment is never deleted.
	if n, err := l.DeleteOldSegments(now.Add(48 * time.Hour)); n != 0 || err != nil {
		t.Fatalf("empty log: %d %v", n, err)
	}
	waitFor(t, ".deleted files removed", func() bool { return len(deletedFiles(t, l.Dir())) == 0 })
	if m, _ := filepath.Glob(filepath.Join(l.Dir(), "*.log")); len(m) != 1 {
		t.Fatalf("files %v", m)
	}
	mustAppend(t, l, makeBatch(t, batchSpec{n: 1}))
	if _, err := l.Read(leo-1, 100, math.MaxInt64, true); err == nil {
		t.Fatal("read below the log start succeeded")
	}
}

func TestDeleteOldSegmentsRetentionOffAndMtime(t *testing.T) {
	now := time.Now()
	cfg := DefaultConfig()
	cfg.IndexMaxBytes, cfg.IndexIntervalBytes = 1024, 256
	cfg.RetentionTime = -1
	l := retentionLog(t, cfg, now, 3)
	l.SetHighWatermark(l.LogEndOffset())
	if n, err := l.DeleteOldSegments(now.Add(1000 * time.Hour)); n != 0 || err != nil {
		t.Fatalf("retention.ms=-1 deleted %d, %v", n, err)
	}
	// Batches without timestamps: the segment file's mtime counts.
	cfg.RetentionTime = time.Hour
	cfg.SegmentBytes = 1024
	cfg.FileDeleteDelay = time.Millisecond
	l2 := openTestLog(t, t.TempDir(), cfg)
	defer l2.Close()
	for l2.NumSegments() < 3 {
		mustAppend(t, l2, makeBatch(t, batchSpec{n: 1, valueSize: 300, ts: -1}))
	}
	l2.SetHighWatermark(l2.LogEndOffset())
	if n, _ := l2.DeleteOldSegments(now); n != 0 {
		t.Fatalf("fresh files deleted: %d", n)
	}
	old := now.Add(-2 * time.Hour)
	if err := os.Chtimes(l2.segments()[0].logPath, old, old); err != nil {
		t.Fatal(err)
	}
	if n, err := l2.DeleteOldSegments(now); n != 1 || err != nil {
		t.Fatalf("old mtime: deleted %d, %v", n, err)
	}
}

func TestDeleteOldSegmentsBySize(t *testing.T) {
	now := time.Now()
	cfg := smallConfig()
	l := retentionLog(t, cfg, now, 6)
	l.SetHighWatermark(l.LogEndOffset())
	sizes := []int64{}
	for _, s := range l.segments() {
		sizes = append(sizes, s.size.Load())
	}
	limit := l.Size() - sizes[0] - sizes[1] - sizes[2]/2 // two segments must go, not the third
	cfg.RetentionBytes = limit
	if err := l.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	all := bases(l)
	if n, err := l.DeleteOldSegments(now); n != 2 || err != nil || l.LogStartOffset() != all[2] {
		t.Fatalf("deleted %d, %v, start %d", n, err, l.LogStartOffset())
	}
	if l.Size() < limit {
		t.Fatalf("size %d below the limit %d", l.Size(), limit)
	}
	if n, _ := l.DeleteOldSegments(now); n != 0 {
		t.Fatalf("second pass deleted %d", n)
	}
}

func TestDeleteOldSegmentsCompactOnly(t *testing.T) {
	now := time.Now()
	cfg := DefaultConfig()
	cfg.IndexMaxBytes, cfg.IndexIntervalBytes = 1024, 256
	cfg.RetentionTime, cfg.RetentionBytes = time.Millisecond, 1
	l := retentionLog(t, cfg, now, 4) // keyless records: appended before the policy change
	cfg.CleanupDelete, cfg.CleanupCompact = false, true
	if err := l.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	l.SetHighWatermark(l.LogEndOffset())
	if n, err := l.DeleteOldSegments(now); n != 0 || err != nil {
		t.Fatalf("compact-only log lost %d segments to retention (%v)", n, err)
	}
	// The log-start rule applies to every policy. DeleteRecordsBefore
	// already deletes at once, so move the start by hand as a stale
	// checkpoint would leave it.
	all := bases(l)
	l.mu.Lock()
	l.logStart.Store(all[2])
	l.mu.Unlock()
	if n, err := l.DeleteOldSegments(now); n != 2 || err != nil || bases(l)[0] != all[2] {
		t.Fatalf("log start rule: %d %v %v", n, err, bases(l))
	}
}

func TestManagerBackground(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig()
	cfg.FileDeleteDelay = time.Millisecond
	m, err := OpenManager([]string{dir}, cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c := cfg
	c.SegmentBytes = 1024
	c.RetentionBytes = 2048
	c.FlushInterval = time.Millisecond
	l, err := m.GetOrCreate(TopicPartition{"r", 0}, &c)
	if err != nil {
		t.Fatal(err)
	}
	keep, _ := m.GetOrCreate(TopicPartition{"k", 0}, nil)
	for i := 0; i < 40; i++ {
		mustAppend(t, l, makeBatch(t, batchSpec{n: 2, valueSize: 150, ts: time.Now().UnixMilli()}))
		mustAppend(t, keep, makeBatch(t, batchSpec{n: 2, valueSize: 150, ts: time.Now().UnixMilli()}))
	}
	l.SetHighWatermark(l.LogEndOffset())
	keep.SetHighWatermark(keep.LogEndOffset())
	if _, err := keep.DeleteRecordsBefore(3); err != nil {
		t.Fatal(err)
	}
	// ApplyRetention directly.
	n, err := m.ApplyRetention(time.Now())
	if err != nil || n == 0 || l.Size() > 2048+1024 || keep.LogStartOffset() != 3 {
		t.Fatalf("ApplyRetention: %d %v, size %d, keep start %d", n, err, l.Size(), keep.LogStartOffset())
	}
	// The loop: retention, flush.ms, both checkpoints.
	for i := 0; i < 20; i++ {
		mustAppend(t, l, makeBatch(t, batchSpec{n: 2, valueSize: 150, ts: time.Now().UnixMilli()}))
	}
	l.SetHighWatermark(l.LogEndOffset())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.RunBackground(ctx, BackgroundConfig{
			RetentionCheckInterval: 5 * time.Millisecond, FlushCheckInterval: 5 * time.Millisecond,
			RecoveryCheckpointInterval: 5 * time.Millisecond, LogStartCheckpointInterval: 5 * time.Millisecond,
		})
	}()
	waitFor(t, "background retention, flush and checkpoints", func() bool {
		rps, err1 := ReadCheckpointFile(filepath.Join(dir, RecoveryPointCheckpointFile))
		starts, err2 := ReadCheckpointFile(filepath.Join(dir, LogStartOffsetCheckpointFile))
		return l.Size() <= 2048+1024 && l.RecoveryPoint() == l.LogEndOffset() && err1 == nil && err2 == nil &&
			rps[l.TopicPartition()] == l.LogEndOffset() && starts[keep.TopicPartition()] == 3 &&
			len(deletedFiles(t, l.Dir())) == 0
	})
	cancel()
	wg.Wait() // returns once ctx is done
}

func TestSwapFilesOnOpen(t *testing.T) {
	cfg := smallConfig()
	cfg.SegmentBytes = 1024
	for _, tc := range []string{"complete", "incomplete"} {
		dir := t.TempDir()
		l := openTestLog(t, dir, cfg)
		for l.NumSegments() < 5 {
			mustAppend(t, l, makeBatch(t, batchSpec{n: 3, valueSize: 100, ts: 5}))
		}
		want := readAll(t, l, 0, math.MaxInt32)
		segs := bases(l)
		l.Close()
		pdir := filepath.Join(dir, "t-0")
		// A "cleaned" segment merging segments 1 and 2 (here: their bytes,
		// unchanged, which is what a cleaner keeping every record writes).
		var merged []byte
		for _, b := range segs[1:3] {
			data, err := os.ReadFile(filepath.Join(pdir, segmentName(b)+logSuffix))
			if err != nil {
				t.Fatal(err)
			}
			merged = append(merged, data...)
		}
		os.WriteFile(filepath.Join(pdir, segmentName(segs[1])+logSuffix+swapSuffix), merged, 0o644)
		os.WriteFile(filepath.Join(pdir, segmentName(segs[1])+indexSuffix+swapSuffix), []byte("junk"), 0o644)
		os.WriteFile(filepath.Join(pdir, segmentName(segs[3])+logSuffix+deletedSuffix), []byte("old"), 0o644)
		if tc == "incomplete" {
			os.WriteFile(filepath.Join(pdir, segmentName(segs[0])+logSuffix+cleanedSuffix), []byte("partial"), 0o644)
		}
		l = openTestLog(t, dir, cfg)
		got := bases(l)
		if tc == "complete" {
			if len(got) != 4 || got[1] != segs[1] || got[2] != segs[3] {
				t.Fatalf("%s: segments %v (were %v)", tc, got, segs)
			}
		} else if len(got) != 5 {
			t.Fatalf("%s: segments %v (were %v)", tc, got, segs)
		}
		if b := readAll(t, l, 0, math.MaxInt32); !bytes.Equal(b, want) {
			t.Fatalf("%s: data differs", tc)
		}
		verifyAll(t, pdir)
		for _, pat := range []string{"*" + swapSuffix, "*" + deletedSuffix, "*" + cleanedSuffix} {
			if m, _ := filepath.Glob(filepath.Join(pdir, pat)); len(m) > 0 {
				t.Fatalf("%s: leftover %v", tc, m)
			}
		}
		l.Close()
	}
}
