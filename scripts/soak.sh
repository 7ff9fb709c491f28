#!/usr/bin/env bash
# scripts/soak.sh [-m MINUTES]: `make run` left up for MINUTES (default 30) at the default rate,
# the way a user leaves it (not part of make test). It
#   1. starts `make run` on a terminal (script(1)), fresh, on a data dir and ports of its own;
#   2. samples the pipeline's RSS every 30 s and fits its growth after the first 5 minutes
#      (goal: at most 0.2 MB a minute);
#   3. counts the final windows of the run's first minutes through the REST API, presses
#      Ctrl-C (make must exit 0), starts `make run` again on the same data dir and counts them
#      again: the history must be intact.
# It writes artifacts/soak/ (rss.csv, summary.md, the logs) and exits 1 if a goal is missed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

minutes=30
while getopts m: opt; do
    case $opt in
    m) minutes=$OPTARG ;;
    *) echo "usage: $0 [-m minutes]" >&2; exit 2 ;;
    esac
done
out=artifacts/soak
data=.cache/telemetra-soak
http=127.0.0.1:19880
args="--data-dir $data --broker-addr 127.0.0.1:19882 --grpc-addr 127.0.0.1:19881 --http-addr $http --metrics-addr 127.0.0.1:19883"
rm -rf "$out" && mkdir -p "$out"

# start_run NAME EXTRA: make run on a pseudo-terminal whose input is fifo fd 3 (Ctrl-C goes there)
start_run() {
    local fifo
    fifo=$(mktemp -u /tmp/telemetra-soak.XXXXXX)
    mkfifo "$fifo"
    (
        set +e
        script -qefc "make run ARGS='$args $2'" /dev/null <"$fifo" >"$out/run-$1.log" 2>&1
        echo $? >"$out/exit-$1"
    ) &
    exec 3>"$fifo"
    rm -f "$fifo"
    for _ in $(seq 600); do
        curl -fsS "http://$http/v1/channels" >/dev/null 2>&1 && return 0
        sleep 1
    done
    echo "soak: make run ($1) did not serve http://$http within 10 minutes; see $out/run-$1.log" >&2
    exit 1
}

# stop_run NAME: Ctrl-C, then wait for make to exit; prints its status
stop_run() {
    printf '\003' >&3
    for _ in $(seq 120); do
        [[ -s $out/exit-$1 ]] && break
        sleep 1
    done
    exec 3>&-
    cat "$out/exit-$1" 2>/dev/null || echo "none"
}

pipeline_pid() { pgrep -f "bin/telemetra dev .*--data-dir $data" | head -1; }

# windows FROM TO: final windows of all channels in [FROM, TO) through the REST API
windows() {
    local n=0 ch
    for ch in $(curl -fsS "http://$http/v1/channels?page_size=100" | grep -o '"channelId":"[a-z0-9_]*"' | sed 's/.*:"//; s/"//'); do
        n=$((n + $(curl -fsS "http://$http/v1/channels/$ch/metrics?start_time=$1&end_time=$2&page_size=1440" | grep -o '"windowStart"' | wc -l)))
    done
    echo "$n"
}

echo "== soak: make run for $minutes minutes (logs: $out)"
go build -o bin/telemetra ./cmd/telemetra
start_run first --fresh
began=$(date -u +%Y-%m-%dT%H:%M:%SZ)
pid=$(pipeline_pid)
echo "minute,rss_kb" >"$out/rss.csv"
for k in $(seq 0 $((minutes * 2))); do
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    echo "$(awk "BEGIN {print $k / 2}"),$rss" >>"$out/rss.csv"
    ((k % 10 == 0)) && echo "soak: minute $((k / 2)): RSS $((rss / 1024)) MB"
    ((k < minutes * 2)) && sleep 30
done
# the history to find again: the final windows of the run's first 10 minutes
cut=$(date -u -d "$began + 10 minutes" +%Y-%m-%dT%H:%M:%SZ)
before=$(windows "$began" "$cut")
first_exit=$(stop_run first)

start_run second ""
after=$(windows "$began" "$cut")
second_exit=$(stop_run second)

slope=$(awk -F, 'NR > 1 && $1 >= 5 { n++; x += $1; y += $2 / 1024; xx += $1 * $1; xy += $1 * $2 / 1024 }
    END { if (n < 2) print "nan"; else printf "%.3f", (n * xy - x * y) / (n * xx - x * x) }' "$out/rss.csv")
first_rss=$(awk -F, 'NR == 2 { printf "%d", $2 / 1024 }' "$out/rss.csv")
last_rss=$(awk -F, 'END { printf "%d", $2 / 1024 }' "$out/rss.csv")
ok=1
awk "BEGIN { exit !($slope <= 0.2) }" || ok=0
[[ $before -gt 0 && $after -eq $before ]] || ok=0
[[ $first_exit == 0 && $second_exit == 0 ]] || ok=0
cat >"$out/summary.md" <<SUMMARY
| what | measured | goal |
| --- | --- | --- |
| RSS growth after minute 5 (least squares over $minutes min, every 30 s) | $slope MB/min ($first_rss MB at start, $last_rss MB at the end) | ≤ 0.2 MB/min |
| final windows of the first 10 minutes, before and after a restart | $before, then $after | equal, and some |
| \`make run\` exit status after Ctrl-C (first run, second run) | $first_exit, $second_exit | 0, 0 |
SUMMARY
cat "$out/summary.md"
((ok)) || { echo "soak: a goal was missed" >&2; exit 1; }
