# shellcheck shell=bash
# The pinned diffusers/torch/numpy virtual environment in target/fixtures-venv
# (git-ignored), shared by scripts/make_fixtures.sh and scripts/bench_diffusers.sh.
#
# Source it from the repository root (paths are relative), then call
# `ensure_venv NAME`: it creates the environment once with pinned diffusers, torch and
# numpy from PyPI (NAME prefixes the message it prints when it does), and reuses it while
# the pins in its stamp file match. Afterwards "$VENV/bin/python" is the interpreter.
#
# torch: the PyPI wheel for linux x86_64 is the CUDA build and pulls ~4 GB of
# nvidia-*/cuda-* wheels (about a minute on a fast link; 5.3 GB venv). They are only
# loaded, never used: torch imports and computes on a CPU-only machine. PyPI has no
# CPU-only torch wheel for linux x86_64, and `pip install --no-deps torch` does not
# import (torch preloads libcublasLt & co. at import time).

DIFFUSERS_VERSION=0.42.1
TORCH_VERSION=2.15.0
NUMPY_VERSION=2.4.6
PYTHON=${PYTHON:-python3}
VENV=target/fixtures-venv

# Versions of everything else the three pull in, as resolved when the fixtures were
# made (pip constraints: they only pin, they add nothing).
CONSTRAINTS="
anyio==4.16.0
certifi==2026.10.18
charset-normalizer==3.5.2
click==8.5.1
cuda-bindings==13.5.0
cuda-pathfinder==1.9.0
cuda-toolkit==13.2.2
filelock==4.2.12
fsspec==2026.9.0
h11==0.16.0
hf-xet==1.8.0
httpcore2==2.16.2
httpx2==2.16.2
huggingface_hub==2.4.0
idna==3.20
importlib_metadata==10.2.0
Jinja2==3.1.6
lazy-importer==0.1.0
MarkupSafe==3.0.4
mpmath==1.3.0
networkx==3.6.1
nvidia-cublas==13.4.1.3
nvidia-cuda-cccl==13.3.5.0.6
nvidia-cuda-cupti==13.2.86
nvidia-cuda-nvrtc==13.2.86
nvidia-cuda-runtime==13.2.86
nvidia-cudnn-cu13==9.26.0.51
nvidia-cufft==12.2.0.57
nvidia-cufile==1.17.1.22
nvidia-cusolver==12.2.0.11
nvidia-cusparse==12.7.10.12
nvidia-cusparselt-cu13==0.8.1
nvidia-nccl-cu13==2.30.7
nvidia-nvjitlink==13.5.37
nvidia-nvshmem-cu13==3.7.2
nvidia-nvtx==13.2.86
packaging==26.3
pillow==13.0.0
PyYAML==6.0.3
regex==2026.11.15
requests==2.34.2
safetensors==0.8.0
sympy==1.14.0
tqdm==4.70.1
triton==3.9.0
truststore==0.10.5
typing_extensions==4.16.0
urllib3==2.8.0
zipp==4.1.2
"

PINS="diffusers==$DIFFUSERS_VERSION torch==$TORCH_VERSION numpy==$NUMPY_VERSION"
STAMP="$VENV/.fixture-pins"

# ensure_venv NAME: create $VENV unless it exists with the current pins.
ensure_venv() {
    if [ ! -x "$VENV/bin/python" ] || [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$PINS" ]; then
        echo "$1: creating $VENV with $PINS" >&2
        rm -rf "$VENV"
        "$PYTHON" -m venv "$VENV"
        printf '%s\n' "$CONSTRAINTS" > "$VENV/constraints.txt"
        # shellcheck disable=SC2086
        "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet \
            -c "$VENV/constraints.txt" $PINS
        echo "$PINS" > "$STAMP"
    fi
}
