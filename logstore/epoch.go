package logstore

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LeaderEpochCheckpointFile is the per-partition leader epoch cache file
// (Kafka's leader-epoch-checkpoint, in the partition directory).
const LeaderEpochCheckpointFile = "leader-epoch-checkpoint"

// EpochEntry says that leader epoch Epoch started at offset StartOffset: the
// first batch written under that epoch had base offset StartOffset.
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// The functions below are Kafka 2.4's LeaderEpochFileCache as pure functions
// over an immutable slice sorted by epoch and by start offset (both strictly
// increasing). The Log holds the slice in an atomic pointer, replaces it under
// its mutex and writes the checkpoint file on every change.

// epochAssign adds (epoch, start) as Kafka's LeaderEpochFileCache.assign: a
// no-op when the latest entry has the same epoch and a start offset <= start;
// otherwise entries that would break monotonicity (epoch >= epoch or start
// offset >= start) are dropped and the entry appended. changed reports
// whether the result differs from es; dropped counts the conflicting entries
// removed.
func epochAssign(es []EpochEntry, epoch int32, start int64) (out []EpochEntry, changed bool, dropped int) {
	if epoch < 0 || start < 0 {
		return es, false, 0
	}
	if n := len(es); n > 0 && es[n-1].Epoch == epoch && start >= es[n-1].StartOffset {
		return es, false, 0
	}
	out = make([]EpochEntry, 0, len(es)+1)
	for _, e := range es {
		if e.Epoch < epoch && e.StartOffset < start {
			out = append(out, e)
		} else {
			dropped++
		}
	}
	return append(out, EpochEntry{Epoch: epoch, StartOffset: start}), true, dropped
}

// epochEndOffsetFor is LeaderEpochFileCache.endOffsetFor in Kafka 2.4: for
// the latest epoch the log end offset; for an older epoch the start offset of
// the first higher epoch, with the largest known epoch <= the requested one;
// for an epoch below every entry the requested epoch itself with the first
// entry's start offset; (-1, -1) for epoch -1, an empty cache or an epoch
// above the latest.
func epochEndOffsetFor(es []EpochEntry, requested int32, leo int64) (int32, int64) {
	const undefined = -1
	if requested == undefined || len(es) == 0 {
		return undefined, undefined
	}
	if es[len(es)-1].Epoch == requested {
		return requested, leo
	}
	i := 0 // first entry with a higher epoch
	for i < len(es) && es[i].Epoch <= requested {
		i++
	}
	switch {
	case i == len(es):
		return undefined, undefined
	case i == 0:
		return requested, es[0].StartOffset
	default:
		return es[i-1].Epoch, es[i].StartOffset
	}
}

// epochTruncateFromEnd drops entries starting at or after end (Kafka's
// truncateFromEnd; end < 0 keeps everything).
func epochTruncateFromEnd(es []EpochEntry, end int64) ([]EpochEntry, bool) {
	if end < 0 {
		return es, false
	}
	n := len(es)
	for n > 0 && es[n-1].StartOffset >= end {
		n--
	}
	if n == len(es) {
		return es, false
	}
	return append([]EpochEntry(nil), es[:n]...), true
}

// epochTruncateFromStart drops entries starting at or before start, keeping
// the last of them with its start offset moved to start (Kafka's
// truncateFromStart: the epoch in force at start is kept).
func epochTruncateFromStart(es []EpochEntry, start int64) ([]EpochEntry, bool) {
	i := 0 // entries [0, i) start at or before start
	for i < len(es) && es[i].StartOffset <= start {
		i++
	}
	if i == 0 || (i == 1 && es[0].StartOffset == start) {
		return es, false
	}
	out := make([]EpochEntry, 0, len(es)-i+1)
	out = append(out, EpochEntry{Epoch: es[i-1].Epoch, StartOffset: start})
	return append(out, es[i:]...), true
}

// readEpochCheckpoint reads a leader-epoch-checkpoint file: "0", the entry
// count, then "epoch startOffset" lines. A missing file is an empty cache.
func readEpochCheckpoint(path string) ([]EpochEntry, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	bad := func(why string) error { return fmt.Errorf("read %s: %s", path, why) }
	if len(lines) < 2 || strings.TrimSpace(lines[0]) != "0" {
		return nil, bad("unsupported version or truncated file")
	}
	n, err := strconv.Atoi(strings.TrimSpace(lines[1]))
	if err != nil || n < 0 || n != len(lines)-2 {
		return nil, bad(fmt.Sprintf("entry count %q does not match %d lines", lines[1], len(lines)-2))
	}
	es := make([]EpochEntry, 0, n)
	for i, l := range lines[2:] {
		f := strings.Fields(l)
		if len(f) != 2 {
			return nil, bad(fmt.Sprintf("entry %d: %q", i, l))
		}
		e, err1 := strconv.ParseInt(f[0], 10, 32)
		off, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil || e < 0 || off < 0 {
			return nil, bad(fmt.Sprintf("entry %d: %q", i, l))
		}
		if k := len(es); k > 0 && (int32(e) <= es[k-1].Epoch || off < es[k-1].StartOffset) {
			return nil, bad(fmt.Sprintf("entry %d: %q not after %v", i, l, es[k-1]))
		}
		es = append(es, EpochEntry{Epoch: int32(e), StartOffset: off})
	}
	return es, nil
}

// writeEpochCheckpoint writes es atomically in Kafka's format.
func writeEpochCheckpoint(dir string, es []EpochEntry) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "0\n%d\n", len(es))
	for _, e := range es {
		fmt.Fprintf(&b, "%d %d\n", e.Epoch, e.StartOffset)
	}
	return writeFileAtomic(filepath.Join(dir, LeaderEpochCheckpointFile), b.Bytes())
}
