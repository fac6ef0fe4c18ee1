#!/usr/bin/env bash
# Side-by-side benchmark: one steady-state step of diffusers' schedulers (torch, CPU,
# float32) vs ito's fused solver step (benches/solvers.rs, criterion), with the memory
# bandwidth ceiling measured in the same run. See scripts/bench_diffusers.py.
#
# Uses (creating it once, ~5 GB) the pinned environment of scripts/venv.sh, shared with
# scripts/make_fixtures.sh.
#
# Usage: bash scripts/bench_diffusers.sh [--n N] [--threads T] [--steps S]
#                                        [--diffusers-only | --ito-only] [--help for more]
# The full comparison (N = 2^24, all cores) is the default: bash scripts/bench_diffusers.sh
set -euo pipefail

cd "$(dirname "$0")/.."

# shellcheck source=scripts/venv.sh
. scripts/venv.sh

ensure_venv bench_diffusers.sh

# Quiet the FutureWarnings diffusers may print for deprecated config values.
PYTHONWARNINGS=ignore::FutureWarning "$VENV/bin/python" scripts/bench_diffusers.py "$@"
