package broker

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/zkafka/zkafka/logstore"
)

func TestCleanerProperties(t *testing.T) {
	cfg, err := ParseProperties(writeProps(t, "zookeeper.connect=localhost:2181\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cc, ok := cfg.cleanerConfig()
	if !ok || cc.Threads != 1 || cc.DedupeBufferSize != 128<<20 || cc.IOBufferSize != 512<<10 || cc.DedupeBufferLoadFactor != 0.9 || cc.Backoff != 15*time.Second {
		t.Fatalf("defaults: %+v %v", cc, ok)
	}
	b := &Broker{cfg: cfg}
	lc := b.logConfig()
	if !lc.CleanupDelete || lc.CleanupCompact || lc.DeleteRetention != 24*time.Hour || lc.MinCleanableDirtyRatio != 0.5 ||
		lc.MinCompactionLag != 0 || lc.MaxCompactionLag != time.Duration(math.MaxInt64) {
		t.Fatalf("default log config %+v", lc)
	}

	cfg, err = ParseProperties(writeProps(t, strings.Join([]string{
		"zookeeper.connect=localhost:2181",
		"log.cleanup.policy=compact,delete",
		"log.cleaner.threads=2",
		"log.cleaner.dedupe.buffer.size=4194304",
		"log.cleaner.io.buffer.size=65536",
		"log.cleaner.io.buffer.load.factor=0.5",
		"log.cleaner.backoff.ms=100",
		"log.cleaner.min.cleanable.ratio=0.1",
		"log.cleaner.delete.retention.ms=1000",
		"log.cleaner.min.compaction.lag.ms=2000",
		"log.cleaner.max.compaction.lag.ms=9223372036854775807",
	}, "\n")), nil)
	if err != nil {
		t.Fatal(err)
	}
	cc, ok = cfg.cleanerConfig()
	if !ok || cc.Threads != 2 || cc.DedupeBufferSize != 4<<20 || cc.IOBufferSize != 64<<10 || cc.DedupeBufferLoadFactor != 0.5 || cc.Backoff != 100*time.Millisecond {
		t.Fatalf("cleaner config %+v %v", cc, ok)
	}
	lc = (&Broker{cfg: cfg}).logConfig()
	if !lc.CleanupDelete || !lc.CleanupCompact || lc.DeleteRetention != time.Second || lc.MinCleanableDirtyRatio != 0.1 ||
		lc.MinCompactionLag != 2*time.Second || lc.MaxCompactionLag != time.Duration(math.MaxInt64) {
		t.Fatalf("log config %+v", lc)
	}

	for _, bad := range []string{
		"log.cleanup.policy=forever", "log.cleaner.threads=-1", "log.cleaner.io.buffer.load.factor=0",
		"log.cleaner.min.cleanable.ratio=1.5", "log.cleaner.max.compaction.lag.ms=0", "log.cleaner.enable=maybe",
	} {
		if _, err := ParseProperties(writeProps(t, "zookeeper.connect=localhost:2181\n"+bad+"\n"), nil); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	_, err = ParseProperties(writeProps(t, "zookeeper.connect=localhost:2181\nlog.cleaner.threads=4\nlog.cleaner.dedupe.buffer.size=2097152\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "at least 1MB per cleaner thread") {
		t.Fatalf("small dedupe buffer: %v", err)
	}
	cfg, err = ParseProperties(writeProps(t, "zookeeper.connect=localhost:2181\nlog.cleaner.enable=false\nlog.cleaner.dedupe.buffer.size=0\n"), nil)
	if _, ok := cfg.cleanerConfig(); err != nil || ok {
		t.Fatalf("disabled cleaner: %v %v", err, ok)
	}
}

func TestCompactionTopicConfigs(t *testing.T) {
	base := logstore.DefaultConfig()
	c := applyTopicConfigs(base, map[string]string{
		"cleanup.policy": "compact", "delete.retention.ms": "50", "min.compaction.lag.ms": "60",
		"max.compaction.lag.ms": "9223372036854775807", "min.cleanable.dirty.ratio": "0.01",
	})
	if c.CleanupDelete || !c.CleanupCompact || c.DeleteRetention != 50*time.Millisecond || c.MinCompactionLag != 60*time.Millisecond ||
		c.MaxCompactionLag != time.Duration(math.MaxInt64) || c.MinCleanableDirtyRatio != 0.01 {
		t.Fatalf("topic configs applied: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c = applyTopicConfigs(base, map[string]string{"cleanup.policy": "delete, compact"})
	if !c.CleanupDelete || !c.CleanupCompact {
		t.Fatalf("compact,delete: %+v", c)
	}
}
