package logstore

import (
	"fmt"
	"math"
	"time"
)

// Kafka 2.4 defaults (KafkaConfig Defaults / LogConfig).
const (
	DefaultSegmentBytes           int64 = 1 << 30          // log.segment.bytes
	DefaultRollTime                     = 168 * time.Hour  // log.roll.hours
	DefaultIndexMaxBytes          int32 = 10 << 20         // log.index.size.max.bytes
	DefaultIndexIntervalBytes     int32 = 4096             // log.index.interval.bytes
	DefaultMaxMessageBytes        int32 = 1000012          // message.max.bytes
	DefaultFlushIntervalMessages  int64 = math.MaxInt64    // log.flush.interval.messages
	DefaultFileDeleteDelay              = 60 * time.Second // log.segment.delete.delay.ms
	DefaultRetentionTime                = 168 * time.Hour  // log.retention.hours
	DefaultRetentionBytes         int64 = -1               // log.retention.bytes
	DefaultDeleteRetention              = 24 * time.Hour   // log.cleaner.delete.retention.ms
	DefaultMinCleanableDirtyRatio       = 0.5              // log.cleaner.min.cleanable.ratio
	DefaultMaxCompactionLag             = time.Duration(math.MaxInt64)
	DefaultProducerIDExpiration         = 7 * 24 * time.Hour // transactional.id.expiration.ms
)

// Config holds the per-log settings. A zero field means "Kafka's default";
// EnsureDefaults fills them in. Topic-level overrides are passed as a whole
// Config to Manager.GetOrCreate or Log.SetConfig.
type Config struct {
	// SegmentBytes: roll the active segment when appending would make it
	// larger than this (segment.bytes). At least 61 (one batch header), at most 2 GiB - 1
	// (.index positions are int32).
	SegmentBytes int64
	// RollTime: roll when the active segment is older than this (segment.ms),
	// measured from the first batch's maxTimestamp, or the segment's creation
	// time when that is unset; Kafka's jitter is not applied.
	RollTime time.Duration
	// IndexMaxBytes: size each .index/.timeindex file is preallocated to
	// (segment.index.bytes); rounded down to a multiple of the entry size.
	IndexMaxBytes int32
	// IndexIntervalBytes: add an index entry once more than this many bytes
	// were appended since the last entry (index.interval.bytes).
	IndexIntervalBytes int32
	// MaxMessageBytes: largest batch accepted by Append (max.message.bytes).
	MaxMessageBytes int32
	// FlushIntervalMessages: fsync once this many messages are unflushed
	// (flush.messages); 1 = fsync before every Append returns.
	FlushIntervalMessages int64
	// FlushInterval: fsync when the last flush is older than this (flush.ms),
	// checked on append; 0 = unset (rely on the OS and replication).
	FlushInterval time.Duration
	// FileDeleteDelay: how long a deleted segment's .deleted files, or a
	// deleted partition directory, are kept before removal
	// (file.delete.delay.ms).
	FileDeleteDelay time.Duration
	// ProducerIDExpiration: an idempotent producer whose last batch's max
	// timestamp is this much older than now is dropped from the producer
	// state (Kafka's broker-wide transactional.id.expiration.ms, which Kafka
	// passes to every log as maxProducerIdExpirationMs).
	ProducerIDExpiration time.Duration

	// The fields below have a meaningful zero, so EnsureDefaults fills them
	// only for a Config that did not come from DefaultConfig (a literal such
	// as Config{SegmentBytes: n}). To set one of them to 0, start from
	// DefaultConfig().

	// RetentionTime: delete a segment once its largest timestamp is older
	// than this (retention.ms); negative = keep forever.
	RetentionTime time.Duration
	// RetentionBytes: delete the oldest segments while the log is larger than
	// this (retention.bytes); negative = no size limit.
	RetentionBytes int64
	// CleanupDelete and CleanupCompact are cleanup.policy: "delete" sets
	// CleanupDelete, "compact" CleanupCompact, "compact,delete" both.
	CleanupDelete  bool
	CleanupCompact bool
	// DeleteRetention: how long the cleaner keeps tombstones
	// (delete.retention.ms).
	DeleteRetention time.Duration
	// MinCleanableDirtyRatio: compact only when the uncleaned part is at
	// least this fraction of the log (min.cleanable.dirty.ratio).
	MinCleanableDirtyRatio float64
	// MinCompactionLag / MaxCompactionLag: min.compaction.lag.ms and
	// max.compaction.lag.ms.
	MinCompactionLag time.Duration
	MaxCompactionLag time.Duration

	defaulted bool // came from DefaultConfig: zero fields above are meant
}

// DefaultConfig returns a Config holding Kafka 2.4's defaults.
func DefaultConfig() Config {
	var c Config
	c.EnsureDefaults()
	c.defaulted = true
	return c
}

// EnsureDefaults replaces zero fields with Kafka's defaults.
func (c *Config) EnsureDefaults() {
	orDefault(&c.SegmentBytes, DefaultSegmentBytes)
	orDefault(&c.RollTime, DefaultRollTime)
	orDefault(&c.IndexMaxBytes, DefaultIndexMaxBytes)
	orDefault(&c.IndexIntervalBytes, DefaultIndexIntervalBytes)
	orDefault(&c.MaxMessageBytes, DefaultMaxMessageBytes)
	orDefault(&c.FlushIntervalMessages, DefaultFlushIntervalMessages)
	orDefault(&c.FileDeleteDelay, DefaultFileDeleteDelay)
	orDefault(&c.ProducerIDExpiration, DefaultProducerIDExpiration)
	if !c.defaulted {
		c.defaulted = true
		orDefault(&c.RetentionTime, DefaultRetentionTime)
		orDefault(&c.RetentionBytes, DefaultRetentionBytes)
		if !c.CleanupDelete && !c.CleanupCompact {
			c.CleanupDelete = true
		}
		orDefault(&c.DeleteRetention, DefaultDeleteRetention)
		orDefault(&c.MinCleanableDirtyRatio, DefaultMinCleanableDirtyRatio)
		orDefault(&c.MaxCompactionLag, DefaultMaxCompactionLag)
	}
}

// Validate reports the first out-of-range value, wrapping ErrInvalidConfig.
// Call it after EnsureDefaults.
func (c *Config) Validate() error {
	switch {
	case c.SegmentBytes < batchHeaderSize || c.SegmentBytes > math.MaxInt32:
		// positions in .index are int32: a segment can not exceed 2 GiB.
		return fmt.Errorf("%w: SegmentBytes %d not in [%d, %d]", ErrInvalidConfig, c.SegmentBytes, batchHeaderSize, math.MaxInt32)
	case c.RollTime <= 0:
		return fmt.Errorf("%w: RollTime %v must be positive", ErrInvalidConfig, c.RollTime)
	case c.IndexMaxBytes < 4*timeIndexEntrySize:
		return fmt.Errorf("%w: IndexMaxBytes %d smaller than %d", ErrInvalidConfig, c.IndexMaxBytes, 4*timeIndexEntrySize)
	case c.IndexIntervalBytes < 0:
		return fmt.Errorf("%w: IndexIntervalBytes %d negative", ErrInvalidConfig, c.IndexIntervalBytes)
	case c.MaxMessageBytes < batchHeaderSize:
		return fmt.Errorf("%w: MaxMessageBytes %d smaller than a batch header", ErrInvalidConfig, c.MaxMessageBytes)
	case c.FlushIntervalMessages < 1:
		return fmt.Errorf("%w: FlushIntervalMessages %d must be >= 1", ErrInvalidConfig, c.FlushIntervalMessages)
	case c.FlushInterval < 0:
		return fmt.Errorf("%w: FlushInterval %v negative", ErrInvalidConfig, c.FlushInterval)
	case c.FileDeleteDelay < 0:
		return fmt.Errorf("%w: FileDeleteDelay %v negative", ErrInvalidConfig, c.FileDeleteDelay)
	case c.ProducerIDExpiration < time.Millisecond:
		return fmt.Errorf("%w: ProducerIDExpiration %v below 1 ms", ErrInvalidConfig, c.ProducerIDExpiration)
	case !c.CleanupDelete && !c.CleanupCompact:
		return fmt.Errorf("%w: cleanup policy must be delete, compact or both", ErrInvalidConfig)
	case c.DeleteRetention < 0:
		return fmt.Errorf("%w: DeleteRetention %v negative", ErrInvalidConfig, c.DeleteRetention)
	case c.MinCleanableDirtyRatio < 0 || c.MinCleanableDirtyRatio > 1:
		return fmt.Errorf("%w: MinCleanableDirtyRatio %v not in [0, 1]", ErrInvalidConfig, c.MinCleanableDirtyRatio)
	case c.MinCompactionLag < 0 || c.MaxCompactionLag < 1:
		return fmt.Errorf("%w: compaction lags %v / %v out of range", ErrInvalidConfig, c.MinCompactionLag, c.MaxCompactionLag)
	}
	return nil
}

// orDefault sets *v to def when it holds its zero value ("unset").
func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
