package e2e

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
	"github.com/zkafka/zkafka/internal/testutil"
)

// TestIntegration_ReplacedLeaderAcknowledgesNothing: the broker that is
// both the controller and a partition's leader is paused (SIGSTOP) past its
// ZooKeeper session; another broker becomes controller (next epoch) and
// elects a new leader from the ISR. An acks=all produce that reached the
// old leader's socket while it was paused is read by it when it runs again,
// still believing it leads: it must not be acknowledged — the old leader
// cannot grow the high-water mark (its followers left) nor shrink the ISR
// (the state znode's version moved on) — and it must not survive: the old
// leader registers again, follows the new leader, truncates the record
// away and rejoins the ISR, all replicas ending identical.
func TestIntegration_ReplacedLeaderAcknowledgesNothing(t *testing.T) {
	e := newEnv(t, 3, failureProps(map[string]string{"replica.lag.time.max.ms": "2000"}))
	conn := e.zkConn()
	ctrl, epoch, err := controllerOf(conn)
	if err != nil {
		t.Fatal(err)
	}
	old := e.broker(ctrl)
	followers := e.others(old)
	const topic = "zombie"
	e.run("", "topics", "--bootstrap-server", old.Addr(), "--create", "--topic", topic,
		"--replica-assignment", fmt.Sprintf("%d:%d:%d", old.ID, followers[0].ID, followers[1].ID))
	e.waitTopic(topic, 1)
	st := e.waitISR(conn, topic, 0, []int32{1, 2, 3})
	if st.Leader != int32(old.ID) {
		t.Fatalf("%s-0 led by %d, want the controller %d", topic, st.Leader, old.ID)
	}
	before := numbered("before", 20)
	mustProduce(t, old.Addr(), topic, 0, -1, before)
	_, reg, err := conn.Get(fmt.Sprintf("/zkafka/brokers/ids/%d", old.ID))
	if err != nil {
		t.Fatal(err)
	}

	nc, err := net.DialTimeout("tcp", old.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := old.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { old.Signal(syscall.SIGCONT) })
	eventually(t, 30*time.Second, func() error {
		id, ep, err := controllerOf(conn)
		if err != nil || id == ctrl || ep != epoch+1 {
			return fmt.Errorf("controller %d epoch %d (%v)", id, ep, err)
		}
		return nil
	})
	next := e.waitState(conn, topic, 0, func(s partitionState) error {
		if s.Leader == int32(old.ID) || s.Leader < 0 || slices.Contains(s.ISR, int32(old.ID)) {
			return fmt.Errorf("old leader not replaced")
		}
		return nil
	})

	// The produce waits in the paused broker's socket.
	req := produceRequest(topic, 0, -1, 20*time.Second, []string{"zombie"})
	if _, err := nc.Write(wire.AppendRequest(nil, req, 1, nil)); err != nil {
		t.Fatal(err)
	}
	if err := old.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(60 * time.Second))
	frame, err := wire.ReadFrame(bufio.NewReader(nc), nil, wire.MaxResponseBytes)
	if err != nil {
		t.Fatalf("no answer from the replaced leader: %v", err)
	}
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	if err := wire.ParseResponse(frame, 1, resp); err != nil {
		t.Fatal(err)
	}
	code := resp.Topics[0].Partitions[0].ErrorCode
	if code == 0 {
		t.Fatalf("the replaced leader acknowledged an acks=all produce (base offset %d)", resp.Topics[0].Partitions[0].BaseOffset)
	}
	t.Logf("replaced leader %d answered the acks=all produce with %v; new leader %d, leader epoch %d -> %d",
		old.ID, kerr.ErrorForCode(code), next.Leader, st.LeaderEpoch, next.LeaderEpoch)

	// It registered again (new session), follows and catches up.
	eventually(t, 30*time.Second, func() error {
		_, now, err := conn.Get(fmt.Sprintf("/zkafka/brokers/ids/%d", old.ID))
		if err != nil || now.Czxid == reg.Czxid {
			return fmt.Errorf("broker %d not registered again (%v)", old.ID, err)
		}
		return nil
	})
	e.waitISR(conn, topic, 0, []int32{1, 2, 3})
	if id, ep, err := controllerOf(conn); err != nil || id == ctrl || ep != epoch+1 {
		t.Fatalf("controller %d epoch %d (%v) after the old one returned, want another broker at epoch %d", id, ep, err, epoch+1)
	}
	leader := e.broker(mustState(t, conn, topic, 0).Leader)
	after := numbered("after", 10)
	mustProduce(t, leader.Addr(), topic, 0, -1, after)
	if vals := batchValues(t, e.waitLogsIdentical(topic, 0)); !slices.Equal(vals, append(before, after...)) {
		t.Fatalf("replicas hold %v, want the records acknowledged and nothing else", vals)
	}
}

// idempotentProduce sends records n records of producer pid (epoch 0)
// starting at sequence seq, acks=all, and returns the error code and base
// offset.
func idempotentProduce(t *testing.T, addr, topic string, pid int64, seq int32, n int) (int16, int64) {
	t.Helper()
	req := produceRequest(topic, 0, -1, 10*time.Second, numbered(fmt.Sprintf("seq%d", seq), n))
	b := req.Topics[0].Partitions[0].Records
	binary.BigEndian.PutUint64(b[43:], uint64(pid))
	binary.BigEndian.PutUint16(b[51:], 0)
	binary.BigEndian.PutUint32(b[53:], uint32(seq))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	resp, err := request(addr, req)
	if err != nil {
		t.Fatal(err)
	}
	p := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	return p.ErrorCode, p.BaseOffset
}

// request sends one request on a new connection to addr.
func request(addr string, req kmsg.Request) (kmsg.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := wire.Dial(ctx, addr, "e2e")
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.Request(ctx, req)
}

// TestIntegration_IdempotentProducerAcrossLeaders: a producer's sequence
// state follows the partition across leaders — to a follower elected after
// the leader's kill -9 (it rebuilt the state from the batches it
// replicated) and back to the old leader after its restart and a preferred
// election (it rebuilt the state from its log and what it fetched). On
// each, a retried batch is answered as the duplicate it is (no error, the
// original base offset, nothing written), a sequence gap is refused with
// OUT_OF_ORDER_SEQUENCE_NUMBER, and the next batch is taken.
func TestIntegration_IdempotentProducerAcrossLeaders(t *testing.T) {
	e := newEnv(t, 3, failureProps(nil))
	conn := e.zkConn()
	const topic = "idem"
	e.createTopic(topic, 1, 3)
	e.waitTopic(topic, 1)
	st := e.waitISR(conn, topic, 0, []int32{1, 2, 3})
	first := e.broker(st.Leader)
	init := kmsg.NewPtrInitProducerIDRequest()
	init.SetVersion(1)
	resp, err := request(first.Addr(), init)
	if err != nil {
		t.Fatal(err)
	}
	ipr := resp.(*kmsg.InitProducerIDResponse)
	if ipr.ErrorCode != 0 || ipr.ProducerID < 0 || ipr.ProducerEpoch != 0 {
		t.Fatalf("InitProducerId: %+v", ipr)
	}
	pid := ipr.ProducerID
	expect := func(b *testutil.Broker, seq int32, n int, wantCode int16, wantBase int64) {
		t.Helper()
		code, base := idempotentProduce(t, b.Addr(), topic, pid, seq, n)
		if code != wantCode || (wantCode == 0 && base != wantBase) {
			t.Fatalf("broker %d, sequence %d: %v at base offset %d, want %v at %d", b.ID, seq,
				kerr.ErrorForCode(code), base, kerr.ErrorForCode(wantCode), wantBase)
		}
	}
	for seq := int32(0); seq < 9; seq += 3 {
		expect(first, seq, 3, 0, int64(seq))
	}

	first.Kill()
	next := e.waitState(conn, topic, 0, func(s partitionState) error {
		if s.Leader == st.Leader || s.Leader < 0 {
			return fmt.Errorf("no new leader")
		}
		return nil
	})
	second := e.broker(next.Leader)
	expect(second, 6, 3, 0, 6) // retry of the last batch: a duplicate
	expect(second, 3, 3, 0, 3) // an older cached one
	expect(second, 13, 1, kerr.OutOfOrderSequenceNumber.Code, -1)
	expect(second, 9, 2, 0, 9)

	first.Start()
	first.WaitListening(30 * time.Second)
	e.waitISR(conn, topic, 0, []int32{1, 2, 3})
	e.run("", "leader-election", "--bootstrap-server", second.Addr(), "--election-type", "preferred", "--topic", topic, "--partition", "0")
	e.waitLeader(conn, topic, 0, st.Leader)
	eventually(t, 30*time.Second, func() error { // the old leader has applied its LeaderAndIsr
		code, _ := idempotentProduce(t, first.Addr(), topic, pid, 9, 2)
		if code == kerr.NotLeaderForPartition.Code {
			return fmt.Errorf("broker %d not leading yet", first.ID)
		}
		if code != 0 {
			t.Fatalf("retry on the returned leader: %v", kerr.ErrorForCode(code))
		}
		return nil
	})
	expect(first, 9, 2, 0, 9)
	expect(first, 12, 1, kerr.OutOfOrderSequenceNumber.Code, -1)
	expect(first, 11, 1, 0, 11)

	recs, hw := fetchAll(t, first.Addr(), topic, 0)
	if len(recs) != 12 || hw != 12 {
		t.Fatalf("the partition holds %d records (high-water mark %d), want 12: each batch once", len(recs), hw)
	}
	e.waitLogsIdentical(topic, 0)
}
