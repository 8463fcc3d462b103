package group

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkHeartbeat measures a Heartbeat through the coordinator: lookup,
// ownership check, the group's actor and back.
func BenchmarkHeartbeat(b *testing.B) {
	c := newTestCoordinator(b)
	ctx := context.Background()
	r, _ := c.Join(ctx, "g", testJoin(""))
	c.Sync(ctx, "g", SyncRequest{MemberID: r.MemberID, Generation: 1})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if code, _ := c.Heartbeat(ctx, "g", r.MemberID, nil, 1); code != 0 {
			b.Fatal(code)
		}
	}
}

// BenchmarkRebalance measures a full rebalance of a 100-member group in the
// state machine: every member rejoins, the leader assigns, all sync.
func BenchmarkRebalance(b *testing.B) {
	h := newHarness(b, 1000, 0)
	ids := h.stable(100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, id := range ids {
			h.join(joinReq(id))
		}
		gen := h.g.generation
		assign := map[string][]byte{}
		for _, id := range ids {
			assign[id] = []byte(fmt.Sprint(i))
			if id != h.g.leader {
				h.sync(id, gen, nil)
			}
		}
		h.sync(h.g.leader, gen, assign)
		if h.g.state != Stable {
			b.Fatalf("state %s", h.g.state)
		}
	}
}
