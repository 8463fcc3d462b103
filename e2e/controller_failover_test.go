package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kgo"
)

func controllerOf(conn *zk.Conn) (id int32, epoch int, err error) {
	data, _, err := conn.Get("/zkafka/controller")
	if err != nil {
		return -1, 0, err
	}
	var c struct {
		BrokerID int32 `json:"brokerid"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return -1, 0, err
	}
	e, _, err := conn.Get("/zkafka/controller_epoch")
	if err != nil {
		return -1, 0, err
	}
	epoch, err = strconv.Atoi(string(e))
	return c.BrokerID, epoch, err
}

// TestIntegration_ControllerKill9: the controller broker is killed with
// SIGKILL; once its ZooKeeper session expires another broker is elected
// with the next epoch, moves the dead broker's leaderships, and keeps
// doing the controller's work (a new topic gets leaders and takes writes).
func TestIntegration_ControllerKill9(t *testing.T) {
	e := newEnv(t, 3, nil)
	conn := e.zkConn()
	e.createTopic("ck", 3, 3)
	e.waitTopic("ck", 3)
	for p := 0; p < 3; p++ {
		e.waitISR(conn, "ck", p, []int32{1, 2, 3})
	}
	old, epoch, err := controllerOf(conn)
	if err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	e.broker(old).Kill()
	var next int32
	eventually(t, 30*time.Second, func() error {
		id, ep, err := controllerOf(conn)
		if err != nil {
			return err
		}
		if id == old || ep != epoch+1 {
			return fmt.Errorf("controller %d epoch %d", id, ep)
		}
		next = id
		return nil
	})
	elected := time.Since(killed)
	for p := 0; p < 3; p++ {
		eventually(t, 30*time.Second, func() error {
			st, err := readState(conn, "ck", p)
			if err != nil {
				return err
			}
			if st.Leader == old || st.Leader < 0 {
				return fmt.Errorf("ck-%d: %+v", p, st)
			}
			return nil
		})
	}
	t.Logf("controller %d killed (session timeout 6 s): broker %d elected with epoch %d after %.2f s", old, next, epoch+1, elected.Seconds())

	// The new controller creates a new topic's partitions.
	e.run("", "topics", "--bootstrap-server", e.broker(next).Addr(), "--create", "--topic", "after", "--partitions", "2", "--replication-factor", "2")
	e.waitTopic("after", 2)
	st, err := readState(conn, "after", 0)
	if err != nil || st.ControllerEpoch != int32(epoch+1) {
		t.Fatalf("after-0 state %+v (%v), want controller epoch %d", st, err, epoch+1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var seeds []string
	for _, b := range e.c.Brokers {
		if b.Running() {
			seeds = append(seeds, b.Addr())
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic("after"), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(strings.Repeat("x", 10))}).FirstErr(); err != nil {
		t.Fatalf("produce after failover: %v", err)
	}
}
