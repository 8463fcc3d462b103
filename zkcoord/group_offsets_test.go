package zkcoord

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkafka/zkafka/internal/testutil"
)

func TestIntegration_ConsumerGroupOffsets(t *testing.T) {
	z := startZK(t)
	s := connectT(t, z.Connect("/kafka"), 6*time.Second)
	ctx := testCtx(t)
	raw := rawConn(t, z.Addr())

	// The first commit creates the parents; the second only sets data.
	offs := map[TopicPartition]int64{{"t", 0}: 5, {"t", 1}: 7, {"u", 3}: 0}
	if err := s.CommitConsumerOffsets(ctx, "g", offs); err != nil {
		t.Fatal(err)
	}
	offs[TopicPartition{"t", 0}] = 9
	offs[TopicPartition{"t", 2}] = 1 // one new partition among existing ones
	if err := s.CommitConsumerOffsets(ctx, "g", offs); err != nil {
		t.Fatal(err)
	}
	// What zkCli shows: decimal text under the chroot.
	data, stat, err := raw.Get("/kafka/consumers/g/offsets/t/0")
	if err != nil || string(data) != "9" || stat.Version != 1 {
		t.Fatalf("t/0: %q version %v, %v", data, stat, err)
	}
	got, err := s.ConsumerOffsets(ctx, "g", nil)
	if err != nil || len(got) != 4 || got[TopicPartition{"t", 2}] != 1 || got[TopicPartition{"u", 3}] != 0 {
		t.Fatalf("all offsets: %v %v", got, err)
	}
	got, err = s.ConsumerOffsets(ctx, "g", []TopicPartition{{"t", 1}, {"t", 9}})
	if err != nil || len(got) != 1 || got[TopicPartition{"t", 1}] != 7 {
		t.Fatalf("some offsets: %v %v", got, err)
	}
	// A classic consumer's own write is read back the same way.
	if _, err := raw.Create("/kafka/consumers/g/offsets/t/3", []byte("12"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ConsumerOffsets(ctx, "g", nil); got[TopicPartition{"t", 3}] != 12 {
		t.Fatalf("classic offset: %v", got)
	}
	if err := s.DeleteConsumerOffsets(ctx, "g", []TopicPartition{{"u", 3}}); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := raw.Exists("/kafka/consumers/g/offsets/u"); ok {
		t.Fatal("empty topic znode left behind")
	}
	if groups, err := s.ConsumerGroups(ctx); err != nil || len(groups) != 1 || groups[0] != "g" {
		t.Fatalf("groups: %v %v", groups, err)
	}

	// A live classic consumer (an ephemeral id) blocks deletion and survives.
	other, _, err := zk.Connect([]string{z.Addr()}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := s.CreateRecursive(ctx, ConsumerGroupIDsPath("g"), nil, FlagPersistent); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Create("/kafka/consumers/g/ids/c1", []byte("{}"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConsumerGroup(ctx, "g"); !errors.Is(err, ErrConsumerGroupNotEmpty) {
		t.Fatalf("delete with a live consumer: %v", err)
	}
	if ok, _, _ := raw.Exists("/kafka/consumers/g/ids/c1"); !ok {
		t.Fatal("live consumer's id deleted")
	}
	other.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, _, _ := raw.Exists("/kafka/consumers/g/ids/c1")
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ephemeral id never went away")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.DeleteConsumerGroup(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := raw.Exists("/kafka/consumers/g"); ok {
		t.Fatal("group znode left")
	}
	if err := s.DeleteConsumerGroup(ctx, "g"); !errors.Is(err, ErrNoNode) {
		t.Fatalf("delete missing group: %v", err)
	}
}

// BenchmarkCommitConsumerOffsets: one OffsetCommit of 10 partitions (one
// ZooKeeper multi of setData) against a real local ZooKeeper.
func BenchmarkCommitConsumerOffsets(b *testing.B) {
	z := testutil.StartZooKeeper(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	s, err := Connect(ctx, z.Connect("/kafka"), 6*time.Second, testLogger(b))
	cancel()
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	offs := map[TopicPartition]int64{}
	for p := int32(0); p < 10; p++ {
		offs[TopicPartition{"t", p}] = 0
	}
	bctx := context.Background()
	if err := s.CommitConsumerOffsets(bctx, "g", offs); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for tp := range offs {
			offs[tp] = int64(i)
		}
		if err := s.CommitConsumerOffsets(bctx, "g", offs); err != nil {
			b.Fatal(err)
		}
	}
}
