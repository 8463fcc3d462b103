package logstore

import (
	"errors"
	"path/filepath"
)

// CleanerOffsetCheckpointFile is the per-log-dir file holding, for every
// compacted partition the cleaner has worked on, the first offset it has not
// cleaned yet (Kafka's LogCleanerManager checkpoint, same text format as the
// other offset checkpoints).
const CleanerOffsetCheckpointFile = "cleaner-offset-checkpoint"

// CleanerOffset is the log's cleaner checkpoint: everything below it has
// been compacted once (the "clean" section); 0 when never cleaned. A
// truncation below it lowers it.
func (l *Log) CleanerOffset() int64 { return l.cleanerOffset.Load() }

// noteTruncationLocked is called, with l.mu held, by every truncation of the
// log's end (TruncateTo, TruncateFullyAndStartAt): a cleaning in progress
// that started before it will not swap its result in (its offset map may
// name records that are gone), and the cleaner checkpoint drops to offset,
// as Kafka's LogCleanerManager.maybeTruncateCheckpoint.
func (l *Log) noteTruncationLocked(offset int64) {
	l.truncGen.Add(1)
	if l.cleanerOffset.Load() > offset {
		l.cleanerOffset.Store(offset)
	}
}

// CheckpointCleanerOffsets writes cleaner-offset-checkpoint in every log dir
// with the partitions that have a cleaner checkpoint (Kafka writes the file
// after each cleaning, keeping only the partitions it hosts). The cleaner
// calls it after every cleaning; Close calls it too.
func (m *Manager) CheckpointCleanerOffsets() error {
	m.ckptMu.Lock()
	defer m.ckptMu.Unlock()
	byDir := map[string]map[TopicPartition]int64{}
	for _, d := range m.dirs {
		byDir[d.path] = map[TopicPartition]int64{}
	}
	for _, l := range m.snapshot() {
		if off := l.CleanerOffset(); off > 0 {
			byDir[l.parent][l.tp] = off
		}
	}
	var errs []error
	for _, d := range m.dirs {
		errs = append(errs, WriteCheckpointFile(filepath.Join(d.path, CleanerOffsetCheckpointFile), byDir[d.path]))
	}
	return errors.Join(errs...)
}
