package logstore

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
)

// segmentName returns the 20-digit zero-padded file name stem of a segment.
func segmentName(base int64) string { return fmt.Sprintf("%020d", base) }

// parseSegmentName parses "<20 digits><suffix>".
func parseSegmentName(name, suffix string) (int64, bool) {
	if len(name) != 20+len(suffix) || name[20:] != suffix {
		return 0, false
	}
	base, err := strconv.ParseInt(name[:20], 10, 64)
	return base, err == nil && base >= 0
}

// segment is one .log file with its offset and time indexes.
//
// size and next are published with atomics after each append so readers see
// only complete batches; the other mutable fields belong to the appender
// (the Log's mutex holder).
type segment struct {
	base    int64
	logPath string
	f       *os.File
	oi      offsetIndex
	ti      timeIndex

	size  atomic.Int64 // bytes of complete batches in .log
	next  atomic.Int64 // last offset + 1, or base when empty
	maxTs atomic.Int64 // largest batch maxTimestamp, -1 when none

	// appender state
	offsetOfMaxTs   int64
	bytesSinceIndex int64
	rollTs          int64     // first batch's maxTimestamp (ms), -1 if unknown
	created         time.Time // when this process opened or created the segment
}

func segmentPaths(dir string, base int64) (log, index, timeindex string) {
	stem := filepath.Join(dir, segmentName(base))
	return stem + logSuffix, stem + indexSuffix, stem + timeIndexSuffix
}

// openSegment opens (create=true: creates, replacing stale files) the three
// files of a segment. It reports whether the index files had a sane size;
// content checks and recovery are the caller's.
func openSegment(dir string, base int64, create bool, now time.Time) (*segment, bool, error) {
	return openSegmentSuffix(dir, base, "", create, now)
}

// openSegmentSuffix is openSegment for files whose names carry suffix after
// the usual one (the cleaner's "<base>.log.cleaned", ...).
func openSegmentSuffix(dir string, base int64, suffix string, create bool, now time.Time) (*segment, bool, error) {
	logPath, idxPath, tidxPath := segmentPaths(dir, base)
	logPath, idxPath, tidxPath = logPath+suffix, idxPath+suffix, tidxPath+suffix
	flags := os.O_RDWR
	if create {
		flags |= os.O_CREATE | os.O_TRUNC
		for _, p := range []string{idxPath, tidxPath} {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, false, fmt.Errorf("remove stale %s: %w", p, err)
			}
		}
	}
	f, err := os.OpenFile(logPath, flags, 0o644)
	if err != nil {
		return nil, false, fmt.Errorf("open segment %s: %w", logPath, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("stat segment %s: %w", logPath, err)
	}
	s := &segment{base: base, logPath: logPath, f: f, rollTs: -1, created: now, offsetOfMaxTs: base}
	s.size.Store(fi.Size())
	s.next.Store(base)
	s.maxTs.Store(-1)
	oi, ok1, err := openMmapIndex(idxPath, offsetIndexEntrySize)
	if err != nil {
		f.Close()
		return nil, false, err
	}
	ti, ok2, err := openMmapIndex(tidxPath, timeIndexEntrySize)
	if err != nil {
		oi.close(false)
		f.Close()
		return nil, false, err
	}
	s.oi = offsetIndex{oi, base}
	s.ti = timeIndex{ti, base}
	if fi.Size() > math.MaxInt32 {
		ok1 = false // positions would not fit the index; recovery truncates
	}
	return s, ok1 && ok2, nil
}

// headerScanner reads batch headers from a segment file through a small
// buffer, so a scan over many small batches costs few preads.
type headerScanner struct {
	f      *os.File
	limit  int64 // bytes of the file that may be read
	buf    []byte
	bufPos int64
	n      int
}

var scanBufPool = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}

func newHeaderScanner(f *os.File, limit int64) *headerScanner {
	return &headerScanner{f: f, limit: limit, buf: *scanBufPool.Get().(*[]byte), bufPos: -1}
}

func (s *headerScanner) release() { scanBufPool.Put(&s.buf) }

// header reads and checks the batch header at pos: magic, length bounds and
// that the whole batch lies within limit. io.EOF means pos == limit.
func (s *headerScanner) header(pos int64) (BatchHeader, error) {
	if pos == s.limit {
		return BatchHeader{}, io.EOF
	}
	if s.bufPos < 0 || pos < s.bufPos || pos+batchHeaderSize > s.bufPos+int64(s.n) {
		want := min(int64(len(s.buf)), s.limit-pos)
		if want < batchHeaderSize {
			return BatchHeader{}, fmt.Errorf("%w: %d bytes left at position %d, less than a batch header", ErrCorruptMessage, s.limit-pos, pos)
		}
		n, err := s.f.ReadAt(s.buf[:want], pos)
		if n < batchHeaderSize {
			s.bufPos = -1
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return BatchHeader{}, fmt.Errorf("read %s at %d: %w", s.f.Name(), pos, err)
		}
		s.bufPos, s.n = pos, n
	}
	h, err := ParseBatchHeader(s.buf[pos-s.bufPos : s.n])
	if err != nil {
		return h, err
	}
	if err := checkHeader(h, s.limit-pos); err != nil {
		return h, fmt.Errorf("batch at position %d: %w", pos, err)
	}
	return h, nil
}

// findBatch returns the position and header of the first batch whose last
// offset is >= target, scanning from the offset index's hint; found=false if
// the segment's first limit bytes hold no such batch.
func (s *segment) findBatch(target, limit int64) (pos int64, h BatchHeader, found bool, err error) {
	pos = min(s.oi.lookup(target), limit)
	sc := newHeaderScanner(s.f, limit)
	defer sc.release()
	for {
		h, err = sc.header(pos)
		if err == io.EOF {
			return pos, h, false, nil
		}
		if err != nil {
			return pos, h, false, fmt.Errorf("segment %s: %w", s.logPath, err)
		}
		if h.LastOffset() >= target {
			return pos, h, true, nil
		}
		pos += h.Size()
	}
}

// batchMeta describes one batch of a validated record set.
type batchMeta struct {
	pos          int64 // within the record set
	size         int64
	lastOffset   int64 // absolute, after offset assignment
	maxTimestamp int64
}

// append writes a record set whose offsets are assigned (one pwrite at the
// segment's end) and indexes its batches. On a write error the file is cut
// back so no partial batch remains.
func (s *segment) append(records []byte, batches []batchMeta, indexInterval int64) error {
	start := s.size.Load()
	if _, err := s.f.WriteAt(records, start); err != nil {
		if terr := s.f.Truncate(start); terr != nil {
			err = fmt.Errorf("%w (and truncating back failed: %v)", err, terr)
		}
		return fmt.Errorf("write segment %s at %d: %w", s.logPath, start, err)
	}
	for _, b := range batches {
		s.indexBatch(start+b.pos, b.size, b.lastOffset, b.maxTimestamp, indexInterval)
	}
	s.size.Store(start + int64(len(records)))
	s.next.Store(batches[len(batches)-1].lastOffset + 1)
	return nil
}

// indexBatch updates the timestamp tracking and adds index entries for a
// batch at pos, following Kafka's LogSegment.append: an entry pointing at the
// batch when more than indexInterval bytes were appended since the last one.
// A full index just stops taking entries (it is sparse; lookups scan on).
func (s *segment) indexBatch(pos, size, lastOffset, maxTs, indexInterval int64) {
	if s.rollTs < 0 && pos == 0 {
		s.rollTs = maxTs
	}
	if maxTs > s.maxTs.Load() {
		s.maxTs.Store(maxTs)
		s.offsetOfMaxTs = lastOffset
	}
	if s.bytesSinceIndex > indexInterval {
		s.oi.append(lastOffset, pos)
		s.ti.maybeAppend(s.maxTs.Load(), s.offsetOfMaxTs)
		s.bytesSinceIndex = 0
	}
	s.bytesSinceIndex += size
}

// indexFull reports whether either index has room for less than two more
// entries (one is kept for the final time-index entry on roll).
func (s *segment) indexFull() bool { return s.oi.free() < 2 || s.ti.free() < 2 }

// seal prepares an inactive segment: final time-index entry, indexes trimmed
// to their used size.
func (s *segment) seal() error {
	if s.maxTs.Load() >= 0 {
		s.ti.maybeAppend(s.maxTs.Load(), s.offsetOfMaxTs)
	}
	if err := s.oi.resize(0); err != nil {
		return err
	}
	return s.ti.resize(0)
}

// activate grows the indexes to maxBytes for appending.
func (s *segment) activate(maxBytes int32) error {
	if err := s.oi.resize(int(maxBytes)); err != nil {
		return err
	}
	return s.ti.resize(int(maxBytes))
}

// sync fsyncs the .log and msyncs the indexes.
func (s *segment) sync() error {
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", s.logPath, err)
	}
	if err := s.oi.sync(); err != nil {
		return err
	}
	return s.ti.sync()
}

// close closes the files; trim cuts the indexes to their used size.
func (s *segment) close(trim bool) error {
	err := s.oi.close(trim)
	if err2 := s.ti.close(trim); err == nil {
		err = err2
	}
	if err2 := s.f.Close(); err == nil && err2 != nil {
		err = fmt.Errorf("close %s: %w", s.logPath, err2)
	}
	return err
}

// remove closes and deletes the segment's files.
func (s *segment) remove() error {
	err := s.close(false)
	for _, p := range []string{s.logPath, s.oi.path, s.ti.path} {
		if rerr := os.Remove(p); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
			err = rerr
		}
	}
	return err
}
