#!/usr/bin/env bash
# Speed and memory, side by side in one run: readnext (and its in-process
# TF-IDF baseline) then the plain scikit-learn script on the same corpus and
# the same number of queries. Extra arguments go to `readnext bench`
# (for example --scale 50000,200000 for the synthetic growth runs).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${READNEXT_DATA:-../shared/data}"
QUERIES="${QUERIES:-1000}"
cargo build --release --locked
python3 -c "import sklearn" 2>/dev/null || pip install --quiet scikit-learn
target/release/readnext bench --data "$DATA/wh-briefings" --queries "$QUERIES" "$@"
python3 scripts/sklearn_baseline.py "$DATA/wh-briefings" "$QUERIES"
