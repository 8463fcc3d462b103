package logstore

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestValidateRecordSet(t *testing.T) {
	good := makeBatch(t, batchSpec{n: 3, valueSize: 10, ts: 1000})
	mut := func(f func(b []byte) []byte) []byte {
		b := append([]byte(nil), good...)
		return f(b)
	}
	recrc := func(b []byte) []byte {
		binary.BigEndian.PutUint32(b[offCRC:], batchCRC(b))
		return b
	}
	tests := []struct {
		name string
		in   []byte
		max  int32
		want error
	}{
		{"good", good, 1 << 20, nil},
		{"two batches", append(append([]byte(nil), good...), good...), 1 << 20, nil},
		{"gzip", makeBatch(t, batchSpec{n: 5, valueSize: 100, gzip: true}), 1 << 20, nil},
		{"empty set", nil, 1 << 20, ErrCorruptMessage},
		{"bad crc", mut(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), 1 << 20, ErrCorruptMessage},
		{"bad crc field", mut(func(b []byte) []byte { b[offCRC] ^= 1; return b }), 1 << 20, ErrCorruptMessage},
		{"magic 1", mut(func(b []byte) []byte { b[offMagic] = 1; return b }), 1 << 20, ErrUnsupportedMagic},
		{"magic 0", mut(func(b []byte) []byte { b[offMagic] = 0; return b }), 1 << 20, ErrUnsupportedMagic},
		{"magic 3", mut(func(b []byte) []byte { b[offMagic] = 3; return b }), 1 << 20, ErrCorruptMessage},
		{"truncated", good[:len(good)-1], 1 << 20, ErrCorruptMessage},
		{"truncated header", good[:40], 1 << 20, ErrCorruptMessage},
		{"trailing garbage", append(append([]byte(nil), good...), 1, 2, 3), 1 << 20, ErrCorruptMessage},
		{"length too small", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[offBatchLength:], 48); return b }), 1 << 20, ErrCorruptMessage},
		{"length negative", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[offBatchLength:], 0xffffffff); return b }), 1 << 20, ErrCorruptMessage},
		{"too large", good, int32(len(good) - 1), ErrMessageTooLarge},
		{"count mismatch", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[offRecordCount:], 2); return recrc(b) }), 1 << 20, ErrInvalidRecord},
		{"delta mismatch", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[offLastOffsetDelta:], 5); return recrc(b) }), 1 << 20, ErrInvalidRecord},
		{"negative count", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[offRecordCount:], 0xffffffff); return recrc(b) }), 1 << 20, ErrCorruptMessage},
		{"empty batch", mut(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[offRecordCount:], 0)
			binary.BigEndian.PutUint32(b[offLastOffsetDelta:], 0)
			return recrc(b)
		}), 1 << 20, ErrInvalidRecord},
		{"control batch", mut(func(b []byte) []byte { b[offAttributes+1] |= attrControl; return recrc(b) }), 1 << 20, ErrInvalidRecord},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateRecordSet(tt.in, tt.max)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// A rejected record set stores nothing, even if only its last batch is bad.
func TestAppendAllOrNothing(t *testing.T) {
	l := openTestLog(t, t.TempDir(), Config{})
	defer l.Close()
	good := makeBatch(t, batchSpec{n: 2, valueSize: 5})
	bad := append([]byte(nil), good...)
	bad[len(bad)-1] ^= 0xff
	set := append(append([]byte(nil), good...), bad...)
	if _, err := l.Append(set, 0); !errors.Is(err, ErrCorruptMessage) {
		t.Fatalf("append: %v", err)
	}
	if l.LogEndOffset() != 0 || l.Size() != 0 {
		t.Fatalf("LEO %d size %d after rejected append", l.LogEndOffset(), l.Size())
	}
	big := makeBatch(t, batchSpec{n: 1, valueSize: 2000})
	l.SetConfig(Config{MaxMessageBytes: 1000})
	if _, err := l.Append(big, 0); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("append big: %v", err)
	}
}
