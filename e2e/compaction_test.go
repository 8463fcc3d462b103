package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkafka/zkafka/logstore"
)

// TestIntegration_Compaction: a broker process with a fast cleaner, a topic
// with cleanup.policy=compact and 4 KiB segments, kcat producing rounds of
// overwrites of 40 keys (each round with another codec) and tombstones for
// some; once the cleaner ran, a consumer from the beginning sees each key
// once, with its latest value (a deleted key as a NULL tombstone, kept for
// delete.retention.ms), offsets still increasing with gaps; the
// cleaner-offset-checkpoint names the partition; a restart keeps it all;
// and a record without a key is refused.
func TestIntegration_Compaction(t *testing.T) {
	e := newEnv(t, 1, map[string]string{"log.cleaner.backoff.ms": "100"})
	bs := e.c.Brokers[0].Addr()
	e.run("", "topics", "--bootstrap-server", bs, "--create", "--topic", "compacted", "--partitions", "1",
		"--replication-factor", "1", "--config", "cleanup.policy=compact", "--config", "segment.bytes=4096",
		"--config", "min.cleanable.dirty.ratio=0.01")
	e.waitTopic("compacted", 1)

	const keys, rounds = 40, 10
	codecs := []string{"none", "gzip", "snappy", "lz4"}
	latest := map[string]string{} // key -> value ("NULL" = tombstone)
	produced := 0
	for r := 0; r < rounds; r++ {
		var in strings.Builder
		for k := 0; k < keys; k++ {
			key := fmt.Sprintf("key%02d", k)
			v := fmt.Sprintf("round%d-%s-%s", r, key, strings.Repeat("x", k))
			if r == rounds-1 && k%5 == 0 {
				v = "" // -Z: an empty value is sent as NULL, a tombstone
			}
			fmt.Fprintf(&in, "%s:%s\n", key, v)
			if v == "" {
				v = "NULL"
			}
			latest[key] = v
			produced++
		}
		e.kcat(in.String(), "-b", bs, "-t", "compacted", "-P", "-K:", "-Z",
			"-X", "compression.codec="+codecs[r%len(codecs)], "-X", "batch.num.messages=20")
	}
	// Unique keys after the last round fill the active segment, so that every
	// overwrite lies in the cleanable part of the log.
	var fill strings.Builder
	for i := 0; i < 150; i++ {
		key := fmt.Sprintf("filler%03d", i)
		fmt.Fprintf(&fill, "%s:%s\n", key, strings.Repeat("f", 40))
		latest[key] = strings.Repeat("f", 40)
		produced++
	}
	e.kcat(fill.String(), "-b", bs, "-t", "compacted", "-P", "-K:", "-X", "batch.num.messages=20")

	consume := func() (map[string]string, []int64, error) {
		out := e.kcat("", "-b", bs, "-t", "compacted", "-C", "-o", "beginning", "-e", "-q", "-Z", "-f", "%o %k %s\n")
		seen := map[string]string{}
		var offsets []int64
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			f := strings.SplitN(line, " ", 3)
			if len(f) != 3 {
				return nil, nil, fmt.Errorf("bad line %q", line)
			}
			off, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return nil, nil, fmt.Errorf("bad offset in %q", line)
			}
			if n := len(offsets); n > 0 && off <= offsets[n-1] {
				return nil, nil, fmt.Errorf("offset %d after %d", off, offsets[n-1])
			}
			offsets = append(offsets, off)
			if prev, dup := seen[f[1]]; dup {
				return nil, nil, fmt.Errorf("key %s read twice (%q, then %q at offset %d): not compacted yet", f[1], prev, f[2], off)
			}
			seen[f[1]] = f[2]
		}
		return seen, offsets, nil
	}
	eventually(t, 90*time.Second, func() error {
		seen, offsets, err := consume()
		if err != nil {
			return err
		}
		if len(seen) != len(latest) {
			return fmt.Errorf("%d keys read, want %d", len(seen), len(latest))
		}
		for k, v := range latest {
			if seen[k] != v {
				return fmt.Errorf("key %s: %q, want the latest %q", k, seen[k], v)
			}
		}
		if last := offsets[len(offsets)-1]; last != int64(produced-1) {
			return fmt.Errorf("last offset %d, want %d (offsets are kept)", last, produced-1)
		}
		return nil
	})

	ckpt := filepath.Join(e.c.Brokers[0].Dir, logstore.CleanerOffsetCheckpointFile)
	eventually(t, 30*time.Second, func() error {
		c, err := logstore.ReadCheckpointFile(ckpt)
		if err != nil {
			return err
		}
		if off := c[logstore.TopicPartition{Topic: "compacted", Partition: 0}]; off < int64(keys*rounds) {
			return fmt.Errorf("cleaner checkpoint for compacted-0 is %d, want >= %d", off, keys*rounds)
		}
		return nil
	})

	// A record without a key: INVALID_RECORD (87), nothing stored.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kcat", "-b", bs, "-t", "compacted", "-P", "-X", "message.send.max.retries=0")
	cmd.Stdin = strings.NewReader("no key here\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil || !strings.Contains(stderr.String(), "Broker failed to validate record") { // librdkafka's text for INVALID_RECORD
		t.Fatalf("keyless record to a compacted topic: %v, stderr %q", err, stderr.String())
	}

	if err := e.c.Brokers[0].Stop(); err != nil {
		t.Fatalf("clean shutdown: %v", err)
	}
	if _, err := os.Stat(ckpt); err != nil {
		t.Fatal(err)
	}
	e.c.Brokers[0].Start()
	e.c.Brokers[0].WaitListening(30 * time.Second)
	e.waitTopic("compacted", 1)
	eventually(t, 30*time.Second, func() error {
		seen, _, err := consume()
		if err != nil {
			return err
		}
		if len(seen) != len(latest) {
			return fmt.Errorf("after restart, %d keys read, want %d", len(seen), len(latest))
		}
		for k, v := range latest {
			if seen[k] != v {
				return fmt.Errorf("after restart, key %s: %q, want %q", k, seen[k], v)
			}
		}
		return nil
	})
}
