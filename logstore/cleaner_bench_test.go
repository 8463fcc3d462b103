package logstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkCleaner measures cleaning throughput: MB/s of dirty log read
// (b.SetBytes is the size of the cleanable segments). The log holds about
// 64 MiB of 100-byte values under 16-byte keys drawn round-robin from
// 50,000 keys (about 10 versions of each), in batches of 100 records, in
// 16 MiB segments, with the default dedupe buffer; the cleaned log keeps
// one record per key. Each iteration cleans a fresh copy of the log (the
// copy is not timed) from its page-cache-resident files.
func BenchmarkCleaner(b *testing.B) {
	for _, codec := range []int{CompressionNone, CompressionLZ4} {
		b.Run(CompressionName(codec), func(b *testing.B) { benchmarkCleaner(b, codec) })
	}
}

func benchmarkCleaner(b *testing.B, codec int) {
	const (
		totalBytes = 64 << 20
		keys       = 50_000
		perBatch   = 100
	)
	cfg := DefaultConfig()
	cfg.SegmentBytes = 16 << 20
	cfg.CleanupDelete, cfg.CleanupCompact = false, true
	cfg.FileDeleteDelay = time.Millisecond
	tmpl := b.TempDir()
	l := openTestLog(b, tmpl, cfg)
	value := make([]byte, 100)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	ts := time.Now().UnixMilli()
	n := 0
	for l.Size() < totalBytes {
		recs := make([]kv, perBatch)
		for i := range recs {
			recs[i] = kv{[]byte(fmt.Sprintf("key-%011d", n%keys)), value}
			n++
		}
		if _, err := l.Append(keyedBatch(b, codec, -1, 0, ts, recs...), 0); err != nil {
			b.Fatal(err)
		}
	}
	l.mu.Lock()
	l.roll(l.LogEndOffset())
	l.mu.Unlock()
	l.SetHighWatermark(l.LogEndOffset())
	dirty := l.Size()
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	var ccfg CleanerConfig
	ccfg.EnsureDefaults()
	c := newCleaner(0, ccfg, testLogger())
	var kept, read int64
	b.SetBytes(dirty)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		copyDir(b, filepath.Join(tmpl, "t-0"), filepath.Join(dir, "t-0"))
		l := openTestLog(b, dir, cfg)
		l.SetHighWatermark(l.LogEndOffset())
		job, _ := l.cleanSnapshot()
		job.plan = planClean(job.view, time.Now().UnixMilli())
		b.StartTimer()
		st, err := c.clean(context.Background(), l, job, time.Now())
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		kept, read = st.RecordsRetained, st.RecordsRead
		l.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(read), "records/op")
	b.ReportMetric(float64(kept), "kept/op")
}

func copyDir(tb testing.TB, from, to string) {
	tb.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		tb.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}
