package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"unicode"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/zkafka/zkafka/broker/wire"
)

// controllerConn finds the cluster's controller through the bootstrap
// brokers (Metadata) and connects to it, as Kafka's AdminClient does for
// controller-only requests (ElectLeaders, CreatePartitions).
func controllerConn(ctx context.Context, bootstrap, clientID string) (*wire.Conn, *kmsg.MetadataResponse, error) {
	var lastErr error
	for _, addr := range splitList(bootstrap) {
		conn, err := wire.Dial(ctx, addr, clientID)
		if err != nil {
			lastErr = err
			continue
		}
		req := kmsg.NewPtrMetadataRequest()
		req.SetVersion(7) // all topics, controller id
		resp, err := conn.Request(ctx, req)
		conn.Close()
		if err != nil {
			lastErr = err
			continue
		}
		m := resp.(*kmsg.MetadataResponse)
		for _, b := range m.Brokers {
			if b.NodeID == m.ControllerID {
				c, err := wire.Dial(ctx, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))), clientID)
				if err != nil {
					return nil, nil, brokerReachError(err, bootstrap)
				}
				return c, m, nil
			}
		}
		return nil, nil, fmt.Errorf("the cluster at %s has no controller right now; try again", bootstrap)
	}
	if lastErr == nil {
		lastErr = errors.New("no broker address given")
	}
	return nil, nil, brokerReachError(lastErr, bootstrap)
}

// javaException names an error code the way Kafka's tools print it, e.g.
// org.apache.kafka.common.errors.PreferredLeaderNotAvailableException.
func javaException(code int16, msg *string) string {
	name := kerr.ErrorForCode(code).Error() // e.g. PREFERRED_LEADER_NOT_AVAILABLE: ...
	if i := strings.IndexByte(name, ':'); i >= 0 {
		name = name[:i]
	}
	var b strings.Builder
	for _, w := range strings.Split(strings.ToLower(name), "_") {
		if w == "" {
			continue
		}
		r := []rune(w)
		r[0] = unicode.ToUpper(r[0])
		b.WriteString(string(r))
	}
	cls := strings.TrimSuffix(b.String(), "Exception") + "Exception"
	if code == kerr.RequestTimedOut.Code { // Kafka's Errors maps it to this class
		cls = "TimeoutException"
	}
	out := "org.apache.kafka.common.errors." + cls
	if msg != nil && *msg != "" {
		out += ": " + *msg
	} else if e, ok := kerr.ErrorForCode(code).(*kerr.Error); ok {
		out += ": " + e.Description
	}
	return out
}
