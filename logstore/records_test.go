package logstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"testing"

	kcompress "github.com/segmentio/kafka-go/compress"
	kgzip "github.com/segmentio/kafka-go/compress/gzip"
	klz4 "github.com/segmentio/kafka-go/compress/lz4"
	ksnappy "github.com/segmentio/kafka-go/compress/snappy"
	kzstd "github.com/segmentio/kafka-go/compress/zstd"

	"github.com/zkafka/zkafka/internal/testutil"
)

func sampleRecords(base int64, n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		r := Record{Offset: base + int64(i)*2, Timestamp: 1_700_000_000_000 + int64(i%5)*7}
		if i%3 != 0 {
			r.Key = []byte(fmt.Sprintf("key-%d", i))
		}
		if i%7 != 3 {
			r.Value = bytes.Repeat([]byte{byte('a' + i%26)}, i*13%200)
		}
		if i%4 == 1 {
			r.Headers = []RecordHeader{{Key: "h1", Value: []byte("v")}, {Key: "", Value: nil}}
		}
		recs[i] = r
	}
	return recs
}

func TestEncodeDecodeRoundTripEveryCodec(t *testing.T) {
	for codec := CompressionNone; codec <= CompressionZstd; codec++ {
		for _, n := range []int{1, 3, 500} {
			t.Run(fmt.Sprintf("%s/%d", CompressionName(codec), n), func(t *testing.T) {
				h := BatchHeader{BaseOffset: 1000, PartitionLeaderEpoch: 7, Attributes: attrTransactional,
					ProducerID: 42, ProducerEpoch: 3, BaseSequence: 11}
				recs := sampleRecords(1000, n)
				b, err := EncodeRecords(h, codec, recs)
				if err != nil {
					t.Fatal(err)
				}
				// offsets have gaps (as after compaction), so check what a
				// log's recovery checks rather than a producer's batch
				hh, err := ParseBatchHeader(b)
				if err == nil {
					err = checkHeader(hh, int64(len(b)))
				}
				if err == nil {
					err = checkCRC(hh, b)
				}
				if err != nil || hh.Size() != int64(len(b)) {
					t.Fatalf("encoded batch does not check: %v", err)
				}
				got, out, err := DecodeRecords(b)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(out, recs) {
					t.Fatalf("records differ after round trip:\n got %+v\nwant %+v", out[:1], recs[:1])
				}
				if got.Compression() != codec || !got.IsTransactional() || got.ProducerID != 42 ||
					got.ProducerEpoch != 3 || got.BaseSequence != 11 || got.PartitionLeaderEpoch != 7 ||
					got.BaseOffset != 1000 || got.LastOffset() != recs[n-1].Offset || int(got.NumRecords) != n {
					t.Fatalf("header not kept: %+v", got)
				}
				if got.FirstTimestamp != recs[0].Timestamp || got.MaxTimestamp != maxTimestamp(recs) {
					t.Fatalf("timestamps %d/%d", got.FirstTimestamp, got.MaxTimestamp)
				}
				if !BatchCRCValid(b) {
					t.Fatal("crc invalid")
				}
			})
		}
	}
}

func maxTimestamp(recs []Record) int64 {
	m := recs[0].Timestamp
	for _, r := range recs {
		m = max(m, r.Timestamp)
	}
	return m
}

// A compacted batch keeps its original last offset even when its last
// records are gone, and may be empty.
func TestEncodeRecordsKeepsLastOffsetDelta(t *testing.T) {
	h := BatchHeader{BaseOffset: 10, LastOffsetDelta: 9, FirstTimestamp: 5, MaxTimestamp: 6, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
	b, err := EncodeRecords(h, CompressionNone, []Record{{Offset: 12, Value: []byte("x")}})
	if err != nil {
		t.Fatal(err)
	}
	got, recs, err := DecodeRecords(b)
	if err != nil || len(recs) != 1 || recs[0].Offset != 12 || got.LastOffset() != 19 {
		t.Fatalf("got %+v %+v %v", got, recs, err)
	}
	b, err = EncodeRecords(h, CompressionZstd, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, recs, err = DecodeRecords(b)
	if err != nil || len(recs) != 0 || got.LastOffset() != 19 || got.MaxTimestamp != 6 {
		t.Fatalf("empty batch: %+v %+v %v", got, recs, err)
	}
	if _, err := EncodeRecords(h, CompressionNone, []Record{{Offset: 12}, {Offset: 12}}); err == nil {
		t.Fatal("duplicate offsets accepted")
	}
	if _, err := EncodeRecords(h, CompressionNone, []Record{{Offset: 9}}); err == nil {
		t.Fatal("offset below base accepted")
	}
	if _, err := EncodeRecords(h, 5, nil); err == nil {
		t.Fatal("codec 5 accepted")
	}
}

func TestDecodeLogAppendTime(t *testing.T) {
	h := BatchHeader{Attributes: attrTimestampType, MaxTimestamp: 99}
	b, err := EncodeRecords(h, CompressionNone, []Record{{Offset: 0, Timestamp: 99}, {Offset: 1, Timestamp: 99}})
	if err != nil {
		t.Fatal(err)
	}
	// a LogAppendTime batch's records carry the batch's max timestamp,
	// whatever their deltas say
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], 12345)
	_, recs, err := DecodeRecords(b)
	if err != nil || recs[0].Timestamp != 12345 || recs[1].Timestamp != 12345 {
		t.Fatalf("%+v %v", recs, err)
	}
}

// Batches compressed by another implementation (kafka-go's codecs, snappy
// both xerial-framed as the Java client writes it and raw as librdkafka
// does) decode to the records written.
func TestDecodeRecordsFromOtherEncoders(t *testing.T) {
	var raw []byte
	for i := 0; i < 50; i++ {
		raw = testutil.AppendRecord(raw, int64(i), []byte(fmt.Sprint("k", i)), bytes.Repeat([]byte("value "), i))
	}
	codecs := map[string]struct {
		c    kcompress.Codec
		code int16
	}{
		"gzip":          {&kgzip.Codec{Level: 6}, 1},
		"snappy-xerial": {&ksnappy.Codec{Framing: ksnappy.Framed}, 2},
		"snappy-raw":    {&ksnappy.Codec{Framing: ksnappy.Unframed}, 2},
		"lz4":           {&klz4.Codec{}, 3},
		"zstd":          {&kzstd.Codec{}, 4},
	}
	for name, c := range codecs {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			w := c.c.NewWriter(&buf)
			if _, err := w.Write(raw); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			b := testutil.BuildBatch(c.code, 50, 77, buf.Bytes())
			h, recs, err := DecodeRecords(b)
			if err != nil {
				t.Fatal(err)
			}
			if h.Compression() != int(c.code) || len(recs) != 50 {
				t.Fatalf("codec %d, %d records", h.Compression(), len(recs))
			}
			for i, r := range recs {
				if r.Offset != int64(i) || r.Timestamp != 77 || string(r.Key) != fmt.Sprint("k", i) ||
					!bytes.Equal(r.Value, bytes.Repeat([]byte("value "), i)) || r.Headers != nil {
					t.Fatalf("record %d: %+v", i, r)
				}
			}
		})
	}
}

func TestDecodeRecordsCorrupt(t *testing.T) {
	good, err := EncodeRecords(BatchHeader{}, CompressionNone, sampleRecords(0, 5))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":          nil,
		"short header":   good[:40],
		"truncated":      good[:len(good)-1],
		"magic 1":        patched(good, offMagic, 1),
		"bad count":      patchedU32(good, offRecordCount, 6),
		"huge count":     patchedU32(good, offRecordCount, 1<<31-1),
		"negative count": patchedU32(good, offRecordCount, 0xffffffff),
		"bad codec":      patched(good, offAttributes+1, 6),
		"gzip garbage":   patched(good, offAttributes+1, CompressionGzip),
		"snappy garbage": patched(good, offAttributes+1, CompressionSnappy),
		"lz4 garbage":    patched(good, offAttributes+1, CompressionLZ4),
		"zstd garbage":   patched(good, offAttributes+1, CompressionZstd),
		"record length":  patched(good, batchHeaderSize, 0x7f),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := DecodeRecords(b)
			if !errors.Is(err, ErrCorruptMessage) && !errors.Is(err, ErrUnsupportedMagic) {
				t.Fatalf("err = %v, want a corrupt-message error", err)
			}
		})
	}
	// a decompression bomb is refused, not expanded (the cap lowered to
	// keep the test small)
	defer func(n int) { maxDecompressed = n }(maxDecompressed)
	maxDecompressed = 1 << 20
	bomb := bytes.Repeat([]byte{0}, maxDecompressed+1)
	for _, codec := range []int{CompressionGzip, CompressionZstd, CompressionLZ4, CompressionSnappy} {
		z, err := compress(codec, bomb)
		if err != nil {
			t.Fatal(err)
		}
		b := testutil.BuildBatch(int16(codec), 1, 0, z)
		if _, _, err := DecodeRecords(b); !errors.Is(err, ErrCorruptMessage) {
			t.Fatalf("%s bomb: err = %v", CompressionName(codec), err)
		}
	}
}

func patched(b []byte, at int, v byte) []byte {
	c := bytes.Clone(b)
	c[at] = v
	return c
}

func patchedU32(b []byte, at int, v uint32) []byte {
	c := bytes.Clone(b)
	binary.BigEndian.PutUint32(c[at:], v)
	return c
}

// FuzzDecodeRecords: any bytes decode to records or an error, never a
// panic; what decodes re-encodes and decodes to the same records.
// Seeds: testdata/fuzz/FuzzDecodeRecords and below.
func FuzzDecodeRecords(f *testing.F) {
	for codec := CompressionNone; codec <= CompressionZstd; codec++ {
		b, err := EncodeRecords(BatchHeader{BaseOffset: 3}, codec, sampleRecords(3, 4))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, recs, err := DecodeRecords(b)
		if err != nil {
			return
		}
		if len(recs) != int(h.NumRecords) {
			t.Fatalf("%d records, header says %d", len(recs), h.NumRecords)
		}
		h.BaseOffset = min(h.BaseOffset, firstOffset(recs, h.BaseOffset))
		enc, err := EncodeRecords(h, CompressionNone, recs)
		if err != nil {
			return // offsets out of order in the input: not re-encodable
		}
		_, again, err := DecodeRecords(enc)
		if err != nil {
			t.Fatalf("re-encoded batch does not decode: %v", err)
		}
		if h.LogAppendTime() {
			return // timestamps are the batch's, not the records'
		}
		if !reflect.DeepEqual(again, recs) {
			t.Fatalf("round trip differs")
		}
	})
}

func firstOffset(recs []Record, def int64) int64 {
	if len(recs) == 0 {
		return def
	}
	return recs[0].Offset
}

func BenchmarkDecodeRecords(b *testing.B) {
	recs := sampleRecords(0, 1000)
	for codec := CompressionNone; codec <= CompressionZstd; codec++ {
		batch, err := EncodeRecords(BatchHeader{}, codec, recs)
		if err != nil {
			b.Fatal(err)
		}
		raw, _ := EncodeRecords(BatchHeader{}, CompressionNone, recs)
		b.Run(CompressionName(codec), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, _, err := DecodeRecords(batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
