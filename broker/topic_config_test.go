package broker

import (
	"errors"
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
