package broker

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
)

const apiVersionsKey = 18

// api is one Kafka API the broker speaks: the versions it advertises and the
// handler. A handler returns the response (nil for none, as for acks=0) or an
// error, which closes the connection.
type api struct {
	min, max int16
	handle   func(ctx context.Context, rc *reqCtx, req kmsg.Request) (kmsg.Response, error)
}

// registerAPIs lists every API the broker implements. Only these are
// advertised in ApiVersions; anything else closes the connection, as Kafka
// does for requests it cannot parse.
func (b *Broker) registerAPIs() {
	b.apis = map[int16]api{
		0:  {3, 8, b.handleProduce},
		1:  {4, 11, b.handleFetch},
		2:  {0, 5, b.handleListOffsets},
		3:  {0, 9, b.handleMetadata},
		4:  {0, 4, b.handleLeaderAndIsr},
		5:  {0, 2, b.handleStopReplica},
		6:  {0, 6, b.handleUpdateMetadata},
		7:  {0, 3, b.handleControlledShutdown},
		8:  {0, 8, b.handleOffsetCommit},
		9:  {0, 6, b.handleOffsetFetch},
		10: {0, 3, b.handleFindCoordinator},
		11: {0, 6, b.handleJoinGroup},
		12: {0, 4, b.handleHeartbeat},
		13: {0, 4, b.handleLeaveGroup},
		14: {0, 4, b.handleSyncGroup},
		15: {0, 5, b.handleDescribeGroups},
		16: {0, 3, b.handleListGroups},
		18: {0, 3, b.handleApiVersions},
		19: {0, 5, b.handleCreateTopics},
		20: {0, 4, b.handleDeleteTopics},
		21: {0, 1, b.handleDeleteRecords},
		22: {0, 2, b.handleInitProducerID},
		23: {0, 3, b.handleOffsetForLeaderEpoch},
		32: {0, 2, b.handleDescribeConfigs},
		33: {0, 1, b.handleAlterConfigs},
		37: {0, 1, b.handleCreatePartitions},
		42: {0, 2, b.handleDeleteGroups},
		43: {0, 2, b.handleElectLeaders},
		44: {0, 1, b.handleIncrementalAlterConfigs},
		45: {0, 0, b.handleAlterPartitionReassignments},
		46: {0, 0, b.handleListPartitionReassignments},
		47: {0, 0, b.handleOffsetDelete},
	}
}

// flexibleHeader reports whether a request uses request header v2.
func (b *Broker) flexibleHeader(key, version int16) bool {
	return wire.IsFlexible(key, version)
}

func (b *Broker) apiVersionKeys() []kmsg.ApiVersionsResponseApiKey {
	keys := make([]kmsg.ApiVersionsResponseApiKey, 0, len(b.apis))
	for k, a := range b.apis {
		keys = append(keys, kmsg.ApiVersionsResponseApiKey{ApiKey: k, MinVersion: a.min, MaxVersion: a.max})
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].ApiKey < keys[j].ApiKey })
	return keys
}
