package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ErrIndexMismatch is wrapped by VerifyIndex when an index disagrees with
// its log.
var ErrIndexMismatch = errors.New("logstore: index does not match log")

// VerifyIndex checks that the .index and .timeindex of the segment whose
// .log is segmentPath (the .log path or the 20-digit stem) are consistent
// with the log's batches, the way `kafka-dump-log --verify-index-only` does:
//
//   - .index: every entry points at the start of a batch whose last offset is
//     the entry's offset; offsets and positions strictly increase;
//   - .timeindex: timestamps strictly increase; each entry's offset is the
//     last offset of a batch, its timestamp is that batch's maxTimestamp, and
//     no earlier batch has a larger one.
//
// Trailing all-zero entries (the unused tail of a preallocated index) are
// ignored. Files are read, not mapped, so it works on a live segment. It
// returns nil or an error listing the first problems found.
func VerifyIndex(segmentPath string) error {
	stem := strings.TrimSuffix(segmentPath, logSuffix)
	var base int64
	name := stem[strings.LastIndexByte(stem, '/')+1:]
	if b, ok := parseSegmentName(name+logSuffix, logSuffix); ok {
		base = b
	} else {
		return fmt.Errorf("verify index %s: not a segment name", segmentPath)
	}
	batches, err := scanBatches(stem + logSuffix)
	if err != nil {
		return fmt.Errorf("verify index %s: %w", segmentPath, err)
	}
	byPos := map[int64]int{}
	byLast := map[int64]int{}
	for i, b := range batches {
		byPos[b.pos] = i
		byLast[b.lastOffset] = i
	}
	var problems []string
	add := func(format string, args ...any) {
		if len(problems) < 10 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}

	idx, err := readEntries(stem+indexSuffix, offsetIndexEntrySize)
	if err != nil {
		return fmt.Errorf("verify index %s: %w", segmentPath, err)
	}
	prevOff, prevPos := int64(-1), int64(-1)
	for i, e := range idx {
		off := base + int64(int32(binary.BigEndian.Uint32(e)))
		pos := int64(int32(binary.BigEndian.Uint32(e[4:])))
		bi, ok := byPos[pos]
		switch {
		case off <= prevOff || pos <= prevPos:
			add(".index entry %d (offset %d, position %d) not increasing", i, off, pos)
		case !ok:
			add(".index entry %d (offset %d): position %d is not a batch start", i, off, pos)
		case batches[bi].lastOffset != off:
			add(".index entry %d: offset %d, but the batch at %d ends at offset %d", i, off, pos, batches[bi].lastOffset)
		}
		prevOff, prevPos = off, pos
	}

	tidx, err := readEntries(stem+timeIndexSuffix, timeIndexEntrySize)
	if err != nil {
		return fmt.Errorf("verify index %s: %w", segmentPath, err)
	}
	prevTs := int64(-1 << 63)
	for i, e := range tidx {
		ts := int64(binary.BigEndian.Uint64(e))
		off := base + int64(int32(binary.BigEndian.Uint32(e[8:])))
		bi, ok := byLast[off]
		switch {
		case ts <= prevTs:
			add(".timeindex entry %d: timestamp %d not increasing", i, ts)
		case !ok:
			add(".timeindex entry %d: offset %d is not the last offset of a batch", i, off)
		case batches[bi].maxTimestamp != ts || batches[bi].maxSoFar != ts:
			add(".timeindex entry %d: timestamp %d, batch ending at %d has max %d (max so far %d)", i, ts, off, batches[bi].maxTimestamp, batches[bi].maxSoFar)
		}
		prevTs = ts
	}
	if len(problems) > 0 {
		return fmt.Errorf("verify index %s: %w: %s", segmentPath, ErrIndexMismatch, strings.Join(problems, "; "))
	}
	return nil
}

type scannedBatch struct {
	pos, lastOffset, maxTimestamp, maxSoFar int64
}

// scanBatches lists the batches of a .log file; it stops at the first
// invalid header (whatever follows can not be indexed).
func scanBatches(path string) ([]scannedBatch, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	sc := newHeaderScanner(f, fi.Size())
	defer sc.release()
	var out []scannedBatch
	maxSoFar := int64(-1)
	for pos := int64(0); ; {
		h, err := sc.header(pos)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("%s: %w", path, err)
		}
		maxSoFar = max(maxSoFar, h.MaxTimestamp)
		out = append(out, scannedBatch{pos: pos, lastOffset: h.LastOffset(), maxTimestamp: h.MaxTimestamp, maxSoFar: maxSoFar})
		pos += h.Size()
	}
}

// readEntries reads an index file into entries, dropping a zero tail.
func readEntries(path string, size int) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(data)%size != 0 {
		return nil, fmt.Errorf("%w: %s size %d is not a multiple of %d", ErrIndexMismatch, path, len(data), size)
	}
	var out [][]byte
	for i := 0; i < len(data); i += size {
		out = append(out, data[i:i+size])
	}
	for len(out) > 0 && allZero(out[len(out)-1]) {
		out = out[:len(out)-1]
	}
	return out, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
