package wire

import (
	"encoding/binary"
	"fmt"
	"io"
)

// ReadFrame reads one size-prefixed frame from r into buf (grown as needed)
// and returns the frame without its size prefix. Frames larger than max are
// refused before anything past the size is read, and memory for a large
// frame grows with the bytes that actually arrive, so a peer that only
// announces a large size pins little.
func ReadFrame(r io.Reader, buf []byte, maxSize int32) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 0 || n > maxSize {
		return nil, fmt.Errorf("%w: frame size %d is outside [0, %d]", ErrMalformed, n, maxSize)
	}
	const chunk = 1 << 20
	buf = buf[:0]
	for len(buf) < int(n) {
		want := min(int(n), max(2*len(buf), chunk))
		if cap(buf) < want {
			grown := make([]byte, len(buf), want)
			copy(grown, buf)
			buf = grown
		}
		got, err := io.ReadFull(r, buf[len(buf):want])
		buf = buf[:len(buf)+got]
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return buf, nil
}
