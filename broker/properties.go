package broker

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ParseProperties reads a Kafka server.properties file (Java .properties
// syntax), applies overrides ("key=value", like kafka-server-start.sh
// --override), fills absent keys with Kafka 2.4 defaults and validates the
// result. Errors are one line naming the key, the value and what is expected.
// Keys zkafka does not know are listed, sorted, in Config.Unknown.
func ParseProperties(path string, overrides []string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("cannot read broker config: %w", err)
	}
	defer f.Close()
	props, err := readProperties(f)
	if err != nil {
		return Config{}, fmt.Errorf("cannot read broker config %s: %w", path, err)
	}
	vals := make(map[string]setting, len(props))
	for _, p := range props {
		vals[p.key] = setting{value: p.value, source: path}
	}
	for _, o := range overrides {
		k, v, ok := strings.Cut(o, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return Config{}, fmt.Errorf("invalid --override %q: expected key=value, e.g. --override broker.id=1", o)
		}
		vals[k] = setting{value: strings.TrimSpace(v), source: "--override"}
	}
	cfg, err := configFromSettings(vals, path)
	if err != nil {
		return Config{}, err
	}
	return cfg, cfg.Validate()
}

// setting is one key's final value and where it came from (a file path or
// "--override"), for error messages.
type setting struct {
	value  string
	source string
}

// ConfigError is an invalid value for one key.
type ConfigError struct {
	Key, Value, Source string
	Expected           string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("invalid value %q for %s in %s: expected %s", e.Value, e.Key, e.Source, e.Expected)
}

// defaultConfig is Kafka 2.4's KafkaConfig defaults (ZK-LAYOUT.md §5).
func defaultConfig() Config {
	return Config{
		BrokerID:                              -1,
		BrokerIDGenerationEnable:              true,
		ReservedBrokerMaxID:                   1000,
		Listeners:                             []Endpoint{{Name: "PLAINTEXT", Port: 9092}},
		ListenerSecurityProtocolMap:           defaultProtocolMap(),
		LogDirs:                               []string{"/tmp/kafka-logs"},
		ZooKeeperSessionTimeout:               6000 * time.Millisecond,
		NumPartitions:                         1,
		DefaultReplicationFactor:              1,
		AutoCreateTopicsEnable:                true,
		DeleteTopicEnable:                     true,
		LogSegmentBytes:                       1 << 30,
		LogRollTime:                           168 * time.Hour,
		LogIndexSizeMaxBytes:                  10 << 20,
		LogIndexIntervalBytes:                 4096,
		LogRetentionTime:                      168 * time.Hour,
		LogRetentionBytes:                     -1,
		LogRetentionCheckInterval:             300000 * time.Millisecond,
		LogFlushIntervalMessages:              math.MaxInt64,
		MessageMaxBytes:                       1000012,
		SocketRequestMaxBytes:                 104857600,
		SocketSendBufferBytes:                 102400,
		SocketReceiveBufferBytes:              102400,
		MinInsyncReplicas:                     1,
		ControlledShutdownEnable:              true,
		ReplicaLagTimeMax:                     10000 * time.Millisecond,
		ReplicaFetchWaitMax:                   500 * time.Millisecond,
		ReplicaFetchMinBytes:                  1,
		ReplicaFetchMaxBytes:                  1048576,
		ReplicaFetchResponseMaxBytes:          10485760,
		ReplicaFetchBackoff:                   1000 * time.Millisecond,
		ReplicaSocketTimeout:                  30000 * time.Millisecond,
		OffsetsTopicReplicationFactor:         3,
		OffsetsTopicNumPartitions:             50,
		GroupInitialRebalanceDelay:            3000 * time.Millisecond,
		GroupMinSessionTimeout:                6000 * time.Millisecond,
		GroupMaxSessionTimeout:                1800000 * time.Millisecond,
		GroupMaxSize:                          math.MaxInt32,
		OffsetMetadataMaxBytes:                4096,
		LogCleanupDelete:                      true,
		LogCleanerEnable:                      true,
		LogCleanerThreads:                     1,
		LogCleanerDedupeBufferSize:            128 << 20,
		LogCleanerIOBufferSize:                512 << 10,
		LogCleanerIOBufferLoadFactor:          0.9,
		LogCleanerBackoff:                     15000 * time.Millisecond,
		LogCleanerDeleteRetention:             86400000 * time.Millisecond,
		LogCleanerMinCleanableRatio:           0.5,
		LogCleanerMaxCompactionLag:            math.MaxInt64,
		LogSegmentDeleteDelay:                 60000 * time.Millisecond,
		LogFlushSchedulerInterval:             math.MaxInt64,
		LogFlushOffsetCheckpointInterval:      60000 * time.Millisecond,
		LogFlushStartOffsetCheckpointInterval: 60000 * time.Millisecond,
		TransactionalIDExpiration:             604800000 * time.Millisecond,
		ProducerIDExpirationCheckInterval:     600000 * time.Millisecond,
		ControlledShutdownMaxRetries:          3,
		ControlledShutdownRetryBackoff:        5000 * time.Millisecond,
		AutoLeaderRebalanceEnable:             true,
		LeaderImbalancePerBrokerPercentage:    10,
		LeaderImbalanceCheckInterval:          300 * time.Second,
	}
}

func defaultProtocolMap() map[string]string {
	return map[string]string{
		"PLAINTEXT": "PLAINTEXT", "SSL": "SSL",
		"SASL_PLAINTEXT": "SASL_PLAINTEXT", "SASL_SSL": "SASL_SSL",
	}
}

// hostname is os.Hostname, replaceable in tests.
var hostname = os.Hostname

// configFromSettings applies every known key in keyOrder (lower-precedence
// synonyms first, so log.retention.ms wins over log.retention.hours), then
// the defaults that depend on other keys.
func configFromSettings(vals map[string]setting, path string) (Config, error) {
	cfg := defaultConfig()
	for _, k := range keyOrder {
		s, ok := vals[k]
		if !ok {
			continue
		}
		if exp := keySetters[k](&cfg, s.value); exp != "" {
			return Config{}, &ConfigError{Key: k, Value: s.value, Source: s.source, Expected: exp}
		}
	}
	cfg.Properties = make(map[string]string, len(vals))
	for k, s := range vals {
		cfg.Properties[k] = s.value
	}
	for k := range vals {
		if _, ok := keySetters[k]; !ok && !acceptedKeys[k] {
			cfg.Unknown = append(cfg.Unknown, k)
		}
	}
	sort.Strings(cfg.Unknown)

	if _, ok := vals["zookeeper.connect"]; !ok {
		return Config{}, fmt.Errorf("zookeeper.connect is not set in %s: add zookeeper.connect=localhost:2181 (host:port of your ZooKeeper)", path)
	}
	if _, ok := vals["zookeeper.connection.timeout.ms"]; !ok {
		cfg.ZooKeeperConnectionTimeout = cfg.ZooKeeperSessionTimeout
	}
	if _, ok := vals["listeners"]; !ok {
		cfg.Listeners = legacyListener(vals, "host.name", "port", cfg.Listeners)
	}
	if _, ok := vals["advertised.listeners"]; !ok {
		cfg.AdvertisedListeners = legacyListener(vals, "advertised.host.name", "advertised.port", cfg.Listeners)
	}
	return cfg, resolveAdvertisedHosts(&cfg)
}

// legacyListener applies Kafka's deprecated host.name/port (or
// advertised.host.name/advertised.port) when listeners are not set.
func legacyListener(vals map[string]setting, hostKey, portKey string, def []Endpoint) []Endpoint {
	h, hok := vals[hostKey]
	p, pok := vals[portKey]
	if !hok && !pok {
		return append([]Endpoint(nil), def...)
	}
	ep := Endpoint{Name: "PLAINTEXT", Port: 9092}
	if len(def) > 0 {
		ep = def[0]
	}
	if hok {
		ep.Host = h.value
	}
	if pok {
		if n, ok := parseInt(p.value, 0, 65535); ok {
			ep.Port = int32(n)
		}
	}
	return []Endpoint{ep}
}

// resolveAdvertisedHosts replaces empty advertised hosts with this machine's
// host name, as Kafka does with the canonical host name.
func resolveAdvertisedHosts(cfg *Config) error {
	for i, ep := range cfg.AdvertisedListeners {
		if ep.Host != "" {
			continue
		}
		h, err := hostname()
		if err != nil || h == "" {
			return fmt.Errorf("cannot determine this machine's host name to advertise for %s: set advertised.listeners=%s://<host>:%d", ep, ep.Name, ep.Port)
		}
		cfg.AdvertisedListeners[i].Host = h
	}
	return nil
}

func (e Endpoint) String() string {
	host := e.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return fmt.Sprintf("%s://%s:%d", e.Name, host, e.Port)
}

// Validate checks rules that involve more than one key.
func (c *Config) Validate() error {
	if c.BrokerID < 0 && !c.BrokerIDGenerationEnable {
		return fmt.Errorf("broker.id is not set and broker.id.generation.enable=false: set broker.id to a unique integer >= 0")
	}
	if c.BrokerIDGenerationEnable && c.BrokerID > c.ReservedBrokerMaxID {
		return fmt.Errorf("broker.id=%d is greater than reserved.broker.max.id=%d: use a smaller broker.id or raise reserved.broker.max.id", c.BrokerID, c.ReservedBrokerMaxID)
	}
	if len(c.Listeners) == 0 {
		return fmt.Errorf("listeners is empty: set listeners=PLAINTEXT://:9092")
	}
	if err := c.validateListeners(); err != nil {
		return err
	}
	if c.ZooKeeperSessionTimeout <= 0 || c.ZooKeeperConnectionTimeout <= 0 {
		return fmt.Errorf("zookeeper.session.timeout.ms and zookeeper.connection.timeout.ms must be > 0")
	}
	if c.LogIndexSizeMaxBytes < 8 {
		return fmt.Errorf("log.index.size.max.bytes=%d is too small: it must hold at least one index entry (8 bytes)", c.LogIndexSizeMaxBytes)
	}
	if int64(c.MessageMaxBytes) > int64(c.SocketRequestMaxBytes) {
		return fmt.Errorf("message.max.bytes=%d is larger than socket.request.max.bytes=%d: a produce request could never carry such a batch", c.MessageMaxBytes, c.SocketRequestMaxBytes)
	}
	return c.validateCleaner()
}

func (c *Config) validateListeners() error {
	names := map[string]bool{}
	ports := map[int32]string{}
	for _, ep := range c.Listeners {
		if names[ep.Name] {
			return fmt.Errorf("listeners: name %s is used twice: each listener needs its own name", ep.Name)
		}
		names[ep.Name] = true
		if prev, ok := ports[ep.Port]; ok && ep.Port != 0 {
			return fmt.Errorf("listeners: %s and %s use the same port %d: give each listener its own port", prev, ep, ep.Port)
		}
		ports[ep.Port] = ep.String()
		if err := c.checkProtocol(ep); err != nil {
			return err
		}
	}
	adv := map[string]bool{}
	for _, ep := range c.AdvertisedListeners {
		if !names[ep.Name] {
			return fmt.Errorf("advertised.listeners: listener name %s is not in listeners: advertise only names defined in listeners (%s)", ep.Name, joinEndpoints(c.Listeners))
		}
		if adv[ep.Name] {
			return fmt.Errorf("advertised.listeners: name %s is used twice", ep.Name)
		}
		adv[ep.Name] = true
		if ep.Host == "0.0.0.0" || ep.Host == "::" {
			return fmt.Errorf("advertised listener %s uses the non-routable address %s: set advertised.listeners=%s://<routable host>:%d", ep, ep.Host, ep.Name, ep.Port)
		}
	}
	if c.InterBrokerListenerName != "" && !adv[c.InterBrokerListenerName] {
		return fmt.Errorf("inter.broker.listener.name=%s is not an advertised listener: use one of %s", c.InterBrokerListenerName, joinEndpoints(c.AdvertisedListeners))
	}
	return nil
}

func (c *Config) checkProtocol(ep Endpoint) error {
	proto, ok := c.ListenerSecurityProtocolMap[ep.Name]
	if !ok {
		return fmt.Errorf("listener %s has no security protocol: add %s:PLAINTEXT to listener.security.protocol.map", ep, ep.Name)
	}
	if proto != "PLAINTEXT" {
		return fmt.Errorf("listener %s uses security protocol %s: zkafka supports only PLAINTEXT listeners for now", ep, proto)
	}
	return nil
}

func joinEndpoints(eps []Endpoint) string {
	s := make([]string, len(eps))
	for i, ep := range eps {
		s[i] = ep.String()
	}
	return strings.Join(s, ",")
}

// property is one key/value pair from a .properties file.
type property struct {
	key, value string
}

// readProperties parses Java .properties syntax (java.util.Properties.load):
// '#' and '!' comment lines, key and value separated by '=', ':' or white
// space, backslash escapes (\t \n \r \f \uXXXX, \x for any other x) and
// lines continued by an odd number of trailing backslashes.
func readProperties(r io.Reader) ([]property, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	var props []property
	var logical strings.Builder
	continuing := false
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimLeft(line, " \t\f")
		if !continuing && (trimmed == "" || trimmed[0] == '#' || trimmed[0] == '!') {
			continue
		}
		if continuing && trimmed == "" && !endsWithContinuation(line) {
			continuing = false
		} else {
			continuing = endsWithContinuation(trimmed)
			if continuing {
				trimmed = trimmed[:len(trimmed)-1]
			}
			logical.WriteString(trimmed)
		}
		if continuing {
			continue
		}
		p, err := parsePropertyLine(logical.String())
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		props = append(props, p)
		logical.Reset()
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if logical.Len() > 0 {
		p, err := parsePropertyLine(logical.String())
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		props = append(props, p)
	}
	return props, nil
}

// endsWithContinuation reports whether s ends with an odd number of
// backslashes.
func endsWithContinuation(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// parsePropertyLine splits one logical line (leading white space already
// removed) into key and value and unescapes both.
func parsePropertyLine(s string) (property, error) {
	keyEnd, valStart := len(s), len(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' {
			i++
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			keyEnd = i
			valStart = skipSeparator(s, i)
			break
		}
	}
	key, err := unescape(s[:keyEnd])
	if err != nil {
		return property{}, err
	}
	val, err := unescape(s[valStart:])
	if err != nil {
		return property{}, fmt.Errorf("%s: %w", key, err)
	}
	return property{key: key, value: val}, nil
}

// skipSeparator returns where the value starts after the key ended at i:
// white space, at most one '=' or ':', white space.
func skipSeparator(s string, i int) int {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	if i < len(s) && (s[i] == '=' || s[i] == ':') {
		i++
	}
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			if c != '\\' {
				b.WriteByte(c)
			}
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", fmt.Errorf(`malformed \uXXXX escape %q`, s[i-1:])
			}
			r, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
			if err != nil {
				return "", fmt.Errorf(`malformed \uXXXX escape %q`, s[i-1:i+5])
			}
			b.WriteRune(rune(r))
			i += 4
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}
