package broker

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/zkcoord"
)

// handleDeleteTopics marks topics for deletion under /admin/delete_topics and
// waits (up to the timeout) until the controller has deleted them.
func (b *Broker) handleDeleteTopics(ctx context.Context, rc *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	var marked []int
	for _, name := range req.TopicNames {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		n := name
		rt.Topic = &n
		switch {
		case !b.cfg.DeleteTopicEnable && req.Version >= 3:
			rt.ErrorCode = kerr.TopicDeletionDisabled.Code
		case !b.cfg.DeleteTopicEnable: // TOPIC_DELETION_DISABLED exists from v3
			rt.ErrorCode = kerr.InvalidRequest.Code
		case !b.meta.hasTopic(name):
			rt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		default:
			err := b.zk.MarkTopicForDeletion(ctx, name)
			switch {
			case err == nil:
				rc.log.WithField("topic", name).Info("marked topic for deletion")
				marked = append(marked, len(resp.Topics))
			case errors.Is(err, zkcoord.ErrTopicMarkedForDeletion):
				marked = append(marked, len(resp.Topics)) // already under way: wait for it too
			default:
				rt.ErrorCode = topicErrorCode(err)
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if len(marked) > 0 && req.TimeoutMillis > 0 {
		gone := func() bool {
			for _, i := range marked {
				if b.meta.hasTopic(*resp.Topics[i].Topic) {
					return false
				}
			}
			return true
		}
		if !b.waitForMetadata(ctx, time.Duration(max(req.TimeoutMillis, 0))*time.Millisecond, gone) {
			for _, i := range marked {
				if b.meta.hasTopic(*resp.Topics[i].Topic) {
					resp.Topics[i].ErrorCode = kerr.RequestTimedOut.Code
				}
			}
		}
	}
	return resp, nil
}
