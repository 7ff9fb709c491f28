#!/usr/bin/env bash
# Stress run of the processor's integration and fault tests under CPU starvation.
#
# The embedded-broker integration tests and the kill/crash tests of the processor
# (processors/aggregator), the projector (views/projector) and the replay (views/replay) depend
# on timing: markers wait for the producer delay, kills land mid-stream, rebalances race with
# the stream. A machine that is busy elsewhere (CI, a shared box) stretches all of that, so this
# script runs them N times, each time with GOMAXPROCS=1 and a competing CPU hog on every core,
# to shake out the flakes a quiet machine hides. It is not part of `make test`.
#
# Usage: scripts/stress.sh [-n N]
#   -n N   runs (default 20)
#
# The test binaries are built once up front (go test -c). Each run starts the hog (stress-ng
# --cpu <cores>, or a bash busy loop per core when stress-ng is missing: apt-get install -y
# stress-ng), runs the tests below package by package, and stops the hog (also on exit or ^C).
# Logs of every run are kept in a temp dir, printed first; the end prints each failed run's
# failing tests and log, and "P/N passed". Exit status 0 only if every run passed.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

runs=20
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while getopts ':n:h' opt; do
	case $opt in
	n) runs=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "stress.sh: -n $runs: want a positive number of runs" >&2; exit 2; }

# package → the tests of it that run (anchored -test.run patterns): the integration tests on
# the embedded broker and the kill/crash/fault tests; no unit tests, no benchmarks
packages=(processors/aggregator views/projector views/replay)
declare -A tests=(
	[processors/aggregator]='^(TestPipelineAddsUpExactly|TestTwoInstancesSharePartitions|TestKilledProcessorRestartsWithoutLossOrDoubleCounting|TestMisPartitionedInputIsDeadLettered|TestABurstAfterAQuietSpellIsNotLate|TestAFailedStateWriteLetsNoCoveredOffsetBeCommitted)$'
	[views/projector]='^(TestCrashBetweenWriteAndCommit|TestPostgresRestartMidStream)$'
	[views/replay]='^(TestARebuildReproducesTheLiveWindowsAndLateSet|TestReplayRebuildsAnIdenticalProjectionAndSwapsItIn|TestReplayRebuildsTheStateIntoANewGeneration)$'
)
# one package's tests must not hang a run for ever: a timeout makes the binary dump goroutines
per_package_timeout=${STRESS_PACKAGE_TIMEOUT:-6m}
cores=$(nproc 2>/dev/null || echo 2)

dir=$(mktemp -d "${TMPDIR:-/tmp}/telemetra-stress.XXXXXX")
echo "stress.sh: $runs runs under a CPU hog on $cores cores, GOMAXPROCS=1; logs in $dir"

hog_pids=()
stop_hog() {
	local pid
	for pid in "${hog_pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${hog_pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	hog_pids=()
}
trap stop_hog EXIT
trap 'stop_hog; exit 130' INT
trap 'stop_hog; exit 143' TERM

start_hog() {
	if command -v stress-ng >/dev/null; then
		# the timeout is only a backstop: stop_hog ends it after the run
		stress-ng --cpu "$cores" --timeout 30m --quiet >>"$dir/hog.log" 2>&1 &
		hog_pids+=($!)
	else
		local k
		for ((k = 0; k < cores; k++)); do
			(while :; do :; done) &
			hog_pids+=($!)
		done
	fi
}
command -v stress-ng >/dev/null ||
	echo "stress.sh: stress-ng not found (apt-get install -y stress-ng): busy loops in bash instead"

echo "stress.sh: building the test binaries"
mkdir -p "$dir/bin"
for pkg in "${packages[@]}"; do
	go test -c -o "$dir/bin/${pkg//\//_}.test" "./$pkg"
done
# the kill test builds the telemetra binary itself: warm the build cache for it
go build -o /dev/null ./cmd/telemetra

passed=0
failures=()
for ((run = 1; run <= runs; run++)); do
	start_hog
	ok=1
	failed_tests=()
	failed_logs=()
	began=$SECONDS
	for pkg in "${packages[@]}"; do
		log=$dir/run$(printf '%03d' "$run")-${pkg//\//_}.log
		# a test binary runs in its package's directory, as go test runs it
		if (cd "$REPO/$pkg" && GOMAXPROCS=1 "$dir/bin/${pkg//\//_}.test" -test.count=1 -test.v \
			-test.timeout "$per_package_timeout" -test.run "${tests[$pkg]}" >"$log" 2>&1); then
			continue
		fi
		ok=0
		failed_logs+=("$log")
		names=$(sed -n 's/^[[:space:]]*--- FAIL: \([^ ]*\).*/\1/p' "$log" | sort -u | tr '\n' ' ')
		if [[ -z $names ]]; then # a panic or the timeout: the tests that were running
			names=$(sed -n '/^[[:space:]]*running tests:/,/^[[:space:]]*$/s/^[[:space:]]\{1,\}\(Test[^ ]*\).*/\1/p' "$log" | sort -u | tr '\n' ' ')
		fi
		names=${names% }
		failed_tests+=("$pkg: ${names:-(no test named; log ends: $(tail -n 1 "$log"))}")
	done
	stop_hog
	took=$((SECONDS - began))
	if ((ok)); then
		passed=$((passed + 1))
		echo "run $run/$runs: PASS (${took}s)"
	else
		line="run $run/$runs: FAIL (${took}s): $(printf '%s; ' "${failed_tests[@]}")logs: ${failed_logs[*]}"
		failures+=("$line")
		echo "$line"
	fi
done

echo
if ((${#failures[@]} > 0)); then
	echo "failed runs:"
	printf '  %s\n' "${failures[@]}"
fi
echo "$passed/$runs passed (logs in $dir)"
((passed == runs))
