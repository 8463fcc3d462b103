package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/urfave/cli/v2"
)

func consoleProducerCommand() *cli.Command {
	return &cli.Command{
		Name:  "console-producer",
		Usage: "send each line of standard input as a message (like kafka-console-producer.sh)",
		Description: "Reads lines from standard input until end of file and produces one message per line.\n\n" +
			"Example: zkafka console-producer --bootstrap-server localhost:9092 --topic logstash\n" +
			"Keys:    --property parse.key=true --property key.separator=:   (line \"k:v\" has key k)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "bootstrap-server", Aliases: []string{"broker-list"}, Usage: "`HOST:PORT` of a broker (comma-separated for several)"},
			&cli.StringFlag{Name: "topic", Usage: "`TOPIC` to produce to"},
			&cli.StringSliceFlag{Name: "property", Usage: "`name=value` for the line reader: parse.key, key.separator, ignore.error (repeatable)"},
			&cli.StringSliceFlag{Name: "producer-property", Usage: "`name=value` producer setting: acks, compression.type, linger.ms, batch.size, client.id (repeatable)"},
			&cli.StringFlag{Name: "compression-codec", Usage: "`CODEC`: none, gzip, snappy, lz4 or zstd"},
			&cli.StringFlag{Name: "request-required-acks", Value: "1", Usage: "`ACKS` the broker waits for: 0, 1 or all (-1)"},
			&cli.StringFlag{Name: "zookeeper", Hidden: true},
		},
		Action: runConsoleProducer,
	}
}

// producerOptions is the validated command line.
type producerOptions struct {
	bootstrap    string
	topic        string
	parseKey     bool
	keySeparator string
	ignoreError  bool
	acks         kafka.RequiredAcks
	compression  kafka.Compression
	linger       time.Duration
	batchSize    int
	clientID     string
}

func runConsoleProducer(c *cli.Context) error {
	o, err := parseProducerOptions(c)
	if err != nil {
		return err
	}
	return produceLines(c.Context, o, c.App.Reader, c.App.ErrWriter)
}

func parseProducerOptions(c *cli.Context) (producerOptions, error) {
	o := producerOptions{
		bootstrap: c.String("bootstrap-server"), topic: c.String("topic"),
		keySeparator: "\t", linger: 5 * time.Millisecond, batchSize: 1000, clientID: "console-producer",
	}
	if c.IsSet("zookeeper") {
		return o, usageErrorf(c, "console-producer does not take --zookeeper: use --bootstrap-server HOST:PORT (a broker, e.g. localhost:9092)")
	}
	if c.NArg() > 0 {
		return o, usageErrorf(c, "unexpected argument %q: console-producer reads messages from standard input", c.Args().First())
	}
	if o.bootstrap == "" {
		return o, usageErrorf(c, "Missing required argument \"[bootstrap-server]\": e.g. --bootstrap-server localhost:9092")
	}
	if o.topic == "" {
		return o, usageErrorf(c, "Missing required argument \"[topic]\": e.g. --topic logstash")
	}
	if err := applyReaderProperties(&o, c.StringSlice("property")); err != nil {
		return o, usageErrorf(c, "%v", err)
	}
	acks, err := parseAcks(c.String("request-required-acks"))
	if err != nil {
		return o, usageErrorf(c, "--request-required-acks: %v", err)
	}
	o.acks = acks
	if codec := c.String("compression-codec"); codec != "" {
		if o.compression, err = parseCompression(codec); err != nil {
			return o, usageErrorf(c, "--compression-codec: %v", err)
		}
	}
	if err := applyProducerProperties(&o, c.StringSlice("producer-property"), c.App.ErrWriter); err != nil {
		return o, usageErrorf(c, "--producer-property %v", err)
	}
	return o, nil
}

func applyReaderProperties(o *producerOptions, props []string) error {
	for _, p := range props {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return fmt.Errorf("invalid --property %q: expected name=value, e.g. parse.key=true", p)
		}
		switch strings.TrimSpace(k) {
		case "parse.key":
			o.parseKey = strings.EqualFold(strings.TrimSpace(v), "true")
		case "key.separator":
			o.keySeparator = v
		case "ignore.error":
			o.ignoreError = strings.EqualFold(strings.TrimSpace(v), "true")
		}
	}
	if o.parseKey && o.keySeparator == "" {
		return fmt.Errorf("key.separator must not be empty with parse.key=true")
	}
	return nil
}

func applyProducerProperties(o *producerOptions, props []string, stderr io.Writer) error {
	for _, p := range props {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return fmt.Errorf("%q: expected name=value, e.g. acks=all", p)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		var err error
		switch k {
		case "acks":
			o.acks, err = parseAcks(v)
		case "compression.type":
			o.compression, err = parseCompression(v)
		case "linger.ms":
			var n int64
			n, err = parsePositive(v, true)
			o.linger = time.Duration(n) * time.Millisecond
		case "batch.size":
			var n int64
			n, err = parsePositive(v, false)
			o.batchSize = int(n)
		case "client.id":
			o.clientID = v
		default:
			fmt.Fprintf(stderr, "WARN The configuration '%s' was supplied but isn't a known config.\n", k)
		}
		if err != nil {
			return fmt.Errorf("%s: %v", k, err)
		}
	}
	return nil
}

func parsePositive(v string, zeroOK bool) (int64, error) {
	var n int64
	_, err := fmt.Sscan(v, &n)
	if err != nil || n < 0 || (n == 0 && !zeroOK) {
		return 0, fmt.Errorf("invalid value %q: expected a positive integer", v)
	}
	return n, nil
}

func parseAcks(v string) (kafka.RequiredAcks, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "0":
		return kafka.RequireNone, nil
	case "1":
		return kafka.RequireOne, nil
	case "all", "-1":
		return kafka.RequireAll, nil
	}
	return 0, fmt.Errorf("invalid value %q: expected 0, 1, all or -1", v)
}

func parseCompression(v string) (kafka.Compression, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "none", "":
		return 0, nil
	case "gzip":
		return kafka.Gzip, nil
	case "snappy":
		return kafka.Snappy, nil
	case "lz4":
		return kafka.Lz4, nil
	case "zstd":
		return kafka.Zstd, nil
	}
	return 0, fmt.Errorf("invalid value %q: expected none, gzip, snappy, lz4 or zstd", v)
}

// maxLineBytes bounds one input line (a message), as the broker's
// message.max.bytes would anyway.
const maxLineBytes = 16 << 20

// produceLines reads stdin line by line and sends the lines in batches: all
// lines already read (up to batchSize) go in one synchronous write, so
// interactive lines leave at once and piped input travels in large batches.
func produceLines(ctx context.Context, o producerOptions, stdin io.Reader, stderr io.Writer) error {
	w := &kafka.Writer{
		Addr:                   kafka.TCP(splitList(o.bootstrap)...),
		Topic:                  o.topic,
		Balancer:               &kafka.Murmur2Balancer{},
		RequiredAcks:           o.acks,
		Compression:            o.compression,
		BatchSize:              o.batchSize,
		BatchBytes:             1000000, // stays under the broker's default message.max.bytes
		BatchTimeout:           o.linger,
		AllowAutoTopicCreation: true,
		Transport:              &kafka.Transport{ClientID: o.clientID, DialTimeout: 5 * time.Second},
	}
	lines, readErr := readLines(ctx, stdin)
	lineNo := 0
	var batch []kafka.Message
	for {
		batch = batch[:0]
		var line []byte
		var ok bool
		select {
		case line, ok = <-lines:
		case <-ctx.Done(): // SIGINT: send what was read, then stop
		}
		for ok {
			lineNo++
			m, err := lineToMessage(line, lineNo, o)
			if err != nil {
				w.Close()
				return failf("ERROR %v", err)
			}
			batch = append(batch, m)
			if len(batch) >= o.batchSize {
				break
			}
			select {
			case line, ok = <-lines:
			default:
				ok = false
			}
		}
		if len(batch) == 0 {
			break
		}
		if err := writeWithRetry(ctx, w, batch); err != nil {
			w.Close()
			return failf("ERROR Error when sending message to topic %s: %v", o.topic, producerErrorMessage(err, o))
		}
	}
	if err := w.Close(); err != nil {
		return failf("ERROR Error when sending message to topic %s: %v", o.topic, producerErrorMessage(err, o))
	}
	select {
	case err := <-readErr:
		if err != nil {
			return failf("ERROR reading standard input: %v", err)
		}
	case <-ctx.Done():
	}
	return nil
}

// writeWithRetry writes batch, retrying the messages that failed with a
// retriable error (e.g. LEADER_NOT_AVAILABLE right after a topic was
// auto-created) for up to about 10 seconds, as Kafka's producer waits for
// metadata. It keeps going after SIGINT so that lines already read are sent.
func writeWithRetry(ctx context.Context, w *kafka.Writer, batch []kafka.Message) error {
	const attempts = 40
	ctx = context.WithoutCancel(ctx)
	for i := 1; ; i++ {
		err := w.WriteMessages(ctx, batch...)
		if err == nil || i == attempts || !retriable(err) {
			return err
		}
		var we kafka.WriteErrors
		if errors.As(err, &we) && len(we) == len(batch) {
			var failed []kafka.Message
			for j, e := range we {
				if e != nil {
					failed = append(failed, batch[j])
				}
			}
			batch = failed
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func retriable(err error) bool {
	var we kafka.WriteErrors
	if errors.As(err, &we) {
		for _, e := range we {
			if e != nil && !retriable(e) {
				return false
			}
		}
		return true
	}
	var ke kafka.Error
	return errors.As(err, &ke) && ke.Temporary()
}

// readLines sends each line of r (without its newline) until EOF, an error
// or ctx is done; the error (nil at EOF) arrives on the second channel.
func readLines(ctx context.Context, r io.Reader) (<-chan []byte, <-chan error) {
	lines := make(chan []byte, 4096)
	errc := make(chan error, 1)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), maxLineBytes)
		for sc.Scan() {
			line := append([]byte(nil), sc.Bytes()...)
			select {
			case lines <- line:
			case <-ctx.Done():
				errc <- nil
				return
			}
		}
		err := sc.Err()
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("a line is longer than %d bytes", maxLineBytes)
		}
		errc <- err
	}()
	return lines, errc
}

func lineToMessage(line []byte, lineNo int, o producerOptions) (kafka.Message, error) {
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if !o.parseKey {
		return kafka.Message{Value: line}, nil
	}
	k, v, ok := strings.Cut(string(line), o.keySeparator)
	if !ok {
		if o.ignoreError {
			return kafka.Message{Value: line}, nil
		}
		return kafka.Message{}, fmt.Errorf("No key found on line %d: %s", lineNo, line)
	}
	return kafka.Message{Key: []byte(k), Value: []byte(v)}, nil
}

func producerErrorMessage(err error, o producerOptions) string {
	if errors.Is(err, kafka.UnknownTopicOrPartition) {
		return fmt.Sprintf("topic '%s' does not exist and the broker does not create topics automatically: create it with `zkafka topics --create --bootstrap-server %s --topic %s`", o.topic, o.bootstrap, o.topic)
	}
	var we kafka.WriteErrors
	if errors.As(err, &we) {
		for _, e := range we {
			if e != nil {
				return producerErrorMessage(e, o)
			}
		}
	}
	if re := brokerReachError(err, o.bootstrap); re != err {
		return re.Error()
	}
	var ke kafka.Error
	if errors.As(err, &ke) {
		return kafkaErrorMessage(err)
	}
	return err.Error()
}
