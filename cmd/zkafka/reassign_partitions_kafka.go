package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
	"github.com/zkafka/zkafka/zkcoord"
)

// reassign-partitions --bootstrap-server: the AdminClient flow of
// kafka-reassign-partitions.sh (KIP-455, the tool of Kafka 2.6, the first
// to speak these APIs): AlterPartitionReassignments and
// ListPartitionReassignments sent to the controller, Metadata for the
// current replicas. Its output is 2.6's.

// cannotExecuteBecauseOfExisting is 2.6's cannotExecuteBecauseOfExistingMessage.
const cannotExecuteBecauseOfExisting = "Cannot execute because there is an existing partition assignment.  " +
	"Use --additional to override this and create a new partition assignment in addition to the existing one."

// reassignClient talks to the controller found through the bootstrap
// brokers; a request answered NOT_CONTROLLER (the controller moved) is sent
// again to the new one, as the AdminClient retries.
type reassignClient struct {
	bootstrap string
	conn      *wire.Conn
	meta      *kmsg.MetadataResponse
}

func newReassignClient(ctx context.Context, bootstrap string) (*reassignClient, error) {
	c := &reassignClient{bootstrap: bootstrap}
	return c, c.connect(ctx)
}

func (c *reassignClient) connect(ctx context.Context) error {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
	conn, meta, err := controllerConn(ctx, c.bootstrap, "reassign-partitions-tool")
	if err != nil {
		return err
	}
	c.conn, c.meta = conn, meta
	return nil
}

func (c *reassignClient) Close() {
	if c.conn != nil {
		c.conn.Close()
	}
}

// request sends req (a KIP-455 request, v0) to the controller, finding it
// again after NOT_CONTROLLER; topErr returns a response's top-level code.
func (c *reassignClient) request(ctx context.Context, req kmsg.Request, topErr func(kmsg.Response) int16) (kmsg.Response, error) {
	backoff := 100 * time.Millisecond
	for {
		if err := c.conn.PickVersion(ctx, req, 0); err != nil {
			return nil, fmt.Errorf("the controller (broker %d) does not support %s: %v", c.meta.ControllerID, kmsg.NameForKey(req.Key()), err)
		}
		resp, err := c.conn.Request(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("%s to the controller: %w", kmsg.NameForKey(req.Key()), err)
		}
		if topErr(resp) != kerr.NotController.Code {
			return resp, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: the controller kept moving: %w", kmsg.NameForKey(req.Key()), ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
		if err := c.connect(ctx); err != nil {
			return nil, err
		}
	}
}

// ongoingReassignment is one partition of ListPartitionReassignments.
type ongoingReassignment struct {
	replicas, adding, removing []int32
}

// list returns the reassignments in progress among tps (nil: all).
func (c *reassignClient) list(ctx context.Context, tps []zkcoord.TopicPartition) (map[zkcoord.TopicPartition]ongoingReassignment, error) {
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	req.TimeoutMillis = 30000
	if tps != nil {
		byTopic := map[string]int{}
		req.Topics = []kmsg.ListPartitionReassignmentsRequestTopic{}
		for _, tp := range tps {
			i, ok := byTopic[tp.Topic]
			if !ok {
				t := kmsg.NewListPartitionReassignmentsRequestTopic()
				t.Topic = tp.Topic
				req.Topics = append(req.Topics, t)
				i = len(req.Topics) - 1
				byTopic[tp.Topic] = i
			}
			req.Topics[i].Partitions = append(req.Topics[i].Partitions, tp.Partition)
		}
	}
	r, err := c.request(ctx, req, func(r kmsg.Response) int16 { return r.(*kmsg.ListPartitionReassignmentsResponse).ErrorCode })
	if err != nil {
		return nil, err
	}
	resp := r.(*kmsg.ListPartitionReassignmentsResponse)
	if resp.ErrorCode != 0 {
		return nil, errors.New(javaException(resp.ErrorCode, resp.ErrorMessage))
	}
	out := map[zkcoord.TopicPartition]ongoingReassignment{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out[zkcoord.TopicPartition{Topic: t.Topic, Partition: p.Partition}] = ongoingReassignment{p.Replicas, p.AddingReplicas, p.RemovingReplicas}
		}
	}
	return out, nil
}

// alter sends AlterPartitionReassignments for parts (nil replicas: cancel)
// and returns the partitions that failed, with their error.
func (c *reassignClient) alter(ctx context.Context, parts []tpReplicas) (map[zkcoord.TopicPartition]string, error) {
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	req.TimeoutMillis = 30000
	byTopic := map[string]int{}
	for _, p := range parts {
		i, ok := byTopic[p.tp.Topic]
		if !ok {
			t := kmsg.NewAlterPartitionAssignmentsRequestTopic()
			t.Topic = p.tp.Topic
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			byTopic[p.tp.Topic] = i
		}
		rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		rp.Partition, rp.Replicas = p.tp.Partition, p.replicas
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	r, err := c.request(ctx, req, func(r kmsg.Response) int16 { return r.(*kmsg.AlterPartitionAssignmentsResponse).ErrorCode })
	if err != nil {
		return nil, err
	}
	resp := r.(*kmsg.AlterPartitionAssignmentsResponse)
	if resp.ErrorCode != 0 {
		return nil, errors.New(javaException(resp.ErrorCode, resp.ErrorMessage))
	}
	failed := map[zkcoord.TopicPartition]string{}
	answered := map[zkcoord.TopicPartition]bool{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			tp := zkcoord.TopicPartition{Topic: t.Topic, Partition: p.Partition}
			answered[tp] = true
			if p.ErrorCode != 0 {
				failed[tp] = errorMessage(p.ErrorCode, p.ErrorMessage)
			}
		}
	}
	for _, p := range parts {
		if !answered[p.tp] {
			failed[p.tp] = "the controller did not answer for this partition"
		}
	}
	return failed, nil
}

// errorMessage is an ApiException's getMessage: the broker's message, or
// the error's default one.
func errorMessage(code int16, msg *string) string {
	if msg != nil && *msg != "" {
		return *msg
	}
	if e, ok := kerr.ErrorForCode(code).(*kerr.Error); ok {
		return e.Description
	}
	return fmt.Sprintf("error code %d", code)
}

// replicasNow returns the replica lists Metadata shows for tps (absent:
// unknown partition).
func (c *reassignClient) replicasNow(ctx context.Context, tps []zkcoord.TopicPartition) (map[zkcoord.TopicPartition][]int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	seen := map[string]bool{}
	for _, tp := range tps {
		if !seen[tp.Topic] {
			seen[tp.Topic] = true
			t := kmsg.NewMetadataRequestTopic()
			name := tp.Topic
			t.Topic = &name
			req.Topics = append(req.Topics, t)
		}
	}
	if err := c.conn.PickVersion(ctx, req, 7); err != nil {
		return nil, err
	}
	r, err := c.conn.Request(ctx, req)
	if err != nil {
		return nil, err
	}
	out := map[zkcoord.TopicPartition][]int32{}
	for _, t := range r.(*kmsg.MetadataResponse).Topics {
		if t.ErrorCode != 0 || t.Topic == nil {
			continue
		}
		for _, p := range t.Partitions {
			out[zkcoord.TopicPartition{Topic: *t.Topic, Partition: p.Partition}] = p.Replicas
		}
	}
	return out, nil
}

func tpsOf(parts []tpReplicas) []zkcoord.TopicPartition {
	out := make([]zkcoord.TopicPartition, len(parts))
	for i, p := range parts {
		out[i] = p.tp
	}
	return out
}

func joinTPs(tps []zkcoord.TopicPartition) string {
	sortZkTPs(tps)
	s := make([]string, len(tps))
	for i, tp := range tps {
		s[i] = tp.String()
	}
	return strings.Join(s, ",")
}

func sortZkTPs(tps []zkcoord.TopicPartition) {
	slices.SortFunc(tps, func(a, b zkcoord.TopicPartition) int {
		if a.Topic != b.Topic {
			return strings.Compare(a.Topic, b.Topic)
		}
		return int(a.Partition) - int(b.Partition)
	})
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// executeAssignmentKafka is 2.6's executeAssignment(adminClient, ...).
func executeAssignmentKafka(ctx context.Context, c *reassignClient, path string, additional bool, w io.Writer) error {
	parts, err := readReassignment(ctx, nil, path, false)
	if err != nil {
		return err
	}
	current, err := c.list(ctx, nil)
	if err != nil {
		return err
	}
	if !additional && len(current) > 0 {
		return errors.New(cannotExecuteBecauseOfExisting)
	}
	live := map[int32]bool{}
	for _, b := range c.meta.Brokers {
		live[b.NodeID] = true
	}
	for _, p := range parts {
		for _, r := range p.replicas {
			if !live[r] {
				return fmt.Errorf("Unknown broker id %d", r)
			}
		}
	}
	now, err := c.replicasNow(ctx, tpsOf(parts))
	if err != nil {
		return err
	}
	var cur []tpReplicas
	for _, p := range parts {
		reps, ok := now[p.tp]
		if !ok {
			return fmt.Errorf("Unable to find partition: %s", p.tp)
		}
		cur = append(cur, tpReplicas{p.tp, reps})
	}
	sortTPReplicas(cur)
	fmt.Fprintf(w, "Current partition replica assignment\n\n%s\n\nSave this to use as the --reassignment-json-file option during rollback\n", formatReassignmentJSON(cur))
	failed, err := c.alter(ctx, parts)
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("Error reassigning partition(s):\n%s", failedLines(failed))
	}
	fmt.Fprintf(w, "Successfully started partition reassignment%s for %s\n", plural(len(parts)), joinTPs(tpsOf(parts)))
	return nil
}

func failedLines(failed map[zkcoord.TopicPartition]string) string {
	tps := make([]zkcoord.TopicPartition, 0, len(failed))
	for tp := range failed {
		tps = append(tps, tp)
	}
	sortZkTPs(tps)
	lines := make([]string, len(tps))
	for i, tp := range tps {
		lines[i] = tp.String() + ": " + failed[tp]
	}
	return strings.Join(lines, "\n")
}

// verifyAssignmentKafka is 2.6's verifyPartitionAssignments: a partition
// is in progress while ListPartitionReassignments lists it, then complete
// if Metadata shows the target replicas.
func verifyAssignmentKafka(ctx context.Context, c *reassignClient, path string, w io.Writer) error {
	parts, err := readReassignment(ctx, nil, path, false)
	if err != nil {
		return err
	}
	current, err := c.list(ctx, nil)
	if err != nil {
		return err
	}
	now, err := c.replicasNow(ctx, tpsOf(parts))
	if err != nil {
		return err
	}
	sortTPReplicas(parts)
	fmt.Fprintln(w, "Status of partition reassignment:")
	for _, p := range parts {
		switch reps := now[p.tp]; {
		case current[p.tp].replicas != nil:
			fmt.Fprintf(w, "Reassignment of partition %s is still in progress.\n", p.tp)
		case slices.Equal(reps, p.replicas):
			fmt.Fprintf(w, "Reassignment of partition %s is complete.\n", p.tp)
		default:
			fmt.Fprintf(w, "There is no active reassignment of partition %s, but replica set is %s rather than %s.\n",
				p.tp, joinIDs(reps), joinIDs(p.replicas))
		}
	}
	return nil
}

// cancelAssignmentKafka is 2.6's cancelAssignment: the partitions of the
// file being reassigned get a null replica list (back to their original
// replicas).
func cancelAssignmentKafka(ctx context.Context, c *reassignClient, path string, w io.Writer) error {
	parts, err := readReassignment(ctx, nil, path, false)
	if err != nil {
		return err
	}
	current, err := c.list(ctx, tpsOf(parts))
	if err != nil {
		return err
	}
	var cancel []tpReplicas
	for _, p := range parts {
		if r, ok := current[p.tp]; ok && len(r.adding)+len(r.removing) > 0 {
			cancel = append(cancel, tpReplicas{tp: p.tp})
		}
	}
	if len(cancel) == 0 {
		fmt.Fprintln(w, "None of the specified partition reassignments are active.")
	} else {
		failed, err := c.alter(ctx, cancel)
		if err != nil {
			return err
		}
		if len(failed) > 0 {
			return fmt.Errorf("Error cancelling partition reassignment%s for:\n%s", plural(len(failed)), failedLines(failed))
		}
		fmt.Fprintf(w, "Successfully cancelled partition reassignment%s for: %s\n", plural(len(cancel)), joinTPs(tpsOf(cancel)))
	}
	// zkafka has no replica log directory moves (log_dirs other than
	// "any" are refused), so there are never any to cancel.
	fmt.Fprintln(w, "None of the specified partition moves are active.")
	return nil
}

// listReassignmentsKafka is 2.6's listReassignments.
func listReassignmentsKafka(ctx context.Context, c *reassignClient, w io.Writer) error {
	current, err := c.list(ctx, nil)
	if err != nil {
		return err
	}
	if len(current) == 0 {
		fmt.Fprintln(w, "No partition reassignments found.")
		return nil
	}
	tps := make([]zkcoord.TopicPartition, 0, len(current))
	for tp := range current {
		tps = append(tps, tp)
	}
	sortZkTPs(tps)
	fmt.Fprintln(w, "Current partition reassignments:")
	for _, tp := range tps {
		r := current[tp]
		line := fmt.Sprintf("%s: replicas: %s.", tp, joinIDs(r.replicas))
		if len(r.adding) > 0 {
			line += fmt.Sprintf(" adding: %s.", joinIDs(r.adding))
		}
		if len(r.removing) > 0 {
			line += fmt.Sprintf(" removing: %s.", joinIDs(r.removing))
		}
		fmt.Fprintln(w, line)
	}
	return nil
}

// generateAssignmentKafka is --generate with the current replicas read
// from Metadata.
func generateAssignmentKafka(ctx context.Context, c *reassignClient, topicsFile, brokerList string, w io.Writer) error {
	return generateWith(topicsFile, brokerList, w, func(topics []string) ([]tpReplicas, error) {
		var out []tpReplicas
		for _, t := range c.meta.Topics {
			if t.Topic == nil || t.ErrorCode != 0 || !slices.Contains(topics, *t.Topic) {
				continue
			}
			for _, p := range t.Partitions {
				out = append(out, tpReplicas{zkcoord.TopicPartition{Topic: *t.Topic, Partition: p.Partition}, p.Replicas})
			}
		}
		sortTPReplicas(out)
		return out, nil
	})
}
