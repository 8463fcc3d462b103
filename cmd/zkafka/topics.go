package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

func topicsCommand() *cli.Command {
	return &cli.Command{
		Name:  "topics",
		Usage: "create, delete, describe or list topics (like kafka-topics.sh)",
		Description: "Exactly one action: --create, --list, --describe or --delete.\n" +
			"Connect with --bootstrap-server HOST:PORT, or --zookeeper HOST:PORT[/chroot] to\n" +
			"read and write ZooKeeper directly.\n\n" +
			"Example: zkafka topics --create --bootstrap-server localhost:9092 --replication-factor 1 --partitions 1 --topic logstash",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "bootstrap-server", Usage: "`HOST:PORT` of a broker (comma-separated for several)"},
			&cli.StringFlag{Name: "zookeeper", Usage: "`HOST:PORT[/chroot]` of ZooKeeper, instead of --bootstrap-server"},
			&cli.BoolFlag{Name: "create", Usage: "create a new topic"},
			&cli.BoolFlag{Name: "list", Usage: "list all topics"},
			&cli.BoolFlag{Name: "describe", Usage: "describe the given topics (all without --topic)"},
			&cli.BoolFlag{Name: "delete", Usage: "delete a topic"},
			&cli.BoolFlag{Name: "alter", Usage: "increase a topic's partitions (with --partitions)"},
			&cli.StringFlag{Name: "topic", Usage: "`TOPIC` to act on; a regular expression except with --create"},
			&cli.IntFlag{Name: "partitions", Usage: "number of partitions of the new topic (default: the broker's num.partitions)"},
			&cli.IntFlag{Name: "replication-factor", Usage: "replication factor of the new topic (default: the broker's default.replication.factor)"},
			&cli.StringFlag{Name: "replica-assignment", Usage: "manual assignment `b1:b2,b3:b4,...` (partition 0 on brokers b1,b2, ...)"},
			&cli.StringSliceFlag{Name: "config", Usage: "topic config override `name=value` for --create (repeatable)"},
			&cli.BoolFlag{Name: "if-not-exists", Usage: "with --create: do nothing if the topic exists"},
			&cli.BoolFlag{Name: "if-exists", Usage: "with --delete: do nothing if the topic does not exist"},
			&cli.BoolFlag{Name: "exclude-internal", Usage: "leave internal topics out of --list and --describe"},
			&cli.BoolFlag{Name: "under-replicated-partitions", Usage: "with --describe: only partitions whose ISR is smaller than the replica set"},
			&cli.BoolFlag{Name: "unavailable-partitions", Usage: "with --describe: only partitions without a live leader"},
		},
		Action: runTopics,
	}
}

// topicAdmin is what the topics command needs from a cluster, either
// through a broker (Kafka protocol) or directly in ZooKeeper.
type topicAdmin interface {
	// ListTopics returns all topic names with whether each is marked for
	// deletion (only known when talking to ZooKeeper).
	ListTopics(ctx context.Context) (map[string]bool, error)
	CreateTopic(ctx context.Context, spec topicSpec) error
	DescribeTopic(ctx context.Context, topic string) (topicDescription, error)
	DeleteTopic(ctx context.Context, topic string) error
	Close()
}

type topicSpec struct {
	Name              string
	Partitions        int32 // -1 = broker default
	ReplicationFactor int16 // -1 = broker default
	Assignment        [][]int32
	Configs           map[string]string
	ConfigOrder       []string
}

type topicDescription struct {
	Name              string
	Configs           []string // "k=v", in the order the cluster returned them
	Partitions        []partitionDescription
	MarkedForDeletion bool
}

type partitionDescription struct {
	ID       int32
	Leader   int32 // -1 = none
	Replicas []int32
	Isr      []int32
	// LeaderAlive is false when the leader is not a registered broker.
	LeaderAlive bool
}

// topicOptions is the validated command line.
type topicOptions struct {
	action      string // create, list, describe, delete
	bootstrap   string
	zookeeper   string
	topic       string
	spec        topicSpec
	ifExists    bool
	ifNotExists bool
	excludeInt  bool
	underRepl   bool
	unavailable bool
}

func runTopics(c *cli.Context) error {
	opts, err := parseTopicOptions(c)
	if err != nil {
		return err
	}
	if opts.action == "create" {
		if err := validateTopicName(opts.topic); err != nil {
			return topicFailure(err)
		}
		if err := validateTopicConfigs(opts.spec.Configs); err != nil {
			return topicFailure(err)
		}
	}
	var admin topicAdmin
	if opts.bootstrap != "" {
		admin = newBrokerAdmin(opts.bootstrap)
	} else {
		admin, err = newZKAdmin(c.Context, opts.zookeeper)
		if err != nil {
			return topicFailure(err)
		}
	}
	defer admin.Close()
	w := c.App.Writer
	switch opts.action {
	case "create":
		err = createTopic(c.Context, admin, opts, w)
	case "list":
		err = listTopics(c.Context, admin, opts, w)
	case "describe":
		err = describeTopics(c.Context, admin, opts, w)
	case "delete":
		err = deleteTopics(c.Context, admin, opts, w)
	case "alter":
		err = alterTopic(c.Context, admin, opts, w)
	}
	if err != nil {
		return topicFailure(err)
	}
	return nil
}

// topicFailure formats err the way kafka-topics.sh reports a failed command.
func topicFailure(err error) error {
	return failf("Error while executing topic command : %v", err)
}

func parseTopicOptions(c *cli.Context) (topicOptions, error) {
	if c.NArg() > 0 {
		return topicOptions{}, usageErrorf(c, "unexpected argument %q: topics takes only flags (did you forget --topic?)", c.Args().First())
	}
	o := topicOptions{
		bootstrap: c.String("bootstrap-server"), zookeeper: c.String("zookeeper"), topic: c.String("topic"),
		ifExists: c.Bool("if-exists"), ifNotExists: c.Bool("if-not-exists"), excludeInt: c.Bool("exclude-internal"),
		underRepl: c.Bool("under-replicated-partitions"), unavailable: c.Bool("unavailable-partitions"),
	}
	var actions []string
	for _, a := range []string{"create", "list", "describe", "delete", "alter"} {
		if c.Bool(a) {
			actions = append(actions, a)
		}
	}
	if len(actions) != 1 {
		return o, usageErrorf(c, "Command must include exactly one action: --list, --describe, --create, --alter or --delete")
	}
	o.action = actions[0]
	if (o.bootstrap == "") == (o.zookeeper == "") {
		return o, usageErrorf(c, "Only one of --bootstrap-server or --zookeeper must be specified, e.g. --bootstrap-server localhost:9092")
	}
	if o.topic == "" && (o.action == "create" || o.action == "delete" || o.action == "alter") {
		return o, usageErrorf(c, "Missing required argument \"[topic]\": --%s needs --topic NAME", o.action)
	}
	if err := checkActionOnlyFlags(c, o.action); err != nil {
		return o, err
	}
	if o.action == "alter" {
		spec, err := parseAlterSpec(c, o)
		if err != nil {
			return o, err
		}
		o.spec = spec
	}
	if o.action == "create" {
		spec, err := parseTopicSpec(c, o)
		if err != nil {
			return o, err
		}
		o.spec = spec
	}
	return o, nil
}

// checkActionOnlyFlags rejects flags that make no sense with the action, as
// kafka-topics.sh does.
func checkActionOnlyFlags(c *cli.Context, action string) error {
	only := map[string]string{
		"partitions": "create", "replication-factor": "create", "replica-assignment": "create",
		"config": "create", "if-not-exists": "create", "if-exists": "delete",
		"under-replicated-partitions": "describe", "unavailable-partitions": "describe",
	}
	for flag, act := range only {
		if action == "alter" && (flag == "partitions" || flag == "replica-assignment") {
			continue
		}
		if c.IsSet(flag) && act != action {
			return usageErrorf(c, "Option \"[%s]\" can't be used with option \"[%s]\"", flag, action)
		}
	}
	return nil
}

func parseTopicSpec(c *cli.Context, o topicOptions) (topicSpec, error) {
	spec := topicSpec{Name: o.topic, Partitions: -1, ReplicationFactor: -1, Configs: map[string]string{}}
	if ra := c.String("replica-assignment"); ra != "" {
		if c.IsSet("partitions") || c.IsSet("replication-factor") {
			return spec, usageErrorf(c, "Option \"[replica-assignment]\" can't be used with option \"[partitions]\" or \"[replication-factor]\"")
		}
		a, err := parseReplicaAssignment(ra)
		if err != nil {
			return spec, usageErrorf(c, "%v", err)
		}
		spec.Assignment = a
	}
	if c.IsSet("partitions") {
		n := c.Int("partitions")
		if n < 1 || n > 1<<31-1 {
			return spec, usageErrorf(c, "--partitions must be at least 1, got %d", n)
		}
		spec.Partitions = int32(n)
	}
	if c.IsSet("replication-factor") {
		n := c.Int("replication-factor")
		if n < 1 || n > 32767 {
			return spec, usageErrorf(c, "--replication-factor must be between 1 and 32767, got %d", n)
		}
		spec.ReplicationFactor = int16(n)
	}
	if o.zookeeper != "" && spec.Assignment == nil && (spec.Partitions < 0 || spec.ReplicationFactor < 0) {
		return spec, usageErrorf(c, "Missing required argument \"[partitions]\" or \"[replication-factor]\": with --zookeeper, --create needs both (or --replica-assignment)")
	}
	for _, kv := range c.StringSlice("config") {
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || strings.Contains(v, "=") {
			return spec, usageErrorf(c, "Invalid topic config %q: all configs to be added must be in the format \"key=val\".", kv)
		}
		if _, dup := spec.Configs[k]; !dup {
			spec.ConfigOrder = append(spec.ConfigOrder, k)
		}
		spec.Configs[k] = v
	}
	return spec, nil
}

// parseReplicaAssignment reads "1:2,2:3" into [[1 2] [2 3]].
func parseReplicaAssignment(s string) ([][]int32, error) {
	var out [][]int32
	for i, part := range strings.Split(s, ",") {
		var replicas []int32
		seen := map[int32]bool{}
		for _, b := range strings.Split(part, ":") {
			id, err := strconv.ParseInt(strings.TrimSpace(b), 10, 32)
			if err != nil || id < 0 {
				return nil, fmt.Errorf("invalid --replica-assignment %q: expected broker ids like 1:2,2:3", s)
			}
			if seen[int32(id)] {
				return nil, fmt.Errorf("Partition replica lists may not contain duplicate entries: %d", id)
			}
			seen[int32(id)] = true
			replicas = append(replicas, int32(id))
		}
		if i > 0 && len(replicas) != len(out[0]) {
			return nil, fmt.Errorf("Partition %d has different replication factor: %s", i, part)
		}
		out = append(out, replicas)
	}
	return out, nil
}

var legalTopicChar = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// validateTopicName applies Kafka's topic name rules (Topic.validate).
func validateTopicName(t string) error {
	switch {
	case t == "." || t == "..":
		return fmt.Errorf("Topic name cannot be \".\" or \"..\"")
	case len(t) > 249:
		return fmt.Errorf("Topic name is illegal, it can't be longer than 249 characters, topic name: %s", t)
	case !legalTopicChar.MatchString(t):
		return fmt.Errorf("Topic name \"%s\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'", t)
	}
	return nil
}

// topicConfigNames are Kafka 2.4's topic-level configs (LogConfig).
var topicConfigNames = map[string]bool{
	"cleanup.policy": true, "compression.type": true, "delete.retention.ms": true,
	"file.delete.delay.ms": true, "flush.messages": true, "flush.ms": true,
	"follower.replication.throttled.replicas": true, "index.interval.bytes": true,
	"leader.replication.throttled.replicas": true, "max.compaction.lag.ms": true,
	"max.message.bytes": true, "message.downconversion.enable": true,
	"message.format.version": true, "message.timestamp.difference.max.ms": true,
	"message.timestamp.type": true, "min.cleanable.dirty.ratio": true,
	"min.compaction.lag.ms": true, "min.insync.replicas": true, "preallocate": true,
	"retention.bytes": true, "retention.ms": true, "segment.bytes": true,
	"segment.index.bytes": true, "segment.jitter.ms": true, "segment.ms": true,
	"unclean.leader.election.enable": true,
}

func validateTopicConfigs(cfg map[string]string) error {
	var unknown []string
	for k := range cfg {
		if !topicConfigNames[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("Unknown topic config name: %s", strings.Join(unknown, ", "))
	}
	return nil
}

func isInternalTopic(t string) bool { return t == "__consumer_offsets" || t == "__transaction_state" }

// matchingTopics returns the sorted topics matching --topic, which like
// kafka-topics.sh is a whitelist regular expression (',' means '|').
func matchingTopics(all map[string]bool, o topicOptions) ([]string, error) {
	var re *regexp.Regexp
	if o.topic != "" {
		expr := strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(o.topic), ",", "|"), " ", "")
		expr = strings.Trim(expr, `"'`)
		var err error
		if re, err = regexp.Compile("^(?:" + expr + ")$"); err != nil {
			return nil, fmt.Errorf("--topic %q is not a valid regular expression: %v", o.topic, err)
		}
	}
	var out []string
	for t := range all {
		if (re == nil || re.MatchString(t)) && !(o.excludeInt && isInternalTopic(t)) {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out, nil
}

// selectTopics lists the cluster's topics (name -> marked for deletion) and
// those of them --topic selects.
func selectTopics(ctx context.Context, admin topicAdmin, o topicOptions) (map[string]bool, []string, error) {
	all, err := admin.ListTopics(ctx)
	if err != nil {
		return nil, nil, err
	}
	topics, err := matchingTopics(all, o)
	return all, topics, err
}

func createTopic(ctx context.Context, admin topicAdmin, o topicOptions, w io.Writer) error {
	if strings.ContainsAny(o.topic, "._") {
		fmt.Fprintln(w, "WARNING: Due to limitations in metric names, topics with a period ('.') or underscore ('_') could collide. To avoid issues it is best to use either, but not both.")
	}
	err := admin.CreateTopic(ctx, o.spec)
	var exists *topicExistsError
	if errors.As(err, &exists) && o.ifNotExists {
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Created topic %s.\n", o.topic)
	return nil
}

func listTopics(ctx context.Context, admin topicAdmin, o topicOptions, w io.Writer) error {
	all, topics, err := selectTopics(ctx, admin, o)
	if err != nil {
		return err
	}
	for _, t := range topics {
		if all[t] {
			fmt.Fprintf(w, "%s - marked for deletion\n", t)
		} else {
			fmt.Fprintln(w, t)
		}
	}
	return nil
}

func describeTopics(ctx context.Context, admin topicAdmin, o topicOptions, w io.Writer) error {
	_, topics, err := selectTopics(ctx, admin, o)
	if err != nil {
		return err
	}
	if len(topics) == 0 && o.topic != "" {
		return fmt.Errorf("Topic '%s' does not exist as expected", o.topic)
	}
	for _, t := range topics {
		d, err := admin.DescribeTopic(ctx, t)
		if err != nil {
			return err
		}
		printDescription(w, d, o)
	}
	return nil
}

func printDescription(w io.Writer, d topicDescription, o topicOptions) {
	marked := ""
	if d.MarkedForDeletion {
		marked = "\tMarkedForDeletion: true"
	}
	if !o.underRepl && !o.unavailable {
		rf := 0
		if len(d.Partitions) > 0 {
			rf = len(d.Partitions[0].Replicas)
		}
		fmt.Fprintf(w, "Topic: %s\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s%s\n",
			d.Name, len(d.Partitions), rf, strings.Join(d.Configs, ","), marked)
	}
	for _, p := range d.Partitions {
		if o.underRepl && len(p.Isr) >= len(p.Replicas) {
			continue
		}
		if o.unavailable && p.Leader >= 0 && p.LeaderAlive {
			continue
		}
		leader := "none"
		if p.Leader >= 0 {
			leader = strconv.Itoa(int(p.Leader))
		}
		fmt.Fprintf(w, "\tTopic: %s\tPartition: %d\tLeader: %s\tReplicas: %s\tIsr: %s%s\n",
			d.Name, p.ID, leader, joinIDs(p.Replicas), joinIDs(p.Isr), marked)
	}
}

func joinIDs(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, ",")
}

func deleteTopics(ctx context.Context, admin topicAdmin, o topicOptions, w io.Writer) error {
	all, topics, err := selectTopics(ctx, admin, o)
	if err != nil {
		return err
	}
	if len(topics) == 0 && !o.ifExists {
		return fmt.Errorf("Topic '%s' does not exist as expected", o.topic)
	}
	for _, t := range topics {
		if isInternalTopic(t) {
			return fmt.Errorf("Topic %s is a kafka internal topic and is not allowed to be marked for deletion.", t)
		}
		if all[t] {
			fmt.Fprintf(w, "Topic %s is already marked for deletion.\n", t)
			continue
		}
		if err := admin.DeleteTopic(ctx, t); err != nil {
			return err
		}
		fmt.Fprintf(w, "Topic %s is marked for deletion.\n", t)
		fmt.Fprintln(w, "Note: This will have no impact if delete.topic.enable is not set to true.")
	}
	return nil
}
