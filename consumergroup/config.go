package consumergroup

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/zkafka/zkafka/zkcoord"
)

// auto.offset.reset values.
const (
	OffsetResetSmallest = "smallest"
	OffsetResetLargest  = "largest"
)

// Config configures one member of a classic ZooKeeper consumer group. The
// defaults (EnsureDefaults) are Kafka 0.10.2's ConsumerConfig defaults.
type Config struct {
	// ZooKeeper is zookeeper.connect: "host:port[,host:port...][/chroot]".
	ZooKeeper string
	// Group is group.id.
	Group string
	// Topics is a static subscription; Whitelist or Blacklist a wildcard one
	// (a Java-style regex, commas meaning '|', matched against whole topic
	// names). Exactly one of the three must be set.
	Topics    []string
	Whitelist string
	Blacklist string
	// Streams is the number of consumer threads per topic (the values of
	// Kafka's topicCountMap); default 1. Every stream has its own thread id
	// "<consumerID>-<n>" and all of them feed the one Fetch.
	Streams int32
	// Strategy is partition.assignment.strategy: "range" (default) or
	// "roundrobin".
	Strategy string
	// AutoOffsetReset is auto.offset.reset: where a partition without a
	// committed offset (or whose offset is out of range) starts:
	// "largest" (default) or "smallest".
	AutoOffsetReset string
	// DisableAutoCommit turns auto.commit.enable off (it is on by default):
	// marked offsets are then written only by Commit, before a rebalance
	// releases partitions, and by Close.
	DisableAutoCommit bool
	// AutoCommitInterval is auto.commit.interval.ms (default 60 s).
	AutoCommitInterval time.Duration
	// RebalanceMaxRetries is rebalance.max.retries (default 4): claim
	// attempts per rebalance before giving up until the next change (or a
	// retry after RebalanceBackoff).
	RebalanceMaxRetries int
	// RebalanceBackoff is rebalance.backoff.ms (default 2 s): the longest a
	// claim waits for a previous owner's znode to go away, and the pause
	// between failed attempts (both cut short by watches).
	RebalanceBackoff time.Duration
	// SessionTimeout is zookeeper.session.timeout.ms (default 6 s);
	// ConnectionTimeout is zookeeper.connection.timeout.ms (default: the
	// session timeout).
	SessionTimeout    time.Duration
	ConnectionTimeout time.Duration
	// ConsumerID overrides the generated id: the member id becomes
	// "<group>_<ConsumerID>" (Kafka's consumer.id).
	ConsumerID string
	// IncludeInternalTopics lets wildcards match __consumer_offsets
	// (exclude.internal.topics=false).
	IncludeInternalTopics bool
	// FetchMaxWait (fetch.wait.max.ms, default 100 ms) and FetchMaxBytes
	// (fetch.message.max.bytes, default 1 MiB) tune the partition fetchers.
	FetchMaxWait  time.Duration
	FetchMaxBytes int
	// ClientID is client.id for the fetchers (default: the group).
	ClientID string
	// Logger receives state transitions (rebalance start/end, session
	// expiry) at Info and errors at Warn/Error. Default: discard.
	Logger logrus.FieldLogger
	// OnOwnership, if set, is called on the consumer's own goroutine for
	// every ownership change: after an owner znode was created (Claimed),
	// before it is deleted (Released), and when a session expiry took it
	// (Lost). It must return quickly and must not call the Consumer.
	OnOwnership func(OwnershipEvent)
}

// OwnershipKind says what happened to a partition's ownership.
type OwnershipKind int

const (
	Claimed  OwnershipKind = iota + 1 // owner znode created by this consumer
	Released                          // about to delete the owner znode
	Lost                              // the ZooKeeper session expired: the znode is gone
)

func (k OwnershipKind) String() string {
	switch k {
	case Claimed:
		return "claimed"
	case Released:
		return "released"
	case Lost:
		return "lost"
	}
	return fmt.Sprintf("OwnershipKind(%d)", int(k))
}

// OwnershipEvent is one change of a partition's ownership by this consumer.
type OwnershipEvent struct {
	Kind      OwnershipKind
	Partition TopicPartition
	ThreadID  string
	Time      time.Time
}

// EnsureDefaults fills unset fields with Kafka's defaults.
func (c *Config) EnsureDefaults() {
	if c.Streams == 0 {
		c.Streams = 1
	}
	if c.Strategy == "" {
		c.Strategy = StrategyRange
	}
	if c.AutoOffsetReset == "" {
		c.AutoOffsetReset = OffsetResetLargest
	}
	if c.AutoCommitInterval == 0 {
		c.AutoCommitInterval = 60 * time.Second
	}
	if c.RebalanceMaxRetries == 0 {
		c.RebalanceMaxRetries = 4
	}
	if c.RebalanceBackoff == 0 {
		c.RebalanceBackoff = 2 * time.Second
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 6 * time.Second
	}
	if c.ConnectionTimeout == 0 {
		c.ConnectionTimeout = c.SessionTimeout
	}
	if c.FetchMaxWait == 0 {
		c.FetchMaxWait = 100 * time.Millisecond
	}
	if c.FetchMaxBytes == 0 {
		c.FetchMaxBytes = 1 << 20
	}
	if c.ClientID == "" {
		c.ClientID = c.Group
	}
	if c.Logger == nil {
		l := logrus.New()
		l.SetLevel(logrus.PanicLevel)
		c.Logger = l
	}
}

// Validate reports the first invalid setting as a one-line error.
func (c *Config) Validate() error {
	if _, _, err := zkcoord.ParseConnectString(c.ZooKeeper); err != nil {
		return err
	}
	switch {
	case c.Group == "":
		return errors.New("consumergroup: group is required")
	case strings.ContainsAny(c.Group, "/\x00") || c.Group == "." || c.Group == "..":
		return fmt.Errorf("consumergroup: invalid group %q: it is a ZooKeeper path element", c.Group)
	case strings.ContainsAny(c.ConsumerID, "/\x00"):
		return fmt.Errorf("consumergroup: invalid consumer id %q", c.ConsumerID)
	}
	n := 0
	if len(c.Topics) > 0 {
		n++
	}
	if c.Whitelist != "" {
		n++
	}
	if c.Blacklist != "" {
		n++
	}
	if n != 1 {
		return errors.New("consumergroup: set exactly one of topics, whitelist or blacklist")
	}
	for _, t := range c.Topics {
		if err := zkcoord.ValidateTopicName(t); err != nil {
			return fmt.Errorf("consumergroup: %w", err)
		}
	}
	for _, expr := range []string{c.Whitelist, c.Blacklist} {
		if expr != "" {
			if _, err := WhitelistRegexp(expr); err != nil {
				return fmt.Errorf("consumergroup: %w", err)
			}
		}
	}
	switch {
	case c.Streams < 1:
		return fmt.Errorf("consumergroup: streams must be >= 1, got %d", c.Streams)
	case c.Strategy != StrategyRange && c.Strategy != StrategyRoundRobin:
		return fmt.Errorf("consumergroup: partition.assignment.strategy must be range or roundrobin, got %q", c.Strategy)
	case c.AutoOffsetReset != OffsetResetSmallest && c.AutoOffsetReset != OffsetResetLargest:
		return fmt.Errorf("consumergroup: auto.offset.reset must be smallest or largest, got %q", c.AutoOffsetReset)
	case c.AutoCommitInterval < 0, c.RebalanceBackoff < 0, c.SessionTimeout < 0, c.ConnectionTimeout < 0, c.FetchMaxWait < 0:
		return errors.New("consumergroup: durations must not be negative")
	case c.RebalanceMaxRetries < 1:
		return fmt.Errorf("consumergroup: rebalance.max.retries must be >= 1, got %d", c.RebalanceMaxRetries)
	case c.FetchMaxBytes < 1:
		return fmt.Errorf("consumergroup: fetch.message.max.bytes must be >= 1, got %d", c.FetchMaxBytes)
	}
	return nil
}

// registration is this member's /consumers/<g>/ids/<id> content.
func (c *Config) registration() zkcoord.ConsumerRegistration {
	switch {
	case c.Whitelist != "":
		return zkcoord.ConsumerRegistration{Pattern: zkcoord.ConsumerPatternWhiteList, Subscription: map[string]int32{c.Whitelist: c.Streams}}
	case c.Blacklist != "":
		return zkcoord.ConsumerRegistration{Pattern: zkcoord.ConsumerPatternBlackList, Subscription: map[string]int32{c.Blacklist: c.Streams}}
	}
	sub := map[string]int32{}
	for _, t := range c.Topics {
		sub[t] = c.Streams
	}
	return zkcoord.ConsumerRegistration{Pattern: zkcoord.ConsumerPatternStatic, Subscription: sub}
}
