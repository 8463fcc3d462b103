package logstore

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
)

// LatestEpoch is the newest leader epoch in the epoch cache, -1 when empty.
func (l *Log) LatestEpoch() int32 {
	es := l.epochEntries()
	if len(es) == 0 {
		return -1
	}
	return es[len(es)-1].Epoch
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch as Kafka 2.4's
// LeaderEpochFileCache.endOffsetFor: for the latest epoch, (epoch,
// LogEndOffset); for an older epoch, the largest cached epoch <= epoch and
// the start offset of the first cached epoch above it; for an epoch below
// every cached one, (epoch, first entry's start offset); (-1, -1) for epoch
// -1, an empty cache, or an epoch above the latest.
func (l *Log) EndOffsetForEpoch(epoch int32) (foundEpoch int32, endOffset int64) {
	es := l.epochEntries()
	return epochEndOffsetFor(es, epoch, l.leo.Load())
}

// EpochEntries returns a copy of the leader epoch cache, oldest first.
func (l *Log) EpochEntries() []EpochEntry {
	return append([]EpochEntry(nil), l.epochEntries()...)
}

func (l *Log) epochEntries() []EpochEntry {
	if p := l.epochs.Load(); p != nil {
		return *p
	}
	return nil
}

// setEpochsLocked publishes es and writes leader-epoch-checkpoint. Called
// with l.mu held (or before the log is shared).
func (l *Log) setEpochsLocked(es []EpochEntry) error {
	l.epochs.Store(&es)
	if err := writeEpochCheckpoint(l.dir, es); err != nil {
		return fmt.Errorf("leader epoch cache of %s: %w", l.tp, err)
	}
	return nil
}

func (l *Log) assignEpochLocked(epoch int32, start int64) error {
	es, changed, dropped := epochAssign(l.epochEntries(), epoch, start)
	if !changed {
		return nil
	}
	if dropped > 0 {
		l.logger.Warnf("leader epoch %d at offset %d replaced %d conflicting epoch cache entries", epoch, start, dropped)
	}
	return l.setEpochsLocked(es)
}

// AssignEpochStartOffset records that leader epoch epoch begins at offset
// (Kafka's Log.maybeAssignEpochStartOffset, called by a broker becoming
// leader with its log end offset): followers asking OffsetForLeaderEpoch
// about an older epoch then learn where it ended even before the new leader
// appended anything. No-op when the latest entry is already epoch.
func (l *Log) AssignEpochStartOffset(epoch int32, offset int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return fmt.Errorf("assign epoch of %s: %w", l.tp, ErrClosed)
	}
	return l.assignEpochLocked(epoch, offset)
}

// AppendAsFollower appends batches replicated from the leader, keeping their
// offsets and partition leader epochs: nothing in records is modified. Every
// batch is checked before anything is written: header and length bounds,
// magic 2, CRC-32C, offsets strictly increasing across the set, and the
// first base offset >= LogEndOffset (gaps are allowed, as after compaction).
// A violation of the offset rules wraps ErrUnexpectedAppendOffset.
//
// Like Kafka's follower (Log.appendAsFollower), it skips the leader's
// LogValidator checks: control batches, empty batches and any record count
// are accepted. It also skips max.message.bytes (the leader accepted the
// batch; Kafka 2.4 still checked it, which stalls replication after the
// topic's limit is lowered, KAFKA-9617, fixed in 2.6).
//
// Where Kafka 2.4 refuses a fetched set larger than segment.bytes, this
// splits the set over as many segments as it needs (a single batch larger
// than segment.bytes gets a segment of its own), so a follower with a small
// segment.bytes never stalls. A new segment starts at the base offset of its
// first batch. The epoch cache gets an entry for each batch whose leader
// epoch is new (Kafka's assign). LogEndOffset becomes the last offset + 1;
// flush policy and Changed are as for Append.
func (l *Log) AppendAsFollower(records []byte) (AppendInfo, error) {
	l.mu.Lock()
	info, needFlush, err := l.appendFollowerLocked(records)
	l.mu.Unlock()
	return l.afterAppend(info, needFlush, err)
}

// followerBatch is one validated batch of a replicated set.
type followerBatch struct {
	batchMeta
	base  int64
	epoch int32
}

func (l *Log) appendFollowerLocked(records []byte) (AppendInfo, bool, error) {
	info := AppendInfo{MaxTimestamp: -1, FirstOffset: -1, LastOffset: -1}
	if l.closed.Load() {
		return info, false, ErrClosed
	}
	bs, err := l.validateReplicated(records, &info)
	if err != nil {
		return info, false, err
	}
	written := false
	for i := 0; i < len(bs); {
		j, err := l.writeChunkLocked(records, bs[i:])
		if err == nil {
			for _, b := range bs[i : i+j] {
				if err = l.assignEpochLocked(b.epoch, b.base); err != nil {
					break
				}
			}
		}
		if j > 0 {
			written = true
			info.LastOffset = bs[i+j-1].lastOffset
		}
		if err != nil {
			if !written {
				info.LastOffset = -1
			}
			return info, written && l.needFlushLocked(), err
		}
		i += j
	}
	return info, l.needFlushLocked(), nil
}

// validateReplicated checks a replicated record set and describes its
// batches (positions within records).
func (l *Log) validateReplicated(records []byte, info *AppendInfo) ([]followerBatch, error) {
	if len(records) == 0 {
		return nil, fmt.Errorf("%w: empty record set", ErrCorruptMessage)
	}
	var bs []followerBatch
	prevLast := l.leo.Load() - 1
	for pos := 0; pos < len(records); {
		h, err := ParseBatchHeader(records[pos:])
		if err == nil {
			err = checkHeader(h, int64(len(records)-pos))
		}
		if err == nil && (h.BaseOffset < 0 || h.BaseOffset > math.MaxInt64-int64(h.LastOffsetDelta)-1) {
			err = fmt.Errorf("%w: base offset %d out of range", ErrCorruptMessage, h.BaseOffset)
		}
		if err == nil {
			err = checkCRC(h, records[pos:pos+int(h.Size())])
		}
		if err != nil {
			return nil, fmt.Errorf("batch %d at byte %d: %w", len(bs), pos, err)
		}
		if h.BaseOffset <= prevLast {
			if len(bs) == 0 {
				return nil, fmt.Errorf("%w: first offset %d is below the log end offset %d", ErrUnexpectedAppendOffset, h.BaseOffset, prevLast+1)
			}
			return nil, fmt.Errorf("%w: batch %d at byte %d: base offset %d after offset %d (offsets not increasing)", ErrUnexpectedAppendOffset, len(bs), pos, h.BaseOffset, prevLast)
		}
		bs = append(bs, followerBatch{
			batchMeta: batchMeta{pos: int64(pos), size: h.Size(), lastOffset: h.LastOffset(), maxTimestamp: h.MaxTimestamp},
			base:      h.BaseOffset, epoch: h.PartitionLeaderEpoch,
		})
		if info.FirstOffset < 0 {
			info.FirstOffset = h.BaseOffset
		}
		info.NumRecords += int(h.NumRecords)
		info.MaxTimestamp = max(info.MaxTimestamp, h.MaxTimestamp)
		prevLast = h.LastOffset()
		pos += int(h.Size())
	}
	return bs, nil
}

// writeChunkLocked writes the longest prefix of bs that fits one segment with
// one pwrite, rolling first when the first batch does not fit the active
// segment. It returns how many batches were written.
func (l *Log) writeChunkLocked(records []byte, bs []followerBatch) (int, error) {
	seg := l.active()
	first := bs[0]
	fits := func(s *segment, size, last int64) bool {
		return s.size.Load()+size <= l.cfg.SegmentBytes && last-s.base <= math.MaxInt32
	}
	overflow := first.lastOffset-seg.base > math.MaxInt32 // even an empty segment can not take it
	if overflow || l.shouldRoll(seg, first.size, first.lastOffset, first.maxTimestamp) {
		var err error
		if seg, err = l.roll(first.base); err != nil {
			return 0, err
		}
	}
	n, size := 1, first.size
	for n < len(bs) && fits(seg, size+bs[n].size, bs[n].lastOffset) {
		size += bs[n].size
		n++
	}
	l.batches = l.batches[:0]
	for _, b := range bs[:n] {
		m := b.batchMeta
		m.pos -= first.pos
		l.batches = append(l.batches, m)
	}
	if err := seg.append(records[first.pos:first.pos+size], l.batches, int64(l.cfg.IndexIntervalBytes)); err != nil {
		return 0, err
	}
	l.leo.Store(bs[n-1].lastOffset + 1)
	l.pstate.recordBatches(records[first.pos : first.pos+size])
	return n, nil
}

// TruncateTo removes every record at or after offset, as Kafka's
// Log.truncateTo: segments whose base offset is above offset are deleted
// (renamed .deleted, removed after FileDeleteDelay), the segment holding
// offset is cut at the start of the batch holding it and its indexes
// truncated, LogEndOffset becomes offset, the high watermark, recovery point
// and log start offset are clamped to it and epoch cache entries starting at
// or after it are dropped. When every segment lies above offset, this is
// TruncateFullyAndStartAt(offset). offset >= LogEndOffset is a no-op.
//
// The cut is fsynced before TruncateTo returns, so a crash can not bring the
// removed batches back.
func (l *Log) TruncateTo(offset int64) error {
	changed, err := func() (bool, error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.truncateToLocked(offset)
	}()
	if changed {
		l.notify()
	}
	if err != nil {
		return fmt.Errorf("truncate %s to %d: %w", l.tp, offset, err)
	}
	return nil
}

func (l *Log) truncateToLocked(offset int64) (bool, error) {
	if l.closed.Load() {
		return false, ErrClosed
	}
	if offset < 0 {
		return false, fmt.Errorf("%w: negative offset", ErrOffsetOutOfRange)
	}
	if offset >= l.leo.Load() {
		return false, nil
	}
	segs := l.segments()
	if segs[0].base > offset {
		return true, l.truncateFullyLocked(offset)
	}
	l.logger.Infof("truncating log to offset %d (log end offset %d)", offset, l.leo.Load())
	l.noteTruncationLocked(offset)
	k := sort.Search(len(segs), func(i int) bool { return segs[i].base > offset })
	keep, dead := append([]*segment(nil), segs[:k]...), segs[k:]
	l.leo.Store(offset) // readers stop at offset from now on
	if l.hw.Load() > offset {
		l.hw.Store(offset)
	}
	l.clampRecoveryPoint(offset)
	l.logStart.Store(min(l.logStart.Load(), offset))
	l.segs.Store(&keep)
	var errs []error
	if len(dead) > 0 {
		errs = append(errs, l.deleteSegmentsLocked(dead))
	}
	last := keep[len(keep)-1]
	if err := l.truncateSegment(last, offset); err != nil {
		errs = append(errs, err)
	}
	if len(dead) > 0 {
		errs = append(errs, last.activate(l.cfg.IndexMaxBytes))
	}
	if es, changed := epochTruncateFromEnd(l.epochEntries(), offset); changed {
		errs = append(errs, l.setEpochsLocked(es))
	}
	// The table may remember removed batches: reload it from the newest
	// snapshot at or below offset (those above are deleted) and the tail.
	errs = append(errs, l.producersAfterTruncationLocked())
	return true, errors.Join(errs...)
}

// truncateSegment cuts s at the first batch holding an offset >= offset,
// fsyncs the cut, truncates the indexes and reloads the appender state.
func (l *Log) truncateSegment(s *segment, offset int64) error {
	size := s.size.Load()
	pos, _, found, err := s.findBatch(offset, size)
	if err != nil {
		return err
	}
	if !found {
		pos = size
	}
	if pos < size {
		s.size.Store(pos)
		if err := s.f.Truncate(pos); err != nil {
			return fmt.Errorf("truncate %s to %d: %w", s.logPath, pos, err)
		}
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("fsync %s: %w", s.logPath, err)
		}
	}
	s.oi.truncateFrom(offset)
	s.ti.truncateFrom(offset)
	s.maxTs.Store(-1)
	s.rollTs = -1
	if pos == 0 {
		s.created = l.now()
	}
	if !s.loadTail() {
		l.logger.Warnf("segment %s: indexes inconsistent after truncation, rebuilding", s.logPath)
		if _, err := l.recoverSegment(s); err != nil {
			return err
		}
	}
	return nil
}

// TruncateFullyAndStartAt deletes every segment and starts an empty log at
// offset (Kafka's Log.truncateFullyAndStartAt): LogStartOffset,
// LogEndOffset and the high watermark become offset, the recovery point is
// clamped to it and the epoch cache is cleared.
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	err := func() error {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.truncateFullyChecked(offset)
	}()
	l.notify()
	if err != nil {
		return fmt.Errorf("truncate %s fully to start at %d: %w", l.tp, offset, err)
	}
	return nil
}

func (l *Log) truncateFullyChecked(offset int64) error {
	if l.closed.Load() {
		return ErrClosed
	}
	if offset < 0 {
		return fmt.Errorf("%w: negative offset", ErrOffsetOutOfRange)
	}
	return l.truncateFullyLocked(offset)
}

func (l *Log) truncateFullyLocked(offset int64) error {
	l.logger.Infof("truncating log fully, new start offset %d (was [%d, %d))", offset, l.logStart.Load(), l.leo.Load())
	dead := l.segments()
	l.noteTruncationLocked(offset)
	// Rename first: the new segment may reuse a dead one's name.
	if err := l.deleteSegmentsLocked(dead); err != nil {
		return err
	}
	s, _, err := openSegment(l.dir, offset, true, l.now())
	if err != nil {
		return err
	}
	if err := s.activate(l.cfg.IndexMaxBytes); err != nil {
		s.remove()
		return err
	}
	l.leo.Store(offset)
	l.hw.Store(offset)
	l.logStart.Store(offset)
	l.clampRecoveryPoint(offset)
	segs := []*segment{s}
	l.segs.Store(&segs)
	if err := l.resetProducersLocked(); err != nil {
		return err
	}
	if err := syncDir(l.dir); err != nil {
		return err
	}
	return l.setEpochsLocked(nil)
}

// DeleteRecordsBefore raises the log start offset to offset (DeleteRecords):
// records below it can no longer be read. offset must be in [0,
// HighWatermark] (else ErrOffsetOutOfRange); a value at or below the current
// log start changes nothing. Epoch cache entries before offset are dropped,
// the one in force at offset now starting there (Kafka's truncateFromStart).
//
// Segments lying entirely below the new log start are deleted at once (not
// at the next retention pass as in Kafka): renamed .deleted and removed
// after FileDeleteDelay. The active segment is never deleted. The new log
// start reaches disk with the next log-start-offset-checkpoint (the
// Manager's periodic pass, Flush or Close).
func (l *Log) DeleteRecordsBefore(offset int64) (newLogStart int64, err error) {
	func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		newLogStart, err = l.deleteRecordsLocked(offset)
	}()
	if err != nil {
		return newLogStart, fmt.Errorf("delete records of %s before %d: %w", l.tp, offset, err)
	}
	return newLogStart, nil
}

func (l *Log) deleteRecordsLocked(offset int64) (int64, error) {
	start := l.logStart.Load()
	if l.closed.Load() {
		return start, ErrClosed
	}
	if hw := l.hw.Load(); offset < 0 || offset > hw {
		return start, fmt.Errorf("%w: offset %d not in [0, high watermark %d]", ErrOffsetOutOfRange, offset, hw)
	}
	if offset <= start {
		return start, nil
	}
	var errs []error
	if err := l.raiseLogStartLocked(offset); err != nil {
		errs = append(errs, err)
	}
	if _, err := l.deleteWhileLocked(func(_, next *segment) bool { return next != nil && next.base <= offset }, "log start offset breach"); err != nil {
		errs = append(errs, err)
	}
	return offset, errors.Join(errs...)
}

// raiseLogStartLocked moves the log start offset up to offset (never down)
// and trims the epoch cache's head.
func (l *Log) raiseLogStartLocked(offset int64) error {
	if offset <= l.logStart.Load() {
		return nil
	}
	l.logStart.Store(offset)
	if l.hw.Load() < offset {
		l.hw.Store(offset)
	}
	err := l.producerSnapshotsAfterLogStartLocked(offset)
	if es, changed := epochTruncateFromStart(l.epochEntries(), offset); changed {
		err = errors.Join(err, l.setEpochsLocked(es))
	}
	return err
}

// loadEpochCache reads leader-epoch-checkpoint at open and repairs it as
// Kafka does: entries at or past the log end offset are dropped and the
// head is trimmed to the log start offset. An unreadable file is logged and
// treated as empty (a follower rebuilds it from the leader's batches).
func (l *Log) loadEpochCache() error {
	path := filepath.Join(l.dir, LeaderEpochCheckpointFile)
	es, err := readEpochCheckpoint(path)
	if err != nil {
		l.logger.WithError(err).Warn("ignoring unreadable leader epoch checkpoint")
		es = nil
		if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			return rerr
		}
	}
	l.epochs.Store(&es)
	es1, c1 := epochTruncateFromEnd(es, l.leo.Load())
	es2, c2 := epochTruncateFromStart(es1, l.logStart.Load())
	if c1 || c2 {
		l.logger.Infof("leader epoch cache repaired on load: %v -> %v", es, es2)
		return l.setEpochsLocked(es2)
	}
	return nil
}
