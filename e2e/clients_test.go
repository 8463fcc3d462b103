package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"testing"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
	"github.com/zkafka/zkafka/internal/testutil"
)

// TestIntegration_Clients runs unchanged real clients against a 3-broker
// cluster: segmentio/kafka-go Writer and Reader, franz-go with every
// compression codec, and a raw produce whose stored batch must come back
// byte-identical.
func TestIntegration_Clients(t *testing.T) {
	e := newEnv(t, 3, nil)
	t.Run("KafkaGo", func(t *testing.T) { testKafkaGo(t, e) })
	t.Run("FranzGoCodecs", func(t *testing.T) { testFranzGoCodecs(t, e) })
	t.Run("RawBatchByteIdentical", func(t *testing.T) { testRawBatch(t, e) })
}

func testKafkaGo(t *testing.T, e *env) {
	e.createTopic("kgo-writer", 4, 2)
	e.waitTopic("kgo-writer", 4)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(e.c.Brokers[0].Addr()), Topic: "kgo-writer", Balancer: &kafka.Hash{}, BatchTimeout: 5 * time.Millisecond, RequiredAcks: kafka.RequireAll}
	const n = 2000
	var msgs []kafka.Message
	for i := 0; i < n; i++ {
		msgs = append(msgs, kafka.Message{Key: []byte("k" + strconv.Itoa(i%13)), Value: []byte("v" + strconv.Itoa(i))})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("kafka-go write: %v", err)
	}
	w.Close()

	got := map[string]bool{}
	keyPart := map[string]int{}
	for p := 0; p < 4; p++ {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{e.c.Brokers[1].Addr()}, Topic: "kgo-writer", Partition: p, MaxWait: 100 * time.Millisecond})
		conn, err := kafka.DialLeader(ctx, "tcp", e.c.Brokers[2].Addr(), "kgo-writer", p)
		if err != nil {
			t.Fatalf("dial leader of partition %d: %v", p, err)
		}
		last, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatalf("last offset of partition %d: %v", p, err)
		}
		for i := int64(0); i < last; i++ {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("kafka-go read partition %d: %v", p, err)
			}
			if m.Offset != i {
				t.Fatalf("partition %d: offset %d, want %d", p, m.Offset, i)
			}
			if kp, ok := keyPart[string(m.Key)]; ok && kp != p {
				t.Fatalf("key %s in partitions %d and %d", m.Key, kp, p)
			}
			keyPart[string(m.Key)] = p
			got[string(m.Value)] = true
		}
		r.Close()
	}
	if len(got) != n {
		t.Fatalf("kafka-go read %d distinct messages, want %d", len(got), n)
	}
}

func testFranzGoCodecs(t *testing.T, e *env) {
	for name, codec := range codecs {
		topic := "franz-" + name
		e.createTopic(topic, 2, 3)
		e.waitTopic(topic, 2)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cl, err := kgo.NewClient(kgo.SeedBrokers(e.c.Brokers[0].Addr()), kgo.ProducerBatchCompression(codec),
			kgo.DefaultProduceTopic(topic), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		const n = 500
		var recs []*kgo.Record
		for i := 0; i < n; i++ {
			recs = append(recs, &kgo.Record{Key: []byte("k" + strconv.Itoa(i%7)), Value: bytes.Repeat([]byte(fmt.Sprintf("%s-%d;", name, i)), 20)})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("%s: produce: %v", name, err)
		}
		seen := 0
		for seen < n {
			fs := cl.PollFetches(ctx)
			if errs := fs.Errors(); len(errs) > 0 {
				t.Fatalf("%s: fetch: %v", name, errs)
			}
			fs.EachRecord(func(r *kgo.Record) {
				i, _ := strconv.Atoi(string(bytes.TrimPrefix(bytes.SplitN(r.Value, []byte(";"), 2)[0], []byte(name+"-"))))
				if !bytes.Equal(r.Value, recs[i].Value) || !bytes.Equal(r.Key, recs[i].Key) || r.Partition != recs[i].Partition {
					t.Fatalf("%s: record %d came back different", name, i)
				}
				seen++
			})
		}
		cl.Close()
		cancel()
		// The stored batches are still compressed with the producer's codec.
		checkStoredCodec(t, e, topic, int16(codecBits[name]))
	}
}

// codecs are Kafka's compression codecs, by name, with their attribute bits.
var (
	codecs = map[string]kgo.CompressionCodec{
		"gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	codecBits = map[string]int{"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
)

// fetchRaw fetches partition p of topic from offset 0 from its leader.
func fetchRaw(t *testing.T, e *env, topic string, p int32) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := metadata(ctx, e.c.Brokers[0].Addr())
	if err != nil {
		t.Fatal(err)
	}
	leader := int32(-1)
	for _, mt := range m.Topics {
		if *mt.Topic == topic {
			for _, mp := range mt.Partitions {
				if mp.Partition == p {
					leader = mp.Leader
				}
			}
		}
	}
	var addr string
	for _, b := range m.Brokers {
		if b.NodeID == leader {
			addr = fmt.Sprintf("%s:%d", b.Host, b.Port)
		}
	}
	conn, err := wire.Dial(ctx, addr, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(11)
	req.ReplicaID, req.MaxBytes, req.MinBytes = -1, 50<<20, 1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = p, 50<<20, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	r, err := conn.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	resp := r.(*kmsg.FetchResponse)
	sp := resp.Topics[0].Partitions[0]
	if sp.ErrorCode != 0 {
		t.Fatalf("fetch %s-%d: error %d", topic, p, sp.ErrorCode)
	}
	return sp.RecordBatches
}

func checkStoredCodec(t *testing.T, e *env, topic string, codec int16) {
	t.Helper()
	for p := int32(0); p < 2; p++ {
		data := fetchRaw(t, e, topic, p)
		for len(data) > 0 {
			if len(data) < 61 {
				t.Fatalf("%s-%d: short batch", topic, p)
			}
			size := 12 + int(binary.BigEndian.Uint32(data[8:]))
			attrs := int16(binary.BigEndian.Uint16(data[21:]))
			if attrs&7 != codec {
				t.Fatalf("%s-%d: stored batch has codec %d, want %d", topic, p, attrs&7, codec)
			}
			data = data[size:]
		}
	}
}

// testRawBatch produces hand-built batches compressed with each codec (two
// per codec) and checks that each comes back byte for byte, but for the base
// offset and leader epoch.
func testRawBatch(t *testing.T, e *env) {
	e.createTopic("raw", 1, 1)
	e.waitTopic("raw", 1)
	var sent [][]byte
	for _, name := range []string{"gzip", "snappy", "lz4", "zstd"} {
		comp, err := kgo.DefaultCompressor(codecs[name])
		if err != nil {
			t.Fatal(err)
		}
		for b := 0; b < 2; b++ {
			var recs []byte
			for i := 0; i < 10; i++ {
				recs = testutil.AppendRecord(recs, int64(i), []byte("key"), bytes.Repeat([]byte(fmt.Sprintf("batch %d record %d;", len(sent), i)), 5))
			}
			compressed, typ := comp.Compress(new(bytes.Buffer), recs)
			if int(typ) != codecBits[name] {
				t.Fatalf("%s compressor fell back to codec %d", name, typ)
			}
			sent = append(sent, testutil.BuildBatch(int16(typ), 10, time.Now().UnixMilli(), append([]byte(nil), compressed...)))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, _ := metadata(ctx, e.c.Brokers[0].Addr())
	var addr string
	for _, mt := range m.Topics {
		if *mt.Topic == "raw" {
			for _, b := range m.Brokers {
				if b.NodeID == mt.Partitions[0].Leader {
					addr = fmt.Sprintf("%s:%d", b.Host, b.Port)
				}
			}
		}
	}
	conn, err := wire.Dial(ctx, addr, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, batch := range sent {
		req := kmsg.NewPtrProduceRequest()
		req.SetVersion(7)
		req.Acks, req.TimeoutMillis = -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "raw"
		rt.Partitions = []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: batch}}
		req.Topics = append(req.Topics, rt)
		r, err := conn.Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if code := r.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("produce: error %d", code)
		}
	}
	got := fetchRaw(t, e, "raw", 0)
	for i, want := range sent {
		if len(got) < len(want) {
			t.Fatalf("batch %d: stored %d bytes, want %d", i, len(got), len(want))
		}
		b := got[:len(want)]
		if off := int64(binary.BigEndian.Uint64(b)); off != int64(i*10) {
			t.Fatalf("batch %d: base offset %d, want %d", i, off, i*10)
		}
		if !bytes.Equal(b[8:12], want[8:12]) || !bytes.Equal(b[16:], want[16:]) {
			t.Fatalf("batch %d differs beyond base offset and leader epoch", i)
		}
		got = got[len(want):]
	}
	if len(got) != 0 {
		t.Fatalf("%d unexpected bytes after the batches", len(got))
	}
}
