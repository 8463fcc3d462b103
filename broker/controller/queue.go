package controller

import (
	"sync"
)

// queue is the controller's unbounded event queue: ZooKeeper watch
// goroutines, session events, timers and request senders push without ever
// blocking; the event loop drains it.
type queue struct {
	mu     sync.Mutex
	events []event
	signal chan struct{}
}

func newQueue() *queue { return &queue{signal: make(chan struct{}, 1)} }

func (q *queue) push(ev event) {
	q.mu.Lock()
	q.events = append(q.events, ev)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// pop returns the oldest event, if any.
func (q *queue) pop() (event, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.events) == 0 {
		return nil, false
	}
	ev := q.events[0]
	q.events[0] = nil
	q.events = q.events[1:]
	return ev, true
}

// clear drops queued events (a session expired: they are stale).
func (q *queue) clear(keep func(event) bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	kept := q.events[:0]
	for _, ev := range q.events {
		if keep(ev) {
			kept = append(kept, ev)
		}
	}
	clear(q.events[len(kept):])
	q.events = kept
}
