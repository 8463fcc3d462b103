package broker

import (
	"context"
	"io"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/internal/testutil"
	"github.com/zkafka/zkafka/logstore"
	"github.com/zkafka/zkafka/zkcoord"
)

func TestPendingAndExpiredConfigChanges(t *testing.T) {
	names := []string{"config_change_0000000001", "config_change_0000000002", "config_change_0000000010"}
	cases := []struct {
		last int64
		want []string
	}{
		{-1, names},
		{1, names[1:]},
		{2, names[2:]},
		{10, nil},
		{99, nil}, // notifications were purged and the counter moved on elsewhere
	}
	for _, c := range cases {
		if got := pendingConfigChanges(names, c.last); !reflect.DeepEqual(got, c.want) {
			t.Errorf("last %d: got %v want %v", c.last, got, c.want)
		}
	}
	now := time.Unix(100000, 0)
	created := map[string]time.Time{
		names[0]: now.Add(-16 * time.Minute),
		names[1]: now.Add(-15 * time.Minute), // not older than 15 minutes: kept
		names[2]: now.Add(-time.Hour),
	}
	if got := expiredConfigChanges(created, now); !reflect.DeepEqual(got, []string{names[0], names[2]}) {
		t.Errorf("expired %v", got)
	}
}

func TestApplyConfigOps(t *testing.T) {
	set, del := kmsg.IncrementalAlterConfigOpSet, kmsg.IncrementalAlterConfigOpDelete
	app, sub := kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract
	op := func(name string, o kmsg.IncrementalAlterConfigOp, v string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
		return kmsg.IncrementalAlterConfigsRequestResourceConfig{Name: name, Op: o, Value: kmsg.StringPtr(v)}
	}
	def := func(name string) string { return map[string]string{"cleanup.policy": "delete"}[name] }
	cases := []struct {
		name    string
		start   map[string]string
		ops     []kmsg.IncrementalAlterConfigsRequestResourceConfig
		want    map[string]string
		errCode int16
	}{
		{"set and delete", map[string]string{"retention.ms": "1", "segment.ms": "5"},
			[]kmsg.IncrementalAlterConfigsRequestResourceConfig{op("retention.ms", set, "2"), op("segment.ms", del, "")},
			map[string]string{"retention.ms": "2"}, 0},
		{"append to default", map[string]string{},
			[]kmsg.IncrementalAlterConfigsRequestResourceConfig{op("cleanup.policy", app, "compact")},
			map[string]string{"cleanup.policy": "delete,compact"}, 0},
		{"subtract", map[string]string{"leader.replication.throttled.replicas": "0:1,1:2,0:1"},
			[]kmsg.IncrementalAlterConfigsRequestResourceConfig{op("leader.replication.throttled.replicas", sub, "0:1")},
			map[string]string{"leader.replication.throttled.replicas": "1:2,0:1"}, 0},
		{"append to non-list", map[string]string{},
			[]kmsg.IncrementalAlterConfigsRequestResourceConfig{op("retention.ms", app, "1")}, nil, kerr.InvalidRequest.Code},
		{"append unknown", map[string]string{},
			[]kmsg.IncrementalAlterConfigsRequestResourceConfig{op("nope", app, "1")}, nil, kerr.InvalidConfig.Code},
		{"bad op", map[string]string{},
			[]kmsg.IncrementalAlterConfigsRequestResourceConfig{op("retention.ms", 7, "1")}, nil, kerr.InvalidRequest.Code},
	}
	for _, c := range cases {
		err := applyConfigOps(c.start, c.ops, def)
		if c.errCode != 0 {
			if err == nil || configErrorCode(err) != c.errCode {
				t.Errorf("%s: err %v, want code %d", c.name, err, c.errCode)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(c.start, c.want) {
			t.Errorf("%s: got %v %v, want %v", c.name, c.start, err, c.want)
		}
	}
}

func TestValidateTopicAlter(t *testing.T) {
	if err := validateTopicAlter("t", map[string]string{"segment.bytes": "1000", "cleanup.policy": "compact,delete"}); err != nil {
		t.Fatal(err)
	}
	err := validateTopicAlter("t", map[string]string{"segment.bytes": "x", "bogus": "1"})
	if configErrorCode(err) != kerr.InvalidConfig.Code || err.Error() != "Unknown topic config name: bogus" {
		t.Fatalf("unknown name: %v", err)
	}
	err = validateTopicAlter("t", map[string]string{"segment.bytes": "x"})
	if configErrorCode(err) != kerr.InvalidRequest.Code ||
		!strings.HasPrefix(err.Error(), "Invalid config value for resource ConfigResource(type=TOPIC, name='t'): Invalid value x for configuration segment.bytes:") {
		t.Fatalf("bad value: %v", err)
	}
}

// zkTestBroker is the test broker of broker_test.go with a ZooKeeper
// session (a private ZooKeeper), so config requests read and write
// /config, and new logs take their topic's config.
func newZKTestBroker(t *testing.T, cfg Config) (*testBroker, *zkcoord.Session) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test (real ZooKeeper)")
	}
	z := testutil.StartZooKeeper(t)
	log := logrus.New()
	log.SetOutput(io.Discard)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := zkcoord.Connect(ctx, z.Connect("/kafka"), 6*time.Second, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.CreateTopLevelPaths(ctx); err != nil {
		t.Fatal(err)
	}
	b := &Broker{cfg: cfg, log: log, meta: newMetadataCache(), clusterID: "test-cluster-id-000000", zk: s}
	b.registerAPIs()
	lcfg := b.logConfig()
	if b.logs, err = logstore.OpenManager([]string{t.TempDir()}, lcfg, log); err != nil {
		t.Fatal(err)
	}
	topicConfig := func(topic string) (map[string]string, error) { return s.GetTopicConfig(context.Background(), topic) }
	b.replicas = newReplicaManager(cfg.BrokerID, b.logs, lcfg, topicConfig, log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveCtx, stop := context.WithCancel(context.Background())
	b.goroutines.Go("listener", func() { b.serve(serveCtx, ln, "PLAINTEXT") })
	b.goroutines.Go("config-changes", func() { b.runConfigChangeListener(serveCtx) })
	tb := &testBroker{b: b, addr: ln.Addr().String()}
	var once sync.Once
	tb.stop = func() {
		once.Do(func() {
			stop()
			b.goroutines.Wait()
			b.logs.Close()
		})
	}
	t.Cleanup(tb.stop)
	return tb, s
}

func testConfig() Config {
	cfg := defaultConfig()
	cfg.BrokerID = 1
	cfg.Properties = map[string]string{"broker.id": "1", "log.segment.bytes": "1000000", "log.roll.hours": "24"}
	cfg.LogSegmentBytes = 1000000
	cfg.LogRollTime = 24 * time.Hour
	return cfg
}

func describeReq(synonyms bool, resources ...kmsg.DescribeConfigsRequestResource) *kmsg.DescribeConfigsRequest {
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.Resources, req.IncludeSynonyms = resources, synonyms
	return req
}

func resource(typ int8, name string, keys ...string) kmsg.DescribeConfigsRequestResource {
	r := kmsg.NewDescribeConfigsRequestResource()
	r.ResourceType, r.ResourceName, r.ConfigNames = kmsg.ConfigResourceType(typ), name, keys
	return r
}

func entry(t *testing.T, configs []kmsg.DescribeConfigsResponseResourceConfig, name string) kmsg.DescribeConfigsResponseResourceConfig {
	t.Helper()
	for _, c := range configs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no config %s in %d entries", name, len(configs))
	return kmsg.DescribeConfigsResponseResourceConfig{}
}

func synonymsString(s []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym) string {
	var parts []string
	for _, x := range s {
		parts = append(parts, x.Source.String()+":"+x.Name+"="+*x.Value)
	}
	return strings.Join(parts, ", ")
}

func alterReq(validateOnly bool, typ int8, name string, kv ...string) *kmsg.AlterConfigsRequest {
	req := kmsg.NewPtrAlterConfigsRequest()
	req.ValidateOnly = validateOnly
	r := kmsg.NewAlterConfigsRequestResource()
	r.ResourceType, r.ResourceName = kmsg.ConfigResourceType(typ), name
	for i := 0; i+1 < len(kv); i += 2 {
		r.Configs = append(r.Configs, kmsg.AlterConfigsRequestResourceConfig{Name: kv[i], Value: kmsg.StringPtr(kv[i+1])})
	}
	req.Resources = []kmsg.AlterConfigsRequestResource{r}
	return req
}

func TestIntegration_DescribeConfigsEveryVersion(t *testing.T) {
	tb, s := newZKTestBroker(t, testConfig())
	ctx := context.Background()
	if err := s.CreateTopic(ctx, "t", map[int32][]int32{0: {1, 2}}, map[string]string{"retention.ms": " 1000 ", "cleanup.policy": "compact, delete"}); err != nil {
		t.Fatal(err)
	}
	c := tb.dial(t)
	tb.lead(t, c, "t", 1, 0)
	for v := int16(0); v <= 2; v++ {
		r := request[*kmsg.DescribeConfigsResponse](t, c, describeReq(true,
			resource(resourceTopic, "t"), resource(resourceTopic, "t", "segment.bytes"), resource(resourceTopic, "nope"),
			resource(resourceBroker, "1", "log.segment.bytes", "log.roll.hours", "num.partitions"),
			resource(resourceBroker, "2"), resource(resourceBroker, "x"), resource(resourceBroker, ""),
			resource(resourceBrokerLogger, "1"), resource(resourceTopic, "bad/name")), v)
		if len(r.Resources) != 9 {
			t.Fatalf("v%d: %d resources", v, len(r.Resources))
		}
		all := r.Resources[0]
		if all.ErrorCode != 0 || len(all.Configs) != len(topicConfigs) {
			t.Fatalf("v%d: topic: error %d, %d configs", v, all.ErrorCode, len(all.Configs))
		}
		ret := entry(t, all.Configs, "retention.ms")
		seg := entry(t, all.Configs, "segment.bytes")
		pol := entry(t, all.Configs, "cleanup.policy")
		maxMsg := entry(t, all.Configs, "max.message.bytes")
		if *ret.Value != "1000" || *pol.Value != "compact,delete" || *seg.Value != "1000000" || *maxMsg.Value != "1000012" || ret.ReadOnly {
			t.Fatalf("v%d: values %s %s %s %s", v, *ret.Value, *pol.Value, *seg.Value, *maxMsg.Value)
		}
		if v == 0 {
			if ret.IsDefault || seg.IsDefault || !maxMsg.IsDefault || ret.ConfigSynonyms != nil {
				t.Fatalf("v0 is_default: %v %v %v", ret.IsDefault, seg.IsDefault, maxMsg.IsDefault)
			}
		} else {
			if ret.Source != sourceTopic || seg.Source != sourceStaticBroker || maxMsg.Source != sourceDefault {
				t.Fatalf("v%d sources %v %v %v", v, ret.Source, seg.Source, maxMsg.Source)
			}
			if got := synonymsString(seg.ConfigSynonyms); got != "STATIC_BROKER_CONFIG:log.segment.bytes=1000000, DEFAULT_CONFIG:log.segment.bytes=1073741824" {
				t.Fatalf("v%d segment.bytes synonyms %s", v, got)
			}
			if got := synonymsString(ret.ConfigSynonyms); got != "DYNAMIC_TOPIC_CONFIG:retention.ms=1000" {
				t.Fatalf("v%d retention.ms synonyms %s", v, got)
			}
		}
		if one := r.Resources[1]; one.ErrorCode != 0 || len(one.Configs) != 1 || one.Configs[0].Name != "segment.bytes" {
			t.Fatalf("v%d: config_names filter: %+v", v, one)
		}
		if u := r.Resources[2]; u.ErrorCode != kerr.UnknownTopicOrPartition.Code || u.ErrorMessage != nil || len(u.Configs) != 0 {
			t.Fatalf("v%d: unknown topic %+v", v, u)
		}
		br := r.Resources[3]
		if br.ErrorCode != 0 || len(br.Configs) != 3 {
			t.Fatalf("v%d: broker %+v", v, br)
		}
		lsb, lrh, np := entry(t, br.Configs, "log.segment.bytes"), entry(t, br.Configs, "log.roll.hours"), entry(t, br.Configs, "num.partitions")
		if *lsb.Value != "1000000" || !lsb.ReadOnly || *lrh.Value != "24" || *np.Value != "1" {
			t.Fatalf("v%d: broker values %s %s %s", v, *lsb.Value, *lrh.Value, *np.Value)
		}
		if v >= 1 && (lsb.Source != sourceStaticBroker || np.Source != sourceDefault ||
			synonymsString(lrh.ConfigSynonyms) != "STATIC_BROKER_CONFIG:log.roll.hours=24, DEFAULT_CONFIG:log.roll.hours=168") {
			t.Fatalf("v%d: broker sources %v %v %s", v, lsb.Source, np.Source, synonymsString(lrh.ConfigSynonyms))
		}
		wantErr := []struct {
			code int16
			msg  string
		}{
			{kerr.InvalidRequest.Code, "Unexpected broker id, expected 1 or empty string, but received 2"},
			{kerr.InvalidRequest.Code, "Broker id must be an integer, but it is: x"},
			{0, ""},
			{kerr.InvalidRequest.Code, "Unsupported resource type: BROKER_LOGGER"},
			{kerr.InvalidTopicException.Code, ""},
		}
		for i, w := range wantErr {
			got := r.Resources[4+i]
			if got.ErrorCode != w.code || (w.msg != "" && (got.ErrorMessage == nil || *got.ErrorMessage != w.msg)) {
				t.Fatalf("v%d resource %d: %d %v, want %d %q", v, 4+i, got.ErrorCode, got.ErrorMessage, w.code, w.msg)
			}
		}
	}
	// without include_synonyms: no synonyms, the source still computed
	r := request[*kmsg.DescribeConfigsResponse](t, c, describeReq(false, resource(resourceTopic, "t", "segment.bytes")), 1)
	if e := r.Resources[0].Configs[0]; e.ConfigSynonyms != nil || e.Source != sourceStaticBroker {
		t.Fatalf("no synonyms asked: %+v", e)
	}
}

func TestIntegration_AlterConfigsAppliedThroughNotification(t *testing.T) {
	tb, s := newZKTestBroker(t, testConfig())
	ctx := context.Background()
	if err := s.CreateTopic(ctx, "t", map[int32][]int32{0: {1, 2}}, nil); err != nil {
		t.Fatal(err)
	}
	c := tb.dial(t)
	tb.lead(t, c, "t", 1, 0)
	big := testBatch(40)
	if r := request[*kmsg.ProduceResponse](t, c, produceReq("t", 0, big, 1), 7); r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("produce before: %d", r.Topics[0].Partitions[0].ErrorCode)
	}
	for v := int16(0); v <= 1; v++ {
		cases := []struct {
			req  *kmsg.AlterConfigsRequest
			code int16
			msg  string
		}{
			{alterReq(false, resourceTopic, "t", "bogus", "1"), kerr.InvalidConfig.Code, "Unknown topic config name: bogus"},
			{alterReq(false, resourceTopic, "t", "max.message.bytes", "ten"), kerr.InvalidRequest.Code,
				"Invalid config value for resource ConfigResource(type=TOPIC, name='t'): Invalid value ten for configuration max.message.bytes: expected an integer"},
			{alterReq(false, resourceTopic, "nope", "retention.ms", "1"), kerr.UnknownTopicOrPartition.Code, "The topic 'nope' does not exist."},
			{alterReq(false, resourceBroker, "1", "log.segment.bytes", "1000", "num.io.threads", "2"), kerr.InvalidRequest.Code,
				"Invalid config value for resource ConfigResource(type=BROKER, name='1'): Cannot update these configs dynamically: Set(log.segment.bytes, num.io.threads)"},
			{alterReq(false, resourceBroker, "3", "log.segment.bytes", "1000"), kerr.InvalidRequest.Code, "Unexpected broker id, expected 1, but received 3"},
			{alterReq(false, 1, "x"), kerr.InvalidRequest.Code, "AlterConfigs is only supported for topics and brokers, but resource type is UNKNOWN"},
			{alterReq(true, resourceTopic, "t", "max.message.bytes", "100"), 0, ""}, // validate only: nothing written
		}
		for i, tc := range cases {
			r := request[*kmsg.AlterConfigsResponse](t, c, tc.req, v)
			got := r.Resources[0]
			if got.ErrorCode != tc.code || (tc.msg != "" && (got.ErrorMessage == nil || *got.ErrorMessage != tc.msg)) {
				t.Fatalf("v%d case %d: %d %v, want %d %q", v, i, got.ErrorCode, got.ErrorMessage, tc.code, tc.msg)
			}
		}
	}
	if cfg, _ := s.GetTopicConfig(ctx, "t"); len(cfg) != 0 {
		t.Fatalf("refused or validate-only alters wrote %v", cfg)
	}
	r := request[*kmsg.AlterConfigsResponse](t, c, alterReq(false, resourceTopic, "t", "max.message.bytes", "200", "segment.bytes", "5000"), 1)
	if r.Resources[0].ErrorCode != 0 {
		t.Fatalf("alter: %+v", r.Resources[0])
	}
	l, _ := tb.b.logs.Get(logstore.TopicPartition{Topic: "t", Partition: 0})
	waitFor(t, "the log to take the new config", func() bool {
		cfg := l.Config()
		return cfg.MaxMessageBytes == 200 && cfg.SegmentBytes == 5000
	})
	if r := request[*kmsg.ProduceResponse](t, c, produceReq("t", 0, big, 1), 7); r.Topics[0].Partitions[0].ErrorCode != kerr.MessageTooLarge.Code {
		t.Fatalf("produce after: %d", r.Topics[0].Partitions[0].ErrorCode)
	}
	d := request[*kmsg.DescribeConfigsResponse](t, c, describeReq(true, resource(resourceTopic, "t", "max.message.bytes")), 2)
	if e := d.Resources[0].Configs[0]; *e.Value != "200" || e.Source != sourceTopic ||
		synonymsString(e.ConfigSynonyms) != "DYNAMIC_TOPIC_CONFIG:max.message.bytes=200, DEFAULT_CONFIG:message.max.bytes=1000012" {
		t.Fatalf("describe after alter: %s %v %s", *e.Value, e.Source, synonymsString(e.ConfigSynonyms))
	}

	// IncrementalAlterConfigs, both versions (v1 is a flexible version)
	for v := int16(0); v <= 1; v++ {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		res := kmsg.NewIncrementalAlterConfigsRequestResource()
		res.ResourceType, res.ResourceName = resourceTopic, "t"
		res.Configs = []kmsg.IncrementalAlterConfigsRequestResourceConfig{
			{Name: "max.message.bytes", Op: kmsg.IncrementalAlterConfigOpDelete},
			{Name: "cleanup.policy", Op: kmsg.IncrementalAlterConfigOpAppend, Value: kmsg.StringPtr("compact")},
		}
		req.Resources = []kmsg.IncrementalAlterConfigsRequestResource{res}
		ir := request[*kmsg.IncrementalAlterConfigsResponse](t, c, req, v)
		if ir.Resources[0].ErrorCode != 0 {
			t.Fatalf("incremental v%d: %+v", v, ir.Resources[0])
		}
		req.Resources[0].Configs = append(res.Configs, res.Configs[0])
		ir = request[*kmsg.IncrementalAlterConfigsResponse](t, c, req, v)
		if m := ir.Resources[0].ErrorMessage; ir.Resources[0].ErrorCode != kerr.InvalidRequest.Code || m == nil || *m != "Error due to duplicate config keys : max.message.bytes" {
			t.Fatalf("duplicate keys v%d: %+v", v, ir.Resources[0])
		}
	}
	if cfg, _ := s.GetTopicConfig(ctx, "t"); !reflect.DeepEqual(cfg, map[string]string{"segment.bytes": "5000", "cleanup.policy": "delete,compact,compact"}) {
		t.Fatalf("after incremental alters: %v", cfg)
	}
	waitFor(t, "max.message.bytes back to the broker's", func() bool { return l.Config().MaxMessageBytes == 1000012 })
}

// Notifications present at startup are processed; expired ones are purged.
func TestIntegration_ConfigChangeListenerStartupAndPurge(t *testing.T) {
	tb, s := newZKTestBroker(t, testConfig())
	ctx := context.Background()
	if err := s.CreateTopic(ctx, "t", map[int32][]int32{0: {1, 2}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetTopicConfig(ctx, "t", map[string]string{"segment.bytes": "7000"}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	l := newConfigChangeListener(s, func(_ context.Context, c zkcoord.ConfigChange) {
		mu.Lock()
		seen = append(seen, c.Name+" "+c.EntityPath)
		mu.Unlock()
	}, tb.b.log)
	names, _, err := s.ConfigChangeNamesW(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.process(ctx, names); err != nil {
		t.Fatal(err)
	}
	if err := s.SetEntityConfig(ctx, zkcoord.ConfigTypeBroker, "1", nil); err != nil {
		t.Fatal(err)
	}
	names, _, _ = s.ConfigChangeNamesW(ctx)
	if err := l.process(ctx, names); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(seen, "; "); got != "config_change_0000000000 topics/t; config_change_0000000001 brokers/1" {
		t.Fatalf("processed %q", got)
	}
	// fifteen minutes later both are purged, and not processed again
	l.now = func() time.Time { return time.Now().Add(16 * time.Minute) }
	if err := l.process(ctx, names); err != nil {
		t.Fatal(err)
	}
	if left, _, _ := s.ConfigChangeNamesW(ctx); len(left) != 0 {
		t.Fatalf("not purged: %v", left)
	}
	if len(seen) != 2 {
		t.Fatalf("purge round processed again: %v", seen)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
