#!/usr/bin/env bash
# readnext bench cluster: a real cluster on 127.0.0.1 (3 nats-server
# processes, 3 readnext nodes, through scripts/cluster.sh, in a scratch
# folder and on free ports), the White House corpus published through the
# write log, then scripts/bench_cluster.py: write throughput, convergence
# (store digests), kill -9 of a NATS server and of a node under load (0
# lost, 0 duplicated), a fourth node joining, and reads against nodes
# pinned to one core each. Everything is stopped by PID at the end.
#
# Usage: scripts/bench-cluster.sh [--json FILE]
# Environment:
#   READNEXT_DATA  corpus root (default ../shared/data): wh-briefings is
#                  published, bbc is what the fault phase PUTs
#   LEXICAL=1      nodes and ingest without the embedding model
#   EVENTS (100000), FAULT_SECONDS (40), ARTICLE_RATE (20), EVENT_RATE (500),
#   SCALE_SECONDS (10), KEEP=1 (leave the cluster's folder)
set -euo pipefail
ORIG="$PWD"
abs() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$ORIG/$1" ;; esac; }
JSON=""
while [ $# -gt 0 ]; do
  case "$1" in
    --json) JSON="$(abs "${2:?--json needs a file}")"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-cluster: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
[ -n "${READNEXT_DATA:-}" ] && READNEXT_DATA="$(abs "$READNEXT_DATA")"
cd "$(dirname "$0")/.."
DATA="${READNEXT_DATA:-../shared/data}"
if ! command -v wrk >/dev/null; then
  (apt-get install -y wrk || (apt-get update && apt-get install -y wrk)) >/dev/null
fi
[ -x target/release/readnext ] || cargo build --release --locked -p readnext

free_port_block() { # a first port with n free ports after it
  python3 - "$1" <<'PY'
import socket, sys, random
n = int(sys.argv[1])
for _ in range(200):
    base = random.randrange(20000, 60000 - n)
    ok = True
    for p in range(base, base + n):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            ok = False
        finally:
            s.close()
        if not ok:
            break
    if ok:
        print(base)
        break
PY
}

export CLUSTER_DIR; CLUSTER_DIR="$(mktemp -d)"
# NATS takes base..base+2 (clients), +2000 (routes), +4000 (monitoring).
export NATS_PORT; NATS_PORT="$(free_port_block 3)"
export NODE_PORT; NODE_PORT="$(free_port_block 5)"
FLAGS=""
[ "${LEXICAL:-0}" = 1 ] && FLAGS="--lexical"
export READNEXT_FLAGS="$FLAGS"
# A load test from one address: the per-address rate limit would answer
# most of it 429.
export SERVE_FLAGS="--rate-limit-ip 0"
cleanup() {
  scripts/cluster.sh down >/dev/null 2>&1 || true
  [ "${KEEP:-0}" = 1 ] && echo "kept $CLUSTER_DIR" || rm -rf "$CLUSTER_DIR"
}
trap cleanup EXIT
scripts/cluster.sh up 3
NATS="nats://127.0.0.1:$NATS_PORT,nats://127.0.0.1:$((NATS_PORT + 1)),nats://127.0.0.1:$((NATS_PORT + 2))"
PORTS="$NODE_PORT,$((NODE_PORT + 1)),$((NODE_PORT + 2))"
python3 scripts/bench_cluster.py --bin target/release/readnext --dir "$CLUSTER_DIR" --nats "$NATS" \
  --ports "$PORTS" --corpus "$DATA/wh-briefings" --bbc "$DATA/bbc" --flags="$FLAGS" --serve-flags="$SERVE_FLAGS" ${JSON:+--json "$JSON"}
