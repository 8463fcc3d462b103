package wire

import (
	"encoding/binary"
	"fmt"
	"io"
)

// ReadFrame reads one size-prefixed frame from r into buf (grown as needed)
// and returns the frame without its size prefix. Frames larger than max are
// refused before anything past the size is read.
func ReadFrame(r io.Reader, buf []byte, max int32) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 0 || n > max {
		return nil, fmt.Errorf("%w: frame size %d is outside [0, %d]", ErrMalformed, n, max)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}
