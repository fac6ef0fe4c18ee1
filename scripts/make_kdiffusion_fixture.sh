#!/usr/bin/env bash
# Regenerates capi/tests/data/kdiffusion_dpmpp_2m.txt, k-diffusion's DPM-Solver++(2M)
# trajectory on an analytic Gaussian denoiser in float64 (see the docstring of
# scripts/make_kdiffusion_fixture.py for the problem and the file format).
#
# Creates or reuses the pinned torch/numpy environment in target/fixtures-venv
# (git-ignored; scripts/venv.sh, shared with make_fixtures.sh and bench_diffusers.sh),
# then installs k-diffusion and the few packages its sampling module imports, with
# exact pins and --no-deps, into target/fixtures-venv/kdiffusion-lib (stamped with the
# pins; reinstalled when they change, and gone whenever venv.sh rebuilds the venv).
# That folder goes on PYTHONPATH for this script only, so the shared environment's
# site-packages stay as venv.sh makes them. Re-running rewrites the same bytes.
#
# Usage: bash scripts/make_kdiffusion_fixture.sh [extra make_kdiffusion_fixture.py args]
set -euo pipefail

cd "$(dirname "$0")/.."

# shellcheck source=scripts/venv.sh
. scripts/venv.sh
OUT=capi/tests/data/kdiffusion_dpmpp_2m.txt

# k-diffusion's own Requires-Dist (clip, wandb, kornia, ...) is only needed by its other
# modules; make_kdiffusion_fixture.py imports k_diffusion.sampling alone, which needs
# these (tqdm, Pillow and safetensors come with the diffusers environment).
KD_PINS="k-diffusion==0.1.1.post1 scipy==1.17.1 torchsde==0.2.6 torchdiffeq==0.2.5 trampoline==0.1.2 torchvision==0.29.2"
KD_LIB="$VENV/kdiffusion-lib"
KD_STAMP="$KD_LIB/.kdiffusion-pins"

ensure_venv make_kdiffusion_fixture.sh

if [ ! -f "$KD_STAMP" ] || [ "$(cat "$KD_STAMP")" != "$KD_PINS" ]; then
    echo "make_kdiffusion_fixture.sh: installing $KD_PINS into $KD_LIB" >&2
    rm -rf "$KD_LIB"
    # shellcheck disable=SC2086
    "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet --no-deps \
        --target "$KD_LIB" $KD_PINS
    echo "$KD_PINS" > "$KD_STAMP"
fi

mkdir -p "$(dirname "$OUT")"
PYTHONPATH="$KD_LIB" "$VENV/bin/python" scripts/make_kdiffusion_fixture.py --out "$OUT" "$@"
