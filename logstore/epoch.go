package logstore

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// LeaderEpochCheckpointFile is the per-partition file of the leader epoch
// cache, Kafka's format: a version line (0), a count line, then one
// "<epoch> <startOffset>" line per entry.
const LeaderEpochCheckpointFile = "leader-epoch-checkpoint"

// EpochEntry says that leader epoch Epoch began at StartOffset: its leader
// wrote its first record there.
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// epochCache is Kafka's LeaderEpochFileCache: the start offset of every
// leader epoch in the log, in increasing order of both, written through to
// leader-epoch-checkpoint on every change. Followers use it (through
// OffsetForLeaderEpoch) to find where their log and a new leader's agree.
type epochCache struct {
	mu      sync.Mutex
	path    string
	entries []EpochEntry
}

// loadEpochCache reads dir's leader-epoch-checkpoint (none: empty). A corrupt
// file is an error: the caller logs it and starts empty, as the cache only
// sharpens truncation (the high-water mark is the fallback).
func loadEpochCache(dir string) (*epochCache, error) {
	c := &epochCache{path: filepath.Join(dir, LeaderEpochCheckpointFile)}
	data, err := os.ReadFile(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	entries, err := parseEpochCheckpoint(data)
	if err != nil {
		return c, fmt.Errorf("%s: %w", c.path, err)
	}
	c.entries = entries
	return c, nil
}

func parseEpochCheckpoint(data []byte) ([]EpochEntry, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return strings.TrimSpace(sc.Text()), true
	}
	if v, ok := line(); !ok || v != "0" {
		return nil, fmt.Errorf("unsupported version line %q", v)
	}
	n, ok := line()
	count, err := strconv.Atoi(n)
	if !ok || err != nil || count < 0 {
		return nil, fmt.Errorf("bad entry count %q", n)
	}
	var out []EpochEntry
	for i := 0; i < count; i++ {
		l, ok := line()
		f := strings.Fields(l)
		if !ok || len(f) != 2 {
			return nil, fmt.Errorf("entry %d: %q", i, l)
		}
		e, err1 := strconv.ParseInt(f[0], 10, 32)
		o, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil || e < 0 || o < 0 || (len(out) > 0 && (int32(e) <= out[len(out)-1].Epoch || o < out[len(out)-1].StartOffset)) {
			return nil, fmt.Errorf("entry %d: %q", i, l)
		}
		out = append(out, EpochEntry{Epoch: int32(e), StartOffset: o})
	}
	return out, nil
}

// flushLocked writes the entries to the checkpoint file atomically.
func (c *epochCache) flushLocked() error {
	var b strings.Builder
	fmt.Fprintf(&b, "0\n%d\n", len(c.entries))
	for _, e := range c.entries {
		fmt.Fprintf(&b, "%d %d\n", e.Epoch, e.StartOffset)
	}
	return writeFileAtomic(c.path, []byte(b.String()))
}

// assign records that epoch starts at offset, unless the latest entry is
// already that epoch (Kafka's assign). Entries that contradict it (a
// newer-or-equal epoch, or a start at or after offset) are dropped first.
func (c *epochCache) assign(epoch int32, offset int64) error {
	if epoch < 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.entries); n > 0 && c.entries[n-1].Epoch == epoch {
		return nil
	}
	keep := c.entries[:0]
	for _, e := range c.entries {
		if e.Epoch < epoch && e.StartOffset < offset {
			keep = append(keep, e)
		}
	}
	c.entries = append(keep, EpochEntry{Epoch: epoch, StartOffset: offset})
	return c.flushLocked()
}

// latest returns the latest epoch, -1 when none.
func (c *epochCache) latest() int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) == 0 {
		return -1
	}
	return c.entries[len(c.entries)-1].Epoch
}

// endOffsetFor is Kafka 2.4's LeaderEpochFileCache.endOffsetFor: for the
// latest epoch the log end offset; for an older one, the largest epoch <=
// it and the start of the next epoch; for one older than every entry, the
// requested epoch and the first entry's start; (-1, -1) for an unknown,
// newer or undefined epoch.
func (c *epochCache) endOffsetFor(requested int32, leo int64) (int32, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.entries)
	switch {
	case requested < 0 || n == 0:
		return -1, -1
	case c.entries[n-1].Epoch == requested:
		return requested, leo
	}
	i := sort.Search(n, func(i int) bool { return c.entries[i].Epoch > requested })
	switch {
	case i == n:
		return -1, -1
	case i == 0:
		return requested, c.entries[0].StartOffset
	}
	return c.entries[i-1].Epoch, c.entries[i].StartOffset
}

// truncateFromEnd drops the entries starting at or after offset (the log was
// truncated there).
func (c *epochCache) truncateFromEnd(offset int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := sort.Search(len(c.entries), func(i int) bool { return c.entries[i].StartOffset >= offset })
	if i == len(c.entries) {
		return nil
	}
	c.entries = c.entries[:i]
	return c.flushLocked()
}

// clear drops every entry.
func (c *epochCache) clear() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = nil
	return c.flushLocked()
}

// snapshot returns a copy of the entries.
func (c *epochCache) snapshot() []EpochEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]EpochEntry(nil), c.entries...)
}
