// Package e2e holds zkafka's end-to-end tests: a private real ZooKeeper, real
// broker processes built from ./cmd/zkafka, and clients that no zkafka code
// wrote (kcat, segmentio/kafka-go, franz-go) plus zkafka's own CLI.
//
// Every test here is named TestIntegration_* and is skipped under -short.
package e2e
