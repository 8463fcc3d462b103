package logstore

import (
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// benchGB lists the sizes (GB, 10^9 bytes) of the prebuilt logs used by the
// lookup and append-with-data benchmarks: small by default so that
// `go test -bench . ./logstore` stays fast; the numbers use
// -logstore.bench-gb=1,20. Logs are built once per process in a temporary
// directory removed by TestMain.
var benchGB = flag.String("logstore.bench-gb", "0.25", "comma-separated sizes in GB of the prebuilt logs for BenchmarkLookup and BenchmarkAppendWithData")

var (
	benchMu   sync.Mutex
	benchLogs = map[string]*Log{} // by size
	benchRoot string
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	for _, l := range benchLogs {
		l.Close()
	}
	if benchRoot != "" {
		os.RemoveAll(benchRoot)
	}
	os.Exit(code)
}

func benchSizes(b *testing.B) []string {
	var out []string
	for _, s := range strings.Split(*benchGB, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if f, err := strconv.ParseFloat(s, 64); err != nil || f <= 0 {
			b.Fatalf("-logstore.bench-gb: bad size %q", s)
		}
		out = append(out, s)
	}
	return out
}

// recordBatch is a batch of about size bytes of 100-byte records (88-byte
// values plus their framing).
func recordBatch(tb testing.TB, size int) []byte {
	probe := makeBatch(tb, batchSpec{n: 1000, valueSize: 88})
	per := (len(probe) - batchHeaderSize) / 1000
	return makeBatch(tb, batchSpec{n: (size - batchHeaderSize) / per, valueSize: 88, ts: 1700000000000})
}

// benchConfig is Kafka's defaults with max.message.bytes raised to take 1
// MiB batches.
func benchConfig() Config {
	c := DefaultConfig()
	c.MaxMessageBytes = 2 << 20
	return c
}

// benchLog returns a log of about gb GB built from 256 KiB batches (default
// Config: 1 GiB segments, 4 KiB index interval), shared by the benchmarks.
func benchLog(b *testing.B, gb string) *Log {
	benchMu.Lock()
	defer benchMu.Unlock()
	if l, ok := benchLogs[gb]; ok {
		return l
	}
	if benchRoot == "" {
		var err error
		if benchRoot, err = os.MkdirTemp("", "logstore-bench-"); err != nil {
			b.Fatal(err)
		}
	}
	f, _ := strconv.ParseFloat(gb, 64)
	want := int64(f * 1e9)
	l, err := openLog(benchRoot, TopicPartition{"bench-" + gb, 0}, benchConfig(), testLogger(), openOptions{highWatermark: -1})
	if err != nil {
		b.Fatal(err)
	}
	batch := recordBatch(b, 256<<10)
	for l.Size() < want {
		if _, err := l.Append(batch, 1); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Flush(); err != nil {
		b.Fatal(err)
	}
	l.SetHighWatermark(l.LogEndOffset())
	benchLogs[gb] = l
	return l
}

// BenchmarkAppend appends one 1 KiB batch per op (page cache, no fsync).
func BenchmarkAppend(b *testing.B) {
	l := openTestLog(b, b.TempDir(), Config{})
	defer l.Close()
	batch := makeBatch(b, batchSpec{n: 10, valueSize: 90})
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Append(batch, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppend1MiBBatches appends 1 MiB batches of 100-byte records to a
// new log (default Config: 1 GiB segments, no fsync; rolled segments are
// fsynced in the background as in Kafka).
func BenchmarkAppend1MiBBatches(b *testing.B) {
	l := openTestLog(b, b.TempDir(), benchConfig())
	defer l.Close()
	appendLoop(b, l)
}

// appendLoop appends 1 MiB batches. Dirty pages of earlier work are written
// back first (sync(2), untimed), so that a run of up to a few GB (use
// -benchtime=Nx) measures appends into the page cache, not the kernel
// throttling a writer that outpaces the disk.
func appendLoop(b *testing.B, l *Log) {
	batch := recordBatch(b, 1<<20)
	unix.Sync()
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Append(batch, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(l.Size())/1e9, "GB-in-log")
}

// dropCache writes back and evicts a log's segment files from the page
// cache (posix_fadvise DONTNEED), so that a benchmark on a big log measures
// the log store, not the memory pressure of gigabytes of cached pages left
// by building it (the machine has about as much RAM as the biggest log).
func dropCache(b *testing.B, l *Log) {
	unix.Sync()
	for _, s := range l.segments() {
		if err := unix.Fadvise(int(s.f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
			b.Fatalf("fadvise %s: %v", s.logPath, err)
		}
	}
}

// settle removes the segments a truncation renamed to .deleted now, not
// file.delete.delay.ms later, and waits for the background flushes of rolled
// segments: otherwise a later run pays for this one's work (removing a 1 GiB
// file issues discards on this machine's ext4, mounted with -o discard, and
// a rename over a .deleted file of the same name makes ext4 write the renamed
// file back at once, its auto_da_alloc rule).
func settle(l *Log) {
	l.finishPendingDeletes()
	l.bg.Wait()
}

// BenchmarkAppendWithData appends 1 MiB batches to an empty log and to logs
// already holding -logstore.bench-gb of data: the append cost must not
// depend on what is stored. The stored data is evicted from the page cache
// first (dropCache), as it would be on a broker whose old segments are cold.
func BenchmarkAppendWithData(b *testing.B) {
	b.Run("stored=0GB", func(b *testing.B) {
		l := openTestLog(b, b.TempDir(), benchConfig())
		defer l.Close()
		appendLoop(b, l)
	})
	for _, gb := range benchSizes(b) {
		b.Run("stored="+gb+"GB", func(b *testing.B) {
			l := benchLog(b, gb)
			start := l.LogEndOffset()
			dropCache(b, l)
			appendLoop(b, l)
			b.StopTimer()
			if err := l.TruncateTo(start); err != nil { // keep the shared log at its size
				b.Fatal(err)
			}
			settle(l)
		})
	}
}

// BenchmarkLookup is the random-offset lookup latency: Read of one batch at
// a random offset of a -logstore.bench-gb log (segment search, mapped index
// search, a short header scan). The data may or may not be in the page
// cache; only the batch header at the found position is read.
func BenchmarkLookup(b *testing.B) {
	for _, gb := range benchSizes(b) {
		b.Run(gb+"GB", func(b *testing.B) {
			l := benchLog(b, gb)
			leo := l.LogEndOffset()
			rng := rand.New(rand.NewSource(1))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				off := rng.Int63n(leo)
				r, err := l.Read(off, 1, math.MaxInt64, true)
				if err != nil || len(r.Regions) != 1 {
					b.Fatalf("read %d: %v %+v", off, err, r)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(l.NumSegments()), "segments")
		})
	}
}

// BenchmarkIndexLookup is the lookup itself, without reading the log: the
// binary search over segment base offsets and over the mapped offset index
// that finds the file position to scan from, at a random offset of a
// -logstore.bench-gb log. Its cost must not grow with the data stored.
func BenchmarkIndexLookup(b *testing.B) {
	for _, gb := range benchSizes(b) {
		b.Run(gb+"GB", func(b *testing.B) {
			l := benchLog(b, gb)
			leo := l.LogEndOffset()
			rng := rand.New(rand.NewSource(1))
			var sink int64
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				off := rng.Int63n(leo)
				segs := l.segments()
				j := sort.Search(len(segs), func(j int) bool { return segs[j].base > off }) - 1
				sink += segs[j].oi.lookup(off)
			}
			b.StopTimer()
			b.ReportMetric(float64(l.NumSegments()), "segments")
			_ = sink
		})
	}
}

// BenchmarkLookupCold is BenchmarkLookup with the log evicted from the page
// cache first: every lookup's header read may go to the disk, for every
// log size alike.
func BenchmarkLookupCold(b *testing.B) {
	for _, gb := range benchSizes(b) {
		b.Run(gb+"GB", func(b *testing.B) {
			l := benchLog(b, gb)
			dropCache(b, l)
			leo := l.LogEndOffset()
			rng := rand.New(rand.NewSource(2))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				off := rng.Int63n(leo)
				if _, err := l.Read(off, 1, math.MaxInt64, true); err != nil {
					b.Fatalf("read %d: %v", off, err)
				}
			}
		})
	}
}

// BenchmarkRead reads up to 64 KiB (about 64 1 KiB batches) from a random
// offset of a 64 MiB log in 4 MiB segments and copies it out with pread
// (sendfile will skip the copy).
func BenchmarkRead(b *testing.B) {
	for _, mode := range []string{"regions", "pread"} {
		b.Run(mode, func(b *testing.B) {
			l := openTestLog(b, b.TempDir(), Config{SegmentBytes: 4 << 20})
			defer l.Close()
			batch := makeBatch(b, batchSpec{n: 10, valueSize: 90})
			for l.Size() < 64<<20 {
				if _, err := l.Append(batch, 1); err != nil {
					b.Fatal(err)
				}
			}
			leo := l.LogEndOffset()
			rng := rand.New(rand.NewSource(1))
			var buf []byte
			b.ReportAllocs()
			b.ResetTimer()
			var total int64
			for i := 0; i < b.N; i++ {
				r, err := l.Read(rng.Int63n(leo), 64<<10, math.MaxInt64, true)
				if err != nil {
					b.Fatal(err)
				}
				total += r.Size
				if mode == "pread" {
					if buf, err = r.AppendTo(buf[:0]); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.SetBytes(total / int64(b.N))
		})
	}
}

// BenchmarkReadSendfile reads a 512 MiB log (page cache) sequentially in
// fetches of up to fetch bytes and sends the regions to a loopback TCP
// socket with Region.SendTo; a goroutine reads and discards the other end.
func BenchmarkReadSendfile(b *testing.B) {
	l := openTestLog(b, b.TempDir(), benchConfig())
	defer l.Close()
	batch := recordBatch(b, 64<<10)
	h, _ := ParseBatchHeader(batch)
	perBatch := int64(h.NumRecords)
	for l.Size() < 512<<20 {
		if _, err := l.Append(batch, 1); err != nil {
			b.Fatal(err)
		}
	}
	leo := l.LogEndOffset()
	for _, fetch := range []int32{1 << 20, 16 << 20} {
		b.Run(fmt.Sprintf("fetch=%dMiB", fetch>>20), func(b *testing.B) {
			src, dst := tcpPair(b)
			done := make(chan struct{})
			go func() {
				defer close(done)
				io.Copy(io.Discard, dst)
			}()
			var total int64
			off := int64(0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r, err := l.Read(off, fetch, math.MaxInt64, true)
				if err != nil {
					b.Fatal(err)
				}
				for _, rg := range r.Regions {
					n, err := rg.SendTo(src)
					if err != nil {
						b.Fatal(err)
					}
					total += n
				}
				off += r.Size / int64(len(batch)) * perBatch
				if off >= leo || r.Size == 0 {
					off = 0
				}
			}
			b.StopTimer()
			src.CloseWrite()
			<-done
			b.SetBytes(total / int64(b.N))
		})
	}
}
