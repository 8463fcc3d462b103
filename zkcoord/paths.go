package zkcoord

import (
	"strconv"
	"strings"
)

// Every znode path of Kafka 2.4's ZooKeeper layout (ZK-LAYOUT.md §1), relative
// to the chroot. Functions taking names do not validate them; callers pass
// validated topic names and Kafka-sanitized entity names.
const (
	ConsumersPath                = "/consumers"
	BrokersPath                  = "/brokers"
	BrokerIDsPath                = "/brokers/ids"
	TopicsPath                   = "/brokers/topics"
	BrokerSeqIDPath              = "/brokers/seqid"
	ControllerPath               = "/controller"
	ControllerEpochPath          = "/controller_epoch"
	ClusterPath                  = "/cluster"
	ClusterIDPath                = "/cluster/id"
	ConfigPath                   = "/config"
	ConfigChangesPath            = "/config/changes"
	ConfigChangePrefix           = "config_change_"
	ConfigChangeSequentialPath   = "/config/changes/config_change_"
	AdminPath                    = "/admin"
	DeleteTopicsPath             = "/admin/delete_topics"
	ReassignPartitionsPath       = "/admin/reassign_partitions"
	PreferredReplicaElectionPath = "/admin/preferred_replica_election"
	IsrChangeNotificationPath    = "/isr_change_notification"
	IsrChangePrefix              = "isr_change_"
	IsrChangeSequentialPath      = "/isr_change_notification/isr_change_"
	LatestProducerIDBlockPath    = "/latest_producer_id_block"
	LogDirEventNotificationPath  = "/log_dir_event_notification"
	LogDirEventPrefix            = "log_dir_event_"
	LogDirEventSequentialPath    = "/log_dir_event_notification/log_dir_event_"
	KafkaACLPath                 = "/kafka-acl"
	KafkaACLChangesPath          = "/kafka-acl-changes"
	KafkaACLExtendedPath         = "/kafka-acl-extended"
	KafkaACLExtendedChangesPath  = "/kafka-acl-extended-changes"
	DelegationTokenPath          = "/delegation_token"
	DelegationTokensPath         = "/delegation_token/tokens"
	DelegationTokenChangesPath   = "/delegation_token/token_changes"
	// DefaultConfigEntity is Kafka's "<default>" entity name.
	DefaultConfigEntity = "<default>"
)

// Config entity types (ConfigType.all), the children of /config.
const (
	ConfigTypeTopic  = "topics"
	ConfigTypeClient = "clients"
	ConfigTypeUser   = "users"
	ConfigTypeBroker = "brokers"
)

// ConfigTypes is Kafka's ConfigType.all in its order.
var ConfigTypes = []string{ConfigTypeTopic, ConfigTypeClient, ConfigTypeUser, ConfigTypeBroker}

// PersistentPaths is Kafka 2.4's ZkData.PersistentZkPaths, in the order
// KafkaZkClient.createTopLevelPaths creates them.
var PersistentPaths = []string{
	ConsumersPath,
	BrokerIDsPath,
	TopicsPath,
	ConfigChangesPath,
	DeleteTopicsPath,
	BrokerSeqIDPath,
	IsrChangeNotificationPath,
	LatestProducerIDBlockPath,
	LogDirEventNotificationPath,
	"/config/topics",
	"/config/clients",
	"/config/users",
	"/config/brokers",
}

func itoa(i int32) string { return strconv.FormatInt(int64(i), 10) }

// BrokerIDPath is /brokers/ids/<id> (ephemeral broker registration).
func BrokerIDPath(id int32) string { return BrokerIDsPath + "/" + itoa(id) }

// TopicPath is /brokers/topics/<topic> (replica assignment).
func TopicPath(topic string) string { return TopicsPath + "/" + topic }

// TopicPartitionsPath is /brokers/topics/<topic>/partitions.
func TopicPartitionsPath(topic string) string { return TopicPath(topic) + "/partitions" }

// TopicPartitionPath is /brokers/topics/<topic>/partitions/<p>.
func TopicPartitionPath(topic string, partition int32) string {
	return TopicPartitionsPath(topic) + "/" + itoa(partition)
}

// PartitionStatePath is /brokers/topics/<topic>/partitions/<p>/state.
func PartitionStatePath(topic string, partition int32) string {
	return TopicPartitionPath(topic, partition) + "/state"
}

// ConfigEntityTypePath is /config/<entityType>.
func ConfigEntityTypePath(entityType string) string { return ConfigPath + "/" + entityType }

// ConfigEntityPath is /config/<entityType>/<entity> (entity may contain
// "/" for users/<u>/clients/<c>).
func ConfigEntityPath(entityType, entity string) string {
	return ConfigEntityTypePath(entityType) + "/" + entity
}

// ConfigTopicPath is /config/topics/<topic>.
func ConfigTopicPath(topic string) string { return ConfigEntityPath(ConfigTypeTopic, topic) }

// ConfigBrokerPath is /config/brokers/<id>.
func ConfigBrokerPath(id int32) string { return ConfigEntityPath(ConfigTypeBroker, itoa(id)) }

// ConfigChangePath is /config/changes/<name> for a notification child name.
func ConfigChangePath(name string) string { return ConfigChangesPath + "/" + name }

// DeleteTopicPath is /admin/delete_topics/<topic>.
func DeleteTopicPath(topic string) string { return DeleteTopicsPath + "/" + topic }

// IsrChangeNotificationChildPath is /isr_change_notification/<name>.
func IsrChangeNotificationChildPath(name string) string {
	return IsrChangeNotificationPath + "/" + name
}

// LogDirEventNotificationChildPath is /log_dir_event_notification/<name>.
func LogDirEventNotificationChildPath(name string) string {
	return LogDirEventNotificationPath + "/" + name
}

// SequenceNumber parses the 10-digit suffix of a sequential znode name
// ("isr_change_0000000042" with prefix "isr_change_" → 42).
func SequenceNumber(name, prefix string) (int64, bool) {
	if !strings.HasPrefix(name, prefix) {
		return 0, false
	}
	n, err := strconv.ParseInt(name[len(prefix):], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// Old (ZooKeeper-based) consumer group paths, ZK-LAYOUT.md §1.18 and §4.

// ConsumerGroupPath is /consumers/<group>.
func ConsumerGroupPath(group string) string { return ConsumersPath + "/" + group }

// ConsumerGroupIDsPath is /consumers/<group>/ids.
func ConsumerGroupIDsPath(group string) string { return ConsumerGroupPath(group) + "/ids" }

// ConsumerGroupIDPath is /consumers/<group>/ids/<consumerID> (ephemeral).
func ConsumerGroupIDPath(group, consumerID string) string {
	return ConsumerGroupIDsPath(group) + "/" + consumerID
}

// ConsumerGroupOwnersPath is /consumers/<group>/owners.
func ConsumerGroupOwnersPath(group string) string { return ConsumerGroupPath(group) + "/owners" }

// ConsumerGroupOwnersTopicPath is /consumers/<group>/owners/<topic>.
func ConsumerGroupOwnersTopicPath(group, topic string) string {
	return ConsumerGroupOwnersPath(group) + "/" + topic
}

// ConsumerGroupOwnerPath is /consumers/<group>/owners/<topic>/<p> (ephemeral).
func ConsumerGroupOwnerPath(group, topic string, partition int32) string {
	return ConsumerGroupOwnersTopicPath(group, topic) + "/" + itoa(partition)
}

// ConsumerGroupOffsetsPath is /consumers/<group>/offsets.
func ConsumerGroupOffsetsPath(group string) string { return ConsumerGroupPath(group) + "/offsets" }

// ConsumerGroupOffsetsTopicPath is /consumers/<group>/offsets/<topic>.
func ConsumerGroupOffsetsTopicPath(group, topic string) string {
	return ConsumerGroupOffsetsPath(group) + "/" + topic
}

// ConsumerGroupOffsetPath is /consumers/<group>/offsets/<topic>/<p> (persistent).
func ConsumerGroupOffsetPath(group, topic string, partition int32) string {
	return ConsumerGroupOffsetsTopicPath(group, topic) + "/" + itoa(partition)
}
