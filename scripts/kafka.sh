#!/usr/bin/env bash
# Run a real single-node Apache Kafka broker (KRaft, combined broker+controller)
# for local development and tests, built from Maven Central jars: no Kafka
# tarball and no Docker are available on our machines. scripts/kafka-cluster.sh
# runs several of these as one multi-node cluster.
#
# Usage: scripts/kafka.sh <command>
#   fetch      resolve the broker jars into $KAFKA_HOME/libs (once per pom change)
#   start      fetch if needed, format storage if new, start in the background and
#              wait until it answers; prints the bootstrap address on stdout
#   stop       stop the broker (SIGTERM, then SIGKILL after $KAFKA_STOP_TIMEOUT s)
#   status     print whether it runs and its bootstrap address (exit 3 if not running)
#   reset      stop and delete the data dir ($KAFKA_DATA)
#   kill       SIGKILL the broker (fault tests); returns once the process is gone
#   new-cluster-id
#              print a new random cluster id (for KAFKA_CLUSTER_ID)
#   run-class  MAIN [ARGS...]: run a Kafka tool class on the broker's class path,
#              e.g. org.apache.kafka.tools.TopicCommand --bootstrap-server ... --list
#
# Environment (defaults):
#   KAFKA_PORT=19092  KAFKA_CONTROLLER_PORT=19093   listen on 127.0.0.1 only
#   KAFKA_DATA=$REPO/.cache/kafka-data               logs, config, pid file, server.log
#   KAFKA_HOME=$REPO/.cache/kafka/<version>          jars (shared by all data dirs)
#   KAFKA_HEAP_OPTS="-Xms128m -Xmx512m"              machines are small and shared
#   KAFKA_JVM_OPTS                                   extra broker JVM flags
#   KAFKA_TOOL_HEAP_OPTS="-Xmx256m"                  heap of run-class tools
#   KAFKA_START_TIMEOUT=90  KAFKA_STOP_TIMEOUT=30    seconds
#   KAFKA_MVN_ARGS                                   extra mvn args (e.g. -o, -Dmaven.repo.local=...)
#   JAVA_HOME                                        Java 17+ (else `java` on PATH)
#
# One node of a multi-node cluster (scripts/kafka-cluster.sh sets these; the
# defaults are the single node above):
#   KAFKA_NODE_ID=1                                  node.id; `start` waits for this broker id
#   KAFKA_QUORUM_VOTERS=$KAFKA_NODE_ID@127.0.0.1:$KAFKA_CONTROLLER_PORT   static controller quorum
#   KAFKA_CLUSTER_ID                                 id to format a new data dir with (else random)
#   KAFKA_REPLICATION_FACTOR=1                       default and internal topics' replication factor
#   KAFKA_MIN_INSYNC_REPLICAS=1                      min.insync.replicas, and internal topics' min ISR
#
# Human-readable progress goes to stderr; `start` prints only the bootstrap
# address on stdout, so callers can do: addr=$(scripts/kafka.sh start)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
POM=$SCRIPT_DIR/kafka/pom.xml

# The pom is the single source of truth for the version.
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1)
[[ -n $KAFKA_VERSION ]] || { echo "kafka.sh: no <kafka.version> in $POM" >&2; exit 1; }

KAFKA_HOME=${KAFKA_HOME:-$REPO/.cache/kafka/$KAFKA_VERSION}
KAFKA_DATA=${KAFKA_DATA:-$REPO/.cache/kafka-data}
KAFKA_PORT=${KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19093}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
KAFKA_STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
KAFKA_MVN_ARGS=${KAFKA_MVN_ARGS:-}
# Progress lines name the node when a node id is given (cluster nodes start in parallel).
SAY_TAG=${KAFKA_NODE_ID:+[node $KAFKA_NODE_ID]}
KAFKA_NODE_ID=${KAFKA_NODE_ID:-1}
KAFKA_CLUSTER_ID=${KAFKA_CLUSTER_ID:-}
KAFKA_REPLICATION_FACTOR=${KAFKA_REPLICATION_FACTOR:-1}
KAFKA_MIN_INSYNC_REPLICAS=${KAFKA_MIN_INSYNC_REPLICAS:-1}
for v in KAFKA_NODE_ID KAFKA_REPLICATION_FACTOR KAFKA_MIN_INSYNC_REPLICAS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "kafka.sh: $v must be a positive integer, not '${!v}'" >&2; exit 2; }
done
# Absolute paths: they go into server.properties and identify our process.
[[ $KAFKA_HOME == /* ]] || KAFKA_HOME=$PWD/$KAFKA_HOME
[[ $KAFKA_DATA == /* ]] || KAFKA_DATA=$PWD/$KAFKA_DATA

HOST=127.0.0.1
BOOTSTRAP=$HOST:$KAFKA_PORT
KAFKA_QUORUM_VOTERS=${KAFKA_QUORUM_VOTERS:-$KAFKA_NODE_ID@$HOST:$KAFKA_CONTROLLER_PORT}
LIBS=$KAFKA_HOME/libs
# Marker written last by fetch; holds the pom's hash so a pom edit refetches.
FETCHED_MARKER=$LIBS/.fetched
PID_FILE=$KAFKA_DATA/kafka.pid
LOG_FILE=$KAFKA_DATA/server.log
# JVM stdout/stderr (crashes, OOM, early class-path errors); log4j writes LOG_FILE.
OUT_FILE=$KAFKA_DATA/kafka.out
CONFIG=$KAFKA_DATA/server.properties
LOG4J_CONFIG=$KAFKA_DATA/log4j2.properties
LOG_DIRS=$KAFKA_DATA/logs

if [[ -n ${JAVA_HOME:-} ]]; then JAVA=$JAVA_HOME/bin/java; else JAVA=java; fi

say() { echo "kafka.sh$SAY_TAG: $*" >&2; }
die() { say "error: $*"; exit 1; }

# --- helpers ----------------------------------------------------------------

pom_hash() { sha256sum "$POM" | cut -d' ' -f1; }

is_fetched() { [[ -f $FETCHED_MARKER && $(cat "$FETCHED_MARKER") == "$(pom_hash)" ]]; }

# Serialise fetch/start/stop per directory: parallel `go test` packages may all
# call `start` at once. The lock is an open fd, held until unlock or exit; the
# broker must not inherit it (see cmd_start) or it would hold the lock forever.
LOCK_FD=
lock() { # lock FILE
    mkdir -p "$(dirname "$1")"
    exec {LOCK_FD}>"$1"
    flock -w 300 "$LOCK_FD" || die "timed out waiting for lock $1"
}
unlock() { [[ -z $LOCK_FD ]] || exec {LOCK_FD}>&-; LOCK_FD=; }

# PID of our broker if it is alive. Checks the command line too, so a stale pid
# file whose pid was reused by another process is not mistaken for the broker.
running_pid() {
    [[ -f $PID_FILE ]] || return 1
    local pid
    pid=$(cat "$PID_FILE" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -q -- "kafka.Kafka $CONFIG" || return 1
    echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

check_java() {
    command -v "$JAVA" >/dev/null || die "java not found (install openjdk-17-jre-headless or set JAVA_HOME)"
    local v
    v=$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
    [[ -n $v && $v -ge 17 ]] || die "Kafka $KAFKA_VERSION needs Java 17+, $JAVA is version ${v:-unknown}"
}

# Kafka cluster ids are 16 random bytes in URL-safe base64 without padding.
# Like Kafka's Uuid.randomUuid, avoid a leading '-' (it would parse as a flag).
random_cluster_id() {
    local id
    while :; do
        id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
        [[ $id != -* ]] && { echo "$id"; return; }
    done
}

# Tool (non-broker) logging: warnings only, to stderr, so tool output stays readable.
tools_log4j_config() {
    local f=$KAFKA_HOME/config/tools-log4j2.properties
    if [[ ! -f $f ]]; then
        mkdir -p "$(dirname "$f")"
        cat >"$f" <<'EOF'
status = warn
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
EOF
    fi
    echo "$f"
}

run_class() { # run_class MAIN [ARGS...]
    is_fetched || die "jars not fetched yet: run '$0 fetch' first"
    check_java
    # shellcheck disable=SC2086 # KAFKA_TOOL_HEAP_OPTS is a list of JVM flags
    "$JAVA" ${KAFKA_TOOL_HEAP_OPTS:--Xmx256m} -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$(tools_log4j_config)" \
        -cp "$LIBS/*" "$@"
}

# The first comment of server.properties: which node this is.
node_comment() {
    if [[ $KAFKA_QUORUM_VOTERS == *,* ]]; then
        echo "# Node $KAFKA_NODE_ID of a KRaft cluster in combined mode: this process is a broker and one of"
        echo "# the controller quorum's voters."
    else
        echo "# Single node in KRaft combined mode: this process is both broker and controller."
    fi
}

replication_config() {
    local rf=$KAFKA_REPLICATION_FACTOR isr=$KAFKA_MIN_INSYNC_REPLICAS
    if [[ $rf == 1 && $isr == 1 ]]; then
        cat <<'EOF'
# One broker: every internal topic must live with a single replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
EOF
        return
    fi
    cat <<EOF
# Topics created without a replication factor, and the internal topics, get $rf
# replicas; an acks=all write needs $isr of them in sync.
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
# An out-of-sync replica never becomes leader: that would drop acknowledged writes.
unclean.leader.election.enable=false
EOF
}

write_configs() {
    mkdir -p "$LOG_DIRS"
    cat >"$CONFIG" <<EOF
# Generated by scripts/kafka.sh: rewritten on every start, edit the script instead.
$(node_comment)
process.roles=broker,controller
node.id=$KAFKA_NODE_ID
# Static quorum (not --standalone/dynamic): the voter address is not written into
# the formatted storage, so a data dir survives a change of controller port.
controller.quorum.voters=$KAFKA_QUORUM_VOTERS
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$LOG_DIRS

$(replication_config)
# Fewer __consumer_offsets partitions than the default 50: faster first group join.
offsets.topic.num.partitions=10

num.partitions=3
# The application creates its topics explicitly; a typo must not create one.
auto.create.topics.enable=false
# Tests join consumer groups constantly; don't wait 3 s before the first rebalance.
group.initial.rebalance.delay.ms=0

# Modest thread counts: 2-core machine shared with the tests.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=24
EOF

    cat >"$LOG4J_CONFIG" <<'EOF'
# Generated by scripts/kafka.sh. Everything goes to server.log, nothing to stdout.
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
# Per-request and per-partition state chatter: useful only when debugging Kafka itself.
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
# Full config dumps (~1000 lines per start, for the server and each internal
# client); server.properties is next to this file. Warnings still show.
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
EOF
}

format_storage() {
    # Formatting twice would fail (different cluster id), so only format a new dir.
    if [[ -f $LOG_DIRS/meta.properties ]]; then
        return 0
    fi
    local id=${KAFKA_CLUSTER_ID:-$(random_cluster_id)}
    say "formatting $LOG_DIRS (cluster id $id)"
    run_class kafka.tools.StorageTool format -t "$id" -c "$CONFIG" --ignore-formatted >/dev/null \
        || die "storage format failed"
    echo "$id" >"$KAFKA_DATA/cluster.id"
}

# True once the broker serves metadata listing itself (its node id) as a broker:
# in a cluster, registered and unfenced. kcat asks the broker itself; without it,
# an open port plus Kafka's own "started" log line is the next best thing.
broker_ready() {
    port_open "$KAFKA_PORT" || return 1 # cheap, and kcat would wait out -m on a closed port
    local kcat
    kcat=$(type -P kcat || true) # type -P may name a non-executable file: check -x
    if [[ -n $kcat && -x $kcat ]]; then
        "$kcat" -b "$BOOTSTRAP" -L -m 2 2>/dev/null | grep -q " broker $KAFKA_NODE_ID at "
    else
        tail -c "+$((LOG_OFFSET + 1))" "$LOG_FILE" 2>/dev/null | grep -q "Kafka Server started"
    fi
}

# Byte offset in LOG_FILE where this start's output begins (the file is appended
# to across restarts, and older runs' lines would only mislead).
LOG_OFFSET=0
show_logs() {
    say "last lines of $LOG_FILE from this start:"
    tail -c "+$((LOG_OFFSET + 1))" "$LOG_FILE" 2>/dev/null | tail -n 40 >&2 || true
    if [[ -s $OUT_FILE ]]; then
        say "last lines of $OUT_FILE:"
        tail -n 20 "$OUT_FILE" >&2
    fi
}

kill_broker() { # kill_broker PID
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < KAFKA_STOP_TIMEOUT * 2; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.5
    done
    say "broker (pid $pid) still up after ${KAFKA_STOP_TIMEOUT}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.5
    done
    die "could not kill pid $pid"
}

# --- commands ---------------------------------------------------------------

cmd_fetch() {
    lock "$KAFKA_HOME.lock"
    if is_fetched; then
        say "Kafka $KAFKA_VERSION already fetched in $LIBS"
        unlock
        return 0
    fi
    command -v mvn >/dev/null || die "mvn not found (Debian package: maven)"
    say "fetching Kafka $KAFKA_VERSION jars from Maven Central into $LIBS"
    local tmp=$KAFKA_HOME/libs.tmp.$$ mvnlog=$KAFKA_HOME/fetch.log start=$SECONDS
    mkdir -p "$KAFKA_HOME"
    rm -rf "$tmp"
    # Quiet on success, full Maven output on failure. Copy into a temp dir and
    # rename, so an interrupted fetch never looks complete.
    # shellcheck disable=SC2086 # KAFKA_MVN_ARGS is a list of mvn arguments
    if ! mvn -B -Dstyle.color=never $KAFKA_MVN_ARGS -f "$POM" \
        dependency:copy-dependencies -DoutputDirectory="$tmp" >"$mvnlog" 2>&1; then
        cat "$mvnlog" >&2
        rm -rf "$tmp"
        die "mvn dependency:copy-dependencies failed (log above, also in $mvnlog)"
    fi
    rm -rf "$LIBS"
    mv "$tmp" "$LIBS"
    pom_hash >"$FETCHED_MARKER"
    say "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars ($(du -sh "$LIBS" | cut -f1)) in $((SECONDS - start))s"
    unlock
}

cmd_start() {
    local pid
    cmd_fetch
    lock "$KAFKA_DATA/.lock"

    if pid=$(running_pid); then
        local listening
        listening=$(sed -n 's/^advertised.listeners=PLAINTEXT:\/\///p' "$CONFIG")
        [[ $listening == "$BOOTSTRAP" ]] \
            || die "a broker for $KAFKA_DATA already runs (pid $pid) on $listening, not $BOOTSTRAP"
        say "already running (pid $pid), bootstrap $BOOTSTRAP"
        echo "$BOOTSTRAP"
        return 0
    fi
    rm -f "$PID_FILE"

    # Another process on our ports (a broker for another data dir, anything else)
    # would make the broker die with a bind error, or the readiness check talk to
    # the wrong server; say so plainly instead.
    for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
        port_open "$p" && die "port $p on $HOST is already in use (set KAFKA_PORT / KAFKA_CONTROLLER_PORT)"
    done

    check_java
    write_configs
    format_storage

    say "starting Kafka $KAFKA_VERSION on $BOOTSTRAP (data $KAFKA_DATA, log $LOG_FILE)"
    local start=$SECONDS
    LOG_OFFSET=$(stat -c %s "$LOG_FILE" 2>/dev/null || echo 0)
    : >"$OUT_FILE"
    # setsid: own session, so a signal to the caller's process group (Ctrl-C,
    # a test runner killing its children) does not take the broker down with it.
    # All stdio goes to files, so a caller reading our stdout is not kept waiting,
    # and the lock fd is closed for it.
    # shellcheck disable=SC2086 # KAFKA_HEAP_OPTS / KAFKA_JVM_OPTS are lists of flags
    setsid "$JAVA" $KAFKA_HEAP_OPTS \
        -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
        -Djava.awt.headless=true \
        -Dkafka.logs.dir="$KAFKA_DATA" -Dlog4j2.configurationFile="$LOG4J_CONFIG" \
        ${KAFKA_JVM_OPTS:-} \
        -cp "$LIBS/*" kafka.Kafka "$CONFIG" \
        </dev/null >>"$OUT_FILE" 2>&1 {LOCK_FD}>&- &
    pid=$!
    echo "$pid" >"$PID_FILE"

    local waited next_note=5
    while :; do
        waited=$((SECONDS - start))
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PID_FILE"
            show_logs
            die "broker exited during startup (after ${waited}s)"
        fi
        if broker_ready; then
            break
        fi
        if ((waited >= KAFKA_START_TIMEOUT)); then
            show_logs
            say "not up after ${KAFKA_START_TIMEOUT}s, stopping it"
            kill_broker "$pid"
            rm -f "$PID_FILE"
            die "broker did not come up within ${KAFKA_START_TIMEOUT}s"
        fi
        if ((waited >= next_note)); then
            say "waiting for the broker... ${waited}s"
            next_note=$((next_note + 5))
        fi
        sleep 0.5
    done
    say "Kafka $KAFKA_VERSION is up (pid $pid) after $((SECONDS - start))s; bootstrap: $BOOTSTRAP"
    echo "$BOOTSTRAP"
}

cmd_stop() {
    [[ -d $KAFKA_DATA ]] || { say "not running (no $KAFKA_DATA)"; return 0; }
    lock "$KAFKA_DATA/.lock"
    local pid
    if pid=$(running_pid); then
        say "stopping broker (pid $pid)"
        kill_broker "$pid"
        say "stopped"
    else
        say "not running"
    fi
    rm -f "$PID_FILE"
}

cmd_kill() {
    [[ -d $KAFKA_DATA ]] || { say "not running (no $KAFKA_DATA)"; return 0; }
    lock "$KAFKA_DATA/.lock"
    local pid i
    if ! pid=$(running_pid); then
        say "not running"
        rm -f "$PID_FILE"
        return 0
    fi
    say "killing broker (pid $pid) with SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    # running_pid, not kill -0: a killed process not yet reaped is a zombie whose
    # command line is empty; its sockets are closed already.
    for ((i = 0; i < 60; i++)); do
        running_pid >/dev/null || { rm -f "$PID_FILE"; say "killed"; return 0; }
        sleep 0.5
    done
    die "pid $pid still there 30s after SIGKILL"
}

cmd_status() {
    local pid
    if pid=$(running_pid); then
        echo "running (pid $pid), Kafka $KAFKA_VERSION, bootstrap $BOOTSTRAP, data $KAFKA_DATA"
    else
        echo "not running (bootstrap would be $BOOTSTRAP, data $KAFKA_DATA)"
        return 3
    fi
}

cmd_reset() {
    cmd_stop
    if [[ -d $KAFKA_DATA ]]; then
        rm -rf "$KAFKA_DATA"
        say "deleted $KAFKA_DATA"
    fi
}

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

case ${1:-} in
    fetch) cmd_fetch ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    reset) cmd_reset ;;
    kill) cmd_kill ;;
    new-cluster-id) random_cluster_id ;;
    run-class)
        shift
        [[ $# -ge 1 ]] || die "usage: $0 run-class MAIN [ARGS...]"
        run_class "$@"
        ;;
    -h | --help | help) usage ;;
    *)
        usage >&2
        exit 2
        ;;
esac
