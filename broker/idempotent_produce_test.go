package broker

import (
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/internal/testutil"
	"github.com/zkafka/zkafka/logstore"
)

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
	// A truncation reloads the producer state from the log: the epoch-1
	// batch at offset 5 goes, epoch 0 is current again and its retried
	// batch is answered from the reloaded state.
	if err := l.TruncateTo(5); err != nil {
		t.Fatal(err)
	}
	if sp := produce(idempotentBatch(pid, 0, 3, 2)); sp.ErrorCode != 0 || sp.BaseOffset != 3 || l.LogEndOffset() != 5 {
		t.Fatalf("retry after reload: %+v, LEO %d", sp, l.LogEndOffset())
	}
	if sp := produce(idempotentBatch(pid, 0, 5, 1)); sp.ErrorCode != 0 || sp.BaseOffset != 5 {
		t.Fatalf("next batch after reload: %+v", sp)
	}
}
