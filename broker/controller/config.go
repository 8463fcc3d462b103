package controller

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
)

// Config configures the controller module of one broker. Defaults mirror
// Kafka 2.4 (DefaultConfig); EnsureDefaults fills zero fields except the
// booleans.
type Config struct {
	BrokerID int32 // broker.id
	// ListenerName is inter.broker.listener.name: the listener of the other
	// brokers the controller connects to. Default PLAINTEXT.
	ListenerName string
	// DeleteTopicEnable is delete.topic.enable (Kafka default true: use
	// DefaultConfig, the zero value disables deletion).
	DeleteTopicEnable bool
	// UncleanLeaderElectionEnable is unclean.leader.election.enable (default
	// false), the broker-wide setting; a topic's own
	// unclean.leader.election.enable in /config/topics/T overrides it.
	UncleanLeaderElectionEnable bool
	// ElectAfterRegistration: after a ZooKeeper session expiry, stand for
	// election only once the broker has registered again (BrokerRegistered),
	// as Kafka 2.4 does (RegisterBrokerAndReelect): a controller elected
	// before its own /brokers/ids/<id> exists would take itself for dead.
	// False: stand at once on the new session.
	ElectAfterRegistration bool

	// AutoLeaderRebalanceEnable is auto.leader.rebalance.enable (Kafka
	// default true: use DefaultConfig).
	AutoLeaderRebalanceEnable bool
	// LeaderImbalancePerBrokerPercentage is
	// leader.imbalance.per.broker.percentage (default 10).
	LeaderImbalancePerBrokerPercentage int32
	// LeaderImbalanceCheckInterval is leader.imbalance.check.interval.seconds
	// (default 300 s).
	LeaderImbalanceCheckInterval time.Duration

	// RequestTimeout bounds one controller request (request.timeout.ms,
	// default 30 s); a timed-out request is sent again on a new connection.
	RequestTimeout time.Duration
	// ConnectTimeout bounds connecting to a broker (controller.socket.timeout.ms,
	// default 30 s).
	ConnectTimeout time.Duration
	// RetryBackoff is the pause before resending a request that failed, and
	// before retrying an election that failed on a ZooKeeper error
	// (default 100 ms, doubling up to 2 s).
	RetryBackoff time.Duration

	// Dial connects to a broker; default wire.Dial. Tests may replace it.
	Dial DialFunc
}

// Conn is the part of *wire.Conn the request senders use.
type Conn interface {
	Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error)
	PickVersion(ctx context.Context, req kmsg.Request, max int16) error
	Close() error
}

// DialFunc opens a connection to addr ("host:port").
type DialFunc func(ctx context.Context, addr, clientID string) (Conn, error)

func wireDial(ctx context.Context, addr, clientID string) (Conn, error) {
	c, err := wire.Dial(ctx, addr, clientID)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DefaultConfig returns Kafka 2.4's defaults for broker id.
func DefaultConfig(id int32) Config {
	c := Config{BrokerID: id, DeleteTopicEnable: true, AutoLeaderRebalanceEnable: true, LeaderImbalancePerBrokerPercentage: 10}
	c.EnsureDefaults()
	return c
}

// EnsureDefaults fills unset fields with their defaults.
func (c *Config) EnsureDefaults() {
	if c.ListenerName == "" {
		c.ListenerName = "PLAINTEXT"
	}
	if c.LeaderImbalanceCheckInterval <= 0 {
		c.LeaderImbalanceCheckInterval = 300 * time.Second
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 30 * time.Second
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = 100 * time.Millisecond
	}
	if c.Dial == nil {
		c.Dial = wireDial
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.BrokerID < 0 {
		return errors.New("controller: broker id must be >= 0")
	}
	return nil
}
