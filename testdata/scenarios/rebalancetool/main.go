// Command rebalancetool is the Go half of testdata/scenarios/rebalance.sh:
//
//	rebalancetool wait-settled --zookeeper Z --group G --topic T --members a,b --since UNIX_MS
//	    watches /consumers/G/owners/T in ZooKeeper until every partition of T
//	    is owned by a thread of one of the members (consumer ids), then prints
//	    "settled in D" (D measured from --since) and the ownership.
//	rebalancetool add-partitions --zookeeper Z --topic T --partitions N
//	    raises T's partition count as Kafka 2.4's AdminZkClient.addPartitions
//	    does: new replicas placed by the rack-unaware assignor starting at the
//	    broker of partition 0's first replica, written with setData to
//	    /brokers/topics/T (the controller then creates the partitions).
//
// It is a scenario helper, not a product command (zkafka topics --alter
// --partitions does not exist yet).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/zkafka/zkafka/internal/ownercheck"
	"github.com/zkafka/zkafka/zkcoord"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: rebalancetool wait-settled|add-partitions [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	zkConnect := fs.String("zookeeper", "127.0.0.1:2181", "zookeeper.connect (HOST:PORT[/chroot])")
	group := fs.String("group", "", "consumer group")
	topic := fs.String("topic", "", "topic")
	members := fs.String("members", "", "comma-separated consumer ids that should own the partitions")
	since := fs.Int64("since", 0, "epoch ms the settle time is measured from (default: now)")
	partitions := fs.Int("partitions", 0, "new partition count")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after")
	_ = fs.Parse(os.Args[2:])
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var err error
	switch os.Args[1] {
	case "wait-settled":
		err = waitSettled(ctx, *zkConnect, *group, *topic, strings.Split(*members, ","), *since)
	case "add-partitions":
		err = addPartitions(ctx, *zkConnect, *topic, int32(*partitions))
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func waitSettled(ctx context.Context, connect, group, topic string, members []string, sinceMs int64) error {
	start := time.Now()
	if sinceMs > 0 {
		start = time.UnixMilli(sinceMs)
	}
	s, err := zkcoord.Connect(ctx, connect, 10*time.Second, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	a, _, err := s.GetTopicAssignment(ctx, topic)
	if err != nil {
		return err
	}
	servers, chroot, err := zkcoord.ParseConnectString(connect)
	if err != nil {
		return err
	}
	k, err := ownercheck.Start(servers[0], chroot, group)
	if err != nil {
		return err
	}
	defer k.Stop()
	owners, at, err := k.WaitSettled(ctx, map[string]int32{topic: int32(len(a.Partitions))}, members)
	if err != nil {
		return err
	}
	fmt.Printf("settled in %s (%d partitions over %s)\n", at.Sub(start).Round(time.Millisecond), len(a.Partitions), strings.Join(members, ", "))
	var tps []ownercheck.TP
	for tp := range owners {
		tps = append(tps, tp)
	}
	sort.Slice(tps, func(i, j int) bool { return tps[i].Partition < tps[j].Partition })
	for _, tp := range tps {
		fmt.Printf("  %s -> %s\n", tp, owners[tp])
	}
	return nil
}

func addPartitions(ctx context.Context, connect, topic string, n int32) error {
	s, err := zkcoord.Connect(ctx, connect, 10*time.Second, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	a, version, err := s.GetTopicAssignment(ctx, topic)
	if err != nil {
		return err
	}
	existing := int32(len(a.Partitions))
	p0, ok := a.Partitions[0]
	if !ok || len(p0) == 0 {
		return fmt.Errorf("the topic %s does not have partition 0", topic)
	}
	if n <= existing {
		return fmt.Errorf("the number of partitions for a topic can only be increased. Topic %s currently has %d partitions, %d would not be an increase", topic, existing, n)
	}
	brokers, err := s.GetBrokerIDs(ctx)
	if err != nil {
		return err
	}
	sort.Slice(brokers, func(i, j int) bool { return brokers[i] < brokers[j] })
	start := int32(0)
	for i, b := range brokers {
		if b >= p0[0] {
			start = int32(i)
			break
		}
	}
	added, err := zkcoord.AssignReplicasRackUnaware(n-existing, int16(len(p0)), brokers, start, existing)
	if err != nil {
		return err
	}
	for p, r := range added {
		a.Partitions[p] = r
	}
	if _, err := s.Set(ctx, zkcoord.TopicPath(topic), zkcoord.EncodeTopicAssignment(a), version); err != nil {
		if errors.Is(err, zkcoord.ErrBadVersion) {
			return fmt.Errorf("topic %s changed meanwhile; try again", topic)
		}
		return err
	}
	fmt.Printf("Adding partitions succeeded: %s now has %d partitions\n", topic, n)
	return nil
}
