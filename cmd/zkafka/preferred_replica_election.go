package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/zkafka/zkafka/zkcoord"
)

func preferredReplicaElectionCommand() *cli.Command {
	return &cli.Command{
		Name:  "preferred-replica-election",
		Usage: "start a preferred replica election through ZooKeeper (like kafka-preferred-replica-election.sh)",
		Description: "Writes /admin/preferred_replica_election with every partition, or those of\n" +
			"--path-to-json-file ({\"partitions\":[{\"topic\":\"t\",\"partition\":0}]}); the controller\n" +
			"elects the preferred replicas and deletes the znode. Deprecated in Kafka 2.4 in favour of\n" +
			"leader-election.\n\n" +
			"Example: zkafka preferred-replica-election --zookeeper localhost:2181",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "zookeeper", Usage: "`HOST:PORT[/chroot]` of ZooKeeper"},
			&cli.StringFlag{Name: "path-to-json-file", Usage: "`FILE` listing the partitions (default: all)"},
		},
		Action: runPreferredReplicaElection,
	}
}

func runPreferredReplicaElection(c *cli.Context) error {
	connect := c.String("zookeeper")
	if connect == "" {
		return usageErrorf(c, "Missing required argument \"[zookeeper]\"")
	}
	w := c.App.Writer
	fmt.Fprintln(w, "This tool is deprecated. Please use kafka-leader-election tool. Tool will be removed in a future release.")
	admin, err := newZKAdmin(c.Context, connect)
	if err != nil {
		return failf("Failed to start preferred replica election\n%v", err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(c.Context, zkToolTimeout)
	defer cancel()
	var tps []zkcoord.TopicPartition
	if f := c.String("path-to-json-file"); f != "" {
		parts, err := readElectionPartitions(f)
		if err != nil {
			return failf("Failed to start preferred replica election\n%v", err)
		}
		topics := make([]string, 0, len(parts))
		for t := range parts {
			topics = append(topics, t)
		}
		sort.Strings(topics)
		as, err := admin.s.GetTopicAssignments(ctx, topics)
		if err != nil {
			return failf("Failed to start preferred replica election\n%v", err)
		}
		for _, t := range topics {
			for _, p := range parts[t] {
				// 2.4 skips partitions that do not exist, with a message.
				if _, ok := as[t].Partitions[p]; !ok {
					fmt.Fprintf(w, "Skipping preferred replica leader election for partition %s-%d since it doesn't exist.\n", t, p)
					continue
				}
				tps = append(tps, zkcoord.TopicPartition{Topic: t, Partition: p})
			}
		}
	} else if tps, err = admin.s.GetAllPartitions(ctx); err != nil {
		return failf("Failed to start preferred replica election\n%v", err)
	}
	if err := admin.s.CreatePreferredReplicaElection(ctx, tps); err != nil {
		return failf("Failed to start preferred replica election\n%v", err)
	}
	names := make([]string, len(tps))
	for i, tp := range tps {
		names[i] = tp.String()
	}
	fmt.Fprintf(w, "Created preferred replica election path with %s\n", strings.Join(names, ","))
	fmt.Fprintf(w, "Successfully started preferred replica election for partitions Set(%s)\n", strings.Join(names, ", "))
	return nil
}
