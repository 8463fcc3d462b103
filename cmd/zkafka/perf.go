package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/urfave/cli/v2"
)

// zkafka perf produce|consume: Kafka's kafka-producer-perf-test.sh and
// kafka-consumer-perf-test.sh, with their flags and their output lines, so
// numbers can be compared with a Kafka cluster's. The client is franz-go
// (kgo): a load generator must not be what limits the broker, and
// kafka-go's Writer, used by the console tools, tops out well below what one
// zkafka broker takes.

func perfCommand() *cli.Command {
	return &cli.Command{
		Name:   "perf",
		Usage:  "measure a cluster: produce or consume as fast as possible (like kafka-*-perf-test.sh)",
		Action: unknownSubcommand,
		Subcommands: []*cli.Command{
			{
				Name:  "produce",
				Usage: "produce --num-records records of --record-size bytes and print throughput and latency (kafka-producer-perf-test.sh)",
				Description: "Example: zkafka perf produce --bootstrap-server localhost:9092 --topic perf \\\n" +
					"           --num-records 1000000 --record-size 100 --throughput -1 --producer-props acks=all linger.ms=5",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "bootstrap-server", Aliases: []string{"broker-list"}, Usage: "`HOST:PORT` of a broker (comma-separated for several; or bootstrap.servers in --producer-props)"},
					&cli.StringFlag{Name: "topic", Usage: "`TOPIC` to produce to (it must exist)"},
					&cli.Int64Flag{Name: "num-records", Usage: "`N` records to produce"},
					&cli.IntFlag{Name: "record-size", Usage: "`BYTES` per record value (random letters, as Kafka's tool)"},
					&cli.Float64Flag{Name: "throughput", Value: -1, Usage: "at most `RECORDS` per second; -1 for no limit"},
					&cli.StringSliceFlag{Name: "producer-props", Usage: "`name=value` producer settings: acks, linger.ms, batch.size, compression.type, enable.idempotence, client.id, bootstrap.servers (repeatable, or several after one flag)"},
				},
				Action: runPerfProduce,
			},
			{
				Name:        "consume",
				Usage:       "consume --messages records and print throughput (kafka-consumer-perf-test.sh)",
				Description: "Example: zkafka perf consume --bootstrap-server localhost:9092 --topic perf --messages 1000000",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "bootstrap-server", Aliases: []string{"broker-list"}, Usage: "`HOST:PORT` of a broker (comma-separated for several)"},
					&cli.StringFlag{Name: "topic", Usage: "`TOPIC` to consume"},
					&cli.Int64Flag{Name: "messages", Usage: "`N` records to consume"},
					&cli.StringFlag{Name: "group", Usage: "consumer `GROUP` (default: no group, read every partition from the start)"},
					&cli.Int64Flag{Name: "timeout", Value: 10000, Usage: "give up after `MS` without a record"},
					&cli.BoolFlag{Name: "from-latest", Usage: "start at the end of the log instead of the beginning"},
					&cli.IntFlag{Name: "fetch-size", Value: 1 << 20, Usage: "max.partition.fetch.bytes (`BYTES`)"},
				},
				Action: runPerfConsume,
			},
		},
	}
}

// unknownSubcommand answers "zkafka perf" without or with a wrong
// subcommand.
func unknownSubcommand(c *cli.Context) error {
	hint := fmt.Sprintf("Run 'zkafka %s --help' for its subcommands.", c.Command.Name)
	if !c.Args().Present() {
		return &usageError{msg: fmt.Sprintf("zkafka %s needs a subcommand: %s", c.Command.Name, strings.Join(subcommandNames(c.Command), " or ")), hint: hint}
	}
	name := c.Args().First()
	msg := fmt.Sprintf("zkafka: '%s' is not a subcommand of zkafka %s.", name, c.Command.Name)
	if cli.SuggestCommand != nil {
		msg += " " + cli.SuggestCommand(c.Command.Subcommands, name)
	}
	return &usageError{msg: msg, hint: hint}
}

func subcommandNames(c *cli.Command) []string {
	var names []string
	for _, s := range c.Subcommands {
		if s.Name != "help" {
			names = append(names, s.Name)
		}
	}
	return names
}

// perfStats gathers produce latencies: counts and sums over the whole run
// and the current reporting window, and a sample of latencies for the
// percentiles (every sampling-th record, at most about 500,000 kept, as
// Kafka's tool does).
type perfStats struct {
	start    time.Time
	sampling int64

	count, bytes      int64
	totalLat, maxLat  time.Duration
	samples           []time.Duration
	winStart          time.Time
	winCount, winByte int64
	winLat, winMax    time.Duration
}

func newPerfStats(numRecords int64, now time.Time) *perfStats {
	return &perfStats{start: now, winStart: now, sampling: numRecords/500000 + 1}
}

// record adds one acknowledged record, its position in the run (for
// sampling) and its latency.
func (s *perfStats) record(iter int64, lat time.Duration, bytes int) {
	s.count++
	s.bytes += int64(bytes)
	s.totalLat += lat
	s.maxLat = max(s.maxLat, lat)
	s.winCount++
	s.winByte += int64(bytes)
	s.winLat += lat
	s.winMax = max(s.winMax, lat)
	if iter%s.sampling == 0 {
		s.samples = append(s.samples, lat)
	}
}

// window returns the line for the window ending at now and starts the next.
func (s *perfStats) window(now time.Time) string {
	line := perfLine(s.winCount, s.winByte, now.Sub(s.winStart), s.winLat, s.winMax)
	s.winStart, s.winCount, s.winByte, s.winLat, s.winMax = now, 0, 0, 0, 0
	return line
}

// total returns the final line: the whole run and the percentiles.
func (s *perfStats) total(now time.Time) string {
	p := percentiles(s.samples, 0.5, 0.95, 0.99, 0.999)
	return fmt.Sprintf("%s, %d ms 50th, %d ms 95th, %d ms 99th, %d ms 99.9th.",
		strings.TrimSuffix(perfLine(s.count, s.bytes, now.Sub(s.start), s.totalLat, s.maxLat), "."),
		p[0].Milliseconds(), p[1].Milliseconds(), p[2].Milliseconds(), p[3].Milliseconds())
}

// perfLine is kafka-producer-perf-test.sh's line: "N records sent, R
// records/sec (M MB/sec), A ms avg latency, X ms max latency."
func perfLine(count, bytes int64, elapsed, sumLat, maxLat time.Duration) string {
	secs := max(elapsed.Seconds(), 1e-9)
	avg := 0.0
	if count > 0 {
		avg = float64(sumLat.Microseconds()) / 1000 / float64(count)
	}
	return fmt.Sprintf("%d records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency.",
		count, float64(count)/secs, float64(bytes)/secs/(1<<20), avg, float64(maxLat.Microseconds())/1000)
}

// percentiles of samples (nearest rank), which it sorts.
func percentiles(samples []time.Duration, ps ...float64) []time.Duration {
	slices.Sort(samples)
	out := make([]time.Duration, len(ps))
	if len(samples) == 0 {
		return out
	}
	for i, p := range ps {
		out[i] = samples[min(len(samples)-1, int(p*float64(len(samples))))]
	}
	return out
}

// throttle is Kafka's ThroughputThrottler: it sleeps whenever the records
// sent so far run ahead of the target rate.
type throttle struct {
	perSec float64
	start  time.Time
}

// wait blocks until sent records are due at the target rate, or ctx ends.
func (t throttle) wait(ctx context.Context, sent int64) error {
	if t.perSec <= 0 {
		return nil
	}
	due := t.start.Add(time.Duration(float64(sent) / t.perSec * float64(time.Second)))
	d := time.Until(due)
	if d <= time.Millisecond {
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// perfProducerOptions turns --producer-props into kgo options.
func perfProducerOptions(props []string, bootstrap string) ([]kgo.Opt, string, error) {
	var opts []kgo.Opt
	acks, idempotent := "1", false
	idempotenceSet := false
	for _, p := range props {
		for _, kv := range strings.Fields(p) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, "", fmt.Errorf("%q: expected name=value, e.g. acks=all", kv)
			}
			switch k {
			case "acks":
				if _, err := parseAcks(v); err != nil {
					return nil, "", fmt.Errorf("acks: %v", err)
				}
				acks = v
			case "linger.ms":
				n, err := parsePositive(v, true)
				if err != nil {
					return nil, "", fmt.Errorf("linger.ms: %v", err)
				}
				opts = append(opts, kgo.ProducerLinger(time.Duration(n)*time.Millisecond))
			case "batch.size":
				n, err := parsePositive(v, false)
				if err != nil {
					return nil, "", fmt.Errorf("batch.size: %v", err)
				}
				opts = append(opts, kgo.ProducerBatchMaxBytes(int32(min(n, 1<<30))))
			case "compression.type":
				c, err := kgoCompression(v)
				if err != nil {
					return nil, "", err
				}
				opts = append(opts, kgo.ProducerBatchCompression(c))
			case "enable.idempotence":
				b, err := strconv.ParseBool(v)
				if err != nil {
					return nil, "", fmt.Errorf("enable.idempotence: %q is not true or false", v)
				}
				idempotent, idempotenceSet = b, true
			case "client.id":
				opts = append(opts, kgo.ClientID(v))
			case "bootstrap.servers":
				bootstrap = v
			default:
				return nil, "", fmt.Errorf("%q is not a producer setting this tool knows (acks, linger.ms, batch.size, compression.type, enable.idempotence, client.id, bootstrap.servers)", k)
			}
		}
	}
	switch acks {
	case "all", "-1":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
		if idempotenceSet && !idempotent {
			opts = append(opts, kgo.DisableIdempotentWrite())
		}
	default:
		if idempotent {
			return nil, "", fmt.Errorf("enable.idempotence=true needs acks=all")
		}
		a := kgo.LeaderAck()
		if acks == "0" {
			a = kgo.NoAck()
		}
		opts = append(opts, kgo.RequiredAcks(a), kgo.DisableIdempotentWrite())
	}
	return opts, bootstrap, nil
}

func kgoCompression(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.NoCompression(), fmt.Errorf("compression.type %q: use none, gzip, snappy, lz4 or zstd", name)
}

func runPerfProduce(c *cli.Context) error {
	// Kafka's tool takes several settings after one --producer-props
	// (--producer-props acks=all linger.ms=5): name=value arguments are
	// those; the tool has no positional arguments otherwise.
	props := c.StringSlice("producer-props")
	for _, a := range c.Args().Slice() {
		if !strings.Contains(a, "=") || !c.IsSet("producer-props") {
			return usageErrorf(c, "unexpected argument %q", a)
		}
		props = append(props, a)
	}
	opts, bootstrap, err := perfProducerOptions(props, c.String("bootstrap-server"))
	if err != nil {
		return usageErrorf(c, "--producer-props %v", err)
	}
	topic, n, size := c.String("topic"), c.Int64("num-records"), c.Int("record-size")
	if err := needTarget(c, bootstrap, topic); err != nil {
		return err
	}
	switch {
	case n <= 0:
		return usageErrorf(c, "--num-records must be a positive number of records, e.g. --num-records 1000000")
	case size <= 0:
		return usageErrorf(c, "--record-size must be a positive number of bytes, e.g. --record-size 100")
	}
	opts = append(opts, kgo.SeedBrokers(splitList(bootstrap)...), kgo.DefaultProduceTopic(topic),
		kgo.MaxBufferedRecords(1<<20), kgo.AllowAutoTopicCreation())
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return failf("%v", err)
	}
	defer cl.Close()
	if err := pingBroker(c.Context, cl, bootstrap); err != nil {
		return err
	}
	return producePerf(c.Context, cl, n, size, c.Float64("throughput"), c.App.Writer)
}

// producePerf sends n records of size random letters, printing a window line
// every 5 s and the total at the end. It fails on the first record the
// broker refuses.
func producePerf(ctx context.Context, cl *kgo.Client, n int64, size int, perSec float64, out io.Writer) error {
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte('A' + rand.IntN(26))
	}
	now := time.Now()
	var (
		mu       sync.Mutex
		stats    = newPerfStats(n, now)
		firstErr error
		wg       sync.WaitGroup
	)
	ticker := time.NewTicker(5 * time.Second)
	defer ticker.Stop()
	th := throttle{perSec: perSec, start: now}
	for i := int64(0); i < n; i++ {
		if err := th.wait(ctx, i); err != nil {
			break
		}
		select {
		case <-ticker.C:
			mu.Lock()
			fmt.Fprintln(out, stats.window(time.Now()))
			mu.Unlock()
		default:
		}
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		iter, sent := i, time.Now()
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Value: payload}, func(r *kgo.Record, err error) {
			defer wg.Done()
			lat := time.Since(sent)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			stats.record(iter, lat, len(r.Value))
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	fmt.Fprintln(out, stats.total(time.Now()))
	switch {
	case firstErr != nil:
		return failf("produce failed after %d records: %v", stats.count, firstErr)
	case ctx.Err() != nil:
		return failf("interrupted after %d records", stats.count)
	}
	return nil
}

// needTarget checks the broker and topic flags both perf tools need.
func needTarget(c *cli.Context, bootstrap, topic string) error {
	switch {
	case bootstrap == "":
		return usageErrorf(c, "Missing required argument \"[bootstrap-server]\": e.g. --bootstrap-server localhost:9092")
	case topic == "":
		return usageErrorf(c, "Missing required argument \"[topic]\": e.g. --topic perf")
	}
	return nil
}

func runPerfConsume(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErrorf(c, "unexpected argument %q", c.Args().First())
	}
	bootstrap, topic, n := c.String("bootstrap-server"), c.String("topic"), c.Int64("messages")
	if err := needTarget(c, bootstrap, topic); err != nil {
		return err
	}
	switch {
	case n <= 0:
		return usageErrorf(c, "--messages must be a positive number of records, e.g. --messages 1000000")
	case c.Int64("timeout") <= 0:
		return usageErrorf(c, "--timeout must be a positive number of milliseconds")
	case c.Int("fetch-size") <= 0:
		return usageErrorf(c, "--fetch-size must be a positive number of bytes")
	}
	reset := kgo.NewOffset().AtStart()
	if c.Bool("from-latest") {
		reset = kgo.NewOffset().AtEnd()
	}
	opts := []kgo.Opt{kgo.SeedBrokers(splitList(bootstrap)...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(reset),
		kgo.FetchMaxPartitionBytes(int32(c.Int("fetch-size")))}
	group := c.String("group")
	joined := make(chan time.Time, 1)
	if group != "" {
		opts = append(opts, kgo.ConsumerGroup(group), kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
			select {
			case joined <- time.Now():
			default:
			}
		}))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return failf("%v", err)
	}
	defer cl.Close()
	if err := pingBroker(c.Context, cl, bootstrap); err != nil {
		return err
	}
	r, err := consumePerf(c.Context, cl, n, time.Duration(c.Int64("timeout"))*time.Millisecond)
	if group != "" {
		select {
		case t := <-joined:
			r.rebalance = t.Sub(r.start)
		default:
		}
	}
	fmt.Fprintln(c.App.Writer, "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec")
	fmt.Fprintln(c.App.Writer, r.line())
	if err != nil {
		return failf("%v", err)
	}
	return nil
}

type consumeResult struct {
	start, end time.Time
	count      int64
	bytes      int64
	rebalance  time.Duration
}

// line is kafka-consumer-perf-test.sh's result line.
func (r consumeResult) line() string {
	mb := float64(r.bytes) / (1 << 20)
	secs := max(r.end.Sub(r.start).Seconds(), 1e-9)
	fetch := r.end.Sub(r.start) - r.rebalance
	fsecs := max(fetch.Seconds(), 1e-9)
	return fmt.Sprintf("%s, %s, %.4f, %.4f, %d, %.4f, %d, %d, %.4f, %.4f",
		perfTime(r.start), perfTime(r.end), mb, mb/secs, r.count, float64(r.count)/secs,
		r.rebalance.Milliseconds(), fetch.Milliseconds(), mb/fsecs, float64(r.count)/fsecs)
}

// perfTime is Kafka's "yyyy-MM-dd HH:mm:ss:SSS".
func perfTime(t time.Time) string {
	return fmt.Sprintf("%s:%03d", t.Format("2006-01-02 15:04:05"), t.Nanosecond()/int(time.Millisecond))
}

// pingBroker fails with brokerReachError's message when no seed broker
// answers within a few seconds (kgo would otherwise retry quietly).
func pingBroker(ctx context.Context, cl *kgo.Client, bootstrap string) error {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return failf("cannot reach broker at %s: is `zkafka broker` running? (start one with `make run`)", bootstrap)
		}
		return failf("%v", brokerReachError(err, bootstrap))
	}
	return nil
}

// consumePerf polls until n records were read, no record came for idle, or
// ctx ends (the last two are errors, with what was read so far).
func consumePerf(ctx context.Context, cl *kgo.Client, n int64, idle time.Duration) (consumeResult, error) {
	r := consumeResult{start: time.Now()}
	last := r.start
	for r.count < n {
		pctx, cancel := context.WithDeadline(ctx, last.Add(idle))
		fs := cl.PollRecords(pctx, int(min(n-r.count, 1<<20)))
		cancel()
		r.end = time.Now()
		if err := ctx.Err(); err != nil {
			return r, fmt.Errorf("interrupted after %d records", r.count)
		}
		var errs []error
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				errs = append(errs, fmt.Errorf("%s-%d: %w", t, p, err))
			}
		})
		if len(errs) > 0 {
			return r, errors.Join(errs...)
		}
		got := int64(0)
		fs.EachRecord(func(rec *kgo.Record) {
			got++
			r.bytes += int64(len(rec.Value) + len(rec.Key))
		})
		if got > 0 {
			r.count += got
			last = r.end
		} else if r.end.Sub(last) >= idle {
			return r, fmt.Errorf("exiting before consuming the expected number of messages: no record for %d ms (%d of %d read)", idle.Milliseconds(), r.count, n)
		}
	}
	return r, nil
}
