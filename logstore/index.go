package logstore

import (
	"encoding/binary"
	"fmt"
	"os"
	"sort"
	"sync"

	"golang.org/x/sys/unix"
)

const (
	offsetIndexEntrySize = 8  // relative offset int32 + position int32
	timeIndexEntrySize   = 12 // timestamp int64 + relative offset int32
)

// mmapIndex is a file of fixed-size entries mapped with MAP_SHARED.
//
// The active segment's index file is preallocated to maxBytes and mapped
// whole; n entries are in use. resize trims it to n entries on roll and close.
// mu guards the mapping itself: lookups hold it shared, append/resize/close
// exclusively, so a reader never touches an unmapped or truncated page.
type mmapIndex struct {
	mu        sync.RWMutex
	path      string
	f         *os.File
	data      []byte // the mapping; len is the file size (nil when 0)
	entrySize int
	n         int  // entries in use
	closed    bool // after close: lookups find nothing
}

// openMmapIndex opens (creating if needed) an index file and maps it. n is
// set from the file size (size/entrySize); ok reports whether the size was a
// multiple of the entry size. The caller sanity-checks and may reset().
func openMmapIndex(path string, entrySize int) (idx *mmapIndex, ok bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, false, fmt.Errorf("open index %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("stat index %s: %w", path, err)
	}
	idx = &mmapIndex{path: path, f: f, entrySize: entrySize}
	size := fi.Size()
	if size > 1<<31 {
		size = -1 // absurd: treat as corrupt and rebuild
	}
	if size < 0 || size%int64(entrySize) != 0 {
		if err := idx.resizeLocked(0); err != nil {
			idx.closeLocked()
			return nil, false, err
		}
		return idx, false, nil
	}
	if err := idx.mapLocked(int(size)); err != nil {
		f.Close()
		return nil, false, err
	}
	idx.n = int(size) / entrySize
	return idx, true, nil
}

func (x *mmapIndex) mapLocked(size int) error {
	if size == 0 {
		x.data = nil
		return nil
	}
	data, err := unix.Mmap(int(x.f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap index %s (%d bytes): %w", x.path, size, err)
	}
	x.data = data
	return nil
}

func (x *mmapIndex) unmapLocked() error {
	if x.data == nil {
		return nil
	}
	err := unix.Munmap(x.data)
	x.data = nil
	if err != nil {
		return fmt.Errorf("munmap index %s: %w", x.path, err)
	}
	return nil
}

// resizeLocked remaps the file at size bytes (rounded down to whole
// entries), truncating or extending it; n is capped to the new capacity.
func (x *mmapIndex) resizeLocked(size int) error {
	size -= size % x.entrySize
	if err := x.unmapLocked(); err != nil {
		return err
	}
	if err := x.f.Truncate(int64(size)); err != nil {
		return fmt.Errorf("resize index %s to %d: %w", x.path, size, err)
	}
	if err := x.mapLocked(size); err != nil {
		return err
	}
	x.n = min(x.n, size/x.entrySize)
	return nil
}

// resize is resizeLocked under the lock; size <= 0 trims to the used entries.
func (x *mmapIndex) resize(size int) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return ErrClosed
	}
	if size <= 0 {
		size = x.n * x.entrySize
	}
	return x.resizeLocked(size)
}

// reset drops every entry (before a rebuild); the mapping is kept.
func (x *mmapIndex) reset() {
	x.mu.Lock()
	x.n = 0
	x.mu.Unlock()
}

// truncateEntriesLocked keeps the first n entries and zeroes the dropped
// ones, so the unused tail of the mapping reads as empty (as after
// preallocation).
func (x *mmapIndex) truncateEntriesLocked(n int) {
	if n < x.n {
		clear(x.data[n*x.entrySize : x.n*x.entrySize])
		x.n = n
	}
}

// entries returns the number of entries in use.
func (x *mmapIndex) entries() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.n
}

// capacity is the number of entries the mapping can hold.
func (x *mmapIndex) capacityLocked() int { return len(x.data) / x.entrySize }

// free is the number of entries that can still be appended.
func (x *mmapIndex) free() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.capacityLocked() - x.n
}

// appendEntry writes one entry; it reports false when the index is full.
func (x *mmapIndex) appendEntry(fill func(b []byte)) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed || x.n >= x.capacityLocked() {
		return false
	}
	fill(x.data[x.n*x.entrySize : (x.n+1)*x.entrySize])
	x.n++
	return true
}

// sync flushes the mapping's dirty pages to the file.
func (x *mmapIndex) sync() error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed || x.n == 0 {
		return nil
	}
	if err := unix.Msync(x.data[:x.n*x.entrySize], unix.MS_SYNC); err != nil {
		return fmt.Errorf("msync index %s: %w", x.path, err)
	}
	return nil
}

// close trims the file to the entries in use (if trim) and unmaps it.
func (x *mmapIndex) close(trim bool) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil
	}
	var err error
	if trim {
		err = x.resizeLocked(x.n * x.entrySize)
	}
	if err2 := x.closeLocked(); err == nil {
		err = err2
	}
	return err
}

func (x *mmapIndex) closeLocked() error {
	x.closed = true
	err := x.unmapLocked()
	if err2 := x.f.Close(); err == nil && err2 != nil {
		err = fmt.Errorf("close index %s: %w", x.path, err2)
	}
	return err
}

// offsetIndex maps offsets to .log positions: entries (offset - base,
// position), both int32, big-endian. The offset of an entry is the LAST
// offset of the batch starting at position (as Kafka 2.x writes it).
type offsetIndex struct {
	*mmapIndex
	base int64
}

// entryLocked returns entry i as an absolute offset and position.
func (x offsetIndex) entryLocked(i int) (offset, pos int64) {
	b := x.data[i*offsetIndexEntrySize:]
	return x.base + int64(int32(binary.BigEndian.Uint32(b))), int64(int32(binary.BigEndian.Uint32(b[4:])))
}

func (x offsetIndex) append(offset, pos int64) bool {
	return x.appendEntry(func(b []byte) {
		binary.BigEndian.PutUint32(b, uint32(offset-x.base))
		binary.BigEndian.PutUint32(b[4:], uint32(pos))
	})
}

// lookup returns the position of the last entry whose offset is <= target,
// or 0 when there is none. The batch holding target starts at or after it.
func (x offsetIndex) lookup(target int64) int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return 0
	}
	i := sort.Search(x.n, func(i int) bool { o, _ := x.entryLocked(i); return o > target })
	if i == 0 {
		return 0
	}
	_, pos := x.entryLocked(i - 1)
	return max(pos, 0)
}

// lookupBound returns the position of the last entry with position <= maxPos
// and offset < maxOffset, or 0: every batch before it ends within maxPos and
// lies below maxOffset.
func (x offsetIndex) lookupBound(maxPos, maxOffset int64) int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return 0
	}
	i := sort.Search(x.n, func(i int) bool {
		o, p := x.entryLocked(i)
		return p > maxPos || o >= maxOffset
	})
	if i == 0 {
		return 0
	}
	_, pos := x.entryLocked(i - 1)
	return max(pos, 0)
}

// truncateFrom drops the entries whose offset is >= offset.
func (x offsetIndex) truncateFrom(offset int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.closed {
		x.truncateEntriesLocked(sort.Search(x.n, func(i int) bool { o, _ := x.entryLocked(i); return o >= offset }))
	}
}

// last returns the last entry, ok=false if the index is empty.
func (x offsetIndex) last() (offset, pos int64, ok bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed || x.n == 0 {
		return 0, 0, false
	}
	offset, pos = x.entryLocked(x.n - 1)
	return offset, pos, true
}

// timeIndex maps timestamps to offsets: entries (max timestamp so far int64,
// offset of the batch holding it - base int32), strictly increasing in
// timestamp.
type timeIndex struct {
	*mmapIndex
	base int64
}

func (x timeIndex) entryLocked(i int) (ts, offset int64) {
	b := x.data[i*timeIndexEntrySize:]
	return int64(binary.BigEndian.Uint64(b)), x.base + int64(int32(binary.BigEndian.Uint32(b[8:])))
}

// maybeAppend adds (ts, offset) if ts is larger than the last entry's.
func (x timeIndex) maybeAppend(ts, offset int64) {
	if last, _, ok := x.last(); ok && ts <= last {
		return
	}
	x.appendEntry(func(b []byte) {
		binary.BigEndian.PutUint64(b, uint64(ts))
		binary.BigEndian.PutUint32(b[8:], uint32(offset-x.base))
	})
}

// lookupBefore returns the offset of the last entry whose timestamp is < ts,
// ok=false if there is none. Every batch up to that offset has a max
// timestamp < ts.
func (x timeIndex) lookupBefore(ts int64) (offset int64, ok bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return 0, false
	}
	i := sort.Search(x.n, func(i int) bool { t, _ := x.entryLocked(i); return t >= ts })
	if i == 0 {
		return 0, false
	}
	_, offset = x.entryLocked(i - 1)
	return offset, true
}

// truncateFrom drops the entries whose offset is >= offset (offsets grow
// with the timestamps).
func (x timeIndex) truncateFrom(offset int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.closed {
		x.truncateEntriesLocked(sort.Search(x.n, func(i int) bool { _, o := x.entryLocked(i); return o >= offset }))
	}
}

func (x timeIndex) last() (ts, offset int64, ok bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed || x.n == 0 {
		return 0, 0, false
	}
	ts, offset = x.entryLocked(x.n - 1)
	return ts, offset, true
}
