package main

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestJavaException(t *testing.T) {
	msg := "custom"
	for _, tc := range []struct {
		code int16
		msg  *string
		want string
	}{
		{kerr.PreferredLeaderNotAvailable.Code, &msg, "org.apache.kafka.common.errors.PreferredLeaderNotAvailableException: custom"},
		{kerr.UnknownTopicOrPartition.Code, nil, "org.apache.kafka.common.errors.UnknownTopicOrPartitionException: This server does not host this topic-partition."},
		{kerr.RequestTimedOut.Code, nil, "org.apache.kafka.common.errors.TimeoutException: The request timed out."},
	} {
		if got := javaException(tc.code, tc.msg); got != tc.want {
			t.Errorf("code %d: got %q, want %q", tc.code, got, tc.want)
		}
	}
}
