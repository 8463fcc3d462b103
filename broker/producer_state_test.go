package broker

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/internal/testutil"
	"github.com/zkafka/zkafka/logstore"
)

func TestCheckProducerBatch(t *testing.T) {
	entry := func(epoch int16, seqs ...[2]int32) *producerEntry {
		e := &producerEntry{epoch: epoch}
		for i, s := range seqs {
			e.batches = append(e.batches, producerBatch{firstSeq: s[0], lastSeq: s[1], firstOffset: int64(100 * i), lastOffset: int64(100*i + int(s[1]-s[0]))})
		}
		return e
	}
	b := func(epoch int16, first, last int32) batchProducer {
		return batchProducer{pid: 7, epoch: epoch, firstSeq: first, lastSeq: last}
	}
	five := entry(0, [2]int32{0, 4}, [2]int32{5, 9}, [2]int32{10, 14}, [2]int32{15, 19}, [2]int32{20, 24})
	for _, tc := range []struct {
		name string
		e    *producerEntry
		b    batchProducer
		code int16
		dup  int64 // first offset of the duplicate answered, -1 none
	}{
		{"new producer starts at 0", nil, b(0, 0, 4), 0, -1},
		{"unknown producer not at 0", nil, b(0, 5, 9), kerr.UnknownProducerID.Code, -1},
		{"next in sequence", five, b(0, 25, 29), 0, -1},
		{"gap", five, b(0, 26, 30), kerr.OutOfOrderSequenceNumber.Code, -1},
		{"retry of the last batch", five, b(0, 20, 24), 0, 400},
		{"retry of an older cached batch", five, b(0, 5, 9), 0, 100},
		{"fenced epoch", five, b(-1+0, 25, 29), kerr.InvalidProducerEpoch.Code, -1},
		{"new epoch from 0", five, b(1, 0, 3), 0, -1},
		{"new epoch not from 0", five, b(1, 25, 29), kerr.OutOfOrderSequenceNumber.Code, -1},
		{"same range in a new epoch is not a duplicate", entry(0, [2]int32{0, 4}), b(1, 0, 4), 0, -1},
	} {
		c := checkProducerBatch(tc.e, tc.b)
		dup := int64(-1)
		if c.dup != nil {
			dup = c.dup.firstOffset
		}
		if c.code != tc.code || dup != tc.dup {
			t.Errorf("%s: got code %d dup %d, want code %d dup %d", tc.name, c.code, dup, tc.code, tc.dup)
		}
	}
	if addSeq(math.MaxInt32, 1) != 0 || addSeq(math.MaxInt32-1, 3) != 1 || addSeq(5, 4) != 9 {
		t.Fatal("sequence numbers must wrap at int32 max")
	}
	// Only the last five batches are kept.
	e := &producerEntry{}
	for i := int32(0); i < 8; i++ {
		e.apply(batchProducer{epoch: 0, firstSeq: i, lastSeq: i, firstOffset: int64(i), lastOffset: int64(i)})
	}
	if len(e.batches) != maxProducerBatches || e.batches[0].firstSeq != 3 {
		t.Fatalf("kept %+v", e.batches)
	}
}

// idempotentBatch is a batch of n records from producer pid/epoch starting at
// sequence seq.
func idempotentBatch(pid int64, epoch int16, seq int32, n int) []byte {
	var recs []byte
	for i := 0; i < n; i++ {
		recs = testutil.AppendRecord(recs, int64(i), nil, []byte("idem"))
	}
	b := testutil.BuildBatch(0, int32(n), 1700000000000, recs)
	binary.BigEndian.PutUint64(b[43:], uint64(pid))
	binary.BigEndian.PutUint16(b[51:], uint16(epoch))
	binary.BigEndian.PutUint32(b[53:], uint32(seq))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func TestIdempotentProduce(t *testing.T) {
	tb := newTestBroker(t)
	c := tb.dial(t)
	tb.lead(t, c, "i", 1, 0)
	seen := map[int64]bool{}
	var pid int64
	for v := int16(0); v <= 2; v++ {
		r := request[*kmsg.InitProducerIDResponse](t, c, kmsg.NewPtrInitProducerIDRequest(), v)
		if r.ErrorCode != 0 || r.ProducerEpoch != 0 || seen[r.ProducerID] {
			t.Fatalf("InitProducerId v%d: %+v", v, r)
		}
		seen[r.ProducerID], pid = true, r.ProducerID
	}
	txn := kmsg.NewPtrInitProducerIDRequest()
	id := "txn"
	txn.TransactionalID = &id
	if r := request[*kmsg.InitProducerIDResponse](t, c, txn, 2); r.ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("transactional id: %+v", r)
	}
	produce := func(batch []byte) kmsg.ProduceResponseTopicPartition {
		return request[*kmsg.ProduceResponse](t, c, produceReq("i", 0, batch, -1), 8).Topics[0].Partitions[0]
	}
	l, _ := tb.b.logs.Get(logstore.TopicPartition{Topic: "i", Partition: 0})
	if sp := produce(idempotentBatch(pid, 0, 0, 3)); sp.ErrorCode != 0 || sp.BaseOffset != 0 {
		t.Fatalf("first batch: %+v", sp)
	}
	if sp := produce(idempotentBatch(pid, 0, 3, 2)); sp.ErrorCode != 0 || sp.BaseOffset != 3 {
		t.Fatalf("second batch: %+v", sp)
	}
	// A retry of the first batch is answered with its offsets, not stored.
	if sp := produce(idempotentBatch(pid, 0, 0, 3)); sp.ErrorCode != 0 || sp.BaseOffset != 0 || l.LogEndOffset() != 5 {
		t.Fatalf("retried batch: %+v, LEO %d", sp, l.LogEndOffset())
	}
	if sp := produce(idempotentBatch(pid, 0, 7, 1)); sp.ErrorCode != kerr.OutOfOrderSequenceNumber.Code || l.LogEndOffset() != 5 {
		t.Fatalf("sequence gap: %+v", sp)
	}
	if sp := produce(idempotentBatch(pid+1000, 0, 4, 1)); sp.ErrorCode != kerr.UnknownProducerID.Code {
		t.Fatalf("unknown producer mid-sequence: %+v", sp)
	}
	if sp := produce(idempotentBatch(pid, 1, 0, 1)); sp.ErrorCode != 0 {
		t.Fatalf("new epoch: %+v", sp)
	}
	if sp := produce(idempotentBatch(pid, 0, 5, 1)); sp.ErrorCode != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("fenced epoch: %+v", sp)
	}
	// The table is rebuilt from the log: forget it, retry a stored batch.
	tb.b.replicas.get(logstore.TopicPartition{Topic: "i", Partition: 0}).producers.invalidate()
	if sp := produce(idempotentBatch(pid, 1, 0, 1)); sp.ErrorCode != 0 || sp.BaseOffset != 5 || l.LogEndOffset() != 6 {
		t.Fatalf("retry after rebuild: %+v, LEO %d", sp, l.LogEndOffset())
	}
}
