package logstore

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// TopicPartition names one partition; its directory is String().
type TopicPartition struct {
	Topic     string
	Partition int32
}

// String returns "topic-partition", the partition directory name.
func (tp TopicPartition) String() string {
	return tp.Topic + "-" + strconv.FormatInt(int64(tp.Partition), 10)
}

// ParseTopicPartition parses a partition directory name "<topic>-<partition>";
// the topic may contain '-', the partition follows the last '-'.
func ParseTopicPartition(dirName string) (TopicPartition, error) {
	i := strings.LastIndexByte(dirName, '-')
	if i <= 0 || i == len(dirName)-1 {
		return TopicPartition{}, fmt.Errorf("partition directory name %q: want <topic>-<partition>", dirName)
	}
	p, err := strconv.ParseInt(dirName[i+1:], 10, 32)
	if err != nil || p < 0 || dirName[i+1] == '+' {
		return TopicPartition{}, fmt.Errorf("partition directory name %q: bad partition number", dirName)
	}
	return TopicPartition{Topic: dirName[:i], Partition: int32(p)}, nil
}

// AppendInfo describes what one Append stored.
type AppendInfo struct {
	FirstOffset  int64 // base offset assigned to the first batch
	LastOffset   int64 // offset of the last record; LogEndOffset is LastOffset+1
	NumRecords   int   // records appended (sum of the batches' counts)
	MaxTimestamp int64 // largest batch maxTimestamp, -1 if none
	// Duplicate: an idempotent producer's batch was already in the log
	// (a retry): nothing was written, FirstOffset and LastOffset are the
	// stored batch's.
	Duplicate bool
}

// Region is a byte range of a segment file: whole record batches that can be
// sent with sendfile(2) or read with pread.
//
// A Region stays valid while its Log is open and its segment exists; reading
// it after Log.Close (or, later, after retention deleted the segment) fails
// with an error (os.ErrClosed), never a crash.
type Region struct {
	File *os.File
	Pos  int64
	Len  int64
}

// ReadResult is the answer to Log.Read: zero or more regions, in offset
// order, holding whole batches only.
type ReadResult struct {
	Regions []Region
	Size    int64 // sum of the regions' Len
}

// AppendTo appends the result's bytes to dst using pread (ReadAt), for
// callers that can not sendfile (TLS listeners, tests, tools).
func (r ReadResult) AppendTo(dst []byte) ([]byte, error) {
	for _, rg := range r.Regions {
		n := len(dst)
		dst = growLen(dst, int(rg.Len))
		if _, err := rg.File.ReadAt(dst[n:], rg.Pos); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return dst[:n], fmt.Errorf("read %s at %d+%d: %w", rg.File.Name(), rg.Pos, rg.Len, err)
		}
	}
	return dst, nil
}

// growLen extends b by n bytes (contents of the new bytes unspecified).
func growLen(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), len(b)+n+len(b)/4)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}
