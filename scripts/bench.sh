#!/usr/bin/env bash
# make bench: Telemetra's whole benchmark suite in one command, with a fixed seed and no manual
# steps. It prints one summary table and leaves everything in $BENCH_DIR (artifacts/bench):
# summary.md, results.json, charts (SVG), the Go benchmarks' output and every role's log.
#
#   1. Go benchmarks: processor throughput against a trivial goka processor, recovery and
#      throughput by channel count (100/10k/100k and 10/1k/100k channels), replay of projections
#      and state, projector, queries (ghz, wrk), subscription fan-out, producer, decoding.
#   2. `telemetra bench`: the pipeline with every role as its own process: throughput per stage,
#      CPU and peak memory per role, freshness at 1k and 10k events/s, each stage alone against
#      a raw franz-go consumer.
#
# The pipeline runs on a real Apache Kafka broker of its own when Java is installed (as in CI),
# else on the embedded broker. Extra arguments go to `telemetra bench` (e.g. --events 200000).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=${BENCH_DIR:-artifacts/bench}
mkdir -p "$out"
scripts/tools.sh >/dev/null # grpcurl, ghz into bin/
export PATH=$PWD/bin:$PATH
command -v wrk >/dev/null || echo "bench: wrk not installed (apt-get install wrk): the REST query figures are skipped" >&2

echo "== 1/2 Go benchmarks (output: $out/go-bench.txt)"
{
    go test -run '^$' -bench 'BenchmarkThroughput$|BenchmarkRecovery|BenchmarkThroughputByChannels' -benchtime 1x -timeout 60m ./processors/aggregator/
    go test -run '^$' -bench . -benchtime 500000x ./producer/
    go test -run '^$' -bench . ./schemas/ ./processors/sentiment/ ./gateway/hub/
    go test -run '^$' -bench BenchmarkProjector -benchtime 1x ./views/projector/
    go test -run '^$' -bench BenchmarkReplay -benchtime 1x -timeout 30m ./views/replay/
    go test -run '^$' -bench 'BenchmarkSubscriptionFanout|BenchmarkGatewayQueries' -benchtime 1x -timeout 30m ./gateway/
} 2>&1 | tee "$out/go-bench.txt"

echo "== 2/2 telemetra bench (logs: $out/logs)"
go build -o bin/telemetra ./cmd/telemetra
brokers=()
if command -v java >/dev/null || [[ -n ${JAVA_HOME:-} ]]; then
    export KAFKA_PORT=${BENCH_KAFKA_PORT:-19492}
    export KAFKA_CONTROLLER_PORT=$((KAFKA_PORT + 1))
    KAFKA_DATA=$(mktemp -d /tmp/telemetra-bench-kafka.XXXXXX)
    export KAFKA_DATA
    trap 'scripts/kafka.sh stop || true; rm -rf "$KAFKA_DATA"' EXIT
    brokers=(--brokers "$(scripts/kafka.sh start)")
fi
bin/telemetra bench --dir "$out" --go-bench-results "$out/go-bench.txt" "${brokers[@]}" "$@"
