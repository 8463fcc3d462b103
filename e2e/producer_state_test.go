package e2e

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
	"github.com/zkafka/zkafka/internal/testutil"
	"github.com/zkafka/zkafka/logstore"
)

// TestIntegration_ProducerStateSnapshots: an idempotent producer writes
// across several rolled segments of a broker process, which is killed with
// SIGKILL and restarted. The restarted broker loads the partition's producer
// state from the snapshot at its active segment's base and replays only the
// batches after it (its log line says so), answers a retry of the last
// batch with the original offsets without writing it again, and a retry of
// an older batch as Kafka 2.4 does (a duplicate if it lies after the
// snapshot, OUT_OF_ORDER_SEQUENCE_NUMBER if only the snapshot knew of it).
// Then, restarted with a short transactional.id.expiration.ms and
// producer.id.expiration.check.interval.ms, the broker's expiry pass drops
// an idle producer: its next batch gets UNKNOWN_PRODUCER_ID.
func TestIntegration_ProducerStateSnapshots(t *testing.T) {
	e := newEnv(t, 1, map[string]string{"log.segment.bytes": "4096"})
	b := e.c.Brokers[0]
	e.createTopic("idem", 1, 1)
	e.waitTopic("idem", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	conn := dialBroker(t, ctx, b)
	pid, epoch := initProducerID(t, ctx, conn)

	// 40 batches of 3 records (~420 bytes each): four or five segments.
	const batches = 40
	base := make([]int64, batches)
	now := time.Now().UnixMilli()
	for i := range base {
		sp := produceIdem(t, ctx, conn, pid, epoch, int32(3*i), now)
		if sp.ErrorCode != 0 {
			t.Fatalf("batch %d: %v", i, kerr.ErrorForCode(sp.ErrorCode))
		}
		base[i] = sp.BaseOffset
	}
	leo := base[batches-1] + 3
	dir := filepath.Join(b.Dir, "idem-0")
	segs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	snaps, _ := filepath.Glob(filepath.Join(dir, "*.snapshot"))
	if len(segs) < 3 || len(snaps) < 2 {
		t.Fatalf("segments %v, snapshots %v: want several rolls", segs, snaps)
	}
	sort.Strings(segs)
	activeBase, _ := strconv.ParseInt(strings.TrimSuffix(filepath.Base(segs[len(segs)-1]), ".log"), 10, 64)
	var logBytes int64
	for _, s := range segs {
		fi, _ := os.Stat(s)
		logBytes += fi.Size()
	}
	conn.Close()

	b.Kill()
	loadsBefore := len(producerLoads(b.Log(), "idem"))
	b.Start()
	b.WaitListening(30 * time.Second)
	conn = dialBroker(t, ctx, b)
	defer func() { conn.Close() }()

	// The retried last batch: its original offsets, nothing written.
	var sp kmsg.ProduceResponseTopicPartition
	eventually(t, 60*time.Second, func() error {
		sp = produceIdem(t, ctx, conn, pid, epoch, int32(3*(batches-1)), now)
		if sp.ErrorCode != 0 {
			return kerr.ErrorForCode(sp.ErrorCode)
		}
		return nil
	})
	if sp.BaseOffset != base[batches-1] {
		t.Fatalf("retried last batch answered at %d, written at %d", sp.BaseOffset, base[batches-1])
	}
	if got := listLatest(t, ctx, conn, "idem"); got != leo {
		t.Fatalf("log end %d after the retry, %d before: the duplicate was written", got, leo)
	}

	// The load after the restart read the snapshot at the active segment's
	// base and replayed the active segment only.
	loads := producerLoads(b.Log(), "idem")
	if len(loads) <= loadsBefore {
		t.Fatalf("no producer state load of idem-0 logged after the restart")
	}
	ld := loads[loadsBefore]
	if ld.snapshot != activeBase || ld.from != activeBase || ld.to != leo || ld.bytes >= logBytes || ld.producers != 1 {
		t.Fatalf("load after restart %+v: want the snapshot at the active segment %d and its tail replayed (log %d bytes)", ld, activeBase, logBytes)
	}
	t.Logf("after kill -9: snapshot at %d, %d batches (%d of %d bytes) replayed", ld.snapshot, ld.batches, ld.bytes, logBytes)

	// An older batch: a duplicate if replayed, else only the snapshot's last
	// batch was known before it and Kafka 2.4 answers out of order.
	for _, i := range []int{batches - 3, 0} {
		sp := produceIdem(t, ctx, conn, pid, epoch, int32(3*i), now)
		switch inTail := base[i] >= ld.snapshot; {
		case inTail && (sp.ErrorCode != 0 || sp.BaseOffset != base[i]):
			t.Fatalf("retry of batch %d (offset %d, after the snapshot): %+v", i, base[i], sp)
		case !inTail && sp.ErrorCode != kerr.OutOfOrderSequenceNumber.Code:
			t.Fatalf("retry of batch %d (offset %d, before the snapshot): %+v", i, base[i], sp)
		}
	}
	if sp := produceIdem(t, ctx, conn, pid, epoch, int32(3*batches), now); sp.ErrorCode != 0 || sp.BaseOffset != leo {
		t.Fatalf("next batch: %+v, want offset %d", sp, leo)
	}
	conn.Close()

	// Expiry: a broker that drops producers idle for 3 s, checking every 200 ms.
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	b.Start("--override", "transactional.id.expiration.ms=3000", "--override", "producer.id.expiration.check.interval.ms=200")
	b.WaitListening(30 * time.Second)
	conn = dialBroker(t, ctx, b)
	pid2, epoch2 := initProducerID(t, ctx, conn)
	eventually(t, 60*time.Second, func() error {
		if sp := produceIdem(t, ctx, conn, pid2, epoch2, 0, time.Now().UnixMilli()); sp.ErrorCode != 0 {
			return kerr.ErrorForCode(sp.ErrorCode)
		}
		return nil
	})
	// Until the pass runs, pid2 writes on (each batch renews it); then it
	// is unknown and a batch not at sequence 0 is refused.
	seq, deadline := int32(3), time.Now().Add(60*time.Second)
	for {
		sp := produceIdem(t, ctx, conn, pid2, epoch2, seq, time.Now().Add(-10*time.Second).UnixMilli())
		if sp.ErrorCode == kerr.UnknownProducerID.Code {
			break
		}
		if sp.ErrorCode != 0 || time.Now().After(deadline) {
			t.Fatalf("producer %d seq %d: %+v", pid2, seq, sp)
		}
		seq += 3
		time.Sleep(50 * time.Millisecond)
	}
	if !regexp.MustCompile(`expired \d+ producer ids`).MatchString(b.Log()) {
		t.Fatal("no expiry logged")
	}
	if sp := produceIdem(t, ctx, conn, pid2, epoch2, 0, time.Now().UnixMilli()); sp.ErrorCode != 0 {
		t.Fatalf("expired producer starting over at 0: %v", kerr.ErrorForCode(sp.ErrorCode))
	}
	// The snapshot files are Kafka's: dump-log reads them.
	snaps, _ = filepath.Glob(filepath.Join(dir, "*.snapshot"))
	if len(snaps) == 0 {
		t.Fatal("no snapshot left")
	}
	if _, err := logstore.ReadProducerSnapshot(snaps[len(snaps)-1]); err != nil {
		t.Fatal(err)
	}
}

func dialBroker(t *testing.T, ctx context.Context, b *testutil.Broker) *wire.Conn {
	t.Helper()
	conn, err := wire.Dial(ctx, b.Addr(), "e2e-pstate")
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func initProducerID(t *testing.T, ctx context.Context, conn *wire.Conn) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.SetVersion(1)
	req.TransactionTimeoutMillis = 60000
	var r *kmsg.InitProducerIDResponse
	eventually(t, 30*time.Second, func() error {
		resp, err := conn.Request(ctx, req)
		if err != nil {
			return err
		}
		if r = resp.(*kmsg.InitProducerIDResponse); r.ErrorCode != 0 {
			return kerr.ErrorForCode(r.ErrorCode)
		}
		return nil
	})
	return r.ProducerID, r.ProducerEpoch
}

// produceIdem sends one idempotent batch of 3 records (acks=all) to idem-0.
func produceIdem(t *testing.T, ctx context.Context, conn *wire.Conn, pid int64, epoch int16, seq int32, ts int64) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	var recs []byte
	for i := 0; i < 3; i++ {
		recs = testutil.AppendRecord(recs, int64(i), nil, []byte(strings.Repeat("p", 100)))
	}
	batch := testutil.BuildBatch(0, 3, ts, recs)
	binary.BigEndian.PutUint64(batch[43:], uint64(pid))
	binary.BigEndian.PutUint16(batch[51:], uint16(epoch))
	binary.BigEndian.PutUint32(batch[53:], uint32(seq))
	binary.BigEndian.PutUint32(batch[17:], crc32.Checksum(batch[21:], crc32.MakeTable(crc32.Castagnoli)))
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(7)
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "idem"
	rt.Partitions = []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: batch}}
	req.Topics = []kmsg.ProduceRequestTopic{rt}
	r, err := conn.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return r.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
}

func listLatest(t *testing.T, ctx context.Context, conn *wire.Conn, topic string) int64 {
	t.Helper()
	off := listOffsetErr(ctx, conn, topic, -1)
	if off < 0 {
		t.Fatalf("ListOffsets latest %s: %d", topic, off)
	}
	return off
}

// producerLoad is one "loaded producer state" log line of the log store.
type producerLoad struct {
	producers          int
	snapshot, from, to int64
	batches, bytes     int64
}

var producerLoadRe = regexp.MustCompile(`loaded producer state: (\d+) producers from snapshot at offset (-?\d+) and (\d+) batches \((\d+) bytes\) replayed from offset (\d+) to (\d+)`)

// producerLoads parses the producer state loads of topic's partition 0 from
// a broker's log, in order.
func producerLoads(log, topic string) []producerLoad {
	var out []producerLoad
	for _, line := range strings.Split(log, "\n") {
		m := producerLoadRe.FindStringSubmatch(line)
		if m == nil || !regexp.MustCompile(`\btopic="?`+regexp.QuoteMeta(topic)+`"?(\s|$)`).MatchString(line) || !regexp.MustCompile(`\bpartition=0\b`).MatchString(line) {
			continue
		}
		n := func(i int) int64 { v, _ := strconv.ParseInt(m[i], 10, 64); return v }
		out = append(out, producerLoad{producers: int(n(1)), snapshot: n(2), batches: n(3), bytes: n(4), from: n(5), to: n(6)})
	}
	return out
}
