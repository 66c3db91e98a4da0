#!/usr/bin/env bash
# readnext bench live: read latency and throughput while the store is being
# written to, and how fast writes become visible. Starts a real
# `readnext serve` on 127.0.0.1 (its own port, rate limits off, no API keys)
# on a store, then hands over to scripts/bench_live.py, which runs three
# phases of PHASE_SECONDS each with wrk on GET /v1/articles/{id}/related:
#   1. reads only;
#   2. reads while BBC articles are PUT (PUT_RATE/s) and clicks POSTed
#      (CLICK_RATE/s, batches of 50), then the follow-up and trending lags
#      (FRESH_TRIALS each) under the same load;
#   3. reads after the writes stopped.
#
# Usage: scripts/bench-live.sh [--json FILE]
# Environment:
#   BIN            the binary (default target/release/readnext; built with
#                  `cargo build --release --locked` only if that is missing)
#   STORE          a preloaded store to serve (copied first, since the run
#                  writes to it; STORE_INPLACE=1 serves it in place).
#                  Without it, $READNEXT_DATA/wh-briefings is ingested into
#                  a temporary store.
#   READNEXT_DATA  corpus root (default ../shared/data); the BBC set under
#                  $READNEXT_DATA/bbc is what phase 2 PUTs
#   LEXICAL=1      ingest and serve with --lexical (no embedding model)
#   READ_RATE      pace the reads to about this many a second (each wrk
#                  connection waits CONNECTIONS*1000/READ_RATE ms before each
#                  request); unset or 0: as fast as the server answers
#   PHASE_SECONDS (30), PUT_RATE (5), CLICK_RATE (500), CONNECTIONS (64),
#   FRESH_TRIALS (5), FRESH_TIMEOUT (10 s of polling), FRESH_READS (1: keep
#   the reads going during the lag trials), PUT_CONNS and EVENT_CONNS (8
#   connections each for the open-loop writers), REQUEST_TIMEOUT (30 s, the
#   driver's requests), WRK_TIMEOUT (10s), SEED, PORT (default: a free
#   one), JSON_OUT (same as --json)
set -euo pipefail

ORIG="$PWD"
# User-given paths are taken relative to where the script was called from;
# defaults are relative to the repository.
abs() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$ORIG/$1" ;; esac; }

JSON="${JSON_OUT:-}"
while [ $# -gt 0 ]; do
    case "$1" in
        --json) JSON="${2:?--json needs a file}"; shift 2 ;;
        --json=*) JSON="${1#--json=}"; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench-live: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
done
[ -n "$JSON" ] && JSON="$(abs "$JSON")"
[ -n "${STORE:-}" ] && STORE="$(abs "$STORE")"
[ -n "${BIN:-}" ] && BIN="$(abs "$BIN")"
[ -n "${READNEXT_DATA:-}" ] && READNEXT_DATA="$(abs "$READNEXT_DATA")"

cd "$(dirname "$0")/.."
DATA="${READNEXT_DATA:-../shared/data}"
DEFAULT_BIN=target/release/readnext
BIN="${BIN:-$DEFAULT_BIN}"
export PHASE_SECONDS="${PHASE_SECONDS:-30}" FRESH_TRIALS="${FRESH_TRIALS:-5}" FRESH_TIMEOUT="${FRESH_TIMEOUT:-10}"

if ! command -v wrk >/dev/null; then
    (apt-get install -y wrk || (apt-get update && apt-get install -y wrk)) >/dev/null
fi
if [ ! -x "$BIN" ]; then
    if [ "$BIN" != "$DEFAULT_BIN" ]; then
        echo "bench-live: BIN=$BIN is not an executable" >&2
        exit 2
    fi
    cargo build --release --locked
fi
[ -d "$DATA/bbc" ] || { echo "bench-live: no BBC corpus at $DATA/bbc" >&2; exit 2; }

# --lexical is a global flag: it goes before the subcommand.
GLOBAL=()
[ "${LEXICAL:-0}" = 1 ] && GLOBAL+=(--lexical)

WORK="$(mktemp -d "${TMPDIR:-/tmp}/bench-live.XXXXXX")"
SERVER=""
cleanup() {
    # Stop the server we started, by its PID: SIGTERM first (it finishes
    # requests in flight and commits the index), SIGKILL after 15 s.
    if [ -n "$SERVER" ] && kill -0 "$SERVER" 2>/dev/null; then
        kill -TERM "$SERVER" 2>/dev/null || true
        for _ in $(seq 150); do
            kill -0 "$SERVER" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -n "${STORE:-}" ]; then
    [ -d "$STORE" ] || { echo "bench-live: STORE=$STORE is not a folder" >&2; exit 2; }
    if [ "${STORE_INPLACE:-0}" = 1 ]; then
        DIR="$STORE"
    else
        # The run PUTs articles and records clicks: keep the given store as it was.
        echo "== copying $STORE (STORE_INPLACE=1 serves it in place)"
        cp -a "$STORE" "$WORK/store"
        DIR="$WORK/store"
    fi
else
    DIR="$WORK/store"
    echo "== ingesting $DATA/wh-briefings${LEXICAL:+ (LEXICAL=$LEXICAL)}"
    started=$SECONDS
    # Exit status 1 means some files failed and the rest was stored; only
    # 2 (the command itself failed) stops the benchmark.
    rc=0
    "$BIN" --store "$DIR" ${GLOBAL[@]+"${GLOBAL[@]}"} ingest -q "$DATA/wh-briefings" || rc=$?
    [ "$rc" -le 1 ] || { echo "bench-live: ingest failed (exit $rc)" >&2; exit 2; }
    echo "   ingested in $((SECONDS - started)) s"
fi

PORT="${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
# Loopback only; no rate limits (one client at 64 connections); no API keys
# (none configured means every route is open, so the environment's keys or
# config file, which could close the write routes, are left out).
env -u READNEXT_API_KEYS -u READNEXT_CONFIG \
    "$BIN" --store "$DIR" ${GLOBAL[@]+"${GLOBAL[@]}"} serve --addr "127.0.0.1:$PORT" --rate-limit-ip 0 \
    >"$WORK/serve.log" 2>&1 &
SERVER=$!
ready=""
for _ in $(seq 600); do
    kill -0 "$SERVER" 2>/dev/null || break
    if curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then ready=1; break; fi
    sleep 0.2
done
if [ -z "$ready" ]; then
    echo "bench-live: the server did not become ready in 120 s; its log:" >&2
    tail -n 30 "$WORK/serve.log" >&2
    exit 2
fi
echo "== serving $DIR on 127.0.0.1:$PORT (PID $SERVER)"
# The server computes every stored article's block by itself after it
# starts (its warmer); /readyz says "warm": true when the first pass is done.
# Phase 1 starts then, and the time it took is printed (WARM_WAIT bounds it;
# WARM_WAIT=0 starts at once).
WARM_WAIT="${WARM_WAIT:-900}"
t_warm=$(date +%s.%N)
for _ in $(seq $((WARM_WAIT * 5))); do
    curl -sf "http://127.0.0.1:$PORT/readyz" 2>/dev/null | grep -q '"warm":true' && break
    kill -0 "$SERVER" 2>/dev/null || break
    sleep 0.2
done
echo "== the server warmed its blocks in $(python3 -c "print(f'{$(date +%s.%N) - $t_warm:.1f}')") s (WARM_WAIT ${WARM_WAIT} s)"

# A hard bound on the whole run (a watchdog: a normal run takes a fraction
# of it): the phases, the lag trials (each at most TRIAL_SETUP_BUDGET to
# set up, REQUEST_TIMEOUT for its ack, FRESH_TIMEOUT of polling), the
# writers' last requests, and slack for setup.
export REQUEST_TIMEOUT="${REQUEST_TIMEOUT:-30}" TRIAL_SETUP_BUDGET="${TRIAL_SETUP_BUDGET:-60}"
LIMIT=$((3 * PHASE_SECONDS + FRESH_TRIALS * 2 * (${TRIAL_SETUP_BUDGET%.*} + ${REQUEST_TIMEOUT%.*} + ${FRESH_TIMEOUT%.*}) + 3 * ${REQUEST_TIMEOUT%.*} + 240))
rc=0
timeout -k 10 "$LIMIT" python3 scripts/bench_live.py --port "$PORT" --pid "$SERVER" \
    --bbc "$DATA/bbc" --work "$WORK" ${JSON:+--json "$JSON"} || rc=$?
if [ "$rc" -ne 0 ]; then
    echo "bench-live: the driver failed (exit $rc); the server's log ends:" >&2
    tail -n 20 "$WORK/serve.log" >&2
fi
exit "$rc"
