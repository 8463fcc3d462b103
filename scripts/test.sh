#!/usr/bin/env bash
# make test: dependencies, go vet, then all tests with the race detector.
# Integration tests start their own ZooKeeper and broker processes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/ensure-deps.sh" --test
go vet ./...
# Scenario programs live under testdata/ (which ./... skips): keep them building.
go vet ./testdata/scenarios/...
go test -race -timeout 15m ./...
