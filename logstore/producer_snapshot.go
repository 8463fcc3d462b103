package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"sort"
)

// ProducerSnapshotEntry is one producer of a .snapshot file, the fields of
// Kafka 2.4's ProducerSnapshotEntrySchema in file order.
type ProducerSnapshotEntry struct {
	ProducerID            int64
	Epoch                 int16
	LastSequence          int32
	LastOffset            int64 // -1: no data batch (only a transaction marker)
	OffsetDelta           int32 // last offset - first offset of the last batch
	Timestamp             int64 // max timestamp of the last batch
	CoordinatorEpoch      int32 // -1 (zkafka has no transactions)
	CurrentTxnFirstOffset int64 // -1: no open transaction
}

// FirstSequence is the first sequence of the last batch.
func (e ProducerSnapshotEntry) FirstSequence() int32 {
	return subSeq(e.LastSequence, e.OffsetDelta)
}

// subSeq subtracts n >= 0 from a sequence number, wrapping below 0 to int32
// max as Kafka's DefaultRecordBatch.decrementSequence.
func subSeq(seq, n int32) int32 {
	if seq < n {
		return math.MaxInt32 - (n - seq) + 1
	}
	return seq - n
}

// entry is the table entry a snapshot restores: the last batch only (Kafka's
// readSnapshot).
func (e ProducerSnapshotEntry) entry() *producerEntry {
	pe := &producerEntry{epoch: e.Epoch, lastTimestamp: e.Timestamp}
	if e.LastOffset >= 0 {
		pe.batches = []producerBatch{{firstSeq: e.FirstSequence(), lastSeq: e.LastSequence,
			firstOffset: e.LastOffset - int64(e.OffsetDelta), lastOffset: e.LastOffset}}
	}
	return pe
}

// ReadProducerSnapshot reads a .snapshot file. A file that is short, has
// trailing bytes, another version or a CRC-32C mismatch gives an error
// wrapping ErrCorruptSnapshot; other errors are I/O errors.
func ReadProducerSnapshot(path string) ([]ProducerSnapshotEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read producer snapshot: %w", err)
	}
	entries, err := decodeProducerSnapshot(b)
	if err != nil {
		return nil, fmt.Errorf("producer snapshot %s: %w", path, err)
	}
	return entries, nil
}

func decodeProducerSnapshot(b []byte) ([]ProducerSnapshotEntry, error) {
	if len(b) < snapshotHeaderSize {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the header", ErrCorruptSnapshot, len(b))
	}
	if v := int16(binary.BigEndian.Uint16(b)); v != snapshotVersion {
		return nil, fmt.Errorf("%w: unknown version %d", ErrCorruptSnapshot, v)
	}
	if stored, computed := binary.BigEndian.Uint32(b[2:]), crc32.Checksum(b[6:], castagnoli); stored != computed {
		return nil, fmt.Errorf("%w: CRC is 0x%08x, computed 0x%08x", ErrCorruptSnapshot, stored, computed)
	}
	n := int32(binary.BigEndian.Uint32(b[6:]))
	if n < 0 || n > maxSnapshotEntries || len(b) != snapshotHeaderSize+int(n)*snapshotEntrySize {
		return nil, fmt.Errorf("%w: %d entries do not fill %d bytes", ErrCorruptSnapshot, n, len(b))
	}
	out := make([]ProducerSnapshotEntry, n)
	p := b[snapshotHeaderSize:]
	for i := range out {
		out[i] = ProducerSnapshotEntry{
			ProducerID:            int64(binary.BigEndian.Uint64(p)),
			Epoch:                 int16(binary.BigEndian.Uint16(p[8:])),
			LastSequence:          int32(binary.BigEndian.Uint32(p[10:])),
			LastOffset:            int64(binary.BigEndian.Uint64(p[14:])),
			OffsetDelta:           int32(binary.BigEndian.Uint32(p[22:])),
			Timestamp:             int64(binary.BigEndian.Uint64(p[26:])),
			CoordinatorEpoch:      int32(binary.BigEndian.Uint32(p[34:])),
			CurrentTxnFirstOffset: int64(binary.BigEndian.Uint64(p[38:])),
		}
		p = p[snapshotEntrySize:]
	}
	return out, nil
}

// encodeProducerSnapshot serialises the table, producers sorted by id (Kafka
// writes its hash map's order; any order reads the same).
func encodeProducerSnapshot(producers map[int64]*producerEntry) []byte {
	pids := make([]int64, 0, len(producers))
	for pid := range producers {
		pids = append(pids, pid)
	}
	sort.Slice(pids, func(i, j int) bool { return pids[i] < pids[j] })
	b := make([]byte, snapshotHeaderSize, snapshotHeaderSize+len(pids)*snapshotEntrySize)
	binary.BigEndian.PutUint16(b, snapshotVersion)
	binary.BigEndian.PutUint32(b[6:], uint32(len(pids)))
	for _, pid := range pids {
		e := producers[pid]
		lastSeq, lastOffset, delta := int32(noSequence), int64(-1), int32(0)
		if n := len(e.batches); n > 0 {
			lb := e.batches[n-1]
			lastSeq, lastOffset, delta = lb.lastSeq, lb.lastOffset, int32(lb.lastOffset-lb.firstOffset)
		}
		b = binary.BigEndian.AppendUint64(b, uint64(pid))
		b = binary.BigEndian.AppendUint16(b, uint16(e.epoch))
		b = binary.BigEndian.AppendUint32(b, uint32(lastSeq))
		b = binary.BigEndian.AppendUint64(b, uint64(lastOffset))
		b = binary.BigEndian.AppendUint32(b, uint32(delta))
		b = binary.BigEndian.AppendUint64(b, uint64(e.lastTimestamp))
		b = binary.BigEndian.AppendUint32(b, uint32(0xffffffff)) // coordinator epoch -1
		b = binary.BigEndian.AppendUint64(b, ^uint64(0))         // no open transaction: -1
	}
	binary.BigEndian.PutUint32(b[2:], crc32.Checksum(b[6:], castagnoli))
	return b
}

// writeProducerSnapshot writes the table to path atomically (tmp, fsync,
// rename, directory fsync).
func writeProducerSnapshot(path string, producers map[int64]*producerEntry) error {
	return writeFileAtomic(path, encodeProducerSnapshot(producers))
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func readDirNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}
