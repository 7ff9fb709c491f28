#!/usr/bin/env bash
# Times the processor's start-up on a fresh broker: a new real Kafka broker (scripts/kafka.sh),
# 20,000 events written by the producer, then `telemetra process` from its launch until its
# telemetra_processor_events_total counts a first event (polled every 20 ms). Issue #17's
# start-up goal; figures in docs/performance.md ("Processor start-up"). Not part of make test.
#
# Usage: scripts/startup-time.sh [-n N]   (N runs, default 3; each on its own fresh broker)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3
[[ ${1:-} == -n ]] && runs=$2
export KAFKA_PORT=${STARTUP_KAFKA_PORT:-19592} KAFKA_CONTROLLER_PORT=$((${STARTUP_KAFKA_PORT:-19592} + 1))
metrics=127.0.0.1:$((KAFKA_PORT + 7))
bin=$(mktemp -d)/telemetra
go build -o "$bin" ./cmd/telemetra
for run in $(seq "$runs"); do
	KAFKA_DATA=$(mktemp -d /tmp/telemetra-startup.XXXXXX)
	export KAFKA_DATA
	brokers=$(scripts/kafka.sh start 2>/dev/null)
	"$bin" produce --brokers "$brokers" --unthrottled --count 20000 --log-level warn
	launched=$(date +%s%N)
	"$bin" process --brokers "$brokers" --metrics-addr "$metrics" --log-level warn >"$KAFKA_DATA/process.log" 2>&1 &
	pid=$!
	until curl -s "http://$metrics/metrics" | awk '/^telemetra_processor_events_total/ {n += $2} END {exit !(n > 0)}'; do
		kill -0 "$pid" 2>/dev/null || { echo "startup-time: the processor exited (log: $KAFKA_DATA/process.log)" >&2; exit 1; }
		sleep 0.02
	done
	first=$(date +%s%N)
	echo "run $run/$runs: launch to first event $(( (first - launched) / 1000000 )) ms"
	kill "$pid"
	wait "$pid" || true
	scripts/kafka.sh stop >/dev/null 2>&1
	rm -rf "$KAFKA_DATA"
done
