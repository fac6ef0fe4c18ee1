# Sourced by build-ptx.sh and audit-ptx.sh: installs the pinned CUDA 12.0 compilers from PyPI
# into a throwaway venv (no toolkit, no GPU) and exports NVRTC_LIB, PTXAS and PYTHON.
NVRTC_VERSION=12.0.140
PTXAS_VERSION=12.0.140 # nvidia-cuda-nvcc-cu12, which ships ptxas
venv=${ITO_CUDA_VENV:-"$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/cuda-venv"}
stamp="$venv/.ito-pins-$NVRTC_VERSION-$PTXAS_VERSION"
if [ ! -f "$stamp" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "nvidia-cuda-nvrtc-cu12==$NVRTC_VERSION" "nvidia-cuda-nvcc-cu12==$PTXAS_VERSION"
  touch "$stamp"
fi
site=$(echo "$venv"/lib/python3*/site-packages)
export NVRTC_LIB="$site/nvidia/cuda_nvrtc/lib/libnvrtc.so.12"
export PTXAS="$site/nvidia/cuda_nvcc/bin/ptxas"
export PYTHON="$venv/bin/python"
