package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/zkafka/zkafka/internal/testutil"
	"github.com/zkafka/zkafka/logstore"
)

// soleLeaderSetup creates topic (1 partition, 3 replicas, with configs),
// writes "all-*" records that every replica has, kills both followers
// (kill -9) so that the controller shrinks the ISR to the leader, and writes
// "one-*" (acks=1) and "solo-*" (acks=all, acknowledged by the one-member
// ISR) records that only the leader has. It returns the leader, the
// followers (not running), the state with the shrunk ISR and what the leader
// serves: every record it acknowledged.
func soleLeaderSetup(t *testing.T, e *env, conn *zk.Conn, topic string, configs ...string) (leader *testutil.Broker, followers []*testutil.Broker, shrunk partitionState, acked []record) {
	t.Helper()
	args := []string{"topics", "--bootstrap-server", e.c.Brokers[0].Addr(), "--create", "--topic", topic,
		"--partitions", "1", "--replication-factor", "3"}
	for _, c := range configs {
		args = append(args, "--config", c)
	}
	e.run("", args...)
	e.waitTopic(topic, 1)
	st := e.waitISR(conn, topic, 0, []int32{1, 2, 3})
	leader = e.broker(st.Leader)
	followers = e.others(leader)
	mustProduce(t, leader.Addr(), topic, 0, -1, numbered("all", 50))
	e.waitLogsIdentical(topic, 0)

	for _, f := range followers {
		f.Kill()
	}
	shrunk = e.waitISR(conn, topic, 0, []int32{st.Leader})
	if shrunk.Leader != st.Leader || shrunk.LeaderEpoch <= st.LeaderEpoch {
		t.Fatalf("removing dead followers from the ISR: %+v -> %+v", st, shrunk)
	}
	mustProduce(t, leader.Addr(), topic, 0, 1, numbered("one", 20))
	mustProduce(t, leader.Addr(), topic, 0, -1, numbered("solo", 20))
	acked, hw := fetchAll(t, leader.Addr(), topic, 0)
	if len(acked) != 90 || hw != 90 {
		t.Fatalf("the sole leader serves %d records (high-water mark %d), want 90", len(acked), hw)
	}
	return leader, followers, shrunk, acked
}

// restartAfterLeaderKill kills the leader with kill -9 and starts the
// followers again, and waits until ZooKeeper shows the followers registered
// and the leader gone.
func restartAfterLeaderKill(t *testing.T, e *env, conn *zk.Conn, leader *testutil.Broker, followers []*testutil.Broker) {
	t.Helper()
	leader.Kill()
	for _, f := range followers {
		f.Start()
	}
	for _, f := range followers {
		f.WaitListening(30 * time.Second)
	}
	eventually(t, 30*time.Second, func() error {
		live, err := registered(conn)
		if err != nil || !slices.Equal(live, brokerIDs(followers)) {
			return fmt.Errorf("registered brokers %v (%v), want %v", live, err, brokerIDs(followers))
		}
		return nil
	})
}

// TestIntegration_OfflinePartitionWithoutUncleanElection: with
// unclean.leader.election.enable=false (the default) a partition whose only
// in-sync replica dies goes offline although its other replicas are live:
// the state znode shows leader -1 with the dead leader kept as the ISR (as
// Kafka 2.4 writes it, ../shared/reference/kafka-2.4.1-zk-dump.txt), the
// live replicas refuse writes with NOT_LEADER_FOR_PARTITION and their
// metadata shows LEADER_NOT_AVAILABLE. When the old leader returns it leads
// again, and every record it acknowledged — also those only it had — is
// read back, from every replica.
func TestIntegration_OfflinePartitionWithoutUncleanElection(t *testing.T) {
	e := newEnv(t, 3, failureProps(nil))
	conn := e.zkConn()
	const topic = "offline"
	leader, followers, shrunk, acked := soleLeaderSetup(t, e, conn, topic)
	restartAfterLeaderKill(t, e, conn, leader, followers)

	offline := e.waitState(conn, topic, 0, func(st partitionState) error {
		if st.Leader != -1 {
			return fmt.Errorf("not offline yet")
		}
		return nil
	})
	if !slices.Equal(offline.ISR, []int32{int32(leader.ID)}) || offline.LeaderEpoch <= shrunk.LeaderEpoch {
		t.Fatalf("offline partition's state %+v after %+v: want leader -1, the dead leader %d kept as the ISR and a higher leader epoch",
			offline, shrunk, leader.ID)
	}
	for _, f := range followers {
		eventually(t, 30*time.Second, func() error {
			pm, err := partitionMetadata(f.Addr(), topic, 0)
			if err != nil {
				return err
			}
			if pm.Leader != -1 || pm.ErrorCode != kerr.LeaderNotAvailable.Code {
				return fmt.Errorf("broker %d: metadata leader %d, error %v", f.ID, pm.Leader, kerr.ErrorForCode(pm.ErrorCode))
			}
			return nil
		})
		// The replica is created (LeaderAndIsr with leader -1) after the
		// broker registered: until then it may not know the partition.
		eventually(t, 30*time.Second, func() error {
			code, _ := produceTo(t, f.Addr(), topic, 0, 1, 5*time.Second, []string{"refused"})
			switch code {
			case kerr.NotLeaderForPartition.Code:
				return nil
			case 0:
				t.Fatalf("broker %d took a write for an offline partition", f.ID)
			}
			return fmt.Errorf("broker %d: produce answered %v", f.ID, kerr.ErrorForCode(code))
		})
	}
	// Still offline: nothing elected a replica outside the ISR meanwhile.
	if st := mustState(t, conn, topic, 0); st.Leader != -1 {
		t.Fatalf("offline partition got leader %+v with unclean.leader.election.enable=false", st)
	}

	leader.Start()
	leader.WaitListening(30 * time.Second)
	back := e.waitState(conn, topic, 0, func(st partitionState) error {
		if st.Leader != int32(leader.ID) {
			return fmt.Errorf("old leader %d not leading", leader.ID)
		}
		return nil
	})
	if back.LeaderEpoch <= offline.LeaderEpoch {
		t.Fatalf("leader epoch did not grow: %+v -> %+v", offline, back)
	}
	e.waitISR(conn, topic, 0, []int32{1, 2, 3})
	got, _ := fetchAll(t, leader.Addr(), topic, 0)
	if !slices.Equal(got, acked) {
		t.Fatalf("after the old leader returned it serves %d records, want the %d it acknowledged", len(got), len(acked))
	}
	if vals := batchValues(t, e.waitLogsIdentical(topic, 0)); !slices.Equal(vals, recordValues(acked)) {
		t.Fatalf("replicas hold %d records, want the %d acknowledged", len(vals), len(acked))
	}
}

// TestIntegration_UncleanLeaderElection: with the topic config
// unclean.leader.election.enable=true, the same failure elects a live
// out-of-sync replica (leader epoch bumped): the records only the dead
// leader had are lost, as unclean election allows. When the old leader
// returns it truncates its unreplicated suffix to the new leader's log
// (OffsetForLeaderEpoch) and rejoins the ISR, and every replica's log is
// the same batches, byte for byte.
func TestIntegration_UncleanLeaderElection(t *testing.T) {
	e := newEnv(t, 3, failureProps(nil))
	conn := e.zkConn()
	const topic = "unclean"
	leader, followers, shrunk, acked := soleLeaderSetup(t, e, conn, topic, "unclean.leader.election.enable=true")
	restartAfterLeaderKill(t, e, conn, leader, followers)

	elected := e.waitState(conn, topic, 0, func(st partitionState) error {
		if !slices.Contains(brokerIDs(followers), st.Leader) {
			return fmt.Errorf("no out-of-sync replica elected")
		}
		return nil
	})
	if elected.LeaderEpoch <= shrunk.LeaderEpoch {
		t.Fatalf("unclean election did not bump the leader epoch: %+v -> %+v", shrunk, elected)
	}
	e.waitISR(conn, topic, 0, brokerIDs(followers))
	newLeader := e.broker(elected.Leader)
	// The dead leader's unreplicated suffix is gone from the new leader's
	// log; it has the records replicated before.
	got, _ := fetchAll(t, newLeader.Addr(), topic, 0)
	if !slices.Equal(recordValues(got), numbered("all", 50)) {
		t.Fatalf("new leader %d serves %v..., want the 50 replicated records", newLeader.ID, recordValues(got)[:min(len(got), 5)])
	}
	after := numbered("after", 30)
	base := mustProduce(t, newLeader.Addr(), topic, 0, -1, after)
	if base != 50 {
		t.Fatalf("first record on the new leader at offset %d, want 50", base)
	}
	// The dead leader's files still hold the suffix (90 records).
	if n := len(batchValues(t, replicaBatches(t, leader, topic, 0))); n != len(acked) {
		t.Fatalf("the killed leader's log holds %d records, want %d", n, len(acked))
	}

	leader.Start()
	leader.WaitListening(30 * time.Second)
	e.waitISR(conn, topic, 0, []int32{1, 2, 3})
	batches := e.waitLogsIdentical(topic, 0)
	want := append(numbered("all", 50), after...)
	if vals := batchValues(t, batches); !slices.Equal(vals, want) {
		t.Fatalf("replicas hold %d records, want the 50 replicated before and the 30 written after the election", len(vals))
	}
	last, err := logstore.ParseBatchHeader(batches[len(batches)-1])
	if err != nil || last.PartitionLeaderEpoch != elected.LeaderEpoch {
		t.Fatalf("last batch written in leader epoch %d (%v), want %d", last.PartitionLeaderEpoch, err, elected.LeaderEpoch)
	}
	if st := mustState(t, conn, topic, 0); st.Leader != elected.Leader {
		t.Fatalf("leadership moved after the old leader returned: %+v", st)
	}
}
