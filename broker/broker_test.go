package broker

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
	"github.com/zkafka/zkafka/internal/testutil"
	"github.com/zkafka/zkafka/logstore"
)

// testBroker is a broker without ZooKeeper: its listener, logs, metadata
// cache and replica manager, driven by controller requests sent over the
// wire as a controller would.
type testBroker struct {
	b    *Broker
	addr string
	stop func() // shut down as Run does: cancel, wait for every goroutine
}

func newTestBroker(t *testing.T) *testBroker { return newTestBrokerID(t, 1) }

// newTestBrokerID starts a test broker with the given id; it replicates as
// a follower when told to by LeaderAndIsr (through its replica fetchers).
func newTestBrokerID(t *testing.T, id int32) *testBroker {
	t.Helper()
	return newTestBrokerWith(t, id, nil)
}

// newTestBrokerWith runs setup on the broker before it starts listening.
func newTestBrokerWith(t *testing.T, id int32, setup func(b *Broker)) *testBroker {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	if testing.Verbose() {
		log.SetOutput(os.Stderr)
		log.SetLevel(logrus.DebugLevel)
	}
	cfg := Config{BrokerID: id, SocketRequestMaxBytes: 100 << 20, MessageMaxBytes: 1000012, AutoCreateTopicsEnable: false, DeleteTopicEnable: true}
	b := &Broker{cfg: cfg, log: log.WithField("broker_id", id), meta: newMetadataCache(), clusterID: "test-cluster-id-000000"}
	b.registerAPIs()
	var blocks int64
	b.producerIDs = newProducerIDAllocator(func(context.Context) (int64, int64, error) {
		start := blocks * 1000
		blocks++
		return start, start + 999, nil
	})
	lcfg := logstore.DefaultConfig()
	var err error
	if b.logs, err = logstore.OpenManager([]string{t.TempDir()}, lcfg, log); err != nil {
		t.Fatal(err)
	}
	b.replicas = newReplicaManager(id, b.logs, lcfg, nil, log.WithField("broker_id", id))
	if setup != nil {
		setup(b)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	fcfg := defaultFetcherConfig()
	fcfg.backoff = 50 * time.Millisecond
	b.replicas.fetchers = newFetcherManager(ctx, b.replicas, fcfg, &b.goroutines, log.WithField("broker_id", id))
	b.goroutines.Go("listener", func() { b.serve(ctx, ln, "PLAINTEXT") })
	tb := &testBroker{b: b, addr: ln.Addr().String()}
	var once sync.Once
	tb.stop = func() {
		once.Do(func() {
			cancel()
			b.goroutines.Wait()
			b.logs.Close()
		})
	}
	t.Cleanup(tb.stop)
	return tb
}

func (tb *testBroker) dial(t *testing.T) *wire.Conn {
	t.Helper()
	c, err := wire.Dial(context.Background(), tb.addr, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func request[R kmsg.Response](t *testing.T, c *wire.Conn, req kmsg.Request, version int16) R {
	t.Helper()
	req.SetVersion(version)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Request(ctx, req)
	if err != nil {
		t.Fatalf("key %d v%d: %v", req.Key(), version, err)
	}
	return resp.(R)
}

// lead makes the test broker leader of topic's partitions (replicas [1,2])
// with controller epoch 1, through LeaderAndIsr and UpdateMetadata.
func (tb *testBroker) lead(t *testing.T, c *wire.Conn, topic string, partitions int32, leaderEpoch int32) {
	t.Helper()
	lai := kmsg.NewPtrLeaderAndISRRequest()
	lai.ControllerID, lai.ControllerEpoch, lai.BrokerEpoch = 1, 1, -1
	ts := kmsg.NewLeaderAndISRRequestTopicState()
	ts.Topic = topic
	um := kmsg.NewPtrUpdateMetadataRequest()
	um.ControllerID, um.ControllerEpoch, um.BrokerEpoch = 1, 1, -1
	ut := kmsg.NewUpdateMetadataRequestTopicState()
	ut.Topic = topic
	for p := int32(0); p < partitions; p++ {
		ps := kmsg.NewLeaderAndISRRequestTopicPartition()
		ps.Partition, ps.ControllerEpoch, ps.Leader, ps.LeaderEpoch = p, 1, 1, leaderEpoch
		ps.ISR, ps.Replicas, ps.IsNew = []int32{1}, []int32{1, 2}, true
		ts.PartitionStates = append(ts.PartitionStates, ps)
		up := kmsg.NewUpdateMetadataRequestTopicPartition()
		up.Partition, up.ControllerEpoch, up.Leader, up.LeaderEpoch = p, 1, 1, leaderEpoch
		up.ISR, up.Replicas = []int32{1}, []int32{1, 2}
		ut.PartitionStates = append(ut.PartitionStates, up)
	}
	lai.TopicStates = append(lai.TopicStates, ts)
	r := request[*kmsg.LeaderAndISRResponse](t, c, lai, 4)
	if r.ErrorCode != 0 || len(r.Partitions) != int(partitions) || r.Partitions[0].ErrorCode != 0 {
		t.Fatalf("LeaderAndIsr: %+v", r)
	}
	_, port, _ := net.SplitHostPort(tb.addr)
	var portN int32
	for _, ch := range port {
		portN = portN*10 + int32(ch-'0')
	}
	lb := kmsg.NewUpdateMetadataRequestLiveBroker()
	lb.ID = 1
	lb.Endpoints = []kmsg.UpdateMetadataRequestLiveBrokerEndpoint{{Host: "127.0.0.1", Port: portN, ListenerName: "PLAINTEXT"}}
	lb2 := kmsg.NewUpdateMetadataRequestLiveBroker()
	lb2.ID = 2
	lb2.Endpoints = []kmsg.UpdateMetadataRequestLiveBrokerEndpoint{{Host: "127.0.0.1", Port: 1, ListenerName: "PLAINTEXT"}}
	um.LiveBrokers = []kmsg.UpdateMetadataRequestLiveBroker{lb, lb2}
	um.TopicStates = append(um.TopicStates, ut)
	if r := request[*kmsg.UpdateMetadataResponse](t, c, um, 6); r.ErrorCode != 0 {
		t.Fatalf("UpdateMetadata: %d", r.ErrorCode)
	}
}

// testBatch builds an uncompressed magic-2 batch of n records.
func testBatch(n int) []byte {
	var recs []byte
	for i := 0; i < n; i++ {
		recs = testutil.AppendRecord(recs, int64(i), nil, []byte("hello"))
	}
	return testutil.BuildBatch(0, int32(n), 1700000000000, recs)
}

func produceReq(topic string, p int32, records []byte, acks int16) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = acks, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rt.Partitions = []kmsg.ProduceRequestTopicPartition{{Partition: p, Records: records}}
	req.Topics = []kmsg.ProduceRequestTopic{rt}
	return req
}

func fetchReq(topic string, p int32, offset int64, maxWait int32, minBytes int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, maxWait, minBytes, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = p, offset, 1<<20, -1
	rt.Partitions = []kmsg.FetchRequestTopicPartition{rp}
	req.Topics = []kmsg.FetchRequestTopic{rt}
	return req
}

func TestApiVersionsEveryVersion(t *testing.T) {
	tb := newTestBroker(t)
	c := tb.dial(t)
	for v := int16(0); v <= 3; v++ {
		r := request[*kmsg.ApiVersionsResponse](t, c, kmsg.NewPtrApiVersionsRequest(), v)
		if r.ErrorCode != 0 || len(r.ApiKeys) != len(tb.b.apis) {
			t.Fatalf("v%d: error %d, %d keys", v, r.ErrorCode, len(r.ApiKeys))
		}
	}
	// KIP-511: a newer version gets a v0 answer with UNSUPPORTED_VERSION.
	nc, err := net.Dial("tcp", tb.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(4)
	if _, err := nc.Write(wire.AppendRequest(nil, req, 7, nil)); err != nil {
		t.Fatal(err)
	}
	frame, err := wire.ReadFrame(nc, nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	r := kmsg.NewPtrApiVersionsResponse()
	r.SetVersion(0)
	if err := wire.ParseResponse(frame, 7, r); err != nil {
		t.Fatal(err)
	}
	if r.ErrorCode != kerr.UnsupportedVersion.Code || len(r.ApiKeys) != 1 || r.ApiKeys[0].MaxVersion != 3 {
		t.Fatalf("v4: %+v", r)
	}
}

func TestProduceFetchListOffsetsEveryVersion(t *testing.T) {
	tb := newTestBroker(t)
	c := tb.dial(t)
	tb.lead(t, c, "t", 1, 0)
	var next int64
	for v := int16(3); v <= 8; v++ {
		r := request[*kmsg.ProduceResponse](t, c, produceReq("t", 0, testBatch(3), 1), v)
		sp := r.Topics[0].Partitions[0]
		if sp.ErrorCode != 0 || sp.BaseOffset != next {
			t.Fatalf("produce v%d: error %d base %d want %d", v, sp.ErrorCode, sp.BaseOffset, next)
		}
		next += 3
	}
	for v := int16(4); v <= 11; v++ {
		r := request[*kmsg.FetchResponse](t, c, fetchReq("t", 0, 3, 0, 1), v)
		sp := r.Topics[0].Partitions[0]
		if sp.ErrorCode != 0 || sp.HighWatermark != next || len(sp.RecordBatches) != 5*len(testBatch(3)) {
			t.Fatalf("fetch v%d: error %d hw %d, %d bytes", v, sp.ErrorCode, sp.HighWatermark, len(sp.RecordBatches))
		}
		if off := int64(binary.BigEndian.Uint64(sp.RecordBatches)); off != 3 {
			t.Fatalf("fetch v%d: first batch at %d", v, off)
		}
	}
	// Nothing to read: an empty record set, encoded with size 0, not null
	// (librdkafka refuses a null one).
	r := request[*kmsg.FetchResponse](t, c, fetchReq("t", 0, next, 0, 1), 11)
	if sp := r.Topics[0].Partitions[0]; sp.ErrorCode != 0 || sp.RecordBatches == nil || len(sp.RecordBatches) != 0 {
		t.Fatalf("empty fetch: error %d, batches %v", sp.ErrorCode, sp.RecordBatches)
	}
	for v := int16(0); v <= 5; v++ {
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID = -1
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp, rp.MaxNumOffsets = 0, -1, 1
		rt.Partitions = []kmsg.ListOffsetsRequestTopicPartition{rp}
		req.Topics = []kmsg.ListOffsetsRequestTopic{rt}
		r := request[*kmsg.ListOffsetsResponse](t, c, req, v)
		sp := r.Topics[0].Partitions[0]
		got := sp.Offset
		if v == 0 {
			got = sp.OldStyleOffsets[0]
		}
		if sp.ErrorCode != 0 || got != next {
			t.Fatalf("list offsets v%d: error %d offset %d", v, sp.ErrorCode, got)
		}
	}
}

func TestMetadataEveryVersion(t *testing.T) {
	tb := newTestBroker(t)
	c := tb.dial(t)
	tb.lead(t, c, "m", 2, 3)
	for v := int16(0); v <= 9; v++ {
		req := kmsg.NewPtrMetadataRequest()
		if v > 0 {
			req.Topics = nil // all topics
		}
		r := request[*kmsg.MetadataResponse](t, c, req, v)
		if len(r.Brokers) != 2 || len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 2 {
			t.Fatalf("v%d: %d brokers, %d topics", v, len(r.Brokers), len(r.Topics))
		}
		p := r.Topics[0].Partitions[0]
		if p.Leader != 1 || len(p.ISR) != 1 || len(p.Replicas) != 2 || (v >= 7 && p.LeaderEpoch != 3) {
			t.Fatalf("v%d: partition %+v", v, p)
		}
		if v >= 2 && (r.ClusterID == nil || *r.ClusterID != "test-cluster-id-000000") {
			t.Fatalf("v%d: cluster id %v", v, r.ClusterID)
		}
	}
	// Unknown topic, auto-creation off.
	req := kmsg.NewPtrMetadataRequest()
	name := "nope"
	req.Topics = []kmsg.MetadataRequestTopic{{Topic: &name}}
	r := request[*kmsg.MetadataResponse](t, c, req, 9)
	if r.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic: %d", r.Topics[0].ErrorCode)
	}
}

func TestProduceErrors(t *testing.T) {
	tb := newTestBroker(t)
	c := tb.dial(t)
	tb.lead(t, c, "e", 1, 0)
	bad := testBatch(2)
	bad[len(bad)-1] ^= 0xff // CRC mismatch
	cases := []struct {
		name string
		req  *kmsg.ProduceRequest
		code int16
	}{
		{"corrupt", produceReq("e", 0, bad, 1), kerr.CorruptMessage.Code},
		{"unknown topic", produceReq("nope", 0, testBatch(1), 1), kerr.UnknownTopicOrPartition.Code},
		{"bad acks", produceReq("e", 0, testBatch(1), 2), kerr.InvalidRequiredAcks.Code},
	}
	for _, tc := range cases {
		r := request[*kmsg.ProduceResponse](t, c, tc.req, 7)
		if got := r.Topics[0].Partitions[0].ErrorCode; got != tc.code {
			t.Fatalf("%s: error %d, want %d", tc.name, got, tc.code)
		}
	}
	// Nothing of the corrupt batch was stored.
	r := request[*kmsg.ProduceResponse](t, c, produceReq("e", 0, testBatch(1), 1), 7)
	if sp := r.Topics[0].Partitions[0]; sp.ErrorCode != 0 || sp.BaseOffset != 0 {
		t.Fatalf("after refused batches: %+v", sp)
	}
	// A partition this broker does not lead: NOT_LEADER_FOR_PARTITION.
	tb.b.meta.mu.Lock()
	pm := tb.b.meta.topics["e"][0]
	tb.b.meta.topics["e"][1] = pm
	tb.b.meta.mu.Unlock()
	r = request[*kmsg.ProduceResponse](t, c, produceReq("e", 1, testBatch(1), 1), 7)
	if got := r.Topics[0].Partitions[0].ErrorCode; got != kerr.NotLeaderForPartition.Code {
		t.Fatalf("not leader: %d", got)
	}
}

// A long-polling fetch parked on an empty partition is woken by a produce.
func TestFetchLongPollWokenByAppend(t *testing.T) {
	tb := newTestBroker(t)
	c := tb.dial(t)
	tb.lead(t, c, "lp", 1, 0)
	done := make(chan *kmsg.FetchResponse, 1)
	fc := tb.dial(t)
	go func() {
		req := fetchReq("lp", 0, 0, 60000, 1)
		req.SetVersion(11)
		resp, err := fc.Request(context.Background(), req)
		if err != nil {
			done <- nil
			return
		}
		done <- resp.(*kmsg.FetchResponse)
	}()
	for tb.b.parkedFetches.Load() != 1 { // wait until the fetch is parked
		select {
		case r := <-done:
			t.Fatalf("fetch returned before any data: %+v", r)
		case <-time.After(5 * time.Millisecond):
		}
	}
	request[*kmsg.ProduceResponse](t, c, produceReq("lp", 0, testBatch(1), 1), 8)
	r := <-done // the fetch waits up to 60 s: only the append can end it early
	if r == nil || len(r.Topics[0].Partitions[0].RecordBatches) == 0 {
		t.Fatalf("fetch returned no data: %+v", r)
	}
}

// rawConn sends pipelined request frames and reads response frames.
type rawConn struct {
	t  *testing.T
	nc net.Conn
}

func (tb *testBroker) raw(t *testing.T) *rawConn {
	nc, err := net.Dial("tcp", tb.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc}
}

func (rc *rawConn) send(reqs ...kmsg.Request) {
	var buf []byte
	for i, r := range reqs {
		buf = wire.AppendRequest(buf, r, int32(i+1), nil)
	}
	if _, err := rc.nc.Write(buf); err != nil {
		rc.t.Fatal(err)
	}
}

// next reads the next response frame and returns its correlation id.
func (rc *rawConn) next(within time.Duration) int32 {
	rc.t.Helper()
	rc.nc.SetReadDeadline(time.Now().Add(within))
	frame, err := wire.ReadFrame(rc.nc, nil, 1<<30)
	if err != nil {
		rc.t.Fatalf("no response within %s: %v", within, err)
	}
	return int32(binary.BigEndian.Uint32(frame))
}

// Pipelined requests are answered in order, and an answer that is ready is
// sent at once even while the next request (a long poll) is still waiting.
func TestPipelinedAnswerNotHeldBehindLongPoll(t *testing.T) {
	tb := newTestBroker(t)
	tb.lead(t, tb.dial(t), "pl", 2, 0)
	produce := produceReq("pl", 0, testBatch(1), 1)
	produce.SetVersion(8)
	fetch := fetchReq("pl", 1, 0, 30000, 1) // partition 1 stays empty: parks 30 s
	fetch.SetVersion(11)
	rc := tb.raw(t)
	rc.send(produce, fetch)
	if corr := rc.next(15 * time.Second); corr != 1 {
		t.Fatalf("first answer has correlation id %d", corr)
	}
}

// An answer followed by an acks=0 produce (which gets none) is still sent.
func TestAnswerBeforeAcksZeroProduceIsSent(t *testing.T) {
	tb := newTestBroker(t)
	tb.lead(t, tb.dial(t), "a0", 1, 0)
	md := kmsg.NewPtrMetadataRequest()
	md.SetVersion(1)
	produce := produceReq("a0", 0, testBatch(1), 0)
	produce.SetVersion(7)
	rc := tb.raw(t)
	rc.send(md, produce)
	if corr := rc.next(15 * time.Second); corr != 1 {
		t.Fatalf("answer has correlation id %d", corr)
	}
}

// Shutdown with pipelining clients connected ends every goroutine.
func TestShutdownWithPipeliningClients(t *testing.T) {
	tb := newTestBroker(t)
	tb.lead(t, tb.dial(t), "sd", 1, 0)
	for i := 0; i < 8; i++ {
		rc := tb.raw(t)
		var reqs []kmsg.Request
		for j := 0; j < 50; j++ {
			r := fetchReq("sd", 0, 0, 30000, 1)
			r.SetVersion(11)
			reqs = append(reqs, r)
		}
		rc.send(reqs...)
	}
	for tb.b.parkedFetches.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	done := make(chan struct{})
	go func() { tb.stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("shutdown did not finish")
	}
}

func TestStaleControllerEpochRejected(t *testing.T) {
	tb := newTestBroker(t)
	c := tb.dial(t)
	tb.lead(t, c, "s", 1, 0)
	um := kmsg.NewPtrUpdateMetadataRequest()
	um.ControllerID, um.ControllerEpoch, um.BrokerEpoch = 2, 0, -1
	if r := request[*kmsg.UpdateMetadataResponse](t, c, um, 6); r.ErrorCode != kerr.StaleControllerEpoch.Code {
		t.Fatalf("stale epoch: %d", r.ErrorCode)
	}
}

func TestStorageErrorCodes(t *testing.T) {
	for err, code := range map[error]int16{
		logstore.ErrCorruptMessage:    kerr.CorruptMessage.Code,
		logstore.ErrMessageTooLarge:   kerr.MessageTooLarge.Code,
		logstore.ErrRecordSetTooLarge: kerr.RecordListTooLarge.Code,
		logstore.ErrInvalidRecord:     kerr.InvalidRecord.Code,
		logstore.ErrUnsupportedMagic:  kerr.UnsupportedForMessageFormat.Code,
		logstore.ErrOffsetOutOfRange:  kerr.OffsetOutOfRange.Code,
		logstore.ErrClosed:            kerr.NotLeaderForPartition.Code,
		io.ErrUnexpectedEOF:           kerr.KafkaStorageError.Code,
	} {
		if got := storageErrorCode(fmt.Errorf("append t-0: %w", err)); got != code {
			t.Fatalf("%v: code %d, want %d", err, got, code)
		}
	}
}

// TestPipelinedProducesAppendInOrder: produce requests pipelined on one
// connection are appended in the order they were sent, as Kafka's one-at-a-
// time handling of a connection guarantees (a producer with several
// requests in flight relies on it for per-partition order).
func TestPipelinedProducesAppendInOrder(t *testing.T) {
	tb := newTestBroker(t)
	c := tb.dial(t)
	tb.lead(t, c, "order", 1, 0)
	const n = 200
	rc := tb.raw(t)
	var reqs []kmsg.Request
	for i := 0; i < n; i++ {
		recs := testutil.AppendRecord(nil, 0, nil, []byte(strconv.Itoa(i)))
		req := produceReq("order", 0, testutil.BuildBatch(0, 1, 1700000000000, recs), -1)
		req.SetVersion(7)
		reqs = append(reqs, req)
	}
	rc.send(reqs...)
	for i := 0; i < n; i++ {
		if id := rc.next(10 * time.Second); id != int32(i+1) {
			t.Fatalf("answer %d has correlation id %d", i+1, id)
		}
	}
	l, _ := tb.b.logs.Get(logstore.TopicPartition{Topic: "order", Partition: 0})
	data := logBytes(t, tb, logstore.TopicPartition{Topic: "order", Partition: 0})
	if l.LogEndOffset() != n {
		t.Fatalf("LEO %d", l.LogEndOffset())
	}
	for i, pos := 0, 0; i < n; i++ {
		h, err := logstore.ParseBatchHeader(data[pos:])
		if err != nil {
			t.Fatal(err)
		}
		batch := data[pos : pos+int(h.Size())]
		// the record's value is the request's index: the batch's tail
		if want := strconv.Itoa(i); !bytes.HasSuffix(batch, append([]byte(want), 0)) {
			t.Fatalf("batch at offset %d is not request %d's", h.BaseOffset, i)
		}
		pos += int(h.Size())
	}
}

// A follower's long-polling fetch parked on a partition whose leader epoch a
// LeaderAndIsr then bumps is answered at once with FENCED_LEADER_EPOCH (its
// fetcher may have been told to fetch other partitions from this broker
// meanwhile), not after max_wait_ms.
func TestFetchLongPollAnsweredOnEpochBump(t *testing.T) {
	tb := newTestBrokerID(t, 1)
	c := tb.dial(t)
	leaders := map[int32]*testBroker{1: tb}
	leaderAndIsr(t, c, "eb", 0, 1, 0, []int32{1, 2}, []int32{1, 2}, leaders)
	done := make(chan *kmsg.FetchResponse, 1)
	fc := tb.dial(t)
	go func() {
		req := fetchReq("eb", 0, 0, 60000, 1)
		req.SetVersion(11)
		req.ReplicaID = 2
		req.Topics[0].Partitions[0].CurrentLeaderEpoch = 0
		resp, err := fc.Request(context.Background(), req)
		if err != nil {
			done <- nil
			return
		}
		done <- resp.(*kmsg.FetchResponse)
	}()
	for tb.b.parkedFetches.Load() != 1 { // wait until the fetch is parked
		select {
		case r := <-done:
			t.Fatalf("fetch returned before the epoch changed: %+v", r)
		case <-time.After(5 * time.Millisecond):
		}
	}
	leaderAndIsr(t, c, "eb", 0, 1, 1, []int32{1, 2}, []int32{1, 2}, leaders)
	r := <-done // the fetch waits up to 60 s: only the epoch bump can end it early
	if r == nil || r.Topics[0].Partitions[0].ErrorCode != kerr.FencedLeaderEpoch.Code {
		t.Fatalf("parked fetch after the epoch bump: %+v", r)
	}
}
