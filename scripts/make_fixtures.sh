#!/usr/bin/env bash
# Regenerates the diffusers known-answer fixtures in tests/data/diffusers/ (see the
# docstring of scripts/make_fixtures.py for what they contain).
#
# Creates (once) a throwaway virtual environment in target/fixtures-venv (git-ignored)
# with pinned diffusers, torch and numpy from PyPI, then runs make_fixtures.py. The
# script calls `cargo run --release --quiet --example print_normals` for ito's noise.
# Re-running it reuses the environment and rewrites the same bytes. The environment's
# pins and set-up (and a note on the size of the torch wheel) are in scripts/venv.sh,
# shared with scripts/bench_diffusers.sh.
#
# Usage: bash scripts/make_fixtures.sh [extra make_fixtures.py args, e.g. --only dpmpp_2m]
set -euo pipefail

cd "$(dirname "$0")/.."

# shellcheck source=scripts/venv.sh
. scripts/venv.sh
OUT=tests/data/diffusers

ensure_venv make_fixtures.sh

mkdir -p "$OUT"
# Quiet the FutureWarnings diffusers prints for algorithm_type=dpmsolver.
PYTHONWARNINGS=ignore::FutureWarning "$VENV/bin/python" scripts/make_fixtures.py --out "$OUT" "$@"
