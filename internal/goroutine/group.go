// Package goroutine tracks background goroutines so that shutdown can wait
// for every one of them (STYLE.md rule 6: no untracked goroutines).
package goroutine

import (
	"context"
	"runtime/pprof"
	"sync"
)

// Group tracks goroutines. The zero value is ready to use. Go refuses new
// work once Wait has begun, so nothing starts during shutdown.
type Group struct {
	mu      sync.Mutex
	wg      sync.WaitGroup
	closing bool
}

// Go runs fn in a new goroutine with the pprof label zkafka=name, unless
// Wait has begun; it reports whether fn was started.
func (g *Group) Go(name string, fn func()) bool {
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
func (g *Group) Wait() {
	g.mu.Lock()
	g.closing = true
	g.mu.Unlock()
	g.wg.Wait()
}
