package broker

import (
	"errors"
	"fmt"
	"sync"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/zkafka/zkafka/logstore"
)

// replicaManager holds the partitions this broker hosts, as the controller's
// LeaderAndIsr and StopReplica requests made them, and routes produce and
// fetch to their logs. The partition map is a leaf structure under mu; each
// partition's leadership state has its own lock.
//
// Replication (followers fetching, ISR upkeep, HW from follower LEOs) is the
// next step: for now a leader's high-water mark is its log end offset.
type replicaManager struct {
	brokerID int32
	logs     *logstore.Manager
	logCfg   logstore.Config
	log      logrus.FieldLogger
	// topicConfig reads a topic's config overrides (/config/topics/<t>).
	topicConfig func(topic string) (map[string]string, error)

	mu              sync.RWMutex
	partitions      map[logstore.TopicPartition]*partition
	controllerEpoch int32
}

// partition is one replica hosted here.
type partition struct {
	tp  logstore.TopicPartition
	log *logstore.Log

	mu          sync.RWMutex
	leader      int32
	leaderEpoch int32
	isr         []int32
	replicas    []int32
	zkVersion   int32
}

func newReplicaManager(brokerID int32, logs *logstore.Manager, logCfg logstore.Config, topicConfig func(string) (map[string]string, error), log logrus.FieldLogger) *replicaManager {
	return &replicaManager{
		brokerID: brokerID, logs: logs, logCfg: logCfg, topicConfig: topicConfig, log: log,
		partitions: map[logstore.TopicPartition]*partition{},
	}
}

// errStaleControllerEpoch rejects a controller request older than one seen.
var errStaleControllerEpoch = errors.New("stale controller epoch")

// checkControllerEpoch records epoch if it is the newest seen, and fails if a
// newer controller has already spoken.
func (rm *replicaManager) checkControllerEpoch(epoch int32) error {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if epoch < rm.controllerEpoch {
		return fmt.Errorf("%w: request has %d, this broker has seen %d", errStaleControllerEpoch, epoch, rm.controllerEpoch)
	}
	rm.controllerEpoch = epoch
	return nil
}

// partitionState is the part of a LeaderAndIsr partition entry the broker keeps.
type partitionState struct {
	leader, leaderEpoch, zkVersion int32
	isr, replicas                  []int32
}

// becomeLeaderOrFollower applies one LeaderAndIsr partition entry and returns
// the Kafka error code for it.
func (rm *replicaManager) becomeLeaderOrFollower(tp logstore.TopicPartition, st partitionState) int16 {
	if !contains(st.replicas, rm.brokerID) {
		return kerr.UnknownTopicOrPartition.Code
	}
	p, code := rm.getOrCreate(tp)
	if code != 0 {
		return code
	}
	p.mu.Lock()
	if st.leaderEpoch <= p.leaderEpoch { // checked and set under one lock
		p.mu.Unlock()
		return kerr.StaleControllerEpoch.Code
	}
	wasLeader := p.leader == rm.brokerID
	p.leader, p.leaderEpoch, p.zkVersion = st.leader, st.leaderEpoch, st.zkVersion
	p.isr, p.replicas = st.isr, st.replicas
	p.mu.Unlock()
	if st.leader == rm.brokerID {
		p.log.SetHighWatermark(p.log.LogEndOffset())
		if !wasLeader {
			rm.log.WithFields(logrus.Fields{"partition": tp.String(), "leader_epoch": st.leaderEpoch}).Info("became leader")
		}
	} else if wasLeader {
		rm.log.WithFields(logrus.Fields{"partition": tp.String(), "leader": st.leader}).Info("became follower")
	}
	return 0
}

// logConfig is the log configuration of a topic: the broker's, with the
// topic's overrides. If they cannot be read the broker's is used.
func (rm *replicaManager) logConfig(topic string) *logstore.Config {
	cfg := rm.logCfg
	if rm.topicConfig != nil {
		overrides, err := rm.topicConfig(topic)
		if err != nil {
			rm.log.WithError(err).WithField("topic", topic).Warn("cannot read topic config; using the broker's")
		}
		cfg = applyTopicConfigs(cfg, overrides)
	}
	return &cfg
}

// getOrCreate returns the hosted partition, opening (or creating) its log
// the first time.
func (rm *replicaManager) getOrCreate(tp logstore.TopicPartition) (*partition, int16) {
	if p := rm.get(tp); p != nil {
		return p, 0
	}
	l, err := rm.logs.GetOrCreate(tp, rm.logConfig(tp.Topic))
	if err != nil {
		rm.log.WithError(err).WithField("partition", tp.String()).Error("cannot open log")
		return nil, kerr.KafkaStorageError.Code
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	p := rm.partitions[tp]
	if p == nil {
		p = &partition{tp: tp, log: l, leader: -1, leaderEpoch: -1}
		rm.partitions[tp] = p
	}
	return p, 0
}

// stopReplica stops serving tp: without deletion the replica stays (its
// leader epoch still fences stale requests) but no longer leads; with
// deletion its log is removed.
func (rm *replicaManager) stopReplica(tp logstore.TopicPartition, deleteData bool) int16 {
	if !deleteData {
		if p := rm.get(tp); p != nil {
			p.mu.Lock()
			p.leader = -1
			p.mu.Unlock()
		}
		return 0
	}
	rm.mu.Lock()
	_, hosted := rm.partitions[tp]
	delete(rm.partitions, tp)
	rm.mu.Unlock()
	if _, ok := rm.logs.Get(tp); !ok && !hosted {
		return 0
	}
	if err := rm.logs.Delete(tp); err != nil {
		rm.log.WithError(err).WithField("partition", tp.String()).Error("cannot delete log")
		return kerr.KafkaStorageError.Code
	}
	rm.log.WithField("partition", tp.String()).Info("deleted replica")
	return 0
}

// get returns the hosted partition, if any.
func (rm *replicaManager) get(tp logstore.TopicPartition) *partition {
	rm.mu.RLock()
	defer rm.mu.RUnlock()
	return rm.partitions[tp]
}

// leaderFor returns tp if this broker leads it, with its leader epoch, or the
// Kafka error code to answer.
func (rm *replicaManager) leaderFor(tp logstore.TopicPartition, meta *metadataCache) (*partition, int32, int16) {
	p := rm.get(tp)
	if p == nil {
		if _, ok := meta.partition(tp.Topic, tp.Partition); ok {
			return nil, 0, kerr.NotLeaderForPartition.Code
		}
		return nil, 0, kerr.UnknownTopicOrPartition.Code
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.leader != rm.brokerID {
		return nil, 0, kerr.NotLeaderForPartition.Code
	}
	return p, p.leaderEpoch, 0
}

// checkLeaderEpoch applies KIP-320: a client's current_leader_epoch (-1 when
// it has none) must match the leader's.
func checkLeaderEpoch(requested, current int32) int16 {
	switch {
	case requested < 0 || requested == current:
		return 0
	case requested < current:
		return kerr.FencedLeaderEpoch.Code
	default:
		return kerr.UnknownLeaderEpoch.Code
	}
}

// appendAsLeader appends a produce request's records to a partition this
// broker leads. Fetches parked on the partition are woken by the log itself.
func (rm *replicaManager) appendAsLeader(p *partition, leaderEpoch int32, records []byte) (logstore.AppendInfo, error) {
	info, err := p.log.Append(records, leaderEpoch)
	if err != nil {
		return info, err
	}
	p.log.SetHighWatermark(p.log.LogEndOffset())
	return info, nil
}

// storageErrorCode maps a log store error to the Kafka error code.
func storageErrorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, logstore.ErrCorruptMessage):
		return kerr.CorruptMessage.Code
	case errors.Is(err, logstore.ErrMessageTooLarge):
		return kerr.MessageTooLarge.Code
	case errors.Is(err, logstore.ErrRecordSetTooLarge):
		return kerr.RecordListTooLarge.Code
	case errors.Is(err, logstore.ErrClosed): // stopped or deleted meanwhile
		return kerr.NotLeaderForPartition.Code
	case errors.Is(err, logstore.ErrInvalidRecord):
		return kerr.InvalidRecord.Code
	case errors.Is(err, logstore.ErrUnsupportedMagic):
		return kerr.UnsupportedForMessageFormat.Code
	case errors.Is(err, logstore.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange.Code
	}
	return kerr.KafkaStorageError.Code
}

func contains(ids []int32, id int32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
