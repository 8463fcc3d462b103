package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/urfave/cli/v2"

	"github.com/zkafka/zkafka/broker"
	"github.com/zkafka/zkafka/broker/wire"
	"github.com/zkafka/zkafka/zkcoord"
)

func configsCommand() *cli.Command {
	return &cli.Command{
		Name:  "configs",
		Usage: "describe or change topic and broker configs (like kafka-configs.sh)",
		Description: "Exactly one action: --describe or --alter. Connect with --zookeeper HOST:PORT[/chroot] to\n" +
			"read and write /config in ZooKeeper, or --bootstrap-server HOST:PORT to use DescribeConfigs\n" +
			"and AlterConfigs. A topic's new config reaches every broker through /config/changes.\n\n" +
			"Example: zkafka configs --bootstrap-server localhost:9092 --entity-type topics --entity-name logstash \\\n" +
			"           --alter --add-config retention.ms=86400000,cleanup.policy=[compact,delete]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "zookeeper", Usage: "`HOST:PORT[/chroot]` of ZooKeeper"},
			&cli.StringFlag{Name: "bootstrap-server", Usage: "`HOST:PORT` of a broker, instead of --zookeeper"},
			&cli.StringFlag{Name: "entity-type", Usage: "`TYPE` of entity: topics or brokers"},
			&cli.StringFlag{Name: "entity-name", Usage: "`NAME` of the entity: a topic, or a broker id"},
			&cli.BoolFlag{Name: "entity-default", Usage: "the cluster-wide default of --entity-type brokers"},
			&cli.BoolFlag{Name: "describe", Usage: "list the configs of the entity (of all entities of the type without --entity-name)"},
			&cli.BoolFlag{Name: "alter", Usage: "change the configs of the entity"},
			&cli.BoolFlag{Name: "all", Usage: "with --describe and --bootstrap-server: every config, not only the dynamic ones"},
			&cli.StringFlag{Name: "add-config", Usage: "configs to add or change: `k1=v1,k2=[v1,v2,v2],k3=v3`"},
			&cli.StringFlag{Name: "delete-config", Usage: "config names to remove: `k1,k2`"},
		},
		Action: runConfigs,
	}
}

type configsOptions struct {
	zk, bootstrap string
	entityType    string
	entityName    string // "" with entityDefault or for all entities
	entityDefault bool
	describe, all bool
	add           map[string]string
	del           []string
}

func parseConfigsOptions(c *cli.Context) (configsOptions, error) {
	o := configsOptions{zk: c.String("zookeeper"), bootstrap: c.String("bootstrap-server"), entityType: c.String("entity-type"),
		entityName: c.String("entity-name"), entityDefault: c.Bool("entity-default"), describe: c.Bool("describe"), all: c.Bool("all")}
	alter := c.Bool("alter")
	switch {
	case c.Args().Present():
		return o, usageErrorf(c, "unexpected argument %q: configs takes only flags", c.Args().First())
	case o.describe == alter:
		return o, usageErrorf(c, "Command must include exactly one action: --describe, --alter")
	case (o.zk == "") == (o.bootstrap == ""):
		return o, usageErrorf(c, "Only one of --bootstrap-server or --zookeeper must be specified, e.g. --bootstrap-server localhost:9092")
	case o.entityType == "":
		return o, usageErrorf(c, "At least one --entity-type must be specified")
	case o.entityType != zkcoord.ConfigTypeTopic && o.entityType != zkcoord.ConfigTypeBroker:
		return o, usageErrorf(c, "Invalid entity type %s, the entity type must be one of topics, brokers (zkafka has no client or user quotas)", o.entityType)
	case o.entityDefault && o.entityName != "":
		return o, usageErrorf(c, "Only one of --entity-name or --entity-default can be specified")
	case o.entityDefault && o.entityType != zkcoord.ConfigTypeBroker:
		return o, usageErrorf(c, "--entity-default is only valid with --entity-type brokers")
	case o.all && (alter || o.zk != ""):
		return o, usageErrorf(c, "--all is only valid with --describe and --bootstrap-server")
	}
	if o.entityType == zkcoord.ConfigTypeBroker && o.entityName != "" {
		if _, err := strconv.ParseInt(o.entityName, 10, 32); err != nil {
			return o, usageErrorf(c, "The entity name for brokers must be a valid integer broker id, found: %s", o.entityName)
		}
	}
	if o.entityType == zkcoord.ConfigTypeTopic && o.entityName != "" {
		if err := zkcoord.ValidateTopicName(o.entityName); err != nil {
			return o, usageErrorf(c, "%v", err)
		}
	}
	if !alter {
		for _, f := range []string{"add-config", "delete-config"} {
			if c.IsSet(f) {
				return o, usageErrorf(c, "Option \"[%s]\" can't be used with option \"[describe]\"", f)
			}
		}
		return o, nil
	}
	if o.entityName == "" && !o.entityDefault {
		return o, usageErrorf(c, "an entity name must be specified with --alter of %s: add --entity-name NAME", o.entityType)
	}
	if !c.IsSet("add-config") && !c.IsSet("delete-config") {
		return o, usageErrorf(c, "At least one of --add-config or --delete-config must be specified with --alter")
	}
	var err error
	if o.add, err = parseAddConfig(c.String("add-config")); err != nil {
		return o, usageErrorf(c, "%v", err)
	}
	for _, k := range strings.Split(c.String("delete-config"), ",") {
		if k = strings.TrimSpace(k); k != "" {
			o.del = append(o.del, k)
		}
	}
	return o, nil
}

// parseAddConfig parses --add-config "k1=v1,k2=[a,b],k3=v3": commas inside
// square brackets belong to the value, and the brackets are dropped.
func parseAddConfig(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	var items []string
	depth, start := 0, 0
	for i, ch := range s {
		switch {
		case ch == '[':
			depth++
		case ch == ']' && depth > 0:
			depth--
		case ch == ',' && depth == 0:
			items = append(items, s[start:i])
			start = i + 1
		}
	}
	items = append(items, s[start:])
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, errors.New(`requirement failed: Invalid entity config: all configs to be added must be in the format "key=val".`)
		}
		v = strings.NewReplacer("[", "", "]", "").Replace(v)
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}

func runConfigs(c *cli.Context) error {
	o, err := parseConfigsOptions(c)
	if err != nil {
		return err
	}
	w := c.App.Writer
	ctx := c.Context
	if o.zk != "" {
		a, err := newZKAdmin(ctx, o.zk)
		if err != nil {
			return failf("%v", err)
		}
		defer a.Close()
		if o.describe {
			err = zkDescribeConfigs(ctx, a.s, o, w)
		} else {
			err = zkAlterConfigs(ctx, a.s, o, w)
		}
		return configsFailure(c, err)
	}
	a := newBrokerAdmin(o.bootstrap)
	defer a.Close()
	if o.describe {
		err = brokerDescribeConfigs(ctx, a, o, w)
	} else {
		err = brokerAlterConfigs(ctx, a, o, w)
	}
	return configsFailure(c, err)
}

// invalidConfigError is Kafka's InvalidConfigurationException (or an
// IllegalArgumentException): ConfigCommand prints its message alone.
type invalidConfigError struct{ msg string }

func (e *invalidConfigError) Error() string { return e.msg }

// configsFailure prints errors as ConfigCommand does: an invalid config
// alone, anything else after "Error while executing config command".
func configsFailure(c *cli.Context, err error) error {
	var ic *invalidConfigError
	var f *failure
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ic), errors.As(err, &f):
		return failf("%s", err.Error())
	}
	args, _ := c.App.Metadata["args"].([]string)
	return failf("Error while executing config command with args '%s'\n%v", strings.Join(args, " "), err)
}

// entityLabel is ConfigCommand's Entity.toString: topic 't', brokers '1',
// default brokers.
func entityLabel(entityType, name string) string {
	typeName := entityType
	if entityType == zkcoord.ConfigTypeTopic {
		typeName = "topic"
	}
	if name == zkcoord.DefaultConfigEntity {
		return "default " + typeName
	}
	return fmt.Sprintf("%s '%s'", typeName, name)
}

func (o configsOptions) zkEntity() string {
	if o.entityDefault {
		return zkcoord.DefaultConfigEntity
	}
	return o.entityName
}

func joinConfigs(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

// zkDescribeConfigs prints "Configs for <entity> are k=v,..." for the entity
// or every entity of the type with a config znode.
func zkDescribeConfigs(ctx context.Context, s *zkcoord.Session, o configsOptions, w io.Writer) error {
	names := []string{o.zkEntity()}
	configs := map[string]map[string]string{}
	if names[0] == "" {
		var err error
		if names, configs, err = s.GetAllEntityConfigs(ctx, o.entityType); err != nil {
			return err
		}
	} else {
		cfg, err := s.GetEntityConfig(ctx, o.entityType, names[0])
		if err != nil {
			return err
		}
		configs[names[0]] = cfg
	}
	for _, n := range names {
		fmt.Fprintf(w, "Configs for %s are %s\n", entityLabel(o.entityType, n), joinConfigs(configs[n]))
	}
	return nil
}

// zkAlterConfigs is ConfigCommand.alterConfig with --zookeeper: merge the
// changes into the stored config, validate, write it with a notification.
func zkAlterConfigs(ctx context.Context, s *zkcoord.Session, o configsOptions, w io.Writer) error {
	entity := o.zkEntity()
	if o.entityType == zkcoord.ConfigTypeBroker && len(o.add) > 0 {
		if err := checkBrokersStopped(ctx, s, entity, o.add); err != nil {
			return err
		}
	}
	if o.entityType == zkcoord.ConfigTypeTopic {
		ok, err := s.TopicExists(ctx, entity)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("kafka.admin.AdminOperationException: Topic %s does not exist.", entity)
		}
	}
	configs, err := s.GetEntityConfig(ctx, o.entityType, entity)
	if err != nil {
		return err
	}
	if err := o.applyChanges(configs); err != nil {
		return err
	}
	if o.entityType == zkcoord.ConfigTypeTopic {
		if err := broker.CheckTopicConfigs(configs); errors.Is(err, broker.ErrUnknownTopicConfig) {
			return &invalidConfigError{err.Error()}
		} else if err != nil {
			return fmt.Errorf("org.apache.kafka.common.config.ConfigException: %v", err)
		}
	}
	if err := s.SetEntityConfig(ctx, o.entityType, entity, configs); err != nil {
		return err
	}
	fmt.Fprintf(w, "Completed Updating config for entity: %s.\n", entityLabel(o.entityType, entity))
	return nil
}

// checkBrokersStopped is ConfigCommand's rule for broker configs written to
// ZooKeeper: only while the broker (for the default: every broker) is down.
func checkBrokersStopped(ctx context.Context, s *zkcoord.Session, entity string, add map[string]string) error {
	ids, err := s.GetBrokerIDs(ctx)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(add))
	for k := range add {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	msg := fmt.Sprintf("requirement failed: --bootstrap-server option must be specified to update broker configs Set(%s)", strings.Join(keys, ", "))
	const info = " Broker configuraton updates using ZooKeeper are supported for bootstrapping before brokers are started to enable encrypted password configs to be stored in ZooKeeper."
	if entity == zkcoord.DefaultConfigEntity {
		if len(ids) > 0 {
			return &invalidConfigError{msg + " when brokers are running." + info}
		}
		return nil
	}
	for _, id := range ids {
		if strconv.Itoa(int(id)) == entity {
			return &invalidConfigError{fmt.Sprintf("%s when broker %s is running.%s", msg, entity, info)}
		}
	}
	return nil
}

// brokerEntities lists the brokers (id and address) of the cluster.
func (a *brokerAdmin) brokers(ctx context.Context) ([]kafka.Broker, error) {
	m, err := a.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{}})
	if err != nil {
		return nil, brokerReachError(err, a.bootstrap)
	}
	sort.Slice(m.Brokers, func(i, j int) bool { return m.Brokers[i].ID < m.Brokers[j].ID })
	return m.Brokers, nil
}

// entityAddr is where a request about the entity goes: a broker resource
// to that broker (as Kafka's AdminClient sends it), anything else to the
// first bootstrap server.
func (a *brokerAdmin) entityAddr(ctx context.Context, o configsOptions, name string) (string, error) {
	if o.entityType != zkcoord.ConfigTypeBroker || name == "" {
		return splitList(a.bootstrap)[0], nil
	}
	brokers, err := a.brokers(ctx)
	if err != nil {
		return "", err
	}
	for _, b := range brokers {
		if strconv.Itoa(b.ID) == name {
			return net.JoinHostPort(b.Host, strconv.Itoa(b.Port)), nil
		}
	}
	return "", fmt.Errorf("org.apache.kafka.common.errors.InvalidRequestException: broker %s is not in the cluster", name)
}

// request sends one request (at the highest version both sides speak) to
// the entity's broker.
func (a *brokerAdmin) request(ctx context.Context, o configsOptions, name string, req kmsg.Request) (kmsg.Response, error) {
	addr, err := a.entityAddr(ctx, o, name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := wire.Dial(ctx, addr, "zkafka-configs")
	if err != nil {
		return nil, brokerReachError(err, a.bootstrap)
	}
	defer conn.Close()
	if err := conn.PickVersion(ctx, req, -1); err != nil {
		return nil, err
	}
	return conn.Request(ctx, req)
}

func resourceType(o configsOptions) kmsg.ConfigResourceType {
	if o.entityType == zkcoord.ConfigTypeBroker {
		return kmsg.ConfigResourceTypeBroker
	}
	return kmsg.ConfigResourceTypeTopic
}

// describeEntity runs DescribeConfigs for one entity.
func (a *brokerAdmin) describeEntity(ctx context.Context, o configsOptions, name string, synonyms bool) ([]kmsg.DescribeConfigsResponseResourceConfig, error) {
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeSynonyms = synonyms
	res := kmsg.NewDescribeConfigsRequestResource()
	res.ResourceType, res.ResourceName = resourceType(o), name
	req.Resources = append(req.Resources, res)
	r, err := a.request(ctx, o, name, req)
	if err != nil {
		return nil, err
	}
	resp := r.(*kmsg.DescribeConfigsResponse)
	if len(resp.Resources) != 1 {
		return nil, fmt.Errorf("DescribeConfigs answered %d resources for 1", len(resp.Resources))
	}
	if rr := resp.Resources[0]; rr.ErrorCode != 0 {
		return nil, kafkaException(rr.ErrorCode, rr.ErrorMessage)
	}
	entries := resp.Resources[0].Configs
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	return entries, nil
}

// dynamicSource is the source of the entries --describe shows without --all.
func (o configsOptions) dynamicSource() kmsg.ConfigSource {
	switch {
	case o.entityType == zkcoord.ConfigTypeTopic:
		return kmsg.ConfigSourceDynamicTopicConfig
	case o.entityDefault:
		return kmsg.ConfigSourceDynamicDefaultBrokerConfig
	}
	return kmsg.ConfigSourceDynamicBrokerConfig
}

func brokerDescribeConfigs(ctx context.Context, a *brokerAdmin, o configsOptions, w io.Writer) error {
	names := []string{o.entityName}
	switch {
	case o.entityDefault:
		names = []string{""}
	case o.entityName == "" && o.entityType == zkcoord.ConfigTypeTopic:
		topics, err := a.client.Metadata(ctx, &kafka.MetadataRequest{})
		if err != nil {
			return brokerReachError(err, a.bootstrap)
		}
		names = names[:0]
		for _, t := range topics.Topics {
			names = append(names, t.Name)
		}
		sort.Strings(names)
	case o.entityName == "":
		brokers, err := a.brokers(ctx)
		if err != nil {
			return err
		}
		names = names[:0]
		for _, b := range brokers {
			names = append(names, strconv.Itoa(b.ID))
		}
	}
	kind := "Dynamic"
	if o.all {
		kind = "All"
	}
	for _, n := range names {
		entries, err := a.describeEntity(ctx, o, n, true)
		if err != nil {
			return err
		}
		if n == "" {
			fmt.Fprintln(w, "Default configs for brokers in the cluster are:")
		} else {
			fmt.Fprintf(w, "%s configs for %s %s are:\n", kind, strings.TrimSuffix(o.entityType, "s"), n)
		}
		for _, e := range entries {
			if !o.all && e.Source != o.dynamicSource() {
				continue
			}
			syn := make([]string, len(e.ConfigSynonyms))
			for i, s := range e.ConfigSynonyms {
				syn[i] = fmt.Sprintf("%s:%s=%s", s.Source, s.Name, javaString(s.Value))
			}
			fmt.Fprintf(w, "  %s=%s sensitive=%t synonyms={%s}\n", e.Name, javaString(e.Value), e.IsSensitive, strings.Join(syn, ", "))
		}
	}
	return nil
}

// brokerAlterConfigs is ConfigCommand's --bootstrap-server alter: the
// entity's dynamic configs, changed, sent whole with AlterConfigs.
func brokerAlterConfigs(ctx context.Context, a *brokerAdmin, o configsOptions, w io.Writer) error {
	name := o.entityName
	old, err := a.describeEntity(ctx, o, name, false)
	if err != nil {
		return err
	}
	configs := map[string]string{}
	for _, e := range old {
		if e.Source == o.dynamicSource() {
			configs[e.Name] = javaString(e.Value)
		}
	}
	if err := o.applyChanges(configs); err != nil {
		return err
	}
	req := kmsg.NewPtrAlterConfigsRequest()
	res := kmsg.NewAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = resourceType(o), name
	for _, k := range sortedKeysOf(configs) {
		res.Configs = append(res.Configs, kmsg.AlterConfigsRequestResourceConfig{Name: k, Value: kmsg.StringPtr(configs[k])})
	}
	req.Resources = append(req.Resources, res)
	r, err := a.request(ctx, o, name, req)
	if err != nil {
		return err
	}
	resp := r.(*kmsg.AlterConfigsResponse)
	for _, rr := range resp.Resources {
		if rr.ErrorCode != 0 {
			return kafkaException(rr.ErrorCode, rr.ErrorMessage)
		}
	}
	switch {
	case o.entityDefault:
		fmt.Fprintln(w, "Completed updating default config for brokers in the cluster,")
	default:
		fmt.Fprintf(w, "Completed updating config for %s %s.\n", strings.TrimSuffix(o.entityType, "s"), name)
	}
	return nil
}

func sortedKeysOf(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// javaString is a nullable string as Java prints it.
func javaString(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

// kafkaException renders a broker's error as the Java exception Kafka's
// tool prints: "org.apache.kafka.common.errors.<Name>: <message>".
func kafkaException(code int16, msg *string) error {
	names := map[int16]string{
		kerr.InvalidConfig.Code:           "InvalidConfigurationException",
		kerr.InvalidRequest.Code:          "InvalidRequestException",
		kerr.UnknownTopicOrPartition.Code: "UnknownTopicOrPartitionException",
		kerr.InvalidTopicException.Code:   "InvalidTopicException",
		kerr.UnknownServerError.Code:      "UnknownServerException",
	}
	name, ok := names[code]
	if !ok {
		name = "ApiException"
	}
	text := kerr.ErrorForCode(code).(*kerr.Error).Description
	if msg != nil {
		text = *msg
	}
	return fmt.Errorf("org.apache.kafka.common.errors.%s: %s", name, text)
}

// applyChanges applies --add-config and --delete-config to configs, the
// entity's dynamic configs; deleting one that is not set is refused as
// ConfigCommand refuses it.
func (o *configsOptions) applyChanges(configs map[string]string) error {
	var missing []string
	for _, k := range o.del {
		if _, ok := configs[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return &invalidConfigError{"Invalid config(s): " + strings.Join(missing, ",")}
	}
	for k, v := range o.add {
		configs[k] = v
	}
	for _, k := range o.del {
		delete(configs, k)
	}
	return nil
}
