#!/usr/bin/env bash
# Smoke test for scripts/kafka-cluster.sh: start a throw-away 3-node cluster on its
# own ports and data dir, create a topic with replication factor 3 and
# min.insync.replicas 2, produce keyed messages with acks=all, SIGKILL node 2 in
# the middle of a produce, produce more with 2 of 3 replicas in sync, restart
# node 2, wait until every partition's ISR is back to all 3 replicas, read every
# message back with kcat, then stop the cluster and delete its data.
#
# Needs: Java 17+, Maven (first fetch only), kcat (Debian package: kcat).
# Ports: KAFKA_CLUSTER_TEST_PORT (default 19592) up to 6 above it (3 nodes, broker
# and controller port each), clear of the dev broker (19092), scripts/kafka_test.sh
# (19192), scripts/test.sh (19292), the dev cluster (19392) and scripts/bench.sh (19492).
# Prints "1 passed, 0 failed" on success, "0 passed, 1 failed" and exits 1 otherwise.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KAFKA_SH=$SCRIPT_DIR/kafka.sh
CLUSTER_SH=$SCRIPT_DIR/kafka-cluster.sh

export KAFKA_CLUSTER_NODES=3
export KAFKA_CLUSTER_PORT=${KAFKA_CLUSTER_TEST_PORT:-19592}
KAFKA_CLUSTER_DATA=$(mktemp -d "${TMPDIR:-/tmp}/kafka-cluster-smoke.XXXXXX")
export KAFKA_CLUSTER_DATA
P=$KAFKA_CLUSTER_PORT
WANT_BOOTSTRAP=127.0.0.1:$P,127.0.0.1:$((P + 2)),127.0.0.1:$((P + 4))
TOPIC=smoke
PARTITIONS=3

passed=0
start_time=$SECONDS
# Always stop the cluster and clean up, whatever failed, then print the verdict.
finish() {
    local rc=$?
    "$CLUSTER_SH" stop || rc=1
    rm -rf "$KAFKA_CLUSTER_DATA"
    echo "kafka_cluster_test: took $((SECONDS - start_time))s" >&2
    if [[ $rc -eq 0 && $passed -eq 1 ]]; then
        echo "1 passed, 0 failed"
    else
        echo "kafka_cluster_test: FAILED (exit $rc)" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
}
trap finish EXIT

log() { echo "kafka_cluster_test: $*" >&2; }
fail() { log "$*"; exit 1; }

command -v kcat >/dev/null || fail "kcat not found (apt-get install -y kcat)"

topics() { "$KAFKA_SH" run-class org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" "$@"; }

# produce FIRST LAST [KILL_AT]: messages kFIRST:vFIRST .. kLAST:vLAST, paced, with
# acks=all and idempotence (no loss, no duplicates); with KILL_AT, node 2 gets
# SIGKILL after message KILL_AT went to kcat, so the rest are produced across the
# failure. kcat exits non-zero if any message was not delivered.
produce() {
    local i
    for ((i = $1; i <= $2; i++)); do
        echo "k$i:v$i"
        ((i % 10)) || sleep 0.05
        if ((i == ${3:-0})); then "$CLUSTER_SH" kill 2 >&2; fi
    done | kcat -b "$BOOTSTRAP" -t "$TOPIC" -P -K: -X acks=all -X enable.idempotence=true \
        -X message.timeout.ms=120000
}

# The ISR of every partition, one line per partition ("1,2,3"), from TopicCommand.
isrs() { topics --describe --topic "$TOPIC" | sed -n 's/.*[[:space:]]Isr: \([0-9,]*\).*/\1/p'; }
# True when every partition's ISR holds all 3 brokers.
full_isr() {
    local got line n=0
    got=$(isrs) || return 1
    while read -r line; do
        [[ $(tr ',' '\n' <<<"$line" | sort -n | tr '\n' ' ') == "1 2 3 " ]] || return 1
        n=$((n + 1))
    done <<<"$got"
    ((n == PARTITIONS))
}

log "starting a 3-node cluster on $WANT_BOOTSTRAP (data $KAFKA_CLUSTER_DATA)"
t=$SECONDS
BOOTSTRAP=$("$CLUSTER_SH" start)
[[ $BOOTSTRAP == "$WANT_BOOTSTRAP" ]] || fail "start printed '$BOOTSTRAP', want '$WANT_BOOTSTRAP'"
log "cluster up in $((SECONDS - t))s"
"$CLUSTER_SH" status >&2 || fail "status after start: exit $?"

topics --create --topic "$TOPIC" --partitions "$PARTITIONS" --replication-factor 3 \
    --config min.insync.replicas=2
desc=$(topics --describe --topic "$TOPIC")
grep -q "ReplicationFactor: 3" <<<"$desc" || fail "topic not created with RF 3: $desc"
grep -q "min.insync.replicas=2" <<<"$desc" || fail "topic lacks min.insync.replicas=2: $desc"

produce 1 200 || fail "produce 1..200 with all 3 nodes up failed"
log "produced 1..200; now 201..400, killing node 2 during it"

t=$SECONDS
produce 201 400 300 || fail "produce 201..400 (node 2 killed after 300) failed"
log "201..400 delivered in $((SECONDS - t))s, node 2 killed after 300"
if "$CLUSTER_SH" status >/dev/null; then rc=0; else rc=$?; fi
[[ $rc -eq 4 ]] || fail "status with node 2 down: exit $rc, want 4"

# Node 2 is fenced and out of every ISR by now: acks=all writes need the 2 left.
produce 401 600 || fail "produce 401..600 with 2 of 3 nodes up failed"
log "produced 401..600 with node 2 down; ISRs: $(isrs | tr '\n' ' ')"

t=$SECONDS
"$CLUSTER_SH" start-node 2 >/dev/null
log "node 2 rejoined in $((SECONDS - t))s"
produce 601 800 || fail "produce 601..800 after node 2 rejoined failed"

t=$SECONDS
deadline=$((SECONDS + 120))
until full_isr; do
    ((SECONDS < deadline)) || fail "ISR not back to 3 replicas after 120s: $(isrs | tr '\n' ' ')"
    sleep 1
done
log "ISR back to 3 on all partitions $((SECONDS - t))s later: $(isrs | tr '\n' ' ')"

# -e: exit at the end of every partition. Order across partitions is not defined,
# so compare sorted sets; every message must be there exactly once.
want=$(for ((i = 1; i <= 800; i++)); do echo "k$i:v$i"; done | sort)
got=$(kcat -b "$BOOTSTRAP" -t "$TOPIC" -C -e -o beginning -q -m 30 -f '%k:%s\n' | sort)
missing=$(comm -23 <(echo "$want") <(echo "$got"))
[[ -z $missing ]] || fail "$(grep -c . <<<"$missing") messages missing, e.g. $(head -n3 <<<"$missing" | tr '\n' ' ')"
dups=$(uniq -d <<<"$got")
[[ -z $dups ]] || fail "duplicated messages: $(head -n3 <<<"$dups" | tr '\n' ' ')"
[[ $got == "$want" ]] || fail "consumed messages differ from the produced ones"
log "read back all 800 messages, none missing, none twice"

passed=1
