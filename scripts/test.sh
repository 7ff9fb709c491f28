#!/usr/bin/env bash
# The whole test suite: `make test` runs it, and CI (.ci/run) runs `make test`.
# Needs: Go, kcat, Java 17+ and Maven (for the real Kafka broker), PostgreSQL server binaries
# (tests start private throwaway clusters; or set DATABASE_URL). .ci/run installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/bin:$PATH"

step() { printf '\n=== %s\n' "$*"; }
need() { command -v "$1" >/dev/null || { echo "test.sh: $1 is not installed ($2)" >&2; exit 1; }; }
need kcat "apt-get install kcat"
need curl "apt-get install curl"
need npm "apt-get install npm"
[[ -x /usr/bin/chromium ]] || { echo "test.sh: /usr/bin/chromium is not installed (apt-get install chromium)" >&2; exit 1; }
scripts/tools.sh # buf and the protoc plugins, grpcurl, golangci-lint: pinned, into bin/ (quick when present)
need java "apt-get install openjdk-17-jre-headless"
need mvn "apt-get install maven"
if [[ -z ${DATABASE_URL:-} ]] && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
	echo "test.sh: PostgreSQL server binaries are not installed (apt-get install postgresql), and DATABASE_URL is not set" >&2
	exit 1
fi

step "generated code is up to date; buf lint and format"
scripts/check-generated.sh

step "dashboard: npm packages, and the committed build (gateway/dashboard/dist) is up to date"
(cd web && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)
if ! git diff --quiet -- gateway/dashboard/dist || [[ -n $(git ls-files --others --exclude-standard gateway/dashboard/dist) ]]; then
	echo "test.sh: gateway/dashboard/dist is stale: run 'make dashboard' and commit it" >&2
	git --no-pager diff --stat -- gateway/dashboard/dist >&2
	exit 1
fi
export TELEMETRA_BROWSER_TEST=1 # cmd/telemetra's TestDashboardInChromium; screenshot in artifacts/
# cmd/telemetra's TestSchemathesis: schemathesis (installed by scripts/tools.sh) against a live gateway
export TELEMETRA_SCHEMATHESIS="$PWD/bin/schemathesis"
[[ -x $TELEMETRA_SCHEMATHESIS ]] || { echo "test.sh: $TELEMETRA_SCHEMATHESIS is missing (scripts/tools.sh installs it)" >&2; exit 1; }

step "lint: gofmt, go vet, golangci-lint (import rules, errcheck, staticcheck, ...)"
make -s lint

step "unit tests and embedded-broker tests (race detector on)"
go test -race -count=1 ./...

step "the processor's readiness test, without the race detector (goka's VisitAll counter race)"
go test -count=1 -run '^TestInstancesStartedTogetherAllBecomeReady$' ./processors/aggregator/

step "real Apache Kafka: broker smoke test with kcat"
scripts/kafka_test.sh

step "real Apache Kafka: end-to-end suite"
# A broker of its own, on ports of its own, so a developer's `make kafka` is left alone.
export KAFKA_PORT=${E2E_KAFKA_PORT:-19292}
export KAFKA_CONTROLLER_PORT=$((KAFKA_PORT + 1))
KAFKA_DATA=$(mktemp -d /tmp/telemetra-e2e-kafka.XXXXXX)
export KAFKA_DATA
cleanup() { scripts/kafka.sh stop || true; rm -rf "$KAFKA_DATA"; }
trap cleanup EXIT
addr=$(scripts/kafka.sh start)
TELEMETRA_E2E_KAFKA=$addr go test -count=1 -v ./e2e/
cleanup
trap - EXIT

step "real Apache Kafka: three-broker cluster smoke test with kcat"
scripts/kafka_cluster_test.sh

step "real Apache Kafka: the pipeline on a three-broker cluster, a broker, a processor and a projector lost"
# Its own cluster, ports and data dir; the test kills and restarts a node through the script.
export KAFKA_CLUSTER_PORT=${E2E_CLUSTER_PORT:-19692}
KAFKA_CLUSTER_DATA=$(mktemp -d /tmp/telemetra-e2e-cluster.XXXXXX)
export KAFKA_CLUSTER_DATA
cleanup_cluster() { scripts/kafka-cluster.sh stop || true; rm -rf "$KAFKA_CLUSTER_DATA"; }
trap cleanup_cluster EXIT
cluster=$(scripts/kafka-cluster.sh start)
TELEMETRA_E2E_CLUSTER=$cluster go test -count=1 -v -run '^TestCluster' ./e2e/
