package broker

import (
	"context"
	"runtime/pprof"
	"sync"
)

// goroutines tracks the broker's background goroutines so that shutdown can
// wait for all of them. Go refuses to start new work once Wait has begun.
type goroutines struct {
	mu      sync.Mutex
	wg      sync.WaitGroup
	closing bool
}

// Go runs fn in a new goroutine labelled with name, unless shutdown started.
func (g *goroutines) Go(name string, fn func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return false
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		pprof.Do(context.Background(), pprof.Labels("zkafka", name), func(context.Context) { fn() })
	}()
	return true
}

// Wait stops new goroutines from starting and waits for the running ones.
func (g *goroutines) Wait() {
	g.mu.Lock()
	g.closing = true
	g.mu.Unlock()
	g.wg.Wait()
}
