package logstore

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"strconv"
	"testing"
)

// idemBenchLog is a log for BenchmarkProducerStateLoad: 16 KiB batches
// (the Java producer's default batch.size) of 100 idempotent producers in
// turn, Kafka's default 1 GiB segments, appended until the segments before
// the active one hold gb GB and the active one is half full. It returns the log and the contents
// of the snapshots at the active segment's base and at the log end.
func idemBenchLog(b *testing.B, gb string) (l *Log, atActive, atEnd []byte) {
	f, _ := strconv.ParseFloat(gb, 64)
	want := int64(f * 1e9)
	benchMu.Lock()
	if benchRoot == "" {
		var err error
		if benchRoot, err = os.MkdirTemp("", "logstore-bench-"); err != nil {
			b.Fatal(err)
		}
	}
	benchMu.Unlock()
	cfg := benchConfig()
	cfg.ProducerIDExpiration = 1 << 62 // the batches' timestamps are from 2023
	l, err := openLog(benchRoot, TopicPartition{"pstate-" + gb, 0}, cfg, testLogger(), openOptions{highWatermark: -1})
	if err != nil {
		b.Fatal(err)
	}
	batch := recordBatch(b, 16<<10)
	n := int32(binary.BigEndian.Uint32(batch[offRecordCount:])) // records per batch
	seqs := make([]int32, 100)
	for i := 0; l.Size()-l.active().size.Load() < want || l.active().size.Load() < l.cfg.SegmentBytes/2; i++ {
		pid := i % len(seqs)
		binary.BigEndian.PutUint64(batch[offProducerID:], uint64(pid))
		binary.BigEndian.PutUint16(batch[offProducerEpoch:], 0)
		binary.BigEndian.PutUint32(batch[offBaseSequence:], uint32(seqs[pid]))
		binary.BigEndian.PutUint32(batch[17:], crc32.Checksum(batch[21:], castagnoli))
		if _, err := l.Append(batch, 1); err != nil {
			b.Fatal(err)
		}
		seqs[pid] += n
	}
	if err := l.Flush(); err != nil {
		b.Fatal(err)
	}
	l.mu.Lock()
	l.takeProducerSnapshotLocked(l.LogEndOffset())
	l.mu.Unlock()
	read := func(off int64) []byte {
		data, err := os.ReadFile(snapshotPath(l.dir, off))
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	return l, read(l.active().base), read(l.LogEndOffset())
}

// BenchmarkProducerStateLoad is the time to load a partition's producer
// state (what opening a log, or a truncation, does) for -logstore.bench-gb
// logs of idempotent batches:
//
//	full:          no snapshot: every batch header from the log start, as
//	               zkafka did before it kept snapshots
//	snapshot+tail: the snapshot at the active segment's base and the
//	               headers of the half-full active segment (a restart after
//	               kill -9)
//	snapshot:      the snapshot at the log end (after a clean shutdown)
//
// each with the log in the page cache (warm) and evicted from it (cold).
// Every load also writes its snapshot at the log end (fsync included).
func BenchmarkProducerStateLoad(b *testing.B) {
	for _, gb := range benchSizes(b) {
		var l *Log
		var atActive, atEnd []byte
		for _, v := range []struct {
			name string
			snap func() []byte // the one snapshot present, nil none
			at   func() int64
		}{
			{"full", nil, nil},
			{"snapshot+tail", func() []byte { return atActive }, func() int64 { return l.active().base }},
			{"snapshot", func() []byte { return atEnd }, func() int64 { return l.LogEndOffset() }},
		} {
			for _, cold := range []bool{false, true} {
				cache := "warm"
				if cold {
					cache = "cold"
				}
				b.Run(gb+"GB/"+v.name+"/"+cache, func(b *testing.B) {
					if l == nil {
						l, atActive, atEnd = idemBenchLog(b, gb)
					}
					var load ProducerStateLoad
					for i := 0; i < b.N; i++ {
						b.StopTimer()
						for _, off := range mustSnapshotsB(b, l) {
							os.Remove(snapshotPath(l.dir, off))
						}
						if v.snap != nil {
							if err := os.WriteFile(snapshotPath(l.dir, v.at()), v.snap(), 0o644); err != nil {
								b.Fatal(err)
							}
						}
						if cold {
							dropCache(b, l)
						}
						b.StartTimer()
						l.mu.Lock()
						err := l.loadProducersLocked()
						load = l.pstate.lastLoad
						l.mu.Unlock()
						if err != nil || load.Producers != 100 {
							b.Fatalf("load: %v, %+v", err, load)
						}
					}
					b.StopTimer()
					b.ReportMetric(float64(l.Size())/1e9, "GB")
					b.ReportMetric(float64(load.Bytes)/1e9, "GB-replayed")
					b.ReportMetric(float64(load.Batches), "batches-read")
				})
			}
		}
		if l != nil {
			l.Close()
			os.RemoveAll(l.dir) // the next size needs the disk space
		}
	}
}

func mustSnapshotsB(b *testing.B, l *Log) []int64 {
	offs, err := listSnapshots(l.dir)
	if err != nil {
		b.Fatal(err)
	}
	return offs
}
