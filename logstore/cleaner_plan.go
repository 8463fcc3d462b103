package logstore

import (
	"math"
	"time"
)

// This file holds the cleaner's decisions as pure functions of a snapshot
// of a log (no I/O, no clock): which part of a log is cleanable (Kafka
// 2.4's LogCleanerManager.cleanableOffsets and LogToClean), which log to
// clean first (grabFilthiestCompactedLog), how segments are grouped into
// one cleaned segment (Cleaner.groupSegmentsBySize), and which records and
// batches survive (Cleaner.shouldRetainRecord and the batch retention of
// MemoryRecords.filterTo).

// segInfo describes one segment for planning.
type segInfo struct {
	base         int64
	size         int64 // bytes of the .log
	largestTs    int64 // largest batch timestamp (or the file's mtime), ms
	firstBatchTs int64 // first batch's max timestamp, -1 unknown
	indexBytes   int64 // used bytes of the .index
	tindexBytes  int64 // used bytes of the .timeindex
}

// logView is a snapshot of one compacted log, taken under its mutex.
type logView struct {
	segs       []segInfo // sorted by base; the last one is the active segment
	logStart   int64
	leo        int64
	hw         int64
	checkpoint int64 // cleaner-offset-checkpoint entry, 0 if none
	cfg        Config
}

// cleanPlan is what can be cleaned in a log now (Kafka's LogToClean).
type cleanPlan struct {
	firstDirty       int64 // first offset not yet cleaned
	firstUncleanable int64 // a segment base: cleaning stops before it
	cleanBytes       int64 // bytes of the segments below firstDirty
	cleanableBytes   int64 // bytes of the segments in [firstDirty, firstUncleanable)
	// compactionDelay > 0: the oldest dirty record is older than
	// max.compaction.lag.ms by this much, so the log must be cleaned now.
	compactionDelay time.Duration
}

func (p cleanPlan) totalBytes() int64 { return p.cleanBytes + p.cleanableBytes }

// ratio is the dirty ratio: cleanable bytes over all bytes of the log.
func (p cleanPlan) ratio() float64 {
	if p.totalBytes() == 0 {
		return 0
	}
	return float64(p.cleanableBytes) / float64(p.totalBytes())
}

// due applies Kafka 2.4's threshold: the dirty ratio is above
// min.cleanable.dirty.ratio (strictly, as Kafka), or max.compaction.lag.ms
// has passed for some dirty bytes.
func (p cleanPlan) due(minRatio float64) bool {
	return p.compactionDelay > 0 && p.cleanableBytes > 0 || p.ratio() > minRatio
}

// segEnd is the offset after segment i (the next segment's base, or the
// log end offset for the last one).
func (v *logView) segEnd(i int) int64 {
	if i+1 < len(v.segs) {
		return v.segs[i+1].base
	}
	return v.leo
}

// floorBase is the base of the segment holding offset (the first segment's
// base when offset lies below it).
func (v *logView) floorBase(offset int64) int64 {
	b := v.segs[0].base
	for _, s := range v.segs {
		if s.base > offset {
			break
		}
		b = s.base
	}
	return b
}

// planClean computes the cleanable range of a log at nowMs.
//
// firstDirty is the cleaner checkpoint, reset to the log start offset when
// it lies outside [log start, log end] (a truncated or deleted log).
// firstUncleanable is the smallest of: the active segment's base, the high
// watermark (zkafka never compacts what the ISR has not got), and the base
// of the first dirty segment holding a record newer than
// min.compaction.lag.ms; rounded down to the base of the segment holding it
// so that cleaning ends on a segment boundary (Kafka's LogToClean).
func planClean(v logView, nowMs int64) cleanPlan {
	active := v.segs[len(v.segs)-1]
	firstDirty := v.checkpoint
	if firstDirty < v.logStart || firstDirty > v.leo {
		firstDirty = v.logStart
	}
	uncleanable := min(active.base, v.hw)
	if lag := v.cfg.MinCompactionLag.Milliseconds(); lag > 0 {
		for i, s := range v.segs[:len(v.segs)-1] {
			if v.segEnd(i) > firstDirty && s.largestTs > nowMs-lag {
				uncleanable = min(uncleanable, s.base)
				break
			}
		}
	}
	p := cleanPlan{firstDirty: firstDirty, firstUncleanable: v.floorBase(uncleanable)}
	earliest := int64(math.MaxInt64)
	for i, s := range v.segs {
		if s.base < firstDirty {
			p.cleanBytes += s.size
		}
		dirty := v.segEnd(i) > firstDirty
		if dirty && s.base < p.firstUncleanable && p.firstUncleanable > firstDirty {
			p.cleanableBytes += s.size
		}
		if dirty && i < len(v.segs)-1 && s.firstBatchTs > 0 {
			earliest = min(earliest, s.firstBatchTs)
		}
	}
	if until := nowMs - v.cfg.MaxCompactionLag.Milliseconds(); earliest < until {
		p.compactionDelay = time.Duration(until-earliest) * time.Millisecond
	}
	return p
}

// cleanCandidate is a log the cleaner may pick.
type cleanCandidate struct {
	plan     cleanPlan
	minRatio float64
}

// pickFilthiest returns the index of the candidate to clean: among those
// with bytes and due, the one with the highest dirty ratio (Kafka's
// grabFilthiestCompactedLog); -1 when none qualifies.
func pickFilthiest(cands []cleanCandidate) int {
	best := -1
	for i, c := range cands {
		if c.plan.totalBytes() == 0 || !c.plan.due(c.minRatio) {
			continue
		}
		if best < 0 || c.plan.ratio() > cands[best].plan.ratio() {
			best = i
		}
	}
	return best
}

// groupSegments splits the segments to clean (sorted, all below
// firstUncleanable) into runs that are rewritten into one segment each, as
// Kafka's groupSegmentsBySize: a run's .log bytes stay within maxSize, its
// index bytes within maxIndexSize, and its offsets within int32 of its
// first base (the last segment's offsets are taken to end before the next
// segment's base, or before firstUncleanable). It returns run lengths.
func groupSegments(segs []segInfo, maxSize, maxIndexSize, firstUncleanable int64) []int {
	var runs []int
	for i := 0; i < len(segs); {
		first := segs[i]
		size, idx, tidx := first.size, first.indexBytes, first.tindexBytes
		j := i + 1
		for ; j < len(segs); j++ {
			s := segs[j]
			lastOffset := firstUncleanable - 1
			if j+1 < len(segs) {
				lastOffset = segs[j+1].base - 1
			}
			if size+s.size > maxSize || idx+s.indexBytes > maxIndexSize ||
				tidx+s.tindexBytes > maxIndexSize || lastOffset-first.base > math.MaxInt32 {
				break
			}
			size, idx, tidx = size+s.size, idx+s.indexBytes, tidx+s.tindexBytes
		}
		runs = append(runs, j-i)
		i = j
	}
	return runs
}

// retainRecord is Kafka's Cleaner.shouldRetainRecord: a record at or past
// mapEnd (not covered by the offset map) stays; a record without a key goes
// (a compacted topic refuses them; they can exist only from before the
// policy changed); otherwise a record stays when it holds its key's latest
// offset (latest is -1 for a key not in the map) and has a value, or is a
// tombstone that must still be kept (retainDeletes).
func retainRecord(offset, mapEnd int64, hasKey, hasValue bool, latest int64, retainDeletes bool) bool {
	if offset >= mapEnd {
		return true
	}
	if !hasKey {
		return false
	}
	return offset >= latest && (hasValue || retainDeletes)
}

// batchAction is what the cleaner does with one source batch.
type batchAction int

const (
	batchCopy    batchAction = iota // every record stays: copy the bytes unchanged
	batchRewrite                    // some records go: re-encode the rest, same codec
	batchEmpty                      // every record goes but the batch is its producer's last: keep an empty batch
	batchDrop                       // every record goes
)

// decideBatch applies MemoryRecords.filterTo's batch retention: a batch that
// lost every record disappears, unless it is the last batch of an
// idempotent producer (its header carries the producer's last sequence and
// epoch, which the producer state rebuilt from the log needs).
// An empty batch (left by an earlier cleaning) is copied while it is its
// producer's last, and dropped afterwards.
func decideBatch(retained, total int, producersLast bool) batchAction {
	switch {
	case retained == total && (total > 0 || producersLast):
		return batchCopy
	case retained > 0:
		return batchRewrite
	case producersLast:
		return batchEmpty
	}
	return batchDrop
}
