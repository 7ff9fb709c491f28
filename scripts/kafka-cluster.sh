#!/usr/bin/env bash
# Run a real N-node Apache Kafka cluster on 127.0.0.1 for tests and development:
# replication, min ISR, leader failover, a broker that dies and comes back. Every
# node is a scripts/kafka.sh broker (KRaft, combined broker+controller) with its
# own ports and data dir; the controller quorum is static, all N nodes are voters.
#
# Usage: scripts/kafka-cluster.sh <command>
#   start         start every node not running yet, all at once (with a quorum of N
#                 voters no node becomes ready alone), and wait until each serves
#                 metadata listing all N brokers; prints the bootstrap list on stdout.
#                 If a node does not come up, stops all nodes and exits 1
#   start-node I  (or: start I) (re)start node I (1..N) and wait until it has rejoined:
#                 it serves metadata and every other running node lists it as a
#                 broker; needs a quorum, i.e. more than N/2 nodes with it; prints
#                 the bootstrap list on stdout
#   stop          stop all nodes (SIGTERM, then SIGKILL after $KAFKA_STOP_TIMEOUT s;
#                 SIGKILL at once when too few run to form a controller quorum)
#   kill I        SIGKILL node I (fault tests); returns once the process is gone
#   status        one line per node; exit 3 if no node runs, 4 if only some do
#   reset         stop and delete the data dir ($KAFKA_CLUSTER_DATA)
#   bootstrap     print the bootstrap list (whether or not the cluster runs)
#
# Environment (defaults):
#   KAFKA_CLUSTER_NODES=3        node ids 1..N
#   KAFKA_CLUSTER_PORT=19392     node i: broker port BASE+2(i-1), controller port
#                                BASE+2(i-1)+1, on 127.0.0.1 only
#   KAFKA_CLUSTER_DATA=$REPO/.cache/kafka-cluster    node i in $KAFKA_CLUSTER_DATA/node-i
#   KAFKA_HEAP_OPTS="-Xms128m -Xmx384m"              per node
#   KAFKA_START_TIMEOUT=180      seconds for a node, and then the cluster, to come up
#   KAFKA_STOP_TIMEOUT=30        seconds
#   KAFKA_HOME, KAFKA_JVM_OPTS, KAFKA_MVN_ARGS, JAVA_HOME: as for scripts/kafka.sh
# A data dir remembers its node count and base port (cluster.layout): later
# commands default to them, and `start` refuses another node count (reset first).
#
# Broker settings: default.replication.factor and the internal topics' replication
# factor min(N,3); min.insync.replicas (and the internal topics' min ISR) 2 when
# N >= 3, else 1; unclean.leader.election.enable=false; as for a single node,
# auto.create.topics.enable=false and group.initial.rebalance.delay.ms=0.
#
# Needs kcat (readiness checks) besides what scripts/kafka.sh needs. Human-readable
# progress goes to stderr; `start` and `bootstrap` print only the bootstrap list on
# stdout, comma separated, e.g. 127.0.0.1:19392,127.0.0.1:19394,127.0.0.1:19396, so
# callers can do: brokers=$(scripts/kafka-cluster.sh start)
# Kafka's tools: scripts/kafka.sh run-class MAIN --bootstrap-server "$brokers" ...
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
KAFKA_SH=$SCRIPT_DIR/kafka.sh
HOST=127.0.0.1

DATA=${KAFKA_CLUSTER_DATA:-$REPO/.cache/kafka-cluster}
[[ $DATA == /* ]] || DATA=$PWD/$DATA
LAYOUT=$DATA/cluster.layout
CLUSTER_ID_FILE=$DATA/cluster.id

say() { echo "kafka-cluster.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

# What an existing data dir was made with (empty if nothing recorded).
recorded() { sed -n "s/^$1=//p" "$LAYOUT" 2>/dev/null || true; }
RECORDED_NODES=$(recorded nodes)
NODES=${KAFKA_CLUSTER_NODES:-${RECORDED_NODES:-3}}
PORT=${KAFKA_CLUSTER_PORT:-$(recorded port)}
PORT=${PORT:-19392}
[[ $NODES =~ ^[1-9][0-9]*$ ]] || die "KAFKA_CLUSTER_NODES must be a positive integer, not '$NODES'"
if ! [[ $PORT =~ ^[1-9][0-9]*$ ]] || ((PORT + 2 * NODES - 1 > 65535)); then
    die "KAFKA_CLUSTER_PORT '$PORT' leaves no room for $NODES nodes' ports"
fi

export KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms128m -Xmx384m}
# A loaded 2-core machine starting N JVMs at once: well above kafka.sh's 90 s.
export KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-180}
export KAFKA_STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
[[ $KAFKA_START_TIMEOUT =~ ^[0-9]+$ ]] || die "KAFKA_START_TIMEOUT must be a number of seconds"

RF=$((NODES < 3 ? NODES : 3))
MIN_ISR=$((NODES >= 3 ? 2 : 1))

broker_port() { echo $((PORT + 2 * ($1 - 1))); }
node_addr() { echo "$HOST:$(broker_port "$1")"; }
node_dir() { echo "$DATA/node-$1"; }

bootstrap_list() {
    local i out=
    for ((i = 1; i <= NODES; i++)); do out+=${out:+,}$(node_addr "$i"); done
    echo "$out"
}

VOTERS=
for ((i = 1; i <= NODES; i++)); do VOTERS+=${VOTERS:+,}$i@$HOST:$(($(broker_port "$i") + 1)); done

# Serialise the commands that change the cluster (parallel test packages may all
# call start). Fixed fd 9, closed for every kafka.sh call (see kafka_node): a
# broker inheriting it would hold the lock for as long as it runs.
lock() {
    mkdir -p "$DATA"
    exec 9>"$DATA/.lock"
    flock -w 600 9 || die "timed out waiting for lock $DATA/.lock"
}

# The cluster id every node formats its storage with: made once per data dir.
cluster_id() {
    local id f
    if [[ ! -s $CLUSTER_ID_FILE ]]; then
        # A node formatted before cluster.id was lost decides (kafka.sh records its id).
        for f in "$DATA"/node-*/cluster.id; do
            [[ -s $f ]] && { cp "$f" "$CLUSTER_ID_FILE"; break; }
        done
    fi
    if [[ ! -s $CLUSTER_ID_FILE ]]; then
        id=$("$KAFKA_SH" new-cluster-id)
        echo "$id" >"$CLUSTER_ID_FILE"
    fi
    cat "$CLUSTER_ID_FILE"
}

# The node count is part of the static quorum: another count on the same data
# would give the nodes different voter sets. The base port may change, but not
# while nodes run on the old one.
check_layout() {
    local i recorded_port
    if [[ -n $RECORDED_NODES && $RECORDED_NODES != "$NODES" ]]; then
        die "$DATA was made for $RECORDED_NODES nodes, not $NODES: run '$0 reset' first (or use another KAFKA_CLUSTER_DATA)"
    fi
    recorded_port=$(recorded port)
    if [[ -n $recorded_port && $recorded_port != "$PORT" ]]; then
        for ((i = 1; i <= NODES; i++)); do
            if node_running "$i"; then
                die "the cluster in $DATA runs on base port $recorded_port, not $PORT: stop it first"
            fi
        done
    fi
    mkdir -p "$DATA"
    printf 'nodes=%s\nport=%s\n' "$NODES" "$PORT" >"$LAYOUT"
}

# kafka_node I ARGS...: scripts/kafka.sh ARGS as node I.
kafka_node() {
    local i=$1 port
    shift
    port=$(broker_port "$i")
    KAFKA_NODE_ID=$i KAFKA_PORT=$port KAFKA_CONTROLLER_PORT=$((port + 1)) \
        KAFKA_DATA=$(node_dir "$i") KAFKA_QUORUM_VOTERS=$VOTERS \
        KAFKA_CLUSTER_ID=${CLUSTER_ID:-} \
        KAFKA_REPLICATION_FACTOR=$RF KAFKA_MIN_INSYNC_REPLICAS=$MIN_ISR \
        "$KAFKA_SH" "$@" 9>&-
}

node_running() { kafka_node "$1" status >/dev/null 2>&1; }

node_index() { # node_index ARG: validate a 1-based node number
    [[ ${1:-} =~ ^[1-9][0-9]*$ && $1 -le $NODES ]] || die "no node '${1:-}': nodes are 1..$NODES"
}

need_kcat() { command -v kcat >/dev/null 2>&1 || die "kcat not found (Debian package: kcat)"; }

# The broker ids node I's metadata lists, space separated and sorted ("" if it does not answer).
brokers_seen_by() {
    { kcat -b "$(node_addr "$1")" -L -m 3 2>/dev/null || true; } \
        | sed -n 's/^ *broker \([0-9]*\) at .*/\1/p' | sort -n | tr '\n' ' ' | sed 's/ $//'
}

# wait_until DEADLINE WHAT CMD...: poll CMD until it succeeds or SECONDS reaches DEADLINE.
wait_until() {
    local deadline=$1 what=$2 next_note=$((SECONDS + 5))
    shift 2
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        if ((SECONDS >= next_note)); then
            say "waiting for $what..."
            next_note=$((SECONDS + 5))
        fi
        sleep 1
    done
}

all_see_all() {
    local i want
    want=$(seq -s' ' 1 "$NODES")
    for ((i = 1; i <= NODES; i++)); do
        [[ $(brokers_seen_by "$i") == "$want" ]] || return 1
    done
}

# others_see NODE: every other running node lists broker NODE.
others_see() {
    local i
    for ((i = 1; i <= NODES; i++)); do
        if ((i == $1)) || ! node_running "$i"; then continue; fi
        [[ " $(brokers_seen_by "$i") " == *" $1 "* ]] || return 1
    done
}

# --- commands ---------------------------------------------------------------

cmd_start() {
    need_kcat
    "$KAFKA_SH" fetch 9>&-
    lock
    check_layout
    CLUSTER_ID=$(cluster_id)
    local i start=$SECONDS failed=() pids=()
    say "starting $NODES nodes on $(bootstrap_list) (cluster id $CLUSTER_ID, data $DATA)"
    # All at once, each in the background: a node waits for a quorum of voters.
    for ((i = 1; i <= NODES; i++)); do
        kafka_node "$i" start >/dev/null &
        pids[i]=$!
    done
    for ((i = 1; i <= NODES; i++)); do
        wait "${pids[i]}" || failed+=("$i")
    done
    if ((${#failed[@]})); then
        say "node(s) ${failed[*]} did not start (logs: $DATA/node-N/server.log); stopping the cluster"
        cmd_stop_locked || true
        die "cluster did not start"
    fi
    if ! wait_until $((start + KAFKA_START_TIMEOUT)) "every node to list all $NODES brokers" all_see_all; then
        for ((i = 1; i <= NODES; i++)); do say "node $i lists brokers: $(brokers_seen_by "$i")"; done
        cmd_stop_locked || true
        die "the nodes did not all see $NODES brokers within ${KAFKA_START_TIMEOUT}s"
    fi
    say "cluster of $NODES is up after $((SECONDS - start))s; bootstrap: $(bootstrap_list)"
    bootstrap_list
}

cmd_start_node() {
    local n=$1 i others=0 quorum=$((NODES / 2 + 1)) start=$SECONDS
    need_kcat
    "$KAFKA_SH" fetch 9>&-
    lock
    check_layout
    CLUSTER_ID=$(cluster_id)
    for ((i = 1; i <= NODES; i++)); do
        if ((i != n)) && node_running "$i"; then others=$((others + 1)); fi
    done
    ((others + 1 >= quorum)) \
        || die "node $n can't become ready: $others other node(s) run, a quorum needs $quorum of $NODES voters (use '$0 start')"
    kafka_node "$n" start >/dev/null
    wait_until $((start + KAFKA_START_TIMEOUT)) "the other nodes to list broker $n" others_see "$n" \
        || die "node $n runs but the other nodes don't list it after ${KAFKA_START_TIMEOUT}s"
    say "node $n has rejoined after $((SECONDS - start))s"
    bootstrap_list
}

# Existing node dirs, also those of a former bigger layout: stop must not leave any running.
node_dirs_ids() {
    local d
    for d in "$DATA"/node-*; do
        if [[ -d $d && ${d##*/node-} =~ ^[0-9]+$ ]]; then echo "${d##*/node-}"; fi
    done
}

# All at once: a broker's controlled shutdown needs the controller quorum to
# acknowledge it, so stopped one by one the last nodes would wait for a quorum
# that is already gone, until SIGKILL after $KAFKA_STOP_TIMEOUT s. For the same
# reason, nodes without a quorum (half of the voters or more down) are killed
# right away; Kafka recovers their logs on the next start.
cmd_stop_locked() {
    local i rc=0 pids=() ids up=0 how="stop"
    ids=$(node_dirs_ids)
    for i in $ids; do
        if node_running "$i"; then up=$((up + 1)); fi
    done
    if ((up > 0 && up < NODES / 2 + 1)); then
        say "only $up of $NODES nodes run: no controller quorum to acknowledge a clean shutdown, killing"
        how="kill"
    fi
    for i in $ids; do
        kafka_node "$i" "$how" &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || rc=1; done
    return $rc
}

cmd_stop() {
    [[ -d $DATA ]] || { say "not running (no $DATA)"; return 0; }
    lock
    cmd_stop_locked
}

cmd_kill() {
    node_index "${1:-}"
    lock
    kafka_node "$1" kill
}

cmd_status() {
    local i up=0 line
    for ((i = 1; i <= NODES; i++)); do
        if line=$(kafka_node "$i" status); then up=$((up + 1)); fi
        echo "node $i: $line"
    done
    echo "$up of $NODES nodes running; bootstrap $(bootstrap_list)"
    ((up == NODES)) && return 0
    ((up == 0)) && return 3
    return 4
}

cmd_reset() {
    cmd_stop
    if [[ -d $DATA ]]; then
        rm -rf "$DATA"
        say "deleted $DATA"
    fi
}

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

case ${1:-} in
    start)
        if [[ $# -ge 2 ]]; then
            node_index "$2"
            cmd_start_node "$2"
        else
            cmd_start
        fi
        ;;
    start-node)
        node_index "${2:-}"
        cmd_start_node "$2"
        ;;
    stop) cmd_stop ;;
    kill) cmd_kill "${2:-}" ;;
    status) cmd_status ;;
    reset) cmd_reset ;;
    bootstrap) bootstrap_list ;;
    -h | --help | help) usage ;;
    *)
        usage >&2
        exit 2
        ;;
esac
