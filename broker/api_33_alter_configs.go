package broker

import (
	"context"
	"sort"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/zkcoord"
)

// handleAlterConfigs answers AlterConfigs v0-1 (AdminManager.alterConfigs):
// a topic's overrides are replaced by the request's set, validated as Kafka
// validates them, and written to /config/topics/<t> with a /config/changes
// notification, which every broker (this one included) applies to its logs.
// zkafka changes no broker config at run time, so a broker resource with
// configs is refused as Kafka refuses configs it cannot update dynamically.
func (b *Broker) handleAlterConfigs(ctx context.Context, rc *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, res := range req.Resources {
		out := kmsg.NewAlterConfigsResponseResource()
		out.ResourceType, out.ResourceName = res.ResourceType, res.ResourceName
		configs := map[string]string{}
		var nulls []string
		for _, c := range res.Configs {
			if c.Value == nil {
				nulls = append(nulls, c.Name)
				continue
			}
			configs[c.Name] = *c.Value
		}
		var err error
		if len(nulls) > 0 {
			err = zkcoord.KafkaErrorf(errInvalidRequest, "Null value not supported for : %s", strings.Join(nulls, ","))
		} else {
			err = b.alterResource(ctx, rc, int8(res.ResourceType), res.ResourceName, configs, req.ValidateOnly)
		}
		if err != nil {
			out.ErrorCode, out.ErrorMessage = configErrorCode(err), configErrorMessage(err)
		}
		resp.Resources = append(resp.Resources, out)
	}
	return resp, nil
}

// alterResource validates and (unless validateOnly) writes one resource's
// complete new config set.
func (b *Broker) alterResource(ctx context.Context, rc *reqCtx, typ int8, name string, configs map[string]string, validateOnly bool) error {
	switch typ {
	case resourceTopic:
		if !b.meta.hasTopic(name) {
			return zkcoord.KafkaErrorf(zkcoord.ErrUnknownTopic, "The topic '%s' does not exist.", name)
		}
		if err := validateTopicAlter(name, configs); err != nil {
			return err
		}
		if validateOnly {
			return nil
		}
		rc.log.WithFields(logrus.Fields{"topic": name, "config": configs}).Info("updating topic config")
		return b.zk.SetTopicConfig(ctx, name, configs)
	case resourceBroker:
		entity := zkcoord.DefaultConfigEntity
		if name != "" {
			id, err := brokerResourceID(name)
			if err != nil {
				return err
			}
			if id != b.cfg.BrokerID {
				return zkcoord.KafkaErrorf(errInvalidRequest, "Unexpected broker id, expected %d, but received %s", b.cfg.BrokerID, name)
			}
			entity = name
		}
		if len(configs) > 0 {
			return zkcoord.KafkaErrorf(errInvalidRequest, "Invalid config value for resource %s: Cannot update these configs dynamically: Set(%s)",
				configResourceString(typ, name), strings.Join(sortedKeys(configs), ", "))
		}
		if validateOnly {
			return nil
		}
		return b.zk.SetEntityConfig(ctx, zkcoord.ConfigTypeBroker, entity, configs)
	default:
		return zkcoord.KafkaErrorf(errInvalidRequest, "AlterConfigs is only supported for topics and brokers, but resource type is %s", resourceTypeName(typ))
	}
}

// handleIncrementalAlterConfigs answers IncrementalAlterConfigs v0-1
// (KIP-339): SET, DELETE, APPEND and SUBTRACT (the last two for list
// configs only) applied to a topic's current overrides, then validated and
// written as AlterConfigs does.
func (b *Broker) handleIncrementalAlterConfigs(ctx context.Context, rc *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, res := range req.Resources {
		out := kmsg.NewIncrementalAlterConfigsResponseResource()
		out.ResourceType, out.ResourceName = res.ResourceType, res.ResourceName
		if err := b.incrementalAlter(ctx, rc, res, req.ValidateOnly); err != nil {
			out.ErrorCode, out.ErrorMessage = configErrorCode(err), configErrorMessage(err)
		}
		resp.Resources = append(resp.Resources, out)
	}
	return resp, nil
}

func (b *Broker) incrementalAlter(ctx context.Context, rc *reqCtx, res kmsg.IncrementalAlterConfigsRequestResource, validateOnly bool) error {
	seen := map[string]int{}
	var dups, nulls []string
	for _, c := range res.Configs {
		if seen[c.Name]++; seen[c.Name] == 2 {
			dups = append(dups, c.Name)
		}
		if c.Value == nil && c.Op != kmsg.IncrementalAlterConfigOpDelete {
			nulls = append(nulls, opName(c.Op)+":"+c.Name)
		}
	}
	switch {
	case len(dups) > 0:
		sort.Strings(dups)
		return zkcoord.KafkaErrorf(errInvalidRequest, "Error due to duplicate config keys : %s", strings.Join(dups, ","))
	case len(nulls) > 0:
		return zkcoord.KafkaErrorf(errInvalidRequest, "Null value not supported for : %s", strings.Join(nulls, ","))
	}
	typ := int8(res.ResourceType)
	if typ != resourceTopic {
		if typ == resourceBroker { // nothing is dynamic: refused like AlterConfigs
			names := map[string]string{}
			for _, c := range res.Configs {
				names[c.Name] = ""
			}
			return b.alterResource(ctx, rc, typ, res.ResourceName, names, validateOnly)
		}
		return zkcoord.KafkaErrorf(errInvalidRequest, "AlterConfigs is only supported for topics and brokers, but resource type is %s", resourceTypeName(typ))
	}
	if !b.meta.hasTopic(res.ResourceName) {
		return zkcoord.KafkaErrorf(zkcoord.ErrUnknownTopic, "The topic '%s' does not exist.", res.ResourceName)
	}
	configs, err := b.zk.GetTopicConfig(ctx, res.ResourceName)
	if err != nil {
		return err
	}
	if err := applyConfigOps(configs, res.Configs, func(name string) string { return b.topicDefault(name) }); err != nil {
		return err
	}
	return b.alterResource(ctx, rc, typ, res.ResourceName, configs, validateOnly)
}

// applyConfigOps applies incremental operations to a topic's overrides
// (AdminManager.prepareIncrementalConfigs); def gives a list config's value
// when the topic does not override it.
func applyConfigOps(configs map[string]string, ops []kmsg.IncrementalAlterConfigsRequestResourceConfig, def func(string) string) error {
	for _, op := range ops {
		switch op.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			configs[op.Name] = *op.Value
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(configs, op.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			if _, ok := topicConfigs[op.Name]; !ok {
				return zkcoord.KafkaErrorf(errInvalidConfig, "Unknown topic config name: %s", op.Name)
			}
			if !listConfigs[op.Name] {
				verb := map[bool]string{true: "append", false: "subtract"}[op.Op == kmsg.IncrementalAlterConfigOpAppend]
				return zkcoord.KafkaErrorf(errInvalidRequest, "Config value %s is not allowed for config key: %s", verb, op.Name)
			}
			old, ok := configs[op.Name]
			if !ok {
				old = def(op.Name)
			}
			configs[op.Name] = editList(old, *op.Value, op.Op == kmsg.IncrementalAlterConfigOpAppend)
		default:
			return zkcoord.KafkaErrorf(errInvalidRequest, "Unknown operation type %d for config %s", op.Op, op.Name)
		}
	}
	return nil
}

// editList appends the comma-separated items of v to list, or removes them.
func editList(list, v string, add bool) string {
	var items []string
	if list != "" {
		items = strings.Split(list, ",")
	}
	change := strings.Split(v, ",")
	if add {
		return strings.Join(append(items, change...), ",")
	}
	drop := map[string]int{}
	for _, c := range change {
		drop[c]++
	}
	var kept []string
	for _, it := range items {
		if drop[it] > 0 {
			drop[it]--
			continue
		}
		kept = append(kept, it)
	}
	return strings.Join(kept, ",")
}

func opName(op kmsg.IncrementalAlterConfigOp) string {
	switch op {
	case kmsg.IncrementalAlterConfigOpSet:
		return "SET"
	case kmsg.IncrementalAlterConfigOpDelete:
		return "DELETE"
	case kmsg.IncrementalAlterConfigOpAppend:
		return "APPEND"
	case kmsg.IncrementalAlterConfigOpSubtract:
		return "SUBTRACT"
	}
	return "UNKNOWN"
}
