package logstore

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// openOptions carries what the Manager knows about a log dir's state.
type openOptions struct {
	recoveryPoint  int64 // from recovery-point-offset-checkpoint; 0 if unknown
	highWatermark  int64 // from replication-offset-checkpoint; -1 if unknown
	logStartOffset int64 // from log-start-offset-checkpoint; 0 if unknown
	clean          bool  // the log dir had a clean-shutdown marker
	cleanerOffset  int64 // from cleaner-offset-checkpoint; 0 if none
	now            func() time.Time
}

// openLog opens (creating if needed) the partition directory parent/<tp>
// and loads its segments. Without a clean shutdown every segment from the
// one holding the recovery point on is recovered (batches validated, the
// .log truncated at the first torn or corrupt batch, indexes rebuilt); with
// one, only segments whose indexes fail the sanity checks are. Corrupt data
// never stops a log from opening; only I/O errors do.
func openLog(parent string, tp TopicPartition, cfg Config, logger logrus.FieldLogger, opt openOptions) (*Log, error) {
	if opt.now == nil {
		opt.now = time.Now
	}
	dir := filepath.Join(parent, tp.String())
	l := &Log{
		tp: tp, dir: dir, parent: parent, cfg: cfg, now: opt.now,
		logger:  logger.WithFields(logrus.Fields{"topic": tp.Topic, "partition": tp.Partition}),
		changed: make(chan struct{}),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open log %s: %w", tp, err)
	}
	bases, rebuild, err := l.scanDir()
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", tp, err)
	}
	segs, err := l.loadSegments(bases, rebuild, opt)
	if err != nil {
		for _, s := range segs {
			s.close(false)
		}
		return nil, fmt.Errorf("open log %s: %w", tp, err)
	}
	l.segs.Store(&segs)
	last := segs[len(segs)-1]
	l.leo.Store(last.next.Load())
	l.recoveryPoint.Store(last.next.Load())
	l.lastFlush.Store(opt.now().UnixNano())
	l.logStart.Store(max(opt.logStartOffset, segs[0].base))
	l.cleanerOffset.Store(min(opt.cleanerOffset, l.leo.Load()))
	if err := l.startPastEnd(); err != nil {
		l.close(false)
		return nil, fmt.Errorf("open log %s: %w", tp, err)
	}
	hw := opt.highWatermark
	if hw < 0 {
		hw = l.logStart.Load()
	}
	l.hw.Store(min(max(hw, l.logStart.Load()), l.leo.Load()))
	if err := l.loadEpochCache(); err != nil {
		l.close(false)
		return nil, fmt.Errorf("open log %s: %w", tp, err)
	}
	if err := l.loadProducersLocked(); err != nil {
		l.close(false)
		return nil, fmt.Errorf("open log %s: %w", tp, err)
	}
	return l, nil
}

// startPastEnd handles a checkpointed log start offset above the log end
// offset (recovery cut data the log start had already passed): as Kafka
// 2.4's Log.recoverLog, every segment is deleted and the log starts empty at
// the log start offset.
func (l *Log) startPastEnd() error {
	start, leo := l.logStart.Load(), l.leo.Load()
	if start <= leo {
		return nil
	}
	l.logger.Warnf("log start offset %d is past the log end offset %d: deleting all segments", start, leo)
	for _, s := range l.segments() {
		if err := s.remove(); err != nil {
			return err
		}
	}
	s, _, err := openSegment(l.dir, start, true, l.now())
	if err != nil {
		return err
	}
	segs := []*segment{s}
	l.segs.Store(&segs)
	l.leo.Store(start)
	l.recoveryPoint.Store(start)
	if err := syncDir(l.dir); err != nil {
		return err
	}
	return s.activate(l.cfg.IndexMaxBytes)
}

// Suffixes of temporary files from interrupted operations (Kafka's Log).
const (
	cleanedSuffix = ".cleaned"
	swapSuffix    = ".swap"
)

// scanDir lists the segment base offsets in the partition directory after
// cleaning up as Kafka 2.4's Log.removeTempFilesAndCollectSwapFiles and
// completeSwapOperations do: *.deleted files (segments whose deletion was
// scheduled) and *.cleaned files are removed; an index *.swap is removed
// (indexes are rebuilt); a <base>.log.swap from an interrupted compaction
// swap replaces the segments whose base offsets lie in [base, its next
// offset) and is renamed <base>.log, unless its base is at or above the
// smallest *.cleaned offset (an incomplete operation: the swap is removed).
// Index files without a .log are removed. It returns the bases and the set
// of bases whose indexes must be rebuilt.
func (l *Log) scanDir() ([]int64, map[int64]bool, error) {
	ents, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, nil, err
	}
	rm := func(name string) error {
		if err := os.Remove(filepath.Join(l.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	minCleaned := int64(math.MaxInt64)
	var swaps, idxSwaps []int64
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() {
			continue
		}
		stem, _, _ := strings.Cut(name, ".")
		base, isSeg := parseSegmentName(stem+logSuffix, logSuffix)
		var err error
		switch {
		case strings.HasSuffix(name, deletedSuffix), strings.HasSuffix(name, ".tmp"):
			err = rm(name)
		case strings.HasSuffix(name, cleanedSuffix):
			if isSeg {
				minCleaned = min(minCleaned, base)
			}
			err = rm(name)
		case strings.HasSuffix(name, swapSuffix):
			l.logger.Infof("found file %s from an interrupted swap operation", filepath.Join(l.dir, name))
			switch {
			case isSeg && name == segmentName(base)+logSuffix+swapSuffix:
				swaps = append(swaps, base)
			case isSeg:
				// an index .swap: the swap of its .log completed, the
				// index renames did not; rebuild that segment's indexes.
				idxSwaps = append(idxSwaps, base)
				err = rm(name)
			default:
				err = rm(name)
			}
		}
		if err != nil {
			return nil, nil, err
		}
	}
	rebuild := map[int64]bool{}
	for _, base := range idxSwaps {
		_, idx, tidx := segmentPaths(l.dir, base)
		for _, p := range []string{idx, tidx} {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, nil, err
			}
		}
		rebuild[base] = true
	}
	for _, base := range swaps {
		if err := l.completeSwap(base, minCleaned, rebuild); err != nil {
			return nil, nil, err
		}
	}
	if ents, err = os.ReadDir(l.dir); err != nil {
		return nil, nil, err
	}
	var bases []int64
	logs := map[string]bool{}
	for _, e := range ents {
		if base, ok := parseSegmentName(e.Name(), logSuffix); ok && e.Type().IsRegular() {
			bases = append(bases, base)
			logs[segmentName(base)] = true
		}
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, indexSuffix) || strings.HasSuffix(name, timeIndexSuffix) {
			if stem, _, _ := strings.Cut(name, "."); !logs[stem] {
				if err := rm(name); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	return bases, rebuild, nil
}

// completeSwap finishes (or, at or above minCleaned, discards) the swap of
// <base>.log.swap, as Kafka's completeSwapOperations: the segments it
// replaces are removed, it becomes <base>.log and its indexes are rebuilt.
func (l *Log) completeSwap(base, minCleaned int64, rebuild map[int64]bool) error {
	swap := filepath.Join(l.dir, segmentName(base)+logSuffix+swapSuffix)
	_, idx, tidx := segmentPaths(l.dir, base)
	for _, p := range []string{idx, tidx} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if base >= minCleaned {
		l.logger.Warnf("removing swap file %s of an incomplete operation (a .cleaned file at offset %d remains)", swap, minCleaned)
		return os.Remove(swap)
	}
	batches, err := scanBatches(swap) // a torn tail is cut by the rebuild
	if err != nil {
		l.logger.WithError(err).Warnf("swap file %s has an invalid tail", swap)
	}
	next := base
	if len(batches) > 0 {
		next = batches[len(batches)-1].lastOffset + 1
	}
	ents, err := os.ReadDir(l.dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		old, ok := parseSegmentName(e.Name(), logSuffix)
		if !ok || old < base || (old >= next && old != base) {
			continue
		}
		l.logger.Infof("swap file %s replaces segment %s", swap, e.Name())
		for _, p := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
			if err := os.Remove(filepath.Join(l.dir, segmentName(old)+p)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	if err := os.Rename(swap, filepath.Join(l.dir, segmentName(base)+logSuffix)); err != nil {
		return err
	}
	rebuild[base] = true
	return syncDir(l.dir)
}

// loadSegments opens the segments, recovering those that need it, and
// activates the last one. It returns the segments opened so far on error.
func (l *Log) loadSegments(bases []int64, rebuild map[int64]bool, opt openOptions) ([]*segment, error) {
	if len(bases) == 0 {
		s, _, err := openSegment(l.dir, 0, true, opt.now())
		if err != nil {
			return nil, err
		}
		return []*segment{s}, s.activate(l.cfg.IndexMaxBytes)
	}
	recoverFrom := len(bases)
	if !opt.clean {
		recoverFrom = max(sort.Search(len(bases), func(i int) bool { return bases[i] > opt.recoveryPoint })-1, 0)
	}
	var segs []*segment
	for i, base := range bases {
		s, sane, err := openSegment(l.dir, base, false, opt.now())
		if err != nil {
			return segs, err
		}
		segs = append(segs, s)
		if i < recoverFrom && sane && !rebuild[base] && s.loadTail() {
			continue
		}
		if i < recoverFrom {
			l.logger.Warnf("segment %s: index files inconsistent with the log, rebuilding", s.logPath)
		}
		truncated, err := l.recoverSegment(s)
		if err != nil {
			return segs, err
		}
		if i < len(bases)-1 {
			if err := s.seal(); err != nil {
				return segs, err
			}
		}
		if truncated && i < len(bases)-1 {
			for _, b := range bases[i+1:] {
				l.logger.Errorf("deleting segment %s after a truncated one", filepath.Join(l.dir, segmentName(b)+logSuffix))
				for _, p := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
					if err := os.Remove(filepath.Join(l.dir, segmentName(b)+p)); err != nil && !errors.Is(err, os.ErrNotExist) {
						return segs, err
					}
				}
			}
			break
		}
	}
	if err := syncDir(l.dir); err != nil {
		return segs, err
	}
	return segs, segs[len(segs)-1].activate(l.cfg.IndexMaxBytes)
}

// loadTail sanity-checks a segment's indexes against its .log (last entries
// within the segment) and scans the batches after the last offset-index
// entry to learn the next offset and max timestamp. false means the segment
// needs recovery.
func (s *segment) loadTail() bool {
	size := s.size.Load()
	pos := int64(0)
	s.offsetOfMaxTs = s.base
	if off, p, ok := s.oi.last(); ok {
		if off < s.base || p <= 0 || p >= size {
			return false
		}
		pos = p
	}
	if ts, off, ok := s.ti.last(); ok {
		if off < s.base || ts < 0 {
			return false
		}
		s.maxTs.Store(ts)
		s.offsetOfMaxTs = off
	}
	sc := newHeaderScanner(s.f, size)
	defer sc.release()
	if h, err := sc.header(0); err == nil {
		s.rollTs = h.MaxTimestamp
	}
	s.bytesSinceIndex = size - pos
	next := s.base
	for {
		h, err := sc.header(pos)
		if err == io.EOF {
			break
		}
		if err != nil || h.BaseOffset < next || h.LastOffset()-s.base > math.MaxInt32 {
			return false
		}
		if h.MaxTimestamp > s.maxTs.Load() {
			s.maxTs.Store(h.MaxTimestamp)
			s.offsetOfMaxTs = h.LastOffset()
		}
		next = h.LastOffset() + 1
		pos += h.Size()
	}
	if _, off, ok := s.ti.last(); ok && off >= next {
		return false // time index points past the log
	}
	s.next.Store(next)
	return true
}

// recoverSegment validates every batch of the segment (header, offsets,
// CRC-32C), truncates the .log at the first invalid or torn batch, rebuilds
// both indexes and fsyncs the result. It reports whether bytes were cut.
func (l *Log) recoverSegment(s *segment) (truncated bool, err error) {
	if err := s.activate(l.cfg.IndexMaxBytes); err != nil {
		return false, err
	}
	s.oi.reset()
	s.ti.reset()
	s.maxTs.Store(-1)
	s.offsetOfMaxTs, s.bytesSinceIndex, s.rollTs = s.base, 0, -1
	fileSize := s.size.Load()
	limit := min(fileSize, math.MaxInt32)
	sc := newHeaderScanner(s.f, limit)
	defer sc.release()
	pos, next := int64(0), s.base
	var bad error
	for {
		h, err := sc.header(pos)
		if err == io.EOF {
			break
		}
		if err == nil {
			switch {
			case h.BaseOffset < next:
				err = fmt.Errorf("%w: base offset %d below %d", ErrCorruptMessage, h.BaseOffset, next)
			case h.LastOffset()-s.base > math.MaxInt32:
				err = fmt.Errorf("%w: offset %d does not fit segment base %d", ErrCorruptMessage, h.LastOffset(), s.base)
			default:
				err = crcAt(s.f, pos, h)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrCorruptMessage) && !errors.Is(err, ErrUnsupportedMagic) && !errors.Is(err, io.ErrUnexpectedEOF) {
				return false, fmt.Errorf("recover %s: %w", s.logPath, err) // an I/O error: cut nothing
			}
			bad = err
			break
		}
		s.indexBatch(pos, h.Size(), h.LastOffset(), h.MaxTimestamp, int64(l.cfg.IndexIntervalBytes))
		next = h.LastOffset() + 1
		pos += h.Size()
	}
	if pos < fileSize {
		if bad == nil {
			bad = fmt.Errorf("segment larger than %d bytes", int64(math.MaxInt32))
		}
		l.logger.Errorf("recovering segment %s: invalid or torn batch at position %d (next offset %d): %v; truncating %d bytes",
			s.logPath, pos, next, bad, fileSize-pos)
		if err := s.f.Truncate(pos); err != nil {
			return false, fmt.Errorf("truncate %s to %d: %w", s.logPath, pos, err)
		}
		truncated = true
	}
	s.size.Store(pos)
	s.next.Store(next)
	if err := s.sync(); err != nil {
		return truncated, err
	}
	return truncated, nil
}

// crcAt verifies the CRC-32C of the batch at pos, reading it in chunks.
func crcAt(f *os.File, pos int64, h BatchHeader) error {
	buf := scanBufPool.Get().(*[]byte)
	defer scanBufPool.Put(buf)
	var crc uint32
	for p, end := pos+offAttributes, pos+h.Size(); p < end; {
		n := min(int64(len(*buf)), end-p)
		if _, err := f.ReadAt((*buf)[:n], p); err != nil {
			return fmt.Errorf("read %s at %d: %w", f.Name(), p, err)
		}
		crc = crc32.Update(crc, castagnoli, (*buf)[:n])
		p += n
	}
	if crc != h.CRC {
		return fmt.Errorf("%w: crc 0x%08x, computed 0x%08x", ErrCorruptMessage, h.CRC, crc)
	}
	return nil
}
