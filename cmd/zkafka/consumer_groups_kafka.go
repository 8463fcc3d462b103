package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
)

// kafkaClient is a small Kafka-protocol client for the consumer-groups
// tool: metadata, log offsets and group requests to coordinators.
type kafkaClient struct {
	bootstrap []string
	conns     map[string]*wire.Conn
}

func newKafkaClient(bootstrap []string) *kafkaClient {
	return &kafkaClient{bootstrap: bootstrap, conns: map[string]*wire.Conn{}}
}

func (k *kafkaClient) Close() {
	for _, c := range k.conns {
		c.Close()
	}
}

func (k *kafkaClient) conn(ctx context.Context, addr string) (*wire.Conn, error) {
	if c, ok := k.conns[addr]; ok {
		return c, nil
	}
	c, err := wire.Dial(ctx, addr, "zkafka-consumer-groups")
	if err != nil {
		return nil, err
	}
	k.conns[addr] = c
	return c, nil
}

// request sends req at the highest version both sides speak (up to max).
func (k *kafkaClient) request(ctx context.Context, addr string, req kmsg.Request, max int16) (kmsg.Response, error) {
	c, err := k.conn(ctx, addr)
	if err != nil {
		return nil, err
	}
	if err := c.PickVersion(ctx, req, max); err != nil {
		return nil, err
	}
	resp, err := c.Request(ctx, req)
	if err != nil {
		c.Close()
		delete(k.conns, addr)
	}
	return resp, err
}

// any sends req to the first bootstrap broker that answers.
func (k *kafkaClient) any(ctx context.Context, req kmsg.Request, max int16) (kmsg.Response, error) {
	var last error
	for _, addr := range k.bootstrap {
		resp, err := k.request(ctx, addr, req, max)
		if err == nil {
			return resp, nil
		}
		last = err
	}
	return nil, brokerReachError(last, joinList(k.bootstrap))
}

func joinList(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

func (k *kafkaClient) metadata(ctx context.Context, topics []string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	if topics != nil {
		for _, t := range topics {
			t := t
			req.Topics = append(req.Topics, kmsg.MetadataRequestTopic{Topic: &t})
		}
	} else {
		req.Topics = nil
	}
	resp, err := k.any(ctx, req, 7)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}

func brokerAddrs(m *kmsg.MetadataResponse) map[int32]string {
	out := map[int32]string{}
	for _, b := range m.Brokers {
		out[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	}
	return out
}

// partitions lists a topic's partition ids.
func (k *kafkaClient) partitions(ctx context.Context, topic string) ([]int32, error) {
	m, err := k.metadata(ctx, []string{topic})
	if err != nil {
		return nil, err
	}
	for _, t := range m.Topics {
		if t.Topic != nil && *t.Topic == topic {
			if t.ErrorCode != 0 {
				return nil, fmt.Errorf("topic '%s': %s", topic, kerr.ErrorForCode(t.ErrorCode))
			}
			var ps []int32
			for _, p := range t.Partitions {
				ps = append(ps, p.Partition)
			}
			sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
			return ps, nil
		}
	}
	return nil, fmt.Errorf("topic '%s' does not exist", topic)
}

// logOffsets asks the leaders for the earliest (-2) or latest (-1) offset
// of each partition; partitions whose leader cannot answer are absent.
func (k *kafkaClient) logOffsets(ctx context.Context, tps []tp, which int64) (map[tp]int64, error) {
	topics := map[string]bool{}
	for _, x := range tps {
		topics[x.topic] = true
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	m, err := k.metadata(ctx, names)
	if err != nil {
		return nil, err
	}
	addrs := brokerAddrs(m)
	leader := map[tp]int32{}
	for _, t := range m.Topics {
		for _, p := range t.Partitions {
			if t.Topic != nil {
				leader[tp{*t.Topic, p.Partition}] = p.Leader
			}
		}
	}
	byLeader := map[int32][]tp{}
	for _, x := range tps {
		if l, ok := leader[x]; ok && l >= 0 {
			byLeader[l] = append(byLeader[l], x)
		}
	}
	out := map[tp]int64{}
	for l, parts := range byLeader {
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID = -1
		for _, x := range parts {
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = x.topic
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch, rp.MaxNumOffsets = x.partition, which, -1, 1
			rt.Partitions = []kmsg.ListOffsetsRequestTopicPartition{rp}
			req.Topics = append(req.Topics, rt)
		}
		resp, err := k.request(ctx, addrs[l], req, 1)
		if err != nil {
			continue
		}
		for _, t := range resp.(*kmsg.ListOffsetsResponse).Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode == 0 {
					out[tp{t.Topic, p.Partition}] = p.Offset
				}
			}
		}
	}
	return out, nil
}

// coordinator finds the group's coordinator address, retrying while it is
// not available (the offsets topic may be being created).
func (k *kafkaClient) coordinator(ctx context.Context, group string) (string, error) {
	for {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey = group
		resp, err := k.any(ctx, req, 2)
		if err != nil {
			return "", err
		}
		r := resp.(*kmsg.FindCoordinatorResponse)
		if r.ErrorCode == 0 {
			return net.JoinHostPort(r.Host, strconv.Itoa(int(r.Port))), nil
		}
		if e := kerr.ErrorForCode(r.ErrorCode); !kerr.IsRetriable(e) {
			return "", fmt.Errorf("find the coordinator of group '%s': %w", group, e)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("find the coordinator of group '%s': %w", group, kerr.ErrorForCode(r.ErrorCode))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// brokerGroups is groupAdmin through the brokers (Kafka protocol).
type brokerGroups struct{ k *kafkaClient }

func (b *brokerGroups) Close() { b.k.Close() }

func (b *brokerGroups) client() *kafkaClient { return b.k }

func (b *brokerGroups) ListGroups(ctx context.Context) ([]string, error) {
	m, err := b.k.metadata(ctx, []string{})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, addr := range brokerAddrs(m) {
		resp, err := b.k.request(ctx, addr, kmsg.NewPtrListGroupsRequest(), 2)
		if err != nil {
			return nil, err
		}
		r := resp.(*kmsg.ListGroupsResponse)
		if r.ErrorCode != 0 {
			return nil, fmt.Errorf("list groups on %s: %w", addr, kerr.ErrorForCode(r.ErrorCode))
		}
		for _, g := range r.Groups {
			seen[g.Group] = true
		}
	}
	return sortedSet(seen), nil
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (b *brokerGroups) DescribeGroup(ctx context.Context, group string) (groupDescription, error) {
	addr, err := b.k.coordinator(ctx, group)
	if err != nil {
		return groupDescription{}, err
	}
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{group}
	resp, err := b.k.request(ctx, addr, req, 4)
	if err != nil {
		return groupDescription{}, err
	}
	g := resp.(*kmsg.DescribeGroupsResponse).Groups[0]
	if g.ErrorCode != 0 {
		return groupDescription{}, fmt.Errorf("describe group '%s': %w", group, kerr.ErrorForCode(g.ErrorCode))
	}
	d := groupDescription{State: g.State, Committed: map[tp]int64{}}
	for _, m := range g.Members {
		gm := groupMember{ConsumerID: m.MemberID, Host: m.ClientHost, ClientID: m.ClientID}
		var a kmsg.ConsumerMemberAssignment
		if len(m.MemberAssignment) > 0 && a.ReadFrom(m.MemberAssignment) == nil {
			for _, t := range a.Topics {
				for _, p := range t.Partitions {
					gm.Assigned = append(gm.Assigned, tp{t.Topic, p})
				}
			}
		}
		d.Members = append(d.Members, gm)
	}
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Group, of.Topics = group, nil
	resp, err = b.k.request(ctx, addr, of, 5)
	if err != nil {
		return groupDescription{}, err
	}
	r := resp.(*kmsg.OffsetFetchResponse)
	if r.ErrorCode != 0 {
		return groupDescription{}, fmt.Errorf("fetch offsets of group '%s': %w", group, kerr.ErrorForCode(r.ErrorCode))
	}
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode == 0 && p.Offset >= 0 {
				d.Committed[tp{t.Topic, p.Partition}] = p.Offset
			}
		}
	}
	return d, nil
}

func (b *brokerGroups) CommitOffsets(ctx context.Context, group string, offsets map[tp]int64) error {
	addr, err := b.k.coordinator(ctx, group)
	if err != nil {
		return err
	}
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation, req.RetentionTimeMillis = group, -1, -1
	byTopic := map[string][]kmsg.OffsetCommitRequestTopicPartition{}
	for x, o := range offsets {
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Partition, p.Offset, p.LeaderEpoch = x.partition, o, -1
		byTopic[x.topic] = append(byTopic[x.topic], p)
	}
	for t, ps := range byTopic {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic, rt.Partitions = t, ps
		req.Topics = append(req.Topics, rt)
	}
	resp, err := b.k.request(ctx, addr, req, 2)
	if err != nil {
		return err
	}
	for _, t := range resp.(*kmsg.OffsetCommitResponse).Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 {
				return fmt.Errorf("commit offset of %s-%d: %w", t.Topic, p.Partition, kerr.ErrorForCode(p.ErrorCode))
			}
		}
	}
	return nil
}

func (b *brokerGroups) DeleteGroup(ctx context.Context, group string) error {
	addr, err := b.k.coordinator(ctx, group)
	if err != nil {
		return err
	}
	req := kmsg.NewPtrDeleteGroupsRequest()
	req.Groups = []string{group}
	resp, err := b.k.request(ctx, addr, req, 1)
	if err != nil {
		return err
	}
	if code := resp.(*kmsg.DeleteGroupsResponse).Groups[0].ErrorCode; code != 0 {
		return kerr.ErrorForCode(code)
	}
	return nil
}

// kafkaErrorText is how kafka-consumer-groups.sh prints a Kafka error.
func kafkaErrorText(err error) string {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Description
	}
	return err.Error()
}
