package zkcoord

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"
)

// JSON codecs for every Kafka 2.4 znode (ZK-LAYOUT.md §1). Encoders produce
// exactly Kafka's field names and JSON types (note the string-typed
// timestamps/versions); decoders accept every version Kafka 2.4 accepts and
// never panic on bad input (they return errors wrapping ErrCorruptZNode).

// Security protocol names.
const (
	SecurityProtocolPlaintext     = "PLAINTEXT"
	SecurityProtocolSSL           = "SSL"
	SecurityProtocolSASLPlaintext = "SASL_PLAINTEXT"
	SecurityProtocolSASLSSL       = "SASL_SSL"
)

// Leader sentinels stored in / sent with partition state.
const (
	NoLeader           int32 = -1 // offline partition
	LeaderDuringDelete int32 = -2 // only in UpdateMetadata, never stored
	InitialLeaderEpoch int32 = 0
	// InitialControllerEpoch is the value /controller_epoch is created with.
	InitialControllerEpoch int32 = 0
)

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
}

func (tp TopicPartition) String() string { return tp.Topic + "-" + itoa(tp.Partition) }

func corrupt(what string, err error) error {
	return fmt.Errorf("%w: %s: %v", ErrCorruptZNode, what, err)
}

func corruptf(what, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrCorruptZNode, what, fmt.Sprintf(format, args...))
}

// msString is an int64 written as a JSON string (Kafka's "timestamp",
// "block_start", ...). It also decodes from a JSON number.
type msString int64

func (m msString) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatInt(int64(m), 10) + `"`), nil
}

func (m *msString) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if s == "null" {
		return nil
	}
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer: %s", b)
	}
	*m = msString(v)
	return nil
}

func nowMs() int64 { return time.Now().UnixMilli() }

func decodeJSON(what string, data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return corruptf(what, "empty data")
	}
	if err := json.Unmarshal(data, v); err != nil {
		return corrupt(what, err)
	}
	return nil
}

// ---------------------------------------------------------------------------
// /brokers/ids/<id>

// BrokerInfoVersion is the registration JSON version Kafka 2.4 writes.
const BrokerInfoVersion = 4

// EndPoint is one advertised listener.
type EndPoint struct {
	ListenerName     string // e.g. "PLAINTEXT", "INTERNAL"
	Host             string
	Port             int32
	SecurityProtocol string // e.g. "PLAINTEXT", "SSL"
}

// ConnectionString is Kafka's "NAME://host:port" (IPv6 hosts in brackets).
func (e EndPoint) ConnectionString() string { return e.ListenerName + "://" + e.Addr() }

// Addr is "host:port".
func (e EndPoint) Addr() string {
	if e.Host == "" {
		return ":" + itoa(e.Port)
	}
	return net.JoinHostPort(e.Host, itoa(e.Port))
}

// ParseEndPoint parses "NAME://host:port" ("[::1]:9092" for IPv6). The
// security protocol is left empty.
func ParseEndPoint(s string) (EndPoint, error) {
	i := strings.Index(s, "://")
	if i <= 0 {
		return EndPoint{}, fmt.Errorf("invalid endpoint %q", s)
	}
	name, hp := s[:i], s[i+3:]
	j := strings.LastIndexByte(hp, ':')
	if j < 0 {
		return EndPoint{}, fmt.Errorf("invalid endpoint %q: no port", s)
	}
	host := strings.TrimSuffix(strings.TrimPrefix(hp[:j], "["), "]")
	port, err := strconv.ParseInt(hp[j+1:], 10, 32)
	if err != nil {
		return EndPoint{}, fmt.Errorf("invalid endpoint %q: bad port", s)
	}
	return EndPoint{ListenerName: name, Host: host, Port: int32(port)}, nil
}

// BrokerInfo is a broker registration (/brokers/ids/<id>).
type BrokerInfo struct {
	ID        int32
	Endpoints []EndPoint // advertised listeners, in order
	Rack      string     // "" = no rack (field omitted)
	JMXPort   int32      // -1 when JMX is disabled
	// Timestamp is the registration time in epoch ms; 0 means "now" when
	// encoding.
	Timestamp int64
	// Version is the JSON version read (decoding only; encoding writes 4).
	Version int
	// Epoch is the broker epoch = czxid of the znode (not part of the JSON;
	// filled by RegisterBroker/GetBroker(s)).
	Epoch int64
}

// Addr is HOST:PORT of the first endpoint ("" if none).
func (b BrokerInfo) Addr() string {
	if len(b.Endpoints) == 0 {
		return ""
	}
	return b.Endpoints[0].Addr()
}

// EndPoint returns the endpoint of the named listener.
func (b BrokerInfo) EndPoint(listener string) (EndPoint, bool) {
	for _, e := range b.Endpoints {
		if e.ListenerName == listener {
			return e, true
		}
	}
	return EndPoint{}, false
}

type brokerJSON struct {
	ListenerSecurityProtocolMap map[string]string `json:"listener_security_protocol_map,omitempty"`
	Endpoints                   []string          `json:"endpoints,omitempty"`
	Rack                        *string           `json:"rack,omitempty"`
	JMXPort                     *int32            `json:"jmx_port"`
	Host                        *string           `json:"host"`
	Timestamp                   *msString         `json:"timestamp"`
	Port                        *int32            `json:"port"`
	Version                     int               `json:"version"`
}

// EncodeBrokerInfo produces Kafka 2.4's version 4 registration JSON.
func EncodeBrokerInfo(b BrokerInfo) ([]byte, error) {
	if len(b.Endpoints) == 0 {
		return nil, fmt.Errorf("zkcoord: broker %d has no endpoints", b.ID)
	}
	j := brokerJSON{
		ListenerSecurityProtocolMap: map[string]string{},
		Endpoints:                   make([]string, 0, len(b.Endpoints)),
		JMXPort:                     &b.JMXPort,
		Version:                     BrokerInfoVersion,
	}
	for _, e := range b.Endpoints {
		if e.ListenerName == "" || e.SecurityProtocol == "" {
			return nil, fmt.Errorf("zkcoord: broker %d endpoint %q needs a listener name and a security protocol", b.ID, e.ConnectionString())
		}
		j.ListenerSecurityProtocolMap[e.ListenerName] = e.SecurityProtocol
		j.Endpoints = append(j.Endpoints, e.ConnectionString())
	}
	port := int32(-1)
	for _, e := range b.Endpoints {
		if e.SecurityProtocol == SecurityProtocolPlaintext {
			h := e.Host
			j.Host, port = &h, e.Port
			break
		}
	}
	j.Port = &port
	if b.Rack != "" {
		r := b.Rack
		j.Rack = &r
	}
	ts := msString(b.Timestamp)
	if ts == 0 {
		ts = msString(nowMs())
	}
	j.Timestamp = &ts
	return json.Marshal(j)
}

// DecodeBrokerInfo decodes registration JSON versions 1-4. id comes from the
// znode name.
func DecodeBrokerInfo(id int32, data []byte) (BrokerInfo, error) {
	what := "broker " + itoa(id)
	var j brokerJSON
	if err := decodeJSON(what, data, &j); err != nil {
		return BrokerInfo{}, err
	}
	b := BrokerInfo{ID: id, Version: j.Version, JMXPort: -1}
	if j.JMXPort != nil {
		b.JMXPort = *j.JMXPort
	}
	if j.Timestamp != nil {
		b.Timestamp = int64(*j.Timestamp)
	}
	if j.Rack != nil {
		b.Rack = *j.Rack
	}
	if j.Version < 1 {
		return BrokerInfo{}, corruptf(what, "unknown version %d", j.Version)
	}
	if j.Version == 1 || len(j.Endpoints) == 0 {
		if j.Host == nil || j.Port == nil {
			return BrokerInfo{}, corruptf(what, "no endpoints and no host/port")
		}
		b.Endpoints = []EndPoint{{ListenerName: SecurityProtocolPlaintext, Host: *j.Host, Port: *j.Port, SecurityProtocol: SecurityProtocolPlaintext}}
		return b, nil
	}
	for _, s := range j.Endpoints {
		e, err := ParseEndPoint(s)
		if err != nil {
			return BrokerInfo{}, corrupt(what, err)
		}
		if j.Version >= 4 && j.ListenerSecurityProtocolMap != nil {
			sp, ok := j.ListenerSecurityProtocolMap[e.ListenerName]
			if !ok {
				return BrokerInfo{}, corruptf(what, "no security protocol for listener %s", e.ListenerName)
			}
			e.SecurityProtocol = sp
		} else {
			// before v4 the listener name is the security protocol
			e.SecurityProtocol = e.ListenerName
		}
		b.Endpoints = append(b.Endpoints, e)
	}
	return b, nil
}

// ---------------------------------------------------------------------------
// /brokers/topics/<topic>

// TopicAssignmentVersion is the version Kafka 2.4 writes.
const TopicAssignmentVersion = 2

// TopicAssignment is the replica assignment of a topic. Partitions holds the
// full replica list of each partition (first = preferred leader);
// AddingReplicas/RemovingReplicas only list partitions being reassigned.
type TopicAssignment struct {
	Version          int // read version (encoding always writes 2)
	Partitions       map[int32][]int32
	AddingReplicas   map[int32][]int32
	RemovingReplicas map[int32][]int32
}

type topicJSON struct {
	Version          int                `json:"version"`
	Partitions       map[string][]int32 `json:"partitions"`
	AddingReplicas   map[string][]int32 `json:"adding_replicas"`
	RemovingReplicas map[string][]int32 `json:"removing_replicas"`
}

func toStringKeys(m map[int32][]int32) map[string][]int32 {
	out := make(map[string][]int32, len(m))
	for p, r := range m {
		if r == nil {
			r = []int32{}
		}
		out[itoa(p)] = r
	}
	return out
}

func fromStringKeys(what string, m map[string][]int32) (map[int32][]int32, error) {
	out := make(map[int32][]int32, len(m))
	for k, r := range m {
		p, err := strconv.ParseInt(k, 10, 32)
		if err != nil || p < 0 {
			return nil, corruptf(what, "bad partition id %q", k)
		}
		out[int32(p)] = r
	}
	return out, nil
}

// EncodeTopicAssignment writes version 2 with all three maps (empty objects
// when nothing is being reassigned).
func EncodeTopicAssignment(a TopicAssignment) []byte {
	j := topicJSON{
		Version:          TopicAssignmentVersion,
		Partitions:       toStringKeys(a.Partitions),
		AddingReplicas:   toStringKeys(a.AddingReplicas),
		RemovingReplicas: toStringKeys(a.RemovingReplicas),
	}
	b, _ := json.Marshal(j) // cannot fail: maps of string to []int32
	return b
}

// DecodeTopicAssignment decodes versions 1 and 2.
func DecodeTopicAssignment(topic string, data []byte) (TopicAssignment, error) {
	what := "topic " + topic
	var j topicJSON
	if err := decodeJSON(what, data, &j); err != nil {
		return TopicAssignment{}, err
	}
	if j.Partitions == nil {
		return TopicAssignment{}, corruptf(what, "no partitions")
	}
	a := TopicAssignment{Version: j.Version}
	var err error
	if a.Partitions, err = fromStringKeys(what, j.Partitions); err != nil {
		return TopicAssignment{}, err
	}
	if a.AddingReplicas, err = fromStringKeys(what, j.AddingReplicas); err != nil {
		return TopicAssignment{}, err
	}
	if a.RemovingReplicas, err = fromStringKeys(what, j.RemovingReplicas); err != nil {
		return TopicAssignment{}, err
	}
	return a, nil
}

// SortedPartitions returns the partition ids in ascending order.
func (a TopicAssignment) SortedPartitions() []int32 {
	ps := make([]int32, 0, len(a.Partitions))
	for p := range a.Partitions {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

// ---------------------------------------------------------------------------
// /brokers/topics/<topic>/partitions/<p>/state

// LeaderAndIsr is a partition state znode: leader, leader epoch, ISR and the
// epoch of the controller that last decided them.
type LeaderAndIsr struct {
	Leader          int32
	LeaderEpoch     int32
	Isr             []int32
	ControllerEpoch int32
}

type leaderAndIsrJSON struct {
	ControllerEpoch *int32  `json:"controller_epoch"`
	Leader          *int32  `json:"leader"`
	Version         int     `json:"version"`
	LeaderEpoch     *int32  `json:"leader_epoch"`
	Isr             []int32 `json:"isr"`
}

// EncodeLeaderAndIsr writes {"controller_epoch":..,"leader":..,"version":1,"leader_epoch":..,"isr":[..]}.
func EncodeLeaderAndIsr(l LeaderAndIsr) []byte {
	isr := l.Isr
	if isr == nil {
		isr = []int32{}
	}
	b, _ := json.Marshal(leaderAndIsrJSON{
		ControllerEpoch: &l.ControllerEpoch, Leader: &l.Leader, Version: 1,
		LeaderEpoch: &l.LeaderEpoch, Isr: isr,
	})
	return b
}

// DecodeLeaderAndIsr decodes a partition state znode.
func DecodeLeaderAndIsr(data []byte) (LeaderAndIsr, error) {
	const what = "partition state"
	var j leaderAndIsrJSON
	if err := decodeJSON(what, data, &j); err != nil {
		return LeaderAndIsr{}, err
	}
	if j.Leader == nil || j.LeaderEpoch == nil || j.ControllerEpoch == nil || j.Isr == nil {
		return LeaderAndIsr{}, corruptf(what, "missing field in %s", data)
	}
	return LeaderAndIsr{Leader: *j.Leader, LeaderEpoch: *j.LeaderEpoch, Isr: j.Isr, ControllerEpoch: *j.ControllerEpoch}, nil
}

// ---------------------------------------------------------------------------
// /controller and /controller_epoch

// ControllerInfo is the /controller znode.
type ControllerInfo struct {
	BrokerID  int32
	Timestamp int64 // epoch ms; 0 = now when encoding
}

type controllerJSON struct {
	Version   int       `json:"version"`
	BrokerID  *int32    `json:"brokerid"`
	Timestamp *msString `json:"timestamp,omitempty"`
}

// EncodeControllerInfo writes {"version":1,"brokerid":N,"timestamp":"ms"}.
func EncodeControllerInfo(c ControllerInfo) []byte {
	ts := msString(c.Timestamp)
	if ts == 0 {
		ts = msString(nowMs())
	}
	b, _ := json.Marshal(controllerJSON{Version: 1, BrokerID: &c.BrokerID, Timestamp: &ts})
	return b
}

// DecodeControllerInfo decodes /controller.
func DecodeControllerInfo(data []byte) (ControllerInfo, error) {
	const what = "controller"
	var j controllerJSON
	if err := decodeJSON(what, data, &j); err != nil {
		return ControllerInfo{}, err
	}
	if j.BrokerID == nil {
		return ControllerInfo{}, corruptf(what, "no brokerid in %s", data)
	}
	c := ControllerInfo{BrokerID: *j.BrokerID}
	if j.Timestamp != nil {
		c.Timestamp = int64(*j.Timestamp)
	}
	return c, nil
}

// EncodeControllerEpoch writes the epoch as plain decimal text.
func EncodeControllerEpoch(epoch int32) []byte { return []byte(itoa(epoch)) }

// DecodeControllerEpoch parses /controller_epoch.
func DecodeControllerEpoch(data []byte) (int32, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 32)
	if err != nil {
		return 0, corruptf("controller epoch", "%q is not an integer", data)
	}
	return int32(v), nil
}

// ---------------------------------------------------------------------------
// /cluster/id

type clusterIDJSON struct {
	Version string `json:"version"`
	ID      string `json:"id"`
}

// EncodeClusterID writes {"version":"1","id":"..."} (version is a string).
func EncodeClusterID(id string) []byte {
	b, _ := json.Marshal(clusterIDJSON{Version: "1", ID: id})
	return b
}

// DecodeClusterID decodes /cluster/id.
func DecodeClusterID(data []byte) (string, error) {
	var j struct {
		ID *string `json:"id"`
	}
	if err := decodeJSON("cluster id", data, &j); err != nil {
		return "", err
	}
	if j.ID == nil {
		return "", corruptf("cluster id", "no id in %s", data)
	}
	return *j.ID, nil
}

// ---------------------------------------------------------------------------
// /config/<type>/<entity> and /config/changes/config_change_<seq>

// marshalNoEscape is json.Marshal without HTML escaping: Kafka (Jackson)
// writes "brokers/<default>", not "brokers/\u003cdefault\u003e".
func marshalNoEscape(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // cannot fail: strings and maps of strings
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// EncodeEntityConfig writes {"version":1,"config":{k:v}} (values are strings).
func EncodeEntityConfig(config map[string]string) []byte {
	if config == nil {
		config = map[string]string{}
	}
	return marshalNoEscape(struct {
		Version int               `json:"version"`
		Config  map[string]string `json:"config"`
	}{1, config})
}

// DecodeEntityConfig decodes an entity config. Non-string scalar values are
// converted to their JSON text.
func DecodeEntityConfig(data []byte) (map[string]string, error) {
	const what = "entity config"
	var j struct {
		Config map[string]json.RawMessage `json:"config"`
	}
	if err := decodeJSON(what, data, &j); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(j.Config))
	for k, raw := range j.Config {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			t := strings.TrimSpace(string(raw))
			if strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
				return nil, corruptf(what, "config %s is not a string", k)
			}
			s = t
		}
		out[k] = s
	}
	return out, nil
}

// EncodeConfigChangeNotification writes {"version":2,"entity_path":"topics/foo"}.
func EncodeConfigChangeNotification(entityPath string) []byte {
	return marshalNoEscape(struct {
		Version    int    `json:"version"`
		EntityPath string `json:"entity_path"`
	}{2, entityPath})
}

// DecodeConfigChangeNotification returns the entity path ("topics/foo") of
// a v2 notification, or entity_type/entity_name of a v1 one.
func DecodeConfigChangeNotification(data []byte) (string, error) {
	const what = "config change notification"
	var j struct {
		Version    int     `json:"version"`
		EntityPath *string `json:"entity_path"`
		EntityType *string `json:"entity_type"`
		EntityName *string `json:"entity_name"`
	}
	if err := decodeJSON(what, data, &j); err != nil {
		return "", err
	}
	switch {
	case j.Version == 1 && j.EntityType != nil && j.EntityName != nil:
		return *j.EntityType + "/" + *j.EntityName, nil
	case j.Version == 2 && j.EntityPath != nil:
		return *j.EntityPath, nil
	}
	return "", corruptf(what, "unsupported %s", data)
}

// ---------------------------------------------------------------------------
// partition lists: /isr_change_notification/*, /admin/preferred_replica_election

type partitionsJSON struct {
	Version    int              `json:"version"`
	Partitions []TopicPartition `json:"partitions"`
}

func encodePartitions(tps []TopicPartition) []byte {
	if tps == nil {
		tps = []TopicPartition{}
	}
	b, _ := json.Marshal(partitionsJSON{Version: 1, Partitions: tps})
	return b
}

func decodePartitions(what string, data []byte) ([]TopicPartition, error) {
	var j partitionsJSON
	if err := decodeJSON(what, data, &j); err != nil {
		return nil, err
	}
	if j.Partitions == nil {
		return nil, corruptf(what, "no partitions")
	}
	return j.Partitions, nil
}

// EncodeIsrChangeNotification writes {"version":1,"partitions":[{"topic":..,"partition":..}]}.
func EncodeIsrChangeNotification(tps []TopicPartition) []byte { return encodePartitions(tps) }

// DecodeIsrChangeNotification decodes an isr_change_<seq> znode.
func DecodeIsrChangeNotification(data []byte) ([]TopicPartition, error) {
	return decodePartitions("isr change notification", data)
}

// EncodePreferredReplicaElection writes the /admin/preferred_replica_election JSON.
func EncodePreferredReplicaElection(tps []TopicPartition) []byte { return encodePartitions(tps) }

// DecodePreferredReplicaElection decodes /admin/preferred_replica_election.
func DecodePreferredReplicaElection(data []byte) ([]TopicPartition, error) {
	return decodePartitions("preferred replica election", data)
}

// PartitionReassignment is one entry of /admin/reassign_partitions.
type PartitionReassignment struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Replicas  []int32 `json:"replicas"`
}

// EncodeReassignPartitions writes {"version":1,"partitions":[{"topic","partition","replicas"}]}.
func EncodeReassignPartitions(rs []PartitionReassignment) []byte {
	if rs == nil {
		rs = []PartitionReassignment{}
	}
	b, _ := json.Marshal(struct {
		Version    int                     `json:"version"`
		Partitions []PartitionReassignment `json:"partitions"`
	}{1, rs})
	return b
}

// DecodeReassignPartitions decodes /admin/reassign_partitions.
func DecodeReassignPartitions(data []byte) ([]PartitionReassignment, error) {
	var j struct {
		Partitions []PartitionReassignment `json:"partitions"`
	}
	if err := decodeJSON("reassign partitions", data, &j); err != nil {
		return nil, err
	}
	if j.Partitions == nil {
		return nil, corruptf("reassign partitions", "no partitions")
	}
	return j.Partitions, nil
}

// ---------------------------------------------------------------------------
// /log_dir_event_notification/log_dir_event_<seq>

// LogDirFailureEvent is the only log dir event type (1).
const LogDirFailureEvent int32 = 1

// EncodeLogDirEventNotification writes {"version":1,"broker":N,"event":1}.
func EncodeLogDirEventNotification(brokerID, event int32) []byte {
	b, _ := json.Marshal(struct {
		Version int   `json:"version"`
		Broker  int32 `json:"broker"`
		Event   int32 `json:"event"`
	}{1, brokerID, event})
	return b
}

// DecodeLogDirEventNotification returns the broker id and event type.
func DecodeLogDirEventNotification(data []byte) (brokerID, event int32, err error) {
	var j struct {
		Broker *int32 `json:"broker"`
		Event  *int32 `json:"event"`
	}
	if err := decodeJSON("log dir event", data, &j); err != nil {
		return 0, 0, err
	}
	if j.Broker == nil || j.Event == nil {
		return 0, 0, corruptf("log dir event", "missing field in %s", data)
	}
	return *j.Broker, *j.Event, nil
}

// ---------------------------------------------------------------------------
// /latest_producer_id_block

// ProducerIDBlockSize is Kafka's PidBlockSize.
const ProducerIDBlockSize = 1000

// ProducerIDBlock is an inclusive range of producer ids reserved by a broker.
type ProducerIDBlock struct {
	BrokerID   int32
	BlockStart int64
	BlockEnd   int64
}

type producerIDBlockJSON struct {
	Version    int       `json:"version"`
	Broker     *int32    `json:"broker"`
	BlockStart *msString `json:"block_start"`
	BlockEnd   *msString `json:"block_end"`
}

// EncodeProducerIDBlock writes {"version":1,"broker":N,"block_start":"0","block_end":"999"}.
func EncodeProducerIDBlock(b ProducerIDBlock) []byte {
	s, e := msString(b.BlockStart), msString(b.BlockEnd)
	out, _ := json.Marshal(producerIDBlockJSON{Version: 1, Broker: &b.BrokerID, BlockStart: &s, BlockEnd: &e})
	return out
}

// DecodeProducerIDBlock decodes /latest_producer_id_block (non-empty data).
func DecodeProducerIDBlock(data []byte) (ProducerIDBlock, error) {
	var j producerIDBlockJSON
	if err := decodeJSON("producer id block", data, &j); err != nil {
		return ProducerIDBlock{}, err
	}
	if j.Broker == nil || j.BlockStart == nil || j.BlockEnd == nil {
		return ProducerIDBlock{}, corruptf("producer id block", "missing field in %s", data)
	}
	return ProducerIDBlock{BrokerID: *j.Broker, BlockStart: int64(*j.BlockStart), BlockEnd: int64(*j.BlockEnd)}, nil
}

// ---------------------------------------------------------------------------
// /consumers (old ZooKeeper consumer)

// EncodeConsumerOffset writes the offset as decimal text.
func EncodeConsumerOffset(offset int64) []byte { return []byte(strconv.FormatInt(offset, 10)) }

// DecodeConsumerOffset parses a /consumers/<g>/offsets/<t>/<p> znode.
func DecodeConsumerOffset(data []byte) (int64, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0, corruptf("consumer offset", "%q is not an integer", data)
	}
	return v, nil
}

// Subscription patterns of the old consumer's registration.
const (
	ConsumerPatternStatic    = "static"
	ConsumerPatternWhiteList = "white_list"
	ConsumerPatternBlackList = "black_list"
)

// ConsumerRegistration is /consumers/<g>/ids/<consumerId>.
type ConsumerRegistration struct {
	Subscription map[string]int32 // topic (or regex) → number of streams
	Pattern      string           // static, white_list, black_list
	Timestamp    int64            // epoch ms; 0 = now when encoding
}

type consumerRegJSON struct {
	Version      int              `json:"version"`
	Subscription map[string]int32 `json:"subscription"`
	Pattern      string           `json:"pattern"`
	Timestamp    *msString        `json:"timestamp"`
}

// EncodeConsumerRegistration writes
// {"version":1,"subscription":{"foo":2},"pattern":"static","timestamp":"ms"}.
func EncodeConsumerRegistration(r ConsumerRegistration) []byte {
	ts := msString(r.Timestamp)
	if ts == 0 {
		ts = msString(nowMs())
	}
	sub := r.Subscription
	if sub == nil {
		sub = map[string]int32{}
	}
	b, _ := json.Marshal(consumerRegJSON{Version: 1, Subscription: sub, Pattern: r.Pattern, Timestamp: &ts})
	return b
}

// DecodeConsumerRegistration decodes a consumer id znode.
func DecodeConsumerRegistration(data []byte) (ConsumerRegistration, error) {
	var j consumerRegJSON
	if err := decodeJSON("consumer registration", data, &j); err != nil {
		return ConsumerRegistration{}, err
	}
	r := ConsumerRegistration{Subscription: j.Subscription, Pattern: j.Pattern}
	if r.Subscription == nil {
		r.Subscription = map[string]int32{}
	}
	if j.Timestamp != nil {
		r.Timestamp = int64(*j.Timestamp)
	}
	return r, nil
}
