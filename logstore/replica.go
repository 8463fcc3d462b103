package logstore

import (
	"errors"
	"fmt"
	"sort"
)

// ErrUnexpectedAppendOffset: a follower append whose batches do not start
// at or after the log end offset, or whose offsets do not increase.
var ErrUnexpectedAppendOffset = errors.New("logstore: unexpected append offset")

// LatestEpoch is the newest leader epoch with records in this log, -1 when
// none is known.
func (l *Log) LatestEpoch() int32 { return l.epochs.latest() }

// EndOffsetForEpoch answers OffsetForLeaderEpoch with Kafka 2.4's rules
// (LeaderEpochFileCache.endOffsetFor): for the latest epoch, the log end
// offset; for an older one, the largest epoch <= it and the start offset of
// the epoch after it; for one older than every known epoch, that epoch and
// the first known start offset; otherwise (-1, -1).
func (l *Log) EndOffsetForEpoch(epoch int32) (foundEpoch int32, endOffset int64) {
	return l.epochs.endOffsetFor(epoch, l.LogEndOffset())
}

// EpochEntries returns the leader epoch cache: each epoch and its start
// offset, oldest first.
func (l *Log) EpochEntries() []EpochEntry { return l.epochs.snapshot() }

// AppendAsFollower appends batches a leader sent, unchanged: their offsets
// and partition leader epochs are kept (nothing is patched). Every batch is
// validated as Append does; offsets must increase and the first batch must
// start at or after LogEndOffset (gaps are allowed, as in compacted logs).
// On any error nothing is stored. The epoch cache learns each batch's
// epoch; flush policy and Changed() notification are as for Append.
func (l *Log) AppendAsFollower(records []byte) (AppendInfo, error) {
	l.mu.Lock()
	info, needFlush, err := l.appendFollowerLocked(records)
	l.mu.Unlock()
	if err != nil {
		return AppendInfo{}, fmt.Errorf("follower append to %s: %w", l.tp, err)
	}
	l.notify()
	if needFlush {
		if err := l.flushTo(info.LastOffset + 1); err != nil {
			return info, fmt.Errorf("follower append to %s: %w", l.tp, err)
		}
	}
	return info, nil
}

func (l *Log) appendFollowerLocked(records []byte) (AppendInfo, bool, error) {
	if l.closed.Load() {
		return AppendInfo{}, false, ErrClosed
	}
	cfg := &l.cfg
	l.batches = l.batches[:0]
	info := AppendInfo{MaxTimestamp: -1, FirstOffset: -1}
	if len(records) == 0 {
		return info, false, fmt.Errorf("%w: empty record set", ErrCorruptMessage)
	}
	next := l.leo.Load()
	var epochs []EpochEntry
	for pos := 0; pos < len(records); {
		h, err := ValidateBatch(records[pos:], cfg.MaxMessageBytes)
		if err != nil {
			return info, false, fmt.Errorf("batch %d at byte %d: %w", len(l.batches), pos, err)
		}
		if h.BaseOffset < next {
			return info, false, fmt.Errorf("%w: batch at offset %d, log end offset %d", ErrUnexpectedAppendOffset, h.BaseOffset, next)
		}
		if info.FirstOffset < 0 {
			info.FirstOffset = h.BaseOffset
		}
		if n := len(epochs); h.PartitionLeaderEpoch >= 0 && (n == 0 || epochs[n-1].Epoch != h.PartitionLeaderEpoch) {
			epochs = append(epochs, EpochEntry{Epoch: h.PartitionLeaderEpoch, StartOffset: h.BaseOffset})
		}
		l.batches = append(l.batches, batchMeta{pos: int64(pos), size: h.Size(), lastOffset: h.LastOffset(), maxTimestamp: h.MaxTimestamp})
		next = h.LastOffset() + 1
		info.NumRecords += int(h.NumRecords)
		info.MaxTimestamp = max(info.MaxTimestamp, h.MaxTimestamp)
		pos += int(h.Size())
	}
	if int64(len(records)) > cfg.SegmentBytes {
		return info, false, fmt.Errorf("%w: %d bytes, segment.bytes %d", ErrRecordSetTooLarge, len(records), cfg.SegmentBytes)
	}
	seg := l.active()
	if l.shouldRoll(seg, int64(len(records)), next-1, info.MaxTimestamp) || info.FirstOffset-seg.base > maxRelativeOffset {
		var err error
		if seg, err = l.rollAt(info.FirstOffset); err != nil {
			return info, false, err
		}
	}
	if err := seg.append(records, l.batches, int64(cfg.IndexIntervalBytes)); err != nil {
		return info, false, err
	}
	info.LastOffset = next - 1
	l.leo.Store(next)
	for _, e := range epochs {
		if err := l.epochs.assign(e.Epoch, e.StartOffset); err != nil {
			l.logger.WithError(err).Warn("cannot write leader-epoch-checkpoint")
		}
	}
	needFlush := next-l.recoveryPoint.Load() >= cfg.FlushIntervalMessages ||
		(cfg.FlushInterval > 0 && l.now().UnixNano()-l.lastFlush.Load() >= int64(cfg.FlushInterval))
	return info, needFlush, nil
}

// maxRelativeOffset is the largest offset - base an index entry can hold.
const maxRelativeOffset = 1<<31 - 1

// TruncateTo removes every record at and after offset (Kafka's
// Log.truncateTo, used by a follower whose log went further than its new
// leader's). Whole segments above are deleted; the segment holding offset is
// cut at the start of the batch holding it (so the log may end a little
// before offset when offset falls inside a batch) and its indexes are
// rebuilt; the epoch cache, high-water mark and recovery point follow. It
// does nothing when offset >= LogEndOffset. Offsets at or below the log
// start truncate fully (TruncateFullyAndStartAt(offset)).
func (l *Log) TruncateTo(offset int64) error {
	if offset < 0 {
		return fmt.Errorf("truncate %s to %d: negative offset", l.tp, offset)
	}
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		return fmt.Errorf("truncate %s: %w", l.tp, ErrClosed)
	}
	if offset >= l.leo.Load() {
		l.mu.Unlock()
		return nil
	}
	segs := l.segments()
	if offset <= segs[0].base {
		l.mu.Unlock()
		return l.TruncateFullyAndStartAt(offset)
	}
	err := l.truncateLocked(offset, segs)
	l.mu.Unlock()
	l.notify()
	if err != nil {
		return fmt.Errorf("truncate %s to %d: %w", l.tp, offset, err)
	}
	return nil
}

func (l *Log) truncateLocked(offset int64, segs []*segment) error {
	l.bg.Wait() // no background flush of a rolled segment runs meanwhile
	i := sort.Search(len(segs), func(i int) bool { return segs[i].base >= offset }) - 1
	keep, drop := append([]*segment(nil), segs[:i+1]...), segs[i+1:]
	s := keep[i]
	pos, _, found, err := s.findBatch(offset, s.size.Load())
	if err != nil {
		return err
	}
	// Publish the shorter list before touching files: new reads no longer
	// see the dropped segments (reads already running may fail, and their
	// callers answer with an error).
	l.segs.Store(&keep)
	for _, d := range drop {
		if err := d.remove(); err != nil {
			l.logger.WithError(err).Warnf("removing truncated segment %s", d.logPath)
		}
	}
	if found {
		if err := s.f.Truncate(pos); err != nil {
			return err
		}
		s.size.Store(pos)
	}
	if _, err := l.recoverSegment(s); err != nil { // rebuild indexes, next offset
		return err
	}
	leo := s.next.Load()
	l.leo.Store(leo)
	if l.hw.Load() > leo {
		l.hw.Store(leo)
	}
	if l.recoveryPoint.Load() > leo {
		l.recoveryPoint.Store(leo)
	}
	l.logger.Infof("truncated to offset %d (log end offset now %d)", offset, leo)
	return l.epochs.truncateFromEnd(leo)
}

// TruncateFullyAndStartAt deletes every segment and starts the log empty at
// offset (Kafka's truncateFullyAndStartAt): a follower whose log ends
// before its leader's log start, or one truncating below its own start.
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	if offset < 0 {
		return fmt.Errorf("truncate %s fully at %d: negative offset", l.tp, offset)
	}
	l.mu.Lock()
	defer l.notify()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return fmt.Errorf("truncate %s: %w", l.tp, ErrClosed)
	}
	l.bg.Wait()
	old := l.segments()
	for _, s := range old {
		if err := s.remove(); err != nil {
			l.logger.WithError(err).Warnf("removing segment %s", s.logPath)
		}
	}
	s, _, err := openSegment(l.dir, offset, true, l.now())
	if err != nil {
		return fmt.Errorf("truncate %s fully at %d: %w", l.tp, offset, err)
	}
	if err := s.activate(l.cfg.IndexMaxBytes); err != nil {
		s.remove()
		return fmt.Errorf("truncate %s fully at %d: %w", l.tp, offset, err)
	}
	segs := []*segment{s}
	l.segs.Store(&segs)
	l.leo.Store(offset)
	l.hw.Store(offset)
	l.recoveryPoint.Store(offset)
	l.logger.Infof("truncated fully; log starts at offset %d", offset)
	if err := syncDir(l.dir); err != nil {
		return err
	}
	return l.epochs.clear()
}
