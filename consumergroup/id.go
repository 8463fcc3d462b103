package consumergroup

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"time"
)

// NewConsumerID builds Kafka's consumer id: "<group>_<consumer.id>" when
// one is configured, else "<group>_<hostname>-<epoch ms>-<8 hex>" where the
// hex digits are the first eight of Java's Long.toHexString of a random
// (version 4) UUID's most significant 64 bits.
func NewConsumerID(group, override string) string {
	if override != "" {
		return group + "_" + override
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return consumerID(group, host, time.Now().UnixMilli(), binary.BigEndian.Uint64(b[:]))
}

// consumerID formats the generated id from its parts; msb is the raw
// random 64 bits, to which the UUID version nibble (4) is applied.
func consumerID(group, host string, ms int64, msb uint64) string {
	msb = msb&^0xf000 | 0x4000
	hex := fmt.Sprintf("%x", msb) // Long.toHexString: no zero padding
	if len(hex) > 8 {
		hex = hex[:8]
	}
	return fmt.Sprintf("%s_%s-%d-%s", group, host, ms, hex)
}
