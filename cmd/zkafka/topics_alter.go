package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/urfave/cli/v2"

	"github.com/zkafka/zkafka/zkcoord"
)

// parseAlterSpec reads --alter's options: --partitions N (required) and an
// optional --replica-assignment listing every partition, existing ones
// included (kafka-topics.sh drops those).
func parseAlterSpec(c *cli.Context, o topicOptions) (topicSpec, error) {
	spec := topicSpec{Name: o.topic, Partitions: -1, ReplicationFactor: -1}
	if c.IsSet("config") {
		return spec, usageErrorf(c, "--alter changes partition counts only; change topic configs with the configs tool")
	}
	if !c.IsSet("partitions") {
		return spec, usageErrorf(c, "--alter needs --partitions N, the new (larger) number of partitions")
	}
	n := c.Int("partitions")
	if n < 1 || n > 1<<31-1 {
		return spec, usageErrorf(c, "--partitions must be at least 1, got %d", n)
	}
	spec.Partitions = int32(n)
	if ra := c.String("replica-assignment"); ra != "" {
		a, err := parseReplicaAssignment(ra)
		if err != nil {
			return spec, usageErrorf(c, "%v", err)
		}
		spec.Assignment = a
	}
	return spec, nil
}

// alterTopic increases a topic's partition count: through the controller's
// CreatePartitions API with --bootstrap-server, or by writing
// /brokers/topics/<t> as AdminZkClient.addPartitions with --zookeeper
// (printing 2.4's warning and "Adding partitions succeeded!").
func alterTopic(ctx context.Context, admin topicAdmin, o topicOptions, w io.Writer) error {
	if o.topic == "__consumer_offsets" || o.topic == "__transaction_state" {
		return fmt.Errorf("The number of partitions for the internal topic %s cannot be changed.", o.topic)
	}
	switch a := admin.(type) {
	case *zkAdmin:
		fmt.Fprintln(w, "WARNING: If partitions are increased for a topic that has a key, the partition logic or ordering of the messages will be affected")
		if err := a.AddPartitions(ctx, o.topic, o.spec.Partitions, o.spec.Assignment); err != nil {
			return err
		}
		fmt.Fprintln(w, "Adding partitions succeeded!")
		return nil
	case *brokerAdmin:
		return a.CreatePartitions(ctx, o.topic, o.spec.Partitions, o.spec.Assignment)
	}
	return errors.New("unsupported admin")
}

// AddPartitions is the --zookeeper side of --alter --partitions.
func (a *zkAdmin) AddPartitions(ctx context.Context, topic string, total int32, full [][]int32) error {
	cur, version, err := a.s.GetTopicAssignment(ctx, topic)
	if errors.Is(err, zkcoord.ErrUnknownTopic) {
		return fmt.Errorf("The topic %s does not exist", topic)
	}
	if err != nil {
		return err
	}
	brokers, err := a.s.GetBrokerIDs(ctx)
	if err != nil {
		return err
	}
	var manual [][]int32
	if len(full) > len(cur.Partitions) {
		manual = full[len(cur.Partitions):]
	}
	added, err := zkcoord.PlanPartitionIncrease(topic, cur.Partitions, total, manual, brokers)
	if err != nil {
		return err
	}
	return a.s.AddPartitions(ctx, topic, cur, version, added)
}

// CreatePartitions is the --bootstrap-server side of --alter --partitions:
// CreatePartitions v1 to the controller. Like kafka-topics.sh it prints
// nothing on success.
func (a *brokerAdmin) CreatePartitions(ctx context.Context, topic string, total int32, full [][]int32) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	conn, meta, err := controllerConn(ctx, a.bootstrap, "zkafka-topics")
	if err != nil {
		return err
	}
	defer conn.Close()
	existing := -1
	for _, t := range meta.Topics {
		if t.Topic != nil && *t.Topic == topic && t.ErrorCode == 0 {
			existing = len(t.Partitions)
		}
	}
	if existing < 0 {
		return fmt.Errorf("Topic '%s' does not exist as expected", topic)
	}
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.TimeoutMillis = 30000
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = topic, total
	if len(full) > existing {
		for _, reps := range full[existing:] {
			ra := kmsg.NewCreatePartitionsRequestTopicAssignment()
			ra.Replicas = reps
			rt.Assignment = append(rt.Assignment, ra)
		}
	}
	req.Topics = append(req.Topics, rt)
	if err := conn.PickVersion(ctx, req, 1); err != nil {
		return err
	}
	r, err := conn.Request(ctx, req)
	if err != nil {
		return err
	}
	for _, t := range r.(*kmsg.CreatePartitionsResponse).Topics {
		if t.ErrorCode != 0 {
			// As the AdminClient's ExecutionException prints it.
			return errors.New(javaException(t.ErrorCode, t.ErrorMessage))
		}
	}
	return nil
}
