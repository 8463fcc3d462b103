package broker

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/zkafka/zkafka/logstore"
	"github.com/zkafka/zkafka/zkcoord"
)

// topicConfigKind says how a topic-level config (Kafka 2.4's LogConfig
// names) is checked and, for those the log store honours today, applied.
type topicConfigKind struct {
	check func(v string) error
	apply func(c *logstore.Config, v string) // nil: stored in ZooKeeper, not enforced yet
}

func atLeast(min int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("expected an integer")
		}
		if n < min {
			return fmt.Errorf("value must be at least %d", min)
		}
		return nil
	}
}

func oneOf(values ...string) func(string) error {
	return func(v string) error {
		for _, ok := range values {
			if v == ok {
				return nil
			}
		}
		return fmt.Errorf("expected one of %s", strings.Join(values, ", "))
	}
}

func isBool(v string) error { return oneOf("true", "false")(strings.ToLower(v)) }

func isRatio(v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1 {
		return fmt.Errorf("expected a number between 0 and 1")
	}
	return nil
}

func isCleanupPolicy(v string) error {
	for _, p := range strings.Split(v, ",") {
		if err := oneOf("compact", "delete")(strings.TrimSpace(p)); err != nil {
			return err
		}
	}
	return nil
}

func anyString(string) error { return nil }

func num(v string) int64 { n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64); return n }

// msDuration converts milliseconds to a Duration, saturating (Kafka's
// Long.MaxValue defaults overflow time.Duration).
func msDuration(ms int64) time.Duration {
	if ms > math.MaxInt64/int64(time.Millisecond) {
		return math.MaxInt64
	}
	return time.Duration(ms) * time.Millisecond
}

// msOrUnlimited is msDuration with a negative value (-1) kept as "no limit".
func msOrUnlimited(ms int64) time.Duration {
	if ms < 0 {
		return -1
	}
	return msDuration(ms)
}

// topicConfigs lists every topic-level config Kafka 2.4 knows. Values that
// would change what the broker does but are not implemented yet are refused
// (compression.type other than producer, LogAppendTime) rather than stored
// and silently ignored; broker/UNSUPPORTED.md lists the rest.
var topicConfigs = map[string]topicConfigKind{
	"segment.bytes":                           {atLeast(14), func(c *logstore.Config, v string) { c.SegmentBytes = num(v) }},
	"segment.ms":                              {atLeast(1), func(c *logstore.Config, v string) { c.RollTime = time.Duration(num(v)) * time.Millisecond }},
	"segment.index.bytes":                     {atLeast(4), func(c *logstore.Config, v string) { c.IndexMaxBytes = int32(min(num(v), 1<<31-1)) }},
	"index.interval.bytes":                    {atLeast(0), func(c *logstore.Config, v string) { c.IndexIntervalBytes = int32(min(num(v), 1<<31-1)) }},
	"max.message.bytes":                       {atLeast(0), func(c *logstore.Config, v string) { c.MaxMessageBytes = int32(min(num(v), 1<<31-1)) }},
	"flush.messages":                          {atLeast(0), func(c *logstore.Config, v string) { c.FlushIntervalMessages = max(num(v), 1) }},
	"flush.ms":                                {atLeast(0), func(c *logstore.Config, v string) { c.FlushInterval = time.Duration(num(v)) * time.Millisecond }},
	"file.delete.delay.ms":                    {atLeast(0), func(c *logstore.Config, v string) { c.FileDeleteDelay = time.Duration(num(v)) * time.Millisecond }},
	"retention.ms":                            {atLeast(-1), func(c *logstore.Config, v string) { c.RetentionTime = msOrUnlimited(num(v)) }},
	"retention.bytes":                         {atLeast(-1 << 62), func(c *logstore.Config, v string) { c.RetentionBytes = max(num(v), -1) }},
	"segment.jitter.ms":                       {atLeast(0), nil},
	"delete.retention.ms":                     {atLeast(0), func(c *logstore.Config, v string) { c.DeleteRetention = msDuration(num(v)) }},
	"min.compaction.lag.ms":                   {atLeast(0), func(c *logstore.Config, v string) { c.MinCompactionLag = msDuration(num(v)) }},
	"max.compaction.lag.ms":                   {atLeast(1), func(c *logstore.Config, v string) { c.MaxCompactionLag = msDuration(num(v)) }},
	"min.cleanable.dirty.ratio":               {isRatio, func(c *logstore.Config, v string) { c.MinCleanableDirtyRatio, _ = strconv.ParseFloat(v, 64) }},
	"cleanup.policy":                          {isCleanupPolicy, func(c *logstore.Config, v string) { c.CleanupDelete, c.CleanupCompact, _ = parseCleanupPolicy(v) }},
	"min.insync.replicas":                     {atLeast(1), nil},
	"unclean.leader.election.enable":          {isBool, nil},
	"preallocate":                             {isBool, nil},
	"message.downconversion.enable":           {isBool, nil},
	"message.format.version":                  {anyString, nil},
	"message.timestamp.difference.max.ms":     {atLeast(0), nil},
	"leader.replication.throttled.replicas":   {anyString, nil},
	"follower.replication.throttled.replicas": {anyString, nil},
	"compression.type":                        {oneOf("producer"), nil},
	"message.timestamp.type":                  {oneOf("CreateTime"), nil},
}

// validateTopicConfigs checks topic config overrides as Kafka's
// LogConfig.validate does: known names, well-formed values, and
// min.compaction.lag.ms <= max.compaction.lag.ms (LogConfig.validateValues).
func validateTopicConfigs(configs map[string]string) error {
	for k, v := range configs {
		kind, ok := topicConfigs[k]
		if !ok {
			return zkcoord.KafkaErrorf(errInvalidConfig, "Unknown topic config name: %s", k)
		}
		if err := kind.check(v); err != nil {
			return zkcoord.KafkaErrorf(errInvalidConfig, "Invalid value %s for configuration %s: %v", v, k, err)
		}
	}
	minLag, maxLag := int64(0), int64(math.MaxInt64)
	if v, ok := configs["min.compaction.lag.ms"]; ok {
		minLag = num(v)
	}
	if v, ok := configs["max.compaction.lag.ms"]; ok {
		maxLag = num(v)
	}
	if minLag > maxLag {
		return zkcoord.KafkaErrorf(errInvalidConfig, "conflict topic config setting min.compaction.lag.ms (%d) > max.compaction.lag.ms (%d)", minLag, maxLag)
	}
	return nil
}

// applyTopicConfigs returns base with the overrides the log store honours;
// invalid values (written by another tool) are ignored with their default.
func applyTopicConfigs(base logstore.Config, configs map[string]string) logstore.Config {
	c := base
	for k, v := range configs {
		if kind, ok := topicConfigs[k]; ok && kind.apply != nil && kind.check(v) == nil {
			kind.apply(&c, v)
		}
	}
	return c
}
