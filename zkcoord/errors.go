package zkcoord

import (
	"errors"
	"fmt"

	"github.com/go-zookeeper/zk"
)

// ZooKeeper sentinels re-exported so callers can branch with errors.Is without
// importing go-zookeeper. Every error returned by Session wraps the original
// go-zookeeper error, so errors.Is(err, zk.ErrNoNode) works as well.
var (
	ErrNoNode                  = zk.ErrNoNode
	ErrNodeExists              = zk.ErrNodeExists
	ErrBadVersion              = zk.ErrBadVersion
	ErrNotEmpty                = zk.ErrNotEmpty
	ErrSessionExpired          = zk.ErrSessionExpired
	ErrConnectionClosed        = zk.ErrConnectionClosed
	ErrNoChildrenForEphemerals = zk.ErrNoChildrenForEphemerals
)

// Domain sentinels.
var (
	// ErrClosed is returned by Session methods after Close.
	ErrClosed = errors.New("zkcoord: session closed")
	// ErrBrokerIDRegistered: /brokers/ids/N is owned by another live session.
	// The concrete error is a *BrokerIDRegisteredError.
	ErrBrokerIDRegistered = errors.New("broker id already registered")
	// ErrInvalidTopic: the topic name violates Kafka's Topic.validate rules or
	// collides with an existing topic ('.' vs '_').
	ErrInvalidTopic = errors.New("invalid topic")
	// ErrTopicExists: /brokers/topics/<t> already exists.
	ErrTopicExists = errors.New("topic already exists")
	// ErrUnknownTopic: /brokers/topics/<t> does not exist.
	ErrUnknownTopic = errors.New("unknown topic")
	// ErrTopicMarkedForDeletion: /admin/delete_topics/<t> already exists.
	ErrTopicMarkedForDeletion = errors.New("topic already marked for deletion")
	// ErrInvalidReplicaAssignment: a replica assignment Kafka would reject.
	ErrInvalidReplicaAssignment = errors.New("invalid replica assignment")
	// ErrInvalidReplicationFactor: replication factor <= 0 or > #brokers.
	ErrInvalidReplicationFactor = errors.New("invalid replication factor")
	// ErrInvalidPartitions: partition count <= 0.
	ErrInvalidPartitions = errors.New("invalid number of partitions")
	// ErrNoPartitionState: the partition's state znode does not exist
	// (wraps ErrNoNode too).
	ErrNoPartitionState = errors.New("no partition state")
	// ErrInconsistentClusterID is available to callers comparing
	// meta.properties with /cluster/id.
	ErrInconsistentClusterID = errors.New("inconsistent cluster id")
	// ErrCorruptZNode: a znode's data could not be decoded.
	ErrCorruptZNode = errors.New("corrupt znode data")
)

// BrokerIDRegisteredError is returned by RegisterBroker when the broker id is
// held by another live ZooKeeper session. Its text is exactly Kafka's
// "broker.id N is already registered by HOST:PORT"; errors.Is(err,
// ErrBrokerIDRegistered) is true.
type BrokerIDRegisteredError struct {
	BrokerID     int32
	Owner        string // HOST:PORT of the existing registration's first endpoint
	OwnerSession int64  // ephemeralOwner of the existing znode
}

func (e *BrokerIDRegisteredError) Error() string {
	return fmt.Sprintf("broker.id %d is already registered by %s", e.BrokerID, e.Owner)
}

// Unwrap makes errors.Is(err, ErrBrokerIDRegistered) true.
func (e *BrokerIDRegisteredError) Unwrap() error { return ErrBrokerIDRegistered }

// kafkaError carries Kafka's own message text (what a broker puts in an
// error_message field) while matching a sentinel with errors.Is. The broker
// builds its own request errors with KafkaErrorf too.
type kafkaError struct {
	kind error
	msg  string
}

func (e *kafkaError) Error() string { return e.msg }
func (e *kafkaError) Unwrap() error { return e.kind }

// KafkaErrorf returns an error whose text is exactly the formatted message
// and which matches kind with errors.Is.
func KafkaErrorf(kind error, format string, args ...any) error {
	return &kafkaError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
