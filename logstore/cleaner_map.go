package logstore

import (
	"crypto/md5"
	"encoding/binary"
)

// offsetMapSlotSize is the memory one offset map slot takes: a 16-byte MD5
// hash of the key and an 8-byte offset, as Kafka's SkimpyOffsetMap.
const offsetMapSlotSize = 24

// offsetMap is the cleaner's key -> latest offset map, Kafka's
// SkimpyOffsetMap: open addressing over a fixed array of slots holding the
// MD5 hash of a key (never the key itself) and the key's latest offset.
// Two keys with the same 128-bit hash are taken to be the same key, as in
// Kafka. The memory is bounded by log.cleaner.dedupe.buffer.size: the map
// is "full" once size reaches loadFactor * slots, and the cleaner then stops
// mapping (cleaning only up to the last mapped offset).
//
// reset sizes the map for one cleaning: never more slots than the buffer
// allows, and no more than the dirty section can need (its offset range
// divided by the load factor), so a small log never touches 128 MiB.
// An offsetMap belongs to one cleaner goroutine.
type offsetMap struct {
	slots      []offsetMapSlot
	maxSlots   int
	loadFactor float64
	size       int   // keys stored
	maxEntries int   // size at which the map is full
	latest     int64 // largest offset put, -1 when empty
}

type offsetMapSlot struct {
	hash [md5.Size]byte
	off  int64 // offset + 1; 0 = empty slot
}

// newOffsetMap makes a map using at most memory bytes, filled to at most
// loadFactor (0 < loadFactor <= 1). It allocates nothing until reset.
func newOffsetMap(memory int64, loadFactor float64) *offsetMap {
	return &offsetMap{maxSlots: int(max(memory/offsetMapSlotSize, 2)), loadFactor: loadFactor, latest: -1}
}

// reset empties the map and sizes it for at most need keys (capped by the
// memory bound), reusing the array when it is large enough.
func (m *offsetMap) reset(need int64) {
	n := m.maxSlots
	if want := float64(need)/m.loadFactor + 1; want < float64(n) {
		n = int(want)
	}
	n = max(n, 2) // one slot always stays empty: probing ends
	if cap(m.slots) < n {
		m.slots = make([]offsetMapSlot, n)
	} else {
		m.slots = m.slots[:n]
		clear(m.slots)
	}
	m.size = 0
	m.maxEntries = min(max(int(float64(n)*m.loadFactor), 1), n-1)
	m.latest = -1
}

// full reports whether the map holds as many keys as it may.
func (m *offsetMap) full() bool { return m.size >= m.maxEntries }

// slotFor returns the slot holding hash, or the empty slot where it goes.
func (m *offsetMap) slotFor(h *[md5.Size]byte) *offsetMapSlot {
	n := uint64(len(m.slots))
	i := binary.LittleEndian.Uint64(h[:8]) % n
	for {
		s := &m.slots[i]
		if s.off == 0 || s.hash == *h {
			return s
		}
		if i++; i == n {
			i = 0
		}
	}
}

// put records offset as key's latest offset. It returns false, storing
// nothing, when the key is new and the map is full. Offsets must be put in
// increasing order.
func (m *offsetMap) put(key []byte, offset int64) bool {
	h := md5.Sum(key)
	s := m.slotFor(&h)
	if s.off == 0 {
		if m.full() {
			return false
		}
		s.hash = h
		m.size++
	}
	s.off = offset + 1
	m.latest = offset
	return true
}

// get returns key's latest offset, or -1 when the key is not in the map.
func (m *offsetMap) get(key []byte) int64 {
	if len(m.slots) == 0 {
		return -1
	}
	h := md5.Sum(key)
	return m.slotFor(&h).off - 1
}
