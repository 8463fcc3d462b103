package logstore

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Names of the per-log-dir files (ZK-LAYOUT.md §6.1).
const (
	RecoveryPointCheckpointFile  = "recovery-point-offset-checkpoint"
	ReplicationCheckpointFile    = "replication-offset-checkpoint" // high watermarks
	LogStartOffsetCheckpointFile = "log-start-offset-checkpoint"   // log start offsets above the first segment
	CleanShutdownFile            = ".kafka_cleanshutdown"
	MetaPropertiesFile           = "meta.properties"
	lockFile                     = ".lock"
)

// ReadCheckpointFile reads a Kafka offset checkpoint file (version 0, entry
// count, "topic partition offset" lines). A missing file returns an error
// wrapping fs.ErrNotExist.
func ReadCheckpointFile(path string) (map[TopicPartition]int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return strings.TrimSpace(sc.Text()), true
	}
	bad := func(why string) error { return fmt.Errorf("read checkpoint %s: %s", path, why) }
	v, ok := line()
	if !ok || v != "0" {
		return nil, bad(fmt.Sprintf("unsupported version %q", v))
	}
	c, ok := line()
	n, err := strconv.Atoi(c)
	if !ok || err != nil || n < 0 {
		return nil, bad(fmt.Sprintf("bad entry count %q", c))
	}
	out := make(map[TopicPartition]int64, n)
	for i := 0; i < n; i++ {
		l, ok := line()
		f := strings.Fields(l)
		if !ok || len(f) != 3 {
			return nil, bad(fmt.Sprintf("entry %d: %q", i, l))
		}
		p, err1 := strconv.ParseInt(f[1], 10, 32)
		off, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, bad(fmt.Sprintf("entry %d: %q", i, l))
		}
		out[TopicPartition{Topic: f[0], Partition: int32(p)}] = off
	}
	return out, nil
}

// WriteCheckpointFile writes entries in Kafka's checkpoint format, sorted by
// topic and partition, atomically: <path>.tmp, fsync, rename, fsync dir.
func WriteCheckpointFile(path string, entries map[TopicPartition]int64) error {
	tps := make([]TopicPartition, 0, len(entries))
	for tp := range entries {
		tps = append(tps, tp)
	}
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
	var b bytes.Buffer
	fmt.Fprintf(&b, "0\n%d\n", len(tps))
	for _, tp := range tps {
		fmt.Fprintf(&b, "%s %d %d\n", tp.Topic, tp.Partition, entries[tp])
	}
	return writeFileAtomic(path, b.Bytes())
}

// MetaProperties is the content of a log dir's meta.properties.
type MetaProperties struct {
	Version   int
	BrokerID  int32
	ClusterID string
}

// ReadMetaProperties reads <dir>/meta.properties (Java properties format).
// A missing file returns an error wrapping fs.ErrNotExist.
func ReadMetaProperties(dir string) (MetaProperties, error) {
	path := filepath.Join(dir, MetaPropertiesFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return MetaProperties{}, fmt.Errorf("read %s: %w", path, err)
	}
	mp := MetaProperties{BrokerID: -1}
	seen := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' || l[0] == '!' {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			k, v, ok = strings.Cut(l, ":")
		}
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		seen[k] = true
		switch k {
		case "version":
			if mp.Version, err = strconv.Atoi(v); err != nil {
				return mp, fmt.Errorf("read %s: version %q: %w", path, v, err)
			}
		case "broker.id":
			id, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return mp, fmt.Errorf("read %s: broker.id %q: %w", path, v, err)
			}
			mp.BrokerID = int32(id)
		case "cluster.id":
			mp.ClusterID = v
		}
	}
	if !seen["version"] {
		return mp, fmt.Errorf("read %s: no version", path)
	}
	if mp.Version != 0 {
		return mp, fmt.Errorf("read %s: unsupported version %d", path, mp.Version)
	}
	return mp, nil
}

// WriteMetaProperties writes <dir>/meta.properties as Kafka 2.4 does
// (version=0, broker.id, cluster.id), atomically.
func WriteMetaProperties(dir string, brokerID int32, clusterID string) error {
	var b bytes.Buffer
	b.WriteString("#\n#Written by zkafka\n")
	fmt.Fprintf(&b, "version=0\nbroker.id=%d\n", brokerID)
	if clusterID != "" {
		fmt.Fprintf(&b, "cluster.id=%s\n", clusterID)
	}
	return writeFileAtomic(filepath.Join(dir, MetaPropertiesFile), b.Bytes())
}

// writeFileAtomic writes data to path via path.tmp, fsync and rename, then
// fsyncs the directory so the rename is durable.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// syncDir fsyncs a directory so that creations, renames and removals in it
// are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}
