package logstore

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRecovery opens a log whose only segment holds arbitrary bytes (and an
// arbitrary .index), cleanly or not. The log must open, keep a prefix of the
// bytes made of valid batches only, have verifiable indexes, and take
// appends at LogEndOffset. Seeds: testdata/fuzz/FuzzRecovery and below.
func FuzzRecovery(f *testing.F) {
	var valid []byte
	for i := 0; i < 6; i++ {
		b := makeBatch(f, batchSpec{n: 1 + i%3, valueSize: 30 * i, ts: int64(i), gzip: i == 4})
		patchBatch(b, int64(len(valid)/10), 0) // increasing offsets
		valid = append(valid, b...)
	}
	f.Add(valid, []byte{}, false)
	f.Add(valid[:len(valid)-7], []byte{0, 0, 0, 1, 0, 0, 0, 9}, true)
	f.Add(valid, []byte{0, 0, 0, 1, 0, 0, 1, 0}, true)
	f.Add([]byte{}, []byte{1}, false)
	f.Fuzz(func(t *testing.T, logBytes, indexBytes []byte, clean bool) {
		dir := t.TempDir()
		pdir := filepath.Join(dir, "t-0")
		os.MkdirAll(pdir, 0o755)
		os.WriteFile(filepath.Join(pdir, segmentName(0)+logSuffix), logBytes, 0o644)
		os.WriteFile(filepath.Join(pdir, segmentName(0)+indexSuffix), indexBytes, 0o644)
		cfg := Config{IndexIntervalBytes: 50, IndexMaxBytes: 4096}
		cfg.EnsureDefaults()
		l, err := openLog(dir, TopicPartition{"t", 0}, cfg, testLogger(), openOptions{highWatermark: -1, clean: clean})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		size := l.Size()
		if size > int64(len(logBytes)) {
			t.Fatalf("size %d > %d input bytes", size, len(logBytes))
		}
		leo := l.LogEndOffset()
		var got []byte
		if leo > 0 {
			if got, err = readAllE(l); err != nil {
				t.Fatalf("read: %v", err)
			}
		}
		if !clean && !bytes.Equal(got, logBytes[:size]) {
			t.Fatalf("recovered bytes are not a prefix of the input")
		}
		if !clean {
			for b := got; len(b) > 0; {
				h, _ := ParseBatchHeader(b)
				if err := checkCRC(h, b[:h.Size()]); err != nil {
					t.Fatalf("served a corrupt batch: %v", err)
				}
				b = b[h.Size():]
			}
		}
		info, err := l.Append(makeBatch(t, batchSpec{n: 2, ts: 5}), 1)
		if err != nil || info.FirstOffset != leo {
			t.Fatalf("append: %+v %v, LEO was %d", info, err, leo)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if !clean {
			if err := VerifyIndex(filepath.Join(pdir, segmentName(0)+logSuffix)); err != nil {
				t.Fatal(err)
			}
		}
		l, err = openLog(dir, TopicPartition{"t", 0}, cfg, testLogger(), openOptions{highWatermark: -1, clean: true})
		if err != nil || l.LogEndOffset() != leo+2 {
			t.Fatalf("reopen: %v, LEO %d want %d", err, l.LogEndOffset(), leo+2)
		}
		l.Close()
	})
}

func readAllE(l *Log) ([]byte, error) {
	r, err := l.Read(l.LogStartOffset(), math.MaxInt32, math.MaxInt64, true)
	if err != nil {
		return nil, err
	}
	return r.AppendTo(nil)
}
