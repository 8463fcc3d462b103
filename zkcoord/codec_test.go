package zkcoord

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// golden is one znode value recorded from real Kafka 2.4.1.
type golden struct {
	path string // chroot-relative
	data string
	src  string
}

// loadGolden reads every znode value from the reference dump and
// transaction log in testdata/ (copied from /work/shared/reference).
func loadGolden(t *testing.T) []golden {
	t.Helper()
	var out []golden
	f, err := os.Open("testdata/kafka-2.4.1-zk-dump.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	var last string
	line := 0
	for sc.Scan() {
		line++
		l := sc.Text()
		if strings.HasPrefix(l, "/realkafka") {
			last = strings.Fields(l)[0]
			continue
		}
		if d, ok := strings.CutPrefix(strings.TrimSpace(l), "data: "); ok && last != "" {
			out = append(out, golden{path: strings.TrimPrefix(last, "/realkafka"), data: d, src: "dump:" + strconv.Itoa(line)})
		}
	}
	txn, err := os.ReadFile("testdata/kafka-2.4.1-zk-txnlog.txt")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?:create|setData) /realkafka(\S+) (?:\S+ )?data='([^']*)'`)
	for i, l := range strings.Split(string(txn), "\n") {
		for _, m := range re.FindAllStringSubmatch(l, -1) {
			out = append(out, golden{path: m[1], data: m[2], src: "txnlog:" + strconv.Itoa(i+1)})
		}
	}
	return out
}

var (
	reBroker     = regexp.MustCompile(`^/brokers/ids/(\d+)$`)
	reTopic      = regexp.MustCompile(`^/brokers/topics/([^/]+)$`)
	reState      = regexp.MustCompile(`^/brokers/topics/[^/]+/partitions/\d+/state$`)
	reConfig     = regexp.MustCompile(`^/config/(topics|clients|users|brokers)/[^/]+$`)
	reConfChange = regexp.MustCompile(`^/config/changes/config_change_\d{10}$`)
	reIsrChange  = regexp.MustCompile(`^/isr_change_notification/isr_change_\d{10}$`)
)

// roundTrip decodes data as the znode at p and re-encodes it.
func roundTrip(p string, data []byte) ([]byte, string, error) {
	switch {
	case reBroker.MatchString(p):
		id, _ := strconv.Atoi(reBroker.FindStringSubmatch(p)[1])
		b, err := DecodeBrokerInfo(int32(id), data)
		if err != nil {
			return nil, "broker", err
		}
		enc, err := EncodeBrokerInfo(b)
		return enc, "broker", err
	case reState.MatchString(p):
		l, err := DecodeLeaderAndIsr(data)
		return EncodeLeaderAndIsr(l), "state", err
	case reTopic.MatchString(p):
		a, err := DecodeTopicAssignment(reTopic.FindStringSubmatch(p)[1], data)
		return EncodeTopicAssignment(a), "topic", err
	case p == ClusterIDPath:
		id, err := DecodeClusterID(data)
		return EncodeClusterID(id), "cluster", err
	case p == ControllerPath:
		c, err := DecodeControllerInfo(data)
		return EncodeControllerInfo(c), "controller", err
	case p == ControllerEpochPath:
		e, err := DecodeControllerEpoch(data)
		return EncodeControllerEpoch(e), "epoch", err
	case p == LatestProducerIDBlockPath:
		b, err := DecodeProducerIDBlock(data)
		return EncodeProducerIDBlock(b), "pid", err
	case reConfig.MatchString(p):
		c, err := DecodeEntityConfig(data)
		return EncodeEntityConfig(c), "config", err
	case reConfChange.MatchString(p):
		e, err := DecodeConfigChangeNotification(data)
		return EncodeConfigChangeNotification(e), "config_change", err
	case reIsrChange.MatchString(p):
		tps, err := DecodeIsrChangeNotification(data)
		return EncodeIsrChangeNotification(tps), "isr_change", err
	case p == PreferredReplicaElectionPath:
		tps, err := DecodePreferredReplicaElection(data)
		return EncodePreferredReplicaElection(tps), "preferred", err
	}
	return nil, "", errors.New("no codec")
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// TestGoldenRoundTrip decodes every znode value real Kafka 2.4.1 wrote and
// checks that re-encoding gives the same JSON object (key order free).
func TestGoldenRoundTrip(t *testing.T) {
	seen := map[string]int{}
	for _, g := range loadGolden(t) {
		enc, kind, err := roundTrip(g.path, []byte(g.data))
		if err != nil {
			t.Errorf("%s %s: %v (data %s)", g.src, g.path, err, g.data)
			continue
		}
		seen[kind]++
		if kind == "epoch" {
			if string(enc) != g.data {
				t.Errorf("%s %s: got %s want %s", g.src, g.path, enc, g.data)
			}
			continue
		}
		if !jsonEqual(enc, []byte(g.data)) {
			t.Errorf("%s %s:\n got %s\nwant %s", g.src, g.path, enc, g.data)
		}
	}
	for _, k := range []string{"broker", "state", "topic", "cluster", "controller", "epoch", "pid", "config", "config_change", "isr_change", "preferred"} {
		if seen[k] == 0 {
			t.Errorf("no golden value exercised codec %q", k)
		}
	}
	t.Logf("golden values per codec: %v", seen)
}

func TestBrokerInfoEncodeShape(t *testing.T) {
	b := BrokerInfo{ID: 1, JMXPort: -1, Timestamp: 1575300000123, Rack: "dc1", Endpoints: []EndPoint{
		{ListenerName: "PLAINTEXT", Host: "broker1.example", Port: 9092, SecurityProtocol: "PLAINTEXT"},
		{ListenerName: "SSL", Host: "broker1.example", Port: 9093, SecurityProtocol: "SSL"},
	}}
	got, err := EncodeBrokerInfo(b)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT","SSL":"SSL"},"endpoints":["PLAINTEXT://broker1.example:9092","SSL://broker1.example:9093"],"rack":"dc1","jmx_port":-1,"host":"broker1.example","timestamp":"1575300000123","port":9092,"version":4}`
	if !jsonEqual(got, []byte(want)) {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	// no PLAINTEXT listener → host null, port -1; no rack → no field
	b = BrokerInfo{ID: 2, JMXPort: 9999, Timestamp: 1, Endpoints: []EndPoint{{ListenerName: "INTERNAL", Host: "::1", Port: 9094, SecurityProtocol: "SSL"}}}
	got, _ = EncodeBrokerInfo(b)
	want = `{"listener_security_protocol_map":{"INTERNAL":"SSL"},"endpoints":["INTERNAL://[::1]:9094"],"jmx_port":9999,"host":null,"timestamp":"1","port":-1,"version":4}`
	if !jsonEqual(got, []byte(want)) {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	back, err := DecodeBrokerInfo(2, got)
	if err != nil || back.Endpoints[0].Host != "::1" || back.Endpoints[0].SecurityProtocol != "SSL" || back.Rack != "" {
		t.Fatalf("decode: %+v %v", back, err)
	}
	// timestamp 0 → now
	b.Timestamp = 0
	got, _ = EncodeBrokerInfo(b)
	back, _ = DecodeBrokerInfo(2, got)
	if back.Timestamp < 1_600_000_000_000 {
		t.Fatalf("timestamp not filled: %d", back.Timestamp)
	}
	if _, err := EncodeBrokerInfo(BrokerInfo{ID: 3}); err == nil {
		t.Fatal("no endpoints accepted")
	}
}

func TestDecodeBrokerInfoOldVersions(t *testing.T) {
	cases := []struct {
		name, data string
		want       []EndPoint
		rack       string
	}{
		{"v1", `{"jmx_port":-1,"timestamp":"1","host":"h","version":1,"port":9092}`,
			[]EndPoint{{"PLAINTEXT", "h", 9092, "PLAINTEXT"}}, ""},
		{"v2", `{"jmx_port":-1,"timestamp":"1","endpoints":["PLAINTEXT://h:9092","SSL://h:9093"],"host":"h","version":2,"port":9092}`,
			[]EndPoint{{"PLAINTEXT", "h", 9092, "PLAINTEXT"}, {"SSL", "h", 9093, "SSL"}}, ""},
		{"v3 rack, numeric timestamp", `{"jmx_port":-1,"timestamp":1,"endpoints":["SSL://h:9093"],"rack":"r1","host":null,"version":3,"port":-1}`,
			[]EndPoint{{"SSL", "h", 9093, "SSL"}}, "r1"},
		{"v4 custom listener", `{"listener_security_protocol_map":{"CLIENT":"SASL_SSL"},"endpoints":["CLIENT://:9095"],"jmx_port":-1,"host":null,"timestamp":"1","port":-1,"version":4}`,
			[]EndPoint{{"CLIENT", "", 9095, "SASL_SSL"}}, ""},
	}
	for _, c := range cases {
		b, err := DecodeBrokerInfo(7, []byte(c.data))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(b.Endpoints, c.want) || b.Rack != c.rack || b.ID != 7 {
			t.Errorf("%s: got %+v", c.name, b)
		}
	}
}

func TestDecodersRejectGarbage(t *testing.T) {
	inputs := []string{"", "null", "{", "[]", `{"version":4}`, `{"version":"x"}`, "\x00\xff", `{"partitions":{"x":[1]}}`, `{"leader":1}`}
	for _, in := range inputs {
		d := []byte(in)
		// must not panic; most must error
		_, _ = DecodeBrokerInfo(1, d)
		_, _ = DecodeTopicAssignment("t", d)
		_, _ = DecodeLeaderAndIsr(d)
		_, _ = DecodeControllerInfo(d)
		_, _ = DecodeControllerEpoch(d)
		_, _ = DecodeClusterID(d)
		_, _ = DecodeEntityConfig(d)
		_, _ = DecodeConfigChangeNotification(d)
		_, _ = DecodeIsrChangeNotification(d)
		_, _ = DecodeReassignPartitions(d)
		_, _, _ = DecodeLogDirEventNotification(d)
		_, _ = DecodeProducerIDBlock(d)
		_, _ = DecodeConsumerOffset(d)
		_, _ = DecodeConsumerRegistration(d)
	}
	if _, err := DecodeLeaderAndIsr([]byte(`{"leader":1}`)); !errors.Is(err, ErrCorruptZNode) {
		t.Errorf("partial state accepted: %v", err)
	}
	if _, err := DecodeTopicAssignment("t", []byte(`{"version":2,"partitions":{"x":[1]}}`)); !errors.Is(err, ErrCorruptZNode) {
		t.Errorf("bad partition key accepted: %v", err)
	}
	if _, err := DecodeBrokerInfo(1, []byte(`{"version":4,"endpoints":["X://h:1"],"listener_security_protocol_map":{}}`)); !errors.Is(err, ErrCorruptZNode) {
		t.Errorf("unmapped listener accepted: %v", err)
	}
}

func TestSmallCodecs(t *testing.T) {
	checks := []struct{ got, want string }{
		{string(EncodeTopicAssignment(TopicAssignment{Partitions: map[int32][]int32{0: {1, 2}}})), `{"version":2,"partitions":{"0":[1,2]},"adding_replicas":{},"removing_replicas":{}}`},
		{string(EncodeLeaderAndIsr(LeaderAndIsr{Leader: -1, LeaderEpoch: 3, ControllerEpoch: 2})), `{"controller_epoch":2,"leader":-1,"version":1,"leader_epoch":3,"isr":[]}`},
		{string(EncodeControllerInfo(ControllerInfo{BrokerID: 2, Timestamp: 5})), `{"version":1,"brokerid":2,"timestamp":"5"}`},
		{string(EncodeClusterID("abc")), `{"version":"1","id":"abc"}`},
		{string(EncodeEntityConfig(nil)), `{"version":1,"config":{}}`},
		{string(EncodeConfigChangeNotification("topics/t1")), `{"version":2,"entity_path":"topics/t1"}`},
		{string(EncodeIsrChangeNotification([]TopicPartition{{"foo", 0}, {"foo", 2}})), `{"version":1,"partitions":[{"topic":"foo","partition":0},{"topic":"foo","partition":2}]}`},
		{string(EncodeReassignPartitions([]PartitionReassignment{{"foo", 0, []int32{4, 5, 6}}})), `{"version":1,"partitions":[{"topic":"foo","partition":0,"replicas":[4,5,6]}]}`},
		{string(EncodeLogDirEventNotification(2, LogDirFailureEvent)), `{"version":1,"broker":2,"event":1}`},
		{string(EncodeProducerIDBlock(ProducerIDBlock{BrokerID: 0, BlockStart: 0, BlockEnd: 999})), `{"version":1,"broker":0,"block_start":"0","block_end":"999"}`},
		{string(EncodeConsumerOffset(1234)), `1234`},
		{string(EncodeControllerEpoch(5)), `5`},
		{string(EncodeConsumerRegistration(ConsumerRegistration{Subscription: map[string]int32{"foo": 2}, Pattern: ConsumerPatternStatic, Timestamp: 1575300000789})), `{"version":1,"subscription":{"foo":2},"pattern":"static","timestamp":"1575300000789"}`},
	}
	for _, c := range checks {
		if !jsonEqual([]byte(c.got), []byte(c.want)) {
			t.Errorf("got %s want %s", c.got, c.want)
		}
	}
	if e, err := DecodeConfigChangeNotification([]byte(`{"version":1,"entity_type":"topics","entity_name":"foo"}`)); err != nil || e != "topics/foo" {
		t.Errorf("v1 notification: %q %v", e, err)
	}
	if a, err := DecodeTopicAssignment("t", []byte(`{"version":1,"partitions":{"0":[1,2],"1":[2,1]}}`)); err != nil || len(a.Partitions) != 2 || a.Version != 1 || len(a.AddingReplicas) != 0 {
		t.Errorf("v1 assignment: %+v %v", a, err)
	}
	if e, err := DecodeControllerEpoch([]byte(" 7\n")); err != nil || e != 7 {
		t.Errorf("epoch: %d %v", e, err)
	}
	if !bytes.Equal(EncodeControllerEpoch(InitialControllerEpoch), []byte("0")) {
		t.Error("initial epoch")
	}
}
