package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/segmentio/kafka-go"
)

// produceValue sends one record of size bytes to partition 0 of topic
// (kafka-go routes it to the leader) and returns the partition's error.
func produceValue(t *testing.T, client *kafka.Client, topic string, size int) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := client.Produce(ctx, &kafka.ProduceRequest{
		Topic: topic, Partition: 0, RequiredAcks: kafka.RequireOne,
		Records: kafka.NewRecordReader(kafka.Record{Value: kafka.NewBytes(bytes.Repeat([]byte("v"), size))}),
	})
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	return resp.Error
}

// segments counts the .log files of partition dir name on any broker.
func (e *env) segments(name string) int {
	n := 0
	for _, b := range e.c.Brokers {
		logs, _ := filepath.Glob(filepath.Join(b.Dir, name, "*.log"))
		n += len(logs)
	}
	return n
}

// TestIntegration_TopicConfigsAtRunTime changes a live topic's configs with
// `zkafka configs` through ZooKeeper and through a broker, and with
// kafka-go's AlterConfigs: the brokers apply them without a restart (a
// produce larger than max.message.bytes is refused, segments roll at the
// new segment.bytes), --describe shows values and sources both ways, and
// dump-log reads the segments the broker wrote.
func TestIntegration_TopicConfigsAtRunTime(t *testing.T) {
	e := newEnv(t, 2, nil)
	e.createTopic("cfg", 1, 2)
	e.waitTopic("cfg", 1)
	zkc := e.zk.Addr() + "/zkafka"
	boot := e.c.Brokers[1].Addr()
	client := &kafka.Client{Addr: kafka.TCP(e.c.Brokers[0].Addr()), Timeout: 30 * time.Second}

	if err := produceValue(t, client, "cfg", 3000); err != nil {
		t.Fatalf("3000-byte record before the change: %v", err)
	}
	out := e.run("", "configs", "--zookeeper", zkc, "--entity-type", "topics", "--entity-name", "cfg",
		"--alter", "--add-config", "max.message.bytes=1100,segment.bytes=1500")
	if out != "Completed Updating config for entity: topic 'cfg'.\n" {
		t.Fatalf("zk alter: %q", out)
	}
	eventually(t, 30*time.Second, func() error {
		if err := produceValue(t, client, "cfg", 1300); !errors.Is(err, kafka.MessageSizeTooLarge) {
			return fmt.Errorf("1300-byte record after max.message.bytes=1100: %v", err)
		}
		return nil
	})
	before := e.segments("cfg-0")
	for i := 0; i < 6; i++ { // ~1 KB batches, 1500-byte segments: a roll per batch
		if err := produceValue(t, client, "cfg", 1000); err != nil {
			t.Fatal(err)
		}
	}
	if after := e.segments("cfg-0"); after < before+5 {
		t.Fatalf("segments %d -> %d: not rolling at segment.bytes=1500", before, after)
	}

	if out := e.run("", "configs", "--zookeeper", zkc, "--entity-type", "topics", "--entity-name", "cfg", "--describe"); out != "Configs for topic 'cfg' are max.message.bytes=1100,segment.bytes=1500\n" {
		t.Fatalf("zk describe: %q", out)
	}
	want := "Dynamic configs for topic cfg are:\n" +
		"  max.message.bytes=1100 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:max.message.bytes=1100, DEFAULT_CONFIG:message.max.bytes=1000012}\n" +
		"  segment.bytes=1500 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:segment.bytes=1500, DEFAULT_CONFIG:log.segment.bytes=1073741824}\n"
	if out := e.run("", "configs", "--bootstrap-server", boot, "--entity-type", "topics", "--entity-name", "cfg", "--describe"); out != want {
		t.Fatalf("bootstrap describe:\n%s\nwant:\n%s", out, want)
	}

	// through a broker: drop max.message.bytes, and a 1300-byte record goes in
	// (it fits a 1500-byte segment)
	if out := e.run("", "configs", "--bootstrap-server", boot, "--entity-type", "topics", "--entity-name", "cfg",
		"--alter", "--delete-config", "max.message.bytes"); out != "Completed updating config for topic cfg.\n" {
		t.Fatalf("bootstrap alter: %q", out)
	}
	eventually(t, 30*time.Second, func() error { return produceValue(t, client, "cfg", 1300) })

	// Kafka's error texts, exit 1
	_, errOut, err := e.tryRun("", "configs", "--bootstrap-server", boot, "--entity-type", "topics", "--entity-name", "cfg", "--alter", "--add-config", "bogus=1")
	if err == nil || !strings.Contains(errOut, "org.apache.kafka.common.errors.InvalidConfigurationException: Unknown topic config name: bogus") {
		t.Fatalf("unknown config through a broker: %v %q", err, errOut)
	}
	_, errOut, err = e.tryRun("", "configs", "--zookeeper", zkc, "--entity-type", "topics", "--entity-name", "cfg", "--alter", "--delete-config", "retention.ms")
	if err == nil || errOut != "Invalid config(s): retention.ms\n" {
		t.Fatalf("deleting an unset config: %v %q", err, errOut)
	}
	_, errOut, err = e.tryRun("", "configs", "--zookeeper", zkc, "--entity-type", "brokers", "--entity-name", "1", "--alter", "--add-config", "log.segment.bytes=1000")
	if err == nil || !strings.Contains(errOut, "--bootstrap-server option must be specified to update broker configs Set(log.segment.bytes) when broker 1 is running.") {
		t.Fatalf("zk broker alter: %v %q", err, errOut)
	}
	_, errOut, err = e.tryRun("", "configs", "--bootstrap-server", boot, "--entity-type", "brokers", "--entity-name", "2", "--alter", "--add-config", "log.segment.bytes=1000")
	if err == nil || !strings.Contains(errOut, "InvalidRequestException: Invalid config value for resource ConfigResource(type=BROKER, name='2'): Cannot update these configs dynamically: Set(log.segment.bytes)") {
		t.Fatalf("broker alter: %v %q", err, errOut)
	}

	// a broker's static configuration with --all, sent to that broker
	out = e.run("", "configs", "--bootstrap-server", boot, "--entity-type", "brokers", "--entity-name", "1", "--describe", "--all")
	if !strings.HasPrefix(out, "All configs for broker 1 are:\n") ||
		!strings.Contains(out, "\n  broker.id=1 sensitive=false synonyms={STATIC_BROKER_CONFIG:broker.id=1, DEFAULT_CONFIG:broker.id=-1}\n") ||
		!strings.Contains(out, "\n  num.partitions=1 sensitive=false synonyms={DEFAULT_CONFIG:num.partitions=1}\n") {
		t.Fatalf("broker --all:\n%s", out)
	}

	// kafka-go's AlterConfigs and DescribeConfigs
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ar, err := client.AlterConfigs(ctx, &kafka.AlterConfigsRequest{Resources: []kafka.AlterConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: "cfg",
		Configs: []kafka.AlterConfigRequestConfig{{Name: "retention.ms", Value: "3600000"}, {Name: "segment.bytes", Value: "1500"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	for res, err := range ar.Errors {
		if err != nil {
			t.Fatalf("kafka-go AlterConfigs %v: %v", res, err)
		}
	}
	dr, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{IncludeSynonyms: true, Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: "cfg", ConfigNames: []string{"retention.ms", "max.message.bytes"},
	}}})
	if err != nil || len(dr.Resources) != 1 || dr.Resources[0].Error != nil || len(dr.Resources[0].ConfigEntries) != 2 {
		t.Fatalf("kafka-go DescribeConfigs: %+v %v", dr, err)
	}
	for _, c := range dr.Resources[0].ConfigEntries {
		switch {
		case c.ConfigName == "retention.ms" && (c.ConfigValue != "3600000" || c.ConfigSource != 1):
			t.Fatalf("retention.ms: %+v", c)
		case c.ConfigName == "max.message.bytes" && (c.ConfigValue != "1000012" || c.ConfigSource != 5):
			t.Fatalf("max.message.bytes: %+v", c)
		}
	}

	// dump-log reads a segment the leader wrote (the follower's is empty:
	// no replication yet)
	var seg string
	for _, b := range e.c.Brokers {
		if s := filepath.Join(b.Dir, "cfg-0", "00000000000000000000.log"); fileSize(s) > 0 {
			seg = s
		}
	}
	out = e.run("", "dump-log", "--files", seg, "--print-data-log")
	if !strings.HasPrefix(out, "Dumping "+seg+"\nStarting offset: 0\nbaseOffset: 0 lastOffset: 0 count: 1 ") ||
		!strings.Contains(out, "compresscodec: NONE crc: ") || !strings.Contains(out, "isvalid: true\n| offset: 0 CreateTime: ") ||
		!strings.Contains(out, " payload: "+strings.Repeat("v", 3000)+"\n") {
		t.Fatalf("dump-log of the broker's first segment:\n%.600s", out)
	}
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return -1
	}
	return st.Size()
}

// TestIntegration_ConfigChangesAfterSessionExpiry pauses a broker past its
// ZooKeeper session: a config change made meanwhile, and one made after it
// runs again, both reach its logs (it re-reads and re-watches
// /config/changes on the new session).
func TestIntegration_ConfigChangesAfterSessionExpiry(t *testing.T) {
	e := newEnv(t, 1, nil)
	e.createTopic("exp", 1, 1)
	e.waitTopic("exp", 1)
	zkc := e.zk.Addr() + "/zkafka"
	client := &kafka.Client{Addr: kafka.TCP(e.c.Brokers[0].Addr()), Timeout: 30 * time.Second}
	b := e.c.Brokers[0]
	if err := b.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Signal(syscall.SIGCONT) })
	conn, _, err := zk.Connect([]string{e.zk.Addr()}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	eventually(t, 30*time.Second, func() error { // the session expired
		if ok, _, err := conn.Exists("/zkafka/brokers/ids/1"); err != nil || ok {
			return fmt.Errorf("registration still there (%v)", err)
		}
		return nil
	})
	e.run("", "configs", "--zookeeper", zkc, "--entity-type", "topics", "--entity-name", "exp", "--alter", "--add-config", "max.message.bytes=500")
	if err := b.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, func() error {
		if err := produceValue(t, client, "exp", 1000); !errors.Is(err, kafka.MessageSizeTooLarge) {
			return fmt.Errorf("change made while paused not applied: %v", err)
		}
		return nil
	})
	e.run("", "configs", "--zookeeper", zkc, "--entity-type", "topics", "--entity-name", "exp", "--alter", "--delete-config", "max.message.bytes")
	eventually(t, 30*time.Second, func() error { return produceValue(t, client, "exp", 1000) })
}
