package consumergroup

import (
	"context"
	"reflect"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkafka/zkafka/zkcoord"
)

func TestDecide(t *testing.T) {
	live := memberState{Registered: true, Owning: true}
	tests := []struct {
		name  string
		st    memberState
		ev    memberEvent
		want  memberState
		steps []step
	}{
		{"change rebalances", live, evChange, memberState{Registered: true, Owning: true, Dirty: true}, []step{stepRebalance}},
		{"change while disconnected waits", memberState{Registered: true, Owning: true, Paused: true}, evChange,
			memberState{Registered: true, Owning: true, Paused: true, Dirty: true}, nil},
		{"disconnect stops delivery, keeps ownership", live, evDisconnected, memberState{Registered: true, Owning: true, Paused: true}, []step{stepStopFetching}},
		{"second disconnect is a no-op", memberState{Registered: true, Paused: true}, evDisconnected, memberState{Registered: true, Paused: true}, nil},
		{"reconnect resumes the same partitions", memberState{Registered: true, Owning: true, Paused: true}, evReconnected, live, []step{stepResumeFetching}},
		{"reconnect with a pending change rebalances", memberState{Registered: true, Owning: true, Paused: true, Dirty: true}, evReconnected,
			memberState{Registered: true, Owning: true, Dirty: true}, []step{stepRebalance}},
		{"reconnect owning nothing does nothing", memberState{Registered: true, Paused: true}, evReconnected, memberState{Registered: true}, nil},
		{"connected while not paused is a no-op", live, evReconnected, live, nil},
		{"expiry forgets ownership", live, evExpired, memberState{Paused: true, Dirty: true}, []step{stepStopFetching, stepForgetOwnership}},
		{"expiry owning nothing", memberState{Registered: true}, evExpired, memberState{Paused: true, Dirty: true}, []step{stepStopFetching}},
		{"new session registers and rebalances", memberState{Paused: true, Dirty: true}, evNewSession, memberState{Dirty: true}, []step{stepRegister, stepRebalance}},
		{"change after expiry waits for the new session", memberState{Paused: true, Dirty: true}, evChange, memberState{Paused: true, Dirty: true}, nil},
		{"retry after a failed rebalance", memberState{Registered: true, Dirty: true}, evRetry, memberState{Registered: true, Dirty: true}, []step{stepRebalance}},
		{"retry with nothing pending", live, evRetry, live, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, steps := decide(tc.st, tc.ev)
			if got != tc.want || !reflect.DeepEqual(steps, tc.steps) {
				t.Fatalf("decide(%+v, %d) = %+v %v, want %+v %v", tc.st, tc.ev, got, steps, tc.want, tc.steps)
			}
		})
	}
}

// A watch dropped by a session expiry (EventNotWatching) is not a change of
// the group: it must not start a rebalance that would "release" owner znodes
// the expiry already removed (the expiry's session event handles it).
func TestWatchDroppedByExpiryIsNoChange(t *testing.T) {
	c := &Consumer{}
	c.r.init()
	path := zkcoord.ConsumerGroupIDsPath("g")
	c.r.armed[path] = true
	if c.onWatch(context.Background(), watchFired{path: path, ev: zkcoord.Event{Type: zkcoord.EventNotWatching, Path: path}}) {
		t.Error("EventNotWatching started a rebalance")
	}
	if !c.r.armed[path] {
		t.Error("a dropped watch of the old session unarmed the path (the new session may have armed it already)")
	}
	if !c.onWatch(context.Background(), watchFired{path: path, ev: zkcoord.Event{Type: zk.EventNodeChildrenChanged, Path: path}}) {
		t.Error("a membership change did not start a rebalance")
	}
}
