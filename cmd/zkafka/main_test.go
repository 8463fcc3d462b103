package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// runCLI runs one zkafka command line in-process.
func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code = run(ctx, append([]string{"zkafka"}, args...), strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// A port nothing listens on: connections are refused at once.
const deadBroker = "127.0.0.1:1"

func TestCLIUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want []string // substrings of stderr, in order
	}{
		{[]string{"topic", "--list"}, 2, []string{"zkafka: 'topic' is not a zkafka command. Did you mean \"topics\"?", "Run 'zkafka --help' for the list of commands."}},
		{[]string{"topics", "--lsit"}, 2, []string{"Incorrect Usage: flag provided but not defined: -lsit", "Did you mean \"--list\"?", "Run 'zkafka topics --help' for usage."}},
		{[]string{"--verbose"}, 2, []string{"Incorrect Usage: flag provided but not defined: -verbose"}},
		{[]string{"topics", "--bootstrap-server", "x:1"}, 2, []string{"Command must include exactly one action: --list, --describe, --create, --alter or --delete"}},
		{[]string{"topics", "--list", "--describe", "--bootstrap-server", "x:1"}, 2, []string{"exactly one action"}},
		{[]string{"topics", "--list"}, 2, []string{"Only one of --bootstrap-server or --zookeeper must be specified"}},
		{[]string{"topics", "--list", "--bootstrap-server", "x:1", "--zookeeper", "z:1"}, 2, []string{"Only one of --bootstrap-server or --zookeeper"}},
		{[]string{"topics", "--create", "--bootstrap-server", "x:1"}, 2, []string{`Missing required argument "[topic]": --create needs --topic NAME`}},
		{[]string{"topics", "--delete", "--bootstrap-server", "x:1"}, 2, []string{`Missing required argument "[topic]"`}},
		{[]string{"topics", "--list", "--partitions", "3", "--bootstrap-server", "x:1"}, 2, []string{`Option "[partitions]" can't be used with option "[list]"`}},
		{[]string{"topics", "--create", "--topic", "t", "--partitions", "0", "--bootstrap-server", "x:1"}, 2, []string{"--partitions must be at least 1, got 0"}},
		{[]string{"topics", "--create", "--topic", "t", "--zookeeper", "z:1"}, 2, []string{"with --zookeeper, --create needs both"}},
		{[]string{"topics", "--create", "--topic", "t", "--config", "retention.ms", "--bootstrap-server", "x:1"}, 2, []string{`Invalid topic config "retention.ms"`}},
		{[]string{"topics", "--create", "--topic", "t", "--replica-assignment", "1:1", "--bootstrap-server", "x:1"}, 2, []string{"duplicate entries: 1"}},
		{[]string{"topics", "--alter", "--topic", "t", "--bootstrap-server", "x:1"}, 2, []string{"--alter needs --partitions N"}},
		{[]string{"leader-election", "--bootstrap-server", "x:1", "--election-type", "preferred"}, 2, []string{"One and only one of the following options is required: all-topic-partitions, topic, path-to-json-file"}},
		{[]string{"leader-election", "--bootstrap-server", "x:1", "--election-type", "fair", "--all-topic-partitions"}, 2, []string{"Invalid election type \"fair\""}},
		{[]string{"leader-election", "--bootstrap-server", "x:1", "--election-type", "unclean", "--topic", "t"}, 2, []string{"Missing required option(s): [partition]"}},
		{[]string{"topics", "--list", "extra", "--bootstrap-server", "x:1"}, 2, []string{`unexpected argument "extra"`}},
		{[]string{"reassign-partitions", "--bootstrap-server", "x:1"}, 2, []string{"Command must include exactly one action: --generate, --execute, --verify, --cancel, --list"}},
		{[]string{"reassign-partitions", "--list"}, 2, []string{"Please specify --bootstrap-server"}},
		{[]string{"reassign-partitions", "--list", "--zookeeper", "z:1"}, 2, []string{"--list needs --bootstrap-server"}},
		{[]string{"reassign-partitions", "--cancel", "--zookeeper", "z:1", "--reassignment-json-file", "f"}, 2, []string{"--cancel needs --bootstrap-server"}},
		{[]string{"reassign-partitions", "--list", "--zookeeper", "z:1", "--bootstrap-server", "x:1"}, 2, []string{"either --bootstrap-server or --zookeeper, not both"}},
		{[]string{"reassign-partitions", "--cancel", "--bootstrap-server", "x:1"}, 2, []string{"If --cancel option is used, command must include --reassignment-json-file"}},
		{[]string{"reassign-partitions", "--verify", "--additional", "--bootstrap-server", "x:1", "--reassignment-json-file", "f"}, 2, []string{"--additional goes with --execute and --bootstrap-server"}},
		{[]string{"broker"}, 2, []string{"zkafka broker needs exactly one argument, the config file", "Run 'zkafka broker --help' for usage."}},
		{[]string{"broker", "a", "b"}, 2, []string{"exactly one argument"}},
		{[]string{"console-producer", "--bootstrap-server", "x:1"}, 2, []string{`Missing required argument "[topic]"`}},
		{[]string{"console-producer", "--topic", "t"}, 2, []string{`Missing required argument "[bootstrap-server]"`}},
		{[]string{"console-producer", "--topic", "t", "--bootstrap-server", "x:1", "--request-required-acks", "2"}, 2, []string{`--request-required-acks: invalid value "2": expected 0, 1, all or -1`}},
		{[]string{"console-producer", "--topic", "t", "--bootstrap-server", "x:1", "--compression-codec", "brotli"}, 2, []string{"--compression-codec: invalid value"}},
		{[]string{"console-producer", "--topic", "t", "--bootstrap-server", "x:1", "--property", "parse.key=true", "--property", "key.separator="}, 2, []string{"key.separator must not be empty"}},
		{[]string{"console-consumer", "--topic", "t", "--zookeeper", "z:2181", "--bootstrap-server", "x:1"}, 2, []string{"--bootstrap-server and --zookeeper cannot be used together"}},
		{[]string{"console-consumer", "--zookeeper", "z:2181", "--group", "g"}, 2, []string{"Exactly one of whitelist/blacklist/topic is required."}},
		{[]string{"console-consumer", "--zookeeper", "z:2181", "--topic", "t", "--whitelist", "x"}, 2, []string{"Exactly one of whitelist/blacklist/topic is required."}},
		{[]string{"console-consumer", "--zookeeper", "z:2181", "--whitelist", "("}, 2, []string{"invalid topic regex"}},
		{[]string{"console-consumer", "--zookeeper", "z:2181", "--topic", "t", "--partition-assignment-strategy", "sticky"}, 2, []string{"partition.assignment.strategy must be range or roundrobin"}},
		{[]string{"console-consumer", "--zookeeper", "z:2181", "--topic", "t", "--partition", "0"}, 2, []string{"--partition and --offset are not available with --zookeeper"}},
		{[]string{"console-consumer", "--zookeeper", "z:2181", "--topic", "t", "--consumer-property", "auto.commit.interval.ms=x"}, 2, []string{"auto.commit.interval.ms: invalid value"}},
		{[]string{"console-consumer", "--bootstrap-server", "x:1", "--topic", "t", "--whitelist", "x"}, 2, []string{"need --zookeeper"}},
		{[]string{"console-consumer", "--topic", "t", "--bootstrap-server", "x:1", "--group", "g"}, 2, []string{"--group with --bootstrap-server is not supported yet"}},
		{[]string{"console-consumer", "--topic", "t", "--bootstrap-server", "x:1", "--offset", "5"}, 2, []string{"The partition is required when offset is specified."}},
		{[]string{"console-consumer", "--topic", "t", "--bootstrap-server", "x:1", "--partition", "0", "--offset", "5", "--from-beginning"}, 2, []string{"Options from-beginning and offset cannot be specified together."}},
		{[]string{"console-consumer", "--topic", "t", "--bootstrap-server", "x:1", "--partition", "0", "--offset", "soon"}, 2, []string{"The provided offset value 'soon' is incorrect."}},
		{[]string{"console-consumer", "--bootstrap-server", "x:1"}, 2, []string{`Missing required argument "[topic]"`}},
		{[]string{"console-consumer", "--topic", "t", "--bootstrap-server", "x:1", "--max-messages", "-1"}, 2, []string{"must not be negative"}},
	}
	for _, tc := range cases {
		code, _, stderr := runCLI(t, "", tc.args...)
		if code != tc.code {
			t.Errorf("%v: exit code %d, want %d (stderr %q)", tc.args, code, tc.code, stderr)
		}
		rest := stderr
		for _, w := range tc.want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Errorf("%v: stderr %q does not contain %q", tc.args, stderr, w)
				break
			}
			rest = rest[i+len(w):]
		}
	}
}

func TestCLINoArgsShowsHelp(t *testing.T) {
	code, stdout, _ := runCLI(t, "")
	if code != exitUsage || !strings.Contains(stdout, "console-consumer") {
		t.Errorf("code %d, stdout %q", code, stdout)
	}
	code, stdout, _ = runCLI(t, "", "topics", "--help")
	if code != 0 || !strings.Contains(stdout, "--bootstrap-server") {
		t.Errorf("topics --help: code %d, stdout %q", code, stdout)
	}
}

func TestCLIBrokerConfigErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "server.properties")
	if err := os.WriteFile(path, []byte("broker.id=abc\nzookeeper.connect=localhost:2181\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "", "broker", path)
	want := `invalid value "abc" for broker.id in ` + path + ": expected an integer >= 0\n"
	if code != exitUsage || stderr != want {
		t.Errorf("code %d, stderr %q, want %q", code, stderr, want)
	}
	// --override after the file name, as with kafka-server-start.sh.
	code, _, stderr = runCLI(t, "", "broker", path, "--override", "broker.id=x")
	if code != exitUsage || !strings.Contains(stderr, `invalid value "x" for broker.id in --override`) {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "", "broker", filepath.Join(dir, "missing.properties"))
	if code != exitUsage || !strings.HasPrefix(stderr, "cannot read broker config: open ") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
}

func TestCLIUnreachableBroker(t *testing.T) {
	const msg = "cannot reach broker at " + deadBroker + ": is `zkafka broker` running? (start one with `make run`)"
	code, _, stderr := runCLI(t, "", "topics", "--list", "--bootstrap-server", deadBroker)
	if code != exitFailed || stderr != "Error while executing topic command : "+msg+"\n" {
		t.Errorf("topics --list: code %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "", "topics", "--create", "--topic", "t", "--bootstrap-server", deadBroker)
	if code != exitFailed || !strings.Contains(stderr, msg) {
		t.Errorf("topics --create: code %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "", "console-consumer", "--topic", "t", "--bootstrap-server", deadBroker)
	if code != exitFailed || !strings.Contains(stderr, msg) || !strings.HasSuffix(stderr, "Processed a total of 0 messages\n") {
		t.Errorf("console-consumer: code %d, stderr %q", code, stderr)
	}
}

func TestCLITopicNameChecked(t *testing.T) {
	code, _, stderr := runCLI(t, "", "topics", "--create", "--topic", "bad name", "--bootstrap-server", deadBroker)
	want := "Error while executing topic command : Topic name \"bad name\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'\n"
	if code != exitFailed || stderr != want {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "", "topics", "--create", "--topic", "t", "--config", "no.such=1", "--bootstrap-server", deadBroker)
	if code != exitFailed || stderr != "Error while executing topic command : Unknown topic config name: no.such\n" {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
}

func TestPermuteArgs(t *testing.T) {
	app := newApp(nil, nil, nil)
	cases := []struct{ in, want []string }{
		{[]string{"zkafka", "broker", "s.properties", "--override", "a=b", "--override=c=d"},
			[]string{"zkafka", "broker", "--override", "a=b", "--override=c=d", "--", "s.properties"}},
		{[]string{"zkafka", "topics", "--list", "--bootstrap-server", "h:1"},
			[]string{"zkafka", "topics", "--list", "--bootstrap-server", "h:1"}},
		{[]string{"zkafka", "nope", "x", "--y"}, []string{"zkafka", "nope", "x", "--y"}},
	}
	for _, tc := range cases {
		if got := permuteArgs(app, tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("permuteArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMatchingTopics(t *testing.T) {
	all := map[string]bool{"logstash": false, "logs": false, "a.b": false, "__consumer_offsets": false}
	cases := []struct {
		o    topicOptions
		want []string
	}{
		{topicOptions{}, []string{"__consumer_offsets", "a.b", "logs", "logstash"}},
		{topicOptions{excludeInt: true}, []string{"a.b", "logs", "logstash"}},
		{topicOptions{topic: "logs"}, []string{"logs"}},
		{topicOptions{topic: "log.*"}, []string{"logs", "logstash"}},
		{topicOptions{topic: "logs,a.b"}, []string{"a.b", "logs"}},
	}
	for _, tc := range cases {
		got, err := matchingTopics(all, tc.o)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("matchingTopics(%+v) = %v, %v; want %v", tc.o, got, err, tc.want)
		}
	}
}

func TestPrintDescription(t *testing.T) {
	d := topicDescription{Name: "t", Configs: []string{"segment.bytes=1073741824"}, Partitions: []partitionDescription{
		{ID: 0, Leader: 1, Replicas: []int32{1, 2, 3}, Isr: []int32{1, 2, 3}, LeaderAlive: true},
		{ID: 1, Leader: -1, Replicas: []int32{2, 3, 1}, Isr: []int32{2}},
	}}
	var b bytes.Buffer
	printDescription(&b, d, topicOptions{})
	want := "Topic: t\tPartitionCount: 2\tReplicationFactor: 3\tConfigs: segment.bytes=1073741824\n" +
		"\tTopic: t\tPartition: 0\tLeader: 1\tReplicas: 1,2,3\tIsr: 1,2,3\n" +
		"\tTopic: t\tPartition: 1\tLeader: none\tReplicas: 2,3,1\tIsr: 2\n"
	if b.String() != want {
		t.Errorf("got\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	printDescription(&b, d, topicOptions{underRepl: true})
	if want := "\tTopic: t\tPartition: 1\tLeader: none\tReplicas: 2,3,1\tIsr: 2\n"; b.String() != want {
		t.Errorf("under-replicated: got %q", b.String())
	}
}

func TestLineToMessage(t *testing.T) {
	o := producerOptions{parseKey: true, keySeparator: ":"}
	m, err := lineToMessage([]byte("k:v:w"), 1, o)
	if err != nil || string(m.Key) != "k" || string(m.Value) != "v:w" {
		t.Errorf("got %q %q %v", m.Key, m.Value, err)
	}
	if _, err := lineToMessage([]byte("nokey"), 7, o); err == nil || err.Error() != "No key found on line 7: nokey" {
		t.Errorf("err = %v", err)
	}
	o.ignoreError = true
	if m, err := lineToMessage([]byte("nokey\r"), 7, o); err != nil || m.Key != nil || string(m.Value) != "nokey" {
		t.Errorf("ignore.error: %q %q %v", m.Key, m.Value, err)
	}
}

func TestWriteMessage(t *testing.T) {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	f := formatOptions{printKey: true, printValue: true, keySeparator: ":", lineSeparator: "\n"}
	writeMessage(w, kafka.Message{Key: []byte("k"), Value: []byte("v")}, f)
	writeMessage(w, kafka.Message{Value: []byte("v2")}, f)
	writeMessage(w, kafka.Message{Value: []byte("v3")}, formatOptions{printValue: true, lineSeparator: "\n"})
	w.Flush()
	if want := "k:v\nnull:v2\nv3\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}
