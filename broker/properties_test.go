package broker

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeProps writes content to dir/server.properties and returns its path.
func writeProps(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "server.properties")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func stubHostname(t *testing.T, name string) {
	t.Helper()
	old := hostname
	hostname = func() (string, error) { return name, nil }
	t.Cleanup(func() { hostname = old })
}

func TestReadPropertiesSyntax(t *testing.T) {
	in := strings.Join([]string{
		"# comment",
		"   ! also a comment",
		"",
		"a=1",
		"b : 2",
		"c 3",
		"d\t=\t  spaced value  ",
		`e=first \`,
		`    second \`,
		`    third`,
		`f=tab\there\nnl \u0041\u00e9 back\\slash`,
		`key\ with\ spaces=x`,
		`g\:colon=y`,
		`h=ends with even \\`,
		"i",
		`j=no newline at end \`,
		"# a comment line continued \\",
		"k=after comment",
		`l=\`,
		"",
		"m=value with = and : inside",
		"n=crlf\r",
	}, "\n")
	got, err := readProperties(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []property{
		{"a", "1"},
		{"b", "2"},
		{"c", "3"},
		{"d", "spaced value  "},
		{"e", "first second third"},
		{"f", "tab\there\nnl Aé back\\slash"},
		{"key with spaces", "x"},
		{"g:colon", "y"},
		{"h", `ends with even \`},
		{"i", ""},
		{"j", "no newline at end # a comment line continued k=after comment"},
		{"l", ""},
		{"m", "value with = and : inside"},
		{"n", "crlf"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

func TestReadPropertiesBadEscape(t *testing.T) {
	_, err := readProperties(strings.NewReader("x=1\ny=\\u12G4\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v, want a line 2 escape error", err)
	}
}

func TestParsePropertiesDefaults(t *testing.T) {
	stubHostname(t, "myhost")
	cfg, err := ParseProperties(writeProps(t, "zookeeper.connect=localhost:2181\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := defaultConfig()
	want.ZooKeeperConnect = "localhost:2181"
	want.ZooKeeperConnectionTimeout = 6 * time.Second
	want.AdvertisedListeners = []Endpoint{{Name: "PLAINTEXT", Host: "myhost", Port: 9092}}
	want.Properties = map[string]string{"zookeeper.connect": "localhost:2181"}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}
	if cfg.BrokerID != -1 || cfg.LogRetentionTime != 168*time.Hour || cfg.LogFlushIntervalMessages != math.MaxInt64 ||
		cfg.MessageMaxBytes != 1000012 || !cfg.DeleteTopicEnable || cfg.UncleanLeaderElectionEnable {
		t.Errorf("Kafka 2.4 defaults not applied: %+v", cfg)
	}
}

func TestParsePropertiesShippedFile(t *testing.T) {
	cfg, err := ParseProperties(filepath.Join("..", "config", "server.properties"), nil)
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("config/server.properties not present")
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Unknown) != 0 {
		t.Errorf("shipped file has keys zkafka warns about: %v", cfg.Unknown)
	}
	if cfg.BrokerID != 0 || cfg.ZooKeeperConnect != "localhost:2181" || cfg.LogDirs[0] != "/tmp/kafka-logs" ||
		cfg.OffsetsTopicReplicationFactor != 1 || cfg.GroupInitialRebalanceDelay != 0 {
		t.Errorf("unexpected config from shipped file: %+v", cfg)
	}
}

func TestParsePropertiesValues(t *testing.T) {
	stubHostname(t, "myhost")
	file := `broker.id=7
listeners=PLAINTEXT://127.0.0.1:9093,INTERNAL://[::1]:9094
advertised.listeners=PLAINTEXT://:9093
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT
broker.rack=r1
log.dir=/ignored
log.dirs=/a, /b
zookeeper.connect=zk1:2181,zk2:2182/kafka/prod
zookeeper.session.timeout.ms=18000
num.partitions=3
default.replication.factor=2
auto.create.topics.enable=FALSE
delete.topic.enable=false
log.segment.bytes=1048576
log.roll.hours=1
log.roll.ms=5000
log.index.size.max.bytes=4096
log.index.interval.bytes=0
log.retention.hours=1
log.retention.minutes=2
log.retention.bytes=1000
log.flush.interval.messages=10
log.flush.interval.ms=100
message.max.bytes=2000000
socket.request.max.bytes=3000000
min.insync.replicas=2
unclean.leader.election.enable=true
controlled.shutdown.enable=false
num.network.threads=3
some.unknown.key=1
another.unknown=2
`
	cfg, err := ParseProperties(writeProps(t, file), nil)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("BrokerID", cfg.BrokerID, int32(7))
	check("Listeners", cfg.Listeners, []Endpoint{{"PLAINTEXT", "127.0.0.1", 9093}, {"INTERNAL", "::1", 9094}})
	check("AdvertisedListeners", cfg.AdvertisedListeners, []Endpoint{{"PLAINTEXT", "myhost", 9093}})
	check("Rack", cfg.Rack, "r1")
	check("LogDirs", cfg.LogDirs, []string{"/a", "/b"})
	check("ZooKeeperConnect", cfg.ZooKeeperConnect, "zk1:2181,zk2:2182/kafka/prod")
	check("ZooKeeperSessionTimeout", cfg.ZooKeeperSessionTimeout, 18*time.Second)
	check("ZooKeeperConnectionTimeout", cfg.ZooKeeperConnectionTimeout, 18*time.Second)
	check("NumPartitions", cfg.NumPartitions, int32(3))
	check("DefaultReplicationFactor", cfg.DefaultReplicationFactor, int16(2))
	check("AutoCreateTopicsEnable", cfg.AutoCreateTopicsEnable, false)
	check("DeleteTopicEnable", cfg.DeleteTopicEnable, false)
	check("LogSegmentBytes", cfg.LogSegmentBytes, int64(1<<20))
	check("LogRollTime", cfg.LogRollTime, 5*time.Second)
	check("LogIndexSizeMaxBytes", cfg.LogIndexSizeMaxBytes, int32(4096))
	check("LogIndexIntervalBytes", cfg.LogIndexIntervalBytes, int32(0))
	check("LogRetentionTime", cfg.LogRetentionTime, 2*time.Minute)
	check("LogRetentionBytes", cfg.LogRetentionBytes, int64(1000))
	check("LogFlushIntervalMessages", cfg.LogFlushIntervalMessages, int64(10))
	check("LogFlushInterval", cfg.LogFlushInterval, 100*time.Millisecond)
	check("MessageMaxBytes", cfg.MessageMaxBytes, int32(2000000))
	check("SocketRequestMaxBytes", cfg.SocketRequestMaxBytes, int32(3000000))
	check("MinInsyncReplicas", cfg.MinInsyncReplicas, int16(2))
	check("UncleanLeaderElectionEnable", cfg.UncleanLeaderElectionEnable, true)
	check("ControlledShutdownEnable", cfg.ControlledShutdownEnable, false)
	check("Unknown", cfg.Unknown, []string{"another.unknown", "some.unknown.key"})
}

func TestParsePropertiesPrecedence(t *testing.T) {
	cases := []struct {
		file string
		want time.Duration
	}{
		{"log.retention.hours=2", 2 * time.Hour},
		{"log.retention.hours=2\nlog.retention.minutes=3", 3 * time.Minute},
		{"log.retention.ms=4\nlog.retention.minutes=3\nlog.retention.hours=2", 4 * time.Millisecond},
		{"log.retention.ms=-1", -1},
		{"log.retention.hours=-1", -1},
	}
	for _, tc := range cases {
		cfg, err := ParseProperties(writeProps(t, "zookeeper.connect=zk:2181\n"+tc.file), nil)
		if err != nil {
			t.Fatalf("%q: %v", tc.file, err)
		}
		if cfg.LogRetentionTime != tc.want {
			t.Errorf("%q: LogRetentionTime = %v, want %v", tc.file, cfg.LogRetentionTime, tc.want)
		}
	}
}

func TestParsePropertiesOverrides(t *testing.T) {
	path := writeProps(t, "broker.id=0\nzookeeper.connect=zk:2181\nlisteners=PLAINTEXT://127.0.0.1:9092\n")
	cfg, err := ParseProperties(path, []string{"broker.id=2", "listeners=PLAINTEXT://127.0.0.1:9093", "log.dirs = /d2 ", "x.y=z"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BrokerID != 2 || cfg.Listeners[0].Port != 9093 || cfg.AdvertisedListeners[0].Port != 9093 ||
		cfg.LogDirs[0] != "/d2" || !reflect.DeepEqual(cfg.Unknown, []string{"x.y"}) {
		t.Errorf("overrides not applied: %+v", cfg)
	}

	_, err = ParseProperties(path, []string{"broker.id"})
	if err == nil || err.Error() != `invalid --override "broker.id": expected key=value, e.g. --override broker.id=1` {
		t.Errorf("err = %v", err)
	}
	_, err = ParseProperties(path, []string{"broker.id=x"})
	if err == nil || err.Error() != `invalid value "x" for broker.id in --override: expected an integer >= 0` {
		t.Errorf("err = %v", err)
	}
}

func TestParsePropertiesLegacyPort(t *testing.T) {
	stubHostname(t, "h")
	cfg, err := ParseProperties(writeProps(t, "zookeeper.connect=zk\nport=9999\nhost.name=10.0.0.1\nadvertised.host.name=pub\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Endpoint{{"PLAINTEXT", "10.0.0.1", 9999}}; !reflect.DeepEqual(cfg.Listeners, want) {
		t.Errorf("Listeners = %v, want %v", cfg.Listeners, want)
	}
	if want := []Endpoint{{"PLAINTEXT", "pub", 9999}}; !reflect.DeepEqual(cfg.AdvertisedListeners, want) {
		t.Errorf("AdvertisedListeners = %v, want %v", cfg.AdvertisedListeners, want)
	}
}

func TestParsePropertiesInvalidValues(t *testing.T) {
	const zk = "zookeeper.connect=localhost:2181\n"
	cases := []struct{ file, want string }{
		{"broker.id=abc\n" + zk, `invalid value "abc" for broker.id in server.properties: expected an integer >= 0`},
		{"broker.id=-2\n" + zk, `invalid value "-2" for broker.id in server.properties: expected an integer >= 0`},
		{"broker.id=99999999999\n" + zk, `invalid value "99999999999" for broker.id in server.properties: expected an integer >= 0`},
		{"num.partitions=0\n" + zk, `invalid value "0" for num.partitions in server.properties: expected an integer >= 1`},
		{"default.replication.factor=40000\n" + zk, `invalid value "40000" for default.replication.factor in server.properties: expected an integer >= 1 and <= 32767`},
		{"delete.topic.enable=yes\n" + zk, `invalid value "yes" for delete.topic.enable in server.properties: expected true or false`},
		{"listeners=localhost:9092\n" + zk, `invalid value "localhost:9092" for listeners in server.properties: expected a comma-separated list of NAME://host:port, e.g. PLAINTEXT://:9092`},
		{"listeners=PLAINTEXT://:70000\n" + zk, `invalid value "PLAINTEXT://:70000" for listeners in server.properties: expected a comma-separated list of NAME://host:port, e.g. PLAINTEXT://:9092`},
		{"zookeeper.connect=localhost:abc", `invalid value "localhost:abc" for zookeeper.connect in server.properties: expected host:port[,host:port...][/chroot], e.g. localhost:2181`},
		{"zookeeper.connect=localhost:2181/kafka/", `invalid value "localhost:2181/kafka/" for zookeeper.connect in server.properties: expected host:port[,host:port...][/chroot], e.g. localhost:2181`},
		{"zookeeper.connect=a:1,,b:2", `invalid value "a:1,,b:2" for zookeeper.connect in server.properties: expected host:port[,host:port...][/chroot], e.g. localhost:2181`},
		{"zookeeper.connect=", `invalid value "" for zookeeper.connect in server.properties: expected host:port[,host:port...][/chroot], e.g. localhost:2181`},
		{"log.segment.bytes=10\n" + zk, `invalid value "10" for log.segment.bytes in server.properties: expected an integer from 14 to 2147483647`},
		{"log.retention.hours=1h\n" + zk, `invalid value "1h" for log.retention.hours in server.properties: expected an integer (-1 for no time limit)`},
		{"log.roll.ms=0\n" + zk, `invalid value "0" for log.roll.ms in server.properties: expected an integer >= 1`},
		{"zookeeper.session.timeout.ms=6s\n" + zk, `invalid value "6s" for zookeeper.session.timeout.ms in server.properties: expected an integer >= 1`},
		{"log.dirs= , \n" + zk, `invalid value ", " for log.dirs in server.properties: expected a comma-separated list of directories, e.g. /tmp/kafka-logs`},
		{"listener.security.protocol.map=PLAINTEXT:FOO\n" + zk, `invalid value "PLAINTEXT:FOO" for listener.security.protocol.map in server.properties: expected a comma-separated list of NAME:PROTOCOL with PROTOCOL one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL`},
		{"port=x\n" + zk, `invalid value "x" for port in server.properties: expected a port number 0-65535`},

		{"broker.id=1", `zookeeper.connect is not set in ` + "PATH" + `: add zookeeper.connect=localhost:2181 (host:port of your ZooKeeper)`},
		{"listeners=SSL://:9093\n" + zk, `listener SSL://:9093 uses security protocol SSL: zkafka supports only PLAINTEXT listeners for now`},
		{"listeners=FOO://:9093\n" + zk, `listener FOO://:9093 has no security protocol: add FOO:PLAINTEXT to listener.security.protocol.map`},
		{"listeners=PLAINTEXT://:9092\nadvertised.listeners=OTHER://h:9092\n" + zk, `advertised.listeners: listener name OTHER is not in listeners: advertise only names defined in listeners (PLAINTEXT://:9092)`},
		{"listeners=PLAINTEXT://0.0.0.0:9092\n" + zk, `advertised listener PLAINTEXT://0.0.0.0:9092 uses the non-routable address 0.0.0.0: set advertised.listeners=PLAINTEXT://<routable host>:9092`},
		{"listeners=PLAINTEXT://:9092,A://:9092\nlistener.security.protocol.map=PLAINTEXT:PLAINTEXT,A:PLAINTEXT\n" + zk, `listeners: PLAINTEXT://:9092 and A://:9092 use the same port 9092: give each listener its own port`},
		{"broker.id=5000\n" + zk, `broker.id=5000 is greater than reserved.broker.max.id=1000: use a smaller broker.id or raise reserved.broker.max.id`},
		{"broker.id.generation.enable=false\n" + zk, `broker.id is not set and broker.id.generation.enable=false: set broker.id to a unique integer >= 0`},
		{"message.max.bytes=200\nsocket.request.max.bytes=100\n" + zk, `message.max.bytes=200 is larger than socket.request.max.bytes=100: a produce request could never carry such a batch`},
	}
	stubHostname(t, "h")
	for _, tc := range cases {
		dir := t.TempDir()
		path := filepath.Join(dir, "server.properties")
		if err := os.WriteFile(path, []byte(tc.file), 0o644); err != nil {
			t.Fatal(err)
		}
		// Name the file as the user typed it: relative to the working directory.
		t.Chdir(dir)
		_, err := ParseProperties("server.properties", nil)
		want := strings.ReplaceAll(tc.want, "PATH", "server.properties")
		if err == nil || err.Error() != want {
			t.Errorf("file %q:\n got  %v\n want %s", tc.file, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("error is not one line: %q", err)
		}
	}
}

func TestParsePropertiesMissingFile(t *testing.T) {
	_, err := ParseProperties(filepath.Join(t.TempDir(), "nope.properties"), nil)
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "cannot read broker config: open ") {
		t.Errorf("err = %v", err)
	}
}

func TestConfigErrorType(t *testing.T) {
	_, err := ParseProperties(writeProps(t, "zookeeper.connect=zk\nnum.partitions=x\n"), nil)
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Key != "num.partitions" || ce.Value != "x" {
		t.Errorf("err = %#v, want *ConfigError for num.partitions", err)
	}
}

func FuzzReadProperties(f *testing.F) {
	f.Add("a=b\\\n c\n#x\n\\u0041=\\t")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = readProperties(strings.NewReader(s))
		_, _ = configFromSettings(map[string]setting{"listeners": {value: s}, "zookeeper.connect": {value: s}, "broker.id": {value: s}}, "f")
	})
}
