#!/usr/bin/env bash
# Build the wasm engine into pkg/wasm/ (wasm-bindgen --target web).
#
#   bash pkg/build.sh                          # dev profile (default; what the tests use)
#   GEODETECT_PROFILE=release bash pkg/build.sh  # release: fat LTO, then wasm-opt if available
#
# Environment:
#   GEODETECT_PROFILE   cargo profile: dev (default), release, or a custom profile name
#   CARGO_TARGET_DIR    honoured, as cargo does (default: <repo>/target)
#   GEODETECT_WASM_OPT  path of a wasm-opt to use for release builds (must be binaryen >= 132;
#                       default: pkg/node_modules/.bin/wasm-opt from `npm --prefix pkg
#                       install --no-save binaryen@132.0.0`). Debian's binaryen is never used:
#                       its wasm-opt breaks current wasm-bindgen output.
#   GEODETECT_WASM_OPT_FLAGS  flags for wasm-opt (default: -O3)
#
# Any failing step stops the script with a non-zero exit status.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
profile="${GEODETECT_PROFILE:-dev}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
case "$profile" in
  dev) profile_dir=debug ;;
  release) profile_dir=release ;;
  *) profile_dir="$profile" ;;
esac
out_dir="$here/wasm"

die() {
  echo "pkg/build.sh: error: $*" >&2
  exit 1
}
step() { echo "pkg/build.sh: $*" >&2; }

command -v cargo >/dev/null || die "cargo not found on PATH"
command -v wasm-bindgen >/dev/null || die "wasm-bindgen not found on PATH (cargo install wasm-bindgen-cli --version <the wasm-bindgen version in Cargo.lock>)"
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  die "the wasm32-unknown-unknown target is not installed (rustup target add wasm32-unknown-unknown)"
fi

# The CLI must be exactly the version of the wasm-bindgen crate, or the output is unusable.
lock_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$root/Cargo.lock" 2>/dev/null || true)"
cli_version="$(wasm-bindgen --version | awk '{ print $2 }')"
if [ -n "$lock_version" ] && [ "$lock_version" != "$cli_version" ]; then
  die "wasm-bindgen CLI is $cli_version but Cargo.lock has wasm-bindgen $lock_version (cargo install wasm-bindgen-cli --version $lock_version)"
fi

step "cargo build --lib --target wasm32-unknown-unknown --profile $profile"
(cd "$root" && cargo build --lib --target wasm32-unknown-unknown --profile "$profile")

wasm_in="$target_dir/wasm32-unknown-unknown/$profile_dir/geodetect.wasm"
[ -f "$wasm_in" ] || die "cargo did not produce $wasm_in"

# Build into a fresh directory and swap it in, so a failed build never leaves a
# half-written pkg/wasm behind.
tmp_out="$(mktemp -d "$here/.wasm-build.XXXXXX")"
trap 'rm -rf "$tmp_out"' EXIT

step "wasm-bindgen --target web -> pkg/wasm/geodetect.js"
wasm-bindgen --target web --out-dir "$tmp_out" --out-name geodetect "$wasm_in"

for f in geodetect.js geodetect_bg.wasm geodetect.d.ts; do
  [ -s "$tmp_out/$f" ] || die "wasm-bindgen did not produce $f"
done

# wasm-ld wraps every export in a "command_export" that reruns all static constructors when
# the module never runs them itself; each call from JS into the module then costs ~0.7 ms.
# src/web/mod.rs (run_constructors_once) runs them once: keep it that way.
if grep -q 'command_export' "$tmp_out/geodetect.js"; then
  die "the wasm exports are wrapped to rerun the static constructors on every call (wasm-ld 'command' linking); see run_constructors_once in src/web/mod.rs"
fi

if [ "$profile" = release ]; then
  wasm_opt="${GEODETECT_WASM_OPT:-$here/node_modules/.bin/wasm-opt}"
  if [ -x "$wasm_opt" ]; then
    flags="${GEODETECT_WASM_OPT_FLAGS:--O3}"
    step "wasm-opt $flags ($wasm_opt; this takes minutes)"
    # shellcheck disable=SC2086
    "$wasm_opt" $flags --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
      --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
      "$tmp_out/geodetect_bg.wasm" -o "$tmp_out/geodetect_bg.opt.wasm"
    mv "$tmp_out/geodetect_bg.opt.wasm" "$tmp_out/geodetect_bg.wasm"
  else
    step "no wasm-opt at $wasm_opt; skipping (npm --prefix pkg install --no-save binaryen@132.0.0 to enable)"
  fi
fi

rm -rf "$out_dir"
mv "$tmp_out" "$out_dir"
chmod 755 "$out_dir"
trap - EXIT
step "done: $(du -h "$out_dir/geodetect_bg.wasm" | cut -f1) pkg/wasm/geodetect_bg.wasm ($profile)"
