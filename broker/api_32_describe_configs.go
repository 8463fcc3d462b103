package broker

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/zkcoord"
)

// handleDescribeConfigs answers DescribeConfigs v0-2 (AdminManager
// .describeConfigs): a topic's configs (overrides from /config/topics/<t>
// over the broker's settings over Kafka's defaults), this broker's static
// configuration, or the cluster-wide dynamic broker defaults stored in
// ZooKeeper (none are applied by zkafka). Errors are per resource.
func (b *Broker) handleDescribeConfigs(ctx context.Context, rc *reqCtx, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	synonyms := req.Version >= 1 && req.IncludeSynonyms
	for _, res := range req.Resources {
		out := kmsg.NewDescribeConfigsResponseResource()
		out.ResourceType, out.ResourceName = res.ResourceType, res.ResourceName
		configs, err := b.describeResource(ctx, res, synonyms, req.Version)
		if err != nil {
			out.ErrorCode, out.ErrorMessage = configErrorCode(err), configErrorMessage(err)
			if out.ErrorCode == kerr.UnknownServerError.Code {
				rc.log.WithError(err).WithField("resource", configResourceString(int8(res.ResourceType), res.ResourceName)).Warn("describe configs")
			}
		} else {
			out.Configs = configs
		}
		resp.Resources = append(resp.Resources, out)
	}
	return resp, nil
}

func (b *Broker) describeResource(ctx context.Context, res kmsg.DescribeConfigsRequestResource, synonyms bool, version int16) ([]kmsg.DescribeConfigsResponseResourceConfig, error) {
	switch t := int8(res.ResourceType); t {
	case resourceTopic:
		if err := zkcoord.ValidateTopicName(res.ResourceName); err != nil {
			return nil, err
		}
		if !b.meta.hasTopic(res.ResourceName) {
			return nil, zkcoord.KafkaErrorf(zkcoord.ErrUnknownTopic, "") // Kafka sends no message here
		}
		overrides, err := b.zk.GetTopicConfig(ctx, res.ResourceName)
		if err != nil {
			return nil, err
		}
		return b.describeTopicConfigs(overrides, res.ConfigNames, synonyms, version), nil
	case resourceBroker:
		if res.ResourceName == "" {
			return b.describeDynamicDefaults(ctx, res.ConfigNames, synonyms, version)
		}
		id, err := brokerResourceID(res.ResourceName)
		if err != nil {
			return nil, err
		}
		if id != b.cfg.BrokerID {
			return nil, zkcoord.KafkaErrorf(errInvalidRequest, "Unexpected broker id, expected %d or empty string, but received %s", b.cfg.BrokerID, res.ResourceName)
		}
		return b.describeBrokerConfigs(res.ConfigNames, synonyms, version), nil
	default:
		return nil, zkcoord.KafkaErrorf(errInvalidRequest, "Unsupported resource type: %s", resourceTypeName(t))
	}
}

// describeDynamicDefaults lists /config/brokers/<default>, as Kafka lists
// its current dynamic default configs (zkafka stores them for Kafka's tools
// but does not apply them).
func (b *Broker) describeDynamicDefaults(ctx context.Context, names []string, synonyms bool, version int16) ([]kmsg.DescribeConfigsResponseResourceConfig, error) {
	stored, err := b.zk.GetEntityConfig(ctx, zkcoord.ConfigTypeBroker, zkcoord.DefaultConfigEntity)
	if err != nil {
		return nil, err
	}
	out := []kmsg.DescribeConfigsResponseResourceConfig{}
	for _, k := range sortedKeys(stored) {
		if !wanted(names, k) {
			continue
		}
		e := kmsg.NewDescribeConfigsResponseResourceConfig()
		e.Name, e.Value, e.ReadOnly, e.Source = k, kmsg.StringPtr(stored[k]), false, sourceDynamicDef
		if synonyms && version >= 1 {
			s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			s.Name, s.Value, s.Source = k, e.Value, sourceDynamicDef
			e.ConfigSynonyms = append(e.ConfigSynonyms, s)
		}
		out = append(out, e)
	}
	return out, nil
}

// configErrorCode maps a describe/alter error to its Kafka error code.
func configErrorCode(err error) int16 {
	switch {
	case errors.Is(err, zkcoord.ErrInvalidTopic):
		return kerr.InvalidTopicException.Code
	case errors.Is(err, zkcoord.ErrUnknownTopic):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, errInvalidRequest):
		return kerr.InvalidRequest.Code
	case errors.Is(err, errInvalidConfig):
		return kerr.InvalidConfig.Code
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return kerr.RequestTimedOut.Code
	}
	return kerr.UnknownServerError.Code
}

// configErrorMessage is the message to return with an error code, nil for
// none.
func configErrorMessage(err error) *string {
	if err.Error() == "" {
		return nil
	}
	return kmsg.StringPtr(err.Error())
}
