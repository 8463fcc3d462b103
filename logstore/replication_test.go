package logstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Cases from Kafka 2.4's LeaderEpochFileCacheTest, on the pure functions.
func TestEpochEndOffsetFor(t *testing.T) {
	es := func(pairs ...int64) []EpochEntry {
		var out []EpochEntry
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, EpochEntry{int32(pairs[i]), pairs[i+1]})
		}
		return out
	}
	const leo = 100
	for _, tc := range []struct {
		name      string
		cache     []EpochEntry
		requested int32
		epoch     int32
		offset    int64
	}{
		{"latest epoch gives the log end offset", es(2, 6), 2, 2, leo},
		{"undefined epoch", es(2, 6), -1, -1, -1},
		{"empty cache", nil, 0, -1, -1},
		{"empty cache, undefined", nil, -1, -1, -1},
		{"below the first epoch: requested epoch, first start", es(5, 11, 6, 12, 7, 13), 4, 4, 11},
		{"older epoch: start of the next", es(5, 11, 6, 12, 7, 13), 5, 5, 12},
		{"older epoch, middle", es(5, 11, 6, 12, 7, 13), 6, 6, 13},
		{"gap: largest epoch below, next start", es(0, 10, 2, 13, 4, 17), 1, 0, 13},
		{"gap, exact", es(0, 10, 2, 13, 4, 17), 2, 2, 17},
		{"gap, between 2 and 4", es(0, 10, 2, 13, 4, 17), 3, 2, 17},
		{"latest of gapped", es(0, 10, 2, 13, 4, 17), 4, 4, leo},
		{"above the latest", es(0, 10, 2, 13, 4, 17), 5, -1, -1},
		{"single epoch, older requested", es(3, 0), 1, 1, 0},
	} {
		e, off := epochEndOffsetFor(tc.cache, tc.requested, leo)
		if e != tc.epoch || off != tc.offset {
			t.Errorf("%s: endOffsetFor(%d) = (%d, %d), want (%d, %d)", tc.name, tc.requested, e, off, tc.epoch, tc.offset)
		}
	}
}

func TestEpochCacheOperations(t *testing.T) {
	base := []EpochEntry{{2, 6}, {3, 8}, {4, 11}}
	for _, tc := range []struct {
		name string
		op   func([]EpochEntry) ([]EpochEntry, bool)
		want []EpochEntry
	}{
		{"assign same epoch later offset: no-op", func(e []EpochEntry) ([]EpochEntry, bool) { o, c, _ := epochAssign(e, 4, 12); return o, c }, base},
		{"assign new epoch", func(e []EpochEntry) ([]EpochEntry, bool) { o, c, _ := epochAssign(e, 5, 20); return o, c }, []EpochEntry{{2, 6}, {3, 8}, {4, 11}, {5, 20}}},
		{"assign same epoch earlier offset replaces", func(e []EpochEntry) ([]EpochEntry, bool) { o, c, _ := epochAssign(e, 4, 10); return o, c }, []EpochEntry{{2, 6}, {3, 8}, {4, 10}}},
		{"epoch going back drops later epochs", func(e []EpochEntry) ([]EpochEntry, bool) { o, c, _ := epochAssign(e, 3, 12); return o, c }, []EpochEntry{{2, 6}, {3, 12}}},
		{"offset going back drops later offsets", func(e []EpochEntry) ([]EpochEntry, bool) { o, c, _ := epochAssign(e, 5, 7); return o, c }, []EpochEntry{{2, 6}, {5, 7}}},
		{"negative epoch ignored", func(e []EpochEntry) ([]EpochEntry, bool) { o, c, _ := epochAssign(e, -1, 30); return o, c }, base},
		{"truncateFromEnd(9)", func(e []EpochEntry) ([]EpochEntry, bool) { return epochTruncateFromEnd(e, 9) }, []EpochEntry{{2, 6}, {3, 8}}},
		{"truncateFromEnd(8)", func(e []EpochEntry) ([]EpochEntry, bool) { return epochTruncateFromEnd(e, 8) }, []EpochEntry{{2, 6}}},
		{"truncateFromEnd(6)", func(e []EpochEntry) ([]EpochEntry, bool) { return epochTruncateFromEnd(e, 6) }, []EpochEntry{}},
		{"truncateFromEnd(12): no-op", func(e []EpochEntry) ([]EpochEntry, bool) { return epochTruncateFromEnd(e, 12) }, base},
		{"truncateFromEnd(-1): no-op", func(e []EpochEntry) ([]EpochEntry, bool) { return epochTruncateFromEnd(e, -1) }, base},
		{"truncateFromStart(5): no-op", func(e []EpochEntry) ([]EpochEntry, bool) { return epochTruncateFromStart(e, 5) }, base},
		{"truncateFromStart(6): no-op", func(e []EpochEntry) ([]EpochEntry, bool) { return epochTruncateFromStart(e, 6) }, base},
		{"truncateFromStart(7)", func(e []EpochEntry) ([]EpochEntry, bool) { return epochTruncateFromStart(e, 7) }, []EpochEntry{{2, 7}, {3, 8}, {4, 11}}},
		{"truncateFromStart(8)", func(e []EpochEntry) ([]EpochEntry, bool) { return epochTruncateFromStart(e, 8) }, []EpochEntry{{3, 8}, {4, 11}}},
		{"truncateFromStart(9)", func(e []EpochEntry) ([]EpochEntry, bool) { return epochTruncateFromStart(e, 9) }, []EpochEntry{{3, 9}, {4, 11}}},
		{"truncateFromStart(12)", func(e []EpochEntry) ([]EpochEntry, bool) { return epochTruncateFromStart(e, 12) }, []EpochEntry{{4, 12}}},
	} {
		in := append([]EpochEntry(nil), base...)
		got, changed := tc.op(in)
		if !reflect.DeepEqual(in, base) {
			t.Errorf("%s: input modified: %v", tc.name, in)
		}
		if len(got) != len(tc.want) || (len(got) > 0 && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
		if wantChanged := !reflect.DeepEqual(tc.want, base); changed != wantChanged {
			t.Errorf("%s: changed %v, want %v", tc.name, changed, wantChanged)
		}
	}
}

func readEpochFile(t *testing.T, l *Log) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(l.Dir(), LeaderEpochCheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLeaderEpochCacheOnLog(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, smallConfig())
	if l.LatestEpoch() != -1 || len(l.EpochEntries()) != 0 {
		t.Fatalf("new log: latest %d entries %v", l.LatestEpoch(), l.EpochEntries())
	}
	app := func(epoch int32) AppendInfo {
		t.Helper()
		info, err := l.Append(makeBatch(t, batchSpec{n: 2, valueSize: 30}), epoch)
		if err != nil {
			t.Fatal(err)
		}
		return info
	}
	app(1)
	app(1)
	app(3)
	app(2) // a stale leader epoch is not recorded on the leader path
	app(3)
	app(5)
	want := []EpochEntry{{1, 0}, {3, 4}, {5, 10}}
	if got := l.EpochEntries(); !reflect.DeepEqual(got, want) {
		t.Fatalf("entries %v, want %v", got, want)
	}
	if got := readEpochFile(t, l); got != "0\n3\n1 0\n3 4\n5 10\n" {
		t.Fatalf("checkpoint file %q", got)
	}
	if e, off := l.EndOffsetForEpoch(5); e != 5 || off != 12 {
		t.Fatalf("EndOffsetForEpoch(5) = %d, %d", e, off)
	}
	if e, off := l.EndOffsetForEpoch(4); e != 3 || off != 10 {
		t.Fatalf("EndOffsetForEpoch(4) = %d, %d", e, off)
	}
	l.Close()
	l = openTestLog(t, dir, smallConfig())
	if got := l.EpochEntries(); !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopen %v", got)
	}
	// An entry past the log end offset (the data was lost in a crash) is
	// dropped on open, as Kafka's truncateFromEnd(logEndOffset).
	crash(l)
	os.WriteFile(filepath.Join(dir, "t-0", LeaderEpochCheckpointFile), []byte("0\n4\n1 0\n3 4\n5 10\n7 12\n"), 0o644)
	l = openTestLog(t, dir, smallConfig())
	if got := l.EpochEntries(); !reflect.DeepEqual(got, want) {
		t.Fatalf("after repair %v", got)
	}
	if got := readEpochFile(t, l); got != "0\n3\n1 0\n3 4\n5 10\n" {
		t.Fatalf("repaired checkpoint file %q", got)
	}
	// A corrupt file is ignored (logged), not fatal.
	crash(l)
	os.WriteFile(filepath.Join(dir, "t-0", LeaderEpochCheckpointFile), []byte("0\n9\nbanana\n"), 0o644)
	l = openTestLog(t, dir, smallConfig())
	if len(l.EpochEntries()) != 0 || l.LogEndOffset() != 12 {
		t.Fatalf("corrupt checkpoint: %v, LEO %d", l.EpochEntries(), l.LogEndOffset())
	}
	l.Close()
}

// leaderData appends n batches to a leader log and returns the stored bytes
// (offsets and epochs assigned) and the batch spans.
func leaderData(t *testing.T, n int, epochAt func(i int) int32) ([]byte, []BatchHeader) {
	t.Helper()
	l := openTestLog(t, t.TempDir(), Config{})
	defer l.Close()
	for i := 0; i < n; i++ {
		if _, err := l.Append(makeBatch(t, batchSpec{n: 1 + i%4, valueSize: 40 + i%90, ts: int64(1000 + i), gzip: i%5 == 0}), epochAt(i)); err != nil {
			t.Fatal(err)
		}
	}
	b := readAll(t, l, 0, math.MaxInt32)
	return b, parseAll(t, b)
}

// split cuts a record set into pieces of at most k batches.
func split(b []byte, hs []BatchHeader, k int) [][]byte {
	var out [][]byte
	pos := 0
	for i := 0; i < len(hs); i += k {
		size := 0
		for _, h := range hs[i:min(i+k, len(hs))] {
			size += int(h.Size())
		}
		out = append(out, b[pos:pos+size])
		pos += size
	}
	return out
}

func TestAppendAsFollowerKeepsBytes(t *testing.T) {
	data, hs := leaderData(t, 120, func(i int) int32 { return int32(i / 40 * 2) }) // epochs 0, 2, 4
	dir := t.TempDir()
	f := openTestLog(t, dir, smallConfig())
	orig := append([]byte(nil), data...)
	for _, piece := range split(data, hs, 7) {
		before := f.LogEndOffset()
		info, err := f.AppendAsFollower(piece)
		if err != nil {
			t.Fatal(err)
		}
		if info.FirstOffset != before || f.LogEndOffset() != info.LastOffset+1 {
			t.Fatalf("info %+v, LEO %d before %d", info, f.LogEndOffset(), before)
		}
	}
	if !bytes.Equal(data, orig) {
		t.Fatal("AppendAsFollower modified its input")
	}
	check := func(f *Log) {
		t.Helper()
		if got := readAll(t, f, 0, math.MaxInt32); !bytes.Equal(got, orig) {
			t.Fatalf("follower bytes differ from the leader's (%d vs %d bytes)", len(got), len(orig))
		}
		if f.NumSegments() < 3 {
			t.Fatalf("%d segments", f.NumSegments())
		}
		var want []EpochEntry
		for _, h := range hs {
			if len(want) == 0 || want[len(want)-1].Epoch != h.PartitionLeaderEpoch {
				want = append(want, EpochEntry{h.PartitionLeaderEpoch, h.BaseOffset})
			}
		}
		if got := f.EpochEntries(); !reflect.DeepEqual(got, want) || len(want) != 3 {
			t.Fatalf("epochs %v, want %v", got, want)
		}
		verifyAll(t, f.Dir())
	}
	check(f)
	f.Close()
	f = openTestLog(t, dir, smallConfig())
	check(f)
	crash(f)
	f = openTestLog(t, dir, smallConfig())
	check(f)
	f.Close()
}

// rebase returns a copy of batch with base offset and epoch set (outside the
// CRC).
func rebase(batch []byte, base int64, epoch int32) []byte {
	b := append([]byte(nil), batch...)
	patchBatch(b, base, epoch)
	return b
}

func TestAppendAsFollowerGapsAndChecks(t *testing.T) {
	cfg := smallConfig()
	cfg.MaxMessageBytes = 200
	dir := t.TempDir()
	f := openTestLog(t, dir, cfg)
	b3 := makeBatch(t, batchSpec{n: 3, valueSize: 20})
	big := makeBatch(t, batchSpec{n: 2, valueSize: 300}) // > MaxMessageBytes: the leader accepted it
	set := append(append(rebase(b3, 10, 1), rebase(b3, 20, 1)...), rebase(big, 100, 2)...)
	info, err := f.AppendAsFollower(set)
	if err != nil {
		t.Fatal(err)
	}
	if info.FirstOffset != 10 || info.LastOffset != 101 || info.NumRecords != 8 || f.LogEndOffset() != 102 {
		t.Fatalf("info %+v LEO %d", info, f.LogEndOffset())
	}
	if got := f.EpochEntries(); !reflect.DeepEqual(got, []EpochEntry{{1, 10}, {2, 100}}) {
		t.Fatalf("epochs %v", got)
	}
	// Reads in a gap start at the next batch.
	for off, base := range map[int64]int64{0: 10, 13: 20, 50: 100, 101: 100} {
		hs := parseAll(t, readAll(t, f, off, 1))
		if len(hs) != 1 || hs[0].BaseOffset != base {
			t.Errorf("read %d: %+v, want base %d", off, hs, base)
		}
	}

	size := f.Size()
	for name, tc := range map[string]struct {
		set  []byte
		want error
	}{
		"below LEO":      {rebase(b3, 101, 2), ErrUnexpectedAppendOffset},
		"not increasing": {append(rebase(b3, 200, 2), rebase(b3, 201, 2)...), ErrUnexpectedAppendOffset},
		"bad crc":        {func() []byte { b := rebase(b3, 300, 2); b[len(b)-1]++; return b }(), ErrCorruptMessage},
		"torn":           {rebase(b3, 300, 2)[:len(b3)-1], ErrCorruptMessage},
		"empty":          {nil, ErrCorruptMessage},
		"negative base":  {rebase(b3, -5, 2), ErrCorruptMessage},
		"good then bad":  {append(rebase(b3, 300, 2), rebase(b3, 299, 2)...), ErrUnexpectedAppendOffset},
	} {
		if _, err := f.AppendAsFollower(tc.set); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if f.Size() != size || f.LogEndOffset() != 102 {
		t.Fatalf("a refused set left data: size %d -> %d, LEO %d", size, f.Size(), f.LogEndOffset())
	}

	// A control batch (transaction marker) and an empty batch are replicated.
	ctrl := rebase(b3, 102, 2)
	binary.BigEndian.PutUint16(ctrl[offAttributes:], attrControl|attrTransactional)
	binary.BigEndian.PutUint32(ctrl[offCRC:], batchCRC(ctrl))
	empty := rebase(b3, 105, 2)
	binary.BigEndian.PutUint32(empty[offRecordCount:], 0)
	binary.BigEndian.PutUint32(empty[offCRC:], batchCRC(empty))
	if _, err := f.AppendAsFollower(append(ctrl, empty...)); err != nil {
		t.Fatalf("control and empty batches: %v", err)
	}
	// A single batch larger than a segment gets a segment of its own.
	huge := rebase(makeBatch(t, batchSpec{n: 1, valueSize: 5000}), 1000, 3)
	if _, err := f.AppendAsFollower(huge); err != nil {
		t.Fatal(err)
	}
	if act := f.active(); act.base != 1000 || act.size.Load() != int64(len(huge)) {
		t.Fatalf("huge batch: active base %d size %d", act.base, act.size.Load())
	}
	// Offsets far apart: a new segment where relative offsets would overflow.
	far := rebase(b3, 1000+math.MaxInt32+10, 3)
	if _, err := f.AppendAsFollower(far); err != nil {
		t.Fatal(err)
	}
	if f.active().base != 1000+math.MaxInt32+10 {
		t.Fatalf("no roll for an offset beyond int32: active base %d", f.active().base)
	}
	want := readAll(t, f, 0, math.MaxInt32)
	verifyAll(t, f.Dir())
	crash(f)
	f = openTestLog(t, dir, cfg)
	defer f.Close()
	if got := readAll(t, f, 0, math.MaxInt32); !bytes.Equal(got, want) || f.LogEndOffset() != 1000+math.MaxInt32+13 {
		t.Fatalf("after crash: %d bytes (want %d), LEO %d", len(got), len(want), f.LogEndOffset())
	}
}

func TestAppendAsFollowerSplitsOverSegments(t *testing.T) {
	data, hs := leaderData(t, 60, func(int) int32 { return 4 })
	cfg := smallConfig()
	cfg.SegmentBytes = 1024
	f := openTestLog(t, t.TempDir(), cfg)
	defer f.Close()
	if len(data) < 4*1024 {
		t.Fatalf("only %d bytes", len(data))
	}
	if _, err := f.AppendAsFollower(data); err != nil { // one set, many segments
		t.Fatal(err)
	}
	if got := readAll(t, f, 0, math.MaxInt32); !bytes.Equal(got, data) {
		t.Fatal("bytes differ")
	}
	for _, s := range f.segments() {
		if s.size.Load() > cfg.SegmentBytes {
			t.Errorf("segment %d has %d bytes", s.base, s.size.Load())
		}
	}
	if f.LogEndOffset() != hs[len(hs)-1].LastOffset()+1 || f.NumSegments() < 4 {
		t.Fatalf("LEO %d, %d segments", f.LogEndOffset(), f.NumSegments())
	}
	verifyAll(t, f.Dir())
}

// deletedFiles lists *.deleted files in dir.
func deletedFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+deletedSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// waitFor polls cond with a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTruncateTo(t *testing.T) {
	data, hs := leaderData(t, 150, func(i int) int32 { return int32(i / 50) })
	cfg := smallConfig()
	cfg.FileDeleteDelay = time.Millisecond
	// Targets: batch boundaries, the middle of batches, segment bases, the
	// first offset, LEO (no-op) and beyond.
	probe := openTestLog(t, t.TempDir(), cfg)
	if _, err := probe.AppendAsFollower(append([]byte(nil), data...)); err != nil {
		t.Fatal(err)
	}
	var targets []int64
	for _, s := range probe.segments() {
		targets = append(targets, s.base, s.base+1)
	}
	probe.Close()
	leo := hs[len(hs)-1].LastOffset() + 1
	targets = append(targets, 0, 1, hs[77].BaseOffset, hs[77].BaseOffset+1, hs[77].LastOffset(), leo-1, leo, leo+5)

	for _, target := range targets {
		for _, reopen := range []string{"clean", "crash"} {
			dir := t.TempDir()
			l := openTestLog(t, dir, cfg)
			if _, err := l.AppendAsFollower(append([]byte(nil), data...)); err != nil {
				t.Fatal(err)
			}
			l.SetHighWatermark(leo)
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			nsegs := l.NumSegments()
			if err := l.TruncateTo(target); err != nil {
				t.Fatalf("TruncateTo(%d): %v", target, err)
			}
			// Expected: every batch whose last offset is below target.
			var want []byte
			pos := 0
			wantEpochs := []EpochEntry{}
			for _, h := range hs {
				if h.LastOffset() >= target {
					break
				}
				want = append(want, data[pos:pos+int(h.Size())]...)
				pos += int(h.Size())
				if n := len(wantEpochs); n == 0 || wantEpochs[n-1].Epoch != h.PartitionLeaderEpoch {
					wantEpochs = append(wantEpochs, EpochEntry{h.PartitionLeaderEpoch, h.BaseOffset})
				}
			}
			wantLEO := min(target, leo)
			check := func(l *Log, leoWant int64) {
				t.Helper()
				if l.LogEndOffset() != leoWant || l.HighWatermark() > leoWant || l.RecoveryPoint() > leoWant {
					t.Fatalf("target %d: LEO %d (want %d) HW %d RP %d", target, l.LogEndOffset(), leoWant, l.HighWatermark(), l.RecoveryPoint())
				}
				got := readAll(t, l, l.LogStartOffset(), math.MaxInt32)
				if !bytes.Equal(got, want) {
					t.Fatalf("target %d: %d bytes left, want %d", target, len(got), len(want))
				}
				if es := l.EpochEntries(); !reflect.DeepEqual(append([]EpochEntry{}, es...), wantEpochs) {
					t.Fatalf("target %d: epochs %v, want %v", target, es, wantEpochs)
				}
				verifyAll(t, l.Dir())
			}
			check(l, wantLEO)
			if target < leo && l.NumSegments() < nsegs {
				waitFor(t, ".deleted files removed", func() bool { return len(deletedFiles(t, l.Dir())) == 0 })
			}
			// Appending continues at the new end.
			info, err := l.Append(makeBatch(t, batchSpec{n: 2, valueSize: 10}), 9)
			if err != nil || info.FirstOffset != wantLEO {
				t.Fatalf("target %d: append after truncation %+v %v", target, info, err)
			}
			want = append(want, readAll(t, l, info.FirstOffset, math.MaxInt32)...)
			wantEpochs = append(wantEpochs, EpochEntry{9, wantLEO})
			if reopen == "clean" {
				l.Close()
			} else {
				crash(l)
			}
			l = openTestLog(t, dir, cfg)
			// After a reopen the end is where the data ends: a truncation in
			// the middle of a batch removed that whole batch.
			check(l, info.LastOffset+1)
			l.Close()
		}
	}
}

func TestTruncateKeepsRegionsUntilDelay(t *testing.T) {
	cfg := smallConfig()
	cfg.FileDeleteDelay = time.Hour
	dir := t.TempDir()
	l := openTestLog(t, dir, cfg)
	for i := 0; i < 60; i++ {
		mustAppend(t, l, makeBatch(t, batchSpec{n: 2, valueSize: 100}))
	}
	last := l.active().base
	r, err := l.Read(last, math.MaxInt32, math.MaxInt64, true)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := r.AppendTo(nil)
	if err := l.TruncateTo(last - 1); err != nil {
		t.Fatal(err)
	}
	if n := len(deletedFiles(t, l.Dir())); n != 3 {
		t.Fatalf("%d .deleted files, want 3", n)
	}
	if _, err := os.Stat(filepath.Join(l.Dir(), segmentName(last)+logSuffix)); !os.IsNotExist(err) {
		t.Fatalf("segment file still under its name: %v", err)
	}
	after, err := r.AppendTo(nil) // the region handed out still reads
	if err != nil || !bytes.Equal(after, before) {
		t.Fatalf("region after deletion: %v", err)
	}
	if _, err := l.Read(last, 100, math.MaxInt64, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read of a deleted offset: %v", err)
	}
	// Close finishes the pending removal instead of leaking it.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(deletedFiles(t, dir+"/t-0")); n != 0 {
		t.Fatalf("%d .deleted files after close", n)
	}
	if _, err := r.AppendTo(nil); err == nil {
		t.Fatal("region readable after close")
	}
}

func TestTruncateFullyAndStartAt(t *testing.T) {
	cfg := smallConfig()
	cfg.FileDeleteDelay = time.Millisecond
	dir := t.TempDir()
	l := openTestLog(t, dir, cfg)
	for i := 0; i < 40; i++ {
		mustAppend(t, l, makeBatch(t, batchSpec{n: 2, valueSize: 100}))
	}
	l.SetHighWatermark(50)
	for _, start := range []int64{500, 0, 0, 30} { // forward, back, same name twice, inside the old range
		ch := l.Changed()
		if err := l.TruncateFullyAndStartAt(start); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ch:
		default:
			t.Fatal("Changed not notified")
		}
		if l.LogStartOffset() != start || l.LogEndOffset() != start || l.HighWatermark() != start || l.NumSegments() != 1 || len(l.EpochEntries()) != 0 {
			t.Fatalf("start %d: [%d, %d) HW %d, %d segments, epochs %v", start, l.LogStartOffset(), l.LogEndOffset(), l.HighWatermark(), l.NumSegments(), l.EpochEntries())
		}
		if got := readEpochFile(t, l); got != "0\n0\n" {
			t.Fatalf("epoch file %q", got)
		}
		if _, err := l.Read(start-1, 100, math.MaxInt64, true); start > 0 && !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("read below start: %v", err)
		}
		info := mustAppend(t, l, makeBatch(t, batchSpec{n: 3, valueSize: 10}))
		if info.FirstOffset != start {
			t.Fatalf("append at %d", info.FirstOffset)
		}
	}
	waitFor(t, ".deleted files removed", func() bool { return len(deletedFiles(t, l.Dir())) == 0 })
	l.Close()
	l = openTestLog(t, dir, cfg)
	defer l.Close()
	if l.LogStartOffset() != 30 || l.LogEndOffset() != 33 {
		t.Fatalf("reopen: [%d, %d)", l.LogStartOffset(), l.LogEndOffset())
	}
	if es := l.EpochEntries(); !reflect.DeepEqual(es, []EpochEntry{{7, 30}}) {
		t.Fatalf("epochs %v", es)
	}
}

func TestDeleteRecordsBefore(t *testing.T) {
	dirs := []string{t.TempDir()}
	cfg := smallConfig()
	cfg.FileDeleteDelay = time.Millisecond
	m, err := OpenManager(dirs, cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	tp := TopicPartition{"t", 0}
	l, _ := m.GetOrCreate(tp, nil)
	for i := 0; i < 80; i++ {
		if _, err := l.Append(makeBatch(t, batchSpec{n: 2, valueSize: 100}), int32(i/20)); err != nil {
			t.Fatal(err)
		}
	}
	l.SetHighWatermark(100)
	nsegs := l.NumSegments()
	if _, err := l.DeleteRecordsBefore(101); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("beyond HW: %v", err)
	}
	if _, err := l.DeleteRecordsBefore(-1); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("negative: %v", err)
	}
	got, err := l.DeleteRecordsBefore(45)
	if err != nil || got != 45 || l.LogStartOffset() != 45 {
		t.Fatalf("DeleteRecordsBefore(45) = %d, %v; start %d", got, err, l.LogStartOffset())
	}
	if got, err := l.DeleteRecordsBefore(10); err != nil || got != 45 {
		t.Fatalf("lowering: %d, %v", got, err)
	}
	if _, err := l.Read(44, 1000, math.MaxInt64, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below log start: %v", err)
	}
	if hs := parseAll(t, readAll(t, l, 45, 1)); hs[0].BaseOffset != 44 { // the batch holding 45
		t.Fatalf("read at log start: %+v", hs)
	}
	if off, _, _ := l.OffsetForTimestamp(EarliestTimestamp); off != 45 {
		t.Fatalf("earliest %d", off)
	}
	if off, _, ok := l.OffsetForTimestamp(0); !ok || off != 45 {
		t.Fatalf("offset for timestamp 0: %d %v", off, ok)
	}
	if l.NumSegments() >= nsegs || l.segments()[0].base > 45 || l.segments()[1].base <= 45 {
		t.Fatalf("segments below the log start not deleted: %d -> %d, first %d", nsegs, l.NumSegments(), l.segments()[0].base)
	}
	if es := l.EpochEntries(); !reflect.DeepEqual(es, []EpochEntry{{1, 45}, {2, 80}, {3, 120}}) {
		t.Fatalf("epochs %v", es)
	}
	waitFor(t, ".deleted files removed", func() bool { return len(deletedFiles(t, l.Dir())) == 0 })
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	ck, err := ReadCheckpointFile(filepath.Join(dirs[0], LogStartOffsetCheckpointFile))
	if err != nil || ck[tp] != 45 {
		t.Fatalf("checkpoint %v %v", ck, err)
	}
	m, err = OpenManager(dirs, cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	l, _ = m.Get(tp)
	if l.LogStartOffset() != 45 || l.HighWatermark() != 100 {
		t.Fatalf("after reopen: start %d HW %d", l.LogStartOffset(), l.HighWatermark())
	}
	if _, err := l.Read(44, 1000, math.MaxInt64, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below log start after reopen: %v", err)
	}
	// Everything up to the HW: only the active segment is left.
	if _, err := l.DeleteRecordsBefore(100); err != nil {
		t.Fatal(err)
	}
	if err := m.CheckpointLogStartOffsets(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dirs[0], LogStartOffsetCheckpointFile))
	if l.segments()[0].base == 100 {
		if strings.Contains(string(data), "t 0") {
			t.Fatalf("checkpoint lists a log start at its segment base: %q", data)
		}
	} else if !strings.Contains(string(data), "t 0 100\n") {
		t.Fatalf("checkpoint %q", data)
	}
	m.Close()
}

func TestLogStartPastEndOnOpen(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, smallConfig())
	for i := 0; i < 5; i++ {
		mustAppend(t, l, makeBatch(t, batchSpec{n: 2}))
	}
	l.Close()
	l, err := openLog(dir, TopicPartition{"t", 0}, func() Config { c := smallConfig(); c.EnsureDefaults(); return c }(), testLogger(),
		openOptions{highWatermark: -1, logStartOffset: 50, clean: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.LogStartOffset() != 50 || l.LogEndOffset() != 50 || l.NumSegments() != 1 || l.segments()[0].base != 50 {
		t.Fatalf("[%d, %d) %d segments", l.LogStartOffset(), l.LogEndOffset(), l.NumSegments())
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "t-0", "*.log")); len(m) != 1 {
		t.Fatalf("segment files %v", m)
	}
}

func TestDeleteRecordsBeforeWholeLog(t *testing.T) {
	cfg := smallConfig()
	cfg.FileDeleteDelay = time.Millisecond
	for _, nsegs := range []int{1, 3} {
		l := openTestLog(t, t.TempDir(), cfg)
		for l.NumSegments() < nsegs {
			mustAppend(t, l, makeBatch(t, batchSpec{n: 2, valueSize: 300}))
		}
		leo := l.LogEndOffset()
		l.SetHighWatermark(leo)
		if got, err := l.DeleteRecordsBefore(leo); err != nil || got != leo {
			t.Fatalf("%d segments: %d %v", nsegs, got, err)
		}
		// The active segment stays; nothing can be read below the end.
		if l.NumSegments() != 1 || l.LogStartOffset() != leo {
			t.Fatalf("%d segments: %d left, start %d", nsegs, l.NumSegments(), l.LogStartOffset())
		}
		if _, err := l.Read(leo-1, 100, math.MaxInt64, true); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("read: %v", err)
		}
		if info := mustAppend(t, l, makeBatch(t, batchSpec{n: 1})); info.FirstOffset != leo {
			t.Fatalf("append at %d", info.FirstOffset)
		}
		l.Close()
	}
}
