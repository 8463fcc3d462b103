package logstore

import (
	"errors"

	"github.com/sirupsen/logrus"
)

const timeIndexEntrySize = 12

var errNotImplemented = errors.New("logstore: not implemented yet")

// Log is one partition's log: a directory of segments. Safe for concurrent use.
type Log struct{}

// TopicPartition returns the partition this log stores.
func (l *Log) TopicPartition() TopicPartition { return TopicPartition{} }

// Dir returns the partition directory.
func (l *Log) Dir() string { return "" }

// Config returns the log's current configuration.
func (l *Log) Config() Config { return Config{} }

// SetConfig replaces the log's configuration (topic-level overrides).
func (l *Log) SetConfig(cfg Config) error { return errNotImplemented }

// Append validates records (one or more magic-v2 batches), assigns offsets
// from LogEndOffset and stamps leaderEpoch, and writes them to the active
// segment with one write. On error nothing is stored.
func (l *Log) Append(records []byte, leaderEpoch int32) (AppendInfo, error) {
	return AppendInfo{}, errNotImplemented
}

// Read returns whole batches starting with the one holding offset, at most
// maxBytes (unless minOneBatch and the first batch is larger), none with a
// baseOffset >= maxOffset.
func (l *Log) Read(offset int64, maxBytes int32, maxOffset int64, minOneBatch bool) (ReadResult, error) {
	return ReadResult{}, errNotImplemented
}

// LogEndOffset is the offset the next appended record gets.
func (l *Log) LogEndOffset() int64 { return 0 }

// LogStartOffset is the first offset that can be read.
func (l *Log) LogStartOffset() int64 { return 0 }

// HighWatermark returns the high watermark set by the broker.
func (l *Log) HighWatermark() int64 { return 0 }

// SetHighWatermark stores hw, clamped to [LogStartOffset, LogEndOffset].
func (l *Log) SetHighWatermark(hw int64) {}

// RecoveryPoint is the offset below which everything is fsynced.
func (l *Log) RecoveryPoint() int64 { return 0 }

// OffsetForTimestamp finds the first batch whose maxTimestamp >= ts.
func (l *Log) OffsetForTimestamp(ts int64) (offset, timestamp int64, found bool) { return 0, 0, false }

// Changed returns a channel closed on the next append or HW change.
func (l *Log) Changed() <-chan struct{} { return nil }

// Size is the total byte size of the log's segments.
func (l *Log) Size() int64 { return 0 }

// NumSegments is the number of segments.
func (l *Log) NumSegments() int { return 0 }

// Flush fsyncs everything appended so far and advances the recovery point.
func (l *Log) Flush() error { return errNotImplemented }

// Close flushes and closes the log; indexes are trimmed to their real size.
func (l *Log) Close() error { return errNotImplemented }

// Manager owns the log directories of a broker and the partition logs in them.
type Manager struct{}

// OpenManager loads every partition directory under dirs.
func OpenManager(dirs []string, cfg Config, log logrus.FieldLogger) (*Manager, error) {
	return nil, errNotImplemented
}

// Config returns the manager's default log configuration.
func (m *Manager) Config() Config { return Config{} }

// GetOrCreate returns tp's log, creating it in the log dir holding the fewest
// partitions. cfg (nil = the manager's Config) applies to a new log.
func (m *Manager) GetOrCreate(tp TopicPartition, cfg *Config) (*Log, error) {
	return nil, errNotImplemented
}

// Get returns tp's log if it exists.
func (m *Manager) Get(tp TopicPartition) (*Log, bool) { return nil, false }

// Partitions lists the partitions with a log, sorted.
func (m *Manager) Partitions() []TopicPartition { return nil }

// Delete closes tp's log and schedules its directory for removal.
func (m *Manager) Delete(tp TopicPartition) error { return errNotImplemented }

// Flush flushes every log and writes the checkpoints.
func (m *Manager) Flush() error { return errNotImplemented }

// CheckpointRecoveryPoints writes recovery-point-offset-checkpoint and
// replication-offset-checkpoint in every log dir.
func (m *Manager) CheckpointRecoveryPoints() error { return errNotImplemented }

// Close flushes and closes every log, writes checkpoints and the
// clean-shutdown marker.
func (m *Manager) Close() error { return errNotImplemented }

// VerifyIndex checks that the .index and .timeindex of the segment whose
// .log is segmentPath match the log's batches.
func VerifyIndex(segmentPath string) error { return errNotImplemented }
