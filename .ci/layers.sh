#!/usr/bin/env bash
# The layer check: each layer of the crate `ito` imports only from the layers below it.
#
#   1  maths            kernels/ (crate ito-kernels; a separate crate, so the compiler enforces it)
#   2  dispatch/runtime src/runtime/   may name crate::runtime only
#   3a SDE tools        src/sde/       may name crate::runtime, crate::sde
#   3b diffusion        src/diffusion/ may name crate::runtime, crate::sde, crate::diffusion
#
# A path through the crate root (`crate::Backend`, `use crate::{..}`) is refused in every layer,
# since the root re-exports names of all layers and would hide an upward import; `super::super`
# likewise. Code and doc links are both checked: a doc link is an import a reader follows.
set -euo pipefail
cd "$(dirname "$0")/.."

fail=0
# Remove every allowed path occurrence first, then look for any crate:: left on the line.
check_strict() {
  local folder=$1 allowed=$2
  local hits
  hits=$(grep -rnE 'crate::|super::super' "$folder" --include='*.rs' \
    | sed -E "s/crate::($allowed)::?//g; s/crate::($allowed)\b//g" \
    | grep -E 'crate::|super::super' || true)
  if [ -n "$hits" ]; then
    echo "layer check: $folder imports from outside crate::{${allowed//|/, }} (a higher layer or the crate root):"
    echo "$hits"
    fail=1
  fi
}
# A layer's mod.rs sits at the crate root's level: `super::` there names the root.
if grep -nE '\bsuper::' src/runtime/mod.rs src/sde/mod.rs src/diffusion/mod.rs; then
  echo "layer check: a layer's mod.rs reaches the crate root through super::"
  fail=1
fi
check_strict src/runtime 'runtime'
check_strict src/sde 'runtime|sde'
check_strict src/diffusion 'runtime|sde|diffusion'
# The maths crate uses no other crate of the workspace (its Cargo.toml has no such dependency,
# so the compiler enforces it; this names the rule where the others are).
if grep -nE '^\s*ito\s*=|path\s*=\s*"\.\."' kernels/Cargo.toml; then
  echo "layer check: kernels/ depends on a crate above it"
  fail=1
fi
if [ "$fail" -ne 0 ]; then
  exit 1
fi
echo "layer check: runtime → sde → diffusion, no upward imports"
