#!/usr/bin/env bash
# HTTP load benchmark: GET /v1/articles/{id}/related over the White House
# corpus, 64 connections, on this machine, with wrk (installed from Debian's
# packages when missing). Prints wrk's figures for:
#   1. a cold pass: one request per article, in order, nothing cached;
#   2. the measured run: uniformly random articles for DURATION seconds,
#      blocks served from the engine's block cache once computed.
# Environment: READNEXT_DATA (corpus root), DURATION (default 30), PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${READNEXT_DATA:-../shared/data}"
DURATION="${DURATION:-30}"
PORT="${PORT:-18181}"
if ! command -v wrk >/dev/null; then
    (apt-get install -y wrk || (apt-get update && apt-get install -y wrk)) >/dev/null
fi
cargo build --release --locked
BIN=target/release/readnext
WORK="$(mktemp -d)"
trap 'kill "$SERVER" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
"$BIN" --store "$WORK/store" ingest -q "$DATA/wh-briefings"
# No rate limits: the benchmark is one client at 64 connections.
"$BIN" --store "$WORK/store" serve --addr "127.0.0.1:$PORT" --rate-limit-ip 0 >"$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break
    sleep 0.2
done
# Every stored id, one per line.
python3 - "$PORT" >"$WORK/ids.txt" <<'PY'
import json, sys, urllib.request
after, port = None, sys.argv[1]
while True:
    url = f"http://127.0.0.1:{port}/v1/articles?limit=5000" + (f"&after={after}" if after else "")
    page = json.load(urllib.request.urlopen(url))
    print("\n".join(page["ids"]))
    after = page["next"]
    if not after:
        break
PY
N=$(wc -l <"$WORK/ids.txt")
cat >"$WORK/related.lua" <<LUA
local ids = {}
for line in io.lines("$WORK/ids.txt") do ids[#ids + 1] = line end
local mode = os.getenv("MODE") or "random"
local counter = 0
local threads = 0
-- Each wrk thread has its own Lua state: in the cold pass, thread t takes
-- every other article starting at t, so no article is asked for twice.
setup = function(thread) thread:set("tid", threads); threads = threads + 1 end
math.randomseed(20221108)
local started = nil
request = function()
  local id
  if not started then started = os.time() end
  if mode == "cold" then
    counter = counter + 1
    id = ids[((2 * (counter - 1) + (tid or 0)) % #ids) + 1]
  else
    id = ids[math.random(#ids)]
  end
  return wrk.format("GET", "/v1/articles/" .. id .. "/related?k=8")
end
-- The cold pass ends when each thread has asked for its half of the articles.
if mode == "cold" then
  response = function(status, headers, body)
    if counter >= #ids / 2 and started then
      io.write(string.format("cold pass: a thread computed %d blocks in %d s\n", counter, os.time() - started))
      started = nil
      wrk.thread:stop()
    end
  end
end
LUA
echo "== $N articles; cold pass (each article's block computed once, no cache)"
echo "   (wrk waits out -d: read the rate from the 'cold pass' lines, the latency from wrk)"
MODE=cold wrk -t2 -c64 -d60s --latency -s "$WORK/related.lua" "http://127.0.0.1:$PORT" | sed -n '1,14p'
echo "== measured: random articles, 64 connections, ${DURATION}s"
wrk -t2 -c64 -d"${DURATION}s" --latency -s "$WORK/related.lua" "http://127.0.0.1:$PORT"
