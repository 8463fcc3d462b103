package logstore

import (
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"
)

func TestOffsetMap(t *testing.T) {
	m := newOffsetMap(1<<20, 0.9)
	m.reset(100)
	if got := m.get([]byte("a")); got != -1 {
		t.Fatalf("empty map: get = %d", got)
	}
	for i := 0; i < 50; i++ {
		if !m.put([]byte(fmt.Sprint("k", i%10)), int64(i)) {
			t.Fatalf("put %d refused", i)
		}
	}
	for k := 0; k < 10; k++ {
		if got, want := m.get([]byte(fmt.Sprint("k", k))), int64(40+k); got != want {
			t.Fatalf("k%d: %d, want %d", k, got, want)
		}
	}
	if m.size != 10 || m.latest != 49 || m.get([]byte("other")) != -1 {
		t.Fatalf("size %d latest %d", m.size, m.latest)
	}
	// reset forgets everything and sizes for the need.
	m.reset(3)
	if m.size != 0 || m.latest != -1 || m.get([]byte("k1")) != -1 || len(m.slots) != 4 {
		t.Fatalf("after reset: size %d latest %d slots %d", m.size, m.latest, len(m.slots))
	}
}

func TestOffsetMapGrows(t *testing.T) {
	m := newOffsetMap(1<<30, 0.9)
	m.reset(1 << 40)
	if len(m.slots) != initialOffsetMapSlots {
		t.Fatalf("starts with %d slots", len(m.slots))
	}
	const keys = 5 * initialOffsetMapSlots
	for round := 0; round < 2; round++ {
		for i := 0; i < keys; i++ {
			if !m.put([]byte(fmt.Sprint(i)), int64(round*keys+i)) {
				t.Fatalf("key %d refused", i)
			}
		}
	}
	if m.size != keys || len(m.slots) < keys || len(m.slots) > 4*keys {
		t.Fatalf("%d keys in %d slots", m.size, len(m.slots))
	}
	for i := 0; i < keys; i++ {
		if got := m.get([]byte(fmt.Sprint(i))); got != int64(keys+i) {
			t.Fatalf("key %d: %d after growing", i, got)
		}
	}
}

func TestOffsetMapFull(t *testing.T) {
	// 10 slots of memory, load factor 0.5: 5 keys fit.
	m := newOffsetMap(10*offsetMapSlotSize, 0.5)
	m.reset(1 << 40) // need far beyond the memory: capped
	if len(m.slots) != 10 {
		t.Fatalf("slots %d, want 10", len(m.slots))
	}
	for i := 0; i < 5; i++ {
		if !m.put([]byte{byte(i)}, int64(i)) {
			t.Fatalf("key %d refused", i)
		}
	}
	if !m.full() || m.put([]byte{9}, 9) {
		t.Fatal("a sixth key was taken")
	}
	// An existing key can still move forward; latest follows it.
	if !m.put([]byte{2}, 10) || m.get([]byte{2}) != 10 || m.latest != 10 {
		t.Fatalf("update of a known key: %d latest %d", m.get([]byte{2}), m.latest)
	}
	// Load factor 1 still leaves an empty slot: a miss terminates.
	m = newOffsetMap(4*offsetMapSlotSize, 1)
	m.reset(100)
	for i := 0; i < 10; i++ {
		m.put([]byte{byte(i)}, int64(i))
	}
	if m.size != 3 || m.get([]byte{99}) != -1 {
		t.Fatalf("size %d", m.size)
	}
}

func TestPlanClean(t *testing.T) {
	const now = int64(1_000_000_000)
	base := DefaultConfig()
	base.CleanupCompact = true
	lag := func(minLag, maxLag time.Duration) Config {
		c := base
		c.MinCompactionLag, c.MaxCompactionLag = minLag, maxLag
		return c
	}
	// Four segments of 100 bytes [0,10) [10,20) [20,30) [30,..) active, LEO 35.
	segs := func(ts ...int64) []segInfo {
		out := []segInfo{{base: 0}, {base: 10}, {base: 20}, {base: 30}}
		for i := range out {
			out[i].size = 100
			out[i].largestTs, out[i].firstBatchTs = ts[i], ts[i]
		}
		return out
	}
	old := segs(now-10_000, now-9_000, now-8_000, now-100)
	tests := []struct {
		name string
		v    logView
		want cleanPlan
	}{
		{"never cleaned", logView{segs: old, leo: 35, hw: 35, cfg: base},
			cleanPlan{firstDirty: 0, firstUncleanable: 30, cleanBytes: 0, cleanableBytes: 300}},
		{"checkpoint at a segment", logView{segs: old, leo: 35, hw: 35, checkpoint: 20, cfg: base},
			cleanPlan{firstDirty: 20, firstUncleanable: 30, cleanBytes: 200, cleanableBytes: 100}},
		{"checkpoint inside a segment counts it both ways", logView{segs: old, leo: 35, hw: 35, checkpoint: 15, cfg: base},
			cleanPlan{firstDirty: 15, firstUncleanable: 30, cleanBytes: 200, cleanableBytes: 200}},
		{"checkpoint below the log start is reset", logView{segs: old[1:], logStart: 12, leo: 35, hw: 35, checkpoint: 5, cfg: base},
			cleanPlan{firstDirty: 12, firstUncleanable: 30, cleanBytes: 100, cleanableBytes: 200}},
		{"checkpoint past the log end is reset", logView{segs: old, leo: 35, hw: 35, checkpoint: 99, cfg: base},
			cleanPlan{firstDirty: 0, firstUncleanable: 30, cleanBytes: 0, cleanableBytes: 300}},
		{"high watermark inside a segment rounds down", logView{segs: old, leo: 35, hw: 25, cfg: base},
			cleanPlan{firstDirty: 0, firstUncleanable: 20, cleanBytes: 0, cleanableBytes: 200}},
		{"high watermark below the dirty section", logView{segs: old, leo: 35, hw: 12, checkpoint: 20, cfg: base},
			cleanPlan{firstDirty: 20, firstUncleanable: 10, cleanBytes: 200, cleanableBytes: 0}},
		{"min.compaction.lag stops at the first young segment", logView{segs: old, leo: 35, hw: 35, cfg: lag(8_500*time.Millisecond, DefaultMaxCompactionLag)},
			cleanPlan{firstDirty: 0, firstUncleanable: 20, cleanBytes: 0, cleanableBytes: 200}},
		{"max.compaction.lag passed", logView{segs: old, leo: 35, hw: 35, checkpoint: 10, cfg: lag(0, 5*time.Second)},
			cleanPlan{firstDirty: 10, firstUncleanable: 30, cleanBytes: 100, cleanableBytes: 200, compactionDelay: 4 * time.Second}},
		{"only the active segment", logView{segs: []segInfo{{base: 0, size: 50}}, leo: 5, hw: 5, cfg: base},
			cleanPlan{firstDirty: 0, firstUncleanable: 0, cleanBytes: 0, cleanableBytes: 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := planClean(tc.v, now); got != tc.want {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestPickFilthiest(t *testing.T) {
	p := func(clean, dirty int64, delay time.Duration) cleanPlan {
		return cleanPlan{cleanBytes: clean, cleanableBytes: dirty, compactionDelay: delay}
	}
	tests := []struct {
		name  string
		cands []cleanCandidate
		want  int
	}{
		{"none", nil, -1},
		{"below the ratio", []cleanCandidate{{p(60, 40, 0), 0.5}}, -1},
		{"at the ratio is not enough (Kafka: strictly above)", []cleanCandidate{{p(50, 50, 0), 0.5}}, -1},
		{"highest ratio wins", []cleanCandidate{{p(40, 60, 0), 0.5}, {p(10, 90, 0), 0.5}, {p(30, 70, 0), 0.5}}, 1},
		{"empty logs are skipped", []cleanCandidate{{p(0, 0, 0), 0}, {p(90, 10, 0), 0}}, 1},
		{"max.compaction.lag forces a low ratio", []cleanCandidate{{p(99, 1, time.Second), 0.5}}, 0},
		{"max.compaction.lag needs dirty bytes", []cleanCandidate{{p(99, 0, time.Second), 0.5}}, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := pickFilthiest(tc.cands); got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestGroupSegments(t *testing.T) {
	seg := func(base, size, idx int64) segInfo {
		return segInfo{base: base, size: size, indexBytes: idx, tindexBytes: idx * 3 / 2}
	}
	tests := []struct {
		name                    string
		segs                    []segInfo
		maxSize, maxIndex, uncl int64
		want                    []int
	}{
		{"all fit", []segInfo{seg(0, 10, 8), seg(10, 10, 8), seg(20, 10, 8)}, 100, 1000, 30, []int{3}},
		{"size splits", []segInfo{seg(0, 60, 8), seg(10, 30, 8), seg(20, 30, 8), seg(30, 5, 8)}, 100, 1000, 40, []int{2, 2}},
		{"a segment larger than the limit stays alone", []segInfo{seg(0, 500, 8), seg(10, 10, 8)}, 100, 1000, 20, []int{1, 1}},
		{"index bytes split", []segInfo{seg(0, 1, 400), seg(10, 1, 400), seg(20, 1, 400)}, 100, 1300, 30, []int{2, 1}},
		{"offsets must fit int32 of the first base", []segInfo{seg(0, 1, 0), seg(math.MaxInt32-5, 1, 0), seg(math.MaxInt32+10, 1, 0)},
			100, 1000, math.MaxInt32 + 20, []int{1, 2}},
		{"the last segment ends before firstUncleanable", []segInfo{seg(0, 1, 0), seg(10, 1, 0)}, 100, 1000, math.MaxInt32 + 2, []int{1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := groupSegments(tc.segs, tc.maxSize, tc.maxIndex, tc.uncl); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRetainRecord(t *testing.T) {
	tests := []struct {
		name                string
		offset, mapEnd      int64
		hasKey, hasValue    bool
		latest              int64
		retainDeletes, want bool
	}{
		{"past the mapped range", 100, 50, false, false, -1, false, true},
		{"no key", 10, 50, false, true, -1, true, false},
		{"latest value", 10, 50, true, true, 10, false, true},
		{"overwritten later", 10, 50, true, true, 20, true, false},
		{"key only in the clean section", 10, 50, true, true, -1, false, true},
		{"latest tombstone kept", 10, 50, true, false, 10, true, true},
		{"latest tombstone expired", 10, 50, true, false, 10, false, false},
		{"overwritten tombstone", 10, 50, true, false, 30, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := retainRecord(tc.offset, tc.mapEnd, tc.hasKey, tc.hasValue, tc.latest, tc.retainDeletes); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDecideBatch(t *testing.T) {
	tests := []struct {
		retained, total int
		last            bool
		want            batchAction
	}{
		{3, 3, false, batchCopy},
		{3, 3, true, batchCopy},
		{1, 3, false, batchRewrite},
		{1, 3, true, batchRewrite},
		{0, 3, false, batchDrop},
		{0, 3, true, batchEmpty},
		{0, 0, true, batchCopy}, // an empty batch still its producer's last
		{0, 0, false, batchDrop},
	}
	for _, tc := range tests {
		if got := decideBatch(tc.retained, tc.total, tc.last); got != tc.want {
			t.Errorf("decideBatch(%d, %d, %v) = %d, want %d", tc.retained, tc.total, tc.last, got, tc.want)
		}
	}
}
