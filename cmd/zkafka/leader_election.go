package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/urfave/cli/v2"
)

func leaderElectionCommand() *cli.Command {
	return &cli.Command{
		Name:  "leader-election",
		Usage: "elect preferred or unclean leaders (like kafka-leader-election.sh)",
		Description: "Runs leader elections through the controller (ElectLeaders API) for one partition\n" +
			"(--topic and --partition), every partition (--all-topic-partitions) or those listed in\n" +
			"a JSON file (--path-to-json-file: {\"partitions\":[{\"topic\":\"t\",\"partition\":0}]}).\n" +
			"The controller answers once its metadata shows the elected leaders, so a success printed\n" +
			"here holds; elections not visible within 30 s are reported as timed out.\n\n" +
			"Example: zkafka leader-election --bootstrap-server localhost:9092 --election-type preferred --all-topic-partitions",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "bootstrap-server", Usage: "`HOST:PORT` of a broker (comma-separated for several)"},
			&cli.StringFlag{Name: "election-type", Usage: "`TYPE` of election: preferred or unclean"},
			&cli.StringFlag{Name: "topic", Usage: "`TOPIC` of the partition to elect (with --partition)"},
			&cli.IntFlag{Name: "partition", Value: -1, Usage: "`PARTITION` to elect (with --topic)"},
			&cli.BoolFlag{Name: "all-topic-partitions", Usage: "elect every partition"},
			&cli.StringFlag{Name: "path-to-json-file", Usage: "`FILE` listing the partitions to elect"},
		},
		Action: runLeaderElection,
	}
}

// electionPartitionsJSON is the --path-to-json-file format (and
// /admin/preferred_replica_election's).
type electionPartitionsJSON struct {
	Partitions []struct {
		Topic     string `json:"topic"`
		Partition *int32 `json:"partition"`
	} `json:"partitions"`
}

// readElectionPartitions parses a partitions JSON file as 2.4's
// parsePreferredReplicaElectionData does (duplicates refused).
func readElectionPartitions(path string) (map[string][]int32, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var j electionPartitionsJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %v", path, err)
	}
	if j.Partitions == nil {
		return nil, fmt.Errorf("Replica election data is empty")
	}
	out := map[string][]int32{}
	seen := map[string]bool{}
	var dups []string
	for _, p := range j.Partitions {
		if p.Topic == "" || p.Partition == nil {
			return nil, fmt.Errorf("%s: every entry needs \"topic\" and \"partition\"", path)
		}
		k := fmt.Sprintf("%s-%d", p.Topic, *p.Partition)
		if seen[k] {
			dups = append(dups, k)
			continue
		}
		seen[k] = true
		out[p.Topic] = append(out[p.Topic], *p.Partition)
	}
	if len(dups) > 0 {
		return nil, fmt.Errorf("Replica election data contains duplicate partitions: %s", strings.Join(dups, ","))
	}
	return out, nil
}

func runLeaderElection(c *cli.Context) error {
	bootstrap := c.String("bootstrap-server")
	if bootstrap == "" {
		return usageErrorf(c, "Missing required option(s): [bootstrap-server]")
	}
	var typ int8
	switch strings.ToLower(c.String("election-type")) {
	case "preferred":
		typ = 0
	case "unclean":
		typ = 1
	case "":
		return usageErrorf(c, "Missing required option(s): [election-type]")
	default:
		return usageErrorf(c, "Invalid election type %q: use preferred or unclean", c.String("election-type"))
	}
	n := 0
	for _, f := range []string{"topic", "all-topic-partitions", "path-to-json-file"} {
		if c.IsSet(f) {
			n++
		}
	}
	if n != 1 {
		return usageErrorf(c, "One and only one of the following options is required: all-topic-partitions, topic, path-to-json-file")
	}
	var partitions map[string][]int32 // nil: all
	switch {
	case c.IsSet("topic"):
		if c.Int("partition") < 0 {
			return usageErrorf(c, "Missing required option(s): [partition]")
		}
		partitions = map[string][]int32{c.String("topic"): {int32(c.Int("partition"))}}
	case c.IsSet("path-to-json-file"):
		var err error
		if partitions, err = readElectionPartitions(c.String("path-to-json-file")); err != nil {
			return failf("Error: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(c.Context, 60*time.Second)
	defer cancel()
	conn, _, err := controllerConn(ctx, bootstrap, "zkafka-leader-election")
	if err != nil {
		return failf("Error: %v", err)
	}
	defer conn.Close()
	req := kmsg.NewPtrElectLeadersRequest()
	req.ElectionType = typ
	req.TimeoutMillis = 30000
	if partitions != nil {
		req.Topics = []kmsg.ElectLeadersRequestTopic{}
		topics := make([]string, 0, len(partitions))
		for t := range partitions {
			topics = append(topics, t)
		}
		sort.Strings(topics)
		for _, t := range topics {
			rt := kmsg.NewElectLeadersRequestTopic()
			rt.Topic, rt.Partitions = t, partitions[t]
			req.Topics = append(req.Topics, rt)
		}
	}
	if err := conn.PickVersion(ctx, req, 2); err != nil {
		return failf("Error: %v", err)
	}
	if typ == 1 && req.Version < 1 {
		return failf("Error: the controller does not support unclean elections through ElectLeaders")
	}
	r, err := conn.Request(ctx, req)
	if err != nil {
		return failf("Error: %v", err)
	}
	resp := r.(*kmsg.ElectLeadersResponse)
	if resp.ErrorCode != 0 {
		return failf("Error: %v", javaException(resp.ErrorCode, nil))
	}
	kind := "PREFERRED"
	if typ == 1 {
		kind = "UNCLEAN"
	}
	var succeeded, noop, failed []string
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			name := fmt.Sprintf("%s-%d", t.Topic, p.Partition)
			switch p.ErrorCode {
			case 0:
				succeeded = append(succeeded, name)
			case kerr.ElectionNotNeeded.Code:
				noop = append(noop, name)
			default:
				failed = append(failed, fmt.Sprintf("Error completing leader election (%s) for partition: %s: %s", kind, name, javaException(p.ErrorCode, p.ErrorMessage)))
			}
		}
	}
	w := c.App.Writer
	if len(succeeded) > 0 {
		fmt.Fprintf(w, "Successfully completed leader election (%s) for partitions %s\n", kind, strings.Join(succeeded, ", "))
	}
	if len(noop) > 0 {
		fmt.Fprintf(w, "Valid replica already elected for partitions %s\n", strings.Join(noop, ", "))
	}
	for _, f := range failed {
		fmt.Fprintln(w, f)
	}
	if len(failed) > 0 {
		return failf("Error: %d replica(s) could not be elected", len(failed))
	}
	return nil
}
