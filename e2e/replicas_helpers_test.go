package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
	"github.com/zkafka/zkafka/internal/testutil"
	"github.com/zkafka/zkafka/logstore"
)

// Helpers of the replication-under-failure tests: raw produce and fetch
// requests (so error codes and offsets are seen as the broker sent them),
// and the batches of a replica's log files read from its log dir.

// failureProps are broker properties for tests that kill brokers: a short
// ZooKeeper session so a dead broker's registration goes within seconds, and
// no automatic leader rebalance, so leadership changes only when the test
// makes it.
func failureProps(extra map[string]string) map[string]string {
	p := map[string]string{
		"zookeeper.session.timeout.ms": "4000",
		"auto.leader.rebalance.enable": "false",
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

// produceRequest builds a produce request (v7) of one uncompressed batch
// holding values (no keys).
func produceRequest(topic string, p int32, acks int16, timeout time.Duration, values []string) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(7)
	req.Acks, req.TimeoutMillis = acks, int32(timeout/time.Millisecond)
	var recs []byte
	for i, v := range values {
		recs = testutil.AppendRecord(recs, int64(i), nil, []byte(v))
	}
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rt.Partitions = []kmsg.ProduceRequestTopicPartition{{Partition: p,
		Records: testutil.BuildBatch(0, int32(len(values)), time.Now().UnixMilli(), recs)}}
	req.Topics = []kmsg.ProduceRequestTopic{rt}
	return req
}

// produceTo sends one produce request of values to partition p at addr and
// returns the partition's error code and base offset (acks=0: 0, -1 once
// written to the connection).
func produceTo(t *testing.T, addr, topic string, p int32, acks int16, timeout time.Duration, values []string) (code int16, base int64) {
	t.Helper()
	code, base, err := tryProduce(addr, topic, p, acks, timeout, values)
	if err != nil {
		t.Fatal(err)
	}
	return code, base
}

// tryProduce is produceTo returning a failed request as an error (for
// goroutines other than the test's).
func tryProduce(addr, topic string, p int32, acks int16, timeout time.Duration, values []string) (code int16, base int64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout+20*time.Second)
	defer cancel()
	conn, err := wire.Dial(ctx, addr, "e2e")
	if err != nil {
		return 0, 0, fmt.Errorf("dial %s: %w", addr, err)
	}
	defer conn.Close()
	resp, err := conn.Request(ctx, produceRequest(topic, p, acks, timeout, values))
	if err != nil {
		return 0, 0, fmt.Errorf("produce to %s: %w", addr, err)
	}
	if acks == 0 {
		return 0, -1, nil
	}
	pr := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	return pr.ErrorCode, pr.BaseOffset, nil
}

// mustProduce produces values with acks and fails the test unless they are
// acknowledged.
func mustProduce(t *testing.T, addr, topic string, p int32, acks int16, values []string) int64 {
	t.Helper()
	code, base := produceTo(t, addr, topic, p, acks, 10*time.Second, values)
	if code != 0 {
		t.Fatalf("acks=%d produce of %d records to %s (%s-%d): %v", acks, len(values), addr, topic, p, kerr.ErrorForCode(code))
	}
	return base
}

// numbered returns n values "prefix-0000", "prefix-0001", ...
func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%04d", prefix, i)
	}
	return out
}

// record is one record read back: its offset and value.
type record struct {
	Offset int64
	Value  string
}

// fetchAll reads partition p from addr as a consumer does (replica_id -1,
// so up to the high-water mark) from offset 0 to the high-water mark, and
// returns the records and the high-water mark.
func fetchAll(t *testing.T, addr, topic string, p int32) ([]record, int64) {
	t.Helper()
	recs, hw, code := fetchFrom(t, addr, topic, p, 0)
	if code != 0 {
		t.Fatalf("fetch %s-%d from %s: %v", topic, p, addr, kerr.ErrorForCode(code))
	}
	return recs, hw
}

// fetchFrom is fetchAll from offset; it returns the partition's error code
// instead of failing on it.
func fetchFrom(t *testing.T, addr, topic string, p int32, offset int64) (recs []record, hw int64, code int16) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := wire.Dial(ctx, addr, "e2e")
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	for {
		req := kmsg.NewPtrFetchRequest()
		req.SetVersion(11)
		req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, 0, 0, 1<<20
		req.SessionEpoch = -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, offset, 1<<20
		rt.Partitions = []kmsg.FetchRequestTopicPartition{rp}
		req.Topics = []kmsg.FetchRequestTopic{rt}
		resp, err := conn.Request(ctx, req)
		if err != nil {
			t.Fatalf("fetch from %s: %v", addr, err)
		}
		fr := resp.(*kmsg.FetchResponse)
		if fr.ErrorCode != 0 {
			return recs, -1, fr.ErrorCode
		}
		pr := fr.Topics[0].Partitions[0]
		if pr.ErrorCode != 0 {
			return recs, pr.HighWatermark, pr.ErrorCode
		}
		batches, err := splitBatches(pr.RecordBatches)
		if err != nil {
			t.Fatalf("fetch from %s: %v", addr, err)
		}
		for _, b := range batches {
			_, rs, err := logstore.DecodeRecords(b)
			if err != nil {
				t.Fatalf("fetch from %s: %v", addr, err)
			}
			for _, r := range rs {
				if r.Offset >= offset {
					recs = append(recs, record{r.Offset, string(r.Value)})
				}
			}
			h, _ := logstore.ParseBatchHeader(b)
			offset = max(offset, h.LastOffset()+1)
		}
		if offset >= pr.HighWatermark || len(batches) == 0 {
			return recs, pr.HighWatermark, 0
		}
	}
}

// splitBatches cuts a record set into its whole batches; a partial batch at
// the end (a fetch's size limit, a file being written) is left out.
func splitBatches(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) >= 12 {
		size := 12 + int(int32(binary.BigEndian.Uint32(b[8:12])))
		if size < 61 {
			return nil, fmt.Errorf("batch of %d bytes", size)
		}
		if len(b) < size {
			break
		}
		out = append(out, b[:size])
		b = b[size:]
	}
	return out, nil
}

func recordValues(recs []record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Value
	}
	return out
}

// replicaBatches reads the batches of partition p's replica from broker b's
// log dir (every segment, in offset order). Whatever is being written at
// the end (a partial batch) is left out.
func replicaBatches(t *testing.T, b *testutil.Broker, topic string, p int) [][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(b.Dir, fmt.Sprintf("%s-%d", topic, p), "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files) // zero-padded base offsets
	var out [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			if os.IsNotExist(err) { // a segment deleted meanwhile
				continue
			}
			t.Fatal(err)
		}
		bs, err := splitBatches(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, bs...)
	}
	return out
}

// batchValues decodes the values of batches in order.
func batchValues(t *testing.T, batches [][]byte) []string {
	t.Helper()
	var out []string
	for _, b := range batches {
		_, rs, err := logstore.DecodeRecords(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			out = append(out, string(r.Value))
		}
	}
	return out
}

// waitLogsIdentical waits until every broker holds a replica of topic-p
// whose batches, read from its log files up to its log end, are the same
// bytes as every other replica's, and returns them. Every broker must be
// running.
func (e *env) waitLogsIdentical(topic string, p int) [][]byte {
	e.t.Helper()
	var same [][]byte
	eventually(e.t, 30*time.Second, func() error {
		var first [][]byte
		for i, b := range e.c.Brokers {
			if !b.Running() {
				return fmt.Errorf("broker %d is not running", b.ID)
			}
			bs := replicaBatches(e.t, b, topic, p)
			if i == 0 {
				first = bs
				continue
			}
			if !slices.EqualFunc(first, bs, bytes.Equal) {
				return fmt.Errorf("%s-%d: broker %d has %d batches, broker %d %d (or they differ)",
					topic, p, e.c.Brokers[0].ID, len(first), b.ID, len(bs))
			}
		}
		same = first
		return nil
	})
	return same
}

// waitState waits until topic-p's state znode satisfies ok and returns it.
func (e *env) waitState(conn *zk.Conn, topic string, p int, ok func(partitionState) error) partitionState {
	e.t.Helper()
	var st partitionState
	eventually(e.t, 30*time.Second, func() error {
		var err error
		if st, err = readState(conn, topic, p); err != nil {
			return err
		}
		if err := ok(st); err != nil {
			return fmt.Errorf("%s-%d %+v: %v", topic, p, st, err)
		}
		return nil
	})
	return st
}

// registered returns the broker ids registered under /brokers/ids, sorted.
func registered(conn *zk.Conn) ([]int32, error) {
	names, _, err := conn.Children("/zkafka/brokers/ids")
	if err != nil {
		return nil, err
	}
	var ids []int32
	for _, n := range names {
		var id int32
		if _, err := fmt.Sscan(n, &id); err == nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// others returns the cluster's brokers other than b.
func (e *env) others(b *testutil.Broker) []*testutil.Broker {
	var out []*testutil.Broker
	for _, o := range e.c.Brokers {
		if o != b {
			out = append(out, o)
		}
	}
	return out
}

func brokerIDs(bs []*testutil.Broker) []int32 {
	var out []int32
	for _, b := range bs {
		out = append(out, int32(b.ID))
	}
	slices.Sort(out)
	return out
}

// partitionMetadata returns topic-p's metadata as broker addr answers it.
func partitionMetadata(addr, topic string, p int32) (kmsg.MetadataResponseTopicPartition, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := metadata(ctx, addr)
	if err != nil {
		return kmsg.MetadataResponseTopicPartition{}, err
	}
	for _, tm := range m.Topics {
		if tm.Topic != nil && *tm.Topic == topic {
			for _, pm := range tm.Partitions {
				if pm.Partition == p {
					return pm, nil
				}
			}
		}
	}
	return kmsg.MetadataResponseTopicPartition{}, fmt.Errorf("%s does not know %s-%d", addr, topic, p)
}

// containsAny reports the first of vals found in have.
func containsAny(have []string, vals []string) (string, bool) {
	set := map[string]bool{}
	for _, v := range have {
		set[v] = true
	}
	for _, v := range vals {
		if set[v] {
			return v, true
		}
	}
	return "", false
}
