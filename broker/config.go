package broker

import "time"

// Config is a broker's configuration, read from a Kafka server.properties file
// (Kafka's own keys) by ParseProperties. Defaults mirror Kafka 2.4.
type Config struct {
	BrokerID int32 // broker.id; -1 (Kafka's default) = generate one in ZooKeeper

	BrokerIDGenerationEnable bool  // broker.id.generation.enable, default true
	ReservedBrokerMaxID      int32 // reserved.broker.max.id, default 1000; generated ids start above it

	// Listeners and AdvertisedListeners are "NAME://host:port" entries.
	// Only PLAINTEXT is supported for now.
	Listeners           []Endpoint // listeners, default PLAINTEXT://:9092
	AdvertisedListeners []Endpoint // advertised.listeners, default = listeners (empty host -> hostname)
	// ListenerSecurityProtocolMap maps listener name to protocol (listener.security.protocol.map).
	ListenerSecurityProtocolMap map[string]string
	// InterBrokerListenerName is inter.broker.listener.name; "" = the
	// PLAINTEXT listener (security.inter.broker.protocol's default).
	InterBrokerListenerName string
	Rack                    string // broker.rack

	LogDirs []string // log.dirs (or log.dir), default /tmp/kafka-logs

	ZooKeeperConnect           string        // zookeeper.connect, "host:port[,host:port][/chroot]"
	ZooKeeperSessionTimeout    time.Duration // zookeeper.session.timeout.ms, default 6000
	ZooKeeperConnectionTimeout time.Duration // zookeeper.connection.timeout.ms, default = session timeout

	NumPartitions            int32 // num.partitions, default 1
	DefaultReplicationFactor int16 // default.replication.factor, default 1
	AutoCreateTopicsEnable   bool  // auto.create.topics.enable, default true
	DeleteTopicEnable        bool  // delete.topic.enable, default true

	LogSegmentBytes          int64         // log.segment.bytes, default 1073741824
	LogRollTime              time.Duration // log.roll.ms / log.roll.hours, default 168h
	LogIndexSizeMaxBytes     int32         // log.index.size.max.bytes, default 10485760
	LogIndexIntervalBytes    int32         // log.index.interval.bytes, default 4096
	LogRetentionTime         time.Duration // log.retention.ms/minutes/hours, default 168h; -1 = no time limit
	LogRetentionBytes        int64         // log.retention.bytes, default -1
	LogFlushIntervalMessages int64         // log.flush.interval.messages, default math.MaxInt64
	LogFlushInterval         time.Duration // log.flush.interval.ms, default 0 = unset

	// Compaction (log.cleanup.policy and log.cleaner.*).
	LogCleanerEnable             bool          // log.cleaner.enable, default true
	LogCleanerThreads            int32         // log.cleaner.threads, default 1 (0 = no cleaning)
	LogCleanerDedupeBufferSize   int64         // log.cleaner.dedupe.buffer.size, default 134217728
	LogCleanerIOBufferSize       int32         // log.cleaner.io.buffer.size, default 524288
	LogCleanerIOBufferLoadFactor float64       // log.cleaner.io.buffer.load.factor, default 0.9
	LogCleanerBackoff            time.Duration // log.cleaner.backoff.ms, default 15000

	MessageMaxBytes             int32 // message.max.bytes, default 1000012
	SocketRequestMaxBytes       int32 // socket.request.max.bytes, default 104857600
	MinInsyncReplicas           int16 // min.insync.replicas, default 1
	UncleanLeaderElectionEnable bool  // unclean.leader.election.enable, default false

	ControlledShutdownEnable       bool          // controlled.shutdown.enable, default true
	ControlledShutdownMaxRetries   int32         // controlled.shutdown.max.retries, default 3
	ControlledShutdownRetryBackoff time.Duration // controlled.shutdown.retry.backoff.ms, default 5000

	AutoLeaderRebalanceEnable          bool          // auto.leader.rebalance.enable, default true
	LeaderImbalancePerBrokerPercentage int32         // leader.imbalance.per.broker.percentage, default 10
	LeaderImbalanceCheckInterval       time.Duration // leader.imbalance.check.interval.seconds, default 300

	LogRetentionCheckInterval     time.Duration // log.retention.check.interval.ms, default 300000
	SocketSendBufferBytes         int32         // socket.send.buffer.bytes, default 102400; -1 = OS default
	SocketReceiveBufferBytes      int32         // socket.receive.buffer.bytes, default 102400; -1 = OS default
	ReplicaLagTimeMax             time.Duration // replica.lag.time.max.ms, default 10000
	ReplicaFetchWaitMax           time.Duration // replica.fetch.wait.max.ms, default 500
	ReplicaFetchMinBytes          int32         // replica.fetch.min.bytes, default 1
	ReplicaFetchMaxBytes          int32         // replica.fetch.max.bytes, default 1048576
	ReplicaFetchResponseMaxBytes  int32         // replica.fetch.response.max.bytes, default 10485760
	ReplicaFetchBackoff           time.Duration // replica.fetch.backoff.ms, default 1000
	ReplicaSocketTimeout          time.Duration // replica.socket.timeout.ms, default 30000
	OffsetsTopicReplicationFactor int16         // offsets.topic.replication.factor, default 3 (shipped file: 1)
	OffsetsTopicNumPartitions     int32         // offsets.topic.num.partitions, default 50
	GroupInitialRebalanceDelay    time.Duration // group.initial.rebalance.delay.ms, default 3000 (shipped file: 0)
	GroupMinSessionTimeout        time.Duration // group.min.session.timeout.ms, default 6000
	GroupMaxSessionTimeout        time.Duration // group.max.session.timeout.ms, default 1800000
	GroupMaxSize                  int32         // group.max.size, default 2147483647
	OffsetMetadataMaxBytes        int32         // offset.metadata.max.bytes, default 4096

	// Retention, cleanup and the log manager's schedule (logstore.Config
	// defaults for every topic, and logstore.BackgroundConfig).
	LogCleanupDelete                      bool          // log.cleanup.policy contains "delete" (default "delete")
	LogCleanupCompact                     bool          // log.cleanup.policy contains "compact"
	LogCleanerDeleteRetention             time.Duration // log.cleaner.delete.retention.ms, default 86400000
	LogCleanerMinCleanableRatio           float64       // log.cleaner.min.cleanable.ratio, default 0.5
	LogCleanerMinCompactionLag            time.Duration // log.cleaner.min.compaction.lag.ms, default 0
	LogCleanerMaxCompactionLag            time.Duration // log.cleaner.max.compaction.lag.ms, default Long.MaxValue
	LogSegmentDeleteDelay                 time.Duration // log.segment.delete.delay.ms, default 60000
	LogFlushSchedulerInterval             time.Duration // log.flush.scheduler.interval.ms, default Long.MaxValue (never)
	LogFlushOffsetCheckpointInterval      time.Duration // log.flush.offset.checkpoint.interval.ms, default 60000
	LogFlushStartOffsetCheckpointInterval time.Duration // log.flush.start.offset.checkpoint.interval.ms, default 60000

	// Idempotent producers' state (logstore.Config.ProducerIDExpiration and
	// logstore.BackgroundConfig.ProducerIDExpirationCheckInterval).
	TransactionalIDExpiration time.Duration // transactional.id.expiration.ms, default 604800000: producer ids idle this long are dropped
	// producer.id.expiration.check.interval.ms, default 600000: how often.
	// A constant (LogManager.ProducerIdExpirationCheckIntervalMs) in Kafka
	// 2.4, a broker key from Kafka 3.4 (KIP-854); zkafka takes the key.
	ProducerIDExpirationCheckInterval time.Duration

	// Unknown lists keys present in the file that zkafka does not know; the
	// caller logs a warning for each.
	Unknown []string

	// Properties holds every key=value given in the file and by --override
	// (raw values), for DescribeConfigs' STATIC_BROKER_CONFIG entries.
	Properties map[string]string
}

// Endpoint is one listener: NAME://host:port.
type Endpoint struct {
	Name string // listener name, e.g. PLAINTEXT
	Host string // may be empty (all interfaces) for listeners
	Port int32
}
