#!/usr/bin/env bash
# The PTX audit (CI runs it; no GPU needed):
#  (a) the committed cuda/*.ptx equal what build-ptx.sh regenerates from the sources;
#  (b) ptxas 12.0 accepts each for sm_70, sm_80 and sm_90 with no spills and no stack frame
#      (registers per kernel are printed);
#  (c) no instruction can break bit identity (audit_ptx.py).
set -euo pipefail
cd "$(dirname "$0")"
source ./toolchain.sh
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
bash build-ptx.sh "$fresh" 2>"$fresh/log" || { cat "$fresh/log"; exit 1; }
status=0
kernels=$(ls *.cu | sed 's/\.cu$//')
for kernel in $kernels; do
  if ! cmp -s "$kernel.ptx" "$fresh/$kernel.ptx"; then
    echo "cuda/$kernel.ptx is stale: run bash cuda/build-ptx.sh and commit the result"
    status=1
  fi
done
printf '%-20s %-6s %9s %s\n' kernel arch registers "stack/spills"
for kernel in $kernels; do
  for arch in sm_70 sm_80 sm_90; do
    report=$("$PTXAS" -arch="$arch" -v "$kernel.ptx" -o /dev/null 2>&1) || { echo "$report"; status=1; continue; }
    # One "Compiling entry function" block per kernel: its stack/spill line, then registers.
    echo "$report" | awk -v arch="$arch" '
      /Compiling entry function/ { match($0, /'"'"'[^'"'"']+'"'"'/); name = substr($0, RSTART + 1, RLENGTH - 2) }
      /bytes stack frame/ { frame = $2 + 0; spills = $6 + 0 + $10; }
      /Used [0-9]+ registers/ { match($0, /Used [0-9]+/); regs = substr($0, RSTART + 5, RLENGTH - 5);
        printf "%-20s %-6s %9s %s\n", name, arch, regs, frame "/" spills;
        if (frame != 0 || spills != 0) bad = 1 }
      END { exit bad }' || { echo "^ stack frame or spills in $kernel for $arch"; status=1; }
  done
done
"$PYTHON" audit_ptx.py $(printf '%s.ptx ' $kernels) || status=1
exit $status
