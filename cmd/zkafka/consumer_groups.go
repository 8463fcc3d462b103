package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

func consumerGroupsCommand() *cli.Command {
	return &cli.Command{
		Name:  "consumer-groups",
		Usage: "list, describe, reset the offsets of or delete consumer groups (like kafka-consumer-groups.sh)",
		Description: "Exactly one action: --list, --describe, --reset-offsets or --delete.\n" +
			"Connect with --bootstrap-server HOST:PORT (groups of the brokers' group coordinator), or\n" +
			"--zookeeper HOST:PORT[/chroot] to read and write /consumers directly (classic ZooKeeper groups).\n\n" +
			"Example: zkafka consumer-groups --bootstrap-server localhost:9092 --describe --group my-group\n" +
			"         zkafka consumer-groups --bootstrap-server localhost:9092 --reset-offsets --group my-group --topic t --to-earliest --execute",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "bootstrap-server", Usage: "`HOST:PORT` of a broker (comma-separated for several)"},
			&cli.StringFlag{Name: "zookeeper", Usage: "`HOST:PORT[/chroot]` of ZooKeeper, instead of --bootstrap-server"},
			&cli.BoolFlag{Name: "list", Usage: "list all consumer groups"},
			&cli.BoolFlag{Name: "describe", Usage: "describe a group: members, partitions, committed offsets, log end offsets, lag"},
			&cli.BoolFlag{Name: "reset-offsets", Usage: "reset a group's committed offsets (the group must be inactive)"},
			&cli.BoolFlag{Name: "delete", Usage: "delete a group without active members, with its offsets"},
			&cli.StringFlag{Name: "group", Usage: "`GROUP` to act on"},
			&cli.StringSliceFlag{Name: "topic", Usage: "with --reset-offsets: `TOPIC` or TOPIC:P1,P2 (repeatable)"},
			&cli.BoolFlag{Name: "to-earliest", Usage: "reset to the earliest offset"},
			&cli.BoolFlag{Name: "to-latest", Usage: "reset to the latest offset"},
			&cli.Int64Flag{Name: "to-offset", Usage: "reset to offset `N` (kept within the log's range)"},
			&cli.Int64Flag{Name: "shift-by", Usage: "move the committed offset by `N` (may be negative)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "with --reset-offsets: only show the new offsets"},
			&cli.BoolFlag{Name: "execute", Usage: "with --reset-offsets: commit the new offsets"},
		},
		Action: runConsumerGroups,
	}
}

// tp names a partition.
type tp struct {
	topic     string
	partition int32
}

// groupAdmin is what the consumer-groups command needs, through brokers or
// directly in ZooKeeper.
type groupAdmin interface {
	ListGroups(ctx context.Context) ([]string, error)
	// DescribeGroup returns state "Dead" for a group that does not exist.
	DescribeGroup(ctx context.Context, group string) (groupDescription, error)
	CommitOffsets(ctx context.Context, group string, offsets map[tp]int64) error
	DeleteGroup(ctx context.Context, group string) error
	client() *kafkaClient
	Close()
}

type groupDescription struct {
	State     string
	Members   []groupMember
	Committed map[tp]int64
}

type groupMember struct {
	ConsumerID, Host, ClientID string
	Assigned                   []tp
}

type groupOptions struct {
	action      string
	bootstrap   string
	zookeeper   string
	group       string
	topics      []string
	reset       string // earliest, latest, offset, shift
	resetValue  int64
	dryRun, exe bool
}

func parseGroupOptions(c *cli.Context) (groupOptions, error) {
	o := groupOptions{bootstrap: c.String("bootstrap-server"), zookeeper: c.String("zookeeper"), group: c.String("group"), topics: c.StringSlice("topic"),
		dryRun: c.Bool("dry-run"), exe: c.Bool("execute")}
	if c.Args().Present() {
		return o, usageErrorf(c, "unexpected argument %q: consumer-groups takes only flags", c.Args().First())
	}
	var actions []string
	for _, a := range []string{"list", "describe", "reset-offsets", "delete"} {
		if c.Bool(a) {
			actions = append(actions, a)
		}
	}
	if len(actions) != 1 {
		return o, usageErrorf(c, "Command must include exactly one action: --list, --describe, --delete, --reset-offsets")
	}
	o.action = actions[0]
	if (o.bootstrap == "") == (o.zookeeper == "") {
		return o, usageErrorf(c, "Only one of --bootstrap-server or --zookeeper must be specified, e.g. --bootstrap-server localhost:9092")
	}
	if o.action != "list" && o.group == "" {
		return o, usageErrorf(c, "Option --%s needs --group", o.action)
	}
	if o.action != "reset-offsets" {
		for _, f := range []string{"topic", "to-earliest", "to-latest", "to-offset", "shift-by", "dry-run", "execute"} {
			if c.IsSet(f) {
				return o, usageErrorf(c, "Option --%s is only valid with --reset-offsets", f)
			}
		}
		return o, nil
	}
	if len(o.topics) == 0 {
		return o, usageErrorf(c, "One of the reset scopes should be defined: --topic.")
	}
	var scenarios []string
	for _, f := range []string{"to-earliest", "to-latest", "to-offset", "shift-by"} {
		if c.IsSet(f) {
			scenarios = append(scenarios, f)
		}
	}
	if len(scenarios) != 1 {
		return o, usageErrorf(c, "Option --reset-offsets takes exactly one of these options: --to-earliest, --to-latest, --to-offset, --shift-by")
	}
	switch scenarios[0] {
	case "to-earliest":
		o.reset = "earliest"
	case "to-latest":
		o.reset = "latest"
	case "to-offset":
		o.reset, o.resetValue = "offset", c.Int64("to-offset")
	case "shift-by":
		o.reset, o.resetValue = "shift", c.Int64("shift-by")
	}
	if o.dryRun && o.exe {
		return o, usageErrorf(c, "Option --dry-run and --execute cannot be used together")
	}
	return o, nil
}

func runConsumerGroups(c *cli.Context) error {
	o, err := parseGroupOptions(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, 60*time.Second)
	defer cancel()
	var admin groupAdmin
	if o.bootstrap != "" {
		admin = &brokerGroups{k: newKafkaClient(splitList(o.bootstrap))}
	} else {
		z, err := newZKGroups(ctx, o.zookeeper)
		if err != nil {
			return failf("%v", err)
		}
		admin = z
	}
	defer admin.Close()
	out, errOut := c.App.Writer, c.App.ErrWriter
	switch o.action {
	case "list":
		groups, err := admin.ListGroups(ctx)
		if err != nil {
			return failf("Error: Executing consumer group command failed due to %s", kafkaErrorText(err))
		}
		for _, g := range groups {
			fmt.Fprintln(out, g)
		}
		return nil
	case "describe":
		return describeGroup(ctx, admin, o.group, out, errOut)
	case "delete":
		if err := admin.DeleteGroup(ctx, o.group); err != nil {
			return failf("Error: Deletion of some consumer groups failed:\n* Group '%s' could not be deleted due to: %s", o.group, kafkaErrorText(err))
		}
		fmt.Fprintf(out, "Deletion of requested consumer groups ('%s') was successful.\n", o.group)
		return nil
	default:
		return resetOffsets(ctx, admin, o, out)
	}
}

func sortTPs(tps []tp) {
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].topic != tps[j].topic {
			return tps[i].topic < tps[j].topic
		}
		return tps[i].partition < tps[j].partition
	})
}

// describeRow is one line of --describe; nil fields print as "-".
type describeRow struct {
	topic, partition, current, end, lag string
	consumer, host, client              string
}

func describeGroup(ctx context.Context, admin groupAdmin, group string, out, errOut io.Writer) error {
	d, err := admin.DescribeGroup(ctx, group)
	if err != nil {
		return failf("Error: Executing consumer group command failed due to %s", kafkaErrorText(err))
	}
	if d.State == "Dead" {
		return failf("Error: Consumer group '%s' does not exist.", group)
	}
	var all []tp
	owned := map[tp]bool{}
	for _, m := range d.Members {
		for _, x := range m.Assigned {
			owned[x] = true
			all = append(all, x)
		}
	}
	for x := range d.Committed {
		if !owned[x] {
			all = append(all, x)
		}
	}
	ends, err := admin.client().logOffsets(ctx, all, -1)
	if err != nil {
		return failf("Error: Executing consumer group command failed due to %s", kafkaErrorText(err))
	}
	row := func(x tp, consumer, host, client string) describeRow {
		r := describeRow{topic: x.topic, partition: strconv.Itoa(int(x.partition)), current: "-", end: "-", lag: "-", consumer: consumer, host: host, client: client}
		cur, hasCur := d.Committed[x]
		end, hasEnd := ends[x]
		if hasCur {
			r.current = strconv.FormatInt(cur, 10)
		}
		if hasEnd {
			r.end = strconv.FormatInt(end, 10)
		}
		if hasCur && hasEnd {
			r.lag = strconv.FormatInt(end-cur, 10)
		}
		return r
	}
	members := append([]groupMember(nil), d.Members...)
	sort.SliceStable(members, func(i, j int) bool { return len(members[i].Assigned) > len(members[j].Assigned) })
	var rows []describeRow
	for _, m := range members {
		if len(m.Assigned) == 0 {
			rows = append(rows, describeRow{"-", "-", "-", "-", "-", m.ConsumerID, m.Host, m.ClientID})
			continue
		}
		parts := append([]tp(nil), m.Assigned...)
		sortTPs(parts)
		for _, x := range parts {
			rows = append(rows, row(x, m.ConsumerID, m.Host, m.ClientID))
		}
	}
	var unowned []tp
	for x := range d.Committed {
		if !owned[x] {
			unowned = append(unowned, x)
		}
	}
	sortTPs(unowned)
	for _, x := range unowned {
		rows = append(rows, row(x, "-", "-", "-"))
	}
	switch d.State {
	case "Empty":
		fmt.Fprintf(errOut, "\nConsumer group '%s' has no active members.\n", group)
	case "PreparingRebalance", "CompletingRebalance":
		fmt.Fprintf(errOut, "\nWarning: Consumer group '%s' is rebalancing.\n", group)
	}
	if len(rows) == 0 {
		return nil
	}
	// Column widths as Kafka 2.4's ConsumerGroupCommand.printOffsets.
	gw, tw, cw, hw := max(15, len(group)), 15, 15, 15
	for _, r := range rows {
		tw, cw, hw = max(tw, len(r.topic)), max(cw, len(r.consumer)), max(hw, len(r.host))
	}
	format := fmt.Sprintf("%%-%ds %%-%ds %%-10s %%-15s %%-15s %%-15s %%-%ds %%-%ds %%s\n", gw, tw, cw, hw)
	fmt.Fprintf(out, "\n"+format, "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID")
	for _, r := range rows {
		fmt.Fprintf(out, format, group, r.topic, r.partition, r.current, r.end, r.lag, r.consumer, r.host, r.client)
	}
	return nil
}

// resetOffsets computes the new offsets of the given partitions and, with
// --execute, commits them — only while the group has no active members.
func resetOffsets(ctx context.Context, admin groupAdmin, o groupOptions, out io.Writer) error {
	d, err := admin.DescribeGroup(ctx, o.group)
	if err != nil {
		return failf("Error: Executing consumer group command failed due to %s", kafkaErrorText(err))
	}
	if d.State != "Empty" && d.State != "Dead" {
		return failf("Error: Assignments can only be reset if the group '%s' is inactive, but the current state is %s.", o.group, d.State)
	}
	k := admin.client()
	var parts []tp
	for _, spec := range o.topics {
		topic, list, hasList := strings.Cut(spec, ":")
		if !hasList {
			ps, err := k.partitions(ctx, topic)
			if err != nil {
				return failf("Error: %s", kafkaErrorText(err))
			}
			for _, p := range ps {
				parts = append(parts, tp{topic, p})
			}
			continue
		}
		for _, s := range splitList(list) {
			p, err := strconv.ParseInt(s, 10, 32)
			if err != nil || p < 0 {
				return failf("Error: invalid partition %q in --topic %s", s, spec)
			}
			parts = append(parts, tp{topic, int32(p)})
		}
	}
	sortTPs(parts)
	earliest, err := k.logOffsets(ctx, parts, -2)
	if err != nil {
		return failf("Error: %s", kafkaErrorText(err))
	}
	latest, err := k.logOffsets(ctx, parts, -1)
	if err != nil {
		return failf("Error: %s", kafkaErrorText(err))
	}
	next := map[tp]int64{}
	for _, x := range parts {
		lo, okLo := earliest[x]
		hi, okHi := latest[x]
		if !okLo || !okHi {
			return failf("Error: partition %s-%d does not exist or has no leader", x.topic, x.partition)
		}
		var n int64
		switch o.reset {
		case "earliest":
			n = lo
		case "latest":
			n = hi
		case "offset":
			n = o.resetValue
		case "shift":
			cur, ok := d.Committed[x]
			if !ok {
				return failf("Error: Cannot shift offset for partition %s-%d since there is no current committed offset", x.topic, x.partition)
			}
			n = cur + o.resetValue
		}
		next[x] = min(max(n, lo), hi)
	}
	if !o.exe && !o.dryRun {
		fmt.Fprintln(out, "WARN: No action will be performed as the --execute option is missing. Add --dry-run to only show the new offsets, or --execute to commit them.")
	}
	if o.exe {
		if err := admin.CommitOffsets(ctx, o.group, next); err != nil {
			return failf("Error: Executing consumer group command failed due to %s", kafkaErrorText(err))
		}
	}
	format := "%-30s %-30s %-10s %-15s\n"
	fmt.Fprintf(out, "\n"+format, "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET")
	for _, x := range parts {
		fmt.Fprintf(out, format, o.group, x.topic, strconv.Itoa(int(x.partition)), strconv.FormatInt(next[x], 10))
	}
	return nil
}
