#!/usr/bin/env bash
# Everything CI checks: formatting, lints, the whole test suite in release
# mode (the real-data tests ingest 13k documents; the model-free ranking is
# fast, but debug builds of tantivy are not), and the OpenAPI contract
# against a running server.
set -euo pipefail
cd "$(dirname "$0")/.."

export READNEXT_DATA="${READNEXT_DATA:-$(pwd)/../shared/data}"

# The browser test drives Debian's Chromium through chromedriver.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get install -y -q chromium chromium-driver >/dev/null ||
        ($SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q chromium chromium-driver >/dev/null)
fi

# The encoder tests and the hybrid tests need the model.
scripts/fetch-model.sh
export READNEXT_MODEL="${READNEXT_MODEL:-$(pwd)/models/all-MiniLM-L6-v2}"

START=$SECONDS
step() { echo "test.sh: $1 done at $((SECONDS - START)) s"; }
cargo fmt --all -- --check
# In the release profile, as the tests: cargo then builds the build scripts
# and proc-macros once for both (they are shared between check and build
# units of one profile), where the dev profile built them a second time.
cargo clippy --release --all-targets --locked -- -D warnings
step clippy
cargo test --release --workspace --locked
step "the tests"
scripts/api-contract.sh
step "the API contract"
