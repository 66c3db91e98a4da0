#!/usr/bin/env bash
# The OpenAPI document is the contract publishers generate clients from.
# This runs schemathesis (from PyPI) with every check against a real
# `readnext serve` on loopback, over a few stored articles, with an admin
# key: a request the document allows must not be refused, one it forbids
# must be, every answer must match its declared status, type and schema,
# and nothing may answer 5xx. Exits non-zero on any failure.
# scripts/test.sh runs it after the tests, with the binary they built.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${READNEXT_BIN:-target/release/readnext}"
ST_VERSION=4.32.5
# A scratch install under target/ (ignored by git), kept between runs.
TOOLS="$(pwd)/target/tools/schemathesis-$ST_VERSION"
[ -x "$BIN" ] || { echo "api-contract: no $BIN: build it with cargo build --release" >&2; exit 1; }
if [ ! -x "$TOOLS/bin/schemathesis" ]; then
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
        --target "$TOOLS" "schemathesis==$ST_VERSION"
fi

WORK="$(mktemp -d)"
PID=""
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

cat > "$WORK/articles.jsonl" <<'JSONL'
{"id": "cartels", "title": "US threatens military action against Mexican cartels", "body": "The defense secretary said the United States could act against drug cartels in Mexico. President Claudia Sheinbaum rejected any intervention.", "published": "2025-03-03", "section": "world"}
{"id": "tariffs", "title": "Tariffs on Mexican goods take effect", "body": "The tariffs took effect after talks with Sheinbaum on cartels and fentanyl failed.", "published": "2025-03-04", "section": "business", "url": "https://news.example/tariffs"}
{"id": "baseball", "title": "Baseball season opens", "body": "The home team won the opening game of the baseball season.", "published": "2025-03-05", "section": "sport"}
JSONL
"$BIN" --store "$WORK/store" ingest --quiet "$WORK/articles.jsonl"

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
KEY="contract-$RANDOM$RANDOM"
"$BIN" --store "$WORK/store" serve --addr "127.0.0.1:$PORT" --api-keys "$KEY=admin" \
    --rate-limit-ip 0 --rate-limit-key 0 >"$WORK/serve.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
    sleep 0.2
done

status=0
# From the scratch folder: schemathesis writes its cache where it runs.
(cd "$WORK" && PYTHONPATH="$TOOLS" "$TOOLS/bin/schemathesis" run --checks all --max-examples 60 \
    --header "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/v1/openapi.json") || status=$?
if [ "$status" -ne 0 ]; then
    echo "api-contract: schemathesis found failures (exit $status); the server's log:" >&2
    tail -50 "$WORK/serve.log" >&2
fi
exit "$status"
