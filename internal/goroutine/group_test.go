package goroutine

import (
	"sync/atomic"
	"testing"
)

func TestWaitWaitsAndRefusesNewWork(t *testing.T) {
	var g Group
	var ran atomic.Int32
	release := make(chan struct{})
	for i := 0; i < 10; i++ {
		if !g.Go("worker", func() { <-release; ran.Add(1) }) {
			t.Fatal("Go refused before Wait")
		}
	}
	done := make(chan struct{})
	go func() { g.Wait(); close(done) }()
	close(release)
	<-done
	if ran.Load() != 10 {
		t.Fatalf("Wait returned with %d of 10 done", ran.Load())
	}
	if g.Go("late", func() {}) {
		t.Fatal("Go started work after Wait")
	}
}
