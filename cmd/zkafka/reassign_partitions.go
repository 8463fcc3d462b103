package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/zkafka/zkafka/zkcoord"
)

func reassignPartitionsCommand() *cli.Command {
	return &cli.Command{
		Name:  "reassign-partitions",
		Usage: "move partition replicas between brokers (like kafka-reassign-partitions.sh)",
		Description: "Exactly one action:\n" +
			"  --generate --topics-to-move-json-file F --broker-list 1,2,3   propose an assignment\n" +
			"  --execute --reassignment-json-file F [--additional]          start it\n" +
			"  --verify --reassignment-json-file F                          show its progress\n" +
			"  --cancel --reassignment-json-file F                          revert the partitions of F still being\n" +
			"                                                               reassigned to their original replicas\n" +
			"  --list                                                       show every reassignment in progress\n\n" +
			"With --bootstrap-server the tool talks to the controller (AlterPartitionReassignments and\n" +
			"ListPartitionReassignments, as Kafka 2.6's tool does); with --zookeeper it writes\n" +
			"/admin/reassign_partitions as Kafka 2.4's does (--cancel and --list need --bootstrap-server).\n\n" +
			"Example: zkafka reassign-partitions --bootstrap-server localhost:9092 --reassignment-json-file plan.json --execute",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "bootstrap-server", Usage: "`HOST:PORT` of a broker (comma-separated for several)"},
			&cli.StringFlag{Name: "zookeeper", Usage: "`HOST:PORT[/chroot]` of ZooKeeper"},
			&cli.BoolFlag{Name: "generate", Usage: "propose an assignment of the topics of --topics-to-move-json-file to --broker-list"},
			&cli.BoolFlag{Name: "execute", Usage: "start the reassignment of --reassignment-json-file"},
			&cli.BoolFlag{Name: "verify", Usage: "check the reassignment of --reassignment-json-file"},
			&cli.BoolFlag{Name: "cancel", Usage: "cancel the reassignments of --reassignment-json-file (needs --bootstrap-server)"},
			&cli.BoolFlag{Name: "list", Usage: "list the reassignments in progress (needs --bootstrap-server)"},
			&cli.BoolFlag{Name: "additional", Usage: "with --execute and --bootstrap-server: start even if other reassignments are in progress"},
			&cli.StringFlag{Name: "reassignment-json-file", Usage: "`FILE` with {\"version\":1,\"partitions\":[{\"topic\",\"partition\",\"replicas\"}]}"},
			&cli.StringFlag{Name: "topics-to-move-json-file", Usage: "`FILE` with {\"topics\":[{\"topic\":\"t\"}],\"version\":1}"},
			&cli.StringFlag{Name: "broker-list", Usage: "`IDS` to move the topics to, e.g. 1,2,3"},
		},
		Action: runReassignPartitions,
	}
}

func runReassignPartitions(c *cli.Context) error {
	var actions []string
	for _, a := range []string{"generate", "execute", "verify", "cancel", "list"} {
		if c.Bool(a) {
			actions = append(actions, a)
		}
	}
	if len(actions) != 1 {
		return usageErrorf(c, "Command must include exactly one action: --generate, --execute, --verify, --cancel, --list")
	}
	action := actions[0]
	bootstrap, zkConnect := c.String("bootstrap-server"), c.String("zookeeper")
	switch {
	case bootstrap != "" && zkConnect != "":
		return usageErrorf(c, "Give either --bootstrap-server or --zookeeper, not both")
	case bootstrap == "" && zkConnect == "":
		return usageErrorf(c, "Please specify --bootstrap-server")
	case zkConnect != "" && (action == "cancel" || action == "list"):
		return usageErrorf(c, "--%s needs --bootstrap-server: ZooKeeper only records reassignments started through /admin/reassign_partitions", action)
	case c.Bool("additional") && (action != "execute" || bootstrap == ""):
		return usageErrorf(c, "--additional goes with --execute and --bootstrap-server")
	case action == "generate" && (c.String("topics-to-move-json-file") == "" || c.String("broker-list") == ""):
		return usageErrorf(c, "If --generate option is used, command must include both --topics-to-move-json-file and --broker-list options")
	case action != "generate" && action != "list" && c.String("reassignment-json-file") == "":
		return usageErrorf(c, "If --%s option is used, command must include --reassignment-json-file that was used during the --execute option", action)
	}
	if bootstrap != "" {
		return runReassignKafka(c, action, bootstrap)
	}
	admin, err := newZKAdmin(c.Context, zkConnect)
	if err != nil {
		return reassignFailure(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(c.Context, zkToolTimeout)
	defer cancel()
	w := c.App.Writer
	switch action {
	case "generate":
		err = generateAssignment(ctx, admin.s, c.String("topics-to-move-json-file"), c.String("broker-list"), w)
	case "execute":
		err = executeAssignment(ctx, admin.s, c.String("reassignment-json-file"), w)
	case "verify":
		err = verifyAssignment(ctx, admin.s, c.String("reassignment-json-file"), w)
	}
	if err != nil {
		return reassignFailure(err)
	}
	return nil
}

// runReassignKafka runs an action through the controller; failures print
// as 2.6's tool prints them ("Error: ..." or the tool's own sentence).
func runReassignKafka(c *cli.Context, action, bootstrap string) error {
	ctx, cancel := context.WithTimeout(c.Context, 60*time.Second)
	defer cancel()
	cl, err := newReassignClient(ctx, bootstrap)
	if err != nil {
		return failf("Error: %v", err)
	}
	defer cl.Close()
	w, file := c.App.Writer, c.String("reassignment-json-file")
	switch action {
	case "generate":
		err = generateAssignmentKafka(ctx, cl, c.String("topics-to-move-json-file"), c.String("broker-list"), w)
	case "execute":
		err = executeAssignmentKafka(ctx, cl, file, c.Bool("additional"), w)
	case "verify":
		err = verifyAssignmentKafka(ctx, cl, file, w)
	case "cancel":
		err = cancelAssignmentKafka(ctx, cl, file, w)
	case "list":
		err = listReassignmentsKafka(ctx, cl, w)
	}
	if err != nil {
		return failf("Error: %v", err)
	}
	return nil
}

func reassignFailure(err error) error {
	return failf("Partitions reassignment failed due to %v", err)
}

// tpReplicas is one partition and its replica list.
type tpReplicas struct {
	tp       zkcoord.TopicPartition
	replicas []int32
}

// formatReassignmentJSON is formatAsReassignmentJson: version 1, one entry
// per partition with "log_dirs" all "any", keys in 2.4's order.
func formatReassignmentJSON(parts []tpReplicas) string {
	var b bytes.Buffer
	b.WriteString(`{"version":1,"partitions":[`)
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(',')
		}
		topic, _ := json.Marshal(p.tp.Topic)
		ids := make([]string, len(p.replicas))
		dirs := make([]string, len(p.replicas))
		for j, r := range p.replicas {
			ids[j] = strconv.Itoa(int(r))
			dirs[j] = `"any"`
		}
		fmt.Fprintf(&b, `{"topic":%s,"partition":%d,"replicas":[%s],"log_dirs":[%s]}`, topic, p.tp.Partition,
			strings.Join(ids, ","), strings.Join(dirs, ","))
	}
	b.WriteString(`]}`)
	return b.String()
}

func sortTPReplicas(parts []tpReplicas) {
	sort.Slice(parts, func(i, j int) bool {
		if parts[i].tp.Topic != parts[j].tp.Topic {
			return parts[i].tp.Topic < parts[j].tp.Topic
		}
		return parts[i].tp.Partition < parts[j].tp.Partition
	})
}

// currentAssignment lists every partition of topics with its replicas.
func currentAssignment(ctx context.Context, s *zkcoord.Session, topics []string) ([]tpReplicas, error) {
	as, err := s.GetTopicAssignments(ctx, topics)
	if err != nil {
		return nil, err
	}
	var out []tpReplicas
	for t, a := range as {
		for p, reps := range a.Partitions {
			out = append(out, tpReplicas{zkcoord.TopicPartition{Topic: t, Partition: p}, reps})
		}
	}
	sortTPReplicas(out)
	return out, nil
}

func generateAssignment(ctx context.Context, s *zkcoord.Session, topicsFile, brokerList string, w io.Writer) error {
	return generateWith(topicsFile, brokerList, w, func(topics []string) ([]tpReplicas, error) {
		return currentAssignment(ctx, s, topics)
	})
}

// generateWith is --generate given a reader of the topics' current
// replicas (ZooKeeper or Metadata).
func generateWith(topicsFile, brokerList string, w io.Writer, currentOf func(topics []string) ([]tpReplicas, error)) error {
	data, err := os.ReadFile(topicsFile)
	if err != nil {
		return err
	}
	var j struct {
		Topics []struct {
			Topic string `json:"topic"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("%s is not valid JSON: %v", topicsFile, err)
	}
	var topics []string
	for _, t := range j.Topics {
		if !slices.Contains(topics, t.Topic) {
			topics = append(topics, t.Topic)
		}
	}
	if len(topics) == 0 {
		return fmt.Errorf("Topics to move data file is empty")
	}
	var brokers []int32
	for _, f := range splitList(brokerList) {
		id, err := strconv.ParseInt(f, 10, 32)
		if err != nil || id < 0 {
			return fmt.Errorf("invalid --broker-list %q: expected broker ids like 1,2,3", brokerList)
		}
		if slices.Contains(brokers, int32(id)) {
			return fmt.Errorf("Broker list contains duplicate entries: %d", id)
		}
		brokers = append(brokers, int32(id))
	}
	slices.Sort(brokers)
	current, err := currentOf(topics)
	if err != nil {
		return err
	}
	byTopic := map[string][]tpReplicas{}
	for _, p := range current {
		byTopic[p.tp.Topic] = append(byTopic[p.tp.Topic], p)
	}
	var proposed []tpReplicas
	for _, t := range topics {
		parts := byTopic[t]
		if len(parts) == 0 {
			return fmt.Errorf("Topic %s does not exist", t)
		}
		a, err := zkcoord.AssignReplicasRackUnaware(int32(len(parts)), int16(len(parts[0].replicas)), brokers, -1, 0)
		if err != nil {
			return err
		}
		for p, reps := range a {
			proposed = append(proposed, tpReplicas{zkcoord.TopicPartition{Topic: t, Partition: p}, reps})
		}
	}
	sortTPReplicas(proposed)
	fmt.Fprintf(w, "Current partition replica assignment\n%s\n\n", formatReassignmentJSON(current))
	fmt.Fprintf(w, "Proposed partition reassignment configuration\n%s\n", formatReassignmentJSON(proposed))
	return nil
}

// readReassignment parses and validates a reassignment JSON file as 2.4's
// parseAndValidate does for the ZooKeeper path.
func readReassignment(ctx context.Context, s *zkcoord.Session, path string, checkCluster bool) ([]tpReplicas, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var j struct {
		Partitions []struct {
			Topic     string   `json:"topic"`
			Partition *int32   `json:"partition"`
			Replicas  []int32  `json:"replicas"`
			LogDirs   []string `json:"log_dirs"`
		} `json:"partitions"`
	}
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %v", path, err)
	}
	if len(j.Partitions) == 0 {
		return nil, fmt.Errorf("Partition reassignment data file is empty")
	}
	var out []tpReplicas
	seen := map[zkcoord.TopicPartition]bool{}
	var dupTPs, dupReps []string
	for _, p := range j.Partitions {
		if p.Topic == "" || p.Partition == nil {
			return nil, fmt.Errorf("every partition entry needs \"topic\" and \"partition\"")
		}
		tp := zkcoord.TopicPartition{Topic: p.Topic, Partition: *p.Partition}
		if len(p.Replicas) == 0 {
			return nil, fmt.Errorf("Partition replica list cannot be empty")
		}
		for _, d := range p.LogDirs {
			if d != "any" {
				return nil, fmt.Errorf("log_dirs other than \"any\" (%s for %s) are not supported", d, tp)
			}
		}
		if seen[tp] {
			dupTPs = append(dupTPs, tp.String())
		}
		seen[tp] = true
		var dups []string
		for i, r := range p.Replicas {
			if slices.Contains(p.Replicas[:i], r) && !slices.Contains(dups, strconv.Itoa(int(r))) {
				dups = append(dups, strconv.Itoa(int(r)))
			}
		}
		if len(dups) > 0 {
			dupReps = append(dupReps, fmt.Sprintf("%s contains multiple entries for %s", tp, strings.Join(dups, ",")))
		}
		out = append(out, tpReplicas{tp, p.Replicas})
	}
	if len(dupTPs) > 0 {
		return nil, fmt.Errorf("Partition reassignment contains duplicate topic partitions: %s", strings.Join(dupTPs, ","))
	}
	if len(dupReps) > 0 {
		return nil, fmt.Errorf("Partition replica lists may not contain duplicate entries: %s", strings.Join(dupReps, ". "))
	}
	if !checkCluster {
		return out, nil
	}
	var topics []string
	for _, p := range out {
		if !slices.Contains(topics, p.tp.Topic) {
			topics = append(topics, p.tp.Topic)
		}
	}
	as, err := s.GetTopicAssignments(ctx, topics)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, p := range out {
		if _, ok := as[p.tp.Topic].Partitions[p.tp.Partition]; !ok {
			missing = append(missing, p.tp.String())
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("The proposed assignment contains non-existent partitions: List(%s)", strings.Join(missing, ", "))
	}
	brokers, err := s.GetBrokerIDs(ctx)
	if err != nil {
		return nil, err
	}
	var unknown []string
	for _, p := range out {
		for _, r := range p.replicas {
			if !slices.Contains(brokers, r) && !slices.Contains(unknown, strconv.Itoa(int(r))) {
				unknown = append(unknown, strconv.Itoa(int(r)))
			}
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("The proposed assignment contains non-existent brokerIDs: %s", strings.Join(unknown, ","))
	}
	return out, nil
}

func executeAssignment(ctx context.Context, s *zkcoord.Session, path string, w io.Writer) error {
	parts, err := readReassignment(ctx, s, path, true)
	if err != nil {
		return err
	}
	if cur, err := s.GetPartitionReassignment(ctx); err != nil {
		return err
	} else if cur != nil {
		fmt.Fprintln(w, "There is an existing assignment running.")
		return nil
	}
	var topics []string
	for _, p := range parts {
		if !slices.Contains(topics, p.tp.Topic) {
			topics = append(topics, p.tp.Topic)
		}
	}
	current, err := currentAssignment(ctx, s, topics)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Current partition replica assignment\n\n%s\n\nSave this to use as the --reassignment-json-file option during rollback\n", formatReassignmentJSON(current))
	rs := make([]zkcoord.PartitionReassignment, len(parts))
	for i, p := range parts {
		rs[i] = zkcoord.PartitionReassignment{Topic: p.tp.Topic, Partition: p.tp.Partition, Replicas: p.replicas}
	}
	if err := s.CreatePartitionReassignment(ctx, rs); err != nil {
		return err
	}
	fmt.Fprintln(w, "Successfully started reassignment of partitions.")
	return nil
}

func verifyAssignment(ctx context.Context, s *zkcoord.Session, path string, w io.Writer) error {
	parts, err := readReassignment(ctx, s, path, false)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "Status of partition reassignment: ")
	running, err := s.GetPartitionReassignment(ctx)
	if err != nil {
		return err
	}
	inProgress := map[zkcoord.TopicPartition]bool{}
	for _, r := range running {
		inProgress[zkcoord.TopicPartition{Topic: r.Topic, Partition: r.Partition}] = true
	}
	var topics []string
	for _, p := range parts {
		if !slices.Contains(topics, p.tp.Topic) {
			topics = append(topics, p.tp.Topic)
		}
	}
	as, err := s.GetTopicAssignments(ctx, topics)
	if err != nil {
		return err
	}
	for _, p := range parts {
		a := as[p.tp.Topic]
		switch {
		// A reassignment started through the API is not in
		// /admin/reassign_partitions; the topic znode's adding and
		// removing replicas record it (2.4's tool looks at the admin
		// znode only).
		case inProgress[p.tp] || len(a.AddingReplicas[p.tp.Partition])+len(a.RemovingReplicas[p.tp.Partition]) > 0:
			fmt.Fprintf(w, "Reassignment of partition %s is still in progress\n", p.tp)
		case slices.Equal(as[p.tp.Topic].Partitions[p.tp.Partition], p.replicas):
			fmt.Fprintf(w, "Reassignment of partition %s completed successfully\n", p.tp)
		default:
			fmt.Fprintf(w, "Reassignment of partition %s failed\n", p.tp)
		}
	}
	return nil
}
