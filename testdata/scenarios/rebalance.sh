#!/usr/bin/env bash
# rebalance.sh — watch a classic ZooKeeper consumer group rebalance.
#
# What it does, printing the owners as zkCli shows them and the time the group
# took to settle after each step:
#   1. uses the local cluster of `make run` (ZooKeeper 127.0.0.1:2181, brokers
#      127.0.0.1:9092-9094), starting it with scripts/run.sh if no broker answers;
#   2. creates a 6-partition topic (replication factor 2);
#   3. starts 3 classic consumers, `zkafka console-consumer --zookeeper ... --group`,
#      with consumer ids c1, c2, c3 (member ids <group>_c1 ...), and produces 60 messages;
#   4. kill -9 c1: its owner znodes stay until its ZooKeeper session times out
#      (zookeeper.session.timeout.ms = 6000), then c2 and c3 take its partitions;
#   5. closes c2 cleanly (SIGTERM: commit, release owners, deregister);
#   6. adds 3 partitions (9 in all) — `zkafka topics --alter` does not exist yet,
#      so testdata/scenarios/rebalancetool writes the new assignment to
#      /brokers/topics/<t> the way Kafka 2.4's AdminZkClient.addPartitions does —
#      and c3 picks them up through its watch on the topic.
#
# Usage:   testdata/scenarios/rebalance.sh            (from the repository root)
# Env:     ZK=HOST:PORT[/chroot]  BOOTSTRAP=HOST:PORT[,...]  to use another cluster
#          (then nothing is started); ZKAFKA=path to the zkafka binary (default:
#          bin/zkafka, built if missing); ZKCLI (default
#          /usr/share/zookeeper/bin/zkCli.sh); TOPIC, GROUP (default: unique names).
# Output:  consumers' output and logs are kept in $WORK (printed at the start).
# Stops the consumers it started; leaves the cluster running (make stop stops it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then export PATH="$PATH:/usr/local/go/bin"; fi

ZK="${ZK:-127.0.0.1:2181}"
BOOTSTRAP="${BOOTSTRAP:-}"
ZKCLI="${ZKCLI:-/usr/share/zookeeper/bin/zkCli.sh}"
ZKAFKA="${ZKAFKA:-$ROOT/bin/zkafka}"
SUFFIX="$(date +%s)-$$"
TOPIC="${TOPIC:-rebalance-$SUFFIX}"
GROUP="${GROUP:-rebalance-$SUFFIX}"
WORK="$(mktemp -d /tmp/zkafka-rebalance.XXXXXX)"
TOOL="$WORK/rebalancetool"

if [ -z "$BOOTSTRAP" ]; then
	BOOTSTRAP=127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094
	[ -x "$ZKAFKA" ] || go build -o "$ZKAFKA" ./cmd/zkafka
	if ! "$ZKAFKA" topics --bootstrap-server 127.0.0.1:9092 --list >/dev/null 2>&1; then
		echo "== no broker on 127.0.0.1:9092: starting the local cluster (scripts/run.sh)"
		scripts/run.sh
	fi
fi
[ -x "$ZKAFKA" ] || go build -o "$ZKAFKA" ./cmd/zkafka
go build -o "$TOOL" ./testdata/scenarios/rebalancetool
ZK_SERVER="${ZK%%/*}"
CHROOT=""
[[ "$ZK" == */* ]] && CHROOT="/${ZK#*/}"
OWNERS="$CHROOT/consumers/$GROUP/owners/$TOPIC"
echo "== work dir $WORK; topic $TOPIC; group $GROUP; ZooKeeper $ZK"

declare -A PID
cleanup() {
	for c in "${!PID[@]}"; do kill -TERM "${PID[$c]}" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

now_ms() { date +%s%3N; }

# show_owners: the owner znodes, as zkCli shows them (one zkCli session).
show_owners() {
	local n cmds
	n=$(partitions)
	cmds="ls $OWNERS"$'\n'
	for ((p = 0; p < n; p++)); do cmds+="get $OWNERS/$p"$'\n'; done
	echo "-- zkCli.sh -server $ZK_SERVER: ls $OWNERS; get $OWNERS/<p>"
	printf '%squit\n' "$cmds" | "$ZKCLI" -server "$ZK_SERVER" 2>/dev/null |
		grep -v -e '^WATCHER' -e '^WatchedEvent' -e '^Connecting' -e '^Welcome' -e '^JLine' -e '^$' -e 'quit' -e '^\[zk: .*\] *$' |
		sed -e 's/^\[zk: [^]]*\] *//' -e 's/^/   /' || true
}

partitions() {
	"$ZKAFKA" topics --zookeeper "$ZK" --describe --topic "$TOPIC" 2>/dev/null | sed -n 's/.*PartitionCount: *\([0-9]*\).*/\1/p' | head -1
}

settle() { # settle SINCE_MS MEMBER...
	local since=$1
	shift
	local ids=()
	for m in "$@"; do ids+=("${GROUP}_$m"); done
	"$TOOL" wait-settled --zookeeper "$ZK" --group "$GROUP" --topic "$TOPIC" --members "$(IFS=,; echo "${ids[*]}")" --since "$since"
}

start_consumer() {
	local c=$1
	"$ZKAFKA" console-consumer --zookeeper "$ZK" --group "$GROUP" --topic "$TOPIC" --from-beginning \
		--consumer-property consumer.id="$c" --property print.partition=true \
		>"$WORK/$c.out" 2>"$WORK/$c.err" &
	PID[$c]=$!
}

echo
echo "== 1. create topic $TOPIC with 6 partitions"
"$ZKAFKA" topics --bootstrap-server "$BOOTSTRAP" --create --topic "$TOPIC" --partitions 6 --replication-factor 2

echo
echo "== 2. start 3 classic consumers (c1, c2, c3) in group $GROUP"
t0=$(now_ms)
for c in c1 c2 c3; do start_consumer $c; done
settle "$t0" c1 c2 c3
seq 1 60 | sed 's/^/message-/' | "$ZKAFKA" console-producer --bootstrap-server "$BOOTSTRAP" --topic "$TOPIC" >/dev/null
show_owners

echo
echo "== 3. kill -9 c1 (pid ${PID[c1]}): its owners vanish when its session times out"
t0=$(now_ms)
exec 3>&2 2>/dev/null # bash reports the killed job on stderr
kill -9 "${PID[c1]}"
wait "${PID[c1]}" || true
exec 2>&3 3>&-
unset 'PID[c1]'
settle "$t0" c2 c3
show_owners

echo
echo "== 4. close c2 cleanly (SIGTERM, pid ${PID[c2]})"
t0=$(now_ms)
kill -TERM "${PID[c2]}"
wait "${PID[c2]}" 2>/dev/null || true
unset 'PID[c2]'
settle "$t0" c3
show_owners

echo
echo "== 5. add partitions: 6 -> 9 (AdminZkClient.addPartitions through zkcoord)"
t0=$(now_ms)
"$TOOL" add-partitions --zookeeper "$ZK" --topic "$TOPIC" --partitions 9
settle "$t0" c3
show_owners

echo
echo "== committed offsets (zkCli: get $CHROOT/consumers/$GROUP/offsets/$TOPIC/<p>)"
for ((p = 0; p < 9; p++)); do printf 'get %s\n' "$CHROOT/consumers/$GROUP/offsets/$TOPIC/$p"; done |
	{ cat; echo quit; } | "$ZKCLI" -server "$ZK_SERVER" 2>/dev/null | grep -E '^[0-9]+$' | tr '\n' ' ' | sed 's/^/   /' || true
echo
echo "   (partitions without an offset have never been consumed from: no znode)"
echo "== messages printed per consumer: c1 $(wc -l <"$WORK/c1.out"), c2 $(wc -l <"$WORK/c2.out"), c3 $(wc -l <"$WORK/c3.out") (60 produced; a message printed by c1 after its last commit is printed again by its successor)"
echo "== done; consumers' output in $WORK"
