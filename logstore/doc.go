// Package logstore is zkafka's on-disk partition log, file-compatible with
// Kafka 2.4 (ZK-LAYOUT.md §6). It knows no network and no ZooKeeper.
//
// # Model
//
// A Manager owns the broker's log dirs (log.dirs). Each partition replica is
// a Log in the directory <logdir>/<topic>-<partition> (the partition follows
// the last '-'). A Log is a list of segments sorted by base offset; only the
// newest, the active segment, is appended to. A segment is three files named
// by its base offset, 20 digits zero-padded:
//
//	00000000000000000000.log        record batches (magic v2) exactly as produced,
//	                                with baseOffset and partitionLeaderEpoch stamped
//	00000000000000000000.index      offset index
//	00000000000000000000.timeindex  time index
//
// A new segment is rolled before an append when the active one is non-empty
// and: it would grow past Config.SegmentBytes; or either index has fewer
// than two free entries; or a relative offset would not fit int32; or it is
// older than Config.RollTime (new batches' max timestamp minus the first
// batch's, else wall-clock time since creation, as Kafka's
// LogSegment.timeWaitedForRoll; no jitter).
//
// # Index files
//
// .index entries are 8 bytes, big-endian: offset - base (int32), file
// position (int32). One entry is added, pointing at a batch's first byte,
// when more than Config.IndexIntervalBytes were appended since the previous
// entry; the entry's offset is that batch's LAST offset (as Kafka 2.x). So
// the batch holding offset o starts at or after the position of the last
// entry with offset <= o. .timeindex entries are 12 bytes: the max
// timestamp so far in the segment (int64) and offset - base of the batch that
// carried it (int32), written at the same points (and on roll/close) only
// when the timestamp grew: strictly increasing.
//
// The active segment's index files are preallocated to Config.IndexMaxBytes
// and mapped MAP_SHARED (golang.org/x/sys/unix); on roll and close they are
// trimmed to the entries in use. A full index stops taking entries (lookups
// stay correct, only scan longer) and triggers a roll.
//
// Offset lookup: binary search over the segments' base offsets, binary
// search over the mapped .index, then a short scan of batch headers in the
// .log through a 4 KiB pread buffer. VerifyIndex checks index files against
// their log (for `dump-log --verify-index-only`).
//
// # Append
//
// Log.Append takes a produce request's raw record set (one or more v2
// batches) and validates every batch before writing anything: length
// bounds, magic 2 (v0/v1 give ErrUnsupportedMagic: zkafka does no up- or
// down-conversion), CRC-32C, records count > 0 and == lastOffsetDelta+1, no
// control batch, size <= MaxMessageBytes. It then patches baseOffset and
// partitionLeaderEpoch in place (outside the CRC; nothing else changes, no
// record is decoded or decompressed) and writes the set with one pwrite to
// the active segment. fsync follows the flush policy (FlushIntervalMessages,
// FlushInterval checked on append); otherwise data is durable after Flush,
// Close, or the asynchronous flush of a rolled segment.
//
// # Read
//
// Log.Read returns whole batches as file regions (Region: *os.File, position,
// length) so the broker can sendfile them; ReadResult.AppendTo copies them
// with pread instead. maxOffset (the high watermark) excludes batches whose
// baseOffset >= maxOffset; minOneBatch returns an oversized first batch whole
// (KIP-74). Reads may span segments.
//
// # Recovery
//
// Per log dir: recovery-point-offset-checkpoint and
// replication-offset-checkpoint (high watermarks) in Kafka's checkpoint
// format, written by Manager.Flush, CheckpointRecoveryPoints and Close;
// .kafka_cleanshutdown written by Manager.Close after every log closed
// cleanly and removed on open; meta.properties helpers; a flock'd .lock.
// Without the marker, every segment from the one holding the recovery point
// on is rescanned: each batch's header, offset order and CRC-32C are checked,
// the .log is truncated at the first torn or invalid batch (logged with the
// file and position), later segments are deleted, indexes are rebuilt and the
// result fsynced. With the marker, segments are only sanity-checked (index
// size a multiple of the entry size, last entries within the log, a clean
// batch tail) and recovered if that fails. A log always opens; only I/O
// errors fail it. Recovered data never contains a batch with a bad CRC.
//
// # Concurrency
//
// Log and Manager are safe for concurrent use. In a Log, one mutex
// serialises Append, roll, SetConfig and Close; fsyncs run under a separate
// flush mutex, outside the append path. Readers (Read, OffsetForTimestamp,
// the offset getters) never take the append mutex: they load LogEndOffset,
// then an atomically published, immutable segment list, and each segment's
// size is published after its bytes are written, so readers see only whole
// batches. Each index has an RWMutex guarding its mapping (lookups shared;
// append, trim and unmap exclusive). Lock order: Log.mu -> flushMu ->
// index.mu; Manager.mu is never held while a Log lock is taken. Changed
// returns a channel closed by the next append, high-watermark change or
// Close, for long-polling fetches.
//
// Regions handed out stay readable until the Log is closed or FileDeleteDelay
// after their segment was deleted (retention, truncation); afterwards
// reading them returns an error, never a crash. A truncation cuts the
// active segment's file in place: a region over the cut bytes then reads
// short (an error), as in Kafka.
//
// # Replication
//
// Log.AppendAsFollower stores batches fetched from the leader unchanged
// (offsets and leader epochs kept; gaps allowed; the first base offset must
// be >= LogEndOffset, else ErrUnexpectedAppendOffset), splitting a set over
// segments when it does not fit one. Each partition keeps Kafka's leader
// epoch cache (EpochEntries, LatestEpoch, EndOffsetForEpoch), written to
// leader-epoch-checkpoint in the partition directory on every change and
// repaired on open (entries at or past LogEndOffset dropped, head trimmed to
// the log start). TruncateTo and TruncateFullyAndStartAt cut the log as
// Kafka's Log.truncateTo / truncateFullyAndStartAt.
//
// # Log start offset, retention, segment deletion
//
// The log start offset is tracked apart from the segments and persisted in
// log-start-offset-checkpoint (per log dir, only partitions whose log start
// is above their first segment's base). DeleteRecordsBefore raises it (up
// to the high watermark) and deletes the segments entirely below it at
// once. DeleteOldSegments applies retention.ms / retention.bytes / log start
// as Kafka's Log.deleteOldSegments. A deleted segment is removed from the
// segment list, its files renamed *.deleted at once and removed after
// Config.FileDeleteDelay (regions handed out keep reading until then); Close
// performs pending removals at once; leftover *.deleted files are removed on
// open.
//
// # Idempotent producers
//
// Each Log keeps its producers' state (Kafka 2.4's ProducerStateManager,
// producer_state.go): per producer id the epoch and the last five batches'
// sequence ranges and offsets. Append checks a client's idempotent batches
// against it under the log's mutex (a cached retry comes back as a
// Duplicate with its offsets and nothing is written; ErrOutOfOrderSequence,
// ErrUnknownProducerID, ErrInvalidProducerEpoch refuse the set) and both
// append paths record what they wrote. <offset>.snapshot files, in Kafka's
// format, are written at every roll and clean close; opening a log reads the
// newest valid one and replays the batch headers after it, a truncation
// reloads the same way, and RemoveExpiredProducers (run by RunBackground)
// drops producers idle for Config.ProducerIDExpiration.
//
// # Compaction
//
// Logs with Config.CleanupCompact (cleanup.policy compact or
// compact,delete) are compacted by the log cleaner, Kafka 2.4's
// LogCleaner: Manager.RunCleaner runs CleanerConfig.Threads goroutines
// that each pick the log with the highest dirty ratio (cleanable bytes over
// all bytes) above MinCleanableDirtyRatio, or one whose MaxCompactionLag has
// passed, and clean it (Manager.CleanNow does one pass). The cleanable part
// runs from the cleaner checkpoint to the first "uncleanable" offset: the
// active segment's base, the high watermark, or the first segment holding
// records younger than MinCompactionLag, rounded down to a segment base.
// Cleaning maps every key of that dirty part to its latest offset (an
// offsetMap, Kafka's SkimpyOffsetMap: 16-byte MD5 of the key + offset,
// bounded by log.cleaner.dedupe.buffer.size; when it fills, cleaning stops
// at the last mapped offset), then rewrites every segment from the start of
// the log to the end of the mapped range, in groups that stay within
// segment.bytes, the index size and int32 offsets, into one
// <base>.log.cleaned segment per group. A record survives when it is its
// key's latest (or lies past the mapped range); tombstones (null values)
// survive while their segment's mtime is after the deletion horizon (the
// last clean segment's mtime minus DeleteRetention, Kafka's rule); records
// without a key are dropped (Append refuses them on compacted logs with
// ErrInvalidRecord, Kafka's "Compacted topic cannot accept message without
// key"). Offsets are kept (gaps appear); a batch keeping all its records is
// copied byte for byte, one losing some is re-encoded with its codec, base
// offset and last offset delta kept; one losing all disappears unless it is
// the last batch of an idempotent producer, kept empty (its header carries
// the producer's last sequence). The cleaned segment keeps the last source
// segment's mtime.
//
// The swap is Kafka's Log.replaceSegments, under the log's mutex: the
// .cleaned files are renamed .swap, the old segments' files .deleted, the
// .swap files to their final names, each step followed by a directory
// fsync, then the new segment list is published; old files are removed
// after FileDeleteDelay, so readers of old regions keep working. On open a
// .log.swap replaces the segments it covers and becomes the .log, unless a
// .cleaned file at or below its base shows the operation incomplete (then
// the swap is dropped, KAFKA-6264); an index .swap means the .log was
// already swapped: the indexes are rebuilt. A truncation, the deletion of a
// source segment or Close during a cleaning aborts its swap. Progress is
// Log.CleanerOffset, persisted per log dir in cleaner-offset-checkpoint
// after every cleaning and on Close, lowered by truncations.
//
// # Not yet (the full log-store issue)
//
// The cleaner's I/O throttle (log.cleaner.io.max.bytes.per.second) and
// transactional batches (aborted transactions, markers) in compaction;
// .txnindex;
// LogAppendTime (needs a CRC rewrite); record-level OffsetForTimestamp (today
// the answer is the matching batch's base offset and maxTimestamp); lazy
// index mapping for old segments; the FS seam for crash and error injection
// (STYLE.md §6 rule 9) and a memory Log.
package logstore
