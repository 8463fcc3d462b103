package zkcoord

import (
	"context"
	"io"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"
)

func quietLogger() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

func recv(t *testing.T, ch <-chan SessionEvent) SessionEvent {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no session event")
	}
	return SessionEvent{}
}

// TestSessionStateMachine drives the go-zookeeper event translation without
// a server: first session, disconnect/reconnect, expiry, new session, and
// OnNewSession rounds (in order, ctx cancelled by a further expiry).
func TestSessionStateMachine(t *testing.T) {
	s := newSession(quietLogger(), []string{"x:1"}, "")
	s.start(s.hookLoop)
	defer s.Close()
	events, cancel := s.Subscribe()
	defer cancel()

	var mu sync.Mutex
	var calls []string
	block := make(chan struct{})
	ctxs := make(chan context.Context, 4)
	s.OnNewSession(func(ctx context.Context) {
		mu.Lock()
		calls = append(calls, "a")
		mu.Unlock()
		ctxs <- ctx
	})
	s.OnNewSession(func(ctx context.Context) {
		mu.Lock()
		calls = append(calls, "b")
		mu.Unlock()
		select {
		case <-block:
		case <-ctx.Done():
		}
	})

	raw := func(st zk.State, sid int64) { s.handleRaw(rawEvent{state: st, sessionID: sid}) }
	raw(zk.StateConnecting, 0)
	raw(zk.StateHasSession, 10)
	if ev := recv(t, events); ev != (SessionEvent{StateConnected, 10}) {
		t.Fatalf("first: %+v", ev)
	}
	select {
	case <-s.firstSession:
	default:
		t.Fatal("firstSession not closed")
	}
	raw(zk.StateDisconnected, 10)
	raw(zk.StateDisconnected, 10) // duplicate: no second event
	raw(zk.StateHasSession, 10)
	if got := []SessionEvent{recv(t, events), recv(t, events)}; !reflect.DeepEqual(got, []SessionEvent{{StateDisconnected, 10}, {StateConnected, 10}}) {
		t.Fatalf("reconnect: %+v", got)
	}
	raw(zk.StateDisconnected, 10)
	raw(zk.StateExpired, 0)
	raw(zk.StateDisconnected, 0) // go-zookeeper emits this after Expired
	raw(zk.StateHasSession, 11)
	want := []SessionEvent{{StateDisconnected, 10}, {StateExpired, 10}, {StateNewSession, 11}}
	if got := []SessionEvent{recv(t, events), recv(t, events), recv(t, events)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("expiry: %+v", got)
	}
	ctx1 := <-ctxs
	// while hook b of round 1 blocks, session 11 expires unnoticed (missed
	// Expired event) and 12 arrives: round 1's ctx is cancelled, Expired is
	// synthesised, and a second round runs.
	raw(zk.StateHasSession, 12)
	want = []SessionEvent{{StateExpired, 11}, {StateNewSession, 12}}
	if got := []SessionEvent{recv(t, events), recv(t, events)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("missed expiry: %+v", got)
	}
	select {
	case <-ctx1.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("round 1 ctx not cancelled")
	}
	ctx2 := <-ctxs
	if ctx2.Err() != nil {
		t.Fatal("round 2 ctx already cancelled")
	}
	close(block)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		got := append([]string(nil), calls...)
		mu.Unlock()
		if reflect.DeepEqual(got, []string{"a", "b", "a", "b"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hook calls %v", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s.State() != StateNewSession {
		t.Fatalf("state %v", s.State())
	}
	s.Close()
	if ctx2.Err() == nil {
		t.Fatal("Close did not cancel hook ctx")
	}
	if _, ok := <-events; ok {
		t.Fatal("subscriber stream not closed by Close")
	}
	// Subscribe after Close yields a closed stream
	ev2, c2 := s.Subscribe()
	c2()
	if _, ok := <-ev2; ok {
		t.Fatal("stream open after Close")
	}
}

func TestSubscriberNeverDrops(t *testing.T) {
	s := newSession(quietLogger(), []string{"x:1"}, "")
	defer s.Close()
	events, cancel := s.Subscribe()
	defer cancel()
	s.handleRaw(rawEvent{state: zk.StateHasSession, sessionID: 1})
	for i := 0; i < 1000; i++ {
		s.handleRaw(rawEvent{state: zk.StateDisconnected})
		s.handleRaw(rawEvent{state: zk.StateHasSession, sessionID: 1})
	}
	for i := 0; i < 2001; i++ {
		recv(t, events)
	}
}

func TestPathMapping(t *testing.T) {
	s := newSession(quietLogger(), []string{"x:1"}, "/kafka")
	defer s.Close()
	for in, want := range map[string]string{"/": "/kafka", "/brokers/ids": "/kafka/brokers/ids"} {
		got, err := s.abs(in)
		if err != nil || got != want {
			t.Errorf("abs(%q) = %q %v", in, got, err)
		}
		if back := s.rel(got); back != in {
			t.Errorf("rel(%q) = %q", got, back)
		}
	}
	for _, bad := range []string{"", "x", "/a/", "/a//b", "/a/../b"} {
		if _, err := s.abs(bad); err == nil {
			t.Errorf("abs(%q) accepted", bad)
		}
	}
}
