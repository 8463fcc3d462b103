package logstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand"
	"os"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"
)

func TestCheckProducerBatch(t *testing.T) {
	entry := func(epoch int16, seqs ...[2]int32) *producerEntry {
		e := &producerEntry{epoch: epoch}
		for i, s := range seqs {
			e.batches = append(e.batches, producerBatch{firstSeq: s[0], lastSeq: s[1], firstOffset: int64(100 * i), lastOffset: int64(100*i + int(s[1]-s[0]))})
		}
		return e
	}
	b := func(epoch int16, first, last int32) batchProducer {
		return batchProducer{pid: 7, epoch: epoch, firstSeq: first, lastSeq: last}
	}
	five := entry(0, [2]int32{0, 4}, [2]int32{5, 9}, [2]int32{10, 14}, [2]int32{15, 19}, [2]int32{20, 24})
	for _, tc := range []struct {
		name string
		e    *producerEntry
		b    batchProducer
		err  error
		dup  int64 // first offset of the duplicate answered, -1 none
	}{
		{"new producer starts at 0", nil, b(0, 0, 4), nil, -1},
		{"unknown producer not at 0", nil, b(0, 5, 9), ErrUnknownProducerID, -1},
		{"next in sequence", five, b(0, 25, 29), nil, -1},
		{"gap", five, b(0, 26, 30), ErrOutOfOrderSequence, -1},
		{"retry of the last batch", five, b(0, 20, 24), nil, 400},
		{"retry of an older cached batch", five, b(0, 5, 9), nil, 100},
		{"fenced epoch", five, b(-1, 25, 29), ErrInvalidProducerEpoch, -1},
		{"new epoch from 0", five, b(1, 0, 3), nil, -1},
		{"new epoch not from 0", five, b(1, 25, 29), ErrOutOfOrderSequence, -1},
		{"same range in a new epoch is not a duplicate", entry(0, [2]int32{0, 4}), b(1, 0, 4), nil, -1},
		{"known epoch, no batch (marker only), not at 0", entry(0), b(0, 3, 4), ErrUnknownProducerID, -1},
		{"known epoch, no batch, at 0", entry(0), b(0, 0, 4), nil, -1},
		{"wrap after int32 max", entry(0, [2]int32{math.MaxInt32 - 4, math.MaxInt32}), b(0, 0, 4), nil, -1},
	} {
		dup, err := checkProducerBatch(tc.e, tc.b)
		d := int64(-1)
		if dup != nil {
			d = dup.firstOffset
		}
		if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) || d != tc.dup {
			t.Errorf("%s: got err %v dup %d, want %v dup %d", tc.name, err, d, tc.err, tc.dup)
		}
	}
	if addSeq(math.MaxInt32, 1) != 0 || addSeq(math.MaxInt32-1, 3) != 1 || addSeq(5, 4) != 9 {
		t.Fatal("sequence numbers must wrap at int32 max")
	}
	if subSeq(1, 3) != math.MaxInt32-1 || subSeq(9, 4) != 5 || subSeq(addSeq(math.MaxInt32-2, 7), 7) != math.MaxInt32-2 {
		t.Fatal("subSeq must undo addSeq")
	}
	e := &producerEntry{}
	for i := int32(0); i < 8; i++ {
		e.apply(batchProducer{epoch: 0, firstSeq: i, lastSeq: i, firstOffset: int64(i), lastOffset: int64(i), maxTimestamp: int64(i)})
	}
	if len(e.batches) != maxProducerBatches || e.batches[0].firstSeq != 3 || e.lastTimestamp != 7 {
		t.Fatalf("kept %+v", e)
	}
}

// producerBatch builds an idempotent batch of n records from pid/epoch
// starting at sequence seq, record timestamps from ts.
func makeProducerBatch(tb testing.TB, pid int64, epoch int16, seq int32, n int, ts int64) []byte {
	b := makeBatch(tb, batchSpec{n: n, valueSize: 40, ts: ts})
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(pid))
	binary.BigEndian.PutUint16(b[offProducerEpoch:], uint16(epoch))
	binary.BigEndian.PutUint32(b[offProducerEpoch+2:], uint32(seq))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b
}

// fullScan builds the producer table from the log start with no snapshot,
// the reference for what a reload must give.
func fullScan(t testing.TB, l *Log) map[int64]*producerEntry {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	ps := producerState{loaded: true, producers: map[int64]*producerEntry{}}
	load := ProducerStateLoad{FromOffset: l.LogStartOffset(), ToOffset: l.LogEndOffset()}
	if err := l.replayProducers(&load, func(h BatchHeader) {
		if hasProducer(h) {
			ps.record(producerOf(h))
		}
	}); err != nil {
		t.Fatal(err)
	}
	return ps.producers
}

// afterReloadFrom is what a reload from a snapshot at s keeps of a full
// scan's table: per producer, the batches at or after s, plus the last one
// before s (the snapshot holds only that one).
func afterReloadFrom(full map[int64]*producerEntry, s int64) map[int64]*producerEntry {
	out := map[int64]*producerEntry{}
	for pid, e := range full {
		c := &producerEntry{epoch: e.epoch, lastTimestamp: e.lastTimestamp, batches: []producerBatch{}}
		for i, b := range e.batches {
			if s < 0 || b.firstOffset >= s || i+1 == len(e.batches) || e.batches[i+1].firstOffset >= s {
				c.batches = append(c.batches, b)
			}
		}
		out[pid] = c
	}
	return out
}

func table(l *Log) map[int64]*producerEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int64]*producerEntry{}
	for pid, e := range l.pstate.producers {
		c := e.clone()
		if c.batches == nil {
			c.batches = []producerBatch{}
		}
		out[pid] = c
	}
	return out
}

func sameTable(t *testing.T, what string, got, want map[int64]*producerEntry) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: producer table differs\n got %s\nwant %s", what, dumpTable(got), dumpTable(want))
	}
}

func dumpTable(m map[int64]*producerEntry) string {
	pids := make([]int64, 0, len(m))
	for pid := range m {
		pids = append(pids, pid)
	}
	sort.Slice(pids, func(i, j int) bool { return pids[i] < pids[j] })
	s := ""
	for _, pid := range pids {
		s += fmt.Sprintf("\n  %d: %+v", pid, *m[pid])
	}
	return s
}

func TestProducerSnapshotRoundTrip(t *testing.T) {
	producers := map[int64]*producerEntry{
		7: {epoch: 2, lastTimestamp: 1700000000123, batches: []producerBatch{
			{firstSeq: 0, lastSeq: 4, firstOffset: 10, lastOffset: 14},
			{firstSeq: 5, lastSeq: 7, firstOffset: 20, lastOffset: 22}}},
		3:  {epoch: 0, lastTimestamp: -1, batches: []producerBatch{{firstSeq: math.MaxInt32 - 1, lastSeq: 1, firstOffset: 100, lastOffset: 103}}},
		99: {epoch: 5, lastTimestamp: 5}, // no batch (a transaction marker only, in Kafka)
	}
	b := encodeProducerSnapshot(producers)
	// Kafka 2.4's layout: version, crc over the rest, count, 46-byte entries.
	if len(b) != 10+3*46 || binary.BigEndian.Uint16(b) != 1 || binary.BigEndian.Uint32(b[6:]) != 3 ||
		binary.BigEndian.Uint32(b[2:]) != crc32.Checksum(b[6:], castagnoli) {
		t.Fatalf("header % x", b[:10])
	}
	e := b[10+46:] // pid 7 (sorted second)
	if binary.BigEndian.Uint64(e) != 7 || binary.BigEndian.Uint16(e[8:]) != 2 || binary.BigEndian.Uint32(e[10:]) != 7 ||
		binary.BigEndian.Uint64(e[14:]) != 22 || binary.BigEndian.Uint32(e[22:]) != 2 || binary.BigEndian.Uint64(e[26:]) != 1700000000123 ||
		int32(binary.BigEndian.Uint32(e[34:])) != -1 || int64(binary.BigEndian.Uint64(e[38:])) != -1 {
		t.Fatalf("entry % x", e[:46])
	}
	path := snapshotPath(t.TempDir(), 123)
	if err := writeProducerSnapshot(path, producers); err != nil {
		t.Fatal(err)
	}
	entries, err := ReadProducerSnapshot(path)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]*producerEntry{}
	for _, se := range entries {
		got[se.ProducerID] = se.entry()
	}
	want := map[int64]*producerEntry{
		7:  {epoch: 2, lastTimestamp: 1700000000123, batches: []producerBatch{{firstSeq: 5, lastSeq: 7, firstOffset: 20, lastOffset: 22}}},
		3:  {epoch: 0, lastTimestamp: -1, batches: []producerBatch{{firstSeq: math.MaxInt32 - 1, lastSeq: 1, firstOffset: 100, lastOffset: 103}}},
		99: {epoch: 5, lastTimestamp: 5},
	}
	sameTable(t, "round trip", got, want)
	if entries[2].LastOffset != -1 || entries[2].LastSequence != -1 {
		t.Fatalf("entry without a batch: %+v", entries[2])
	}

	for name, mangle := range map[string]func([]byte) []byte{
		"bad crc":       func(b []byte) []byte { b[20] ^= 1; return b },
		"short":         func(b []byte) []byte { return b[:len(b)-3] },
		"header only":   func(b []byte) []byte { return b[:5] },
		"trailing":      func(b []byte) []byte { return append(b, 0) },
		"other version": func(b []byte) []byte { b[1] = 2; return b },
		"empty":         func(b []byte) []byte { return nil },
	} {
		if _, err := decodeProducerSnapshot(mangle(append([]byte(nil), b...))); !errors.Is(err, ErrCorruptSnapshot) {
			t.Errorf("%s: got %v, want ErrCorruptSnapshot", name, err)
		}
	}
}

// idemLog appends batches of 2 records from producers 1..np round robin until
// the log has rolled at least rolls times, with timestamps ts.
func idemLog(t *testing.T, l *Log, np int, rolls int, ts int64, seqs map[int64]int32) {
	t.Helper()
	for i := 0; l.NumSegments() <= rolls; i++ {
		pid := int64(i%np) + 1
		mustAppend(t, l, makeProducerBatch(t, pid, 0, seqs[pid], 2, ts))
		seqs[pid] += 2
	}
}

func TestProducerStateReloadFromSnapshot(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, smallConfig())
	ts := time.Now().UnixMilli()
	seqs := map[int64]int32{}
	idemLog(t, l, 3, 4, ts, seqs)
	offs, _ := l.ProducerSnapshotOffsets()
	segs := l.segments()
	if len(offs) == 0 || offs[len(offs)-1] != segs[len(segs)-1].base {
		t.Fatalf("snapshots %v, segments up to %d", offs, segs[len(segs)-1].base)
	}
	// Some batches into the active segment, then a crash: the reload reads
	// the snapshot at the active segment's base and replays only what
	// follows it.
	for i := 0; i < 4; i++ {
		mustAppend(t, l, makeProducerBatch(t, 1, 0, seqs[1], 2, ts))
		seqs[1] += 2
	}
	full := fullScan(t, l)
	active := l.active()
	activeBase, activeSize, leo := active.base, active.size.Load(), l.LogEndOffset()
	activeBatches := int64(len(parseAll(t, readAll(t, l, activeBase, 1<<20))))
	crash(l)
	l = openTestLog(t, dir, smallConfig())
	load := l.ProducerStateLoad()
	if load.SnapshotOffset != activeBase || load.FromOffset != activeBase || load.ToOffset != leo || load.Bytes != activeSize || load.Batches != activeBatches {
		t.Fatalf("load after crash %+v, want snapshot at %d and %d bytes replayed to %d", load, activeBase, activeSize, leo)
	}
	sameTable(t, "after crash", table(l), afterReloadFrom(full, activeBase))
	// The producer's four batches after the snapshot are all known again;
	// its batch before them is the snapshot's, also a duplicate.
	for back := int32(1); back <= 5; back++ {
		info, err := l.Append(makeProducerBatch(t, 1, 0, seqs[1]-2*back, 2, ts), 7)
		if err != nil || !info.Duplicate || l.LogEndOffset() != leo {
			t.Fatalf("retry %d back: %+v %v", back, info, err)
		}
	}
	// A clean close writes a snapshot at the log end: nothing to replay.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTestLog(t, dir, smallConfig())
	defer l.Close()
	if load := l.ProducerStateLoad(); load.SnapshotOffset != leo || load.Batches != 0 || load.Bytes != 0 {
		t.Fatalf("load after clean close %+v", load)
	}
	sameTable(t, "after clean close", table(l), afterReloadFrom(full, leo))
	// Kafka 2.4's consequence of keeping one batch per producer: the last
	// batch is still a duplicate, an older in-flight one is out of order.
	if info, err := l.Append(makeProducerBatch(t, 1, 0, seqs[1]-2, 2, ts), 7); err != nil || !info.Duplicate {
		t.Fatalf("retry of the last batch: %+v %v", info, err)
	}
	if _, err := l.Append(makeProducerBatch(t, 1, 0, seqs[1]-4, 2, ts), 7); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("retry of an older batch: %v", err)
	}
	if info, err := l.Append(makeProducerBatch(t, 1, 0, seqs[1], 2, ts), 7); err != nil || info.Duplicate || info.FirstOffset != leo {
		t.Fatalf("next batch: %+v %v", info, err)
	}
}

func TestProducerSnapshotCorruptFallsBack(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, smallConfig())
	ts := time.Now().UnixMilli()
	seqs := map[int64]int32{}
	idemLog(t, l, 2, 3, ts, seqs)
	mustAppend(t, l, makeProducerBatch(t, 1, 0, seqs[1], 2, ts))
	seqs[1] += 2
	full := fullScan(t, l)
	crash(l)
	offs, _ := listSnapshots(l.dir)
	if len(offs) < 3 {
		t.Fatalf("snapshots %v", offs)
	}
	// The newest is cut short, the one before gets a flipped bit: both are
	// deleted and the third newest is used.
	newest, second, third := offs[len(offs)-1], offs[len(offs)-2], offs[len(offs)-3]
	if err := os.Truncate(snapshotPath(l.dir, newest), 7); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(snapshotPath(l.dir, second))
	b[len(b)-1] ^= 0x40
	os.WriteFile(snapshotPath(l.dir, second), b, 0o644)
	l = openTestLog(t, dir, smallConfig())
	load := l.ProducerStateLoad()
	if load.SnapshotOffset != third || load.FromOffset != third {
		t.Fatalf("load %+v, want the snapshot at %d", load, third)
	}
	sameTable(t, "after fallback", table(l), afterReloadFrom(full, third))
	for _, off := range []int64{newest, second} {
		if _, err := os.Stat(snapshotPath(l.dir, off)); off != l.LogEndOffset() && !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("corrupt snapshot %d not deleted: %v", off, err)
		}
	}
	// No snapshot at all: the full scan from the log start.
	crash(l)
	for _, off := range mustSnapshots(t, l) {
		os.Remove(snapshotPath(l.dir, off))
	}
	l = openTestLog(t, dir, smallConfig())
	defer l.Close()
	if load := l.ProducerStateLoad(); load.SnapshotOffset != -1 || load.FromOffset != 0 || load.Bytes != l.Size() {
		t.Fatalf("load without snapshots %+v (log %d bytes)", load, l.Size())
	}
	sameTable(t, "full scan", table(l), full)
}

func mustSnapshots(t *testing.T, l *Log) []int64 {
	t.Helper()
	offs, err := listSnapshots(l.dir)
	if err != nil {
		t.Fatal(err)
	}
	return offs
}

func TestProducerSnapshotsTruncation(t *testing.T) {
	l := openTestLog(t, t.TempDir(), smallConfig())
	defer l.Close()
	ts := time.Now().UnixMilli()
	seqs := map[int64]int32{}
	idemLog(t, l, 2, 4, ts, seqs)
	segs := l.segments()
	cut := segs[len(segs)-2].base + 3 // inside the segment before the active one
	if err := l.TruncateTo(cut); err != nil {
		t.Fatal(err)
	}
	offs := mustSnapshots(t, l)
	if len(offs) == 0 || offs[len(offs)-1] != l.active().next.Load() {
		t.Fatalf("snapshots %v after truncation to %d (cut at %d)", offs, l.LogEndOffset(), l.active().next.Load())
	}
	for _, off := range offs {
		if off > l.LogEndOffset() {
			t.Fatalf("snapshot %d above the new end %d", off, l.LogEndOffset())
		}
	}
	if load := l.ProducerStateLoad(); load.SnapshotOffset != segs[len(segs)-2].base {
		t.Fatalf("reload after truncation %+v, want the snapshot at %d", load, segs[len(segs)-2].base)
	}
	sameTable(t, "after truncation", table(l), afterReloadFrom(fullScan(t, l), segs[len(segs)-2].base))
	if err := l.TruncateFullyAndStartAt(1000); err != nil {
		t.Fatal(err)
	}
	if offs := mustSnapshots(t, l); len(offs) != 0 || l.NumProducers() != 0 {
		t.Fatalf("after full truncation: snapshots %v, %d producers", offs, l.NumProducers())
	}
	if _, err := l.Append(makeProducerBatch(t, 1, 0, seqs[1], 2, ts), 7); !errors.Is(err, ErrUnknownProducerID) {
		t.Fatalf("producer after full truncation: %v", err)
	}
}

func TestProducerSnapshotsRetention(t *testing.T) {
	cfg := smallConfig()
	cfg.RetentionBytes = 3 * 4096
	l := openTestLog(t, t.TempDir(), cfg)
	defer l.Close()
	ts := time.Now().UnixMilli()
	seqs := map[int64]int32{}
	idemLog(t, l, 2, 8, ts, seqs)
	// Only a few snapshots are kept while rolling (Kafka: the last two
	// segments' and those from below the recovery point): once everything
	// is flushed, the next roll leaves three.
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	for n := l.NumSegments(); l.NumSegments() == n; {
		mustAppend(t, l, makeProducerBatch(t, 1, 0, seqs[1], 2, ts))
		seqs[1] += 2
	}
	segs := l.segments()
	if offs := mustSnapshots(t, l); len(offs) != 3 || offs[0] != segs[len(segs)-3].base {
		t.Fatalf("snapshots %v kept, segments from %d", offs, segs[len(segs)-3].base)
	}
	l.SetHighWatermark(l.LogEndOffset())
	if n, err := l.DeleteOldSegments(time.Now()); err != nil || n == 0 {
		t.Fatalf("retention deleted %d: %v", n, err)
	}
	for _, off := range mustSnapshots(t, l) {
		if off < l.LogStartOffset() {
			t.Fatalf("snapshot %d below the log start %d", off, l.LogStartOffset())
		}
	}
	// DeleteRecords into the active segment: every snapshot is below the
	// new log start, so one is written at the log end.
	before := table(l)
	if _, err := l.DeleteRecordsBefore(l.LogEndOffset() - 1); err != nil {
		t.Fatal(err)
	}
	offs := mustSnapshots(t, l)
	if len(offs) != 1 || offs[0] != l.LogEndOffset() {
		t.Fatalf("snapshots %v after DeleteRecords (log start %d, end %d)", offs, l.LogStartOffset(), l.LogEndOffset())
	}
	// The table keeps the producers (Kafka 2.4's truncateHead).
	sameTable(t, "after DeleteRecords", table(l), before)
}

func TestProducerExpiry(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	cfg := smallConfig()
	cfg.ProducerIDExpiration = time.Hour
	cfg.EnsureDefaults()
	open := func() *Log {
		l, err := openLog(dir, TopicPartition{"t", 0}, cfg, testLogger(), openOptions{highWatermark: -1, now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := open()
	old, idle, fresh := int64(1), int64(2), int64(3)
	mustAppend(t, l, makeProducerBatch(t, old, 0, 0, 2, now.Add(-3*time.Hour).UnixMilli()))
	mustAppend(t, l, makeProducerBatch(t, idle, 0, 0, 2, now.Add(-2*time.Hour).UnixMilli()))
	mustAppend(t, l, makeProducerBatch(t, fresh, 0, 0, 2, now.Add(-10*time.Minute).UnixMilli()))
	// old writes again recently: its last batch counts.
	mustAppend(t, l, makeProducerBatch(t, old, 0, 2, 2, now.Add(-time.Minute).UnixMilli()))
	if n := l.RemoveExpiredProducers(now); n != 1 || l.NumProducers() != 2 {
		t.Fatalf("expired %d, %d left", n, l.NumProducers())
	}
	if _, err := l.Append(makeProducerBatch(t, idle, 0, 2, 2, now.UnixMilli()), 7); !errors.Is(err, ErrUnknownProducerID) {
		t.Fatalf("expired producer mid-sequence: %v", err)
	}
	if info, err := l.Append(makeProducerBatch(t, fresh, 0, 0, 2, now.UnixMilli()), 7); err != nil || !info.Duplicate {
		t.Fatalf("live producer's retry: %+v %v", info, err)
	}
	// An hour later fresh's last batch (10 min before the first check) has
	// expired too; old's has not.
	now = now.Add(55 * time.Minute)
	if n := l.RemoveExpiredProducers(now); n != 1 || table(l)[old] == nil {
		t.Fatalf("second pass expired %d: %s", n, dumpTable(table(l)))
	}
	// An expired producer starting over at sequence 0 is accepted.
	mustAppend(t, l, makeProducerBatch(t, idle, 0, 0, 1, now.UnixMilli()))
	// A snapshot load drops the producers expired by then (Kafka's
	// loadFromSnapshot), the replayed tail keeps what it reads.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	now = now.Add(50 * time.Minute) // old's last batch is 106 min old, idle's 50
	l = open()
	if tb := table(l); len(tb) != 1 || tb[idle] == nil {
		t.Fatalf("after reload: %s", dumpTable(tb))
	}
	now = now.Add(10 * time.Minute)
	l.Close()
	l = open()
	defer l.Close()
	if n := l.NumProducers(); n != 0 {
		t.Fatalf("expired producers loaded from the snapshot: %s", dumpTable(table(l)))
	}
}

// TestProducerStateReloadMatchesFullScan drives random logs (several
// producers with epoch bumps, plain batches, follower appends with gaps,
// truncations, crashes and clean reopens, small segments) and checks after
// every reload that the table is the full scan's, less the older batches a
// snapshot does not keep; and that retries are answered as duplicates
// exactly when the table holds them.
func TestProducerStateReloadMatchesFullScan(t *testing.T) {
	seeds := 30
	if testing.Short() {
		seeds = 5
	}
	for seed := int64(1); seed <= int64(seeds); seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { reloadScenario(t, seed) })
	}
}

func reloadScenario(t *testing.T, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	dir := t.TempDir()
	cfg := smallConfig()
	cfg.SegmentBytes = int64(1024 + rng.Intn(3072))
	l := openTestLog(t, dir, cfg)
	defer func() { l.Close() }()
	ts := time.Now().UnixMilli()
	type prod struct {
		epoch int16
		next  int32
	}
	prods := map[int64]*prod{}
	for pid := int64(1); pid <= int64(1+rng.Intn(4)); pid++ {
		prods[pid] = &prod{}
	}
	check := func(what string) {
		load := l.ProducerStateLoad()
		sameTable(t, fmt.Sprintf("%s (snapshot %d)", what, load.SnapshotOffset), table(l), afterReloadFrom(fullScan(t, l), load.SnapshotOffset))
	}
	resync := func() { // the model follows the log after a truncation
		for pid, p := range prods {
			if e := table(l)[pid]; e != nil && len(e.batches) > 0 {
				p.epoch, p.next = e.epoch, addSeq(e.batches[len(e.batches)-1].lastSeq, 1)
			} else {
				p.epoch, p.next = p.epoch+1, 0 // unknown here: start a new epoch
			}
		}
	}
	for op := 0; op < 150; op++ {
		pid := int64(1 + rng.Intn(len(prods)))
		p := prods[pid]
		switch r := rng.Intn(100); {
		case r < 55: // the next batch (a new epoch now and then)
			if rng.Intn(15) == 0 {
				p.epoch, p.next = p.epoch+1, 0
			}
			n := 1 + rng.Intn(3)
			info, err := l.Append(makeProducerBatch(t, pid, p.epoch, p.next, n, ts), 7)
			if err != nil && errors.Is(err, ErrUnknownProducerID) && p.next != 0 {
				p.epoch, p.next = p.epoch+1, 0 // its state was truncated away
				continue
			}
			if err != nil || info.Duplicate {
				t.Fatalf("op %d: append pid %d epoch %d seq %d: %+v %v", op, pid, p.epoch, p.next, info, err)
			}
			p.next = addSeq(p.next, int32(n))
		case r < 65: // a retry of a recent batch
			e := table(l)[pid]
			if e == nil || len(e.batches) == 0 {
				continue
			}
			b := e.batches[rng.Intn(len(e.batches))]
			rec := makeProducerBatch(t, pid, e.epoch, b.firstSeq, int(b.lastOffset-b.firstOffset)+1, ts)
			leo := l.LogEndOffset()
			info, err := l.Append(rec, 7)
			if err != nil || !info.Duplicate || info.FirstOffset != b.firstOffset || l.LogEndOffset() != leo {
				t.Fatalf("op %d: retry of %+v: %+v %v", op, b, info, err)
			}
		case r < 72: // a plain batch
			mustAppend(t, l, makeBatch(t, batchSpec{n: 1 + rng.Intn(3), valueSize: 40, ts: ts}))
		case r < 80: // replicated batches, sometimes after a gap
			base := l.LogEndOffset() + int64(rng.Intn(2)*rng.Intn(50))
			n := 1 + rng.Intn(2)
			rec := makeProducerBatch(t, pid, p.epoch, p.next, n, ts)
			binary.BigEndian.PutUint64(rec, uint64(base))
			binary.BigEndian.PutUint32(rec[12:], 7) // partition leader epoch
			if _, err := l.AppendAsFollower(rec); err != nil {
				t.Fatalf("op %d: follower append: %v", op, err)
			}
			p.next = addSeq(p.next, int32(n))
		case r < 87: // truncation
			start, leo := l.LogStartOffset(), l.LogEndOffset()
			if leo == start {
				continue
			}
			if err := l.TruncateTo(start + rng.Int63n(leo-start)); err != nil {
				t.Fatal(err)
			}
			check(fmt.Sprintf("op %d: truncation", op))
			resync()
		case r < 94: // kill -9 and reopen
			crash(l)
			l = openTestLog(t, dir, cfg)
			check(fmt.Sprintf("op %d: reopen after crash", op))
		default: // clean close and reopen
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openTestLog(t, dir, cfg)
			if load := l.ProducerStateLoad(); load.Batches != 0 {
				t.Fatalf("op %d: replayed %d batches after a clean close", op, load.Batches)
			}
			check(fmt.Sprintf("op %d: reopen after clean close", op))
		}
	}
	crash(l)
	l = openTestLog(t, dir, cfg)
	check("final crash")
	if offs, keep := mustSnapshots(t, l), l.minSnapshotOffsetToRetain(); offs[0] < keep {
		t.Fatalf("snapshots %v kept, the oldest needed is at %d", offs, keep)
	}
}

// TestProducerSnapshotsSurviveCompaction: cleaning rewrites the segments
// below the active one without touching the snapshots; a reload from them
// still knows every producer's last batch, and so does a full scan of the
// compacted log (the cleaner keeps each producer's last batch).
func TestProducerSnapshotsSurviveCompaction(t *testing.T) {
	dir := t.TempDir()
	cfg := compactConfig()
	m, l := openCompactManager(t, dir, cfg)
	ts := time.Now().UnixMilli()
	seqs := map[int64]int32{}
	for i := 0; l.NumSegments() < 6; i++ {
		pid := int64(i%3) + 1
		// producer 3 stops early: its last batch lies in a cleaned segment.
		if pid == 3 && i > 6 {
			pid = 1
		}
		k := fmt.Sprintf("k%d", i%4)
		mustAppend(t, l, keyedBatch(t, CompressionNone, pid, seqs[pid], ts, rec(k, fmt.Sprint(i)), rec(k, "x")))
		seqs[pid] += 2
	}
	l.SetHighWatermark(l.LogEndOffset())
	before := fullScan(t, l)
	snaps := mustSnapshots(t, l)
	if n, err := m.CleanNow(context.Background(), CleanerConfig{}); n != 1 || err != nil {
		t.Fatalf("CleanNow = %d, %v", n, err)
	}
	if got := mustSnapshots(t, l); !reflect.DeepEqual(got, snaps) {
		t.Fatalf("snapshots %v after cleaning, %v before", got, snaps)
	}
	lastOf := func(tb map[int64]*producerEntry) map[int64]producerBatch {
		out := map[int64]producerBatch{}
		for pid, e := range tb {
			out[pid] = e.batches[len(e.batches)-1]
		}
		return out
	}
	if got := lastOf(fullScan(t, l)); !reflect.DeepEqual(got, lastOf(before)) {
		t.Fatalf("last batches in the compacted log %v, before %v", got, lastOf(before))
	}
	crash(l)
	m.Close()
	m, l = openCompactManager(t, dir, cfg)
	defer m.Close()
	load := l.ProducerStateLoad()
	if load.SnapshotOffset != activeBase(l) {
		t.Fatalf("load %+v, active segment at %d", load, activeBase(l))
	}
	sameTable(t, "reload of the compacted log", table(l), afterReloadFrom(before, load.SnapshotOffset))
	for pid := int64(1); pid <= 3; pid++ {
		last := lastOf(before)[pid]
		if info, err := l.Append(keyedBatch(t, CompressionNone, pid, last.firstSeq, ts, rec("a", "1"), rec("a", "2")), 7); err != nil || !info.Duplicate {
			t.Fatalf("producer %d's retry: %+v %v", pid, info, err)
		}
		if _, err := l.Append(keyedBatch(t, CompressionNone, pid, seqs[pid], ts, rec("a", "3")), 7); err != nil {
			t.Fatalf("producer %d's next batch: %v", pid, err)
		}
	}
}

// TestProducerStateConcurrentAppends runs producers appending concurrently
// (each its own goroutine, retrying now and then), a follower-style reader,
// and the expiry pass, with frequent rolls; then a crash: the reload is the
// full scan less what the snapshot does not keep. Run with -race.
func TestProducerStateConcurrentAppends(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig()
	cfg.SegmentBytes = 2048
	l := openTestLog(t, dir, cfg)
	ts := time.Now().UnixMilli()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for pid := int64(1); pid <= 4; pid++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seq := int32(0)
			for i := 0; i < 150; i++ {
				rec := makeProducerBatch(t, pid, 0, seq, 1+i%3, ts)
				info, err := l.Append(append([]byte(nil), rec...), 7)
				if err != nil || info.Duplicate {
					errs <- fmt.Errorf("producer %d seq %d: %+v %v", pid, seq, info, err)
					return
				}
				if i%10 == 0 { // a retry of the batch just written
					if dup, err := l.Append(rec, 7); err != nil || !dup.Duplicate || dup.FirstOffset != info.FirstOffset {
						errs <- fmt.Errorf("producer %d retry: %+v %v", pid, dup, err)
						return
					}
				}
				seq += int32(1 + i%3)
			}
		}()
	}
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			l.RemoveExpiredProducers(time.UnixMilli(ts)) // nothing is a week old
			_ = l.ProducerStateLoad()
			_, _ = l.ProducerSnapshotOffsets()
		}
	}()
	wg.Wait()
	close(stop)
	bg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if l.NumSegments() < 10 {
		t.Fatalf("only %d segments: no rolls under load", l.NumSegments())
	}
	full := fullScan(t, l)
	crash(l)
	l = openTestLog(t, dir, cfg)
	defer l.Close()
	load := l.ProducerStateLoad()
	sameTable(t, "after concurrent appends", table(l), afterReloadFrom(full, load.SnapshotOffset))
	if load.SnapshotOffset != activeBase(l) {
		t.Fatalf("load %+v did not start at the active segment", load)
	}
}

// A batch repeated inside one request is not answered as a duplicate with
// the request's unassigned offsets (and the set dropped): it fails the
// sequence check, as in Kafka 2.4, and nothing of the request is stored.
func TestProducerBatchRepeatedInOneRequest(t *testing.T) {
	l := openTestLog(t, t.TempDir(), smallConfig())
	defer l.Close()
	ts := time.Now().UnixMilli()
	mustAppend(t, l, makeProducerBatch(t, 1, 0, 0, 3, ts))
	b := makeProducerBatch(t, 1, 0, 3, 2, ts)
	twice := append(append([]byte(nil), b...), b...)
	info, err := l.Append(twice, 0)
	if !errors.Is(err, ErrOutOfOrderSequence) || info.Duplicate {
		t.Fatalf("repeated batch in one request: %+v, %v; want ErrOutOfOrderSequence", info, err)
	}
	if l.LogEndOffset() != 3 {
		t.Fatalf("log end %d after a refused request, want 3", l.LogEndOffset())
	}
	// The batch alone is then accepted, and its retry is a duplicate with its offsets.
	info, err = l.Append(append([]byte(nil), b...), 0)
	if err != nil || info.FirstOffset != 3 || info.LastOffset != 4 {
		t.Fatalf("append: %+v, %v", info, err)
	}
	info, err = l.Append(append([]byte(nil), b...), 0)
	if err != nil || !info.Duplicate || info.FirstOffset != 3 || info.LastOffset != 4 || l.LogEndOffset() != 5 {
		t.Fatalf("retry: %+v, %v, log end %d", info, err, l.LogEndOffset())
	}
}

// Truncating a log without idempotent producers replays nothing and writes
// no snapshot (Kafka's isEmptyBeforeTruncation); only the snapshots above
// the new end go.
func TestTruncationWithoutProducersSkipsReload(t *testing.T) {
	l := openTestLog(t, t.TempDir(), smallConfig())
	defer l.Close()
	for i := 0; i < 40; i++ {
		mustAppend(t, l, makeBatch(t, batchSpec{n: 5, valueSize: 40}))
	}
	if len(l.segments()) < 3 {
		t.Fatalf("want rolled segments, have %d", len(l.segments()))
	}
	before := l.ProducerStateLoad()
	cut := l.segments()[1].base + 1
	if err := l.TruncateTo(cut); err != nil {
		t.Fatal(err)
	}
	if after := l.ProducerStateLoad(); after != before {
		t.Fatalf("truncation reloaded producer state: %+v, before %+v", after, before)
	}
	offs, err := l.ProducerSnapshotOffsets()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range offs {
		if o > l.LogEndOffset() {
			t.Fatalf("snapshot at %d above the log end %d after truncation (all %v)", o, l.LogEndOffset(), offs)
		}
	}
	// An idempotent producer afterwards starts from an empty table.
	if _, err := l.Append(makeProducerBatch(t, 9, 0, 0, 2, time.Now().UnixMilli()), 7); err != nil {
		t.Fatal(err)
	}
	if l.NumProducers() != 1 {
		t.Fatalf("%d producers", l.NumProducers())
	}
}
