package broker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/controller"
	"github.com/zkafka/zkafka/broker/wire"
	"github.com/zkafka/zkafka/zkcoord"
)

// controlledShutdownRequestTimeout bounds one ControlledShutdown attempt
// (Kafka uses controller.socket.timeout.ms, 30 s).
const controlledShutdownRequestTimeout = 30 * time.Second

// controlledShutdown is KafkaServer.controlledShutdown: before it stops
// serving, the broker asks the controller to move its leaderships away,
// up to controlled.shutdown.max.retries times with
// controlled.shutdown.retry.backoff.ms between attempts. It reports whether
// an attempt succeeded (no error and no partition left); either way the
// broker shuts down afterwards.
func (b *Broker) controlledShutdown(ctx context.Context) bool {
	log := b.log.WithField("phase", "controlled-shutdown")
	for attempt := int32(1); attempt <= b.cfg.ControlledShutdownMaxRetries; attempt++ {
		start := time.Now()
		remaining, err := b.controlledShutdownOnce(ctx)
		switch {
		case err == nil && len(remaining) == 0:
			log.WithField("took", time.Since(start).Round(time.Millisecond)).Info("controlled shutdown succeeded")
			if b.replicas.fetchers != nil {
				b.replicas.fetchers.stopAll()
			}
			return true
		case err == nil && !b.anyMovable(remaining):
			// Differs from 2.4, which retries anyway: no other in-sync
			// replica of these partitions is alive, so another attempt
			// could only move them if a broker came back meanwhile.
			log.WithField("remaining_partitions", tpStrings(remaining)).Warn(
				"controlled shutdown left partitions that no other live in-sync replica can lead; not retrying")
			return false
		case err == nil:
			log.WithField("remaining_partitions", tpStrings(remaining)).Warn("controlled shutdown left partitions led by this broker")
		default:
			log.WithError(err).Warn("controlled shutdown attempt failed")
		}
		if attempt == b.cfg.ControlledShutdownMaxRetries {
			break
		}
		log.WithField("backoff", b.cfg.ControlledShutdownRetryBackoff).Warn("Retrying controlled shutdown after the previous attempt failed...")
		select {
		case <-time.After(b.cfg.ControlledShutdownRetryBackoff):
		case <-ctx.Done():
			return false
		}
	}
	log.Warn("Proceeding to do an unclean shutdown as all the controlled shutdown attempts failed")
	return false
}

// controlledShutdownOnce sends one ControlledShutdown to the current
// controller (read from /controller); when this broker is the controller
// the request goes straight to its event loop.
func (b *Broker) controlledShutdownOnce(ctx context.Context) ([]controller.TP, error) {
	ctx, cancel := context.WithTimeout(ctx, controlledShutdownRequestTimeout)
	defer cancel()
	id, err := zkcoord.GetController(ctx, b.zk)
	if err != nil {
		return nil, fmt.Errorf("find the controller: %w", err)
	}
	if id < 0 {
		return nil, errors.New("no controller elected")
	}
	var code int16
	var remaining []controller.TP
	if id == b.cfg.BrokerID {
		var res controller.ControlledShutdownResult
		if res, err = b.ctrl.ControlledShutdown(ctx, b.cfg.BrokerID, b.brokerEpoch()); err != nil {
			return nil, err
		}
		code, remaining = res.ErrorCode, res.Remaining
	} else {
		resp, err := b.sendControlledShutdown(ctx, id)
		if err != nil {
			return nil, err
		}
		code = resp.ErrorCode
		for _, p := range resp.PartitionsRemaining {
			remaining = append(remaining, controller.TP{Topic: p.Topic, Partition: p.Partition})
		}
	}
	if code != 0 {
		return nil, fmt.Errorf("controller %d answered %w", id, kerr.ErrorForCode(code))
	}
	return remaining, nil
}

// sendControlledShutdown sends ControlledShutdown (v1+: kmsg cannot encode
// v0's header-less request) to broker id on the inter-broker listener.
func (b *Broker) sendControlledShutdown(ctx context.Context, id int32) (*kmsg.ControlledShutdownResponse, error) {
	info, err := b.zk.GetBroker(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("read controller %d's registration: %w", id, err)
	}
	ep, ok := info.EndPoint(b.interBrokerListener())
	if !ok {
		return nil, fmt.Errorf("controller %d has no %s endpoint", id, b.interBrokerListener())
	}
	conn, err := wire.Dial(ctx, ep.Addr(), strconv.Itoa(int(b.cfg.BrokerID)))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	req := kmsg.NewPtrControlledShutdownRequest()
	req.BrokerID, req.BrokerEpoch = b.cfg.BrokerID, b.brokerEpoch()
	if err := conn.PickVersion(ctx, req, 3); err != nil {
		return nil, err
	}
	if req.Version < 1 {
		return nil, fmt.Errorf("controller %d speaks only ControlledShutdown v0", id)
	}
	r, err := conn.Request(ctx, req)
	if err != nil {
		return nil, err
	}
	return r.(*kmsg.ControlledShutdownResponse), nil
}

// anyMovable reports whether, as this broker's metadata cache says, some
// partition of tps has an in-sync replica other than this broker on a live
// broker (a later attempt could move it).
func (b *Broker) anyMovable(tps []controller.TP) bool {
	for _, tp := range tps {
		pm, ok := b.meta.partition(tp.Topic, tp.Partition)
		if !ok {
			return true // unknown here: let the controller decide again
		}
		for _, r := range pm.isr {
			if r != b.cfg.BrokerID && b.meta.isAlive(r) {
				return true
			}
		}
	}
	return false
}

func tpStrings(tps []controller.TP) []string {
	out := make([]string, len(tps))
	for i, tp := range tps {
		out[i] = tp.Topic + "-" + strconv.Itoa(int(tp.Partition))
	}
	return out
}
