package logstore

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseTopicPartition(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want TopicPartition
		ok   bool
	}{
		{"foo-0", TopicPartition{"foo", 0}, true},
		{"my-topic-12", TopicPartition{"my-topic", 12}, true},
		{"__consumer_offsets-49", TopicPartition{"__consumer_offsets", 49}, true},
		{"foo", TopicPartition{}, false},
		{"-1", TopicPartition{}, false},
		{"foo-", TopicPartition{}, false},
		{"foo--1", TopicPartition{"foo-", 1}, true},
		{"foo-+1", TopicPartition{}, false},
		{"foo-0.0123456789abcdef0123456789abcdef-delete", TopicPartition{}, false},
	} {
		got, err := ParseTopicPartition(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseTopicPartition(%q) = %v, %v", tt.in, got, err)
		}
		if tt.ok && got.String() != tt.in {
			t.Errorf("String() = %q, want %q", got.String(), tt.in)
		}
	}
}

func TestCheckpointAndMetaProperties(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, RecoveryPointCheckpointFile)
	in := map[TopicPartition]int64{{"foo", 0}: 1234, {"foo", 1}: 99, {"__consumer_offsets", 17}: 5}
	if err := WriteCheckpointFile(p, in); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	if want := "0\n3\n__consumer_offsets 17 5\nfoo 0 1234\nfoo 1 99\n"; string(data) != want {
		t.Fatalf("checkpoint file:\n%s", data)
	}
	out, err := ReadCheckpointFile(p)
	if err != nil || len(out) != 3 || out[TopicPartition{"foo", 0}] != 1234 {
		t.Fatalf("read back %v %v", out, err)
	}
	os.WriteFile(p, []byte("0\n2\nfoo 0 1\n"), 0o644)
	if _, err := ReadCheckpointFile(p); err == nil {
		t.Fatal("short checkpoint accepted")
	}

	if err := WriteMetaProperties(dir, 3, "abcDEF"); err != nil {
		t.Fatal(err)
	}
	mp, err := ReadMetaProperties(dir)
	if err != nil || mp != (MetaProperties{Version: 0, BrokerID: 3, ClusterID: "abcDEF"}) {
		t.Fatalf("meta %+v %v", mp, err)
	}
	os.WriteFile(filepath.Join(dir, MetaPropertiesFile), []byte("#Kafka\ncluster.id=x\nversion=0\nbroker.id=1001\n"), 0o644)
	if mp, err := ReadMetaProperties(dir); err != nil || mp.BrokerID != 1001 || mp.ClusterID != "x" {
		t.Fatalf("kafka-written meta %+v %v", mp, err)
	}
	if _, err := ReadMetaProperties(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing meta.properties: %v", err)
	}
}

func TestManagerLifecycle(t *testing.T) {
	dirs := []string{t.TempDir(), t.TempDir()}
	m, err := OpenManager(dirs, Config{}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenManager(dirs[:1], Config{}, testLogger()); err == nil {
		t.Fatal("second manager on a locked log dir")
	}
	tps := []TopicPartition{{"a-b", 0}, {"a-b", 1}, {"c", 0}, {"c", 1}}
	for i, tp := range tps {
		l, err := m.GetOrCreate(tp, nil)
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j <= i; j++ {
			mustAppend(t, l, makeBatch(t, batchSpec{n: 2, valueSize: 10}))
		}
		l.SetHighWatermark(int64(i))
	}
	for _, d := range dirs { // balanced over the log dirs
		ents, _ := filepath.Glob(filepath.Join(d, "*-[0-9]"))
		if len(ents) != 2 {
			t.Fatalf("%s holds %v", d, ents)
		}
	}
	if _, err := m.GetOrCreate(TopicPartition{"bad/name", 0}, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("bad topic: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, CleanShutdownFile)); err != nil {
			t.Fatalf("no clean shutdown marker: %v", err)
		}
	}

	m, err = OpenManager(dirs, Config{}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Partitions(); len(got) != 4 || got[0] != tps[0] || got[3] != tps[3] {
		t.Fatalf("partitions %v", got)
	}
	for i, tp := range tps {
		l, ok := m.Get(tp)
		if !ok || l.LogEndOffset() != int64(2*(i+1)) || l.HighWatermark() != int64(i) {
			t.Fatalf("%s: ok %v LEO %d HW %d", tp, ok, l.LogEndOffset(), l.HighWatermark())
		}
	}
	if _, err := os.Stat(filepath.Join(dirs[0], CleanShutdownFile)); !os.IsNotExist(err) {
		t.Fatal("clean shutdown marker kept after open")
	}

	// Delete: renamed to *-delete, removed after FileDeleteDelay.
	l, _ := m.Get(tps[2])
	parent := filepath.Dir(l.Dir())
	if err := m.Delete(tps[2]); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Get(tps[2]); ok {
		t.Fatal("deleted log still listed")
	}
	if _, err := l.Read(0, 100, math.MaxInt64, true); !errors.Is(err, ErrClosed) {
		t.Fatalf("read of deleted log: %v", err)
	}
	del, _ := filepath.Glob(filepath.Join(parent, "c-0.*-delete"))
	if len(del) != 1 || len(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(del[0]), "c-0."), "-delete")) != 32 {
		t.Fatalf("delete dir %v", del)
	}
	if err := m.Close(); err != nil { // pending removal: finished by the next open
		t.Fatal(err)
	}
	m, err = OpenManager(dirs, Config{FileDeleteDelay: time.Millisecond}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if len(m.Partitions()) != 3 {
		t.Fatalf("partitions after delete %v", m.Partitions())
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(del[0]); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("delete dir not removed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	l, err = m.GetOrCreate(tps[2], nil)
	if err != nil || l.LogEndOffset() != 0 {
		t.Fatalf("recreated log: %v LEO %d", err, l.LogEndOffset())
	}
}

// A manager that is not closed (kill -9) recovers from its recovery points.
func TestManagerUncleanRestart(t *testing.T) {
	dirs := []string{t.TempDir()}
	m, err := OpenManager(dirs, Config{SegmentBytes: 2048}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	l, _ := m.GetOrCreate(TopicPartition{"x", 3}, nil)
	for i := 0; i < 30; i++ {
		mustAppend(t, l, makeBatch(t, batchSpec{n: 1, valueSize: 200}))
	}
	if err := m.Flush(); err != nil { // recovery point 30 checkpointed
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		mustAppend(t, l, makeBatch(t, batchSpec{n: 1, valueSize: 200}))
	}
	want := readAll(t, l, 0, math.MaxInt32)
	m.closeAll(false) // like a crash: no flush, no trim, no marker
	// tear the tail
	seg := filepath.Join(l.Dir(), segmentName(l.active().base)+logSuffix)
	fi, _ := os.Stat(seg)
	os.Truncate(seg, fi.Size()-10)

	m, err = OpenManager(dirs, Config{SegmentBytes: 2048}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, _ = m.Get(TopicPartition{"x", 3})
	if l.LogEndOffset() != 34 {
		t.Fatalf("LEO %d after torn tail", l.LogEndOffset())
	}
	got := readAll(t, l, 0, math.MaxInt32)
	if !bytes.HasPrefix(want, got) || len(want)-len(got) != len(makeBatch(t, batchSpec{n: 1, valueSize: 200})) {
		t.Fatalf("recovered %d of %d bytes", len(got), len(want))
	}
	verifyAll(t, l.Dir())
}
