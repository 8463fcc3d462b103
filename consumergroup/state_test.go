package consumergroup

import (
	"reflect"
	"testing"
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
