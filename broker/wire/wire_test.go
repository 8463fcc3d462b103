package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestRequestHeaderRoundTrip(t *testing.T) {
	id := "client-1"
	for _, tc := range []struct {
		req      kmsg.Request
		version  int16
		clientID *string
	}{
		{kmsg.NewPtrMetadataRequest(), 1, &id},    // header v1
		{kmsg.NewPtrMetadataRequest(), 9, &id},    // header v2 (flexible)
		{kmsg.NewPtrApiVersionsRequest(), 3, nil}, // flexible, null client id
	} {
		tc.req.SetVersion(tc.version)
		frame := AppendRequest(nil, tc.req, 42, tc.clientID)
		hdr, body, err := ParseRequestHeader(frame[4:], IsFlexible)
		if err != nil {
			t.Fatalf("key %d v%d: %v", tc.req.Key(), tc.version, err)
		}
		if hdr.Key != tc.req.Key() || hdr.Version != tc.version || hdr.CorrelationID != 42 {
			t.Fatalf("key %d v%d: header %+v", tc.req.Key(), tc.version, hdr)
		}
		wantID := tc.clientID
		if (hdr.ClientID == nil) != (wantID == nil) || (wantID != nil && *hdr.ClientID != *wantID) {
			t.Fatalf("key %d v%d: client id %v", tc.req.Key(), tc.version, hdr.ClientID)
		}
		decoded := kmsg.RequestForKey(hdr.Key)
		decoded.SetVersion(hdr.Version)
		if err := decoded.ReadFrom(body); err != nil {
			t.Fatalf("key %d v%d: body: %v", tc.req.Key(), tc.version, err)
		}
	}
}

// ControlledShutdown v0 has a header without client id (built by hand:
// kmsg's formatter does not encode that version).
func TestControlledShutdownV0Header(t *testing.T) {
	frame := []byte{0, 7, 0, 0, 0, 0, 0, 9, 0, 0, 0, 3}
	hdr, body, err := ParseRequestHeader(frame, IsFlexible)
	if err != nil || hdr.Key != 7 || hdr.CorrelationID != 9 || hdr.ClientID != nil || len(body) != 4 {
		t.Fatalf("header %+v body % x err %v", hdr, body, err)
	}
}

func TestMalformedHeaders(t *testing.T) {
	for name, frame := range map[string][]byte{
		"empty":              {},
		"short":              {0, 3, 0},
		"no client id":       {0, 3, 0, 1, 0, 0, 0, 1},
		"client id too long": {0, 3, 0, 1, 0, 0, 0, 1, 0, 9, 'a'},
		"bad tags":           {0, 3, 0, 9, 0, 0, 0, 1, 0xff, 0xff, 0x01, 0x00, 0x05, 'x'},
	} {
		if _, _, err := ParseRequestHeader(frame, IsFlexible); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s: err %v, want ErrMalformed", name, err)
		}
	}
}

func TestResponseHeaderVersions(t *testing.T) {
	// Flexible responses carry a tag byte after the correlation id, except
	// ApiVersions, which always answers with response header v0.
	md := kmsg.NewPtrMetadataResponse()
	md.SetVersion(9)
	frame := AppendResponse(nil, 5, md)
	if !bytes.Equal(frame[4:9], []byte{0, 0, 0, 5, 0}) {
		t.Fatalf("metadata v9 header: % x", frame[4:9])
	}
	back := kmsg.NewPtrMetadataResponse()
	back.SetVersion(9)
	if err := ParseResponse(frame[4:], 5, back); err != nil {
		t.Fatal(err)
	}
	av := kmsg.NewPtrApiVersionsResponse()
	av.SetVersion(3)
	frame = AppendResponse(nil, 6, av)
	back2 := kmsg.NewPtrApiVersionsResponse()
	back2.SetVersion(3)
	if err := ParseResponse(frame[4:], 6, back2); err != nil {
		t.Fatalf("ApiVersions v3 (header v0): %v", err)
	}
	if err := ParseResponse(frame[4:], 7, back2); !errors.Is(err, ErrMalformed) {
		t.Fatalf("wrong correlation id accepted: %v", err)
	}
}

func TestAppendRequestAppends(t *testing.T) {
	a, b := kmsg.NewPtrMetadataRequest(), kmsg.NewPtrApiVersionsRequest()
	a.SetVersion(1)
	b.SetVersion(0)
	one := AppendRequest(nil, a, 1, nil)
	both := AppendRequest(append([]byte(nil), one...), b, 2, nil)
	r := bytes.NewReader(both)
	for corr := int32(1); corr <= 2; corr++ {
		frame, err := ReadFrame(r, nil, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if hdr, _, err := ParseRequestHeader(frame, IsFlexible); err != nil || hdr.CorrelationID != corr {
			t.Fatalf("frame %d: %+v %v", corr, hdr, err)
		}
	}
}

func TestReadFrameLimits(t *testing.T) {
	big := make([]byte, 3<<20+5)
	big[0], big[len(big)-1] = 1, 2
	framed := append([]byte{0, 0x30, 0, 5}, big...)
	got, err := ReadFrame(bytes.NewReader(framed), nil, 4<<20)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("large frame: %d bytes, %v", len(got), err)
	}
	if _, err := ReadFrame(bytes.NewReader(framed[:1<<20]), nil, 4<<20); err != io.ErrUnexpectedEOF {
		t.Fatalf("truncated large frame: %v", err)
	}
	if _, err := ReadFrame(bytes.NewReader([]byte{0, 0, 1, 0}), nil, 100); !errors.Is(err, ErrMalformed) {
		t.Fatalf("oversized frame: %v", err)
	}
	if _, err := ReadFrame(bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff}), nil, 100); !errors.Is(err, ErrMalformed) {
		t.Fatalf("negative frame: %v", err)
	}
	got, err = ReadFrame(bytes.NewReader([]byte{0, 0, 0, 2, 7, 8}), nil, 100)
	if err != nil || !bytes.Equal(got, []byte{7, 8}) {
		t.Fatalf("frame %v %v", got, err)
	}
}
