package logstore

import (
	"math"
	"math/rand"
	"testing"
)

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
