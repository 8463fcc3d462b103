package logstore

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Compression codecs: the low three bits of a batch's attributes.
const (
	CompressionNone   = 0
	CompressionGzip   = 1
	CompressionSnappy = 2
	CompressionLZ4    = 3
	CompressionZstd   = 4
)

// CompressionName is the codec's name as Kafka prints it ("NONE", "GZIP",
// "SNAPPY", "LZ4", "ZSTD"), or "UNKNOWN(n)".
func CompressionName(codec int) string {
	switch codec {
	case CompressionNone:
		return "NONE"
	case CompressionGzip:
		return "GZIP"
	case CompressionSnappy:
		return "SNAPPY"
	case CompressionLZ4:
		return "LZ4"
	case CompressionZstd:
		return "ZSTD"
	}
	return fmt.Sprintf("UNKNOWN(%d)", codec)
}

// MaxDecompressedBytes caps the size a compressed batch's records may
// decompress to. A batch on the wire is at most message.max.bytes (about
// 1 MB by default); 256 MiB leaves room for any sane compression ratio while
// keeping a decompression bomb from taking the process down.
const MaxDecompressedBytes = 256 << 20

// maxDecompressed is MaxDecompressedBytes, lowered by tests.
var maxDecompressed = MaxDecompressedBytes

// minRecordSize is the smallest possible encoded record: seven one-byte
// varints/fields (length, attributes, timestamp delta, offset delta, key
// length, value length, header count).
const minRecordSize = 7

// RecordHeader is one record header: a string key and a nullable value.
type RecordHeader struct {
	Key   string
	Value []byte // nil = null
}

// Record is one record of a magic-v2 batch with its absolute offset and
// timestamp.
type Record struct {
	Offset     int64
	Timestamp  int64  // for a LogAppendTime batch: the batch's MaxTimestamp
	Key, Value []byte // nil = null
	Headers    []RecordHeader
	Attributes int8 // unused by Kafka 2.4, kept as found
}

// BatchCRCValid reports whether the CRC-32C stored in a whole batch matches
// its bytes. batch must hold at least the 61-byte header.
func BatchCRCValid(batch []byte) bool {
	if len(batch) < batchHeaderSize {
		return false
	}
	return batchCRC(batch) == binary.BigEndian.Uint32(batch[offCRC:])
}

// DecodeRecords decodes the records of the magic-v2 batch at the start of
// batch (bytes after the batch's end are ignored), decompressing them if the
// batch is compressed (gzip; snappy in Kafka's xerial framing, raw or framed;
// lz4 frames; zstd). The CRC is not checked (see BatchCRCValid), so a tool
// can still look inside a damaged batch. Any malformed input gives an error
// wrapping ErrCorruptMessage (or ErrUnsupportedMagic), never a panic; a
// batch that would decompress to more than MaxDecompressedBytes is refused.
func DecodeRecords(batch []byte) (BatchHeader, []Record, error) {
	h, err := ParseBatchHeader(batch)
	if err != nil {
		return h, nil, err
	}
	if err := checkHeader(h, int64(len(batch))); err != nil {
		return h, nil, err
	}
	body := batch[batchHeaderSize:h.Size()]
	if codec := h.Compression(); codec != CompressionNone {
		if body, err = decompress(codec, body); err != nil {
			return h, nil, fmt.Errorf("%w: %s records: %v", ErrCorruptMessage, CompressionName(codec), err)
		}
	}
	// Never trust the count for an allocation larger than the bytes allow.
	n := int(h.NumRecords)
	recs := make([]Record, 0, min(n, len(body)/minRecordSize))
	r := recordReader{b: body}
	for i := 0; i < n; i++ {
		rec, err := r.record(h)
		if err != nil {
			return h, recs, fmt.Errorf("%w: record %d of batch at offset %d: %v", ErrCorruptMessage, i, h.BaseOffset, err)
		}
		recs = append(recs, rec)
	}
	if len(r.b) != 0 {
		return h, recs, fmt.Errorf("%w: %d bytes after the %d records of batch at offset %d", ErrCorruptMessage, len(r.b), n, h.BaseOffset)
	}
	return h, recs, nil
}

// recordReader consumes records from a decompressed batch body.
type recordReader struct{ b []byte }

var errShort = errors.New("truncated")

func (r *recordReader) varint() (int64, error) {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		return 0, errors.New("bad varint")
	}
	r.b = r.b[n:]
	return v, nil
}

// varint32 reads a varint that Kafka writes as a 32-bit value.
func (r *recordReader) varint32() (int32, error) {
	v, err := r.varint()
	if err == nil && (v < math.MinInt32 || v > math.MaxInt32) {
		err = fmt.Errorf("varint %d out of int32 range", v)
	}
	return int32(v), err
}

// bytes reads a varint length and that many bytes; -1 is null.
func (r *recordReader) bytes() ([]byte, error) {
	n, err := r.varint32()
	switch {
	case err != nil:
		return nil, err
	case n == -1:
		return nil, nil
	case n < 0:
		return nil, fmt.Errorf("negative length %d", n)
	case int(n) > len(r.b):
		return nil, errShort
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v, nil
}

func (r *recordReader) record(h BatchHeader) (Record, error) {
	size, err := r.varint32()
	if err != nil {
		return Record{}, err
	}
	if size < 0 || int(size) > len(r.b) {
		return Record{}, fmt.Errorf("record length %d with %d bytes left", size, len(r.b))
	}
	body := recordReader{b: r.b[:size]}
	r.b = r.b[size:]
	rec, err := body.recordBody(h)
	if err == nil && len(body.b) != 0 {
		err = fmt.Errorf("%d bytes left inside the record", len(body.b))
	}
	return rec, err
}

func (r *recordReader) recordBody(h BatchHeader) (Record, error) {
	var rec Record
	if len(r.b) < 1 {
		return rec, errShort
	}
	rec.Attributes = int8(r.b[0])
	r.b = r.b[1:]
	tsDelta, err := r.varint()
	if err != nil {
		return rec, err
	}
	offDelta, err := r.varint32()
	if err != nil {
		return rec, err
	}
	rec.Offset = h.BaseOffset + int64(offDelta)
	rec.Timestamp = h.FirstTimestamp + tsDelta
	if h.LogAppendTime() {
		rec.Timestamp = h.MaxTimestamp
	}
	if rec.Key, err = r.bytes(); err != nil {
		return rec, err
	}
	if rec.Value, err = r.bytes(); err != nil {
		return rec, err
	}
	nh, err := r.varint32()
	if err != nil {
		return rec, err
	}
	if nh < 0 || int(nh) > len(r.b)/2 { // a header takes at least two bytes
		return rec, fmt.Errorf("header count %d with %d bytes left", nh, len(r.b))
	}
	if nh > 0 {
		rec.Headers = make([]RecordHeader, nh)
	}
	for i := range rec.Headers {
		k, err := r.bytes()
		if err != nil {
			return rec, err
		}
		if k == nil {
			return rec, errors.New("null header key")
		}
		rec.Headers[i].Key = string(k)
		if rec.Headers[i].Value, err = r.bytes(); err != nil {
			return rec, err
		}
	}
	return rec, nil
}

// ---------------------------------------------------------------------------
// Decompression

// xerialMagic starts the framing of Kafka's Java client (snappy-java's
// SnappyOutputStream): magic, then int32 version and compatible version,
// then blocks of int32 length + raw snappy block.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// snappyFramedMagic starts the snappy framing format's stream identifier.
var snappyFramedMagic = []byte{0xff, 0x06, 0x00, 0x00, 's', 'N', 'a', 'P', 'p', 'Y'}

func errTooLarge() error { return fmt.Errorf("decompresses to more than %d bytes", maxDecompressed) }

func decompress(codec int, in []byte) ([]byte, error) {
	switch codec {
	case CompressionGzip:
		zr, err := gzip.NewReader(bytes.NewReader(in))
		if err != nil {
			return nil, err
		}
		return readLimited(zr)
	case CompressionSnappy:
		return unsnappy(in)
	case CompressionLZ4:
		return readLimited(lz4.NewReader(bytes.NewReader(in)))
	case CompressionZstd:
		out, err := zstdDecoder().DecodeAll(in, nil) // bounded by WithDecoderMaxMemory
		if err == nil && len(out) > maxDecompressed {
			err = errTooLarge()
		}
		return out, err
	}
	return nil, fmt.Errorf("unknown compression codec %d", codec)
}

// readLimited reads r to the end, failing past MaxDecompressedBytes.
func readLimited(r io.Reader) ([]byte, error) {
	out, err := io.ReadAll(io.LimitReader(r, int64(maxDecompressed)+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxDecompressed {
		return nil, errTooLarge()
	}
	return out, nil
}

func unsnappy(in []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(in, xerialMagic):
		if len(in) < 16 {
			return nil, errors.New("xerial snappy header truncated")
		}
		var out []byte
		for b := in[16:]; len(b) > 0; {
			if len(b) < 4 {
				return nil, errors.New("xerial snappy block length truncated")
			}
			n := binary.BigEndian.Uint32(b)
			if uint64(n) > uint64(len(b)-4) {
				return nil, fmt.Errorf("xerial snappy block of %d bytes with %d left", n, len(b)-4)
			}
			var err error
			if out, err = unsnappyBlock(out, b[4:4+n]); err != nil {
				return nil, err
			}
			b = b[4+n:]
		}
		return out, nil
	case bytes.HasPrefix(in, snappyFramedMagic):
		return readLimited(snappy.NewReader(bytes.NewReader(in)))
	}
	return unsnappyBlock(nil, in)
}

// unsnappyBlock appends one raw snappy block's contents to dst.
func unsnappyBlock(dst, block []byte) ([]byte, error) {
	n, err := snappy.DecodedLen(block)
	if err != nil {
		return nil, err
	}
	if n > maxDecompressed-len(dst) {
		return nil, errTooLarge()
	}
	out, err := snappy.Decode(make([]byte, n), block)
	if err != nil {
		return nil, err
	}
	return append(dst, out...), nil
}

var (
	zstdDecOnce sync.Once
	zstdDec     *zstd.Decoder
	zstdEncOnce sync.Once
	zstdEnc     *zstd.Encoder
)

// zstdDecoder is one shared decoder (DecodeAll is safe for concurrent use).
func zstdDecoder() *zstd.Decoder {
	zstdDecOnce.Do(func() {
		zstdDec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(MaxDecompressedBytes), zstd.WithDecoderMaxWindow(64<<20))
	})
	return zstdDec
}

func zstdEncoder() *zstd.Encoder {
	zstdEncOnce.Do(func() {
		zstdEnc, _ = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	})
	return zstdEnc
}

// ---------------------------------------------------------------------------
// Encoding

// EncodeRecords builds one magic-v2 batch holding records, compressed with
// codec, for tools that rewrite batches (the log cleaner). From h it keeps
// BaseOffset, PartitionLeaderEpoch, the attribute bits other than the codec
// (timestamp type, transactional, control), ProducerID, ProducerEpoch and
// BaseSequence. Offsets are stored as deltas from h.BaseOffset; the batch's
// LastOffsetDelta is the larger of the last record's delta and
// h.LastOffsetDelta, so a compacted batch keeps its original last offset
// (and the producer's last sequence) as Kafka's cleaner does. The first
// timestamp is the first record's; MaxTimestamp is the records' largest, or
// h.MaxTimestamp for a LogAppendTime batch (or an empty one). Records must
// have strictly increasing offsets, none below h.BaseOffset.
func EncodeRecords(h BatchHeader, codec int, records []Record) ([]byte, error) {
	if codec < CompressionNone || codec > CompressionZstd {
		return nil, fmt.Errorf("logstore: unknown compression codec %d", codec)
	}
	firstTs, maxTs := h.FirstTimestamp, h.MaxTimestamp
	if len(records) > 0 {
		firstTs = records[0].Timestamp
		if !h.LogAppendTime() {
			maxTs = math.MinInt64
			for _, r := range records {
				maxTs = max(maxTs, r.Timestamp)
			}
		}
	}
	lastDelta := h.LastOffsetDelta
	var body []byte
	prev := h.BaseOffset - 1
	for i, r := range records {
		delta := r.Offset - h.BaseOffset
		if r.Offset <= prev || delta > math.MaxInt32 {
			return nil, fmt.Errorf("logstore: record %d has offset %d after %d (base offset %d)", i, r.Offset, prev, h.BaseOffset)
		}
		prev = r.Offset
		lastDelta = max(lastDelta, int32(delta))
		body = appendRecord(body, r, firstTs, int32(delta))
	}
	if codec != CompressionNone {
		var err error
		if body, err = compress(codec, body); err != nil {
			return nil, fmt.Errorf("logstore: %s compression: %w", CompressionName(codec), err)
		}
	}
	if int64(len(body)) > math.MaxInt32-minBatchLength {
		return nil, fmt.Errorf("logstore: batch of %d bytes too large", len(body))
	}
	b := make([]byte, batchHeaderSize, batchHeaderSize+len(body))
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(h.BaseOffset))
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(minBatchLength+len(body)))
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(h.PartitionLeaderEpoch))
	b[offMagic] = 2
	attrs := h.Attributes&^attrCompressionMask | int16(codec)
	binary.BigEndian.PutUint16(b[offAttributes:], uint16(attrs))
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(lastDelta))
	binary.BigEndian.PutUint64(b[offFirstTimestamp:], uint64(firstTs))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(maxTs))
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(h.ProducerID))
	binary.BigEndian.PutUint16(b[offProducerEpoch:], uint16(h.ProducerEpoch))
	binary.BigEndian.PutUint32(b[offBaseSequence:], uint32(h.BaseSequence))
	binary.BigEndian.PutUint32(b[offRecordCount:], uint32(len(records)))
	b = append(b, body...)
	binary.BigEndian.PutUint32(b[offCRC:], batchCRC(b))
	return b, nil
}

func appendBytes(dst, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(v)))
	return append(dst, v...)
}

func appendRecord(dst []byte, r Record, firstTs int64, offDelta int32) []byte {
	var tmp [3 * binary.MaxVarintLen64]byte
	body := append(tmp[:0], byte(r.Attributes))
	body = binary.AppendVarint(body, r.Timestamp-firstTs)
	body = binary.AppendVarint(body, int64(offDelta))
	size := len(body) + varintLen(len(r.Key), r.Key == nil) + len(r.Key) +
		varintLen(len(r.Value), r.Value == nil) + len(r.Value) + varintLen(len(r.Headers), false)
	for _, hd := range r.Headers {
		size += varintLen(len(hd.Key), false) + len(hd.Key) + varintLen(len(hd.Value), hd.Value == nil) + len(hd.Value)
	}
	dst = binary.AppendVarint(dst, int64(size))
	dst = append(dst, body...)
	dst = appendBytes(dst, r.Key)
	dst = appendBytes(dst, r.Value)
	dst = binary.AppendVarint(dst, int64(len(r.Headers)))
	for _, hd := range r.Headers {
		dst = binary.AppendVarint(dst, int64(len(hd.Key)))
		dst = append(dst, hd.Key...)
		dst = appendBytes(dst, hd.Value)
	}
	return dst
}

// varintLen is the encoded size of a zig-zag varint length (-1 if null).
func varintLen(n int, null bool) int {
	v := int64(n)
	if null {
		v = -1
	}
	var tmp [binary.MaxVarintLen64]byte
	return binary.PutVarint(tmp[:], v)
}

func compress(codec int, in []byte) ([]byte, error) {
	var buf bytes.Buffer
	switch codec {
	case CompressionGzip:
		w := gzip.NewWriter(&buf)
		if _, err := w.Write(in); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	case CompressionSnappy:
		// xerial framing with 32 KiB blocks, as Kafka's Java producer writes.
		const block = 32 << 10
		buf.Write(xerialMagic)
		buf.Write([]byte{0, 0, 0, 1, 0, 0, 0, 1})
		for len(in) > 0 {
			n := min(block, len(in))
			enc := snappy.Encode(nil, in[:n])
			buf.Write(binary.BigEndian.AppendUint32(nil, uint32(len(enc))))
			buf.Write(enc)
			in = in[n:]
		}
	case CompressionLZ4:
		// 64 KiB independent blocks, as Kafka's KafkaLZ4BlockOutputStream.
		w := lz4.NewWriter(&buf)
		if err := w.Apply(lz4.BlockSizeOption(lz4.Block64Kb)); err != nil {
			return nil, err
		}
		if _, err := w.Write(in); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	case CompressionZstd:
		return zstdEncoder().EncodeAll(in, nil), nil
	}
	return buf.Bytes(), nil
}
