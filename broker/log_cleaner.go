package broker

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/zkafka/zkafka/logstore"
)

// This file wires the log cleaner: its settings (log.cleaner.*) and their
// checks. The compaction configs of topics and their broker defaults are
// applied with the other log configs (topic_config.go, Broker.logConfig).

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
