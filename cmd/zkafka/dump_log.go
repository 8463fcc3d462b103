package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/zkafka/zkafka/logstore"
)

func dumpLogCommand() *cli.Command {
	return &cli.Command{
		Name:  "dump-log",
		Usage: "print the batches and records of log segments and check their indexes (like kafka-dump-log.sh)",
		Description: "Prints each .log file's batches (and records with --deep-iteration or --print-data-log),\n" +
			"each .index/.timeindex file's entries, checked against the segment's .log, and each\n" +
			".snapshot file's producers (idempotent producer state).\n" +
			"Problems found are printed to stderr at the end, as kafka-dump-log.sh does, and the exit\n" +
			"status is then 1 (Kafka's tool exits 0).\n\n" +
			"Example: zkafka dump-log --files data/broker-1/t-0/00000000000000000000.log --print-data-log",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "files", Usage: "REQUIRED: the comma separated list of data and index log files to be dumped (`file1,file2,...`)"},
			&cli.BoolFlag{Name: "print-data-log", Usage: "print the messages' keys and payloads (implies --deep-iteration)"},
			&cli.BoolFlag{Name: "verify-index-only", Usage: "just verify the index against the log without printing its content"},
			&cli.BoolFlag{Name: "index-sanity-check", Usage: "just check the index sanity without printing its content (the check a broker runs on startup)"},
			&cli.BoolFlag{Name: "deep-iteration", Usage: "print every record, not only the batches"},
			&cli.IntFlag{Name: "max-message-size", Value: 5 * 1024 * 1024, Usage: "size of the largest message"},
		},
		Action: runDumpLog,
	}
}

func runDumpLog(c *cli.Context) error {
	if c.Args().Present() {
		return usageErrorf(c, "unexpected argument %q: name the files with --files A.log,B.index", c.Args().First())
	}
	if c.String("files") == "" {
		return usageErrorf(c, `Missing required argument "[files]": name the segment files to dump, e.g. --files 00000000000000000000.log`)
	}
	d := &dumper{
		out:            bufio.NewWriter(c.App.Writer),
		errOut:         c.App.ErrWriter,
		printData:      c.Bool("print-data-log"),
		verifyOnly:     c.Bool("verify-index-only"),
		sanityOnly:     c.Bool("index-sanity-check"),
		maxMessageSize: c.Int("max-message-size"),
	}
	d.deep = c.Bool("deep-iteration") || d.printData
	for _, f := range strings.Split(c.String("files"), ",") {
		if f = strings.TrimSpace(f); f != "" {
			d.dumpFile(f)
		}
	}
	d.out.Flush()
	if d.report() {
		return cli.Exit("", exitFailed)
	}
	return nil
}

// offsetPair is one reported pair of offsets (or timestamps).
type offsetPair [2]int64

// dumper prints files and collects the problems DumpLogSegments reports at
// the end, per file in the order met.
type dumper struct {
	out    *bufio.Writer
	errOut io.Writer

	printData, deep, verifyOnly, sanityOnly bool
	maxMessageSize                          int

	indexMismatches keyedPairs // Kafka prepends: printed newest first
	nonConsecutive  keyedPairs // idem
	timeMismatches  keyedPairs
	timeOutOfOrder  keyedPairs
	timeNotFound    keyedPairs
	failed          bool // a file could not be read or was corrupt
}

// keyedPairs keeps pairs per file name, files in first-seen order.
type keyedPairs struct {
	files []string
	pairs map[string][]offsetPair
}

func (k *keyedPairs) add(file string, p offsetPair) {
	if k.pairs == nil {
		k.pairs = map[string][]offsetPair{}
	}
	if _, ok := k.pairs[file]; !ok {
		k.files = append(k.files, file)
	}
	k.pairs[file] = append(k.pairs[file], p)
}

func (k *keyedPairs) each(newestFirst bool, f func(file string, p []offsetPair)) {
	for _, file := range k.files {
		ps := append([]offsetPair(nil), k.pairs[file]...)
		if newestFirst {
			for i, j := 0, len(ps)-1; i < j; i, j = i+1, j-1 {
				ps[i], ps[j] = ps[j], ps[i]
			}
		}
		f(file, ps)
	}
}

// fail reports a problem that stops the dump of one file.
func (d *dumper) fail(format string, args ...any) {
	d.out.Flush()
	fmt.Fprintf(d.errOut, format+"\n", args...)
	d.failed = true
}

func (d *dumper) dumpFile(path string) {
	fmt.Fprintf(d.out, "Dumping %s\n", path)
	name := filepath.Base(path)
	dot := strings.LastIndexByte(name, '.')
	suffix := ""
	if dot >= 0 {
		suffix = name[dot:]
	}
	switch suffix {
	case ".log", ".index", ".timeindex":
	case ".snapshot":
		d.dumpProducerSnapshot(path)
		return
	case ".txnindex":
		d.fail("%s: zkafka writes no transaction indexes, so it cannot dump them", path)
		return
	default:
		d.out.Flush()
		fmt.Fprintf(d.errOut, "Ignoring unknown file %s\n", path)
		return
	}
	base, err := strconv.ParseInt(strings.SplitN(name, ".", 2)[0], 10, 64)
	if err != nil {
		d.fail("%s: a segment file name starts with the segment's base offset (such as 00000000000000000000%s)", path, suffix)
		return
	}
	abs, _ := filepath.Abs(path)
	switch suffix {
	case ".log":
		d.dumpLog(path, abs, base)
	case ".index":
		d.dumpIndex(path, abs, base)
	case ".timeindex":
		d.dumpTimeIndex(path, abs, base)
	}
}

// segmentFile reads the batches of a .log file.
type segmentFile struct {
	f    *os.File
	size int64
}

func openSegment(path string) (*segmentFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &segmentFile{f: f, size: st.Size()}, nil
}

func (s *segmentFile) Close() { s.f.Close() }

// errEnd: no whole batch at this position (end of file or a torn tail), as
// Kafka's FileLogInputStream ends its iteration.
var errEnd = errors.New("end of batches")

// header reads the batch header at pos; maxSize caps the batch size like
// Kafka's slice(position, maxMessageSize).
func (s *segmentFile) header(pos int64) (logstore.BatchHeader, error) {
	const headerUpToMagic = 17
	if pos+headerUpToMagic >= s.size {
		return logstore.BatchHeader{}, errEnd
	}
	var hb [61]byte
	n, err := s.f.ReadAt(hb[:], pos)
	if err != nil && !errors.Is(err, io.EOF) {
		return logstore.BatchHeader{}, err
	}
	size := int64(int32(binary.BigEndian.Uint32(hb[8:]))) + 12
	if size < 61 {
		return logstore.BatchHeader{}, fmt.Errorf("Found record size %d smaller than minimum record overhead (61) in file %s.", size, s.f.Name())
	}
	if pos+size > s.size {
		return logstore.BatchHeader{}, errEnd
	}
	if n < len(hb) {
		return logstore.BatchHeader{}, errEnd
	}
	h, err := logstore.ParseBatchHeader(hb[:])
	if err != nil {
		return h, err
	}
	if h.Magic != 2 {
		return h, fmt.Errorf("batch at position %d of %s has magic %d: zkafka stores message format v2 only", pos, s.f.Name(), h.Magic)
	}
	return h, nil
}

// batch reads the whole batch at pos.
func (s *segmentFile) batch(pos int64, h logstore.BatchHeader) ([]byte, error) {
	b := make([]byte, h.Size())
	if _, err := s.f.ReadAt(b, pos); err != nil {
		return nil, err
	}
	return b, nil
}

func (d *dumper) dumpLog(path, abs string, base int64) {
	fmt.Fprintf(d.out, "Starting offset: %d\n", base)
	seg, err := openSegment(path)
	if err != nil {
		d.fail("cannot read %s: %v", path, err)
		return
	}
	defer seg.Close()
	var pos int64
	lastOffset := int64(-1)
	for {
		h, err := seg.header(pos)
		if errors.Is(err, errEnd) {
			break
		}
		if err != nil {
			d.fail("%v", err)
			return
		}
		batch, err := seg.batch(pos, h)
		if err != nil {
			d.fail("cannot read %s: %v", path, err)
			return
		}
		valid := logstore.BatchCRCValid(batch)
		d.printBatch(h, pos, valid)
		if !valid {
			d.failed = true
		}
		if d.deep {
			_, recs, err := logstore.DecodeRecords(batch)
			if err != nil {
				d.fail("Corrupt batch at position %d of %s: %v", pos, path, err)
				return
			}
			for _, r := range recs {
				if lastOffset != -1 && r.Offset != lastOffset+1 {
					d.nonConsecutive.add(abs, offsetPair{lastOffset, r.Offset})
				}
				lastOffset = r.Offset
				if err := d.printRecord(h, r); err != nil {
					d.fail("Corrupt control record at offset %d of %s: %v", r.Offset, path, err)
					return
				}
			}
		}
		pos += h.Size()
	}
	if trailing := seg.size - pos; trailing > 0 {
		fmt.Fprintf(d.out, "Found %d invalid bytes at the end of %s\n", trailing, filepath.Base(path))
		d.failed = true
	}
}

func timestampType(h logstore.BatchHeader) string {
	if h.LogAppendTime() {
		return "LogAppendTime"
	}
	return "CreateTime"
}

// incrementSequence is Kafka's DefaultRecordBatch.incrementSequence: the
// sequence wraps past MaxInt32 to 0.
func incrementSequence(seq, inc int32) int32 {
	if seq > math.MaxInt32-inc {
		return inc - (math.MaxInt32 - seq) - 1
	}
	return seq + inc
}

func sequenceAt(baseSequence, delta int32) int32 {
	if baseSequence < 0 {
		return -1
	}
	return incrementSequence(baseSequence, delta)
}

func (d *dumper) printBatch(h logstore.BatchHeader, pos int64, valid bool) {
	fmt.Fprintf(d.out, "baseOffset: %d lastOffset: %d count: %d baseSequence: %d lastSequence: %d producerId: %d producerEpoch: %d partitionLeaderEpoch: %d isTransactional: %t isControl: %t",
		h.BaseOffset, h.LastOffset(), h.NumRecords, h.BaseSequence, sequenceAt(h.BaseSequence, h.LastOffsetDelta),
		h.ProducerID, h.ProducerEpoch, h.PartitionLeaderEpoch, h.IsTransactional(), h.IsControl())
	fmt.Fprintf(d.out, " position: %d %s: %d size: %d magic: %d compresscodec: %s crc: %d isvalid: %t\n",
		pos, timestampType(h), h.MaxTimestamp, h.Size(), h.Magic, logstore.CompressionName(h.Compression()), h.CRC, valid)
}

func size(b []byte) int {
	if b == nil {
		return -1
	}
	return len(b)
}

func (d *dumper) printRecord(h logstore.BatchHeader, r logstore.Record) error {
	fmt.Fprintf(d.out, "| offset: %d %s: %d keysize: %d valuesize: %d sequence: %d headerKeys: [",
		r.Offset, timestampType(h), r.Timestamp, size(r.Key), size(r.Value), sequenceAt(h.BaseSequence, int32(r.Offset-h.BaseOffset)))
	for i, hd := range r.Headers {
		if i > 0 {
			d.out.WriteByte(',')
		}
		d.out.WriteString(hd.Key)
	}
	d.out.WriteByte(']')
	switch {
	case h.IsControl():
		if len(r.Key) < 4 {
			d.out.WriteByte('\n')
			return fmt.Errorf("control record key of %d bytes, at least 4 expected", size(r.Key))
		}
		typ := int16(binary.BigEndian.Uint16(r.Key[2:]))
		switch typ {
		case 0, 1:
			if len(r.Value) < 6 {
				d.out.WriteByte('\n')
				return fmt.Errorf("end transaction marker value of %d bytes, at least 6 expected", size(r.Value))
			}
			name := map[int16]string{0: "ABORT", 1: "COMMIT"}[typ]
			fmt.Fprintf(d.out, " endTxnMarker: %s coordinatorEpoch: %d", name, int32(binary.BigEndian.Uint32(r.Value[2:])))
		default:
			fmt.Fprintf(d.out, " controlType: UNKNOWN(%d)", typ)
		}
	case d.printData && r.Value != nil: // Kafka 2.4 prints neither key nor payload of a tombstone
		if r.Key != nil {
			fmt.Fprintf(d.out, " key: %s", strings.ToValidUTF8(string(r.Key), "\uFFFD"))
		}
		fmt.Fprintf(d.out, " payload: %s", strings.ToValidUTF8(string(r.Value), "\uFFFD"))
	}
	d.out.WriteByte('\n')
	return nil
}

// indexEntry is one .index entry (absolute offset) or .timeindex entry.
type indexEntry struct {
	offset, position, timestamp int64
}

// readIndex reads every entry of an index file (entrySize 8 for .index, 12
// for .timeindex) and its length.
func readIndex(path string, base int64, entrySize int) ([]indexEntry, int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	n := len(b) / entrySize
	out := make([]indexEntry, n)
	for i := range out {
		e := b[i*entrySize:]
		if entrySize == 8 {
			out[i] = indexEntry{offset: base + int64(int32(binary.BigEndian.Uint32(e))), position: int64(int32(binary.BigEndian.Uint32(e[4:])))}
		} else {
			out[i] = indexEntry{timestamp: int64(binary.BigEndian.Uint64(e)), offset: base + int64(int32(binary.BigEndian.Uint32(e[8:])))}
		}
	}
	return out, int64(len(b)), nil
}

func logPathFor(path string) string {
	name := filepath.Base(path)
	return filepath.Join(filepath.Dir(path), strings.SplitN(name, ".", 2)[0]+".log")
}

func (d *dumper) dumpIndex(path, abs string, base int64) {
	seg, err := openSegment(logPathFor(path))
	if err != nil {
		d.fail("cannot read the log of %s: %v", path, err)
		return
	}
	defer seg.Close()
	entries, length, err := readIndex(path, base, 8)
	if err != nil {
		d.fail("cannot read %s: %v", path, err)
		return
	}
	if d.sanityOnly {
		switch {
		case len(entries) > 0 && entries[len(entries)-1].offset < base:
			d.fail("Corrupt index found, index file (%s) has non-zero size but the last offset is %d which is less than the base offset %d.", abs, entries[len(entries)-1].offset, base)
		case length%8 != 0:
			d.fail("Index file %s is corrupt, found %d bytes which is neither positive nor a multiple of 8.", abs, length)
		default:
			fmt.Fprintf(d.out, "%s passed sanity check.\n", path)
		}
		return
	}
	for i, e := range entries {
		// a preallocated index ends in zero entries: stop at the first
		if e.offset == base && i > 0 {
			return
		}
		last := int64(-1) // no batch there
		if e.position >= 0 {
			if h, err := seg.header(e.position); err == nil && h.Size() <= int64(d.maxMessageSize) {
				last = h.LastOffset()
			}
		}
		if last != e.offset {
			d.indexMismatches.add(abs, offsetPair{e.offset, last})
		}
		if !d.verifyOnly {
			fmt.Fprintf(d.out, "offset: %d position: %d\n", e.offset, e.position)
		}
	}
}

func (d *dumper) dumpTimeIndex(path, abs string, base int64) {
	seg, err := openSegment(logPathFor(path))
	if err != nil {
		d.fail("cannot read the log of %s: %v", path, err)
		return
	}
	defer seg.Close()
	stem := strings.TrimSuffix(logPathFor(path), ".log")
	offsets, _, err := readIndex(stem+".index", base, 8)
	if err != nil {
		d.fail("cannot read the offset index of %s: %v", path, err)
		return
	}
	entries, length, err := readIndex(path, base, 12)
	if err != nil {
		d.fail("cannot read %s: %v", path, err)
		return
	}
	if d.sanityOnly {
		var last indexEntry
		if len(entries) > 0 {
			last = entries[len(entries)-1]
		}
		switch {
		case len(entries) > 0 && last.timestamp < entries[0].timestamp:
			d.fail("Corrupt time index found, time index file (%s) has non-zero size but the last timestamp is %d which is less than the first timestamp %d", abs, last.timestamp, entries[0].timestamp)
		case len(entries) > 0 && last.offset < base:
			d.fail("Corrupt time index found, time index file (%s) has non-zero size but the last offset is %d which is less than the first offset %d", abs, last.offset, base)
		case length%12 != 0:
			d.fail("Time index file %s is corrupt, found %d bytes which is neither positive nor a multiple of 12.", abs, length)
		default:
			fmt.Fprintf(d.out, "%s passed sanity check.\n", path)
		}
		return
	}
	prevTs := int64(-1) // RecordBatch.NO_TIMESTAMP
	for i, e := range entries {
		if e.offset == base && i > 0 {
			return
		}
		pos := lookupPosition(offsets, base, e.offset)
		h, batch, found := seg.findBatch(pos, e.offset)
		switch {
		case !found:
			d.timeNotFound.add(abs, offsetPair{e.offset, -1})
		case h.LastOffset() != e.offset:
			d.timeNotFound.add(abs, offsetPair{e.offset, h.LastOffset()})
		default:
			_, recs, err := logstore.DecodeRecords(batch)
			if err != nil {
				d.fail("Corrupt batch at offset %d of %s: %v", h.BaseOffset, logPathFor(path), err)
				return
			}
			maxTs := int64(-1)
			for _, r := range recs {
				maxTs = max(maxTs, r.Timestamp)
			}
			if maxTs != e.timestamp {
				d.timeMismatches.add(abs, offsetPair{e.timestamp, maxTs})
			}
			if prevTs >= e.timestamp {
				d.timeOutOfOrder.add(abs, offsetPair{e.timestamp, prevTs})
			}
		}
		if !d.verifyOnly {
			fmt.Fprintf(d.out, "timestamp: %d offset: %d\n", e.timestamp, e.offset)
		}
		prevTs = e.timestamp
	}
}

// lookupPosition is OffsetIndex.lookup: the position of the largest indexed
// offset <= target (over the entries before the zero tail), else 0.
func lookupPosition(entries []indexEntry, base, target int64) int64 {
	pos := int64(0)
	for i, e := range entries {
		if e.offset == base && i > 0 {
			break
		}
		if e.offset > target {
			break
		}
		pos = e.position
	}
	return pos
}

// findBatch returns the first batch from pos whose last offset is >= target.
func (s *segmentFile) findBatch(pos, target int64) (logstore.BatchHeader, []byte, bool) {
	for pos >= 0 {
		h, err := s.header(pos)
		if err != nil {
			return h, nil, false
		}
		if h.LastOffset() >= target {
			b, err := s.batch(pos, h)
			return h, b, err == nil
		}
		pos += h.Size()
	}
	return logstore.BatchHeader{}, nil, false
}

// report prints the collected problems to stderr in Kafka's words and
// reports whether any of them is a failure.
func (d *dumper) report() bool {
	w := d.errOut
	problems := d.failed
	d.indexMismatches.each(true, func(file string, ps []offsetPair) {
		problems = true
		fmt.Fprintf(w, "Mismatches in :%s\n", file)
		for _, p := range ps {
			fmt.Fprintf(w, "  Index offset: %d, log offset: %d\n", p[0], p[1])
		}
	})
	d.timeMismatches.each(false, func(file string, ps []offsetPair) {
		problems = true
		fmt.Fprintf(w, "Found timestamp mismatch in :%s\n", file)
		for _, p := range ps {
			fmt.Fprintf(w, "  Index timestamp: %d, log timestamp: %d\n", p[0], p[1])
		}
	})
	d.timeOutOfOrder.each(false, func(file string, ps []offsetPair) {
		problems = true
		fmt.Fprintf(w, "Found out of order timestamp in :%s\n", file)
		for _, p := range ps {
			fmt.Fprintf(w, "  Index timestamp: %d, Previously indexed timestamp: %d\n", p[0], p[1])
		}
	})
	d.timeNotFound.each(false, func(_ string, ps []offsetPair) {
		problems = true
		fmt.Fprintln(w, "The following indexed offsets are not found in the log.")
		for _, p := range ps {
			fmt.Fprintf(w, "Indexed offset: %d, found log offset: %d\n", p[0], p[1])
		}
	})
	// gaps are normal after compaction: reported, not a failure
	d.nonConsecutive.each(true, func(file string, ps []offsetPair) {
		fmt.Fprintf(w, "Non-consecutive offsets in %s\n", file)
		for _, p := range ps {
			fmt.Fprintf(w, "  %d is followed by %d\n", p[0], p[1])
		}
	})
	return problems
}

// dumpProducerSnapshot prints a producer state .snapshot file as Kafka's
// DumpLogSegments.dumpProducerIdSnapshot: one line per producer, with its
// last batch when it has one.
func (d *dumper) dumpProducerSnapshot(path string) {
	entries, err := logstore.ReadProducerSnapshot(path)
	if err != nil {
		if errors.Is(err, logstore.ErrCorruptSnapshot) {
			d.fail("%v", err)
		} else {
			d.fail("cannot read %s: %v", path, err)
		}
		return
	}
	for _, e := range entries {
		txn := "None"
		if e.CurrentTxnFirstOffset >= 0 {
			txn = fmt.Sprintf("Some(%d)", e.CurrentTxnFirstOffset)
		}
		fmt.Fprintf(d.out, "producerId: %d producerEpoch: %d coordinatorEpoch: %d currentTxnFirstOffset: %s ",
			e.ProducerID, e.Epoch, e.CoordinatorEpoch, txn)
		if e.LastOffset >= 0 {
			fmt.Fprintf(d.out, "firstSequence: %d lastSequence: %d lastOffset: %d offsetDelta: %d timestamp: %d",
				e.FirstSequence(), e.LastSequence, e.LastOffset, e.OffsetDelta, e.Timestamp)
		}
		fmt.Fprintln(d.out)
	}
}
