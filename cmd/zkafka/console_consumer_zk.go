package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/zkafka/zkafka/consumergroup"
)

// zkConsumerOptions is the validated command line of the ZooKeeper
// consumer-group mode.
type zkConsumerOptions struct {
	cfg         consumergroup.Config
	maxMessages int
	idle        time.Duration
	format      formatOptions
	ownership   string // file for ownership events ("" = none)
}

// runZKConsoleConsumer is console-consumer --zookeeper: a member of a
// classic ZooKeeper consumer group (kafka-console-consumer.sh --zookeeper
// in Kafka 0.8-0.10).
func runZKConsoleConsumer(c *cli.Context) error {
	o, err := parseZKConsumerOptions(c)
	if err != nil {
		return err
	}
	n, err := consumeGroup(c.Context, o, c.App.Writer, c.App.ErrWriter)
	if err != nil {
		fmt.Fprintln(c.App.ErrWriter, err)
	}
	fmt.Fprintf(c.App.ErrWriter, "Processed a total of %d messages\n", n)
	if err != nil {
		return cli.Exit("", exitFailed)
	}
	return nil
}

func parseZKConsumerOptions(c *cli.Context) (zkConsumerOptions, error) {
	o := zkConsumerOptions{
		maxMessages: c.Int("max-messages"),
		idle:        time.Duration(c.Int("timeout-ms")) * time.Millisecond,
		format:      formatOptions{printValue: true, keySeparator: "\t", lineSeparator: "\n"},
		ownership:   c.String("ownership-log"),
	}
	cfg := consumergroup.Config{
		ZooKeeper: c.String("zookeeper"), Group: c.String("group"), Whitelist: c.String("whitelist"), Blacklist: c.String("blacklist"),
		Strategy: c.String("partition-assignment-strategy"), AutoOffsetReset: consumergroup.OffsetResetLargest,
		AutoCommitInterval: time.Second,
	}
	if t := c.String("topic"); t != "" {
		cfg.Topics = []string{t}
	}
	n := 0
	for _, f := range []string{"topic", "whitelist", "blacklist"} {
		if c.IsSet(f) {
			n++
		}
	}
	switch {
	case c.NArg() > 0:
		return o, usageErrorf(c, "unexpected argument %q: console-consumer takes only flags", c.Args().First())
	case c.IsSet("bootstrap-server"):
		return o, usageErrorf(c, "--bootstrap-server and --zookeeper cannot be used together")
	case n != 1:
		return o, usageErrorf(c, "Exactly one of whitelist/blacklist/topic is required.")
	case c.IsSet("partition") || c.IsSet("offset"):
		return o, usageErrorf(c, "--partition and --offset are not available with --zookeeper: the group assigns partitions and keeps offsets")
	case o.maxMessages < 0 || c.Int("timeout-ms") < 0:
		return o, usageErrorf(c, "--max-messages and --timeout-ms must not be negative")
	}
	if cfg.Group == "" {
		cfg.Group = fmt.Sprintf("console-consumer-%d", rand.IntN(100000))
	}
	if c.Bool("from-beginning") {
		cfg.AutoOffsetReset = consumergroup.OffsetResetSmallest
	}
	if err := applyFormatProperties(&o.format, c.StringSlice("property")); err != nil {
		return o, usageErrorf(c, "%v", err)
	}
	for _, p := range c.StringSlice("consumer-property") {
		if err := applyGroupProperty(&cfg, p); err != nil {
			if errors.Is(err, errUnknownProperty) {
				fmt.Fprintf(c.App.ErrWriter, "WARN The configuration '%s' was supplied but isn't a known config.\n", propertyName(p))
				continue
			}
			return o, usageErrorf(c, "--consumer-property %v", err)
		}
	}
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return o, usageErrorf(c, "%s", strings.TrimPrefix(err.Error(), "consumergroup: "))
	}
	o.cfg = cfg
	return o, nil
}

var errUnknownProperty = errors.New("unknown property")

func propertyName(p string) string {
	k, _, _ := strings.Cut(p, "=")
	return strings.TrimSpace(k)
}

// applyGroupProperty applies one old-consumer property (Kafka 0.10's
// ConsumerConfig names).
func applyGroupProperty(cfg *consumergroup.Config, p string) error {
	k, v, ok := strings.Cut(p, "=")
	if !ok {
		return fmt.Errorf("%q: expected name=value", p)
	}
	k, v = strings.TrimSpace(k), strings.TrimSpace(v)
	ms := func() (time.Duration, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("%s: invalid value %q: expected milliseconds >= 1", k, v)
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	var err error
	switch k {
	case "auto.commit.enable":
		cfg.DisableAutoCommit = v == "false"
	case "auto.commit.interval.ms":
		cfg.AutoCommitInterval, err = ms()
	case "auto.offset.reset":
		cfg.AutoOffsetReset = v
	case "rebalance.max.retries":
		cfg.RebalanceMaxRetries, err = strconv.Atoi(v)
		if err != nil {
			err = fmt.Errorf("%s: invalid value %q: expected an integer", k, v)
		}
	case "rebalance.backoff.ms":
		cfg.RebalanceBackoff, err = ms()
	case "zookeeper.session.timeout.ms":
		cfg.SessionTimeout, err = ms()
	case "zookeeper.connection.timeout.ms":
		cfg.ConnectionTimeout, err = ms()
	case "consumer.id":
		cfg.ConsumerID = v
	case "client.id":
		cfg.ClientID = v
	case "fetch.wait.max.ms":
		cfg.FetchMaxWait, err = ms()
	case "partition.assignment.strategy":
		cfg.Strategy = v
	case "exclude.internal.topics":
		cfg.IncludeInternalTopics = v == "false"
	default:
		return errUnknownProperty
	}
	return err
}

// consumeGroup joins the group, prints messages until maxMessages, the
// idle timeout or ctx, marking each printed message, and closes (commit,
// release, deregister). It returns how many messages it printed.
func consumeGroup(ctx context.Context, o zkConsumerOptions, stdout, stderr io.Writer) (int, error) {
	l := logrus.New()
	l.SetOutput(stderr)
	l.SetLevel(logrus.WarnLevel)
	if os.Getenv("ZKAFKA_LOG_LEVEL") != "" {
		if lvl, err := logrus.ParseLevel(os.Getenv("ZKAFKA_LOG_LEVEL")); err == nil {
			l.SetLevel(lvl)
		}
	}
	o.cfg.Logger = l
	if o.ownership != "" {
		f, err := os.OpenFile(o.ownership, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return 0, failf("ERROR %v", err)
		}
		defer f.Close()
		var mu sync.Mutex
		o.cfg.OnOwnership = func(ev consumergroup.OwnershipEvent) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(f, "%s %s %s %d %d\n", ev.Kind, ev.ThreadID, ev.Partition.Topic, ev.Partition.Partition, ev.Time.UnixNano())
		}
	}
	jctx, cancel := context.WithTimeout(ctx, o.cfg.ConnectionTimeout+30*time.Second)
	cons, err := consumergroup.Join(jctx, o.cfg)
	cancel()
	if err != nil {
		return 0, failf("ERROR %v", err)
	}
	n, err := printGroupMessages(ctx, o, cons, stdout)
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if cerr := cons.Close(cctx); cerr != nil && err == nil {
		err = failf("ERROR closing the consumer: %v", cerr)
	}
	return n, err
}

func printGroupMessages(ctx context.Context, o zkConsumerOptions, cons *consumergroup.Consumer, stdout io.Writer) (int, error) {
	out := bufio.NewWriterSize(stdout, 64<<10)
	defer out.Flush()
	n := 0
	for o.maxMessages == 0 || n < o.maxMessages {
		fctx, cancel := ctx, context.CancelFunc(func() {})
		if o.idle > 0 {
			fctx, cancel = context.WithTimeout(ctx, o.idle)
		}
		m, err := cons.Fetch(fctx)
		cancel()
		if err != nil {
			return n, nil // interrupted, idle or closed
		}
		writeMessage(out, kafka.Message{Topic: m.Topic, Partition: int(m.Partition), Offset: m.Offset, Key: m.Key, Value: m.Value, Time: m.Time}, o.format)
		if err := out.Flush(); err != nil {
			return n, nil // stdout closed: stop quietly, without marking
		}
		n++
		_ = cons.MarkOffset(m) // ErrNotOwned: rebalanced meanwhile; the next owner prints it again
	}
	return n, nil
}
