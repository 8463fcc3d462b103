package logstore

import (
	"bytes"
	"errors"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestAppendReadRoundTrip(t *testing.T) {
	l := openTestLog(t, t.TempDir(), Config{})
	defer l.Close()
	plain := makeBatch(t, batchSpec{n: 3, valueSize: 20, ts: 100})
	gz := makeBatch(t, batchSpec{n: 4, valueSize: 300, ts: 200, gzip: true})
	set := append(append([]byte(nil), plain...), gz...)
	orig := append([]byte(nil), set...)

	info := mustAppend(t, l, set)
	if info != (AppendInfo{FirstOffset: 0, LastOffset: 6, NumRecords: 7, MaxTimestamp: 203}) {
		t.Fatalf("info %+v", info)
	}
	info = mustAppend(t, l, append([]byte(nil), orig[:len(plain)]...))
	if info.FirstOffset != 7 || info.LastOffset != 9 || l.LogEndOffset() != 10 {
		t.Fatalf("second append %+v LEO %d", info, l.LogEndOffset())
	}

	got := readAll(t, l, 0, math.MaxInt32)
	hs := parseAll(t, got) // CRCs still valid after patching
	wantBase := []int64{0, 3, 7}
	if len(hs) != 3 {
		t.Fatalf("%d batches", len(hs))
	}
	pos := 0
	for i, h := range hs {
		if h.BaseOffset != wantBase[i] || h.PartitionLeaderEpoch != 7 {
			t.Errorf("batch %d: base %d epoch %d", i, h.BaseOffset, h.PartitionLeaderEpoch)
		}
		src := orig[pos%len(orig):]
		if i == 2 {
			src = orig
		}
		// Byte-identical apart from baseOffset and partitionLeaderEpoch.
		if !bytes.Equal(got[pos+8:pos+12], src[8:12]) || !bytes.Equal(got[pos+16:pos+int(h.Size())], src[16:h.Size()]) {
			t.Errorf("batch %d differs from what was produced", i)
		}
		pos += int(h.Size())
	}
	if hs[1].Compression() != 1 {
		t.Errorf("gzip batch lost its codec")
	}
	// A read in the middle of a batch starts at the batch.
	if b := readAll(t, l, 5, math.MaxInt32); !bytes.Equal(b, got[len(plain):]) {
		t.Errorf("read at 5 did not start at the gzip batch")
	}
}

func TestReadLimits(t *testing.T) {
	l := openTestLog(t, t.TempDir(), Config{})
	defer l.Close()
	b := makeBatch(t, batchSpec{n: 2, valueSize: 100})
	size := int32(len(b))
	for i := 0; i < 5; i++ {
		mustAppend(t, l, append([]byte(nil), b...))
	}
	check := func(name string, off int64, maxBytes int32, maxOff int64, minOne bool, wantSize int64, wantErr error) {
		t.Helper()
		r, err := l.Read(off, maxBytes, maxOff, minOne)
		if !errors.Is(err, wantErr) || (err == nil) != (wantErr == nil) {
			t.Fatalf("%s: err %v, want %v", name, err, wantErr)
		}
		if r.Size != wantSize {
			t.Fatalf("%s: size %d, want %d", name, r.Size, wantSize)
		}
	}
	check("all", 0, 1<<20, math.MaxInt64, false, int64(5*size), nil)
	check("two whole", 0, 2*size+size/2, math.MaxInt64, false, int64(2*size), nil)
	check("kip74", 0, 10, math.MaxInt64, true, int64(size), nil)
	check("too small", 0, 10, math.MaxInt64, false, 0, nil)
	check("hw", 0, 1<<20, 4, false, int64(2*size), nil)
	check("hw mid batch", 0, 1<<20, 5, false, int64(3*size), nil)
	check("at hw", 4, 1<<20, 4, false, 0, nil)
	check("leo", 10, 1<<20, math.MaxInt64, false, 0, nil)
	check("past leo", 11, 1<<20, math.MaxInt64, false, 0, ErrOffsetOutOfRange)
	check("negative", -1, 1<<20, math.MaxInt64, false, 0, ErrOffsetOutOfRange)
}

// Many small segments: every offset is found, reads span segments, indexes
// verify.
func TestRollAndLookupEveryOffset(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, smallConfig())
	rng := rand.New(rand.NewSource(1))
	type span struct{ base, last int64 }
	var spans []span
	for i := 0; i < 300; i++ {
		n := 1 + rng.Intn(5)
		info := mustAppend(t, l, makeBatch(t, batchSpec{n: n, valueSize: rng.Intn(200), ts: int64(1000 + i*10)}))
		spans = append(spans, span{info.FirstOffset, info.LastOffset})
	}
	if l.NumSegments() < 10 {
		t.Fatalf("only %d segments", l.NumSegments())
	}
	checkAll := func(l *Log) {
		t.Helper()
		for _, sp := range spans {
			for off := sp.base; off <= sp.last; off++ {
				r, err := l.Read(off, 1, math.MaxInt64, true)
				if err != nil {
					t.Fatalf("read %d: %v", off, err)
				}
				b, _ := r.AppendTo(nil)
				hs := parseAll(t, b)
				if len(hs) != 1 || hs[0].BaseOffset != sp.base || hs[0].LastOffset() != sp.last {
					t.Fatalf("read %d: got %+v, want batch %v", off, hs, sp)
				}
			}
		}
		all := parseAll(t, readAll(t, l, 0, math.MaxInt32))
		if len(all) != len(spans) {
			t.Fatalf("full read: %d batches, want %d", len(all), len(spans))
		}
		verifyAll(t, l.dir)
	}
	checkAll(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTestLog(t, dir, smallConfig()) // clean reopen: indexes loaded, not rebuilt
	checkAll(l)
	crash(l)
	l = openTestLog(t, dir, smallConfig()) // unclean reopen from recovery point 0
	checkAll(l)
	l.Close()
}

func verifyAll(t testing.TB, dir string) {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(logs) == 0 {
		t.Fatalf("no segments in %s", dir)
	}
	for _, p := range logs {
		if err := VerifyIndex(p); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVerifyIndexDetectsMismatch(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, smallConfig())
	for i := 0; i < 20; i++ {
		mustAppend(t, l, makeBatch(t, batchSpec{n: 2, valueSize: 100, ts: int64(i)}))
	}
	l.Close()
	p := filepath.Join(dir, "t-0", segmentName(0)+indexSuffix)
	data, _ := os.ReadFile(p)
	if len(data) < 8 {
		t.Fatalf("index has %d bytes", len(data))
	}
	data[7]++ // position of the first entry
	os.WriteFile(p, data, 0o644)
	if err := VerifyIndex(filepath.Join(dir, "t-0", segmentName(0)+logSuffix)); !errors.Is(err, ErrIndexMismatch) {
		t.Fatalf("VerifyIndex: %v", err)
	}
}

func TestRollTime(t *testing.T) {
	l := openTestLog(t, t.TempDir(), Config{RollTime: time.Hour})
	defer l.Close()
	now := time.Now()
	l.now = func() time.Time { return now }
	mustAppend(t, l, makeBatch(t, batchSpec{n: 1, ts: now.UnixMilli()}))
	mustAppend(t, l, makeBatch(t, batchSpec{n: 1, ts: now.UnixMilli()}))
	if l.NumSegments() != 1 {
		t.Fatalf("%d segments", l.NumSegments())
	}
	now = now.Add(61 * time.Minute)
	mustAppend(t, l, makeBatch(t, batchSpec{n: 1, ts: now.UnixMilli()}))
	if l.NumSegments() != 2 || l.active().base != 2 {
		t.Fatalf("%d segments, active base %d", l.NumSegments(), l.active().base)
	}
}

func TestRestartKeepsData(t *testing.T) {
	for _, clean := range []bool{true, false} {
		dir := t.TempDir()
		l := openTestLog(t, dir, Config{})
		var want []byte
		for i := 0; i < 10; i++ {
			mustAppend(t, l, makeBatch(t, batchSpec{n: 3, valueSize: 50, ts: int64(i)}))
		}
		want = readAll(t, l, 0, math.MaxInt32)
		if clean {
			l.Close()
		} else {
			crash(l)
		}
		l = openTestLog(t, dir, Config{})
		if got := readAll(t, l, 0, math.MaxInt32); !bytes.Equal(got, want) || l.LogEndOffset() != 30 {
			t.Fatalf("clean=%v: data or LEO (%d) changed across restart", clean, l.LogEndOffset())
		}
		if info := mustAppend(t, l, makeBatch(t, batchSpec{n: 1})); info.FirstOffset != 30 {
			t.Fatalf("clean=%v: next append at %d", clean, info.FirstOffset)
		}
		l.Close()
	}
}

// Cut the last batch at several positions (and flip a byte) after a crash:
// the log reopens truncated to the last valid batch with consistent indexes,
// and appends continue at the right offset.
func TestTornTailRecovery(t *testing.T) {
	last := makeBatch(t, batchSpec{n: 4, valueSize: 80})
	cuts := []int{1, 8, 12, 30, 60, 61, 100, len(last) - 1}
	for _, cut := range append(cuts, -1) {
		dir := t.TempDir()
		cfg := Config{IndexIntervalBytes: 100}
		l := openTestLog(t, dir, cfg)
		for i := 0; i < 20; i++ {
			mustAppend(t, l, makeBatch(t, batchSpec{n: 2, valueSize: 40, ts: int64(i)}))
		}
		goodSize := l.Size()
		mustAppend(t, l, append([]byte(nil), last...))
		crash(l)
		seg := filepath.Join(dir, "t-0", segmentName(0)+logSuffix)
		if cut >= 0 {
			if err := os.Truncate(seg, goodSize+int64(cut)); err != nil {
				t.Fatal(err)
			}
		} else { // corrupt one byte of the last batch's records
			f, _ := os.OpenFile(seg, os.O_RDWR, 0)
			f.WriteAt([]byte{0xee}, goodSize+int64(len(last))-3)
			f.Close()
		}
		l = openTestLog(t, dir, cfg)
		if l.LogEndOffset() != 40 || l.Size() != goodSize {
			t.Fatalf("cut %d: LEO %d size %d, want 40 %d", cut, l.LogEndOffset(), l.Size(), goodSize)
		}
		if info := mustAppend(t, l, makeBatch(t, batchSpec{n: 3, ts: 99})); info.FirstOffset != 40 {
			t.Fatalf("cut %d: next append at %d", cut, info.FirstOffset)
		}
		if hs := parseAll(t, readAll(t, l, 0, math.MaxInt32)); len(hs) != 21 || hs[20].BaseOffset != 40 {
			t.Fatalf("cut %d: %d batches after recovery", cut, len(hs))
		}
		l.Close()
		verifyAll(t, filepath.Join(dir, "t-0"))
	}
}

// Garbage index files (wrong size, pointing past the log) are rebuilt.
func TestCorruptIndexRebuilt(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, Config{IndexIntervalBytes: 100})
	for i := 0; i < 20; i++ {
		mustAppend(t, l, makeBatch(t, batchSpec{n: 2, valueSize: 40, ts: int64(i)}))
	}
	want := readAll(t, l, 0, math.MaxInt32)
	l.Close()
	idx := filepath.Join(dir, "t-0", segmentName(0)+indexSuffix)
	for _, garbage := range [][]byte{{1, 2, 3}, {0, 0, 0, 1, 0x7f, 0, 0, 0}} {
		os.WriteFile(idx, garbage, 0o644)
		l, err := openLog(dir, TopicPartition{"t", 0}, DefaultConfig(), testLogger(), openOptions{highWatermark: -1, clean: true})
		if err != nil {
			t.Fatal(err)
		}
		for off := int64(0); off < 40; off++ {
			b := readAll(t, l, off, 1)
			if hs := parseAll(t, b); hs[0].BaseOffset != off&^1 {
				t.Fatalf("offset %d found batch %d", off, hs[0].BaseOffset)
			}
		}
		if got := readAll(t, l, 0, math.MaxInt32); !bytes.Equal(got, want) {
			t.Fatal("data changed")
		}
		l.Close()
		verifyAll(t, filepath.Join(dir, "t-0"))
	}
}

func TestChangedAndHighWatermark(t *testing.T) {
	l := openTestLog(t, t.TempDir(), Config{})
	defer l.Close()
	ch := l.Changed()
	select {
	case <-ch:
		t.Fatal("fired before append")
	default:
	}
	mustAppend(t, l, makeBatch(t, batchSpec{n: 2}))
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("did not fire on append")
	}
	ch = l.Changed()
	l.SetHighWatermark(100) // clamped to LEO 2
	<-ch
	if l.HighWatermark() != 2 {
		t.Fatalf("hw %d", l.HighWatermark())
	}
	ch = l.Changed()
	l.SetHighWatermark(2) // unchanged: no wake-up
	select {
	case <-ch:
		t.Fatal("fired without change")
	default:
	}
}

func TestOffsetForTimestamp(t *testing.T) {
	l := openTestLog(t, t.TempDir(), smallConfig())
	defer l.Close()
	// batch i: offsets [3i, 3i+2], timestamps 1000+10i .. +2; batch 7 goes back in time.
	for i := 0; i < 60; i++ {
		ts := int64(1000 + 10*i)
		if i == 7 {
			ts = 500
		}
		mustAppend(t, l, makeBatch(t, batchSpec{n: 3, valueSize: 100, ts: ts}))
	}
	tests := []struct {
		ts, off, gotTs int64
		found          bool
	}{
		{0, 0, 1002, true},
		{1002, 0, 1002, true},
		{1003, 3, 1012, true},
		{1065, 24, 1082, true}, // batch 7 (ts 500) is skipped
		{1592, 177, 1592, true},
		{1593, -1, -1, false},
		{LatestTimestamp, 180, -1, true},
		{EarliestTimestamp, 0, -1, true},
	}
	for _, tt := range tests {
		off, ts, found := l.OffsetForTimestamp(tt.ts)
		if off != tt.off || ts != tt.gotTs || found != tt.found {
			t.Errorf("OffsetForTimestamp(%d) = %d, %d, %v; want %d, %d, %v", tt.ts, off, ts, found, tt.off, tt.gotTs, tt.found)
		}
	}
}

func TestFlushPolicy(t *testing.T) {
	l := openTestLog(t, t.TempDir(), Config{FlushIntervalMessages: 1})
	defer l.Close()
	mustAppend(t, l, makeBatch(t, batchSpec{n: 3}))
	if l.RecoveryPoint() != 3 {
		t.Fatalf("recovery point %d after append with flush.messages=1", l.RecoveryPoint())
	}
	l2 := openTestLog(t, t.TempDir(), Config{})
	defer l2.Close()
	mustAppend(t, l2, makeBatch(t, batchSpec{n: 3}))
	if l2.RecoveryPoint() != 0 {
		t.Fatalf("recovery point %d without flush", l2.RecoveryPoint())
	}
	if err := l2.Flush(); err != nil || l2.RecoveryPoint() != 3 {
		t.Fatalf("flush: %v, recovery point %d", err, l2.RecoveryPoint())
	}
}

// Readers run while appends roll segments; run with -race.
func TestConcurrentReadAppend(t *testing.T) {
	l := openTestLog(t, t.TempDir(), smallConfig())
	defer l.Close()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for {
				select {
				case <-stop:
					return
				case <-l.Changed():
				}
				leo := l.LogEndOffset()
				res, err := l.Read(0, math.MaxInt32, leo, true)
				if err != nil {
					t.Error(err)
					return
				}
				buf, err = res.AppendTo(buf[:0])
				if err != nil {
					t.Error(err)
					return
				}
				hs := parseAll(t, buf)
				if n := len(hs); n > 0 && hs[n-1].LastOffset() != leo-1 {
					t.Errorf("read up to %d, LEO was %d", hs[n-1].LastOffset(), leo)
					return
				}
			}
		}()
	}
	for i := 0; i < 200; i++ {
		mustAppend(t, l, makeBatch(t, batchSpec{n: 2, valueSize: 50}))
	}
	close(stop)
	wg.Wait()
}

// Random reads against a reference computed from the flat batch list; this
// exercises the index jump in scanEnd (small index interval, many entries).
func TestReadMatchesReference(t *testing.T) {
	l := openTestLog(t, t.TempDir(), Config{SegmentBytes: 16 << 10, IndexIntervalBytes: 64})
	defer l.Close()
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 400; i++ {
		mustAppend(t, l, makeBatch(t, batchSpec{n: 1 + rng.Intn(4), valueSize: rng.Intn(150)}))
	}
	all := parseAll(t, readAll(t, l, 0, math.MaxInt32))
	leo := l.LogEndOffset()
	for i := 0; i < 2000; i++ {
		off := rng.Int63n(leo)
		maxBytes := int32(rng.Intn(8000))
		maxOff := off + rng.Int63n(leo-off+5)
		minOne := rng.Intn(2) == 0
		var want int64
		for j, h := range all {
			if h.LastOffset() < off {
				continue
			}
			if off >= maxOff { // at or past the high watermark: nothing
				break
			}
			if h.BaseOffset >= maxOff {
				break
			}
			if want+h.Size() > int64(maxBytes) {
				if want == 0 && minOne && (j == 0 || all[j-1].LastOffset() < off) {
					want = h.Size()
				}
				break
			}
			want += h.Size()
		}
		r, err := l.Read(off, maxBytes, maxOff, minOne)
		if err != nil || r.Size != want {
			t.Fatalf("Read(%d, %d, %d, %v) = %d bytes, %v; want %d", off, maxBytes, maxOff, minOne, r.Size, err, want)
		}
	}
}
