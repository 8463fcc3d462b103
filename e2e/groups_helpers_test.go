package e2e

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-zookeeper/zk"
	kafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
)

// groupProps are broker settings for group tests: no initial rebalance
// delay (members join as fast as they can) and few offsets partitions.
func groupProps(extra map[string]string) map[string]string {
	p := map[string]string{"group.initial.rebalance.delay.ms": "0", "offsets.topic.num.partitions": "5"}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

// produceValues writes values "<prefix><i>" for i in [from, to) round-robin
// over the topic's partitions, acks=all.
func (e *env) produceValues(topic, prefix string, from, to int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A transport of its own: kafka-go's shared default one caches metadata
	// from before the topic existed.
	tr := &kafka.Transport{MetadataTTL: time.Second}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(e.bootstrapRunning()...), Topic: topic, Balancer: &kafka.RoundRobin{}, BatchTimeout: 5 * time.Millisecond,
		RequiredAcks: kafka.RequireAll, MaxAttempts: 60, Transport: tr}
	defer w.Close()
	var msgs []kafka.Message
	for i := from; i < to; i++ {
		msgs = append(msgs, kafka.Message{Value: []byte(prefix + strconv.Itoa(i))})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		e.t.Fatalf("produce to %s: %v", topic, err)
	}
}

// bootstrapRunning lists the addresses of the running brokers.
func (e *env) bootstrapRunning() []string {
	var out []string
	for _, b := range e.c.Brokers {
		if b.Running() {
			out = append(out, b.Addr())
		}
	}
	return out
}

// dialRunning dials the first running broker that answers.
func (e *env) dialRunning(ctx context.Context) (*wire.Conn, error) {
	var last error = errors.New("no broker running")
	for _, addr := range e.bootstrapRunning() {
		c, err := wire.Dial(ctx, addr, "e2e")
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}

// coordinator asks a running broker for the group's coordinator.
func (e *env) coordinator(ctx context.Context, group string) (int32, string, error) {
	c, err := e.dialRunning(ctx)
	if err != nil {
		return -1, "", err
	}
	defer c.Close()
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey = group
	req.SetVersion(2)
	r, err := c.Request(ctx, req)
	if err != nil {
		return -1, "", err
	}
	fr := r.(*kmsg.FindCoordinatorResponse)
	if fr.ErrorCode != 0 {
		return -1, "", fmt.Errorf("find coordinator: error %d", fr.ErrorCode)
	}
	return fr.NodeID, fmt.Sprintf("%s:%d", fr.Host, fr.Port), nil
}

// describeGroup asks the group's coordinator to describe it.
func (e *env) describeGroup(group string) (*kmsg.DescribeGroupsResponseGroup, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, addr, err := e.coordinator(ctx, group)
	if err != nil {
		return nil, err
	}
	c, err := wire.Dial(ctx, addr, "e2e")
	if err != nil {
		return nil, err
	}
	defer c.Close()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{group}
	req.SetVersion(4)
	r, err := c.Request(ctx, req)
	if err != nil {
		return nil, err
	}
	g := r.(*kmsg.DescribeGroupsResponse).Groups[0]
	if g.ErrorCode != 0 {
		return nil, fmt.Errorf("describe %s: error %d", group, g.ErrorCode)
	}
	return &g, nil
}

// waitGroupStable waits until the group is Stable with n members, each with
// a non-empty assignment.
func (e *env) waitGroupStable(group string, n int) {
	e.t.Helper()
	eventually(e.t, 60*time.Second, func() error {
		g, err := e.describeGroup(group)
		if err != nil {
			return err
		}
		if g.State != "Stable" || len(g.Members) != n {
			return fmt.Errorf("group %s: %s with %d members", group, g.State, len(g.Members))
		}
		for _, m := range g.Members {
			if assigned(m.MemberAssignment) == 0 {
				return fmt.Errorf("member %s has no partitions", m.MemberID)
			}
		}
		return nil
	})
}

// assigned counts the partitions of a consumer-protocol assignment.
func assigned(b []byte) int {
	var a kmsg.ConsumerMemberAssignment
	if err := a.ReadFrom(b); err != nil {
		return 0
	}
	n := 0
	for _, t := range a.Topics {
		n += len(t.Partitions)
	}
	return n
}

// zkOffsets reads /consumers/<g>/offsets/<t>/<p> with a plain ZooKeeper
// client, as zkCli would (-1 where there is none).
func (e *env) zkOffsets(group, topic string, partitions int) map[int32]int64 {
	e.t.Helper()
	c, _, err := zk.Connect([]string{e.zk.Addr()}, 10*time.Second, zk.WithLogger(zkQuiet{}))
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close()
	out := map[int32]int64{}
	for p := 0; p < partitions; p++ {
		data, _, err := c.Get(fmt.Sprintf("/zkafka/consumers/%s/offsets/%s/%d", group, topic, p))
		switch {
		case errors.Is(err, zk.ErrNoNode):
			out[int32(p)] = -1
		case err != nil:
			e.t.Fatal(err)
		default:
			v, err := strconv.ParseInt(string(data), 10, 64)
			if err != nil {
				e.t.Fatalf("offset znode of %s/%s/%d holds %q", group, topic, p, data)
			}
			out[int32(p)] = v
		}
	}
	return out
}

type zkQuiet struct{}

func (zkQuiet) Printf(string, ...any) {}

// logEndOffsets asks each partition's leader for its latest offset.
func (e *env) logEndOffsets(topic string, partitions int) map[int32]int64 {
	e.t.Helper()
	out := map[int32]int64{}
	eventually(e.t, 30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for p := 0; p < partitions; p++ {
			conn, err := kafka.DialLeader(ctx, "tcp", e.bootstrapRunning()[0], topic, p)
			if err != nil {
				return err
			}
			last, err := conn.ReadLastOffset()
			conn.Close()
			if err != nil {
				return err
			}
			out[int32(p)] = last
		}
		return nil
	})
	return out
}

// waitCommitted waits until the group's committed offsets in ZooKeeper
// equal the log end offsets.
func (e *env) waitCommitted(group, topic string, partitions int) map[int32]int64 {
	e.t.Helper()
	end := e.logEndOffsets(topic, partitions)
	eventually(e.t, 60*time.Second, func() error {
		got := e.zkOffsets(group, topic, partitions)
		for p, o := range end {
			if got[p] != o {
				return fmt.Errorf("group %s: %s-%d committed %d, log end %d", group, topic, p, got[p], o)
			}
		}
		return nil
	})
	return end
}
