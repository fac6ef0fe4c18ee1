#!/usr/bin/env bash
# Builds ito's C API (release) and installs it under PREFIX:
#   PREFIX/lib/libito_capi.a, PREFIX/lib/libito_capi.so, PREFIX/include/ito.h,
#   PREFIX/lib/pkgconfig/ito_capi.pc
# then: cc main.c $(pkg-config --cflags --libs ito_capi)            (the shared library)
#   or: cc main.c $(pkg-config --cflags ito_capi) PREFIX/lib/libito_capi.a -lpthread -ldl -lm
#       (static: with both installed, -lito_capi picks the .so even under --static)
# cargo's target directory is $CARGO_TARGET_DIR if set, else the repository's target/.
set -euo pipefail

if [ "$#" -ne 1 ] || [ -z "$1" ]; then
  echo "usage: bash capi/install.sh PREFIX   (e.g. /usr/local; run from anywhere)" >&2
  exit 2
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Absolute paths: cargo runs from the repository, and the .pc file needs an absolute prefix.
mkdir -p "$1"
prefix=$(cd "$1" && pwd)
target_dir=${CARGO_TARGET_DIR:-$repo/target}
case "$target_dir" in /*) ;; *) target_dir=$PWD/$target_dir ;; esac

# From the repository, so that its .cargo/config.toml (if any) applies.
(cd "$repo" && "${CARGO:-cargo}" build --release -p ito-capi \
  --manifest-path "$repo/Cargo.toml" --target-dir "$target_dir")

shared=libito_capi.so
[ "$(uname -s)" = Darwin ] && shared=libito_capi.dylib

install -d "$prefix/lib/pkgconfig" "$prefix/include"
install -m 644 "$target_dir/release/libito_capi.a" "$prefix/lib/"
install -m 755 "$target_dir/release/$shared" "$prefix/lib/"
install -m 644 "$repo/capi/include/ito.h" "$prefix/include/"
# @PREFIX@ -> the prefix, with sed's special characters (\ & and the | delimiter) escaped.
escaped=$(printf '%s' "$prefix" | sed 's/[\\&|]/\\&/g')
sed "s|@PREFIX@|$escaped|g" "$repo/capi/ito_capi.pc.in" > "$prefix/lib/pkgconfig/ito_capi.pc"
chmod 644 "$prefix/lib/pkgconfig/ito_capi.pc"

echo "installed ito's C API under $prefix"
echo "  PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs --static ito_capi"
