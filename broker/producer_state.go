package broker

import (
	"fmt"
	"math"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/zkafka/zkafka/logstore"
)

// Idempotent producers (KIP-98 without transactions), Kafka 2.4's
// ProducerStateManager: per partition, each producer id's epoch and the
// sequence ranges and offsets of its last five batches. A leader checks
// every batch of an idempotent producer against it, so a producer retrying
// across a failover writes each batch once: a retried batch that is already
// in the log is answered with its original offsets and not written again,
// and a gap or reordering is refused.
//
// The state is rebuilt from the log's batch headers (which carry producer
// id, epoch and sequences) when first needed and after truncation, and kept
// current by every append: the leader's and the followers' alike, so a new
// leader knows what its predecessor acknowledged.

// maxProducerBatches is how many recent batches per producer are kept for
// duplicate detection (Kafka's ProducerStateEntry.NumBatchesToRetain; the
// producer has at most five requests in flight).
const maxProducerBatches = 5

// producerBatch is what is remembered of one idempotent batch.
type producerBatch struct {
	firstSeq, lastSeq       int32
	firstOffset, lastOffset int64
}

type producerEntry struct {
	epoch   int16
	batches []producerBatch // oldest first, at most maxProducerBatches
}

// batchProducer is the producer part of one batch header.
type batchProducer struct {
	pid                     int64
	epoch                   int16
	firstSeq, lastSeq       int32
	firstOffset, lastOffset int64
}

func producerOf(h logstore.BatchHeader) batchProducer {
	return batchProducer{pid: h.ProducerID, epoch: h.ProducerEpoch, firstSeq: h.BaseSequence,
		lastSeq: addSeq(h.BaseSequence, h.LastOffsetDelta), firstOffset: h.BaseOffset, lastOffset: h.LastOffset()}
}

// addSeq adds to a sequence number, wrapping at int32 max as Kafka does.
func addSeq(seq, n int32) int32 {
	if seq > math.MaxInt32-n {
		return n - (math.MaxInt32 - seq) - 1
	}
	return seq + n
}

// producerCheck is the verdict on one incoming batch.
type producerCheck struct {
	code int16          // Kafka error code, 0 if acceptable
	dup  *producerBatch // the same batch already in the log: answer with it
}

// checkProducerBatch decides about an idempotent batch given the producer's
// entry (nil if unknown): Kafka 2.4's Log.analyzeAndValidateProducerState
// and ProducerAppendInfo.checkProducerEpoch / checkSequence.
func checkProducerBatch(e *producerEntry, b batchProducer) producerCheck {
	if e == nil {
		if b.firstSeq != 0 {
			return producerCheck{code: kerr.UnknownProducerID.Code}
		}
		return producerCheck{}
	}
	if b.epoch < e.epoch {
		return producerCheck{code: kerr.InvalidProducerEpoch.Code}
	}
	if b.epoch == e.epoch {
		for i := range e.batches {
			if c := e.batches[i]; c.firstSeq == b.firstSeq && c.lastSeq == b.lastSeq {
				return producerCheck{dup: &c}
			}
		}
	}
	if b.epoch > e.epoch {
		if b.firstSeq != 0 {
			return producerCheck{code: kerr.OutOfOrderSequenceNumber.Code}
		}
		return producerCheck{}
	}
	last := int32(-1)
	if n := len(e.batches); n > 0 {
		last = e.batches[n-1].lastSeq
	}
	if b.firstSeq != addSeq(last, 1) {
		return producerCheck{code: kerr.OutOfOrderSequenceNumber.Code}
	}
	return producerCheck{}
}

// apply records a batch written to the log.
func (e *producerEntry) apply(b batchProducer) {
	if b.epoch != e.epoch {
		e.epoch, e.batches = b.epoch, e.batches[:0]
	}
	e.batches = append(e.batches, producerBatch{firstSeq: b.firstSeq, lastSeq: b.lastSeq, firstOffset: b.firstOffset, lastOffset: b.lastOffset})
	if len(e.batches) > maxProducerBatches {
		e.batches = append(e.batches[:0], e.batches[len(e.batches)-maxProducerBatches:]...)
	}
}

// producerState is one partition's producer table. mu also serialises the
// leader's check-append-record sequence, so two requests of one producer
// cannot both pass the same check.
type producerState struct {
	mu        sync.Mutex
	loaded    bool // producers reflects the log up to the last append
	producers map[int64]*producerEntry
}

// invalidateLocked forgets the table; it is rebuilt from the log when next
// needed (after truncation, the batches it remembers may be gone).
func (s *producerState) invalidate() {
	s.mu.Lock()
	s.loaded, s.producers = false, nil
	s.mu.Unlock()
}

// loadLocked rebuilds the table from the batch headers of l, if needed.
func (s *producerState) loadLocked(l *logstore.Log) error {
	if s.loaded {
		return nil
	}
	s.producers = map[int64]*producerEntry{}
	err := scanBatchHeaders(l, func(h logstore.BatchHeader) {
		if h.ProducerID >= 0 {
			s.recordLocked(producerOf(h))
		}
	})
	if err != nil {
		s.producers = nil
		return fmt.Errorf("rebuild producer state of %s: %w", l.TopicPartition(), err)
	}
	s.loaded = true
	return nil
}

func (s *producerState) recordLocked(b batchProducer) {
	e := s.producers[b.pid]
	if e == nil {
		e = &producerEntry{epoch: b.epoch}
		s.producers[b.pid] = e
	}
	e.apply(b)
}

// recordFollowerBatches keeps the table current with batches a follower
// appended (if it is loaded; otherwise the rebuild will see them).
func (s *producerState) recordFollowerBatches(records []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loaded {
		return
	}
	eachBatchHeader(records, func(h logstore.BatchHeader) {
		if h.ProducerID >= 0 {
			s.recordLocked(producerOf(h))
		}
	})
}

// eachBatchHeader calls fn for every whole batch header in records.
func eachBatchHeader(records []byte, fn func(logstore.BatchHeader)) {
	for pos := 0; pos < len(records); {
		h, err := logstore.ParseBatchHeader(records[pos:])
		if err != nil || h.Size() <= 0 || int64(pos)+h.Size() > int64(len(records)) {
			return
		}
		fn(h)
		pos += int(h.Size())
	}
}

// scanBatchHeaders reads the header of every batch in l, from its log start
// to its log end, with one small pread per batch (no record is read).
func scanBatchHeaders(l *logstore.Log, fn func(logstore.BatchHeader)) error {
	var hdr [61]byte
	for offset, end := l.LogStartOffset(), l.LogEndOffset(); offset < end; {
		res, err := l.Read(offset, math.MaxInt32, end, true)
		if err != nil {
			return err
		}
		if len(res.Regions) == 0 {
			return nil
		}
		next := offset
		for _, rg := range res.Regions {
			for pos := rg.Pos; pos < rg.Pos+rg.Len; {
				if _, err := rg.File.ReadAt(hdr[:], pos); err != nil {
					return err
				}
				h, err := logstore.ParseBatchHeader(hdr[:])
				if err != nil {
					return err
				}
				fn(h)
				next = h.LastOffset() + 1
				pos += h.Size()
			}
		}
		if next <= offset {
			return fmt.Errorf("no progress scanning at offset %d", offset)
		}
		offset = next
	}
	return nil
}
