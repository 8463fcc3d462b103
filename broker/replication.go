package broker

import (
	"time"
)

// This file holds the leader's replication decisions, Kafka 2.4's
// Partition/Replica rules as pure functions of the partition's state: how a
// follower's fetch moves its state, when the ISR grows or shrinks, and where
// the high-water mark is. replica_manager.go applies them under the
// partition's lock and performs the ZooKeeper writes they call for.

// followerState is what a leader knows of one follower, learnt from its
// fetches (Kafka's Replica on the leader).
type followerState struct {
	// leo is the follower's log end offset: the offset of its last fetch;
	// -1 until it fetched from this leader.
	leo int64
	// logStart is the log start offset the follower reported in its last
	// fetch (Fetch v5+); -1 until then (Kafka's Log.UnknownOffset).
	logStart int64
	// lastCaughtUp is the last time the follower was known to have
	// everything the leader had (Kafka's lastCaughtUpTimeMs).
	lastCaughtUp time.Time
	// lastFetch and lastFetchLeaderLEO are the previous fetch's time and
	// the leader's LEO then.
	lastFetch          time.Time
	lastFetchLeaderLEO int64
}

// newFollowerStates is the followers' state when this broker becomes leader
// (Kafka's Partition.makeLeader): offsets unknown; members of the ISR count
// as caught up now, so they are given replica.lag.time.max.ms to fetch,
// others as never caught up.
func newFollowerStates(self int32, replicas, isr []int32, now time.Time) map[int32]*followerState {
	out := make(map[int32]*followerState, len(replicas))
	for _, id := range replicas {
		if id == self {
			continue
		}
		fs := &followerState{leo: -1, logStart: -1, lastFetchLeaderLEO: -1}
		if contains(isr, id) {
			fs.lastCaughtUp = now
		}
		out[id] = fs
	}
	return out
}

// followerStatesAfterEpochBump is the followers' state when a LeaderAndIsr
// bumps the leader epoch by one and keeps this broker leader (an ISR change
// or reassignment step by the controller, a preferred election that leaves
// the leader): what their fetches told this leader stays (Kafka 2.4's
// Partition.makeLeader resets the followers' offsets only when isNewLeader),
// so the high-water mark and acks=all waits need no new fetch. Replicas new
// to the assignment start as newFollowerStates makes them, removed ones are
// forgotten, and replicas outside the new ISR lose their caught-up time
// (Kafka's resetLastCaughtUpTime): one the controller took out of the ISR
// (a dead or shutting-down broker, which stopped fetching) must not go on
// counting for the high-water mark (hwReplicas) until it fetches again.
// Unlike 2.4, members of the new ISR keep their caught-up time instead of
// being given a fresh replica.lag.time.max.ms.
func followerStatesAfterEpochBump(self int32, old map[int32]*followerState, replicas, isr []int32, now time.Time) map[int32]*followerState {
	out := newFollowerStates(self, replicas, isr, now)
	for id, fresh := range out {
		prev := old[id]
		if prev == nil {
			continue
		}
		kept := *prev
		if !contains(isr, id) {
			kept.lastCaughtUp = time.Time{}
		} else if kept.lastCaughtUp.IsZero() {
			kept.lastCaughtUp = fresh.lastCaughtUp
		}
		out[id] = &kept
	}
	return out
}

// updateFetchState records a follower fetch at fetchOffset, reporting its
// log start offset logStart, made at now while the leader's log ended at
// leaderLEO (Kafka's Replica.updateFetchState): a fetch from the leader's
// end means caught up now; a fetch from at least the leader's end at the
// previous fetch means caught up as of that fetch.
func (f *followerState) updateFetchState(fetchOffset, logStart, leaderLEO int64, now time.Time) {
	switch {
	case fetchOffset >= leaderLEO:
		f.lastCaughtUp = maxTime(f.lastCaughtUp, now)
	case f.lastFetchLeaderLEO >= 0 && fetchOffset >= f.lastFetchLeaderLEO:
		f.lastCaughtUp = maxTime(f.lastCaughtUp, f.lastFetch)
	}
	f.leo = fetchOffset
	f.logStart = logStart
	f.lastFetch = now
	f.lastFetchLeaderLEO = leaderLEO
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// highWatermark is the offset every counted replica (hwReplicas) has
// reached: the smallest log end offset among them, the leader's own
// included. ok is false while one has not fetched from this leader yet (its
// offset is unknown), in which case the high-water mark must stay where it
// is.
func highWatermark(self int32, leaderLEO int64, isr []int32, followers map[int32]*followerState) (hw int64, ok bool) {
	hw = leaderLEO
	for _, id := range isr {
		if id == self {
			continue
		}
		f := followers[id]
		if f == nil || f.leo < 0 {
			return 0, false
		}
		hw = min(hw, f.leo)
	}
	return hw, true
}

// hwReplicas lists the replicas whose log end offsets bound the high-water
// mark (Kafka 2.4's Partition.maybeIncrementLeaderHW): the ISR, followers
// being added to it, and followers that caught up within maxLag even if not
// in the ISR yet — so a follower about to join is never left behind by the
// high-water mark (which would keep it out of the ISR under steady load),
// and nothing is acknowledged that a joining follower lacks.
func hwReplicas(self int32, isr, joining []int32, followers map[int32]*followerState, now time.Time, maxLag time.Duration) []int32 {
	out := append(append([]int32(nil), isr...), joining...)
	for id, f := range followers {
		if id != self && !contains(out, id) && f.leo >= 0 && !f.lastCaughtUp.IsZero() && now.Sub(f.lastCaughtUp) <= maxLag {
			out = append(out, id)
		}
	}
	return out
}

// lowWatermark is Kafka 2.4's Partition.lowWatermarkIfLeader, the offset a
// DeleteRecords waits for: the smallest log start offset among the leader's
// own (leaderLogStart) and those of the followers (the assigned replicas
// but the leader) on live brokers — in the ISR or not. A live follower that
// has not fetched since this broker became leader, or fetches with a
// version that does not carry its log start (Fetch v4), counts as -1, so
// nothing waiting on it completes; followers on brokers that are not live
// are left out.
func lowWatermark(leaderLogStart int64, followers map[int32]*followerState, alive func(int32) bool) int64 {
	lw := leaderLogStart
	for id, f := range followers {
		if alive(id) && f.logStart < lw {
			lw = f.logStart
		}
	}
	return lw
}

// shouldJoinISR reports whether a follower outside the ISR has caught up
// enough to join it (Kafka's Partition.maybeExpandIsr): it is an assigned
// replica and has reached both the high-water mark and the start of the
// leader's current epoch, so every record it lacks is still above the HW.
func shouldJoinISR(id int32, f *followerState, isr, replicas []int32, hw, leaderEpochStart int64) bool {
	return f != nil && !contains(isr, id) && contains(replicas, id) && f.leo >= 0 && f.leo >= hw && f.leo >= leaderEpochStart
}

// laggingISR lists the ISR followers that have not caught up within maxLag
// (Kafka's Partition.getOutOfSyncReplicas). The leader itself never lags.
func laggingISR(self int32, isr []int32, followers map[int32]*followerState, now time.Time, maxLag time.Duration) []int32 {
	var out []int32
	for _, id := range isr {
		if id == self {
			continue
		}
		f := followers[id]
		if f == nil || now.Sub(f.lastCaughtUp) > maxLag {
			out = append(out, id)
		}
	}
	return out
}

// without returns ids minus drop, keeping the order.
func without(ids, drop []int32) []int32 {
	out := make([]int32, 0, len(ids))
	for _, id := range ids {
		if !contains(drop, id) {
			out = append(out, id)
		}
	}
	return out
}

// truncation is what a follower does with an OffsetForLeaderEpoch answer.
type truncation struct {
	offset int64 // truncate the log to this offset (no-op if >= LEO)
	done   bool  // false: truncate, then ask again with the epoch below
}

// truncationFor decides where a follower truncates before fetching from a
// new leader (Kafka 2.4's AbstractFetcherThread.getOffsetTruncationState).
// It asked the leader for the end of its own latest epoch; the leader
// answered (leaderEpoch, leaderEnd). followerEnd(epoch) is the follower's
// own (largest epoch <= epoch, its end offset), (-1, -1) when none.
func truncationFor(leaderEpoch int32, leaderEnd, followerLEO, followerHW int64, followerEnd func(int32) (int32, int64)) truncation {
	switch {
	case leaderEnd < 0:
		// The leader knows nothing of our epochs: fall back to the
		// high-water mark, which every replica has.
		return truncation{offset: min(followerHW, followerLEO), done: true}
	case leaderEpoch < 0:
		// A leader that does not track epochs: trust its end offset.
		return truncation{offset: min(leaderEnd, followerLEO), done: true}
	}
	epoch, end := followerEnd(leaderEpoch)
	switch {
	case epoch < 0:
		// We have no epoch at or below the leader's answer: nothing of
		// ours is known to be shared beyond the high-water mark.
		return truncation{offset: min(followerHW, followerLEO), done: true}
	case epoch != leaderEpoch:
		// We do not know the leader's epoch: cut to the end of our epoch
		// below it and ask again about that one.
		return truncation{offset: min(end, followerLEO), done: false}
	default:
		return truncation{offset: min(end, leaderEnd, followerLEO), done: true}
	}
}
