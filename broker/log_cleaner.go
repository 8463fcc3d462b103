package broker

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/zkafka/zkafka/logstore"
)

// This file wires log compaction: broker defaults of the topic-level
// compaction configs, the log cleaner's settings, and the topic configs
// (cleanup.policy, delete.retention.ms, min/max.compaction.lag.ms,
// min.cleanable.dirty.ratio) applied to the logs.

// applyCleanerDefaults sets the broker-level defaults of the compaction
// configs (log.cleanup.policy, log.cleaner.*) in a log configuration.
func (b *Broker) applyCleanerDefaults(c *logstore.Config) {
	applyCleanupPolicy(c, b.cfg.LogCleanupPolicy)
	c.DeleteRetention = b.cfg.LogCleanerDeleteRetention
	c.MinCompactionLag = b.cfg.LogCleanerMinCompactionLag
	c.MaxCompactionLag = b.cfg.LogCleanerMaxCompactionLag
	c.MinCleanableDirtyRatio = b.cfg.LogCleanerMinCleanableRatio
}

// cleanerConfig is the log cleaner's configuration; ok=false when
// log.cleaner.enable is false or log.cleaner.threads is 0.
func (b *Broker) cleanerConfig() (logstore.CleanerConfig, bool) { return b.cfg.cleanerConfig() }

func (c *Config) cleanerConfig() (logstore.CleanerConfig, bool) {
	cc := logstore.CleanerConfig{
		Threads:                int(c.LogCleanerThreads),
		DedupeBufferSize:       c.LogCleanerDedupeBufferSize,
		DedupeBufferLoadFactor: c.LogCleanerIOBufferLoadFactor,
		IOBufferSize:           int(c.LogCleanerIOBufferSize),
		Backoff:                c.LogCleanerBackoff,
	}
	if cc.Backoff == 0 {
		cc.Backoff = time.Millisecond // 0 is a legal log.cleaner.backoff.ms; a zero field would mean the default
	}
	return cc, c.LogCleanerEnable && cc.Threads > 0
}

// validateCleaner applies Kafka's check of the cleaner settings when the
// cleaner runs.
func (c *Config) validateCleaner() error {
	cc, ok := c.cleanerConfig()
	if !ok {
		return nil
	}
	if c.LogCleanerDedupeBufferSize/int64(c.LogCleanerThreads) < 1<<20 {
		return fmt.Errorf("log.cleaner.dedupe.buffer.size must be at least 1MB per cleaner thread (%d bytes for %d threads)", c.LogCleanerDedupeBufferSize, c.LogCleanerThreads)
	}
	if c.LogCleanerIOBufferSize < 1 {
		return fmt.Errorf("log.cleaner.io.buffer.size must be at least 1")
	}
	return cc.Validate()
}

func applyCleanupPolicy(c *logstore.Config, v string) {
	c.CleanupDelete, c.CleanupCompact = false, false
	for _, p := range strings.Split(v, ",") {
		switch strings.TrimSpace(p) {
		case "delete":
			c.CleanupDelete = true
		case "compact":
			c.CleanupCompact = true
		}
	}
}

// msDuration converts milliseconds to a Duration, saturating (Kafka's
// Long.MAX_VALUE defaults do not fit a Duration in nanoseconds).
func msDuration(ms int64) time.Duration {
	if ms > math.MaxInt64/int64(time.Millisecond) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(ms) * time.Millisecond
}

// longMsSetter parses milliseconds >= min, up to Long.MAX_VALUE.
func longMsSetter(field func(*Config) *time.Duration, min int64) setter {
	return func(c *Config, v string) string {
		n, ok := parseInt(v, min, math.MaxInt64)
		if !ok {
			return "an integer >= " + strconv.FormatInt(min, 10)
		}
		*field(c) = msDuration(n)
		return ""
	}
}

// floatSetter parses a number in (lo, hi] or, with loIncluded, [lo, hi].
func floatSetter(field func(*Config) *float64, exp string, lo, hi float64, loIncluded bool) setter {
	return func(c *Config, v string) string {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f > hi || f < lo || f == lo && !loIncluded {
			return exp
		}
		*field(c) = f
		return ""
	}
}

// compactionTopicConfigs apply the topic-level compaction configs to a
// log's configuration (their checks are in topicConfigs).
var compactionTopicConfigs = map[string]func(c *logstore.Config, v string){
	"cleanup.policy":            func(c *logstore.Config, v string) { applyCleanupPolicy(c, v) },
	"delete.retention.ms":       func(c *logstore.Config, v string) { c.DeleteRetention = msDuration(num(v)) },
	"min.compaction.lag.ms":     func(c *logstore.Config, v string) { c.MinCompactionLag = msDuration(num(v)) },
	"max.compaction.lag.ms":     func(c *logstore.Config, v string) { c.MaxCompactionLag = msDuration(num(v)) },
	"min.cleanable.dirty.ratio": func(c *logstore.Config, v string) { c.MinCleanableDirtyRatio, _ = strconv.ParseFloat(v, 64) },
}

func init() {
	for k, apply := range compactionTopicConfigs {
		if kind, ok := topicConfigs[k]; ok && kind.apply == nil {
			kind.apply = apply
			topicConfigs[k] = kind
		}
	}
}
