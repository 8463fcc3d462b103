package broker

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/zkcoord"
)

// Config sources (DescribeConfigsResponse.ConfigSource ids).
const (
	sourceTopic         = kmsg.ConfigSourceDynamicTopicConfig         // 1
	sourceDynamicBroker = kmsg.ConfigSourceDynamicBrokerConfig        // 2
	sourceDynamicDef    = kmsg.ConfigSourceDynamicDefaultBrokerConfig // 3
	sourceStaticBroker  = kmsg.ConfigSourceStaticBrokerConfig         // 4
	sourceDefault       = kmsg.ConfigSourceDefaultConfig              // 5
)

// Config resource types (ConfigResource.Type ids).
const (
	resourceTopic        = 2
	resourceBroker       = 4
	resourceBrokerLogger = 8
)

// resourceTypeName is Java's ConfigResource.Type name for an id.
func resourceTypeName(t int8) string {
	switch t {
	case resourceTopic:
		return "TOPIC"
	case resourceBroker:
		return "BROKER"
	case resourceBrokerLogger:
		return "BROKER_LOGGER"
	}
	return "UNKNOWN"
}

// configResourceString is Java's ConfigResource.toString, which Kafka puts
// in its error messages.
func configResourceString(t int8, name string) string {
	return fmt.Sprintf("ConfigResource(type=%s, name='%s')", resourceTypeName(t), name)
}

// topicConfigSynonym maps each topic config to the broker config that
// provides its default (LogConfig.TopicConfigSynonyms); the replication
// throttles have none.
var topicConfigSynonym = map[string]string{
	"segment.bytes":                       "log.segment.bytes",
	"segment.ms":                          "log.roll.ms",
	"segment.jitter.ms":                   "log.roll.jitter.ms",
	"segment.index.bytes":                 "log.index.size.max.bytes",
	"flush.messages":                      "log.flush.interval.messages",
	"flush.ms":                            "log.flush.interval.ms",
	"retention.bytes":                     "log.retention.bytes",
	"retention.ms":                        "log.retention.ms",
	"max.message.bytes":                   "message.max.bytes",
	"index.interval.bytes":                "log.index.interval.bytes",
	"delete.retention.ms":                 "log.cleaner.delete.retention.ms",
	"min.compaction.lag.ms":               "log.cleaner.min.compaction.lag.ms",
	"max.compaction.lag.ms":               "log.cleaner.max.compaction.lag.ms",
	"file.delete.delay.ms":                "log.segment.delete.delay.ms",
	"min.cleanable.dirty.ratio":           "log.cleaner.min.cleanable.ratio",
	"cleanup.policy":                      "log.cleanup.policy",
	"unclean.leader.election.enable":      "unclean.leader.election.enable",
	"min.insync.replicas":                 "min.insync.replicas",
	"compression.type":                    "compression.type",
	"preallocate":                         "log.preallocate",
	"message.format.version":              "log.message.format.version",
	"message.timestamp.type":              "log.message.timestamp.type",
	"message.timestamp.difference.max.ms": "log.message.timestamp.difference.max.ms",
	"message.downconversion.enable":       "log.message.downconversion.enable",
}

// listConfigs are the topic configs of ConfigDef type LIST.
var listConfigs = map[string]bool{
	"cleanup.policy":                          true,
	"leader.replication.throttled.replicas":   true,
	"follower.replication.throttled.replicas": true,
}

// brokerSynonyms is KafkaConfig's brokerConfigSynonyms: the names that set
// one broker setting, highest precedence first.
func brokerSynonyms(name string) []string {
	switch name {
	case "log.roll.ms", "log.roll.hours":
		return []string{"log.roll.ms", "log.roll.hours"}
	case "log.roll.jitter.ms", "log.roll.jitter.hours":
		return []string{"log.roll.jitter.ms", "log.roll.jitter.hours"}
	case "log.flush.interval.ms":
		return []string{"log.flush.interval.ms", "log.flush.scheduler.interval.ms"}
	case "log.retention.ms", "log.retention.minutes", "log.retention.hours":
		return []string{"log.retention.ms", "log.retention.minutes", "log.retention.hours"}
	}
	return []string{name}
}

// brokerDefaults holds Kafka 2.4's default of every broker config zkafka
// describes; a config whose default is null is absent. It covers the keys
// zkafka reads (keyOrder, acceptedKeys) and the broker synonyms of topic
// configs.
var brokerDefaults = map[string]string{
	"broker.id":                                "-1",
	"broker.id.generation.enable":              "true",
	"reserved.broker.max.id":                   "1000",
	"listener.security.protocol.map":           "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
	"host.name":                                "",
	"port":                                     "9092",
	"log.dir":                                  "/tmp/kafka-logs",
	"zookeeper.session.timeout.ms":             "6000",
	"num.partitions":                           "1",
	"default.replication.factor":               "1",
	"auto.create.topics.enable":                "true",
	"delete.topic.enable":                      "true",
	"log.segment.bytes":                        "1073741824",
	"log.roll.hours":                           "168",
	"log.roll.jitter.hours":                    "0",
	"log.index.size.max.bytes":                 "10485760",
	"log.index.interval.bytes":                 "4096",
	"log.retention.hours":                      "168",
	"log.retention.bytes":                      "-1",
	"log.retention.check.interval.ms":          "300000",
	"log.flush.interval.messages":              "9223372036854775807",
	"log.flush.scheduler.interval.ms":          "9223372036854775807",
	"message.max.bytes":                        "1000012",
	"socket.request.max.bytes":                 "104857600",
	"socket.send.buffer.bytes":                 "102400",
	"socket.receive.buffer.bytes":              "102400",
	"min.insync.replicas":                      "1",
	"unclean.leader.election.enable":           "false",
	"controlled.shutdown.enable":               "true",
	"replica.lag.time.max.ms":                  "10000",
	"offsets.topic.replication.factor":         "3",
	"offsets.topic.num.partitions":             "50",
	"group.initial.rebalance.delay.ms":         "3000",
	"num.network.threads":                      "3",
	"num.io.threads":                           "8",
	"num.recovery.threads.per.data.dir":        "1",
	"transaction.state.log.replication.factor": "3",
	"transaction.state.log.min.isr":            "2",
	"log.cleaner.delete.retention.ms":          "86400000",
	"log.cleaner.min.compaction.lag.ms":        "0",
	"log.cleaner.max.compaction.lag.ms":        "9223372036854775807",
	"log.segment.delete.delay.ms":              "60000",
	"log.cleaner.min.cleanable.ratio":          "0.5",
	"log.cleanup.policy":                       "delete",
	"compression.type":                         "producer",
	"log.preallocate":                          "false",
	"log.message.format.version":               "2.4-IV1",
	"log.message.timestamp.type":               "CreateTime",
	"log.message.timestamp.difference.max.ms":  "9223372036854775807",
	"log.message.downconversion.enable":        "true",
	"transactional.id.expiration.ms":           "604800000",
	// Not a Kafka 2.4 key (a constant there); Kafka 3.4's default.
	"producer.id.expiration.check.interval.ms": "600000",
}

// describedBrokerKeys lists the broker configs DescribeConfigs shows for a
// broker: every key zkafka reads, sorted.
func describedBrokerKeys() []string {
	seen := map[string]bool{}
	var keys []string
	for _, k := range keyOrder {
		seen[k] = true
		keys = append(keys, k)
	}
	for k := range acceptedKeys {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// configSynonyms is AdminManager.configSynonyms for zkafka, whose brokers
// have no dynamic configs: the static (server.properties) entries, then the
// defaults, of each synonym name; entries before the first one named name
// are dropped, as Kafka does.
func (b *Broker) configSynonyms(name string, synonyms []string) []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym {
	var out []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym
	add := func(n, v string, src kmsg.ConfigSource) {
		s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
		s.Name, s.Value, s.Source = n, kmsg.StringPtr(v), src
		out = append(out, s)
	}
	for _, n := range synonyms {
		if v, ok := b.cfg.Properties[n]; ok {
			add(n, v, sourceStaticBroker)
		}
	}
	for _, n := range synonyms {
		if v, ok := brokerDefaults[n]; ok {
			add(n, v, sourceDefault)
		}
	}
	for len(out) > 0 && out[0].Name != name {
		out = out[1:]
	}
	return out
}

func msString(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// topicDefault is a topic config's value when the topic does not override
// it: the broker's effective setting (KafkaServer.copyKafkaConfigToLog),
// else Kafka's default.
func (b *Broker) topicDefault(name string) string {
	c := b.cfg
	switch name {
	case "segment.bytes":
		return strconv.FormatInt(c.LogSegmentBytes, 10)
	case "segment.ms":
		return msString(c.LogRollTime)
	case "segment.jitter.ms":
		return "0"
	case "segment.index.bytes":
		return strconv.FormatInt(int64(c.LogIndexSizeMaxBytes), 10)
	case "flush.messages":
		return strconv.FormatInt(c.LogFlushIntervalMessages, 10)
	case "flush.ms":
		if c.LogFlushInterval <= 0 { // unset: log.flush.scheduler.interval.ms
			return brokerDefaults["log.flush.scheduler.interval.ms"]
		}
		return msString(c.LogFlushInterval)
	case "retention.bytes":
		return strconv.FormatInt(c.LogRetentionBytes, 10)
	case "retention.ms":
		if c.LogRetentionTime < 0 {
			return "-1"
		}
		return msString(c.LogRetentionTime)
	case "max.message.bytes":
		return strconv.FormatInt(int64(c.MessageMaxBytes), 10)
	case "index.interval.bytes":
		return strconv.FormatInt(int64(c.LogIndexIntervalBytes), 10)
	case "unclean.leader.election.enable":
		return strconv.FormatBool(c.UncleanLeaderElectionEnable)
	case "min.insync.replicas":
		return strconv.FormatInt(int64(c.MinInsyncReplicas), 10)
	case "leader.replication.throttled.replicas", "follower.replication.throttled.replicas":
		return ""
	}
	return brokerDefaults[topicConfigSynonym[name]]
}

// normalizeTopicValue is the value as Kafka shows it after parsing it
// (ConfigDef.convertToString): trimmed, lists without blanks around commas,
// booleans in lower case.
func normalizeTopicValue(name, v string) string {
	v = strings.TrimSpace(v)
	switch {
	case listConfigs[name]:
		parts := strings.Split(v, ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return strings.Join(parts, ",")
	case name == "unclean.leader.election.enable" || name == "preallocate" || name == "message.downconversion.enable":
		return strings.ToLower(v)
	}
	return v
}

// wanted reports whether a config is asked for: names nil = all.
func wanted(names []string, name string) bool {
	if names == nil {
		return true
	}
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// describeTopicConfigs builds a topic's DescribeConfigs entries from its
// overrides (AdminManager.createTopicConfigEntry), sorted by name.
func (b *Broker) describeTopicConfigs(overrides map[string]string, names []string, synonyms bool, version int16) []kmsg.DescribeConfigsResponseResourceConfig {
	keys := make([]string, 0, len(topicConfigs))
	for k := range topicConfigs {
		if wanted(names, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]kmsg.DescribeConfigsResponseResourceConfig, 0, len(keys))
	for _, k := range keys {
		value := b.topicDefault(k)
		v, overridden := overrides[k]
		if overridden {
			value = normalizeTopicValue(k, v)
		}
		var all []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym
		if bk, ok := topicConfigSynonym[k]; ok {
			all = b.configSynonyms(bk, brokerSynonyms(bk))
		}
		if overridden {
			s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			s.Name, s.Value, s.Source = k, kmsg.StringPtr(value), sourceTopic
			all = append([]kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{s}, all...)
		}
		e := kmsg.NewDescribeConfigsResponseResourceConfig()
		e.Name, e.Value, e.ReadOnly = k, kmsg.StringPtr(value), false
		e.Source = sourceDefault
		if len(all) > 0 {
			e.Source = all[0].Source
		}
		e.IsDefault = version == 0 && e.Source == sourceDefault
		if synonyms && version >= 1 {
			e.ConfigSynonyms = all
		}
		out = append(out, e)
	}
	return out
}

// describeBrokerConfigs builds this broker's DescribeConfigs entries
// (AdminManager.createBrokerConfigEntry): its static configuration; zkafka
// changes no broker config at run time, so every entry is read-only.
func (b *Broker) describeBrokerConfigs(names []string, synonyms bool, version int16) []kmsg.DescribeConfigsResponseResourceConfig {
	var out []kmsg.DescribeConfigsResponseResourceConfig
	for _, k := range describedBrokerKeys() {
		if !wanted(names, k) {
			continue
		}
		all := b.configSynonyms(k, brokerSynonyms(k))
		e := kmsg.NewDescribeConfigsResponseResourceConfig()
		e.Name, e.ReadOnly = k, true
		if v, ok := b.cfg.Properties[k]; ok {
			e.Value = kmsg.StringPtr(v)
		} else if v, ok := brokerDefaults[k]; ok {
			e.Value = kmsg.StringPtr(v)
		}
		e.Source = sourceDefault
		if len(all) > 0 {
			e.Source = all[0].Source
		}
		e.IsDefault = version == 0 && e.Source == sourceDefault
		if synonyms && version >= 1 {
			e.ConfigSynonyms = all
		}
		out = append(out, e)
	}
	return out
}

// brokerResourceID parses a broker resource name (resourceNameToBrokerId).
func brokerResourceID(name string) (int32, error) {
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil {
		return 0, zkcoord.KafkaErrorf(errInvalidRequest, "Broker id must be an integer, but it is: %s", name)
	}
	return int32(id), nil
}

// Topic config errors of CheckTopicConfigs.
var (
	// ErrUnknownTopicConfig: a name that is not a topic config (Kafka's
	// InvalidConfigurationException, INVALID_CONFIG).
	ErrUnknownTopicConfig = fmt.Errorf("%w: unknown topic config", errInvalidConfig)
	// ErrBadTopicConfigValue: a value its config does not accept (Kafka's
	// ConfigException, INVALID_REQUEST from a broker).
	ErrBadTopicConfigValue = fmt.Errorf("%w: bad topic config value", errInvalidRequest)
)

// CheckTopicConfigs checks a topic's config overrides as Kafka's
// LogConfig.validate does, for the broker and for tools writing ZooKeeper:
// first unknown names ("Unknown topic config name: k", ErrUnknownTopicConfig),
// then values ("Invalid value v for configuration k: why",
// ErrBadTopicConfigValue). Keys are checked in sorted order.
func CheckTopicConfigs(configs map[string]string) error {
	keys := sortedKeys(configs)
	for _, k := range keys {
		if _, ok := topicConfigs[k]; !ok {
			return zkcoord.KafkaErrorf(ErrUnknownTopicConfig, "Unknown topic config name: %s", k)
		}
	}
	for _, k := range keys {
		if err := topicConfigs[k].check(configs[k]); err != nil {
			return zkcoord.KafkaErrorf(ErrBadTopicConfigValue, "Invalid value %s for configuration %s: %v", configs[k], k, err)
		}
	}
	return nil
}

// validateTopicAlter is CheckTopicConfigs with AdminManager.alterConfigs'
// wording: a bad value's message names the resource.
func validateTopicAlter(topic string, configs map[string]string) error {
	err := CheckTopicConfigs(configs)
	if errors.Is(err, ErrBadTopicConfigValue) {
		return zkcoord.KafkaErrorf(ErrBadTopicConfigValue, "Invalid config value for resource %s: %v", configResourceString(resourceTopic, topic), err)
	}
	return err
}
