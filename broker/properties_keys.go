package broker

import (
	"math"
	"net"
	"strconv"
	"strings"
	"time"
)

// setter parses one value into cfg; it returns "" on success or what it
// expected (for ConfigError).
type setter func(cfg *Config, v string) (expected string)

// keyOrder lists every key zkafka parses. Synonyms come lowest precedence
// first: log.dir < log.dirs, log.roll.hours < log.roll.ms, log.retention.hours
// < minutes < ms (as KafkaConfig resolves them).
var keyOrder = []string{
	"broker.id", "broker.id.generation.enable", "reserved.broker.max.id",
	"listeners", "advertised.listeners", "listener.security.protocol.map",
	"inter.broker.listener.name", "host.name", "port", "advertised.host.name", "advertised.port",
	"broker.rack",
	"log.dir", "log.dirs",
	"zookeeper.connect", "zookeeper.session.timeout.ms", "zookeeper.connection.timeout.ms",
	"num.partitions", "default.replication.factor",
	"auto.create.topics.enable", "delete.topic.enable",
	"log.segment.bytes", "log.roll.hours", "log.roll.ms",
	"log.index.size.max.bytes", "log.index.interval.bytes",
	"log.retention.hours", "log.retention.minutes", "log.retention.ms",
	"log.retention.bytes", "log.retention.check.interval.ms",
	"log.flush.interval.messages", "log.flush.interval.ms",
	"log.cleanup.policy", "log.cleaner.enable", "log.cleaner.threads", "log.cleaner.dedupe.buffer.size",
	"log.cleaner.io.buffer.size", "log.cleaner.io.buffer.load.factor", "log.cleaner.backoff.ms",
	"log.cleaner.delete.retention.ms", "log.cleaner.min.cleanable.ratio",
	"log.cleaner.min.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms", "log.segment.delete.delay.ms",
	"log.flush.scheduler.interval.ms", "log.flush.offset.checkpoint.interval.ms",
	"log.flush.start.offset.checkpoint.interval.ms",
	"message.max.bytes", "socket.request.max.bytes",
	"socket.send.buffer.bytes", "socket.receive.buffer.bytes",
	"min.insync.replicas", "unclean.leader.election.enable", "controlled.shutdown.enable",
	"controlled.shutdown.max.retries", "controlled.shutdown.retry.backoff.ms",
	"auto.leader.rebalance.enable", "leader.imbalance.per.broker.percentage", "leader.imbalance.check.interval.seconds",
	"replica.lag.time.max.ms", "replica.fetch.wait.max.ms", "replica.fetch.min.bytes",
	"replica.fetch.max.bytes", "replica.fetch.response.max.bytes", "replica.fetch.backoff.ms",
	"replica.socket.timeout.ms",
	"offsets.topic.replication.factor", "offsets.topic.num.partitions",
	"group.initial.rebalance.delay.ms",
	"group.min.session.timeout.ms", "group.max.session.timeout.ms", "group.max.size",
	"offset.metadata.max.bytes",
	"transactional.id.expiration.ms", "producer.id.expiration.check.interval.ms",
}

const (
	expNonNegInt = "an integer >= 0"
	expPosInt    = "an integer >= 1"
	expBool      = "true or false"
	expPort      = "a port number 0-65535"
)

var keySetters = map[string]setter{
	"broker.id": func(c *Config, v string) string {
		// -1 is Kafka's "unset": the broker then generates an id in ZooKeeper.
		return setInt32(&c.BrokerID, v, -1, math.MaxInt32, expNonNegInt)
	},
	"broker.id.generation.enable": boolSetter(func(c *Config) *bool { return &c.BrokerIDGenerationEnable }),
	"reserved.broker.max.id": func(c *Config, v string) string {
		return setInt32(&c.ReservedBrokerMaxID, v, 0, math.MaxInt32, expNonNegInt)
	},
	"listeners": func(c *Config, v string) string {
		eps, ok := parseEndpoints(v)
		if !ok || len(eps) == 0 {
			return "a comma-separated list of NAME://host:port, e.g. PLAINTEXT://:9092"
		}
		c.Listeners = eps
		return ""
	},
	"advertised.listeners": func(c *Config, v string) string {
		eps, ok := parseEndpoints(v)
		if !ok || len(eps) == 0 {
			return "a comma-separated list of NAME://host:port, e.g. PLAINTEXT://broker1.example.com:9092"
		}
		c.AdvertisedListeners = eps
		return ""
	},
	"listener.security.protocol.map": setProtocolMap,
	"inter.broker.listener.name": func(c *Config, v string) string {
		if v == "" || strings.ContainsAny(v, ":/, ") {
			return "a listener name such as PLAINTEXT"
		}
		c.InterBrokerListenerName = strings.ToUpper(v)
		return ""
	},
	// host.name/port and their advertised forms are applied in
	// legacyListener; here they are only checked.
	"host.name":            func(c *Config, v string) string { return "" },
	"advertised.host.name": func(c *Config, v string) string { return "" },
	"port":                 func(c *Config, v string) string { return checkPort(v) },
	"advertised.port":      func(c *Config, v string) string { return checkPort(v) },
	"broker.rack":          func(c *Config, v string) string { c.Rack = v; return "" },
	"log.dir":              setLogDirs,
	"log.dirs":             setLogDirs,
	"zookeeper.connect": func(c *Config, v string) string {
		if !validZKConnect(v) {
			return "host:port[,host:port...][/chroot], e.g. localhost:2181"
		}
		c.ZooKeeperConnect = v
		return ""
	},
	"zookeeper.session.timeout.ms":    msSetter(func(c *Config) *time.Duration { return &c.ZooKeeperSessionTimeout }, 1),
	"zookeeper.connection.timeout.ms": msSetter(func(c *Config) *time.Duration { return &c.ZooKeeperConnectionTimeout }, 1),
	"num.partitions": func(c *Config, v string) string {
		return setInt32(&c.NumPartitions, v, 1, math.MaxInt32, expPosInt)
	},
	"default.replication.factor": func(c *Config, v string) string {
		return setInt16(&c.DefaultReplicationFactor, v, 1, expPosInt+" and <= 32767")
	},
	"auto.create.topics.enable":      boolSetter(func(c *Config) *bool { return &c.AutoCreateTopicsEnable }),
	"delete.topic.enable":            boolSetter(func(c *Config) *bool { return &c.DeleteTopicEnable }),
	"unclean.leader.election.enable": boolSetter(func(c *Config) *bool { return &c.UncleanLeaderElectionEnable }),
	"controlled.shutdown.enable":     boolSetter(func(c *Config) *bool { return &c.ControlledShutdownEnable }),
	"controlled.shutdown.max.retries": func(c *Config, v string) string {
		return setInt32(&c.ControlledShutdownMaxRetries, v, 0, math.MaxInt32, expNonNegInt)
	},
	"controlled.shutdown.retry.backoff.ms": msSetter(func(c *Config) *time.Duration { return &c.ControlledShutdownRetryBackoff }, 0),
	"auto.leader.rebalance.enable":         boolSetter(func(c *Config) *bool { return &c.AutoLeaderRebalanceEnable }),
	"leader.imbalance.per.broker.percentage": func(c *Config, v string) string {
		return setInt32(&c.LeaderImbalancePerBrokerPercentage, v, 0, math.MaxInt32, expNonNegInt)
	},
	"leader.imbalance.check.interval.seconds": unitSetter(func(c *Config) *time.Duration { return &c.LeaderImbalanceCheckInterval }, time.Second, 1, false),
	"log.segment.bytes": func(c *Config, v string) string {
		// Kafka's lower bound: the overhead of one v0 record.
		return setInt64(&c.LogSegmentBytes, v, 14, math.MaxInt32, "an integer from 14 to 2147483647")
	},
	"log.roll.hours": unitSetter(func(c *Config) *time.Duration { return &c.LogRollTime }, time.Hour, 1, false),
	"log.roll.ms":    unitSetter(func(c *Config) *time.Duration { return &c.LogRollTime }, time.Millisecond, 1, false),
	"log.index.size.max.bytes": func(c *Config, v string) string {
		return setInt32(&c.LogIndexSizeMaxBytes, v, 4, math.MaxInt32, "an integer >= 4")
	},
	"log.index.interval.bytes": func(c *Config, v string) string {
		return setInt32(&c.LogIndexIntervalBytes, v, 0, math.MaxInt32, expNonNegInt)
	},
	"log.retention.hours":   unitSetter(func(c *Config) *time.Duration { return &c.LogRetentionTime }, time.Hour, -1, true),
	"log.retention.minutes": unitSetter(func(c *Config) *time.Duration { return &c.LogRetentionTime }, time.Minute, -1, true),
	"log.retention.ms":      unitSetter(func(c *Config) *time.Duration { return &c.LogRetentionTime }, time.Millisecond, -1, true),
	"log.retention.bytes": func(c *Config, v string) string {
		return setInt64(&c.LogRetentionBytes, v, math.MinInt64, math.MaxInt64, "an integer (-1 for no size limit)")
	},
	"log.retention.check.interval.ms": msSetter(func(c *Config) *time.Duration { return &c.LogRetentionCheckInterval }, 1),
	"log.flush.interval.messages": func(c *Config, v string) string {
		return setInt64(&c.LogFlushIntervalMessages, v, 1, math.MaxInt64, expPosInt)
	},
	"log.flush.interval.ms": msSetter(func(c *Config) *time.Duration { return &c.LogFlushInterval }, 0),
	"log.cleanup.policy": func(c *Config, v string) string {
		del, compact, ok := parseCleanupPolicy(v)
		if !ok {
			return "a list of compact, delete"
		}
		c.LogCleanupDelete, c.LogCleanupCompact = del, compact
		return ""
	},
	"log.cleaner.enable": boolSetter(func(c *Config) *bool { return &c.LogCleanerEnable }),
	"log.cleaner.threads": func(c *Config, v string) string {
		return setInt32(&c.LogCleanerThreads, v, 0, math.MaxInt32, expNonNegInt)
	},
	"log.cleaner.dedupe.buffer.size": func(c *Config, v string) string {
		return setInt64(&c.LogCleanerDedupeBufferSize, v, 0, math.MaxInt64, expNonNegInt)
	},
	"log.cleaner.io.buffer.size": func(c *Config, v string) string {
		return setInt32(&c.LogCleanerIOBufferSize, v, 0, math.MaxInt32, expNonNegInt)
	},
	"log.cleaner.io.buffer.load.factor": floatSetter(func(c *Config) *float64 { return &c.LogCleanerIOBufferLoadFactor }, "a number greater than 0 and at most 1", 0, 1, false),
	"log.cleaner.backoff.ms":            msSetter(func(c *Config) *time.Duration { return &c.LogCleanerBackoff }, 0),
	"log.cleaner.delete.retention.ms":   msSetter(func(c *Config) *time.Duration { return &c.LogCleanerDeleteRetention }, 0),
	"log.cleaner.min.cleanable.ratio": func(c *Config, v string) string {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || f > 1 {
			return "a number between 0 and 1"
		}
		c.LogCleanerMinCleanableRatio = f
		return ""
	},
	"log.cleaner.min.compaction.lag.ms":             msSetter(func(c *Config) *time.Duration { return &c.LogCleanerMinCompactionLag }, 0),
	"log.cleaner.max.compaction.lag.ms":             msSetter(func(c *Config) *time.Duration { return &c.LogCleanerMaxCompactionLag }, 1),
	"log.segment.delete.delay.ms":                   msSetter(func(c *Config) *time.Duration { return &c.LogSegmentDeleteDelay }, 0),
	"log.flush.scheduler.interval.ms":               msSetter(func(c *Config) *time.Duration { return &c.LogFlushSchedulerInterval }, 0),
	"log.flush.offset.checkpoint.interval.ms":       msSetter(func(c *Config) *time.Duration { return &c.LogFlushOffsetCheckpointInterval }, 0),
	"log.flush.start.offset.checkpoint.interval.ms": msSetter(func(c *Config) *time.Duration { return &c.LogFlushStartOffsetCheckpointInterval }, 0),
	"message.max.bytes": func(c *Config, v string) string {
		return setInt32(&c.MessageMaxBytes, v, 0, math.MaxInt32, expNonNegInt)
	},
	"socket.request.max.bytes": func(c *Config, v string) string {
		return setInt32(&c.SocketRequestMaxBytes, v, 1, math.MaxInt32, expPosInt)
	},
	"socket.send.buffer.bytes": func(c *Config, v string) string {
		return setInt32(&c.SocketSendBufferBytes, v, -1, math.MaxInt32, "an integer >= 0 (-1 for the OS default)")
	},
	"socket.receive.buffer.bytes": func(c *Config, v string) string {
		return setInt32(&c.SocketReceiveBufferBytes, v, -1, math.MaxInt32, "an integer >= 0 (-1 for the OS default)")
	},
	"min.insync.replicas": func(c *Config, v string) string {
		return setInt16(&c.MinInsyncReplicas, v, 1, expPosInt+" and <= 32767")
	},
	"replica.lag.time.max.ms":   msSetter(func(c *Config) *time.Duration { return &c.ReplicaLagTimeMax }, 0),
	"replica.fetch.wait.max.ms": msSetter(func(c *Config) *time.Duration { return &c.ReplicaFetchWaitMax }, 0),
	"replica.fetch.min.bytes": func(c *Config, v string) string {
		return setInt32(&c.ReplicaFetchMinBytes, v, 1, math.MaxInt32, expPosInt)
	},
	"replica.fetch.max.bytes": func(c *Config, v string) string {
		return setInt32(&c.ReplicaFetchMaxBytes, v, 0, math.MaxInt32, expNonNegInt)
	},
	"replica.fetch.response.max.bytes": func(c *Config, v string) string {
		return setInt32(&c.ReplicaFetchResponseMaxBytes, v, 0, math.MaxInt32, expNonNegInt)
	},
	"replica.fetch.backoff.ms":  msSetter(func(c *Config) *time.Duration { return &c.ReplicaFetchBackoff }, 0),
	"replica.socket.timeout.ms": msSetter(func(c *Config) *time.Duration { return &c.ReplicaSocketTimeout }, 1),
	"offsets.topic.replication.factor": func(c *Config, v string) string {
		return setInt16(&c.OffsetsTopicReplicationFactor, v, 1, expPosInt+" and <= 32767")
	},
	"offsets.topic.num.partitions": func(c *Config, v string) string {
		return setInt32(&c.OffsetsTopicNumPartitions, v, 1, math.MaxInt32, expPosInt)
	},
	"group.initial.rebalance.delay.ms": msSetter(func(c *Config) *time.Duration { return &c.GroupInitialRebalanceDelay }, 0),
	"group.min.session.timeout.ms":     msSetter(func(c *Config) *time.Duration { return &c.GroupMinSessionTimeout }, 0),
	"group.max.session.timeout.ms":     msSetter(func(c *Config) *time.Duration { return &c.GroupMaxSessionTimeout }, 0),
	"group.max.size": func(c *Config, v string) string {
		return setInt32(&c.GroupMaxSize, v, 1, math.MaxInt32, expPosInt)
	},
	"offset.metadata.max.bytes": func(c *Config, v string) string {
		return setInt32(&c.OffsetMetadataMaxBytes, v, 0, math.MaxInt32, expNonNegInt)
	},
	// Both are Java ints in Kafka, at least 1.
	"transactional.id.expiration.ms":           intMsSetter(func(c *Config) *time.Duration { return &c.TransactionalIDExpiration }),
	"producer.id.expiration.check.interval.ms": intMsSetter(func(c *Config) *time.Duration { return &c.ProducerIDExpirationCheckInterval }),
}

// intMsSetter parses milliseconds from 1 to 2147483647 (a Java int >= 1).
func intMsSetter(field func(*Config) *time.Duration) setter {
	return func(c *Config, v string) string {
		n, ok := parseInt(v, 1, math.MaxInt32)
		if !ok {
			return "an integer from 1 to 2147483647"
		}
		*field(c) = time.Duration(n) * time.Millisecond
		return ""
	}
}

// acceptedKeys are keys of Kafka 2.4's shipped config/server.properties (and
// its commented-out examples) that zkafka accepts without using them.
var acceptedKeys = map[string]bool{
	"num.network.threads":                      true,
	"num.io.threads":                           true,
	"num.recovery.threads.per.data.dir":        true,
	"transaction.state.log.replication.factor": true,
	"transaction.state.log.min.isr":            true,
	// One fetcher per leader broker is always used.
	"num.replica.fetchers": true,
}

// parseInt parses a decimal integer (surrounding white space allowed, as
// Kafka's ConfigDef trims) and checks min <= n <= max.
func parseInt(v string, min, max int64) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < min || n > max {
		return 0, false
	}
	return n, true
}

func setInt64(dst *int64, v string, min, max int64, exp string) string {
	n, ok := parseInt(v, min, max)
	if !ok {
		return exp
	}
	*dst = n
	return ""
}

func setInt32(dst *int32, v string, min, max int64, exp string) string {
	n, ok := parseInt(v, min, max)
	if !ok {
		return exp
	}
	*dst = int32(n)
	return ""
}

func setInt16(dst *int16, v string, min int64, exp string) string {
	n, ok := parseInt(v, min, math.MaxInt16)
	if !ok {
		return exp
	}
	*dst = int16(n)
	return ""
}

func boolSetter(field func(*Config) *bool) setter {
	return func(c *Config, v string) string {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true":
			*field(c) = true
		case "false":
			*field(c) = false
		default:
			return expBool
		}
		return ""
	}
}

// msSetter parses milliseconds >= min.
func msSetter(field func(*Config) *time.Duration, min int64) setter {
	return unitSetter(field, time.Millisecond, min, false)
}

// unitSetter parses an integer count of unit >= min. With negUnlimited, a
// negative value means "no limit" and is stored as -1.
func unitSetter(field func(*Config) *time.Duration, unit time.Duration, min int64, negUnlimited bool) setter {
	exp := "an integer >= " + strconv.FormatInt(min, 10)
	if negUnlimited {
		exp = "an integer (-1 for no time limit)"
		min = math.MinInt64
	}
	return func(c *Config, v string) string {
		n, ok := parseInt(v, min, math.MaxInt64)
		if !ok {
			return exp
		}
		switch {
		case negUnlimited && n < 0:
			*field(c) = -1
		case n > int64(math.MaxInt64/unit):
			*field(c) = math.MaxInt64
		default:
			*field(c) = time.Duration(n) * unit
		}
		return ""
	}
}

// parseCleanupPolicy parses cleanup.policy / log.cleanup.policy: a
// comma-separated list of "delete" and "compact" (at least one).
func parseCleanupPolicy(v string) (del, compact, ok bool) {
	for _, p := range strings.Split(v, ",") {
		switch strings.TrimSpace(p) {
		case "delete":
			del = true
		case "compact":
			compact = true
		default:
			return false, false, false
		}
	}
	return del, compact, true
}

func checkPort(v string) string {
	if _, ok := parseInt(v, 0, 65535); !ok {
		return expPort
	}
	return ""
}

func setLogDirs(c *Config, v string) string {
	var dirs []string
	for _, d := range strings.Split(v, ",") {
		if d = strings.TrimSpace(d); d != "" {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) == 0 {
		return "a comma-separated list of directories, e.g. /tmp/kafka-logs"
	}
	c.LogDirs = dirs
	return ""
}

func setProtocolMap(c *Config, v string) string {
	const exp = "a comma-separated list of NAME:PROTOCOL with PROTOCOL one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"
	m := map[string]string{}
	for _, pair := range strings.Split(v, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		name, proto, ok := strings.Cut(pair, ":")
		name = strings.ToUpper(strings.TrimSpace(name))
		proto = strings.ToUpper(strings.TrimSpace(proto))
		if !ok || name == "" {
			return exp
		}
		if _, known := defaultProtocolMap()[proto]; !known {
			return exp
		}
		m[name] = proto
	}
	if len(m) == 0 {
		return exp
	}
	c.ListenerSecurityProtocolMap = m
	return ""
}

// parseEndpoints parses "NAME://host:port,..." (IPv6 hosts in brackets; an
// empty host means all interfaces). Names are upper-cased as Kafka does.
func parseEndpoints(v string) ([]Endpoint, bool) {
	var eps []Endpoint
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		name, addr, ok := strings.Cut(s, "://")
		if !ok || name == "" || strings.ContainsAny(name, " :/") {
			return nil, false
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil || strings.ContainsAny(host, "/ ") {
			return nil, false
		}
		n, ok := parseInt(port, 0, 65535)
		if !ok || strings.TrimSpace(port) != port {
			return nil, false
		}
		eps = append(eps, Endpoint{Name: strings.ToUpper(name), Host: host, Port: int32(n)})
	}
	return eps, true
}

// validZKConnect checks "host[:port][,host[:port]...][/chroot]" the way
// ZooKeeper's ConnectStringParser reads it.
func validZKConnect(v string) bool {
	hosts, chroot := v, ""
	if i := strings.IndexByte(v, '/'); i >= 0 {
		hosts, chroot = v[:i], v[i:]
	}
	if !validChroot(chroot) {
		return false
	}
	if hosts == "" {
		return false
	}
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			return false
		}
		host := h
		if strings.HasPrefix(h, "[") || strings.Count(h, ":") == 1 {
			var port string
			var err error
			host, port, err = net.SplitHostPort(h)
			if err != nil {
				return false
			}
			if _, ok := parseInt(port, 1, 65535); !ok {
				return false
			}
		}
		if host == "" || strings.ContainsAny(host, " \t") {
			return false
		}
	}
	return true
}

func validChroot(p string) bool {
	if p == "" || p == "/" {
		return true
	}
	if strings.HasSuffix(p, "/") {
		return false
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." || strings.ContainsRune(seg, 0) {
			return false
		}
	}
	return true
}
