// Package e2e holds zkafka's end-to-end tests: a private real ZooKeeper, real
// broker processes built from ./cmd/zkafka, and clients that no zkafka code
// wrote (kcat, segmentio/kafka-go, franz-go) plus zkafka's own CLI.
//
// Every test here is named TestIntegration_* and is skipped under -short.
//
// For reading a run's timeline: ZKAFKA_LOG_LEVEL=debug reaches the broker
// processes (millisecond timestamps), ZKAFKA_TEST_KEEP_LOGS=DIR keeps their
// logs in DIR after a passing test, and ZKAFKA_E2E_CLIENT_LOG=FILE writes the
// franz-go client's debug log of the tests that take clientLog.
package e2e
