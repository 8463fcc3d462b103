#!/usr/bin/env bash
# Reproduce a leader failover on a local 3-broker cluster:
#
#   testdata/scenarios/failover.sh
#
# Starts ZooKeeper (127.0.0.1:2181) and brokers 1-3 (127.0.0.1:9092-9094) as
# `make run` does, if they are not running; creates topic failover-demo
# (1 partition, 3 replicas, min.insync.replicas=2); produces with acks=all
# from an idempotent producer; kills the partition leader with kill -9 while
# producing; prints the partition state znode before and after (as
# `zkCli.sh get` shows it), the time from the kill to the first acknowledged
# produce on the new leader, and the counts proving that every acknowledged
# record is read back exactly once; restarts the killed broker and shows it
# back in the ISR. `make stop` stops the cluster afterwards.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
scripts/run.sh >/dev/null
exec go run ./testdata/scenarios/failover
