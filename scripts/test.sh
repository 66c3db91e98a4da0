#!/usr/bin/env bash
# Everything CI checks: formatting, lints, and the whole test suite in
# release mode (the real-data tests ingest 13k documents; the model-free
# ranking is fast, but debug builds of tantivy are not).
set -euo pipefail
cd "$(dirname "$0")/.."

export READNEXT_DATA="${READNEXT_DATA:-$(pwd)/../shared/data}"

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --release --workspace --locked
