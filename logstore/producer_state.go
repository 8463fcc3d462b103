package logstore

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"time"
)

// Idempotent producers (KIP-98 without transactions), Kafka 2.4's
// ProducerStateManager owned by its Log: per partition, each producer id's
// epoch, the sequence ranges and offsets of its last five batches, and the
// max timestamp of its last batch.
//
// # Where the table lives
//
// The table belongs to the Log and changes under Log.mu, in the critical
// section that writes the batches: Append checks every idempotent batch
// against it (a retried batch that is still cached is answered with its
// original offsets and not written; a fenced epoch or a sequence gap is
// refused) and records the batches with their assigned offsets;
// AppendAsFollower records what it stored without checks (Kafka's
// replication origin). A roll happens under the same mutex, between two
// appends, so the table then reflects exactly the batches below the new
// segment's base: that is when a snapshot is taken. Truncation reloads the
// table under the mutex too. Had the table stayed in the broker (as before),
// a roll inside logstore could not see a consistent table without a
// callback under Log.mu into state guarded by the broker's own lock, taken
// around Append by the leader and after it by the follower: a lock
// inversion and a window in which a snapshot misses a written batch.
//
// # Snapshot files
//
// <20-digit offset>.snapshot in the partition directory, Kafka 2.4's format
// (ProducerStateManager.PidSnapshotMapSchema), all big-endian: version int16
// (1), crc32c uint32 of every byte after it, then an array (int32 count) of
// entries: producer id int64, epoch int16, last sequence int32, last offset
// int64, offset delta int32 (last offset - first offset of the last batch),
// timestamp int64 (the last batch's max timestamp), coordinator epoch int32
// (-1: no transactions) and current transaction first offset int64 (-1). A
// snapshot at offset S holds the state after every batch below S. Files
// are written to a .tmp name, fsynced and renamed.
//
// The format keeps only each producer's LAST batch, so a reload restores a
// one-batch window per producer from the snapshot and then replays the batch
// headers from S to the log end, which appends every later batch to the
// window (up to five again). The consequence, the same as in Kafka 2.4: right
// after a reload, a retry of a batch that was written before S and is not
// the producer's last one before S is no longer recognised as a duplicate;
// it is answered OUT_OF_ORDER_SEQUENCE_NUMBER (its sequence is neither the
// cached batch's nor the next one) and the producer fails that batch instead
// of writing it twice. Batches at or after S are replayed, so their
// duplicates are still found. Snapshots are taken at rolls (S = the new
// segment's base) and at a clean close (S = log end), so after a crash the
// replayed tail is at most the active segment and after a clean shutdown
// it is empty; the loss of the older window needs a producer whose up to
// five in-flight batches straddle S at the moment of the restart. Keeping
// Kafka's exact format lets kafka-dump-log.sh (and zkafka dump-log) read the
// files and keeps the log directory interchangeable with Kafka's.
//
// # Lifecycle
//
// Loaded when the log opens: snapshots above the log end (cut by recovery)
// or below the log start are deleted; the newest remaining one is read
// (a corrupt one, bad CRC or short, is deleted with a warning and the next
// older one tried), its expired producers dropped, and the headers from its
// offset to the log end replayed; without any, the headers from the log
// start (the full scan). When that replayed batches, a snapshot is then
// written at the log end, so the next crash replays from here (a new, empty
// log gets its first snapshot at its first roll). Rolls write one at the new base and delete
// those below Kafka's minSnapshotsOffsetToRetain (the base of the segment
// before the active one, or of the one below the recovery point if lower),
// so a log keeps about three. TruncateTo deletes the snapshots above the new
// end and reloads; TruncateFullyAndStartAt deletes them all and empties the
// table. Raising the log start (retention, DeleteRecords, segment deletion)
// deletes the snapshots below it, writing one at the log end when none would
// remain; the table itself keeps those producers (Kafka 2.4's truncateHead).
// Compaction never touches the snapshots: the offsets do not change and the
// cleaner keeps every producer's last batch (see cleaner.go), so the state a
// snapshot describes stays the log's; the cleaner works below the active
// segment, which is all a reload normally replays.
//
// # Expiry
//
// RemoveExpiredProducers drops the producers whose last batch's max
// timestamp is Config.ProducerIDExpiration (transactional.id.expiration.ms)
// or more older than now (Kafka 2.4's isProducerExpired), and a snapshot
// load skips them too. A batch from an expired (unknown) producer is then
// accepted only at sequence 0 and otherwise refused with
// ErrUnknownProducerID (UNKNOWN_PRODUCER_ID), as ProducerStateManager's
// checkSequence.

// maxProducerBatches is how many recent batches per producer are kept for
// duplicate detection (Kafka's ProducerStateEntry.NumBatchesToRetain; the
// producer has at most five requests in flight).
const maxProducerBatches = 5

const (
	snapshotSuffix     = ".snapshot"
	snapshotVersion    = 1
	snapshotHeaderSize = 2 + 4 + 4                     // version, crc, entry count
	snapshotEntrySize  = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8 // see ProducerSnapshotEntry
	noSequence         = -1                            // RecordBatch.NO_SEQUENCE
	maxSnapshotEntries = (math.MaxInt32 - snapshotHeaderSize) / snapshotEntrySize
)

// producerBatch is what is remembered of one idempotent batch.
type producerBatch struct {
	firstSeq, lastSeq       int32
	firstOffset, lastOffset int64
}

type producerEntry struct {
	epoch         int16
	batches       []producerBatch // oldest first, at most maxProducerBatches
	lastTimestamp int64           // max timestamp of the last batch
}

func (e *producerEntry) clone() *producerEntry {
	c := *e
	c.batches = append([]producerBatch(nil), e.batches...)
	return &c
}

// batchProducer is the producer part of one batch header.
type batchProducer struct {
	pid                     int64
	epoch                   int16
	firstSeq, lastSeq       int32
	firstOffset, lastOffset int64
	maxTimestamp            int64
}

func producerOf(h BatchHeader) batchProducer {
	return batchProducer{pid: h.ProducerID, epoch: h.ProducerEpoch, firstSeq: h.BaseSequence,
		lastSeq: addSeq(h.BaseSequence, h.LastOffsetDelta), firstOffset: h.BaseOffset, lastOffset: h.LastOffset(),
		maxTimestamp: h.MaxTimestamp}
}

// hasProducer reports whether a batch belongs to the producer table: an
// idempotent data batch (control batches, transaction markers, are not
// produced by zkafka's clients).
func hasProducer(h BatchHeader) bool { return h.ProducerID >= 0 && !h.IsControl() }

// addSeq adds to a sequence number, wrapping at int32 max as Kafka does.
func addSeq(seq, n int32) int32 {
	if seq > math.MaxInt32-n {
		return n - (math.MaxInt32 - seq) - 1
	}
	return seq + n
}

// findDuplicate is the cached batch of e with b's epoch and sequence range
// (Kafka's ProducerStateEntry.findDuplicateBatch), or nil.
func findDuplicate(e *producerEntry, b batchProducer) *producerBatch {
	if e == nil || b.epoch != e.epoch {
		return nil
	}
	for i := range e.batches {
		if c := e.batches[i]; c.firstSeq == b.firstSeq && c.lastSeq == b.lastSeq {
			return &c
		}
	}
	return nil
}

// checkProducerBatch decides about an idempotent batch from a client given
// the producer's entry (nil if unknown): Kafka 2.4's duplicate lookup
// (ProducerStateEntry.findDuplicateBatch) and ProducerAppendInfo's
// checkProducerEpoch and checkSequence. dup is the cached batch with the same
// epoch and sequence range.
func checkProducerBatch(e *producerEntry, b batchProducer) (dup *producerBatch, err error) {
	if e == nil {
		if b.firstSeq != 0 {
			return nil, fmt.Errorf("%w: no state for producer %d (expired, or its batches were deleted): sequence %d is not 0", ErrUnknownProducerID, b.pid, b.firstSeq)
		}
		return nil, nil
	}
	if dup := findDuplicate(e, b); dup != nil {
		return dup, nil
	}
	if b.epoch < e.epoch {
		return nil, fmt.Errorf("%w: producer %d epoch %d is older than %d", ErrInvalidProducerEpoch, b.pid, b.epoch, e.epoch)
	}
	if b.epoch > e.epoch {
		if b.firstSeq != 0 {
			return nil, fmt.Errorf("%w: producer %d new epoch %d must start at sequence 0, not %d", ErrOutOfOrderSequence, b.pid, b.epoch, b.firstSeq)
		}
		return nil, nil
	}
	last := int32(noSequence)
	if n := len(e.batches); n > 0 {
		last = e.batches[n-1].lastSeq
	}
	if last == noSequence && b.firstSeq != 0 {
		return nil, fmt.Errorf("%w: producer %d epoch %d: next sequence unknown, got %d", ErrUnknownProducerID, b.pid, b.epoch, b.firstSeq)
	}
	if b.firstSeq != addSeq(last, 1) {
		return nil, fmt.Errorf("%w: producer %d epoch %d: sequence %d after %d", ErrOutOfOrderSequence, b.pid, b.epoch, b.firstSeq, last)
	}
	return nil, nil
}

// apply records a batch written to the log (Kafka's addBatch: a new epoch
// clears the cached batches).
func (e *producerEntry) apply(b batchProducer) {
	if b.epoch != e.epoch {
		e.epoch, e.batches = b.epoch, e.batches[:0]
	}
	e.batches = append(e.batches, producerBatch{firstSeq: b.firstSeq, lastSeq: b.lastSeq, firstOffset: b.firstOffset, lastOffset: b.lastOffset})
	if len(e.batches) > maxProducerBatches {
		e.batches = append(e.batches[:0], e.batches[len(e.batches)-maxProducerBatches:]...)
	}
	e.lastTimestamp = b.maxTimestamp
}

// producerState is a Log's producer table and snapshot bookkeeping, guarded
// by Log.mu.
type producerState struct {
	loaded    bool // producers reflects the log up to LogEndOffset
	producers map[int64]*producerEntry
	// snapOffset is the offset of the newest snapshot file, -1 when none.
	snapOffset int64
	lastLoad   ProducerStateLoad
}

func (ps *producerState) record(b batchProducer) {
	e := ps.producers[b.pid]
	if e == nil {
		e = &producerEntry{epoch: b.epoch}
		ps.producers[b.pid] = e
	}
	e.apply(b)
}

// recordBatches records every idempotent batch of records (offsets already
// assigned), if the table is loaded (otherwise its load will see them).
func (ps *producerState) recordBatches(records []byte) {
	if !ps.loaded {
		return
	}
	for pos := 0; pos < len(records); {
		h, err := ParseBatchHeader(records[pos:])
		if err != nil || h.Size() <= 0 || int64(pos)+h.Size() > int64(len(records)) {
			return // validated by the caller; can not happen
		}
		if hasProducer(h) {
			ps.record(producerOf(h))
		}
		pos += int(h.Size())
	}
}

// check applies checkProducerBatch to every idempotent batch of a client's
// record set, in order, each against the state the earlier ones of the set
// would leave. The first duplicate answers the whole set (Kafka's
// analyzeAndValidateProducerState); a refusal refuses it.
func (ps *producerState) check(records []byte) (*producerBatch, error) {
	pending := map[int64]*producerEntry{}
	for pos := 0; pos < len(records); {
		h, err := ParseBatchHeader(records[pos:])
		if err != nil {
			return nil, err
		}
		pos += int(h.Size())
		if !hasProducer(h) {
			continue
		}
		b := producerOf(h)
		// Duplicates are looked up in what is stored only, as Kafka's
		// analyzeAndValidateProducerState does: a batch repeated inside one
		// set has no stored offsets to answer with (the set's offsets are
		// not assigned yet), and fails the sequence check instead.
		if dup := findDuplicate(ps.producers[b.pid], b); dup != nil {
			return dup, nil
		}
		e, ok := pending[b.pid]
		if !ok {
			if cur := ps.producers[b.pid]; cur != nil {
				e = cur.clone()
			}
		}
		dup, err := checkProducerBatch(e, b)
		if err != nil {
			return nil, err
		}
		if dup != nil {
			return nil, fmt.Errorf("%w: producer %d sends sequences %d-%d twice in one request", ErrOutOfOrderSequence, b.pid, b.firstSeq, b.lastSeq)
		}
		if e == nil {
			e = &producerEntry{epoch: b.epoch}
		}
		e.apply(b)
		pending[b.pid] = e
	}
	return nil, nil
}

// ProducerStateLoad describes the last load of a log's producer state (at
// open or after a truncation).
type ProducerStateLoad struct {
	SnapshotOffset int64 // offset of the snapshot read; -1: none (replayed from the log start)
	FromOffset     int64 // the replay covered batches in [FromOffset, ToOffset)
	ToOffset       int64
	Batches        int64 // batch headers read by the replay
	Bytes          int64 // bytes of those batches (their headers only were read)
	Producers      int   // producers in the table afterwards
	Duration       time.Duration
}

// ProducerStateLoad returns how the producer state was last loaded.
func (l *Log) ProducerStateLoad() ProducerStateLoad {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pstate.lastLoad
}

// NumProducers is the number of producers in the table (0 while it is not
// loaded).
func (l *Log) NumProducers() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pstate.producers)
}

// ProducerSnapshotOffsets lists the offsets of the partition's .snapshot
// files, oldest first.
func (l *Log) ProducerSnapshotOffsets() ([]int64, error) {
	return listSnapshots(l.dir)
}

// RemoveExpiredProducers drops the producers whose last batch's max
// timestamp is at least Config.ProducerIDExpiration older than now (Kafka
// 2.4's removeExpiredProducers) and returns how many went.
func (l *Log) RemoveExpiredProducers(now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return 0
	}
	n := 0
	nowMs, maxAge := now.UnixMilli(), l.cfg.ProducerIDExpiration.Milliseconds()
	for pid, e := range l.pstate.producers {
		if producerExpired(e, nowMs, maxAge) {
			delete(l.pstate.producers, pid)
			n++
		}
	}
	if n > 0 {
		l.logger.Infof("expired %d producer ids idle for %v", n, l.cfg.ProducerIDExpiration)
	}
	return n
}

func producerExpired(e *producerEntry, nowMs, maxAgeMs int64) bool {
	return nowMs-e.lastTimestamp >= maxAgeMs
}

// ensureProducersLocked loads the table if a failed reload left it unloaded.
func (l *Log) ensureProducersLocked() error {
	if l.pstate.loaded {
		return nil
	}
	return l.loadProducersLocked()
}

// producersAfterTruncationLocked brings the table in line with a log just
// truncated at its end. An empty table stays empty without a reload, as
// Kafka's truncateTo skips it (isEmptyBeforeTruncation): a truncation only
// removes batches, so a partition without idempotent producers pays no
// header replay and no snapshot fsync under l.mu. Only the snapshots above
// the new end go.
func (l *Log) producersAfterTruncationLocked() error {
	ps := &l.pstate
	if !ps.loaded || len(ps.producers) > 0 {
		return l.loadProducersLocked()
	}
	leo := l.leo.Load()
	if err := l.deleteSnapshots(func(off int64) bool { return off > leo }); err != nil {
		return fmt.Errorf("producer state of %s: %w", l.tp, err)
	}
	if ps.snapOffset > leo {
		offs, err := listSnapshots(l.dir)
		if err != nil {
			return fmt.Errorf("producer state of %s: %w", l.tp, err)
		}
		ps.snapOffset = -1
		if len(offs) > 0 {
			ps.snapOffset = offs[len(offs)-1]
		}
	}
	return nil
}

// loadProducersLocked rebuilds the table for the log as it is now (see the
// Lifecycle section above) and, when it replayed batches, writes a snapshot
// at the log end. On error the table is left unloaded and the next
// idempotent append retries.
func (l *Log) loadProducersLocked() error {
	start := time.Now()
	ps := &l.pstate
	ps.loaded, ps.producers = false, nil
	leo, logStart := l.leo.Load(), l.logStart.Load()
	if err := l.deleteSnapshots(func(off int64) bool { return off > leo || off < logStart }); err != nil {
		return fmt.Errorf("producer state of %s: %w", l.tp, err)
	}
	offs, err := listSnapshots(l.dir)
	if err != nil {
		return fmt.Errorf("producer state of %s: %w", l.tp, err)
	}
	producers := map[int64]*producerEntry{}
	load := ProducerStateLoad{SnapshotOffset: -1, FromOffset: logStart, ToOffset: leo}
	for i := len(offs) - 1; i >= 0 && load.SnapshotOffset < 0; i-- {
		path := snapshotPath(l.dir, offs[i])
		entries, err := ReadProducerSnapshot(path)
		if err != nil {
			l.logger.WithError(err).Warnf("cannot load producer snapshot %s, trying an older one", path)
			if errors.Is(err, ErrCorruptSnapshot) {
				if rerr := removeIfExists(path); rerr != nil {
					return fmt.Errorf("producer state of %s: %w", l.tp, rerr)
				}
			}
			continue
		}
		nowMs, maxAge := l.now().UnixMilli(), l.cfg.ProducerIDExpiration.Milliseconds()
		for _, se := range entries {
			e := se.entry()
			if !producerExpired(e, nowMs, maxAge) {
				producers[se.ProducerID] = e
			}
		}
		load.SnapshotOffset, load.FromOffset = offs[i], offs[i]
	}
	ps.producers, ps.snapOffset = producers, load.SnapshotOffset
	if err := l.replayProducers(&load, func(h BatchHeader) {
		if hasProducer(h) {
			ps.record(producerOf(h))
		}
	}); err != nil {
		ps.producers = nil
		return fmt.Errorf("producer state of %s: %w", l.tp, err)
	}
	ps.loaded = true
	load.Producers, load.Duration = len(producers), time.Since(start)
	ps.lastLoad = load
	l.logger.Infof("loaded producer state: %d producers from snapshot at offset %d and %d batches (%d bytes) replayed from offset %d to %d in %v",
		load.Producers, load.SnapshotOffset, load.Batches, load.Bytes, load.FromOffset, load.ToOffset, load.Duration.Round(time.Microsecond))
	if load.Batches > 0 {
		// The next load starts here instead of replaying the same tail.
		l.takeProducerSnapshotLocked(l.producerStateEnd())
	}
	return nil
}

// producerStateEnd is the offset a snapshot of the table at the log end is
// named after: the active segment's next offset, which is LogEndOffset
// except after a truncation inside a batch (the batch is cut whole, the log
// end stays at the requested offset until the next append, and a reopen
// finds the log ending at the cut). The table is the same at both.
func (l *Log) producerStateEnd() int64 { return l.active().next.Load() }

// replayProducers calls fn for the header of every batch holding offsets in
// [load.FromOffset, load.ToOffset), reading headers only, and counts them in
// load. Called with l.mu held (or before the log is shared): the segment list
// and sizes do not change meanwhile.
func (l *Log) replayProducers(load *ProducerStateLoad, fn func(BatchHeader)) error {
	from, to := load.FromOffset, load.ToOffset
	segs := l.segments()
	i := max(sort.Search(len(segs), func(i int) bool { return segs[i].base > from })-1, 0)
	for ; i < len(segs) && from < to; i++ {
		s := segs[i]
		limit := s.size.Load()
		pos, _, found, err := s.findBatch(from, limit)
		if err != nil {
			return err
		}
		if !found {
			continue
		}
		sc := newHeaderScanner(s.f, limit)
		for {
			h, err := sc.header(pos)
			if err == io.EOF || err == nil && h.BaseOffset >= to {
				break
			}
			if err != nil {
				sc.release()
				return fmt.Errorf("segment %s: %w", s.logPath, err)
			}
			fn(h)
			load.Batches++
			load.Bytes += h.Size()
			from = h.LastOffset() + 1
			pos += h.Size()
		}
		sc.release()
	}
	return nil
}

// takeProducerSnapshotLocked writes the table as the snapshot at offset (the
// log end, or the base of the segment being rolled: the table reflects every
// batch below it) unless the newest snapshot is already there, then deletes
// the snapshots no longer needed. A failure is logged: the log stays
// correct, a later load only replays more.
func (l *Log) takeProducerSnapshotLocked(offset int64) {
	ps := &l.pstate
	if !ps.loaded {
		return
	}
	if ps.snapOffset != offset {
		path := snapshotPath(l.dir, offset)
		if err := writeProducerSnapshot(path, ps.producers); err != nil {
			l.logger.WithError(err).Warnf("cannot write producer snapshot %s", path)
			return
		}
		ps.snapOffset = max(ps.snapOffset, offset)
		l.logger.Debugf("wrote producer snapshot at offset %d (%d producers)", offset, len(ps.producers))
	}
	keep := l.minSnapshotOffsetToRetain()
	if err := l.deleteSnapshots(func(off int64) bool { return off < keep && off < ps.snapOffset }); err != nil {
		l.logger.WithError(err).Warn("cannot delete old producer snapshots")
	}
}

// minSnapshotOffsetToRetain is Kafka's Log.minSnapshotsOffsetToRetain: the
// snapshots of the last two segments, and those from the segment below the
// recovery point (a crash recovers from there).
func (l *Log) minSnapshotOffsetToRetain() int64 {
	segs := l.segments()
	lower := func(offset int64) (int64, bool) {
		i := sort.Search(len(segs), func(i int) bool { return segs[i].base >= offset }) - 1
		if i < 0 {
			return 0, false
		}
		return segs[i].base, true
	}
	active := segs[len(segs)-1].base
	twoSegs := active
	if b, ok := lower(active); ok {
		twoSegs = b
	}
	rp := l.recoveryPoint.Load()
	if b, ok := lower(rp); ok {
		rp = b
	}
	return min(twoSegs, rp)
}

// producerSnapshotsAfterLogStartLocked deletes the snapshots below the new
// log start; if that leaves none, the table is written at the log end so a
// reload does not lose the producers it still holds.
func (l *Log) producerSnapshotsAfterLogStartLocked(logStart int64) error {
	if err := l.deleteSnapshots(func(off int64) bool { return off < logStart }); err != nil {
		return fmt.Errorf("producer snapshots of %s: %w", l.tp, err)
	}
	if l.pstate.snapOffset < logStart {
		l.pstate.snapOffset = -1
		l.takeProducerSnapshotLocked(l.producerStateEnd())
	}
	return nil
}

// resetProducersLocked empties the table and deletes every snapshot
// (TruncateFullyAndStartAt: Kafka's ProducerStateManager.truncate).
func (l *Log) resetProducersLocked() error {
	ps := &l.pstate
	ps.loaded, ps.producers, ps.snapOffset = true, map[int64]*producerEntry{}, -1
	if err := l.deleteSnapshots(func(int64) bool { return true }); err != nil {
		return fmt.Errorf("producer snapshots of %s: %w", l.tp, err)
	}
	return nil
}

func snapshotPath(dir string, offset int64) string {
	return dir + "/" + segmentName(offset) + snapshotSuffix
}

// listSnapshots returns the offsets of the .snapshot files in dir, sorted.
func listSnapshots(dir string) ([]int64, error) {
	ents, err := readDirNames(dir)
	if err != nil {
		return nil, err
	}
	var offs []int64
	for _, name := range ents {
		if off, ok := parseSegmentName(name, snapshotSuffix); ok {
			offs = append(offs, off)
		}
	}
	sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
	return offs, nil
}

// deleteSnapshots removes the snapshot files whose offset satisfies pred.
func (l *Log) deleteSnapshots(pred func(int64) bool) error {
	offs, err := listSnapshots(l.dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, off := range offs {
		if pred(off) {
			errs = append(errs, removeIfExists(snapshotPath(l.dir, off)))
		}
	}
	return errors.Join(errs...)
}
