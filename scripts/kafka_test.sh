#!/usr/bin/env bash
# Smoke test for scripts/kafka.sh: start a throw-away broker on its own ports and
# data dir, create a 3-partition topic with Kafka's own topic tool, produce 5 keyed
# messages and read them back with kcat, then stop the broker and delete its data.
#
# Needs: Java 17+, Maven (first fetch only), kcat (Debian package: kcat).
# Ports: KAFKA_TEST_PORT (default 19192) and the next one up for the controller,
# so it does not collide with a dev broker on the default 19092/19093.
# Prints "1 passed, 0 failed" on success, "0 passed, 1 failed" and exits 1 otherwise.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KAFKA_SH=$SCRIPT_DIR/kafka.sh

export KAFKA_PORT=${KAFKA_TEST_PORT:-19192}
export KAFKA_CONTROLLER_PORT=$((KAFKA_PORT + 1))
KAFKA_DATA=$(mktemp -d "${TMPDIR:-/tmp}/kafka-smoke.XXXXXX")
export KAFKA_DATA
BOOTSTRAP=127.0.0.1:$KAFKA_PORT
TOPIC=smoke

passed=0
# Always stop the broker and clean up, whatever failed, then print the verdict.
finish() {
    local rc=$?
    "$KAFKA_SH" stop || rc=1
    rm -rf "$KAFKA_DATA"
    if [[ $rc -eq 0 && $passed -eq 1 ]]; then
        echo "1 passed, 0 failed"
    else
        echo "kafka_test: FAILED (exit $rc)" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
}
trap finish EXIT

fail() { echo "kafka_test: $*" >&2; exit 1; }

command -v kcat >/dev/null || fail "kcat not found (apt-get install -y kcat)"

echo "kafka_test: starting broker on $BOOTSTRAP (data $KAFKA_DATA)"
addr=$("$KAFKA_SH" start)
[[ $addr == "$BOOTSTRAP" ]] || fail "start printed '$addr', want '$BOOTSTRAP'"
"$KAFKA_SH" status

# auto.create.topics.enable=false, so the topic must be created explicitly;
# kcat cannot create topics, Kafka's TopicCommand can.
"$KAFKA_SH" run-class org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
    --create --topic "$TOPIC" --partitions 3 --replication-factor 1

meta=$(kcat -b "$BOOTSTRAP" -L -t "$TOPIC" -m 10)
grep -q "topic \"$TOPIC\" with 3 partitions" <<<"$meta" || fail "topic metadata unexpected: $meta"

want=$'k1:v1\nk2:v2\nk3:v3\nk4:v4\nk5:v5'
kcat -b "$BOOTSTRAP" -t "$TOPIC" -P -K: <<<"$want" || fail "produce failed"

# -e: exit at the end of every partition; keys spread the messages over the
# partitions, so order across them is not defined: compare sorted.
got=$(kcat -b "$BOOTSTRAP" -t "$TOPIC" -C -e -o beginning -q -m 10 -f '%k:%s\n' | sort)
count=$(grep -c . <<<"$got" || true)
[[ $count -eq 5 ]] || fail "consumed $count messages, want 5: $got"
[[ $got == "$want" ]] || fail "consumed messages differ: got '$got', want '$want'"
echo "kafka_test: produced and consumed 5 messages on $TOPIC"

passed=1
