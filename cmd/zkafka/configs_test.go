package main

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/zkafka/zkafka/internal/testutil"
	"github.com/zkafka/zkafka/zkcoord"
)

func TestParseAddConfig(t *testing.T) {
	got, err := parseAddConfig("a=1, b = [x,y,z] ,c=d=e,leader.replication.throttled.replicas=[0:1,1:2]")
	want := map[string]string{"a": "1", "b": "x,y,z", "c": "d=e", "leader.replication.throttled.replicas": "0:1,1:2"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v %v", got, err)
	}
	for _, bad := range []string{"a", "a=1,,b=2", "=1"} {
		if _, err := parseAddConfig(bad); err == nil || !strings.Contains(err.Error(), `must be in the format "key=val"`) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestConfigsUsageErrors(t *testing.T) {
	base := []string{"configs", "--zookeeper", "z:1"}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"configs", "--describe", "--entity-type", "topics"}, "Only one of --bootstrap-server or --zookeeper must be specified"},
		{append(base, "--entity-type", "topics"), "Command must include exactly one action: --describe, --alter"},
		{append(base, "--describe", "--alter", "--entity-type", "topics"), "exactly one action"},
		{append(base, "--describe"), "At least one --entity-type must be specified"},
		{append(base, "--describe", "--entity-type", "clients"), "Invalid entity type clients, the entity type must be one of topics, brokers"},
		{append(base, "--alter", "--entity-type", "topics", "--add-config", "a=1"), "an entity name must be specified with --alter of topics"},
		{append(base, "--alter", "--entity-type", "topics", "--entity-name", "t"), "At least one of --add-config or --delete-config must be specified with --alter"},
		{append(base, "--alter", "--entity-type", "topics", "--entity-name", "t", "--add-config", "nokey"), `Invalid entity config: all configs to be added must be in the format "key=val".`},
		{append(base, "--describe", "--entity-type", "topics", "--add-config", "a=1"), `Option "[add-config]" can't be used with option "[describe]"`},
		{append(base, "--describe", "--entity-type", "brokers", "--entity-name", "one"), "The entity name for brokers must be a valid integer broker id, found: one"},
		{append(base, "--describe", "--entity-type", "topics", "--entity-default"), "--entity-default is only valid with --entity-type brokers"},
		{append(base, "--describe", "--entity-type", "brokers", "--entity-default", "--entity-name", "1"), "Only one of --entity-name or --entity-default can be specified"},
		{append(base, "--describe", "--entity-type", "topics", "--all"), "--all is only valid with --describe and --bootstrap-server"},
		{append(base, "--describe", "--entity-type", "topics", "--entity-name", "a/b"), "illegal"},
	}
	for _, c := range cases {
		code, _, errOut := runCLI(t, "", c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) || !strings.Contains(errOut, "Run 'zkafka configs --help' for usage.") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errOut, c.want)
		}
	}
}

// The ZooKeeper path in-process against a real ZooKeeper: describe, alter,
// and Kafka's errors.
func TestIntegration_ConfigsThroughZooKeeper(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (real ZooKeeper)")
	}
	z := testutil.StartZooKeeper(t)
	zkc := z.Connect("/k")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := zkcoord.Connect(ctx, zkc, 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateTopLevelPaths(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTopic(ctx, "t1", map[int32][]int32{0: {1}}, map[string]string{"retention.ms": "1000"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTopic(ctx, "t2", map[int32][]int32{0: {1}}, nil); err != nil {
		t.Fatal(err)
	}
	zk := func(args ...string) (int, string, string) {
		return runCLI(t, "", append([]string{"configs", "--zookeeper", zkc}, args...)...)
	}
	code, out, _ := zk("--entity-type", "topics", "--describe")
	if code != 0 || out != "Configs for topic 't1' are retention.ms=1000\nConfigs for topic 't2' are \n" {
		t.Fatalf("describe all: %d %q", code, out)
	}
	code, out, errOut := zk("--entity-type", "topics", "--entity-name", "t1", "--alter", "--add-config", "cleanup.policy=[compact,delete],segment.bytes=1000", "--delete-config", "retention.ms")
	if code != 0 || out != "Completed Updating config for entity: topic 't1'.\n" {
		t.Fatalf("alter: %d %q %q", code, out, errOut)
	}
	if cfg, _ := s.GetTopicConfig(ctx, "t1"); !reflect.DeepEqual(cfg, map[string]string{"cleanup.policy": "compact,delete", "segment.bytes": "1000"}) {
		t.Fatalf("stored %v", cfg)
	}
	names, _, _ := s.ConfigChangeNamesW(ctx)
	if len(names) != 1 {
		t.Fatalf("notifications %v", names)
	}
	if c, _ := s.GetConfigChange(ctx, names[0]); c.EntityPath != "topics/t1" {
		t.Fatalf("notification %+v", c)
	}
	code, out, _ = zk("--entity-type", "topics", "--entity-name", "t1", "--describe")
	if code != 0 || out != "Configs for topic 't1' are cleanup.policy=compact,delete,segment.bytes=1000\n" {
		t.Fatalf("describe: %q", out)
	}
	errs := []struct {
		args []string
		want string
	}{
		{[]string{"--entity-type", "topics", "--entity-name", "t1", "--alter", "--delete-config", "nope,retention.ms"}, "Invalid config(s): nope,retention.ms\n"},
		{[]string{"--entity-type", "topics", "--entity-name", "t1", "--alter", "--add-config", "bogus=1"}, "Unknown topic config name: bogus\n"},
		{[]string{"--entity-type", "topics", "--entity-name", "t1", "--alter", "--add-config", "segment.bytes=big"},
			"Error while executing config command with args 'configs --zookeeper " + zkc + " --entity-type topics --entity-name t1 --alter --add-config segment.bytes=big'\n" +
				"org.apache.kafka.common.config.ConfigException: Invalid value big for configuration segment.bytes: expected an integer\n"},
		{[]string{"--entity-type", "topics", "--entity-name", "gone", "--alter", "--add-config", "retention.ms=1"}, "Topic gone does not exist.\n"},
	}
	for _, e := range errs {
		code, _, errOut := zk(e.args...)
		if code != 1 || !strings.HasSuffix(errOut, e.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", e.args, code, errOut, e.want)
		}
	}
	// broker configs may be written while the broker is not running
	code, out, errOut = zk("--entity-type", "brokers", "--entity-default", "--alter", "--add-config", "log.retention.ms=5")
	if code != 0 || out != "Completed Updating config for entity: default brokers.\n" {
		t.Fatalf("broker default: %d %q %q", code, out, errOut)
	}
	code, out, _ = zk("--entity-type", "brokers", "--describe")
	if code != 0 || out != "Configs for default brokers are log.retention.ms=5\n" {
		t.Fatalf("brokers describe: %q", out)
	}
}
