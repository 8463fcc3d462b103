package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
)

// FuzzRequestDecode feeds arbitrary frames to the request decoding the
// connection reader does (header, then kmsg body for every advertised key
// and version): it must return errors, never panic or allocate without bound.
func FuzzRequestDecode(f *testing.F) {
	for _, key := range []int16{0, 1, 2, 3, 4, 5, 6, 18, 19, 20, 32, 33, 44} {
		req := kmsg.RequestForKey(key)
		req.SetVersion(req.MaxVersion())
		f.Add(wire.AppendRequest(nil, req, 1, nil)[4:])
	}
	f.Add([]byte{0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff})
	b := &Broker{}
	b.registerAPIs()
	f.Fuzz(func(t *testing.T, frame []byte) {
		hdr, body, err := wire.ParseRequestHeader(frame, b.flexibleHeader)
		if err != nil {
			return
		}
		a, ok := b.apis[hdr.Key]
		if !ok || hdr.Version < a.min || hdr.Version > a.max {
			return
		}
		req := kmsg.RequestForKey(hdr.Key)
		req.SetVersion(hdr.Version)
		_ = req.ReadFrom(body)
	})
}
