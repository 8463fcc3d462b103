package broker

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/logstore"
)

// fetchResponse is a Fetch answer whose record sets are still file regions.
// The embedded kmsg response carries every other field (its RecordBatches
// are ignored); records[t][p] are the regions of Topics[t].Partitions[p].
// The connection writer sends the fields it encodes here and then each
// region with sendfile, so record bytes never pass through user space.
type fetchResponse struct {
	*kmsg.FetchResponse
	records [][]logstore.ReadResult
}

// respPart is one piece of an answer on the wire: bytes, or a file region.
type respPart struct {
	buf    []byte
	region logstore.Region
}

// frame encodes the answer as the parts of one response frame (size prefix
// and header included) for the non-flexible versions this broker speaks
// (Fetch v4-11; v12 would be flexible). The layout is Kafka's
// FetchResponse schema; a test checks it byte for byte against kmsg's
// encoder.
func (r *fetchResponse) frame(correlationID int32) ([]respPart, error) {
	v := r.Version
	if v < 4 || v > 11 {
		return nil, fmt.Errorf("fetch response v%d: zero-copy encoding covers v4-11", v)
	}
	var parts []respPart
	buf := make([]byte, 4, 256) // size prefix, filled last
	var size int64
	emit := func() {
		size += int64(len(buf))
		parts = append(parts, respPart{buf: buf})
		buf = nil
	}
	be := binary.BigEndian
	buf = be.AppendUint32(buf, uint32(correlationID))
	buf = be.AppendUint32(buf, uint32(r.ThrottleMillis))
	if v >= 7 {
		buf = be.AppendUint16(buf, uint16(r.ErrorCode))
		buf = be.AppendUint32(buf, uint32(r.SessionID))
	}
	buf = be.AppendUint32(buf, uint32(len(r.Topics)))
	for ti, t := range r.Topics {
		buf = be.AppendUint16(buf, uint16(len(t.Topic)))
		buf = append(buf, t.Topic...)
		buf = be.AppendUint32(buf, uint32(len(t.Partitions)))
		for pi, p := range t.Partitions {
			buf = be.AppendUint32(buf, uint32(p.Partition))
			buf = be.AppendUint16(buf, uint16(p.ErrorCode))
			buf = be.AppendUint64(buf, uint64(p.HighWatermark))
			buf = be.AppendUint64(buf, uint64(p.LastStableOffset))
			if v >= 5 {
				buf = be.AppendUint64(buf, uint64(p.LogStartOffset))
			}
			if p.AbortedTransactions == nil {
				buf = be.AppendUint32(buf, ^uint32(0)) // null
			} else {
				buf = be.AppendUint32(buf, uint32(len(p.AbortedTransactions)))
				for _, a := range p.AbortedTransactions {
					buf = be.AppendUint64(buf, uint64(a.ProducerID))
					buf = be.AppendUint64(buf, uint64(a.FirstOffset))
				}
			}
			if v >= 11 {
				buf = be.AppendUint32(buf, uint32(p.PreferredReadReplica))
			}
			var rs logstore.ReadResult
			if ti < len(r.records) && pi < len(r.records[ti]) {
				rs = r.records[ti][pi]
			}
			if rs.Size > 1<<31-1 {
				return nil, fmt.Errorf("fetch response: %d record bytes for %s-%d", rs.Size, t.Topic, p.Partition)
			}
			buf = be.AppendUint32(buf, uint32(rs.Size))
			if rs.Size == 0 {
				continue
			}
			emit()
			for _, rg := range rs.Regions {
				parts = append(parts, respPart{region: rg})
				size += rg.Len
			}
			buf = make([]byte, 0, 256)
		}
	}
	if len(buf) > 0 {
		emit()
	}
	if size-4 > 1<<31-1 {
		return nil, fmt.Errorf("fetch response of %d bytes", size)
	}
	be.PutUint32(parts[0].buf, uint32(size-4))
	return parts, nil
}
