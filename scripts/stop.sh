#!/usr/bin/env bash
# make stop: SIGTERM the brokers make run started (SIGKILL after a timeout),
# then the ZooKeeper it started. A ZooKeeper it did not start is left alone.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# stop_pid NAME FILE TIMEOUT_S
stop_pid() {
	local name=$1 file=$2 timeout=$3 pid
	[ -f "$file" ] || return 0
	pid=$(cat "$file")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 $((timeout * 10))); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "$name (pid $pid) did not stop within ${timeout}s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		echo "stopped $name (pid $pid)"
	fi
	rm -f "$file"
}

for n in "${BROKERS[@]}"; do
	stop_pid "broker $n" "$DATA/broker-$n.pid" 30 &
done
wait
stop_pid ZooKeeper "$DATA/zookeeper.pid" 10
