#!/usr/bin/env bash
# The CUDA checks for a GPU machine, in two commands:
#
#   bash scripts/gpu-kit.sh build [DIR]   here (Rust toolchain): prebuilds the CUDA test and
#                                         bench binaries into DIR (default target/gpu-kit)
#   bash DIR/run.sh                       there (no toolchain): runs them and prints a summary
#
# run.sh: the device tests (every kernel × storage type equal to scalar over the property
# inputs, unaligned views, shards across devices, graph replay, wrong-device errors, cuRAND's
# raw Philox words where the machine has NVRTC and curand_kernel.h), the same
# under compute-sanitizer memcheck when it is installed (fewer cases), the CUDA benches with
# the device-to-device copy ceiling, and torch.randn's normals/s when PyTorch is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=${1:-build}
[ "$cmd" = build ] || { echo "usage: bash scripts/gpu-kit.sh build [DIR]"; exit 2; }
out=${2:-target/gpu-kit}
mkdir -p "$out"
# Test and bench executables, found from cargo's JSON messages.
exes=$(cargo test --release --no-run --test cuda_device --message-format=json 2>/dev/null;
       cargo bench --no-run --bench lincomb --bench fill_normal --bench reduce \
         --bench brownian_tree --bench langevin --bench sde --bench ou_bank --message-format=json 2>/dev/null)
echo "$exes" | python3 -c '
import json, shutil, sys
out = sys.argv[1]
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        name = m["target"]["name"]
        shutil.copy(m["executable"], f"{out}/{name}")
        print(f"{out}/{name}")
' "$out"
cp scripts/gpu_peers.py "$out/"
cat > "$out/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs ito's CUDA checks on this machine (see scripts/gpu-kit.sh); prints a summary at the end.
set -uo pipefail
cd "$(dirname "$0")"
# A device test or bench that finds no device fails rather than skips.
export ITO_REQUIRE_CUDA=1
log=$(mktemp)
summary=()
nvidia-smi -L 2>/dev/null || echo "nvidia-smi: not found"
if ./cuda_device --test-threads=1 --nocapture 2>&1 | tee -a "$log"; then
  summary+=("device tests: PASS ($(grep -h '^test result' "$log" | tail -n 1); $(grep -c 'skipped' "$log") skipped)")
else
  summary+=("device tests: FAIL (see above)")
fi
if command -v compute-sanitizer >/dev/null; then
  if PROPTEST_CASES=16 compute-sanitizer --tool memcheck --error-exitcode 9 ./cuda_device --test-threads=1 >"$log.san" 2>&1; then
    summary+=("compute-sanitizer memcheck: clean")
  else
    tail -n 40 "$log.san"
    summary+=("compute-sanitizer memcheck: ERRORS (see above)")
  fi
else
  summary+=("compute-sanitizer: not installed, memcheck not run")
fi
for b in lincomb fill_normal reduce brownian_tree langevin sde ou_bank; do
  ./"$b" --bench cuda 2>&1 | tee "$log.$b" | grep -E '^(lincomb|fill_normal|reduce|brownian_tree|langevin|sde|ou_bank|ceiling)/|thrpt' || true
done
copy=$(grep -h -A2 'copy-d2d' "$log.lincomb" | grep -o 'thrpt:.*' | head -n 1)
summary+=("benches: ${copy:+d2d copy $copy; figures above}${copy:-not run (no device)}")
if python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
  python3 gpu_peers.py | tee "$log.peers"
  summary+=("torch.randn: $(grep -h 'randn' "$log.peers" | head -n 1)")
else
  summary+=("torch: not installed or no CUDA, peer figures not taken")
fi
echo; echo "=== summary"; printf '%s\n' "${summary[@]}"
RUN
chmod +x "$out/run.sh"
echo "kit ready: $out (run: bash $out/run.sh)"
