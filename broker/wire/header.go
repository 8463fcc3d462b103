package wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrMalformed is returned for a frame or header that cannot be parsed.
var ErrMalformed = errors.New("malformed request")

// RequestHeader is a parsed Kafka request header.
type RequestHeader struct {
	Key           int16
	Version       int16
	CorrelationID int32
	ClientID      *string
}

// ClientIDString returns the client id, or "" when it is null.
func (h RequestHeader) ClientIDString() string {
	if h.ClientID == nil {
		return ""
	}
	return *h.ClientID
}

// ParseRequestHeader parses the header of a request frame (the bytes after the
// size prefix) and returns it with the request body. flexible reports whether
// the request at this key and version uses header v2; it is decided by the
// caller (normally with IsFlexible) because an unknown version of a known key
// still has to be parsed (KIP-511: ApiVersions newer than we speak).
//
// When only the fixed part (key, version, correlation id) could be read, the
// returned header carries it along with the error so the caller can still
// answer with the right correlation id.
func ParseRequestHeader(frame []byte, flexible func(key, version int16) bool) (RequestHeader, []byte, error) {
	var h RequestHeader
	if len(frame) < 8 {
		return h, nil, fmt.Errorf("%w: frame of %d bytes is shorter than a request header", ErrMalformed, len(frame))
	}
	h.Key = int16(binary.BigEndian.Uint16(frame[0:]))
	h.Version = int16(binary.BigEndian.Uint16(frame[2:]))
	h.CorrelationID = int32(binary.BigEndian.Uint32(frame[4:]))
	rest := frame[8:]
	if h.Key == 7 && h.Version == 0 { // ControlledShutdown v0 has no client id
		return h, rest, nil
	}
	if len(rest) < 2 {
		return h, nil, fmt.Errorf("%w: missing client id", ErrMalformed)
	}
	n := int16(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	switch {
	case n == -1:
	case n < -1 || int(n) > len(rest):
		return h, nil, fmt.Errorf("%w: client id length %d", ErrMalformed, n)
	default:
		s := string(rest[:n])
		h.ClientID = &s
		rest = rest[n:]
	}
	if flexible != nil && flexible(h.Key, h.Version) {
		var err error
		if rest, err = skipTags(rest); err != nil {
			return h, nil, err
		}
	}
	return h, rest, nil
}

// IsFlexible reports whether key at version uses the flexible (KIP-482)
// request header, using kmsg's knowledge of every key.
func IsFlexible(key, version int16) bool {
	req := kmsg.RequestForKey(key)
	if req == nil {
		return false
	}
	req.SetVersion(version)
	return req.IsFlexible()
}

// skipTags skips a tagged-field section.
func skipTags(b []byte) ([]byte, error) {
	n, b, err := uvarint(b)
	if err != nil {
		return nil, err
	}
	for ; n > 0; n-- {
		if _, b, err = uvarint(b); err != nil {
			return nil, err
		}
		var size uint64
		if size, b, err = uvarint(b); err != nil {
			return nil, err
		}
		if size > uint64(len(b)) {
			return nil, fmt.Errorf("%w: tag of %d bytes overruns the header", ErrMalformed, size)
		}
		b = b[size:]
	}
	return b, nil
}

func uvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 || v > 1<<31 {
		return 0, nil, fmt.Errorf("%w: bad varint in header", ErrMalformed)
	}
	return v, b[n:], nil
}

// AppendRequest appends a whole request frame (size, header, body) to dst.
func AppendRequest(dst []byte, req kmsg.Request, correlationID int32, clientID *string) []byte {
	f := kmsg.NewRequestFormatter()
	if clientID != nil {
		f = kmsg.NewRequestFormatter(kmsg.FormatterClientID(*clientID))
	}
	if len(dst) == 0 {
		return f.AppendRequest(dst, req, correlationID)
	}
	// kmsg writes the size at dst[0:4]: format on its own, then append.
	return append(dst, f.AppendRequest(nil, req, correlationID)...)
}

// AppendResponse appends a whole response frame (size, header, body) to dst.
// Flexible responses get response header v1 (a tag section) except
// ApiVersions, whose response header is always v0.
func AppendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	if resp.IsFlexible() && resp.Key() != 18 {
		dst = append(dst, 0)
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// ParseResponse decodes a response frame (after the size prefix) into resp,
// checking the correlation id.
func ParseResponse(frame []byte, correlationID int32, resp kmsg.Response) error {
	if len(frame) < 4 {
		return fmt.Errorf("%w: response of %d bytes", ErrMalformed, len(frame))
	}
	if got := int32(binary.BigEndian.Uint32(frame)); got != correlationID {
		return fmt.Errorf("%w: correlation id %d, expected %d", ErrMalformed, got, correlationID)
	}
	body := frame[4:]
	if resp.IsFlexible() && resp.Key() != 18 {
		var err error
		if body, err = skipTags(body); err != nil {
			return err
		}
	}
	return resp.ReadFrom(body)
}
