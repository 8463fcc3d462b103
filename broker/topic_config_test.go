package broker

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/zkafka/zkafka/logstore"
)

func TestValidateTopicConfigs(t *testing.T) {
	good := map[string]string{
		"segment.bytes": "1048576", "retention.ms": "-1", "cleanup.policy": "compact,delete",
		"min.cleanable.dirty.ratio": "0.5", "unclean.leader.election.enable": "TRUE", "compression.type": "producer",
	}
	if err := validateTopicConfigs(good); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []map[string]string{
		{"no.such.config": "1"},
		{"segment.bytes": "abc"},
		{"segment.bytes": "10"},
		{"cleanup.policy": "compact,forever"},
		{"min.cleanable.dirty.ratio": "1.5"},
		{"compression.type": "gzip"}, // would need recompression: refused, not ignored
		{"message.timestamp.type": "LogAppendTime"},
	} {
		if err := validateTopicConfigs(bad); !errors.Is(err, errInvalidConfig) {
			t.Fatalf("%v: err %v, want invalid config", bad, err)
		}
	}
}

func TestApplyTopicConfigs(t *testing.T) {
	base := logstore.DefaultConfig()
	c := applyTopicConfigs(base, map[string]string{
		"segment.bytes": "1048576", "segment.ms": "60000", "max.message.bytes": "2000000",
		"flush.messages": "1", "index.interval.bytes": "8192", "retention.ms": "1000",
		"segment.index.bytes": "oops", // invalid: keeps the broker's value
	})
	if c.SegmentBytes != 1048576 || c.RollTime != time.Minute || c.MaxMessageBytes != 2000000 ||
		c.FlushIntervalMessages != 1 || c.IndexIntervalBytes != 8192 || c.IndexMaxBytes != base.IndexMaxBytes {
		t.Fatalf("applied %+v", c)
	}
}

func TestApplyRetentionAndCleanupConfigs(t *testing.T) {
	base := logstore.DefaultConfig()
	for _, tc := range []struct {
		in    map[string]string
		check func(c logstore.Config) bool
	}{
		{map[string]string{"retention.ms": "-1", "retention.bytes": "-1"}, func(c logstore.Config) bool { return c.RetentionTime < 0 && c.RetentionBytes == -1 }},
		{map[string]string{"retention.ms": "0"}, func(c logstore.Config) bool { return c.RetentionTime == 0 }}, // legal in Kafka: delete at once
		{map[string]string{"retention.ms": "9223372036854775807"}, func(c logstore.Config) bool { return c.RetentionTime == math.MaxInt64 }},
		{map[string]string{"retention.bytes": "1048576"}, func(c logstore.Config) bool { return c.RetentionBytes == 1<<20 }},
		{map[string]string{"cleanup.policy": "compact"}, func(c logstore.Config) bool { return c.CleanupCompact && !c.CleanupDelete }},
		{map[string]string{"cleanup.policy": "delete, compact"}, func(c logstore.Config) bool { return c.CleanupCompact && c.CleanupDelete }},
		{map[string]string{"delete.retention.ms": "5000", "min.compaction.lag.ms": "7", "max.compaction.lag.ms": "9"},
			func(c logstore.Config) bool {
				return c.DeleteRetention == 5*time.Second && c.MinCompactionLag == 7*time.Millisecond && c.MaxCompactionLag == 9*time.Millisecond
			}},
		{map[string]string{"min.cleanable.dirty.ratio": "0.25"}, func(c logstore.Config) bool { return c.MinCleanableDirtyRatio == 0.25 }},
		{map[string]string{"min.cleanable.dirty.ratio": "0"}, func(c logstore.Config) bool { return c.MinCleanableDirtyRatio == 0 }},
	} {
		if err := validateTopicConfigs(tc.in); err != nil {
			t.Fatalf("%v: %v", tc.in, err)
		}
		c := applyTopicConfigs(base, tc.in)
		if err := c.Validate(); err != nil || !tc.check(c) {
			t.Errorf("%v: applied %+v (%v)", tc.in, c, err)
		}
	}
	for _, bad := range []map[string]string{
		{"retention.ms": "-2"},
		{"cleanup.policy": ""},
		{"min.cleanable.dirty.ratio": "-0.1"},
		{"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5"},
		{"max.compaction.lag.ms": "0"},
	} {
		if err := validateTopicConfigs(bad); !errors.Is(err, errInvalidConfig) {
			t.Errorf("%v: err %v, want invalid config", bad, err)
		}
	}
}

func TestBrokerRetentionDefaults(t *testing.T) {
	cfg, err := configFromSettings(map[string]setting{
		"zookeeper.connect":                             {value: "localhost:2181"},
		"log.retention.minutes":                         {value: "30"},
		"log.retention.bytes":                           {value: "4096"},
		"log.cleanup.policy":                            {value: "compact,delete"},
		"log.cleaner.delete.retention.ms":               {value: "1000"},
		"log.cleaner.min.cleanable.ratio":               {value: "0.1"},
		"log.cleaner.min.compaction.lag.ms":             {value: "2"},
		"log.cleaner.max.compaction.lag.ms":             {value: "3"},
		"log.segment.delete.delay.ms":                   {value: "0"},
		"log.retention.check.interval.ms":               {value: "250"},
		"log.flush.scheduler.interval.ms":               {value: "100"},
		"log.flush.offset.checkpoint.interval.ms":       {value: "0"},
		"log.flush.start.offset.checkpoint.interval.ms": {value: "700"},
		"transactional.id.expiration.ms":                {value: "3600000"},
		"producer.id.expiration.check.interval.ms":      {value: "1500"},
	}, "server.properties")
	if err != nil {
		t.Fatal(err)
	}
	b := &Broker{cfg: cfg}
	c := b.logConfig()
	if c.RetentionTime != 30*time.Minute || c.RetentionBytes != 4096 || !c.CleanupDelete || !c.CleanupCompact ||
		c.DeleteRetention != time.Second || c.MinCleanableDirtyRatio != 0.1 || c.MinCompactionLag != 2*time.Millisecond ||
		c.MaxCompactionLag != 3*time.Millisecond || c.FileDeleteDelay > time.Millisecond || c.ProducerIDExpiration != time.Hour {
		t.Fatalf("log config %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	bg := b.backgroundConfig()
	if bg.RetentionCheckInterval != 250*time.Millisecond || bg.FlushCheckInterval != 100*time.Millisecond ||
		bg.RecoveryCheckpointInterval >= 0 || bg.LogStartCheckpointInterval != 700*time.Millisecond ||
		bg.ProducerIDExpirationCheckInterval != 1500*time.Millisecond {
		t.Fatalf("background config %+v", bg)
	}
	// Kafka's defaults.
	def, err := configFromSettings(map[string]setting{"zookeeper.connect": {value: "localhost:2181"}}, "server.properties")
	if err != nil {
		t.Fatal(err)
	}
	b = &Broker{cfg: def}
	c = b.logConfig()
	want := logstore.DefaultConfig()
	if c.RetentionTime != want.RetentionTime || c.RetentionBytes != -1 || !c.CleanupDelete || c.CleanupCompact ||
		c.DeleteRetention != want.DeleteRetention || c.MinCleanableDirtyRatio != 0.5 || c.MaxCompactionLag != want.MaxCompactionLag ||
		c.FileDeleteDelay != time.Minute || c.ProducerIDExpiration != 7*24*time.Hour {
		t.Fatalf("default log config %+v", c)
	}
	if bg := b.backgroundConfig(); bg.RetentionCheckInterval != 5*time.Minute || bg.FlushCheckInterval != math.MaxInt64 ||
		bg.RecoveryCheckpointInterval != time.Minute || bg.LogStartCheckpointInterval != time.Minute ||
		bg.ProducerIDExpirationCheckInterval != 10*time.Minute {
		t.Fatalf("default background config %+v", bg)
	}
	if _, err := configFromSettings(map[string]setting{"zookeeper.connect": {value: "localhost:2181"}, "log.cleanup.policy": {value: "forever"}}, "p"); err == nil {
		t.Fatal("bad log.cleanup.policy accepted")
	}
	for _, bad := range []string{"0", "-1", "2147483648", "7d"} {
		for _, k := range []string{"transactional.id.expiration.ms", "producer.id.expiration.check.interval.ms"} {
			var ce *ConfigError
			if _, err := configFromSettings(map[string]setting{"zookeeper.connect": {value: "localhost:2181"}, k: {value: bad}}, "p"); !errors.As(err, &ce) || ce.Key != k {
				t.Fatalf("%s=%s: %v", k, bad, err)
			}
		}
	}
}
