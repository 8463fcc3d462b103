package logstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Kafka 2.4 defaults of the log cleaner (log.cleaner.*).
const (
	DefaultCleanerThreads                      = 1                // log.cleaner.threads
	DefaultCleanerDedupeBufferSize       int64 = 128 << 20        // log.cleaner.dedupe.buffer.size
	DefaultCleanerDedupeBufferLoadFactor       = 0.9              // log.cleaner.io.buffer.load.factor
	DefaultCleanerIOBufferSize                 = 512 << 10        // log.cleaner.io.buffer.size
	DefaultCleanerBackoff                      = 15 * time.Second // log.cleaner.backoff.ms
)

// CleanerConfig is the log cleaner's configuration (Kafka's CleanerConfig).
// A zero field takes Kafka's default.
type CleanerConfig struct {
	// Threads: cleaner goroutines (log.cleaner.threads); each cleans one
	// log at a time.
	Threads int
	// DedupeBufferSize: memory for the offset maps of all threads together
	// (log.cleaner.dedupe.buffer.size); each thread gets its share, 24 bytes
	// per key, allocated only as far as a cleaning needs it.
	DedupeBufferSize int64
	// DedupeBufferLoadFactor: how full an offset map may get
	// (log.cleaner.io.buffer.load.factor), in (0, 1].
	DedupeBufferLoadFactor float64
	// IOBufferSize: read and write buffer of all threads together
	// (log.cleaner.io.buffer.size); each thread reads and writes through
	// buffers of IOBufferSize/Threads/2 bytes, grown for larger batches.
	IOBufferSize int
	// Backoff: how long a thread sleeps when no log needs cleaning
	// (log.cleaner.backoff.ms).
	Backoff time.Duration
}

// EnsureDefaults replaces zero fields with Kafka's defaults.
func (c *CleanerConfig) EnsureDefaults() {
	orDefault(&c.Threads, DefaultCleanerThreads)
	orDefault(&c.DedupeBufferSize, DefaultCleanerDedupeBufferSize)
	orDefault(&c.DedupeBufferLoadFactor, DefaultCleanerDedupeBufferLoadFactor)
	orDefault(&c.IOBufferSize, DefaultCleanerIOBufferSize)
	orDefault(&c.Backoff, DefaultCleanerBackoff)
}

// Validate reports the first out-of-range value, wrapping ErrInvalidConfig.
func (c *CleanerConfig) Validate() error {
	switch {
	case c.Threads < 1:
		return fmt.Errorf("%w: log cleaner threads %d must be >= 1", ErrInvalidConfig, c.Threads)
	case c.DedupeBufferSize/int64(c.Threads) < 2*offsetMapSlotSize:
		// Kafka: "offset map is too small to fit in even a single message".
		return fmt.Errorf("%w: log cleaner dedupe buffer %d bytes for %d threads is too small for even one key", ErrInvalidConfig, c.DedupeBufferSize, c.Threads)
	case c.DedupeBufferLoadFactor <= 0 || c.DedupeBufferLoadFactor > 1:
		return fmt.Errorf("%w: log cleaner load factor %v not in (0, 1]", ErrInvalidConfig, c.DedupeBufferLoadFactor)
	case c.IOBufferSize < 1:
		return fmt.Errorf("%w: log cleaner io buffer size %d must be >= 1", ErrInvalidConfig, c.IOBufferSize)
	case c.Backoff < 0:
		return fmt.Errorf("%w: log cleaner backoff %v negative", ErrInvalidConfig, c.Backoff)
	}
	return nil
}

// cleanerState is the Manager's cleaner bookkeeping, guarded by mu (lock
// order: cleanerState.mu -> Log.mu).
type cleanerState struct {
	mu          sync.Mutex
	inProgress  map[TopicPartition]bool
	uncleanable map[TopicPartition]bool // a cleaning failed: skipped until restart, as Kafka
}

// errCleaningAborted: the log changed under the cleaner (truncated,
// segments deleted, closed); the cleaning is dropped and retried later.
var errCleaningAborted = errors.New("logstore: cleaning aborted: the log changed")

// RunCleaner runs the log cleaner until ctx is done: cfg.Threads goroutines
// each repeatedly pick the compacted log with the highest dirty ratio that
// is due (see planClean), clean it and record the new cleaner checkpoint,
// sleeping cfg.Backoff when there is nothing to clean (Kafka's
// CleanerThread). A log whose cleaning fails with an unexpected error is
// logged and not cleaned again until the Manager is reopened, as Kafka's
// uncleanable partitions. It returns after the cleanings in progress
// stopped (they check ctx between batches).
func (m *Manager) RunCleaner(ctx context.Context, cfg CleanerConfig) error {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	var wg sync.WaitGroup
	for i := 0; i < cfg.Threads; i++ {
		c := newCleaner(i, cfg, m.logger)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.run(ctx, m)
		}()
	}
	wg.Wait()
	return nil
}

// CleanNow runs one cleaner pass on the calling goroutine: every compacted
// log that is due is cleaned once, filthiest first. It returns how many logs
// were cleaned; failures are logged, marked as in RunCleaner and returned,
// joined. For tools and tests; the broker uses RunCleaner.
func (m *Manager) CleanNow(ctx context.Context, cfg CleanerConfig) (int, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return 0, err
	}
	c := newCleaner(0, cfg, m.logger)
	done := map[TopicPartition]bool{}
	var errs []error
	for ctx.Err() == nil {
		tp, ok, err := c.cleanFilthiest(ctx, m, time.Now(), done)
		if !ok {
			break
		}
		done[tp] = true
		if err != nil {
			errs = append(errs, err)
		}
	}
	n := 0
	for range done {
		n++
	}
	return n - len(errs), errors.Join(errs...)
}

// grabFilthiest picks the log to clean now and marks it in progress.
func (m *Manager) grabFilthiest(nowMs int64, skip map[TopicPartition]bool) (*Log, cleanJob, bool) {
	m.cleaner.mu.Lock()
	defer m.cleaner.mu.Unlock()
	var logs []*Log
	var jobs []cleanJob
	var cands []cleanCandidate
	for _, l := range m.snapshot() {
		if m.cleaner.inProgress[l.tp] || m.cleaner.uncleanable[l.tp] || skip[l.tp] {
			continue
		}
		job, ok := l.cleanSnapshot()
		if !ok {
			continue
		}
		job.plan = planClean(job.view, nowMs)
		logs, jobs = append(logs, l), append(jobs, job)
		cands = append(cands, cleanCandidate{plan: job.plan, minRatio: job.view.cfg.MinCleanableDirtyRatio})
	}
	i := pickFilthiest(cands)
	if i < 0 {
		return nil, cleanJob{}, false
	}
	if m.cleaner.inProgress == nil {
		m.cleaner.inProgress = map[TopicPartition]bool{}
	}
	m.cleaner.inProgress[logs[i].tp] = true
	return logs[i], jobs[i], true
}

// doneCleaning takes tp out of the in-progress set; failed marks it
// uncleanable.
func (m *Manager) doneCleaning(tp TopicPartition, failed bool) {
	m.cleaner.mu.Lock()
	defer m.cleaner.mu.Unlock()
	delete(m.cleaner.inProgress, tp)
	if failed {
		if m.cleaner.uncleanable == nil {
			m.cleaner.uncleanable = map[TopicPartition]bool{}
		}
		m.cleaner.uncleanable[tp] = true
	}
}

// cleanJob is a log's state when the cleaner picked it.
type cleanJob struct {
	view logView
	plan cleanPlan
	segs []*segment // the segments of view.segs
	gen  int64      // the log's truncation count at the snapshot
}

// cleanSnapshot takes, under the log's mutex, what planning and cleaning
// need; ok=false for a closed log or one whose policy is not compact.
func (l *Log) cleanSnapshot() (cleanJob, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() || !l.cfg.CleanupCompact {
		return cleanJob{}, false
	}
	segs := l.segments()
	job := cleanJob{segs: segs, gen: l.truncGen.Load()}
	job.view = logView{
		logStart: max(l.logStart.Load(), segs[0].base), leo: l.leo.Load(), hw: l.hw.Load(),
		checkpoint: l.cleanerOffset.Load(), cfg: l.cfg,
	}
	for _, s := range segs {
		job.view.segs = append(job.view.segs, segInfo{
			base: s.base, size: s.size.Load(), largestTs: s.largestTimestamp(), firstBatchTs: s.rollTs,
			indexBytes: int64(s.oi.entries() * offsetIndexEntrySize), tindexBytes: int64(s.ti.entries() * timeIndexEntrySize),
		})
	}
	return job, true
}

// cleanStats describes one cleaning of one log.
type cleanStats struct {
	FirstDirty, EndOffset int64 // cleaned: the dirty offsets [FirstDirty, EndOffset) deduplicated
	MapRecords            int64 // keyed records put in the offset map
	MapBytesRead          int64 // bytes read to build the offset map
	BytesRead             int64 // bytes of the segments rewritten
	BytesWritten          int64 // bytes of the cleaned segments
	RecordsRead           int64 // records of the batches rewritten (copied batches count whole)
	RecordsRetained       int64
	Segments, Groups      int // segments rewritten into groups cleaned segments
	Elapsed               time.Duration
}

// cleaner is one cleaner thread's state: its offset map and buffers.
type cleaner struct {
	id       int
	cfg      CleanerConfig
	om       *offsetMap
	ioBuf    int
	rbuf     []byte
	logger   logrus.FieldLogger
	swapHook func(step int) error // tests: simulate a crash at a swap step
}

func newCleaner(id int, cfg CleanerConfig, logger logrus.FieldLogger) *cleaner {
	return &cleaner{
		id: id, cfg: cfg, logger: logger.WithField("cleaner", id),
		om:    newOffsetMap(cfg.DedupeBufferSize/int64(cfg.Threads), cfg.DedupeBufferLoadFactor),
		ioBuf: max(cfg.IOBufferSize/cfg.Threads/2, batchHeaderSize),
	}
}

func (c *cleaner) run(ctx context.Context, m *Manager) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if ctx.Err() != nil {
			return
		}
		if _, ok, _ := c.cleanFilthiest(ctx, m, time.Now(), nil); ok {
			continue
		}
		timer.Reset(c.cfg.Backoff)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
	}
}

// cleanFilthiest cleans the filthiest due log; ok=false when there was none.
func (c *cleaner) cleanFilthiest(ctx context.Context, m *Manager, now time.Time, skip map[TopicPartition]bool) (TopicPartition, bool, error) {
	l, job, ok := m.grabFilthiest(now.UnixMilli(), skip)
	if !ok {
		return TopicPartition{}, false, nil
	}
	st, err := c.clean(ctx, l, job, now)
	quiet := err == nil || errors.Is(err, errCleaningAborted) || errors.Is(err, ErrClosed) || errors.Is(err, os.ErrClosed) ||
		ctx.Err() != nil || l.truncGen.Load() != job.gen || l.closed.Load()
	m.doneCleaning(l.tp, !quiet)
	switch {
	case err == nil:
		mb := float64(st.BytesRead) / (1 << 20)
		secs := max(st.Elapsed.Seconds(), 1e-9)
		l.logger.WithField("cleaner", c.id).Infof("log cleaned: offsets [%d, %d) deduplicated, %d segments in %d groups, %.1f MB -> %.1f MB (%.1f%% smaller), %d of %d records kept, %.1f MB/s",
			st.FirstDirty, st.EndOffset, st.Segments, st.Groups, mb, float64(st.BytesWritten)/(1<<20),
			100*(1-float64(st.BytesWritten)/max(float64(st.BytesRead), 1)), st.RecordsRetained, st.RecordsRead, mb/secs)
		if cerr := m.CheckpointCleanerOffsets(); cerr != nil {
			l.logger.WithError(cerr).Error("writing cleaner-offset-checkpoint")
		}
	case quiet:
		l.logger.WithError(err).Info("log cleaning stopped; will retry")
		err = nil
	default:
		l.logger.WithError(err).Error("log cleaning failed; not cleaning this partition again until restart")
	}
	return l.tp, true, err
}

// clean compacts log l as planned in job (Kafka's Cleaner.doClean): it maps
// every key of the dirty offsets [firstDirty, firstUncleanable) to its
// latest offset, then rewrites every segment from the start of the log up
// to the end of the mapped range, in groups, keeping for each record only
// its key's latest offset (tombstones until delete.retention.ms after the
// clean section's last segment was written), and swaps each cleaned group
// in. The cleaner checkpoint becomes the end of the mapped range.
func (c *cleaner) clean(ctx context.Context, l *Log, job cleanJob, now time.Time) (cleanStats, error) {
	start := time.Now()
	p := job.plan
	st := cleanStats{FirstDirty: p.firstDirty}
	endOffset, err := c.buildOffsetMap(ctx, job, &st)
	if err != nil {
		return st, err
	}
	st.EndOffset = endOffset
	// Tombstones in a segment written before the horizon go (Kafka: the
	// last clean segment's mtime minus delete.retention.ms).
	deleteHorizon := int64(0)
	for _, s := range job.segs {
		if s.base >= p.firstDirty {
			break
		}
		mt, err := s.lastModified()
		if err != nil {
			return st, err
		}
		deleteHorizon = mt - job.view.cfg.DeleteRetention.Milliseconds()
	}
	producers, err := lastBatchOfProducers(ctx, job)
	if err != nil {
		return st, err
	}
	n := 0
	for n < len(job.segs)-1 && job.segs[n].base < endOffset {
		n++
	}
	cfg := job.view.cfg
	runs := groupSegments(job.view.segs[:n], cfg.SegmentBytes, int64(cfg.IndexMaxBytes), p.firstUncleanable)
	for i := 0; i < n; {
		k := runs[0]
		runs = runs[1:]
		g := cleanGroup{segs: job.segs[i : i+k], infos: job.view.segs[i : i+k], mapEnd: endOffset, deleteHorizon: deleteHorizon, producers: producers}
		if err := c.cleanGroup(ctx, l, job, g, now, &st); err != nil {
			return st, err
		}
		st.Segments += k
		st.Groups++
		i += k
	}
	l.mu.Lock()
	if l.truncGen.Load() == job.gen && !l.closed.Load() {
		l.cleanerOffset.Store(endOffset)
	}
	l.mu.Unlock()
	st.Elapsed = time.Since(start)
	return st, nil
}

// buildOffsetMap fills c.om from the dirty section (Kafka's
// buildOffsetMap) and returns the end of the mapped range: the dirty
// section's end, or, when the map filled up first, the last mapped offset
// + 1.
func (c *cleaner) buildOffsetMap(ctx context.Context, job cleanJob, st *cleanStats) (int64, error) {
	p := job.plan
	c.om.reset(p.firstUncleanable - p.firstDirty)
	for i, s := range job.segs {
		if s.base >= p.firstUncleanable {
			break
		}
		if job.view.segEnd(i) <= p.firstDirty {
			continue
		}
		r := c.reader(s, job.view.segs[i].size)
		for {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			h, b, err := r.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return 0, err
			}
			st.MapBytesRead += int64(len(b))
			if h.IsControl() || h.LastOffset() < p.firstDirty || h.NumRecords == 0 {
				continue
			}
			full := false
			err = eachRecord(h, b, func(off int64, key []byte, _ bool) bool {
				if off < p.firstDirty || key == nil {
					return true
				}
				if !c.om.put(key, off) {
					full = true
					return false
				}
				st.MapRecords++
				return true
			})
			if err != nil {
				return 0, fmt.Errorf("segment %s: %w", s.logPath, err)
			}
			if full {
				c.logger.Debugf("offset map full after %d keys, cleaning up to offset %d", c.om.size, c.om.latest)
				return c.om.latest + 1, nil
			}
		}
	}
	return p.firstUncleanable, nil
}

// lastBatchOfProducers maps every idempotent producer id found in the log
// (up to the snapshot) to the last offset of its last batch: those batches
// are kept, emptied if need be, so the producer state can be rebuilt.
func lastBatchOfProducers(ctx context.Context, job cleanJob) (map[int64]int64, error) {
	last := map[int64]int64{}
	for i, s := range job.segs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		err := func() error {
			sc := newHeaderScanner(s.f, job.view.segs[i].size)
			defer sc.release()
			for pos := int64(0); ; {
				h, err := sc.header(pos)
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return fmt.Errorf("segment %s: %w", s.logPath, err)
				}
				if h.ProducerID >= 0 {
					last[h.ProducerID] = h.LastOffset()
				}
				pos += h.Size()
			}
		}()
		if err != nil {
			return nil, err
		}
	}
	return last, nil
}

// cleanGroup is one run of segments rewritten into one cleaned segment.
type cleanGroup struct {
	segs          []*segment
	infos         []segInfo
	mapEnd        int64
	deleteHorizon int64
	producers     map[int64]int64
}

// cleanGroup writes the group's surviving batches into <base>.log.cleaned
// (with its indexes), fsyncs it, gives it the last source segment's mtime
// (the next cleaning's tombstone horizon, as Kafka) and swaps it in.
func (c *cleaner) cleanGroup(ctx context.Context, l *Log, job cleanJob, g cleanGroup, now time.Time, st *cleanStats) (err error) {
	cfg := job.view.cfg
	dst, _, err := openSegmentSuffix(l.dir, g.segs[0].base, cleanedSuffix, true, now)
	if err != nil {
		return err
	}
	swapped := false
	defer func() {
		switch {
		case swapped:
		case errors.Is(err, errSimulatedCrash):
			dst.close(false) // leave the files as a crash would
		default:
			if rerr := dst.remove(); rerr != nil {
				l.logger.WithError(rerr).Warn("removing cleaned segment")
			}
		}
	}()
	if err := dst.activate(cfg.IndexMaxBytes); err != nil {
		return err
	}
	w := &segmentWriter{seg: dst, limit: c.ioBuf, interval: int64(cfg.IndexIntervalBytes)}
	var mtime int64
	for i, src := range g.segs {
		if mtime, err = src.lastModified(); err != nil {
			return err
		}
		retainDeletes := mtime > g.deleteHorizon
		if err := c.cleanInto(ctx, src, g.infos[i].size, w, g, retainDeletes, st); err != nil {
			return err
		}
	}
	if err := w.flush(); err != nil {
		return err
	}
	if err := dst.seal(); err != nil {
		return err
	}
	if err := dst.sync(); err != nil {
		return err
	}
	t := time.UnixMilli(mtime)
	if err := os.Chtimes(dst.logPath, t, t); err != nil {
		return err
	}
	st.BytesWritten += dst.size.Load()
	if err := c.hook(0); err != nil {
		return err
	}
	if err := l.replaceSegments(dst, g.segs, g.infos, job.gen, c.hook); err != nil {
		return err
	}
	swapped = true
	return nil
}

func (c *cleaner) hook(step int) error {
	if c.swapHook == nil {
		return nil
	}
	return c.swapHook(step)
}

// errSimulatedCrash is returned by test swap hooks: the cleaner stops where
// it is and leaves every file as it was, like a crash.
var errSimulatedCrash = errors.New("logstore: simulated crash")

// cleanInto filters the batches of src (its first limit bytes) into w.
func (c *cleaner) cleanInto(ctx context.Context, src *segment, limit int64, w *segmentWriter, g cleanGroup, retainDeletes bool, st *cleanStats) error {
	r := c.reader(src, limit)
	keep := func(off int64, key []byte, hasValue bool) bool {
		latest := int64(-1)
		if key != nil && off < g.mapEnd {
			latest = c.om.get(key)
		}
		return retainRecord(off, g.mapEnd, key != nil, hasValue, latest, retainDeletes)
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, b, err := r.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		st.BytesRead += int64(len(b))
		st.RecordsRead += int64(h.NumRecords)
		if h.IsControl() || h.BaseOffset >= g.mapEnd {
			st.RecordsRetained += int64(h.NumRecords)
			if err := w.add(b, h); err != nil {
				return err
			}
			continue
		}
		retained := 0
		if err := eachRecord(h, b, func(off int64, key []byte, hasValue bool) bool {
			if keep(off, key, hasValue) {
				retained++
			}
			return true
		}); err != nil {
			return fmt.Errorf("segment %s: %w", src.logPath, err)
		}
		st.RecordsRetained += int64(retained)
		last, ok := g.producers[h.ProducerID]
		producersLast := h.ProducerID >= 0 && ok && last == h.LastOffset()
		switch decideBatch(retained, int(h.NumRecords), producersLast) {
		case batchCopy:
			err = w.add(b, h)
		case batchRewrite:
			err = w.rewrite(b, func(r Record) bool { return keep(r.Offset, r.Key, r.Value != nil) })
		case batchEmpty:
			eh := h
			eh.FirstTimestamp = h.MaxTimestamp
			var nb []byte
			if nb, err = EncodeRecords(eh, CompressionNone, nil); err == nil {
				err = w.add(nb, eh)
			}
		}
		if err != nil {
			return fmt.Errorf("segment %s: %w", src.logPath, err)
		}
	}
}

// reader returns a batch reader over s's first limit bytes, sharing the
// cleaner's read buffer.
func (c *cleaner) reader(s *segment, limit int64) *batchReader {
	if len(c.rbuf) < c.ioBuf {
		c.rbuf = make([]byte, c.ioBuf)
	}
	return &batchReader{f: s.f, limit: limit, c: c, bufPos: -1}
}

// batchReader reads whole batches from a segment file through the
// cleaner's buffer (grown for a batch larger than it).
type batchReader struct {
	f      *os.File
	c      *cleaner
	pos    int64
	limit  int64
	bufPos int64 // file position of c.rbuf[0], -1 = nothing buffered
	n      int   // valid bytes in c.rbuf
}

// next returns the next batch; its bytes are valid until the next call.
func (r *batchReader) next() (BatchHeader, []byte, error) {
	if r.pos >= r.limit {
		return BatchHeader{}, nil, io.EOF
	}
	if r.bufPos < 0 || r.pos+batchHeaderSize > r.bufPos+int64(r.n) {
		if err := r.fill(batchHeaderSize); err != nil {
			return BatchHeader{}, nil, err
		}
	}
	off := r.pos - r.bufPos
	h, err := ParseBatchHeader(r.c.rbuf[off:r.n])
	if err == nil {
		err = checkHeader(h, r.limit-r.pos)
	}
	if err != nil {
		return h, nil, fmt.Errorf("%s at position %d: %w", r.f.Name(), r.pos, err)
	}
	if off+h.Size() > int64(r.n) {
		if err := r.fill(h.Size()); err != nil {
			return h, nil, err
		}
		off = 0
	}
	b := r.c.rbuf[off : off+h.Size()]
	r.pos += h.Size()
	return h, b, nil
}

// fill reads from r.pos at least need bytes (need <= limit - pos).
func (r *batchReader) fill(need int64) error {
	want := min(max(int64(len(r.c.rbuf)), need), r.limit-r.pos)
	if want < need {
		return fmt.Errorf("%w: %s: %d bytes left at position %d, need %d", ErrCorruptMessage, r.f.Name(), r.limit-r.pos, r.pos, need)
	}
	if int64(len(r.c.rbuf)) < want {
		r.c.rbuf = make([]byte, want)
	}
	n, err := r.f.ReadAt(r.c.rbuf[:want], r.pos)
	if int64(n) < want {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		r.bufPos = -1
		return fmt.Errorf("read %s at %d: %w", r.f.Name(), r.pos, err)
	}
	r.bufPos, r.n = r.pos, n
	return nil
}

// segmentWriter appends batches to a cleaned segment through a buffer,
// indexing them as the append path does.
type segmentWriter struct {
	seg      *segment
	limit    int
	interval int64
	buf      []byte
	metas    []batchMeta
}

func (w *segmentWriter) add(b []byte, h BatchHeader) error {
	w.metas = append(w.metas, batchMeta{pos: int64(len(w.buf)), size: int64(len(b)), lastOffset: h.LastOffset(), maxTimestamp: h.MaxTimestamp})
	w.buf = append(w.buf, b...)
	if len(w.buf) >= w.limit {
		return w.flush()
	}
	return nil
}

// rewrite re-encodes the batch b keeping the records keep accepts, with the
// batch's codec, base offset and last offset (Kafka's
// buildRetainedRecordsInto).
func (w *segmentWriter) rewrite(b []byte, keep func(Record) bool) error {
	h, recs, err := DecodeRecords(b)
	if err != nil {
		return err
	}
	kept := recs[:0]
	for _, r := range recs {
		if keep(r) {
			kept = append(kept, r)
		}
	}
	nb, err := EncodeRecords(h, h.Compression(), kept)
	if err != nil {
		return err
	}
	nh, err := ParseBatchHeader(nb)
	if err != nil {
		return err
	}
	return w.add(nb, nh)
}

func (w *segmentWriter) flush() error {
	if len(w.metas) == 0 {
		return nil
	}
	err := w.seg.append(w.buf, w.metas, w.interval)
	w.buf, w.metas = w.buf[:0], w.metas[:0]
	return err
}

// lastModified is the .log file's modification time in ms (Kafka's
// LogSegment.lastModified).
func (s *segment) lastModified() (int64, error) {
	fi, err := s.f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", s.logPath, err)
	}
	return fi.ModTime().UnixMilli(), nil
}

// renameSuffix renames the segment's three files, .log first, from
// name+from to name+to, updating the paths; afterLog runs between the .log
// and the index renames (tests). On error the files renamed so far keep
// their new names (the paths say which).
func (s *segment) renameSuffix(from, to string, afterLog func() error) error {
	for i, p := range []*string{&s.logPath, &s.oi.path, &s.ti.path} {
		if len(*p) < len(from) || (*p)[len(*p)-len(from):] != from {
			return fmt.Errorf("rename %s: no suffix %q", *p, from)
		}
		np := (*p)[:len(*p)-len(from)] + to
		if err := os.Rename(*p, np); err != nil {
			return err
		}
		*p = np
		if i == 0 && afterLog != nil {
			if err := afterLog(); err != nil {
				return err
			}
		}
	}
	return nil
}

// replaceSegments swaps the cleaned segment dst in for old, as Kafka's
// Log.replaceSegments, under the log's mutex: dst's files are renamed
// .cleaned -> .swap, the old segments' files -> .deleted, then dst's
// .swap -> final names (the directory fsynced after each step), and the new
// segment list is published. The old segments' files are removed after
// FileDeleteDelay, so readers holding their regions keep working until
// then. A crash at any step is completed or rolled back on open (scanDir).
// If the log changed since the snapshot (a truncation, old segments
// deleted or grown, closed) nothing is swapped: errCleaningAborted.
func (l *Log) replaceSegments(dst *segment, old []*segment, infos []segInfo, gen int64, hook func(int) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return ErrClosed
	}
	segs := l.segments()
	at := -1
	for i, s := range segs {
		if s == old[0] {
			at = i
		}
	}
	if l.truncGen.Load() != gen || at < 0 || at+len(old) >= len(segs) {
		return errCleaningAborted
	}
	for i, s := range old {
		if segs[at+i] != s || s.size.Load() != infos[i].size {
			return errCleaningAborted
		}
	}
	if err := dst.renameSuffix(cleanedSuffix, swapSuffix, func() error { return hook(1) }); err != nil {
		return err
	}
	if err := syncDir(l.dir); err != nil {
		return err
	}
	if err := hook(2); err != nil {
		return err
	}
	for i, s := range old {
		for _, p := range s.paths() {
			if err := os.Rename(p, p+deletedSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				l.undoDeleteRenames(old[:i+1])
				return err
			}
		}
		if err := hook(3); err != nil {
			return err
		}
	}
	if err := syncDir(l.dir); err != nil {
		l.undoDeleteRenames(old)
		return err
	}
	if err := hook(4); err != nil {
		return err
	}
	// From here on the swap is decided (on disk a restart completes it).
	if err := dst.renameSuffix(swapSuffix, "", func() error { return hook(5) }); err != nil {
		if errors.Is(err, errSimulatedCrash) {
			return err
		}
		l.logger.WithError(err).Errorf("completing the swap of %s; the next open completes it", dst.logPath)
	} else if err := syncDir(l.dir); err != nil {
		l.logger.WithError(err).Error("syncing the log directory after a swap")
	}
	if err := hook(6); err != nil {
		return err
	}
	next := make([]*segment, 0, len(segs)-len(old)+1)
	next = append(append(append(next, segs[:at]...), dst), segs[at+len(old):]...)
	l.segs.Store(&next)
	l.deleteLater(old, l.cfg.FileDeleteDelay)
	return nil
}

// undoDeleteRenames renames *.deleted files of segments back, after a failed
// swap, so that a restart does not lose them.
func (l *Log) undoDeleteRenames(segs []*segment) {
	for _, s := range segs {
		for _, p := range s.paths() {
			if err := os.Rename(p+deletedSuffix, p); err != nil && !errors.Is(err, os.ErrNotExist) {
				l.logger.WithError(err).Errorf("restoring %s after a failed swap", p)
			}
		}
	}
}

// eachRecord calls fn with the offset, key (nil = null) and whether the
// value is non-null of every record of the whole batch b, decompressing it
// if needed, until fn returns false. Headers are skipped unchecked. Any
// malformed record is an error wrapping ErrCorruptMessage.
func eachRecord(h BatchHeader, b []byte, fn func(offset int64, key []byte, hasValue bool) bool) error {
	body := b[batchHeaderSize:h.Size()]
	if codec := h.Compression(); codec != CompressionNone {
		var err error
		if body, err = decompress(codec, body); err != nil {
			return fmt.Errorf("%w: %s records of batch at offset %d: %v", ErrCorruptMessage, CompressionName(codec), h.BaseOffset, err)
		}
	}
	r := recordReader{b: body}
	for i := int32(0); i < h.NumRecords; i++ {
		off, key, hasValue, err := r.recordKey(h)
		if err != nil {
			return fmt.Errorf("%w: record %d of batch at offset %d: %v", ErrCorruptMessage, i, h.BaseOffset, err)
		}
		if !fn(off, key, hasValue) {
			return nil
		}
	}
	return nil
}

// recordKey reads one record, returning its offset, key and whether its
// value is non-null, and skips the rest of it.
func (r *recordReader) recordKey(h BatchHeader) (int64, []byte, bool, error) {
	size, err := r.varint32()
	if err != nil {
		return 0, nil, false, err
	}
	if size < 1 || int(size) > len(r.b) {
		return 0, nil, false, fmt.Errorf("record length %d with %d bytes left", size, len(r.b))
	}
	rec := recordReader{b: r.b[1:size]} // after the attributes byte
	r.b = r.b[size:]
	if _, err := rec.varint(); err != nil { // timestamp delta
		return 0, nil, false, err
	}
	delta, err := rec.varint32()
	if err != nil {
		return 0, nil, false, err
	}
	key, err := rec.bytes()
	if err != nil {
		return 0, nil, false, err
	}
	vlen, err := rec.varint32()
	if err != nil {
		return 0, nil, false, err
	}
	if int(vlen) > len(rec.b) || vlen < -1 {
		return 0, nil, false, fmt.Errorf("value length %d with %d bytes left", vlen, len(rec.b))
	}
	return h.BaseOffset + int64(delta), key, vlen >= 0, nil
}

// checkRecordKeys is the produce-time rule of compacted topics (Kafka's
// LogValidator.validateKey): every record must have a key, else
// ErrInvalidRecord with Kafka's message. The records are decoded whole (as
// Kafka does for compacted topics), so a batch the cleaner can not rewrite
// never gets in: a malformed one is ErrCorruptMessage. batch is one
// validated batch.
func checkRecordKeys(batch []byte, tp TopicPartition) error {
	_, recs, err := DecodeRecords(batch)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.Key == nil {
			return fmt.Errorf("%w: Compacted topic cannot accept message without key in topic partition %s.", ErrInvalidRecord, tp)
		}
	}
	return nil
}
