package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/urfave/cli/v2"
)

func consoleConsumerCommand() *cli.Command {
	return &cli.Command{
		Name:  "console-consumer",
		Usage: "print a topic's messages to standard output (like kafka-console-consumer.sh)",
		Description: "Reads every partition of the topic (no consumer group) from the end, or from the start\n" +
			"with --from-beginning, and prints one message per line until interrupted.\n\n" +
			"With --zookeeper it is a member of a classic ZooKeeper consumer group instead: it registers under\n" +
			"/consumers/G/ids, takes its share of the partitions (rebalancing when members or partitions change),\n" +
			"resumes from /consumers/G/offsets (or, with --from-beginning, from the earliest message when the\n" +
			"group has no offset) and commits what it printed every auto.commit.interval.ms (1000 here) and on exit.\n\n" +
			"Example: zkafka console-consumer --bootstrap-server localhost:9092 --topic logstash --from-beginning\n" +
			"         zkafka console-consumer --zookeeper localhost:2181 --group g1 --topic logstash --from-beginning",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "bootstrap-server", Usage: "`HOST:PORT` of a broker (comma-separated for several)"},
			&cli.StringFlag{Name: "topic", Usage: "`TOPIC` to consume"},
			&cli.BoolFlag{Name: "from-beginning", Usage: "start at the earliest message instead of the latest"},
			&cli.IntFlag{Name: "partition", Value: -1, Usage: "consume only partition `P`"},
			&cli.StringFlag{Name: "offset", Usage: "with --partition: start at `OFFSET`, a number, earliest or latest"},
			&cli.IntFlag{Name: "max-messages", Usage: "exit after `N` messages"},
			&cli.IntFlag{Name: "timeout-ms", Usage: "exit when no message arrived for `MS` milliseconds"},
			&cli.StringSliceFlag{Name: "property", Usage: "`name=value` for the formatter: print.key, print.value, print.timestamp, print.partition, print.offset, key.separator, line.separator (repeatable)"},
			&cli.StringSliceFlag{Name: "consumer-property", Usage: "`name=value` consumer setting: client.id, fetch.max.wait.ms (repeatable)"},
			&cli.StringFlag{Name: "zookeeper", Usage: "`HOST:PORT[/chroot]`: consume as a member of a classic ZooKeeper consumer group (Kafka 0.8-0.10's old consumer) instead of --bootstrap-server"},
			&cli.StringFlag{Name: "group", Usage: "with --zookeeper: consumer group `G` (default console-consumer-NNNNN)"},
			&cli.StringFlag{Name: "whitelist", Usage: "with --zookeeper: consume every topic matching `REGEX` instead of --topic"},
			&cli.StringFlag{Name: "blacklist", Usage: "with --zookeeper: consume every topic not matching `REGEX`"},
			&cli.StringFlag{Name: "partition-assignment-strategy", Usage: "with --zookeeper: `range` (default) or roundrobin"},
			&cli.StringFlag{Name: "ownership-log", Hidden: true}, // tests: ownership events, one per line
		},
		Action: runConsoleConsumer,
	}
}

// consumerOptions is the validated command line.
type consumerOptions struct {
	bootstrap   string
	topic       string
	partition   int   // -1 = all
	startOffset int64 // kafka.FirstOffset, kafka.LastOffset or an offset
	maxMessages int   // 0 = no limit
	idle        time.Duration
	format      formatOptions
	clientID    string
	maxWait     time.Duration
}

type formatOptions struct {
	printKey, printValue, printTimestamp, printPartition, printOffset bool
	keySeparator, lineSeparator                                       string
}

func runConsoleConsumer(c *cli.Context) error {
	if c.IsSet("zookeeper") {
		return runZKConsoleConsumer(c)
	}
	o, err := parseConsumerOptions(c)
	if err != nil {
		return err
	}
	n, err := consume(c.Context, o, c.App.Writer)
	if err != nil {
		fmt.Fprintln(c.App.ErrWriter, err)
	}
	fmt.Fprintf(c.App.ErrWriter, "Processed a total of %d messages\n", n)
	if err != nil {
		return cli.Exit("", exitFailed)
	}
	return nil
}

func parseConsumerOptions(c *cli.Context) (consumerOptions, error) {
	o := consumerOptions{
		bootstrap: c.String("bootstrap-server"), topic: c.String("topic"), partition: c.Int("partition"),
		startOffset: kafka.LastOffset, maxMessages: c.Int("max-messages"),
		idle:     time.Duration(c.Int("timeout-ms")) * time.Millisecond,
		format:   formatOptions{printValue: true, keySeparator: "\t", lineSeparator: "\n"},
		clientID: "console-consumer", maxWait: 500 * time.Millisecond,
	}
	switch {
	case c.IsSet("group"):
		return o, usageErrorf(c, "console-consumer --group with --bootstrap-server is not supported yet: use --zookeeper HOST:PORT for a classic ZooKeeper consumer group")
	case c.IsSet("whitelist") || c.IsSet("blacklist") || c.IsSet("partition-assignment-strategy"):
		return o, usageErrorf(c, "--whitelist, --blacklist and --partition-assignment-strategy need --zookeeper")
	case c.NArg() > 0:
		return o, usageErrorf(c, "unexpected argument %q: console-consumer takes only flags", c.Args().First())
	case o.bootstrap == "":
		return o, usageErrorf(c, "Missing required argument \"[bootstrap-server]\": e.g. --bootstrap-server localhost:9092")
	case o.topic == "":
		return o, usageErrorf(c, "Missing required argument \"[topic]\": e.g. --topic logstash")
	case o.maxMessages < 0 || c.Int("timeout-ms") < 0:
		return o, usageErrorf(c, "--max-messages and --timeout-ms must not be negative")
	case c.IsSet("partition") && o.partition < 0:
		return o, usageErrorf(c, "--partition must be >= 0, got %d", o.partition)
	}
	if c.Bool("from-beginning") {
		o.startOffset = kafka.FirstOffset
	}
	if c.IsSet("offset") {
		off, err := parseStartOffset(c, o)
		if err != nil {
			return o, err
		}
		o.startOffset = off
	}
	if err := applyFormatProperties(&o.format, c.StringSlice("property")); err != nil {
		return o, usageErrorf(c, "%v", err)
	}
	for _, p := range c.StringSlice("consumer-property") {
		k, v, _ := strings.Cut(p, "=")
		switch strings.TrimSpace(k) {
		case "client.id":
			o.clientID = strings.TrimSpace(v)
		case "fetch.max.wait.ms":
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 1 {
				return o, usageErrorf(c, "--consumer-property fetch.max.wait.ms: invalid value %q: expected an integer >= 1", v)
			}
			o.maxWait = time.Duration(n) * time.Millisecond
		default:
			fmt.Fprintf(c.App.ErrWriter, "WARN The configuration '%s' was supplied but isn't a known config.\n", strings.TrimSpace(k))
		}
	}
	return o, nil
}

func parseStartOffset(c *cli.Context, o consumerOptions) (int64, error) {
	if o.partition < 0 {
		return 0, usageErrorf(c, "The partition is required when offset is specified.")
	}
	if c.Bool("from-beginning") {
		return 0, usageErrorf(c, "Options from-beginning and offset cannot be specified together.")
	}
	switch v := strings.ToLower(c.String("offset")); v {
	case "earliest":
		return kafka.FirstOffset, nil
	case "latest":
		return kafka.LastOffset, nil
	default:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, usageErrorf(c, "The provided offset value '%s' is incorrect. Valid values are 'earliest', 'latest', or a non-negative long.", c.String("offset"))
		}
		return n, nil
	}
}

func applyFormatProperties(f *formatOptions, props []string) error {
	for _, p := range props {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return fmt.Errorf("invalid --property %q: expected name=value, e.g. print.key=true", p)
		}
		isTrue := strings.EqualFold(strings.TrimSpace(v), "true")
		switch strings.TrimSpace(k) {
		case "print.key":
			f.printKey = isTrue
		case "print.value":
			f.printValue = isTrue
		case "print.timestamp":
			f.printTimestamp = isTrue
		case "print.partition":
			f.printPartition = isTrue
		case "print.offset":
			f.printOffset = isTrue
		case "key.separator":
			f.keySeparator = unescapeSeparator(v)
		case "line.separator":
			f.lineSeparator = unescapeSeparator(v)
		}
	}
	return nil
}

// unescapeSeparator turns \t, \n and \r typed on a shell into the characters.
func unescapeSeparator(s string) string {
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\r`, "\r").Replace(s)
}

// consume reads the topic's partitions and prints messages until
// maxMessages, the idle timeout, ctx or an error; it returns how many it
// printed.
func consume(ctx context.Context, o consumerOptions, stdout io.Writer) (int, error) {
	partitions, err := topicPartitions(ctx, o)
	if err != nil {
		return 0, err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs := make(chan kafka.Message, 4096)
	errc := make(chan error, len(partitions))
	var wg sync.WaitGroup
	for _, p := range partitions {
		r := newPartitionReader(o, p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			readPartition(rctx, r, msgs, errc)
		}()
	}
	defer wg.Wait()
	defer cancel()
	return printMessages(ctx, o, msgs, errc, stdout)
}

func topicPartitions(ctx context.Context, o consumerOptions) ([]int, error) {
	client := &kafka.Client{
		Addr:      kafka.TCP(splitList(o.bootstrap)...),
		Timeout:   30 * time.Second,
		Transport: &kafka.Transport{ClientID: o.clientID, DialTimeout: 5 * time.Second},
	}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{o.topic}})
	if err != nil {
		return nil, failf("ERROR %v", brokerReachError(err, o.bootstrap))
	}
	for _, t := range md.Topics {
		if t.Name != o.topic {
			continue
		}
		if errors.Is(t.Error, kafka.UnknownTopicOrPartition) || (t.Error == nil && len(t.Partitions) == 0) {
			break
		}
		if t.Error != nil {
			return nil, failf("ERROR topic %s: %s", o.topic, kafkaErrorMessage(t.Error))
		}
		var ids []int
		for _, p := range t.Partitions {
			if o.partition < 0 || p.ID == o.partition {
				ids = append(ids, p.ID)
			}
		}
		if len(ids) == 0 {
			return nil, failf("ERROR topic %s has no partition %d (it has %d partitions)", o.topic, o.partition, len(t.Partitions))
		}
		return ids, nil
	}
	return nil, failf("ERROR topic '%s' does not exist: create it with `zkafka topics --create --bootstrap-server %s --topic %s`", o.topic, o.bootstrap, o.topic)
}

func newPartitionReader(o consumerOptions, partition int) *kafka.Reader {
	start := o.startOffset
	if start >= 0 {
		start = kafka.FirstOffset // replaced by SetOffset below
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:       splitList(o.bootstrap),
		Topic:         o.topic,
		Partition:     partition,
		MinBytes:      1,
		MaxBytes:      10 << 20,
		MaxWait:       o.maxWait,
		QueueCapacity: 1000,
		StartOffset:   start,
		Dialer:        &kafka.Dialer{ClientID: o.clientID, Timeout: 10 * time.Second, DualStack: true},
	})
	if o.startOffset >= 0 {
		_ = r.SetOffset(o.startOffset)
	}
	return r
}

func readPartition(ctx context.Context, r *kafka.Reader, msgs chan<- kafka.Message, errc chan<- error) {
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() == nil {
				errc <- err
			}
			return
		}
		select {
		case msgs <- m:
		case <-ctx.Done():
			return
		}
	}
}

func printMessages(ctx context.Context, o consumerOptions, msgs <-chan kafka.Message, errc <-chan error, stdout io.Writer) (int, error) {
	out := bufio.NewWriterSize(stdout, 256<<10)
	defer out.Flush()
	var idle <-chan time.Time
	var timer *time.Timer
	if o.idle > 0 {
		timer = time.NewTimer(o.idle)
		defer timer.Stop()
		idle = timer.C
	}
	n := 0
	for o.maxMessages == 0 || n < o.maxMessages {
		select {
		case m := <-msgs:
			writeMessage(out, m, o.format)
			n++
			if len(msgs) == 0 {
				if err := out.Flush(); err != nil {
					return n, nil // stdout closed (e.g. piped into head): stop quietly
				}
			}
			if timer != nil {
				timer.Reset(o.idle)
			}
		case err := <-errc:
			return n, failf("ERROR Error processing message, terminating consumer process: %v", brokerReachError(err, o.bootstrap))
		case <-idle:
			return n, nil
		case <-ctx.Done():
			return n, nil
		}
	}
	return n, nil
}

func writeMessage(w *bufio.Writer, m kafka.Message, f formatOptions) {
	if f.printTimestamp {
		if m.Time.IsZero() {
			w.WriteString("NO_TIMESTAMP")
		} else {
			fmt.Fprintf(w, "CreateTime:%d", m.Time.UnixMilli())
		}
		w.WriteString(f.keySeparator)
	}
	if f.printPartition {
		fmt.Fprintf(w, "Partition:%d%s", m.Partition, f.keySeparator)
	}
	if f.printOffset {
		fmt.Fprintf(w, "Offset:%d%s", m.Offset, f.keySeparator)
	}
	if f.printKey {
		writeBytesOrNull(w, m.Key)
		if f.printValue {
			w.WriteString(f.keySeparator)
		}
	}
	if f.printValue {
		writeBytesOrNull(w, m.Value)
	}
	w.WriteString(f.lineSeparator)
}

func writeBytesOrNull(w *bufio.Writer, b []byte) {
	if b == nil {
		w.WriteString("null")
		return
	}
	w.Write(b)
}
