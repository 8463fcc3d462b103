package logstore

import "errors"

// Sentinel errors. Every error returned by this package that belongs to one of
// these classes wraps the sentinel, so callers branch with errors.Is and map to
// Kafka error codes in one place (the broker's error table).
var (
	// ErrCorruptMessage: a batch is malformed, truncated or fails its CRC-32C
	// check (Kafka CORRUPT_MESSAGE, code 2).
	ErrCorruptMessage = errors.New("logstore: corrupt message")

	// ErrMessageTooLarge: one batch is larger than Config.MaxMessageBytes
	// (Kafka MESSAGE_TOO_LARGE, code 10).
	ErrMessageTooLarge = errors.New("logstore: message too large")

	// ErrRecordSetTooLarge: the whole record set of one Append is larger than
	// Config.SegmentBytes and can never fit a segment (Kafka
	// RECORD_LIST_TOO_LARGE, code 18).
	ErrRecordSetTooLarge = errors.New("logstore: record set larger than a segment")

	// ErrInvalidRecord: the batch is well-formed but violates a rule of the
	// leader append path: record count inconsistent with lastOffsetDelta, an
	// empty batch, or a control batch from a client (Kafka INVALID_RECORD,
	// code 87).
	ErrInvalidRecord = errors.New("logstore: invalid record")

	// ErrUnsupportedMagic: the record set uses message format v0 or v1 (or an
	// unknown magic). zkafka stores only magic v2 and does no up- or
	// down-conversion (Kafka UNSUPPORTED_FOR_MESSAGE_FORMAT, code 43, or
	// CORRUPT_MESSAGE for unknown magic values).
	ErrUnsupportedMagic = errors.New("logstore: unsupported message format (magic)")

	// ErrOffsetOutOfRange: a read outside [LogStartOffset, LogEndOffset]
	// (Kafka OFFSET_OUT_OF_RANGE, code 1).
	ErrOffsetOutOfRange = errors.New("logstore: offset out of range")

	// ErrUnexpectedAppendOffset: a replicated record set (AppendAsFollower)
	// starts below the log end offset or its offsets do not increase (Kafka's
	// UnexpectedAppendOffsetException / OffsetsOutOfOrderException). The
	// follower should truncate or refetch.
	ErrUnexpectedAppendOffset = errors.New("logstore: unexpected append offset")

	// ErrClosed: the Log or Manager was closed (or the partition deleted).
	ErrClosed = errors.New("logstore: closed")

	// ErrInvalidConfig: Config.Validate rejected a value.
	ErrInvalidConfig = errors.New("logstore: invalid config")
)

// Idempotent producer refusals (Append of a client's batch, checked against
// the partition's producer state) and snapshot corruption.
var (
	// ErrOutOfOrderSequence: the batch's first sequence is not the one after
	// the producer's last batch, or a new epoch does not start at 0 (Kafka
	// OUT_OF_ORDER_SEQUENCE_NUMBER, code 45).
	ErrOutOfOrderSequence = errors.New("logstore: out of order sequence number")

	// ErrUnknownProducerID: no state for the producer (never seen, expired,
	// or its batches were deleted) and the batch does not start at sequence
	// 0 (Kafka UNKNOWN_PRODUCER_ID, code 59).
	ErrUnknownProducerID = errors.New("logstore: unknown producer id")

	// ErrInvalidProducerEpoch: the batch's producer epoch is older than the
	// partition's (Kafka 2.4's ProducerFencedException, answered with
	// INVALID_PRODUCER_EPOCH, code 47).
	ErrInvalidProducerEpoch = errors.New("logstore: invalid producer epoch")

	// ErrCorruptSnapshot: a producer state .snapshot file is short, has
	// another version, or fails its CRC-32C check.
	ErrCorruptSnapshot = errors.New("logstore: corrupt producer snapshot")
)
