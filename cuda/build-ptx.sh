#!/usr/bin/env bash
# Regenerates cuda/*.ptx from cuda/*.cu with the pinned NVRTC (12.0.140, PTX ISA 8.0,
# compute_70), deterministically: the same sources give the same bytes.
# usage: bash cuda/build-ptx.sh [OUT_DIR]   (default: cuda/, i.e. the committed files)
set -euo pipefail
cd "$(dirname "$0")"
source ./toolchain.sh
out=${1:-.}
mkdir -p "$out"
for source in *.cu; do
  "$PYTHON" nvrtc_compile.py "$NVRTC_LIB" "$source" "$out/${source%.cu}.ptx"
done
