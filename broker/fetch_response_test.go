package broker

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
	"github.com/zkafka/zkafka/internal/testutil"
	"github.com/zkafka/zkafka/logstore"
)

// joinParts materialises a zero-copy answer as the bytes the wire carries.
func joinParts(t *testing.T, parts []respPart) []byte {
	t.Helper()
	var out []byte
	for _, p := range parts {
		if p.buf != nil {
			out = append(out, p.buf...)
			continue
		}
		b := make([]byte, p.region.Len)
		if _, err := p.region.File.ReadAt(b, p.region.Pos); err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}

// TestFetchResponseFrameMatchesKmsg encodes the same answer with the
// zero-copy encoder and with kmsg (record bytes inline) at every version and
// requires identical bytes.
func TestFetchResponseFrameMatchesKmsg(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "seg"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data := bytes.Repeat([]byte("0123456789abcdef"), 1000)
	f.Write(data)
	regions := [][]logstore.ReadResult{
		{
			{Regions: []logstore.Region{{File: f, Pos: 10, Len: 100}, {File: f, Pos: 5000, Len: 3000}}, Size: 3100},
			{}, // empty record set
		},
		{{Regions: []logstore.Region{{File: f, Pos: 0, Len: 1}}, Size: 1}},
	}
	inline := func(rs logstore.ReadResult) []byte {
		b, err := rs.AppendTo([]byte{})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for v := int16(4); v <= 11; v++ {
		resp := kmsg.NewPtrFetchResponse()
		resp.SetVersion(v)
		resp.ThrottleMillis, resp.ErrorCode, resp.SessionID = 7, 0, 42
		for ti, name := range []string{"alpha", "b"} {
			st := kmsg.NewFetchResponseTopic()
			st.Topic = name
			for pi := range regions[ti] {
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition, sp.ErrorCode = int32(pi*3), int16(pi)
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = 1000+int64(pi), 999, 5
				sp.PreferredReadReplica = -1
				if pi == 1 {
					sp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{{ProducerID: 9, FirstOffset: 77}}
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		zc := &fetchResponse{FetchResponse: resp, records: regions}
		parts, err := zc.frame(1234)
		if err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		got := joinParts(t, parts)

		want := *resp
		want.Topics = nil
		for ti, st := range resp.Topics {
			st2 := st
			st2.Partitions = nil
			for pi, sp := range st.Partitions {
				sp.RecordBatches = inline(regions[ti][pi])
				st2.Partitions = append(st2.Partitions, sp)
			}
			want.Topics = append(want.Topics, st2)
		}
		if wantB := wire.AppendResponse(nil, 1234, &want); !bytes.Equal(got, wantB) {
			t.Fatalf("v%d: zero-copy frame (%d bytes) differs from kmsg's (%d bytes)", v, len(got), len(wantB))
		}
	}
	bad := &fetchResponse{FetchResponse: kmsg.NewPtrFetchResponse()}
	bad.SetVersion(12)
	if _, err := bad.frame(1); err == nil {
		t.Fatal("v12 (flexible) must be refused by the non-flexible encoder")
	}
}

// TestFetchRecordsMoveBySendfile proves that the record bytes of a fetch
// answer on a TCP connection are sent by sendfile(2): the broker counts every
// record byte it sends by sendfile and every one it copies through user
// space, and a fetch of 8 MiB must be all of the former and none of the
// latter, while the client still gets the exact bytes produced.
func TestFetchRecordsMoveBySendfile(t *testing.T) {
	tb := newTestBroker(t)
	c := tb.dial(t)
	tb.lead(t, c, "t", 1, 0)
	var produced []byte
	value := bytes.Repeat([]byte("v"), 13000)
	for i := 0; i < 64; i++ {
		var recs []byte
		for j := 0; j < 10; j++ {
			recs = testutil.AppendRecord(recs, int64(j), nil, value)
		}
		batch := testutil.BuildBatch(0, 10, 1700000000000, recs)
		r := request[*kmsg.ProduceResponse](t, c, produceReq("t", 0, batch, 1), 8)
		sp := r.Topics[0].Partitions[0]
		if sp.ErrorCode != 0 {
			t.Fatalf("produce: %d", sp.ErrorCode)
		}
		// As stored: the broker stamps the base offset and leader epoch.
		binary.BigEndian.PutUint64(batch[0:], uint64(sp.BaseOffset))
		binary.BigEndian.PutUint32(batch[12:], 0)
		produced = append(produced, batch...)
	}
	before := tb.b.sendfileBytes.Load()
	req := fetchReq("t", 0, 0, 0, 1)
	req.MaxBytes = 64 << 20
	req.Topics[0].Partitions[0].PartitionMaxBytes = 64 << 20
	r := request[*kmsg.FetchResponse](t, c, req, 11)
	sp := r.Topics[0].Partitions[0]
	if sp.ErrorCode != 0 || !bytes.Equal(sp.RecordBatches, produced) {
		t.Fatalf("fetch: error %d, %d bytes, want the %d produced", sp.ErrorCode, len(sp.RecordBatches), len(produced))
	}
	if sent := tb.b.sendfileBytes.Load() - before; sent != int64(len(produced)) {
		t.Fatalf("sendfile moved %d bytes, want %d", sent, len(produced))
	}
	if copied := tb.b.copiedBytes.Load(); copied != 0 {
		t.Fatalf("%d record bytes were copied through user space", copied)
	}
}
