package zkcoord

import (
	"context"
	"errors"
)

// Batched reads for the controller's failover (2.4 reads every topic,
// config and partition state with asynchronous ZooKeeper requests, not one
// round trip per znode). ZooKeeper 3.4's protocol, which go-zookeeper
// speaks, has no multi-read, but one session carries many outstanding
// requests: these helpers issue up to maxParallelReads reads at once and
// ZooKeeper answers them in order on the one connection.

// TopicWatchRead is a topic's /brokers/topics/<t> read with a data watch.
// A znode that could not be decoded has Err set (wrapping ErrCorruptZNode)
// and still carries its watch.
type TopicWatchRead struct {
	Assignment TopicAssignment
	ZkVersion  int32
	Watch      <-chan Event
	Err        error
}

// GetTopicsW reads /brokers/topics/<t> of every topic with a data watch,
// pipelined. Topics whose znode is gone are absent from the result; any
// ZooKeeper error fails the call.
func (s *Session) GetTopicsW(ctx context.Context, topics []string) (map[string]TopicWatchRead, error) {
	reads := make([]TopicWatchRead, len(topics))
	found := make([]bool, len(topics))
	err := parallel(ctx, len(topics), func(ctx context.Context, i int) error {
		data, st, w, err := s.GetW(ctx, TopicPath(topics[i]))
		if errors.Is(err, ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		a, derr := DecodeTopicAssignment(topics[i], data)
		reads[i], found[i] = TopicWatchRead{Assignment: a, ZkVersion: st.Version, Watch: w, Err: derr}, true
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]TopicWatchRead, len(topics))
	for i, t := range topics {
		if found[i] {
			out[t] = reads[i]
		}
	}
	return out, nil
}

// GetTopicConfigs reads /config/topics/<t> of every topic, pipelined
// (missing = empty config, as GetTopicConfig).
func (s *Session) GetTopicConfigs(ctx context.Context, topics []string) (map[string]map[string]string, error) {
	cfgs := make([]map[string]string, len(topics))
	err := parallel(ctx, len(topics), func(ctx context.Context, i int) error {
		c, err := s.GetTopicConfig(ctx, topics[i])
		cfgs[i] = c
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]map[string]string, len(topics))
	for i, t := range topics {
		out[t] = cfgs[i]
	}
	return out, nil
}
