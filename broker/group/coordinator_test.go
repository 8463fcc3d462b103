package group

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
)

// memStore is an in-memory OffsetStore for driving the coordinator in unit
// tests; the ZooKeeper store is tested against a real ZooKeeper in zkcoord
// and through the broker.
type memStore struct {
	mu   sync.Mutex
	offs map[string]map[TopicPartition]int64
}

func (s *memStore) CommitOffsets(_ context.Context, g string, o map[TopicPartition]int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.offs[g] == nil {
		s.offs[g] = map[TopicPartition]int64{}
	}
	for tp, v := range o {
		s.offs[g][tp] = v
	}
	return nil
}

func (s *memStore) FetchOffsets(_ context.Context, g string, tps []TopicPartition) (map[TopicPartition]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[TopicPartition]int64{}
	for tp, v := range s.offs[g] {
		out[tp] = v
	}
	if tps != nil {
		sel := map[TopicPartition]int64{}
		for _, tp := range tps {
			if v, ok := out[tp]; ok {
				sel[tp] = v
			}
		}
		out = sel
	}
	return out, nil
}

func (s *memStore) DeleteOffsets(_ context.Context, g string, tps []TopicPartition) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tp := range tps {
		delete(s.offs[g], tp)
	}
	return nil
}

func (s *memStore) DeleteGroup(_ context.Context, g string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.offs[g]; !ok {
		return ErrGroupNotFound
	}
	delete(s.offs, g)
	return nil
}

func (s *memStore) Groups(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for g := range s.offs {
		out = append(out, g)
	}
	return out, nil
}

type testCoord struct {
	*Coordinator
	leads atomic.Bool
	epoch atomic.Int32
	store *memStore
}

func newTestCoordinator(t testing.TB) *testCoord {
	log := logrus.New()
	log.SetOutput(io.Discard)
	tc := &testCoord{store: &memStore{offs: map[string]map[TopicPartition]int64{}}}
	tc.leads.Store(true)
	owns := func(int32) (int32, bool) { return tc.epoch.Load(), tc.leads.Load() }
	tc.Coordinator = New(Config{InitialRebalanceDelay: 0, OwnershipCheckInterval: 10 * time.Millisecond}, owns, tc.store, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return tc
}

func testJoin(member string) JoinRequest {
	r := joinReq(member)
	r.SessionTimeout = 10 * time.Second
	return r
}

func TestCoordinatorJoinSyncCommitFetch(t *testing.T) {
	c := newTestCoordinator(t)
	ctx := context.Background()
	r, err := c.Join(ctx, "g", testJoin(""))
	if err != nil || r.Error != 0 || r.Generation != 1 {
		t.Fatalf("join: %+v %v", r, err)
	}
	s, err := c.Sync(ctx, "g", SyncRequest{MemberID: r.MemberID, Generation: 1, Assignments: map[string][]byte{r.MemberID: []byte("x")}})
	if err != nil || s.Error != 0 || string(s.Assignment) != "x" {
		t.Fatalf("sync: %+v %v", s, err)
	}
	tp := TopicPartition{"t", 0}
	codes, err := c.CommitOffsets(ctx, "g", r.MemberID, nil, 1, map[TopicPartition]OffsetCommit{tp: {Offset: 42}})
	if err != nil || codes[tp] != 0 {
		t.Fatalf("commit: %v %v", codes, err)
	}
	codes, _ = c.CommitOffsets(ctx, "g", r.MemberID, nil, 0, map[TopicPartition]OffsetCommit{tp: {Offset: 43}})
	if codes[tp] != kerr.IllegalGeneration.Code {
		t.Fatalf("stale commit: %v", codes)
	}
	long := string(make([]byte, 5000))
	codes, _ = c.CommitOffsets(ctx, "g", r.MemberID, nil, 1, map[TopicPartition]OffsetCommit{tp: {Offset: 44, Metadata: &long}})
	if codes[tp] != kerr.OffsetMetadataTooLarge.Code {
		t.Fatalf("large metadata: %v", codes)
	}
	code, offs := c.FetchOffsets(ctx, "g", nil)
	if code != 0 || offs[tp] != 42 {
		t.Fatalf("fetch: %d %v", code, offs)
	}
	if code, sum, _ := c.Describe(ctx, "g"); code != 0 || sum.State != "Stable" || len(sum.Members) != 1 {
		t.Fatalf("describe: %d %+v", code, sum)
	}
	if code := c.DeleteGroup(ctx, "g"); code != kerr.NonEmptyGroup.Code {
		t.Fatalf("delete active group: %d", code)
	}
	code, _, _ = c.Leave(ctx, "g", []MemberIdentity{{MemberID: r.MemberID}})
	if code != 0 {
		t.Fatalf("leave: %d", code)
	}
	if code, list := c.List(ctx); code != 0 || len(list) != 1 || list[0].State != "Empty" {
		t.Fatalf("list: %d %+v", code, list)
	}
	if code := c.DeleteGroup(ctx, "g"); code != 0 {
		t.Fatalf("delete: %d", code)
	}
	if code := c.DeleteGroup(ctx, "g"); code != kerr.GroupIDNotFound.Code {
		t.Fatalf("delete again: %d", code)
	}
}

func TestCoordinatorNotCoordinatorAndUnload(t *testing.T) {
	c := newTestCoordinator(t)
	ctx := context.Background()
	r, _ := c.Join(ctx, "g", testJoin(""))
	c.Sync(ctx, "g", SyncRequest{MemberID: r.MemberID, Generation: 1})
	// A second member's join parks until the first rejoins, which it never
	// does: losing the partition answers it NOT_COORDINATOR.
	done := make(chan JoinResult, 1)
	go func() {
		jr, _ := c.Join(ctx, "g", testJoin(""))
		done <- jr
	}()
	deadline := time.After(30 * time.Second)
	for {
		code, _ := c.Heartbeat(ctx, "g", r.MemberID, nil, 1)
		if code == kerr.RebalanceInProgress.Code {
			break
		}
		select {
		case <-deadline:
			t.Fatal("second join never started a rebalance")
		case <-time.After(time.Millisecond):
		}
	}
	c.leads.Store(false)
	if jr := <-done; jr.Error != kerr.NotCoordinator.Code {
		t.Fatalf("parked join after losing leadership: %+v", jr)
	}
	if code, _ := c.Heartbeat(ctx, "g", r.MemberID, nil, 1); code != kerr.NotCoordinator.Code {
		t.Fatalf("heartbeat: %d", code)
	}
	// Leading again with a new epoch: the old state is gone.
	c.epoch.Store(5)
	c.leads.Store(true)
	if code, _ := c.Heartbeat(ctx, "g", r.MemberID, nil, 1); code != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat to the new coordinator: %d", code)
	}
}

func TestCoordinatorValidation(t *testing.T) {
	c := newTestCoordinator(t)
	ctx := context.Background()
	req := testJoin("")
	req.SessionTimeout = time.Second
	if r, _ := c.Join(ctx, "g", req); r.Error != kerr.InvalidSessionTimeout.Code {
		t.Fatalf("short session: %+v", r)
	}
	if r, _ := c.Join(ctx, "a/b", testJoin("")); r.Error != kerr.InvalidGroupID.Code {
		t.Fatalf("bad group id: %+v", r)
	}
	if r, _ := c.Join(ctx, "g", testJoin("someone")); r.Error != kerr.UnknownMemberID.Code {
		t.Fatalf("known member of a missing group: %+v", r)
	}
	if s, _ := c.Sync(ctx, "g", SyncRequest{MemberID: "x"}); s.Error != kerr.UnknownMemberID.Code {
		t.Fatalf("sync unknown group: %+v", s)
	}
	tp := TopicPartition{"t", 1}
	if codes, _ := c.CommitOffsets(ctx, "h", "", nil, -1, map[TopicPartition]OffsetCommit{tp: {Offset: 1}}); codes[tp] != 0 {
		t.Fatalf("simple commit: %v", codes)
	}
	if codes, _ := c.CommitOffsets(ctx, "k", "m", nil, 3, map[TopicPartition]OffsetCommit{tp: {Offset: 1}}); codes[tp] != kerr.IllegalGeneration.Code {
		t.Fatalf("commit to unknown group with generation: %v", codes)
	}
	code, res := c.DeleteOffsets(ctx, "h", []TopicPartition{tp})
	if code != 0 || res[tp] != 0 {
		t.Fatalf("offset delete: %d %v", code, res)
	}
	if code, _ := c.DeleteOffsets(ctx, "nothing", []TopicPartition{tp}); code != kerr.GroupIDNotFound.Code {
		t.Fatalf("offset delete of unknown group: %d", code)
	}
}
