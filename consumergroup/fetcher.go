package consumergroup

import (
	"context"
	"errors"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/sirupsen/logrus"
)

// fetcher reads one owned partition from its current leader with a
// kafka-go Reader (no GroupID: the partition is assigned by the group's
// ZooKeeper rebalance, not by a broker). The Reader finds the leader
// through metadata and looks it up again after errors, so it follows
// leader changes.
type fetcher struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (f *fetcher) stop() {
	f.cancel()
	<-f.done
}

// startFetcher starts fetching tp at offset (kafka.FirstOffset or
// kafka.LastOffset for the reset policy) for generation gen.
func (c *Consumer) startFetcher(tp TopicPartition, offset int64, gen int64, brokers []string) *fetcher {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fetcher{cancel: cancel, done: make(chan struct{})}
	log := c.log.WithFields(logrus.Fields{"topic": tp.Topic, "partition": tp.Partition})
	go func() {
		defer close(f.done)
		c.fetchLoop(ctx, tp, offset, gen, brokers, log)
	}()
	return f
}

func (c *Consumer) newReader(tp TopicPartition, offset int64, brokers []string) *kafka.Reader {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:               brokers,
		Topic:                 tp.Topic,
		Partition:             int(tp.Partition),
		MinBytes:              1,
		MaxBytes:              c.cfg.FetchMaxBytes,
		MaxWait:               c.cfg.FetchMaxWait,
		QueueCapacity:         256,
		ReadBackoffMin:        50 * time.Millisecond,
		ReadBackoffMax:        time.Second,
		OffsetOutOfRangeError: true,
		Dialer:                &kafka.Dialer{ClientID: c.cfg.ClientID, Timeout: 10 * time.Second, DualStack: true},
	})
	_ = r.SetOffset(offset) // cannot fail on a new reader
	return r
}

func (c *Consumer) resetOffset() int64 {
	if c.cfg.AutoOffsetReset == OffsetResetSmallest {
		return kafka.FirstOffset
	}
	return kafka.LastOffset
}

func (c *Consumer) fetchLoop(ctx context.Context, tp TopicPartition, offset, gen int64, brokers []string, log logrus.FieldLogger) {
	if len(brokers) == 0 {
		return
	}
	r := c.newReader(tp, offset, brokers)
	defer func() { r.Close() }()
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, kafka.OffsetOutOfRange) {
				// auto.offset.reset applies to out-of-range offsets too
				log.WithError(err).Warn("offset out of range; applying auto.offset.reset=" + c.cfg.AutoOffsetReset)
				r.Close()
				r = c.newReader(tp, c.resetOffset(), brokers)
				continue
			}
			log.WithError(err).Warn("fetch failed; retrying")
			select {
			case <-time.After(200 * time.Millisecond): // refresh.leader.backoff.ms
			case <-ctx.Done():
				return
			}
			continue
		}
		msg := Message{Topic: m.Topic, Partition: int32(m.Partition), Offset: m.Offset, Key: m.Key, Value: m.Value, Time: m.Time, Generation: gen}
		select {
		case c.msgs <- msg:
		case <-ctx.Done():
			return
		}
	}
}
