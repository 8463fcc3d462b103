package consumergroup

import (
	"regexp"
	"testing"
)

func TestConsumerID(t *testing.T) {
	if got := NewConsumerID("g", "me"); got != "g_me" {
		t.Fatalf("override: %q", got)
	}
	// Long.toHexString: no zero padding, first 8 hex digits; version nibble 4
	if got := consumerID("mygroup", "host-a", 1575300000000, 0x3f2a9b1c00000000); got != "mygroup_host-a-1575300000000-3f2a9b1c" {
		t.Fatalf("got %q", got)
	}
	if got := consumerID("g", "h", 1, 0x0000000012340000); got != "g_h-1-12344000" {
		t.Fatalf("small msb: %q", got)
	}
	re := regexp.MustCompile(`^g_[^ ]+-\d{13}-[0-9a-f]{8}$`)
	if id := NewConsumerID("g", ""); !re.MatchString(id) {
		t.Fatalf("generated id %q does not look like Kafka's", id)
	}
}
