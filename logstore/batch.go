package logstore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Record batch (magic v2) layout, see ZK-LAYOUT.md §6.4.
const (
	batchHeaderSize = 61 // bytes before the first record
	// batchLogOverhead is baseOffset + batchLength: the part of a batch not
	// counted by batchLength.
	batchLogOverhead = 12
	// minBatchLength is the smallest legal batchLength (a header with no
	// records).
	minBatchLength = batchHeaderSize - batchLogOverhead // 49

	offBaseOffset      = 0
	offBatchLength     = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offFirstTimestamp  = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offRecordCount     = 57

	attrCompressionMask = 0x07
	attrTimestampType   = 0x08
	attrTransactional   = 0x10
	attrControl         = 0x20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchHeader is the fixed 61-byte header of a magic-v2 record batch.
type BatchHeader struct {
	BaseOffset           int64
	BatchLength          int32 // bytes after the BatchLength field (Size() - 12)
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Size is the batch's total size in bytes.
func (h BatchHeader) Size() int64 { return int64(h.BatchLength) + batchLogOverhead }

// LastOffset is the offset of the batch's last record.
func (h BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Compression is the compression codec (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
func (h BatchHeader) Compression() int { return int(h.Attributes & attrCompressionMask) }

// IsControl reports whether this is a control (transaction marker) batch.
func (h BatchHeader) IsControl() bool { return h.Attributes&attrControl != 0 }

// IsTransactional reports the transactional attribute bit.
func (h BatchHeader) IsTransactional() bool { return h.Attributes&attrTransactional != 0 }

// LogAppendTime reports whether the timestamp type is LogAppendTime.
func (h BatchHeader) LogAppendTime() bool { return h.Attributes&attrTimestampType != 0 }

// ParseBatchHeader decodes the header at the start of b. It needs the first
// 61 bytes only and checks nothing but that there are enough of them; use
// ValidateBatch for the full checks.
func ParseBatchHeader(b []byte) (BatchHeader, error) {
	if len(b) < batchHeaderSize {
		return BatchHeader{}, fmt.Errorf("%w: %d bytes, a batch header needs %d", ErrCorruptMessage, len(b), batchHeaderSize)
	}
	return BatchHeader{
		BaseOffset:           int64(binary.BigEndian.Uint64(b[offBaseOffset:])),
		BatchLength:          int32(binary.BigEndian.Uint32(b[offBatchLength:])),
		PartitionLeaderEpoch: int32(binary.BigEndian.Uint32(b[offLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  binary.BigEndian.Uint32(b[offCRC:]),
		Attributes:           int16(binary.BigEndian.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:])),
		FirstTimestamp:       int64(binary.BigEndian.Uint64(b[offFirstTimestamp:])),
		MaxTimestamp:         int64(binary.BigEndian.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(binary.BigEndian.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(binary.BigEndian.Uint16(b[offProducerEpoch:])),
		BaseSequence:         int32(binary.BigEndian.Uint32(b[offBaseSequence:])),
		NumRecords:           int32(binary.BigEndian.Uint32(b[offRecordCount:])),
	}, nil
}

// checkHeader does the structural checks that need only the header: magic,
// length bounds against avail (bytes available from the batch start) and
// the offset range. It is shared by Append validation, recovery and the read
// path's header scan.
func checkHeader(h BatchHeader, avail int64) error {
	if h.Magic != 2 {
		if h.Magic == 0 || h.Magic == 1 {
			return fmt.Errorf("%w: magic %d (message format v%d; down-conversion is not supported)", ErrUnsupportedMagic, h.Magic, h.Magic)
		}
		return fmt.Errorf("%w: unknown magic %d", ErrCorruptMessage, h.Magic)
	}
	if h.BatchLength < minBatchLength {
		return fmt.Errorf("%w: batchLength %d < %d", ErrCorruptMessage, h.BatchLength, minBatchLength)
	}
	if h.Size() > avail {
		return fmt.Errorf("%w: batch of %d bytes truncated to %d", ErrCorruptMessage, h.Size(), avail)
	}
	if h.NumRecords < 0 || h.LastOffsetDelta < 0 {
		return fmt.Errorf("%w: record count %d, lastOffsetDelta %d", ErrCorruptMessage, h.NumRecords, h.LastOffsetDelta)
	}
	return nil
}

// batchCRC computes the CRC-32C of a whole batch (bytes 21..end).
func batchCRC(batch []byte) uint32 { return crc32.Checksum(batch[offAttributes:], castagnoli) }

// checkCRC verifies the stored CRC of a whole batch.
func checkCRC(h BatchHeader, batch []byte) error {
	if got := batchCRC(batch); got != h.CRC {
		return fmt.Errorf("%w: crc 0x%08x, computed 0x%08x", ErrCorruptMessage, h.CRC, got)
	}
	return nil
}

// ValidateBatch checks one batch at the start of b as the leader append path
// does (Kafka LogValidator, without per-record decoding): length bounds,
// magic 2, CRC-32C, record count consistent with lastOffsetDelta, not empty,
// not a control batch, size <= maxMessageBytes. It returns the header.
func ValidateBatch(b []byte, maxMessageBytes int32) (BatchHeader, error) {
	h, err := ParseBatchHeader(b)
	if err != nil {
		return h, err
	}
	if err := checkHeader(h, int64(len(b))); err != nil {
		return h, err
	}
	if h.Size() > int64(maxMessageBytes) {
		return h, fmt.Errorf("%w: batch of %d bytes, max.message.bytes %d", ErrMessageTooLarge, h.Size(), maxMessageBytes)
	}
	if err := checkCRC(h, b[:h.Size()]); err != nil {
		return h, err
	}
	if h.NumRecords == 0 {
		return h, fmt.Errorf("%w: empty batch", ErrInvalidRecord)
	}
	if int64(h.LastOffsetDelta) != int64(h.NumRecords)-1 {
		return h, fmt.Errorf("%w: record count %d but lastOffsetDelta %d", ErrInvalidRecord, h.NumRecords, h.LastOffsetDelta)
	}
	if h.IsControl() {
		return h, fmt.Errorf("%w: control batch from a client", ErrInvalidRecord)
	}
	return h, nil
}

// recordSetInfo summarises a validated record set.
type recordSetInfo struct {
	batches      int
	records      int64 // sum of lastOffsetDelta+1
	maxTimestamp int64
}

// ValidateRecordSet validates every batch of a produce request's record set
// (one or more batches back to back) with ValidateBatch. The set must hold at
// least one batch and no trailing bytes.
func ValidateRecordSet(records []byte, maxMessageBytes int32) error {
	_, err := validateRecordSet(records, maxMessageBytes)
	return err
}

func validateRecordSet(records []byte, maxMessageBytes int32) (recordSetInfo, error) {
	info := recordSetInfo{maxTimestamp: -1}
	if len(records) == 0 {
		return info, fmt.Errorf("%w: empty record set", ErrCorruptMessage)
	}
	for pos := 0; pos < len(records); {
		h, err := ValidateBatch(records[pos:], maxMessageBytes)
		if err != nil {
			return info, fmt.Errorf("batch %d at byte %d: %w", info.batches, pos, err)
		}
		info.batches++
		info.records += int64(h.LastOffsetDelta) + 1
		info.maxTimestamp = max(info.maxTimestamp, h.MaxTimestamp)
		pos += int(h.Size())
	}
	return info, nil
}

// patchBatch stamps baseOffset and partitionLeaderEpoch; both lie outside the
// CRC, so the CRC stays valid.
func patchBatch(batch []byte, baseOffset int64, leaderEpoch int32) {
	binary.BigEndian.PutUint64(batch[offBaseOffset:], uint64(baseOffset))
	binary.BigEndian.PutUint32(batch[offLeaderEpoch:], uint32(leaderEpoch))
}
