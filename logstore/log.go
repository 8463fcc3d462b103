package logstore

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// ListOffsets sentinel timestamps understood by OffsetForTimestamp.
const (
	LatestTimestamp   int64 = -1 // answer: LogEndOffset
	EarliestTimestamp int64 = -2 // answer: LogStartOffset
)

// Log is one partition's log: a directory of segments, only the newest of
// which (the active segment) is appended to. A Log is safe for concurrent
// use: Append, SetConfig, Flush and Close serialise on a mutex; Read,
// OffsetForTimestamp and the offset getters work on an atomically published
// snapshot of the segment list and never wait for an append.
type Log struct {
	tp     TopicPartition
	dir    string
	parent string // the log dir holding dir
	logger logrus.FieldLogger
	now    func() time.Time

	mu      sync.Mutex // append, roll, config, close
	cfg     Config
	batches []batchMeta // scratch for Append, guarded by mu

	segs          atomic.Pointer[[]*segment] // immutable snapshot, sorted by base
	leo           atomic.Int64
	hw            atomic.Int64
	logStart      atomic.Int64 // >= the first segment's base
	recoveryPoint atomic.Int64
	// cleanerOffset is the cleaner's checkpoint (first dirty offset, 0 =
	// never cleaned), truncGen counts truncations; both change under mu.
	cleanerOffset atomic.Int64
	truncGen      atomic.Int64
	lastFlush     atomic.Int64 // unix nanoseconds
	closed        atomic.Bool
	// epochs is the leader epoch cache, an immutable slice replaced under mu
	// (each change is written to leader-epoch-checkpoint).
	epochs atomic.Pointer[[]EpochEntry]
	// pstate is the idempotent producers' table (producer_state.go), under mu.
	pstate producerState

	flushMu sync.Mutex     // serialises fsync passes
	bg      sync.WaitGroup // background flushes after a roll, delayed segment deletions

	delMu      sync.Mutex
	pendingDel map[*time.Timer][]*segment // segments renamed .deleted, removed when the timer fires

	notifyMu sync.Mutex
	changed  chan struct{} // closed and replaced by notify
	watched  bool          // Changed handed out the current channel
}

// TopicPartition returns the partition this log stores.
func (l *Log) TopicPartition() TopicPartition { return l.tp }

// Dir returns the partition directory.
func (l *Log) Dir() string { return l.dir }

// Config returns the log's current configuration.
func (l *Log) Config() Config {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cfg
}

// SetConfig replaces the log's configuration (topic-level overrides). Zero
// fields take Kafka's defaults. A new IndexMaxBytes applies from the next
// segment.
func (l *Log) SetConfig(cfg Config) error {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("log %s: %w", l.tp, err)
	}
	l.mu.Lock()
	l.cfg = cfg
	l.mu.Unlock()
	return nil
}

func (l *Log) segments() []*segment { return *l.segs.Load() }

func (l *Log) active() *segment {
	s := l.segments()
	return s[len(s)-1]
}

// LogEndOffset is the offset the next appended record gets.
func (l *Log) LogEndOffset() int64 { return l.leo.Load() }

// LogStartOffset is the first offset that can be read. It is tracked apart
// from the segments, as Kafka does: DeleteRecordsBefore raises it inside a
// segment, retention raises it to the new first segment's base. It is at
// least the first segment's base offset and is persisted in the log dir's
// log-start-offset-checkpoint when above it.
func (l *Log) LogStartOffset() int64 { return l.logStart.Load() }

// HighWatermark returns the high watermark last set with SetHighWatermark
// (loaded from replication-offset-checkpoint on open, clamped to the log).
func (l *Log) HighWatermark() int64 { return l.hw.Load() }

// SetHighWatermark stores hw, clamped to [LogStartOffset, LogEndOffset], and
// wakes Changed waiters when it moved. The broker decides the value.
func (l *Log) SetHighWatermark(hw int64) {
	hw = min(max(hw, l.LogStartOffset()), l.LogEndOffset())
	if l.hw.Swap(hw) != hw {
		l.notify()
	}
}

// MaybeIncrementHighWatermark raises the high watermark to hw (clamped to
// LogEndOffset) and reports whether it moved; it never lowers it, so
// concurrent callers (a leader's appends and follower fetches) cannot move
// it backwards (Kafka's Log.maybeIncrementHighWatermark).
func (l *Log) MaybeIncrementHighWatermark(hw int64) bool {
	for {
		cur := l.hw.Load()
		target := min(hw, l.LogEndOffset())
		if target <= cur {
			return false
		}
		if l.hw.CompareAndSwap(cur, target) {
			l.notify()
			return true
		}
	}
}

// RecoveryPoint is the offset below which everything is known to be fsynced;
// recovery after a crash rescans from the segment holding it.
func (l *Log) RecoveryPoint() int64 { return l.recoveryPoint.Load() }

// Size is the total byte size of the log's .log files.
func (l *Log) Size() int64 {
	var n int64
	for _, s := range l.segments() {
		n += s.size.Load()
	}
	return n
}

// NumSegments is the number of segments.
func (l *Log) NumSegments() int { return len(l.segments()) }

// Changed returns a channel that is closed on the next successful append,
// high watermark change or Close. Long-polling fetches select on it and
// re-check; take the channel before checking to not miss a wake-up.
func (l *Log) Changed() <-chan struct{} {
	l.notifyMu.Lock()
	defer l.notifyMu.Unlock()
	l.watched = true
	return l.changed
}

// notify wakes Changed waiters. Nobody holding the channel costs nothing: a
// new channel is made only when the current one was handed out.
func (l *Log) notify() {
	l.notifyMu.Lock()
	defer l.notifyMu.Unlock()
	closing := l.closed.Load()
	if l.changed == closedChan || !l.watched && !closing {
		return
	}
	close(l.changed)
	l.watched = false
	if closing {
		l.changed = closedChan
	} else {
		l.changed = make(chan struct{})
	}
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Append validates records (one or more magic-v2 batches back to back, as in
// a produce request), assigns offsets from LogEndOffset, stamps leaderEpoch,
// and writes the set to the active segment with one write, rolling first if
// needed. Validation covers every batch before anything is written; on any
// error nothing of the call is stored.
//
// Offsets are assigned by patching baseOffset and partitionLeaderEpoch IN
// PLACE in records (both lie outside the CRC); nothing else is touched, so
// compressed batches stay byte-identical. The caller must not reuse records
// concurrently.
//
// When the flush policy asks for it, Append fsyncs before returning; an fsync
// error is returned with a filled AppendInfo: the data is in the log but not
// known to be durable.
func (l *Log) Append(records []byte, leaderEpoch int32) (AppendInfo, error) {
	l.mu.Lock()
	info, needFlush, err := l.appendLocked(records, leaderEpoch)
	l.mu.Unlock()
	return l.afterAppend(info, needFlush, err)
}

// afterAppend wakes waiters and applies the flush policy. An error with a
// filled AppendInfo (LastOffset >= 0) means the data is in the log but a
// later step (epoch checkpoint, fsync) failed.
func (l *Log) afterAppend(info AppendInfo, needFlush bool, err error) (AppendInfo, error) {
	if info.LastOffset < 0 {
		return AppendInfo{}, fmt.Errorf("append to %s: %w", l.tp, err)
	}
	l.notify()
	if err != nil {
		return info, fmt.Errorf("append to %s: %w", l.tp, err)
	}
	if needFlush {
		if err := l.flushTo(l.leo.Load()); err != nil {
			return info, fmt.Errorf("append to %s: %w", l.tp, err)
		}
	}
	return info, nil
}

// appendLocked is the leader path. info.LastOffset stays -1 unless the data
// was written.
func (l *Log) appendLocked(records []byte, leaderEpoch int32) (AppendInfo, bool, error) {
	if l.closed.Load() {
		return AppendInfo{LastOffset: -1}, false, ErrClosed
	}
	cfg := &l.cfg
	l.batches = l.batches[:0]
	info := AppendInfo{MaxTimestamp: -1, LastOffset: -1}
	next := l.leo.Load()
	producers := false // some batch is an idempotent producer's
	if len(records) == 0 {
		return info, false, fmt.Errorf("%w: empty record set", ErrCorruptMessage)
	}
	for pos := 0; pos < len(records); {
		h, err := ValidateBatch(records[pos:], cfg.MaxMessageBytes)
		if err == nil && cfg.CleanupCompact {
			err = checkRecordKeys(records[pos:pos+int(h.Size())], l.tp)
		}
		if err != nil {
			return info, false, fmt.Errorf("batch %d at byte %d: %w", len(l.batches), pos, err)
		}
		l.batches = append(l.batches, batchMeta{pos: int64(pos), size: h.Size(), lastOffset: next + int64(h.LastOffsetDelta), maxTimestamp: h.MaxTimestamp})
		next += int64(h.LastOffsetDelta) + 1
		producers = producers || hasProducer(h)
		info.NumRecords += int(h.NumRecords)
		info.MaxTimestamp = max(info.MaxTimestamp, h.MaxTimestamp)
		pos += int(h.Size())
	}
	if int64(len(records)) > cfg.SegmentBytes {
		return info, false, fmt.Errorf("%w: %d bytes, segment.bytes %d", ErrRecordSetTooLarge, len(records), cfg.SegmentBytes)
	}
	if next < 0 {
		return info, false, fmt.Errorf("%w: offset overflow", ErrInvalidRecord)
	}
	if producers {
		if err := l.ensureProducersLocked(); err != nil {
			return info, false, err
		}
		dup, err := l.pstate.check(records)
		if err != nil {
			return info, false, err
		}
		if dup != nil {
			return AppendInfo{FirstOffset: dup.firstOffset, LastOffset: dup.lastOffset, MaxTimestamp: -1, Duplicate: true}, false, nil
		}
	}
	seg := l.active()
	if l.shouldRoll(seg, int64(len(records)), next-1, info.MaxTimestamp) {
		var err error
		if seg, err = l.roll(l.leo.Load()); err != nil {
			return info, false, err
		}
	}
	info.FirstOffset = l.leo.Load()
	off := info.FirstOffset
	for _, b := range l.batches {
		patchBatch(records[b.pos:], off, leaderEpoch)
		off = b.lastOffset + 1
	}
	if err := seg.append(records, l.batches, int64(cfg.IndexIntervalBytes)); err != nil {
		info.LastOffset = -1
		return info, false, err
	}
	info.LastOffset = next - 1
	l.leo.Store(next)
	if producers {
		l.pstate.recordBatches(records)
	}
	needFlush := l.needFlushLocked()
	if leaderEpoch > l.LatestEpoch() {
		if err := l.assignEpochLocked(leaderEpoch, info.FirstOffset); err != nil {
			return info, needFlush, err
		}
	}
	return info, needFlush, nil
}

// needFlushLocked applies the flush policy after an append.
func (l *Log) needFlushLocked() bool {
	return l.leo.Load()-l.recoveryPoint.Load() >= l.cfg.FlushIntervalMessages ||
		(l.cfg.FlushInterval > 0 && l.now().UnixNano()-l.lastFlush.Load() >= int64(l.cfg.FlushInterval))
}

// shouldRoll applies Kafka's roll conditions for appending size bytes whose
// last offset is lastOffset and max timestamp maxTs. Like Kafka's
// LogSegment.timeWaitedForRoll, the segment's age is maxTs minus the first
// batch's timestamp when both are known, else the wall-clock time since the
// segment was created (or opened).
func (l *Log) shouldRoll(s *segment, size, lastOffset, maxTs int64) bool {
	if s.size.Load() == 0 {
		return false
	}
	if s.size.Load()+size > l.cfg.SegmentBytes || s.indexFull() || lastOffset-s.base > math.MaxInt32 {
		return true
	}
	age := l.now().Sub(s.created).Milliseconds()
	if s.rollTs >= 0 && maxTs >= 0 {
		age = maxTs - s.rollTs
	}
	return age > l.cfg.RollTime.Milliseconds()
}

// roll starts a new active segment at base (LogEndOffset, or a replicated
// batch's base offset past a gap); the old one is sealed (indexes trimmed)
// and flushed in the background.
func (l *Log) roll(base int64) (*segment, error) {
	old := l.active()
	leo := l.leo.Load()
	// The producer table reflects every batch below leo, and nothing lies
	// in [leo, base): it is the state at the new segment's base.
	l.takeProducerSnapshotLocked(base)
	s, _, err := openSegment(l.dir, base, true, l.now())
	if err != nil {
		return nil, fmt.Errorf("roll %s: %w", l.tp, err)
	}
	if err := s.activate(l.cfg.IndexMaxBytes); err != nil {
		s.remove()
		return nil, fmt.Errorf("roll %s: %w", l.tp, err)
	}
	if err := old.seal(); err != nil {
		l.logger.WithError(err).Warnf("sealing segment %s", old.logPath)
	}
	segs := append(append([]*segment(nil), l.segments()...), s)
	l.segs.Store(&segs)
	l.logger.Debugf("rolled new segment at offset %d", base)
	l.bg.Add(1)
	go func() {
		defer l.bg.Done()
		if err := l.flushTo(leo); err != nil && !l.closed.Load() {
			l.logger.WithError(err).Errorf("flushing rolled segment %s", old.logPath)
		}
	}()
	return s, nil
}

// Flush fsyncs everything appended so far and advances the recovery point.
func (l *Log) Flush() error {
	if err := l.flushTo(l.leo.Load()); err != nil {
		return fmt.Errorf("flush %s: %w", l.tp, err)
	}
	return nil
}

// flushTo fsyncs every segment holding offsets in [recoveryPoint, upTo) and
// then moves the recovery point to upTo. It does not hold the append mutex;
// truncations lower the recovery point under flushMu (clampRecoveryPoint).
func (l *Log) flushTo(upTo int64) error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	upTo = min(upTo, l.leo.Load()) // a truncation may have come first
	rp := l.recoveryPoint.Load()
	if upTo <= rp {
		return nil
	}
	for _, s := range l.segments() {
		if s.base >= upTo || s.next.Load() <= rp && s.size.Load() > 0 {
			continue
		}
		if err := s.sync(); err != nil {
			return err
		}
	}
	l.recoveryPoint.Store(upTo)
	l.lastFlush.Store(l.now().UnixNano())
	return nil
}

// clampRecoveryPoint lowers the recovery point to at most offset, after a
// truncation (LogEndOffset already lowered), so that a flush running
// concurrently can not store a recovery point above the new end.
func (l *Log) clampRecoveryPoint(offset int64) {
	l.flushMu.Lock()
	l.recoveryPoint.Store(min(l.recoveryPoint.Load(), offset))
	l.flushMu.Unlock()
}

// Close flushes and closes the log; indexes are trimmed to their real size.
// Reads in progress or regions handed out fail with an error afterwards.
// Logs owned by a Manager are closed by Manager.Close and Manager.Delete.
func (l *Log) Close() error { return l.close(true) }

func (l *Log) close(flush bool) error {
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		return nil
	}
	var errs []error
	if flush {
		if err := l.flushTo(l.leo.Load()); err != nil {
			errs = append(errs, err)
		}
		l.takeProducerSnapshotLocked(l.producerStateEnd())
	}
	l.closed.Store(true)
	l.mu.Unlock()
	l.finishPendingDeletes()
	l.bg.Wait()
	segs := l.segments()
	for i, s := range segs {
		if i == len(segs)-1 && flush {
			if err := s.seal(); err != nil {
				errs = append(errs, err)
			}
		}
		if err := s.close(flush); err != nil {
			errs = append(errs, err)
		}
	}
	l.notify()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close %s: %w", l.tp, err)
	}
	return nil
}

// Read returns whole batches, as file regions, starting with the batch that
// holds offset: at most maxBytes in total, none with a baseOffset >=
// maxOffset (the high watermark, exclusive). If minOneBatch and the first
// batch is larger than maxBytes, it is returned whole anyway (KIP-74);
// otherwise such a read is empty. The result may span segments.
//
// offset < LogStartOffset or > LogEndOffset is ErrOffsetOutOfRange; offset ==
// LogEndOffset or >= maxOffset gives an empty result.
func (l *Log) Read(offset int64, maxBytes int32, maxOffset int64, minOneBatch bool) (ReadResult, error) {
	if l.closed.Load() {
		return ReadResult{}, fmt.Errorf("read %s: %w", l.tp, ErrClosed)
	}
	leo := l.leo.Load() // before the segments: data below leo is published
	segs := l.segments()
	start := max(l.logStart.Load(), segs[0].base)
	if offset < start || offset > leo {
		return ReadResult{}, fmt.Errorf("read %s: %w: offset %d not in [%d, %d]", l.tp, ErrOffsetOutOfRange, offset, start, leo)
	}
	var res ReadResult
	if offset == leo || offset >= maxOffset || (maxBytes <= 0 && !minOneBatch) {
		return res, nil
	}
	i := sort.Search(len(segs), func(i int) bool { return segs[i].base > offset }) - 1
	budget := int64(max(maxBytes, 0))
	for ; i < len(segs); i++ {
		s := segs[i]
		limit := s.size.Load()
		start, h, found, err := s.findBatch(offset, limit)
		if err != nil {
			if len(res.Regions) > 0 {
				return res, nil // serve what is good; the next read reports
			}
			return res, fmt.Errorf("read %s at offset %d: %w", l.tp, offset, err)
		}
		if !found {
			continue
		}
		if h.BaseOffset >= maxOffset {
			break
		}
		end, full, err := s.scanEnd(start, limit, budget, maxOffset, minOneBatch && len(res.Regions) == 0)
		if err != nil && end == start {
			if len(res.Regions) > 0 {
				return res, nil
			}
			return res, fmt.Errorf("read %s at offset %d: %w", l.tp, offset, err)
		}
		if end > start {
			res.Regions = append(res.Regions, Region{File: s.f, Pos: start, Len: end - start})
			res.Size += end - start
			budget -= end - start
		}
		if full || err != nil || budget <= 0 {
			break
		}
		offset = 0 // from the next segment's first batch
	}
	return res, nil
}

// scanEnd finds where a read starting at the batch at start ends: after the
// last whole batch that fits budget and has a baseOffset < maxOffset. It
// jumps ahead with the offset index and scans the rest. full reports that a
// limit (budget or maxOffset) stopped the scan before the segment's end.
func (s *segment) scanEnd(start, limit, budget, maxOffset int64, oversizeFirst bool) (end int64, full bool, err error) {
	pos := max(start, s.oi.lookupBound(min(start+budget, limit), maxOffset))
	sc := newHeaderScanner(s.f, limit)
	defer sc.release()
	for {
		h, err := sc.header(pos)
		if err != nil {
			if err == io.EOF {
				return pos, false, nil
			}
			return pos, true, fmt.Errorf("segment %s: %w", s.logPath, err)
		}
		if h.BaseOffset >= maxOffset {
			return pos, true, nil
		}
		if pos+h.Size()-start > budget {
			if pos == start && oversizeFirst {
				return pos + h.Size(), true, nil
			}
			return pos, true, nil
		}
		pos += h.Size()
	}
}

// OffsetForTimestamp implements ListOffsets by time: it finds the first batch
// whose maxTimestamp >= ts and returns its base offset and maxTimestamp.
// (Kafka returns the first *record* with timestamp >= ts; answering with the
// batch's base offset never skips a matching record, at the cost of some
// earlier records of that batch. Records are not decoded here.) ts ==
// LatestTimestamp / EarliestTimestamp answer LogEndOffset / LogStartOffset
// with timestamp -1. found=false when no batch qualifies.
func (l *Log) OffsetForTimestamp(ts int64) (offset, timestamp int64, found bool) {
	switch ts {
	case LatestTimestamp:
		return l.LogEndOffset(), -1, true
	case EarliestTimestamp:
		return l.LogStartOffset(), -1, true
	}
	if l.closed.Load() {
		return -1, -1, false
	}
	start := l.LogStartOffset()
	for _, s := range l.segments() {
		if s.maxTs.Load() < ts {
			continue
		}
		if off, ts2, ok := s.findTimestamp(ts, start); ok {
			return max(off, start), ts2, true
		}
	}
	return -1, -1, false
}

// findTimestamp scans the segment for the first batch with maxTimestamp >=
// ts holding offsets >= start, starting after the last time-index entry
// below ts.
func (s *segment) findTimestamp(ts, start int64) (int64, int64, bool) {
	limit := s.size.Load()
	pos := int64(0)
	if off, ok := s.ti.lookupBefore(ts); ok {
		pos = min(s.oi.lookup(off), limit)
	}
	sc := newHeaderScanner(s.f, limit)
	defer sc.release()
	for {
		h, err := sc.header(pos)
		if err != nil {
			return -1, -1, false
		}
		if h.MaxTimestamp >= ts && h.LastOffset() >= start {
			return h.BaseOffset, h.MaxTimestamp, true
		}
		pos += h.Size()
	}
}
