package broker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/zkafka/zkafka/logstore"
)

// replicaManager holds the partitions this broker hosts, as the controller's
// LeaderAndIsr and StopReplica requests made them, and routes produce and
// fetch to their logs. The partition map is a leaf structure under mu; each
// partition's leadership and replication state has its own lock, taken for
// short critical sections only (never across I/O).
//
// As leader of a partition it tracks every follower from its fetches
// (replication.go), moves the high-water mark to the smallest log end offset
// in the ISR, grows and shrinks the ISR with conditional ZooKeeper writes
// (isr.go); as follower it replicates through a fetcher per leader
// (replica_fetcher.go).
type replicaManager struct {
	brokerID int32
	logs     *logstore.Manager
	logCfg   logstore.Config
	log      logrus.FieldLogger
	// topicConfig reads a topic's config overrides (/config/topics/<t>).
	topicConfig func(topic string) (map[string]string, error)
	repl        replicationConfig
	// isr writes ISR changes to ZooKeeper; nil keeps ISRs as the
	// controller sent them (unit tests without ZooKeeper).
	isr      isrStore
	fetchers *fetcherManager // nil: no follower replication (unit tests)
	now      func() time.Time
	// leadershipChanged, if set, is told of every partition whose
	// leadership here changed (the group coordinator unloads groups).
	leadershipChanged func(tp logstore.TopicPartition)

	mu              sync.RWMutex
	partitions      map[logstore.TopicPartition]*partition
	controllerEpoch int32
	// minInsyncChanged holds min.insync.replicas of topics whose config
	// changed at run time (it wins over a value read before the change).
	minInsyncChanged map[string]int

	isrChanges isrChangeSet
}

// replicationConfig holds the replica.* settings.
type replicationConfig struct {
	lagTimeMax        time.Duration // replica.lag.time.max.ms
	minInsyncReplicas int           // min.insync.replicas (broker default)
}

func defaultReplicationConfig() replicationConfig {
	return replicationConfig{lagTimeMax: 10 * time.Second, minInsyncReplicas: 1}
}

// partition is one replica hosted here.
type partition struct {
	tp  logstore.TopicPartition
	log *logstore.Log

	// leadership is held for reading by an append as leader (from its
	// leadership check to the end of its write) and for writing while
	// leadership changes, so no write of a stale leader lands in a log that
	// is already a follower's (Kafka's leaderIsrUpdateLock).
	leadership sync.RWMutex

	mu              sync.RWMutex
	leader          int32
	leaderEpoch     int32
	controllerEpoch int32 // of the controller that sent the current state
	isr             []int32
	replicas        []int32
	zkVersion       int32
	minInsync       int // min.insync.replicas of the topic
	// Leader only: the followers' fetch state, and the log end offset when
	// this leader's epoch began.
	followers        map[int32]*followerState
	leaderEpochStart int64
	// leaderSince is the leader epoch in which this broker's current,
	// unbroken leadership began: an epoch bump that leaves it leader keeps
	// it, so acks=all waits survive (Kafka fails them only when the broker
	// stops leading, whose log may then be truncated).
	leaderSince int32
	// joining are followers being added to the ISR (the ZooKeeper write is
	// in flight): the high-water mark already waits for them.
	joining []int32
	// changed is closed (and replaced) when leadership or the ISR changes:
	// produces waiting for acks=all watch it.
	changed chan struct{}

	isrMu sync.Mutex // serialises ISR updates (one ZooKeeper write each)

}

func newReplicaManager(brokerID int32, logs *logstore.Manager, logCfg logstore.Config, topicConfig func(string) (map[string]string, error), log logrus.FieldLogger) *replicaManager {
	return &replicaManager{
		brokerID: brokerID, logs: logs, logCfg: logCfg, topicConfig: topicConfig, log: log,
		repl: defaultReplicationConfig(), now: time.Now,
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
	controllerEpoch                int32
	leader, leaderEpoch, zkVersion int32
	isr, replicas                  []int32
}

// becomeLeaderOrFollower applies one LeaderAndIsr partition entry and returns
// the Kafka error code for it. leaderAddr finds the leader's inter-broker
// address (from the request's live leaders) for a follower.
func (rm *replicaManager) becomeLeaderOrFollower(tp logstore.TopicPartition, st partitionState, leaderAddr func(int32) (string, bool)) int16 {
	if !contains(st.replicas, rm.brokerID) {
		return kerr.UnknownTopicOrPartition.Code
	}
	p, code := rm.getOrCreate(tp)
	if code != 0 {
		return code
	}
	minInsync := rm.minInsync(tp.Topic)
	p.leadership.Lock()
	defer p.leadership.Unlock()
	p.mu.RLock()
	stale := st.leaderEpoch <= p.leaderEpoch
	// A follower whose leader stays (only the epoch moved) keeps its
	// fetcher: add below updates the partition's fetch state in place.
	sameLeader := st.leader != rm.brokerID && st.leader >= 0 && st.leader == p.leader
	p.mu.RUnlock()
	if stale {
		return kerr.StaleControllerEpoch.Code
	}
	// Stop replicating first: once remove returns no fetcher appends to the
	// log, whatever this broker becomes. (When the leader stays, its
	// fetcher may append what it fetched in the old epoch: the same
	// leader's records.)
	if rm.fetchers != nil && !sameLeader {
		rm.fetchers.remove(tp)
	}
	now := rm.now()
	p.mu.Lock()
	if st.leaderEpoch <= p.leaderEpoch { // checked and set under one lock
		p.mu.Unlock()
		return kerr.StaleControllerEpoch.Code
	}
	wasLeader := p.leader == rm.brokerID
	if !wasLeader {
		p.leaderSince = st.leaderEpoch
	}
	// Only an epoch bump by one that keeps this broker leader keeps the
	// followers' state: after a skipped epoch another leader may have been
	// followed (and logs truncated) meanwhile.
	keepFollowers := wasLeader && st.leader == rm.brokerID && st.leaderEpoch == p.leaderEpoch+1
	p.leader, p.leaderEpoch, p.zkVersion, p.controllerEpoch = st.leader, st.leaderEpoch, st.zkVersion, st.controllerEpoch
	rm.mu.RLock()
	if v, ok := rm.minInsyncChanged[tp.Topic]; ok {
		minInsync = v // changed at run time, possibly after minInsync was read
	}
	rm.mu.RUnlock()
	p.isr, p.replicas, p.minInsync = st.isr, st.replicas, minInsync
	isLeader := st.leader == rm.brokerID
	if isLeader {
		if keepFollowers {
			p.followers = followerStatesAfterEpochBump(rm.brokerID, p.followers, st.replicas, st.isr, now)
		} else {
			p.followers = newFollowerStates(rm.brokerID, st.replicas, st.isr, now)
		}
		p.leaderEpochStart = p.log.LogEndOffset()
		// The new epoch starts here even before anything is appended
		// (Kafka's maybeAssignEpochStartOffset): a follower asking where
		// its own older epoch ends gets this answer, not the high-water
		// mark fallback.
		if err := p.log.AssignEpochStartOffset(st.leaderEpoch, p.leaderEpochStart); err != nil {
			rm.log.WithError(err).WithField("partition", tp.String()).Error("cannot record the leader epoch's start")
		}
	} else {
		p.followers = nil
	}
	p.joining = nil
	p.notifyLocked()
	p.mu.Unlock()
	if rm.leadershipChanged != nil {
		rm.leadershipChanged(tp)
	}
	fields := logrus.Fields{"partition": tp.String(), "leader_epoch": st.leaderEpoch, "isr": st.isr}
	if isLeader {
		rm.maybeIncrementHW(p)
		if !wasLeader {
			rm.log.WithFields(fields).Info("became leader")
		}
		return 0
	}
	if wasLeader {
		rm.log.WithFields(fields).WithField("leader", st.leader).Info("became follower")
	}
	if rm.fetchers != nil {
		if st.leader < 0 {
			return 0
		}
		addr, ok := leaderAddr(st.leader)
		if !ok {
			rm.fetchers.remove(tp) // kept above if the leader stayed
			rm.log.WithFields(fields).WithField("leader", st.leader).Warn("leader's inter-broker endpoint unknown; not replicating until the next LeaderAndIsr")
			return 0
		}
		rm.fetchers.add(tp, p, st.leader, addr, st.leaderEpoch)
	}
	return 0
}

// notifyLocked wakes watchers of p's leadership and ISR. p.mu must be held.
func (p *partition) notifyLocked() {
	if p.changed != nil {
		close(p.changed)
	}
	p.changed = make(chan struct{})
}

// stateChanged returns a channel closed on p's next leadership or ISR change.
func (p *partition) stateChanged() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.changed == nil {
		p.changed = make(chan struct{})
	}
	return p.changed
}

// logConfig is the log configuration of a topic: the broker's, with the
// topic's overrides. If they cannot be read the broker's is used.
func (rm *replicaManager) logConfig(topic string) *logstore.Config {
	cfg := applyTopicConfigs(rm.logCfg, rm.topicOverrides(topic))
	return &cfg
}

// topicOverrides reads a topic's config overrides; on error none.
func (rm *replicaManager) topicOverrides(topic string) map[string]string {
	if rm.topicConfig == nil {
		return nil
	}
	overrides, err := rm.topicConfig(topic)
	if err != nil {
		rm.log.WithError(err).WithField("topic", topic).Warn("cannot read topic config; using the broker's")
	}
	return overrides
}

// minInsync is the topic's min.insync.replicas (the broker's unless
// overridden).
func (rm *replicaManager) minInsync(topic string) int {
	return minInsyncOf(rm.topicOverrides(topic), rm.repl.minInsyncReplicas)
}

// minInsyncOf is min.insync.replicas from a topic's overrides, else def.
func minInsyncOf(overrides map[string]string, def int) int {
	if v, ok := overrides["min.insync.replicas"]; ok {
		if n, err := strconv.Atoi(v); err == nil && n >= 1 {
			return n
		}
	}
	return def
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
// leader epoch still fences stale requests) but no longer leads or
// replicates; with deletion its log is removed.
func (rm *replicaManager) stopReplica(tp logstore.TopicPartition, deleteData bool) int16 {
	if rm.fetchers != nil {
		rm.fetchers.remove(tp)
	}
	if rm.leadershipChanged != nil {
		defer rm.leadershipChanged(tp)
	}
	resign := func(p *partition) {
		p.leadership.Lock()
		p.mu.Lock()
		p.leader, p.followers, p.joining = -1, nil, nil
		p.notifyLocked()
		p.mu.Unlock()
		p.leadership.Unlock()
	}
	if !deleteData {
		if p := rm.get(tp); p != nil {
			resign(p)
		}
		return 0
	}
	rm.mu.Lock()
	p, hosted := rm.partitions[tp]
	delete(rm.partitions, tp)
	rm.mu.Unlock()
	if hosted {
		resign(p)
	}
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

// leaderForEpoch is leaderFor with a client's current_leader_epoch checked
// first, in Kafka 2.4's order (Partition.getLocalLog): a hosted replica
// answers FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH before
// NOT_LEADER_FOR_PARTITION. requested -1 skips the epoch check.
func (rm *replicaManager) leaderForEpoch(tp logstore.TopicPartition, meta *metadataCache, requested int32) (*partition, int32, int16) {
	p := rm.get(tp)
	if p == nil {
		return rm.leaderFor(tp, meta) // not hosted: NOT_LEADER or UNKNOWN
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if requested >= 0 {
		if code := checkLeaderEpoch(requested, p.leaderEpoch); code != 0 {
			return nil, 0, code
		}
	}
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
// broker leads, in leaderEpoch. With acks=all (requireISR) the write is
// refused with NOT_ENOUGH_REPLICAS, storing nothing, while the ISR is
// smaller than min.insync.replicas. Fetches parked on the partition are
// woken by the log itself.
func (rm *replicaManager) appendAsLeader(p *partition, leaderEpoch int32, records []byte, requireISR bool) (logstore.AppendInfo, error) {
	info, _, err := rm.appendAsLeaderSince(p, leaderEpoch, records, requireISR)
	return info, err
}

// appendAsLeaderSince is appendAsLeader that also returns the epoch in which
// the leadership the append was made in began (for acks=all waits).
func (rm *replicaManager) appendAsLeaderSince(p *partition, leaderEpoch int32, records []byte, requireISR bool) (logstore.AppendInfo, int32, error) {
	p.leadership.RLock()
	defer p.leadership.RUnlock()
	p.mu.RLock()
	stale := p.leader != rm.brokerID || p.leaderEpoch != leaderEpoch
	since := p.leaderSince
	short := requireISR && len(p.isr) < p.minInsync
	isrSize, minInsync := len(p.isr), p.minInsync
	p.mu.RUnlock()
	switch {
	case stale:
		return logstore.AppendInfo{}, 0, errNotLeader
	case short:
		return logstore.AppendInfo{}, 0, fmt.Errorf("%w: ISR has %d replicas, min.insync.replicas is %d", errNotEnoughReplicas, isrSize, minInsync)
	}
	// Idempotent batches are checked against the log's producer state in
	// Append (logstore/producer_state.go): a retried batch still cached
	// comes back as a Duplicate with its original offsets, a fenced epoch
	// or a sequence gap is refused, nothing of the request is written then.
	info, err := p.log.Append(records, leaderEpoch)
	if err != nil {
		return info, since, err
	}
	rm.maybeIncrementHW(p)
	return info, since, nil
}

// errNotLeader and errNotEnoughReplicas are replication refusals, mapped to
// Kafka's codes by storageErrorCode.
var (
	errNotLeader         = errors.New("not the leader of this partition (any more)")
	errNotEnoughReplicas = errors.New("not enough in-sync replicas")
)

// maybeIncrementHW moves a leader's high-water mark up to the smallest log
// end offset in the ISR. It never moves it down.
func (rm *replicaManager) maybeIncrementHW(p *partition) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.leader != rm.brokerID {
		return
	}
	counted := hwReplicas(rm.brokerID, p.isr, p.joining, p.followers, rm.now(), rm.repl.lagTimeMax)
	if hw, ok := highWatermark(rm.brokerID, p.log.LogEndOffset(), counted, p.followers); ok {
		p.log.MaybeIncrementHighWatermark(hw)
	}
}

// recordFollowerFetch updates the leader's view of follower id after it
// fetched from fetchOffset, reporting its log start offset logStart, while
// the log ended at leaderLEO, then moves the high-water mark and adds the
// follower to the ISR if it caught up. A follower whose log start rose
// wakes the partition's watchers (DeleteRecords waiting for the low
// watermark). It reports false when id is not a replica of p (or p is not
// led here).
func (rm *replicaManager) recordFollowerFetch(ctx context.Context, p *partition, id int32, fetchOffset, logStart, leaderLEO int64) bool {
	now := rm.now()
	p.mu.Lock()
	f := p.followers[id]
	if p.leader != rm.brokerID || f == nil {
		p.mu.Unlock()
		return false
	}
	prevStart := f.logStart
	f.updateFetchState(fetchOffset, logStart, leaderLEO, now)
	if f.logStart > prevStart {
		p.notifyLocked()
	}
	join := shouldJoinISR(id, f, p.isr, p.replicas, p.log.HighWatermark(), p.leaderEpochStart)
	p.mu.Unlock()
	rm.maybeIncrementHW(p)
	if join {
		rm.expandISR(ctx, p, id)
	}
	return true
}

// lowWatermarkIfLeader returns p's low watermark (lowWatermark, with the
// brokers alive in the metadata cache), or NOT_LEADER_FOR_PARTITION when
// this broker does not lead p.
func (rm *replicaManager) lowWatermarkIfLeader(p *partition, alive func(int32) bool) (int64, int16) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.leader != rm.brokerID {
		return -1, kerr.NotLeaderForPartition.Code
	}
	return lowWatermark(p.log.LogStartOffset(), p.followers, alive), 0
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
	case errors.Is(err, errNotLeader):
		return kerr.NotLeaderForPartition.Code
	case errors.Is(err, errNotEnoughReplicas):
		return kerr.NotEnoughReplicas.Code
	case errors.Is(err, logstore.ErrOutOfOrderSequence):
		return kerr.OutOfOrderSequenceNumber.Code
	case errors.Is(err, logstore.ErrUnknownProducerID):
		return kerr.UnknownProducerID.Code
	case errors.Is(err, logstore.ErrInvalidProducerEpoch):
		return kerr.InvalidProducerEpoch.Code
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

// ackState tells whether an acks=all append made during the leadership that
// began in epoch leaderSince, ending before required, is done, and with which error code (Kafka's
// Partition.checkEnoughReplicasReachOffset): done once the high-water mark
// reached it (NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR is now smaller
// than min.insync.replicas), or at once with NOT_LEADER_FOR_PARTITION when
// this broker stopped leading since (even if it leads again: its log may
// have been truncated meanwhile).
func (rm *replicaManager) ackState(p *partition, leaderSince int32, required int64) (code int16, done bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	switch {
	case p.leader != rm.brokerID || p.leaderSince != leaderSince:
		return kerr.NotLeaderForPartition.Code, true
	case p.log.HighWatermark() < required:
		return 0, false
	case len(p.isr) < p.minInsync:
		return kerr.NotEnoughReplicasAfterAppend.Code, true
	}
	return 0, true
}
