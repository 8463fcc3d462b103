package broker

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/zkafka/zkafka/logstore"
	"github.com/zkafka/zkafka/zkcoord"
)

// isrStore is where a leader records ISR changes: the partition state znode,
// written conditionally on its version, and the change notifications that
// tell the controller (Kafka's ReplicationUtils.updateLeaderAndIsr and
// ReplicaManager.maybePropagateIsrChanges).
type isrStore interface {
	updateLeaderAndIsr(ctx context.Context, tp logstore.TopicPartition, st zkcoord.LeaderAndIsr, version int32) (newVersion int32, err error)
	readLeaderAndIsr(ctx context.Context, tp logstore.TopicPartition) (st zkcoord.LeaderAndIsr, version int32, err error)
	notifyIsrChanges(ctx context.Context, tps []logstore.TopicPartition) error
}

// zkISRStore is the isrStore of a broker: ZooKeeper itself.
type zkISRStore struct{ zk *zkcoord.Session }

func (s zkISRStore) updateLeaderAndIsr(ctx context.Context, tp logstore.TopicPartition, st zkcoord.LeaderAndIsr, version int32) (int32, error) {
	stat, err := s.zk.Set(ctx, zkcoord.PartitionStatePath(tp.Topic, tp.Partition), zkcoord.EncodeLeaderAndIsr(st), version)
	if err != nil {
		return 0, err
	}
	return stat.Version, nil
}

func (s zkISRStore) readLeaderAndIsr(ctx context.Context, tp logstore.TopicPartition) (zkcoord.LeaderAndIsr, int32, error) {
	data, stat, err := s.zk.Get(ctx, zkcoord.PartitionStatePath(tp.Topic, tp.Partition))
	if err != nil {
		return zkcoord.LeaderAndIsr{}, 0, err
	}
	st, err := zkcoord.DecodeLeaderAndIsr(data)
	return st, stat.Version, err
}

func (s zkISRStore) notifyIsrChanges(ctx context.Context, tps []logstore.TopicPartition) error {
	ztps := make([]zkcoord.TopicPartition, len(tps))
	for i, tp := range tps {
		ztps[i] = zkcoord.TopicPartition{Topic: tp.Topic, Partition: tp.Partition}
	}
	_, err := s.zk.Create(ctx, zkcoord.IsrChangeSequentialPath, zkcoord.EncodeIsrChangeNotification(ztps), zkcoord.FlagPersistent|zkcoord.FlagSequence)
	return err
}

// isrWriteTimeout bounds one ISR write; a leader that cannot reach
// ZooKeeper keeps its ISR (it cannot shrink it, so acks=all waits).
const isrWriteTimeout = 10 * time.Second

// expandISR adds follower id to p's ISR (Kafka's maybeExpandIsr), if it is
// still caught up once the ISR lock is held.
func (rm *replicaManager) expandISR(ctx context.Context, p *partition, id int32) {
	rm.changeISR(ctx, p, func(isr []int32) ([]int32, bool) {
		f := p.followers[id]
		if !shouldJoinISR(id, f, isr, p.replicas, p.log.HighWatermark(), p.leaderEpochStart) {
			return nil, false
		}
		return append(slices.Clone(isr), id), true
	}, "expanded")
}

// shrinkISRs removes followers that fell behind for longer than
// replica.lag.time.max.ms from the ISR of every partition led here (Kafka's
// maybeShrinkIsr, run every half lag time).
func (rm *replicaManager) shrinkISRs(ctx context.Context) {
	rm.mu.RLock()
	parts := make([]*partition, 0, len(rm.partitions))
	for _, p := range rm.partitions {
		parts = append(parts, p)
	}
	rm.mu.RUnlock()
	for _, p := range parts {
		rm.changeISR(ctx, p, func(isr []int32) ([]int32, bool) {
			if p.leader != rm.brokerID {
				return nil, false
			}
			lagging := laggingISR(rm.brokerID, isr, p.followers, rm.now(), rm.repl.lagTimeMax)
			if len(lagging) == 0 {
				return nil, false
			}
			return without(isr, lagging), true
		}, "shrunk")
	}
}

// changeISR performs one ISR change of a partition led here: decide computes
// the new ISR from the current one (false: no change); it runs with p.mu
// held. The state znode is
// written conditionally on the version this leader knows; only when that
// succeeds does the change take effect here, so the ISR in memory is never
// smaller than the one in ZooKeeper (which elections trust). A version
// conflict means the controller changed the partition: its LeaderAndIsr
// follows, and nothing changes here.
func (rm *replicaManager) changeISR(ctx context.Context, p *partition, decide func([]int32) ([]int32, bool), what string) {
	if rm.isr == nil {
		return
	}
	p.isrMu.Lock()
	defer p.isrMu.Unlock()
	// Decide under the partition lock; members being added count for the
	// high-water mark from that moment, so it cannot pass them while
	// ZooKeeper already lists them as in sync.
	p.mu.Lock()
	leader, epoch, ctrlEpoch, version, isr := p.leader, p.leaderEpoch, p.controllerEpoch, p.zkVersion, p.isr
	var newISR []int32
	ok := leader == rm.brokerID
	if ok {
		newISR, ok = decide(isr)
	}
	if ok {
		p.joining = without(newISR, isr)
	}
	p.mu.Unlock()
	if !ok {
		return
	}
	st := zkcoord.LeaderAndIsr{Leader: rm.brokerID, LeaderEpoch: epoch, Isr: newISR, ControllerEpoch: ctrlEpoch}
	log := rm.log.WithFields(logrus.Fields{"partition": p.tp.String(), "leader_epoch": epoch, "old_isr": isr, "new_isr": newISR})
	newVersion, written, known := rm.writeISR(ctx, p.tp, st, version, log)
	if !known {
		// The write may or may not have landed: the members being added
		// keep counting for the high-water mark (p.joining stays) until a
		// later change settles it.
		return
	}
	p.mu.Lock()
	p.joining = nil
	applied := written && p.leader == rm.brokerID && p.leaderEpoch == epoch
	if applied {
		p.isr, p.zkVersion = newISR, newVersion
		p.notifyLocked()
	}
	p.mu.Unlock()
	if !applied {
		return
	}
	log.Info("ISR " + what)
	rm.isrChanges.add(p.tp, rm.now())
	rm.maybeIncrementHW(p)
}

// writeISR writes a leader's new partition state conditionally on version.
// When the write fails it reads the znode back, as Kafka's
// checkLeaderAndIsrZkData does: a write that landed although its answer was
// lost (a timeout, a lost connection) is found there. known is false when
// the outcome could not be learnt; written tells whether st is in ZooKeeper
// (at newVersion).
func (rm *replicaManager) writeISR(ctx context.Context, tp logstore.TopicPartition, st zkcoord.LeaderAndIsr, version int32, log logrus.FieldLogger) (newVersion int32, written, known bool) {
	wctx, cancel := context.WithTimeout(ctx, isrWriteTimeout)
	newVersion, err := rm.isr.updateLeaderAndIsr(wctx, tp, st, version)
	cancel()
	if err == nil {
		return newVersion, true, true
	}
	rctx, cancel := context.WithTimeout(ctx, isrWriteTimeout)
	cur, curVersion, rerr := rm.isr.readLeaderAndIsr(rctx, tp)
	cancel()
	switch {
	case rerr != nil:
		log.WithError(err).WithField("read_back_error", rerr).Warn("cannot write ISR change, nor learn whether it landed")
		return 0, false, false
	case cur.Leader == st.Leader && cur.LeaderEpoch == st.LeaderEpoch && cur.ControllerEpoch == st.ControllerEpoch && slices.Equal(cur.Isr, st.Isr):
		log.WithError(err).Info("ISR change found in ZooKeeper although its write reported an error")
		return curVersion, true, true
	case errors.Is(err, zkcoord.ErrBadVersion):
		log.Info("partition state changed in ZooKeeper (by the controller); ISR change skipped")
	default:
		log.WithError(err).Warn("cannot write ISR change")
	}
	return 0, false, true
}

// isrChangeSet batches the partitions whose ISR this broker changed until
// they are propagated to the controller through /isr_change_notification.
type isrChangeSet struct {
	mu              sync.Mutex
	pending         map[logstore.TopicPartition]bool
	lastChange      time.Time
	lastPropagation time.Time
}

func (s *isrChangeSet) add(tp logstore.TopicPartition, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == nil {
		s.pending = map[logstore.TopicPartition]bool{}
	}
	s.pending[tp] = true
	s.lastChange = now
}

// Kafka's ReplicaManager propagation rule: changes are written once no new
// one came for isrChangeQuietPeriod, or at least every
// isrChangeMaxDelay while they keep coming; checked every
// isrChangeCheckInterval.
const (
	isrChangeCheckInterval = 2500 * time.Millisecond
	isrChangeQuietPeriod   = 5 * time.Second
	isrChangeMaxDelay      = 60 * time.Second
)

// due returns the pending partitions if the propagation rule says to write
// them now, emptying the set.
func (s *isrChangeSet) due(now time.Time) []logstore.TopicPartition {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) == 0 || (now.Sub(s.lastChange) < isrChangeQuietPeriod && now.Sub(s.lastPropagation) < isrChangeMaxDelay) {
		return nil
	}
	out := make([]logstore.TopicPartition, 0, len(s.pending))
	for tp := range s.pending {
		out = append(out, tp)
	}
	slices.SortFunc(out, func(a, b logstore.TopicPartition) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return int(a.Partition - b.Partition)
	})
	s.pending = nil
	s.lastPropagation = now
	return out
}

// putBack returns partitions whose notification could not be written.
func (s *isrChangeSet) putBack(tps []logstore.TopicPartition) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == nil {
		s.pending = map[logstore.TopicPartition]bool{}
	}
	for _, tp := range tps {
		s.pending[tp] = true
	}
}

// runISRMaintenance shrinks lagging ISRs every half replica.lag.time.max.ms
// and propagates ISR changes to the controller, until ctx is done.
func (rm *replicaManager) runISRMaintenance(ctx context.Context) {
	if rm.isr == nil {
		return
	}
	shrink := time.NewTicker(max(rm.repl.lagTimeMax/2, 10*time.Millisecond))
	defer shrink.Stop()
	propagate := time.NewTicker(isrChangeCheckInterval)
	defer propagate.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-shrink.C:
			rm.shrinkISRs(ctx)
		case <-propagate.C:
			if tps := rm.isrChanges.due(rm.now()); len(tps) > 0 {
				wctx, cancel := context.WithTimeout(ctx, isrWriteTimeout)
				err := rm.isr.notifyIsrChanges(wctx, tps)
				cancel()
				if err != nil {
					rm.log.WithError(err).Warn("cannot write ISR change notification; will retry")
					rm.isrChanges.putBack(tps)
				}
			}
		}
	}
}
