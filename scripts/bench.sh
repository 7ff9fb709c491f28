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
#      a raw franz-go consumer; with Java, the cluster phase: three processors on a three-broker
#      cluster at 12 partitions and 100k channels (events/s, state per channel, recovery per
#      instance).
#
# The pipeline runs on a real Apache Kafka broker of its own when Java is installed (as in CI),
# else on the embedded broker; with Java the cluster phase gets a fresh three-node cluster of
# its own too (scripts/kafka-cluster.sh, base port $BENCH_KAFKA_CLUSTER_PORT, default 19792, and
# a temporary data dir), stopped on exit. Extra arguments go to `telemetra bench` (e.g.
# --events 200000, --phases cluster, --cluster-events 500000).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=${BENCH_DIR:-artifacts/bench}
mkdir -p "$out"
scripts/tools.sh >/dev/null # grpcurl, ghz into bin/
export PATH=$PWD/bin:$PATH
command -v wrk >/dev/null || echo "bench: wrk not installed (apt-get install wrk): BenchmarkGatewayQueries fails, so its gRPC and REST query figures are both missing" >&2

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
    # The cluster's nodes get their ports and data dirs from these (kafka-cluster.sh sets each
    # node's KAFKA_PORT and KAFKA_DATA itself), so the single broker's do not reach them.
    export KAFKA_CLUSTER_PORT=${BENCH_KAFKA_CLUSTER_PORT:-19792}
    KAFKA_CLUSTER_DATA=$(mktemp -d /tmp/telemetra-bench-cluster.XXXXXX)
    export KAFKA_CLUSTER_DATA
    # One EXIT trap for both, whichever of them started.
    cleanup() {
        scripts/kafka-cluster.sh stop || true
        scripts/kafka.sh stop || true
        rm -rf "$KAFKA_DATA" "$KAFKA_CLUSTER_DATA"
    }
    trap cleanup EXIT
    brokers=(--brokers "$(scripts/kafka.sh start)")
    if command -v kcat >/dev/null; then
        brokers+=(--cluster-brokers "$(scripts/kafka-cluster.sh start)")
    else
        echo "bench: kcat not installed (apt-get install kcat): scripts/kafka-cluster.sh needs it, the cluster phase is skipped" >&2
    fi
fi
bin/telemetra bench --dir "$out" --go-bench-results "$out/go-bench.txt" "${brokers[@]}" "$@"
