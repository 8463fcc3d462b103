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
// The table grows by doubling as keys come (rehashing the stored hashes),
// never past the slots the buffer allows nor past what the dirty section
// can need (its offset range divided by the load factor), so a cleaning
// touches memory in proportion to its distinct keys, where Kafka always
// clears and probes the whole buffer. An offsetMap belongs to one cleaner
// goroutine.
type offsetMap struct {
	slots      []offsetMapSlot
	maxSlots   int // memory bound
	limit      int // slots this cleaning may use: min(maxSlots, need)
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

// initialOffsetMapSlots is where a map starts; it doubles as keys come.
const initialOffsetMapSlots = 1 << 14

// reset empties the map. need bounds the keys the cleaning can put (the
// dirty section's offset count); the map starts small and doubles as keys
// come, up to the memory bound, so the table stays as small as the key
// set: a cleaning of few keys stays in the CPU caches.
func (m *offsetMap) reset(need int64) {
	m.limit = m.maxSlots
	if want := float64(need)/m.loadFactor + 1; want < float64(m.limit) {
		m.limit = int(want)
	}
	m.limit = max(m.limit, 2) // one slot always stays empty: probing ends
	m.resize(min(m.limit, initialOffsetMapSlots))
	m.size = 0
	m.latest = -1
}

// resize makes an empty table of n slots (reusing the array).
func (m *offsetMap) resize(n int) {
	if cap(m.slots) < n {
		m.slots = make([]offsetMapSlot, n)
	} else {
		m.slots = m.slots[:n]
		clear(m.slots)
	}
	m.maxEntries = min(max(int(float64(n)*m.loadFactor), 1), n-1)
}

// grow doubles the table (up to the limit) and rehashes; false when the
// table is already at its limit.
func (m *offsetMap) grow() bool {
	if len(m.slots) >= m.limit {
		return false
	}
	old := m.slots
	m.slots = nil // a fresh array: the old one is read while filling
	m.resize(min(2*len(old), m.limit))
	for i := range old {
		if old[i].off != 0 {
			*m.slotFor(&old[i].hash) = old[i]
		}
	}
	return true
}

// full reports whether the map holds as many keys as it may.
func (m *offsetMap) full() bool { return m.size >= m.maxEntries && len(m.slots) >= m.limit }

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
		if m.size >= m.maxEntries {
			if !m.grow() {
				return false
			}
			s = m.slotFor(&h)
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
