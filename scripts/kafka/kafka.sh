#!/usr/bin/env bash
# A private Apache Kafka (KRaft) for dev and tests, from jars on Maven Central.
#
#   kafka.sh fetch                        resolve the jars once (idempotent)
#   kafka.sh start DIR [--brokers 1|3]    format storage, start, wait until ready;
#                                         writes DIR/bootstrap and DIR/pids
#   kafka.sh stop DIR                     stop every node started in DIR
#   kafka.sh kill DIR I                   SIGKILL node I (1-based), data kept
#   kafka.sh restart DIR I                start node I again on its ports and data
#   kafka.sh java DIR CLASS ARGS...       run a class from the jars (tools), e.g.
#                                         org.apache.kafka.tools.ProducerPerformance
#
# KAFKA_VERSION picks another broker line (e.g. 3.9.1); its jars go to
# .cache/kafka/lib-$KAFKA_VERSION. Default: the version in pom.xml, in .cache/kafka/lib.
# Every node is a combined broker+controller on 127.0.0.1 with free ports chosen at
# start (never 9092). Three nodes: replication factor 3, min.insync.replicas 2.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
default_version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
version="${KAFKA_VERSION:-$default_version}"
if [[ "$version" == "$default_version" ]]; then lib="$root/.cache/kafka/lib"; else lib="$root/.cache/kafka/lib-$version"; fi
ready_timeout_s="${KAFKA_READY_TIMEOUT_S:-90}"
heap="${KAFKA_HEAP:--Xmx512m}"

die() { echo "kafka.sh: $*" >&2; exit 1; }

fetch() {
  if [[ -f "$lib/.fetched" && "$(cat "$lib/.fetched")" == "$version" ]]; then return 0; fi
  command -v mvn >/dev/null || die "mvn not found (Maven 3.8+ is needed to resolve the Kafka jars)"
  command -v java >/dev/null || die "java not found (Kafka $version needs Java 17+)"
  echo "kafka.sh: resolving Kafka $version into $lib" >&2
  rm -rf "$lib"
  mvn -q -B -Dstyle.color=never -f "$here/pom.xml" -Dmaven.repo.local="$root/.cache/m2" \
    -Dkafka.version="$version" -Dkafka.lib="$lib" package >&2 \
    || die "Maven could not resolve org.apache.kafka:kafka_2.13:$version"
  echo "$version" > "$lib/.fetched"
}

# Prints N distinct free TCP ports on 127.0.0.1 (held open together, so no repeats).
free_ports() {
  node -e '
    const net = require("node:net");
    const n = Number(process.argv[1]); const servers = [];
    const next = () => {
      if (servers.length === n) {
        console.log(servers.map((s) => s.address().port).join(" "));
        servers.forEach((s) => s.close());
        return;
      }
      const s = net.createServer(); s.listen(0, "127.0.0.1", () => {
        if (s.address().port === 9092) { s.close(); next(); return; }
        servers.push(s); next();
      });
    };
    next();' "$1"
}

# kafka_java DIR CLASS ARGS...: a tool JVM with a small heap and quiet logging.
kafka_java() {
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$1/log4j2-tools.properties" -cp "$lib/*" "${@:2}"
}

write_logging() {
  local dir="$1"
  cat > "$dir/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka
logger.kafka.level = info
logger.raft.name = org.apache.kafka.raft
logger.raft.level = warn
logger.controller.name = kafka.controller
logger.controller.level = warn
logger.request.name = kafka.request.logger
logger.request.level = warn
EOF
  cat > "$dir/log4j2-tools.properties" <<'EOF'
status = warn
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.err.ref = err
EOF
}

# node_dir DIR I
node_dir() { echo "$1/node-$2"; }

launch_node() {
  local dir="$1" i="$2" nd
  nd="$(node_dir "$dir" "$i")"
  # Remember where this start's log begins, so readiness looks at this start only.
  stat -c %s "$nd/kafka.log" > "$nd/kafka.log.offset" 2>/dev/null || echo 0 > "$nd/kafka.log.offset"
  # shellcheck disable=SC2086
  nohup java $heap -Xms128m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$dir/log4j2.properties" -Dkafka.logs.dir="$nd" \
    -cp "$lib/*" kafka.Kafka "$nd/server.properties" >> "$nd/kafka.log" 2>&1 < /dev/null &
  echo $! > "$nd/pid"
}

write_pids() {
  local dir="$1" n i
  n="$(cat "$dir/nodes")"
  : > "$dir/pids.tmp"
  for ((i = 1; i <= n; i++)); do cat "$(node_dir "$dir" "$i")/pid" >> "$dir/pids.tmp"; done
  mv "$dir/pids.tmp" "$dir/pids"
}

alive() { kill -0 "$1" 2>/dev/null; }

# wait_started DIR I...: each node's log (since its launch) says the server started.
wait_started() {
  local dir="$1"; shift
  local deadline=$((SECONDS + ready_timeout_s)) i nd pid off
  for i in "$@"; do
    nd="$(node_dir "$dir" "$i")"
    pid="$(cat "$nd/pid")"
    off="$(cat "$nd/kafka.log.offset")"
    until tail -c +"$((off + 1))" "$nd/kafka.log" 2>/dev/null | grep -q 'Kafka Server started'; do
      if ! alive "$pid"; then
        tail -n 30 "$nd/kafka.log" >&2 || true
        die "Kafka node $i (pid $pid) exited during startup; log: $nd/kafka.log"
      fi
      if ((SECONDS >= deadline)); then
        tail -n 30 "$nd/kafka.log" >&2 || true
        die "Kafka node $i not ready after ${ready_timeout_s}s; log: $nd/kafka.log"
      fi
      sleep 0.3
    done
  done
  # The broker answers a metadata request from a real client.
  local left=$((deadline - SECONDS)); ((left < 10)) && left=10
  timeout "$left" java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$dir/log4j2-tools.properties" -cp "$lib/*" \
    org.apache.kafka.tools.TopicCommand --bootstrap-server "$(cat "$dir/bootstrap")" --list >/dev/null \
    || die "Kafka started but a topic listing through $(cat "$dir/bootstrap") failed"
}

start() {
  local dir="" brokers=1
  while (($#)); do
    case "$1" in
      --brokers) brokers="${2:-}"; shift 2 ;;
      --brokers=*) brokers="${1#--brokers=}"; shift ;;
      -*) die "unknown option $1" ;;
      *) dir="$1"; shift ;;
    esac
  done
  [[ -n "$dir" ]] || die "usage: kafka.sh start DIR [--brokers 1|3]"
  [[ "$brokers" == 1 || "$brokers" == 3 ]] || die "--brokers must be 1 or 3, not '$brokers'"
  fetch
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  [[ ! -s "$dir/pids" ]] || die "$dir already has a running Kafka (stop it first)"
  write_logging "$dir"

  local ports; read -r -a ports <<< "$(free_ports $((brokers * 2)))"
  local voters="" bootstrap="" i
  for ((i = 1; i <= brokers; i++)); do
    voters+="${voters:+,}$i@127.0.0.1:${ports[$((brokers + i - 1))]}"
    bootstrap+="${bootstrap:+,}127.0.0.1:${ports[$((i - 1))]}"
  done
  local rf="$brokers" min_isr=1
  ((brokers == 3)) && min_isr=2
  # 22 characters of base64url: a random 16-byte Kafka Uuid. One that starts
  # with "-" reads as an option to the storage tool (Kafka's own random-uuid
  # draws again in that case, and so does this).
  local cluster_id="-"
  while [[ "$cluster_id" == -* ]]; do
    cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  done

  for ((i = 1; i <= brokers; i++)); do
    local nd; nd="$(node_dir "$dir" "$i")"
    mkdir -p "$nd/data"
    cat > "$nd/server.properties" <<EOF
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:${ports[$((i - 1))]},CONTROLLER://127.0.0.1:${ports[$((brokers + i - 1))]}
advertised.listeners=PLAINTEXT://127.0.0.1:${ports[$((i - 1))]}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$nd/data
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$min_isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$min_isr
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$min_isr
group.initial.rebalance.delay.ms=0
# Fast failover for tests: a killed node is fenced after 3 s (default 9 s), so its
# partitions get a new leader within a client's default retry budget.
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=500
auto.create.topics.enable=true
num.network.threads=2
num.io.threads=4
log.segment.bytes=104857600
EOF
    kafka_java "$dir" kafka.tools.StorageTool format -t "$cluster_id" -c "$nd/server.properties" --ignore-formatted > "$nd/format.log" 2>&1 \
      || { cat "$nd/format.log" >&2; die "formatting KRaft storage of node $i failed"; }
  done
  echo "$brokers" > "$dir/nodes"
  echo "$version" > "$dir/version"
  echo "$bootstrap" > "$dir/bootstrap"
  for ((i = 1; i <= brokers; i++)); do launch_node "$dir" "$i"; done
  write_pids "$dir"
  if ! wait_started "$dir" $(seq 1 "$brokers"); then stop "$dir"; exit 1; fi
  echo "$bootstrap"
}

stop_pids() {
  local pid deadline=$((SECONDS + ${KAFKA_STOP_TIMEOUT_S:-20}))
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    while alive "$pid"; do
      if ((SECONDS >= deadline)); then kill -KILL "$pid" 2>/dev/null || true; break; fi
      sleep 0.2
    done
  done
}

stop() {
  local dir="${1:-}"
  [[ -n "$dir" ]] || die "usage: kafka.sh stop DIR"
  [[ -f "$dir/nodes" ]] || return 0
  local n i pids=()
  n="$(cat "$dir/nodes")"
  for ((i = 1; i <= n; i++)); do
    local f; f="$(node_dir "$dir" "$i")/pid"
    [[ -f "$f" ]] && pids+=("$(cat "$f")")
  done
  # A combined node that loses the quorum can hang in controlled shutdown: the timeout ends it.
  ((${#pids[@]})) && stop_pids "${pids[@]}"
  : > "$dir/pids"
}

node_arg() {
  local dir="$1" i="$2"
  [[ -f "$dir/nodes" ]] || die "no Kafka in $dir"
  [[ "$i" =~ ^[0-9]+$ ]] && ((i >= 1 && i <= $(cat "$dir/nodes"))) || die "no node $i in $dir"
}

kill_node() {
  local dir="$1" i="$2"; node_arg "$dir" "$i"
  local pid; pid="$(cat "$(node_dir "$dir" "$i")/pid")"
  kill -KILL "$pid" 2>/dev/null || true
  while alive "$pid"; do sleep 0.1; done
}

restart_node() {
  local dir="$1" i="$2"; node_arg "$dir" "$i"
  local pid; pid="$(cat "$(node_dir "$dir" "$i")/pid")"
  alive "$pid" && die "node $i (pid $pid) is still running"
  launch_node "$dir" "$i"
  write_pids "$dir"
  wait_started "$dir" "$i"
}

cmd="${1:-}"; shift || true
case "$cmd" in
  fetch) fetch ;;
  start) start "$@" ;;
  stop) stop "$@" ;;
  kill) kill_node "$@" ;;
  restart) restart_node "$@" ;;
  # Full JIT and a bigger heap here: this runs the measuring tools (ProducerPerformance).
  java) fetch; d="$1"; shift; java -Xmx1g -Dlog4j2.configurationFile="$d/log4j2-tools.properties" -cp "$lib/*" "$@" ;;
  *) die "usage: kafka.sh fetch | start DIR [--brokers 1|3] | stop DIR | kill DIR I | restart DIR I | java DIR CLASS ARGS..." ;;
esac
