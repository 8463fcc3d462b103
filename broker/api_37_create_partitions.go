package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/zkcoord"
)

// handleCreatePartitions adds partitions to topics as 2.4's
// AdminManager.createPartitions: only the controller accepts it; the new
// replica lists are written to /brokers/topics/<t> (conditionally on the
// version read) and the answer waits, up to the request's timeout, until
// this broker's metadata shows the new partitions with leaders.
func (b *Broker) handleCreatePartitions(ctx context.Context, rc *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	count := map[string]int{}
	for _, t := range req.Topics {
		count[t.Topic]++
	}
	active := b.ctrl.IsActive()
	type pending struct {
		i     int
		topic string
		total int32
	}
	var wait []pending
	for _, t := range req.Topics {
		rt := kmsg.NewCreatePartitionsResponseTopic()
		rt.Topic = t.Topic
		var err error
		switch {
		case count[t.Topic] > 1:
			err = zkcoord.KafkaErrorf(errInvalidRequest, "Duplicate topic in request.")
		case !active:
			rt.ErrorCode = kerr.NotController.Code
		default:
			err = b.createPartitions(ctx, t, req.ValidateOnly)
		}
		if err != nil {
			rt.ErrorCode = createPartitionsErrorCode(err)
			msg := err.Error()
			rt.ErrorMessage = &msg
		} else if rt.ErrorCode == 0 && !req.ValidateOnly {
			wait = append(wait, pending{len(resp.Topics), t.Topic, t.Count})
			rc.log.WithFields(map[string]any{"topic": t.Topic, "partitions": t.Count}).Info("partitions added")
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if len(wait) > 0 {
		timeout := time.Duration(max(req.TimeoutMillis, 0)) * time.Millisecond
		ready := func() bool {
			for _, w := range wait {
				parts, ok := b.meta.topic(w.topic)
				if !ok {
					return false
				}
				for p := int32(0); p < w.total; p++ {
					if pm, ok := parts[p]; !ok || pm.leader < 0 {
						return false
					}
				}
			}
			return true
		}
		if !b.waitForMetadata(ctx, timeout, ready) {
			for _, w := range wait {
				resp.Topics[w.i].ErrorCode = kerr.RequestTimedOut.Code
				msg := fmt.Sprintf("Operation timed out: partitions of %s were added but not all have a leader yet.", w.topic)
				resp.Topics[w.i].ErrorMessage = &msg
			}
		}
	}
	return resp, nil
}

// createPartitions validates and (unless validateOnly) writes one topic's
// partition increase.
func (b *Broker) createPartitions(ctx context.Context, t kmsg.CreatePartitionsRequestTopic, validateOnly bool) error {
	if marked, err := b.zk.TopicsMarkedForDeletion(ctx); err != nil {
		return err
	} else {
		for _, m := range marked {
			if m == t.Topic {
				return zkcoord.KafkaErrorf(zkcoord.ErrInvalidTopic, "The topic is queued for deletion.")
			}
		}
	}
	cur, version, err := b.zk.GetTopicAssignment(ctx, t.Topic)
	if errors.Is(err, zkcoord.ErrUnknownTopic) {
		return zkcoord.KafkaErrorf(zkcoord.ErrUnknownTopic, "The topic '%s' does not exist.", t.Topic)
	}
	if err != nil {
		return err
	}
	if ok, _, err := b.zk.Exists(ctx, zkcoord.ReassignPartitionsPath); err != nil {
		return err
	} else if ok {
		return zkcoord.KafkaErrorf(zkcoord.ErrReassignmentInProgress, "A partition reassignment is in progress.")
	}
	var manual [][]int32
	if t.Assignment != nil {
		manual = [][]int32{}
		for _, a := range t.Assignment {
			manual = append(manual, a.Replicas)
		}
	}
	added, err := zkcoord.PlanPartitionIncrease(t.Topic, cur.Partitions, t.Count, manual, b.meta.aliveBrokerIDs())
	if err != nil || validateOnly {
		return err
	}
	err = b.zk.AddPartitions(ctx, t.Topic, cur, version, added)
	if errors.Is(err, zkcoord.ErrBadVersion) {
		return fmt.Errorf("the assignment of %s changed while partitions were being added; try again", t.Topic)
	}
	return err
}

func createPartitionsErrorCode(err error) int16 {
	switch {
	case errors.Is(err, zkcoord.ErrBrokerNotAvailable):
		return kerr.BrokerNotAvailable.Code
	case errors.Is(err, zkcoord.ErrReassignmentInProgress):
		return kerr.ReassignmentInProgress.Code
	}
	return topicErrorCode(err)
}
