#!/usr/bin/env bash
# Build the wasm engines listed in pkg/engines.mjs (wasm-bindgen --target web); pkg/worker.js
# loads one of them at run time, so a browser downloads only the one it runs:
#   pkg/wasm/                  CPU, one thread (stable Rust): the default where nothing more is
#                              available, and the smallest
#   pkg/wasm-relaxed/          the same with wasm relaxed SIMD (feature `relaxed-simd`: fused
#                              multiply-add in the convolution kernel), for browsers that
#                              validate it
#   pkg/wasm-threads/          the CPU path on a rayon pool of web workers (wasm-bindgen-rayon):
#                              wasm atomics and shared memory, which need the std rebuilt with
#                              them, i.e. a pinned nightly with rust-src and -Z build-std; CPU
#                              only (wgpu does not build with atomics); for cross-origin-isolated
#                              pages
#   pkg/wasm-threads-relaxed/  the same with relaxed SIMD
#   pkg/wasm-webgpu/           WebGPU, with the CPU path as its fallback (feature `webgpu`):
#                              loaded only when the browser offers a WebGPU adapter
# The relaxed engines differ from their plain twins only in geodetect's own feature, so they
# reuse every dependency's artifacts: each costs one LTO link and one wasm-opt.
# wasm-opt (npm's binaryen: wasm on node, one thread; about 3 minutes for the WebGPU engine
# and 1 for the others) runs in the background, at most two at a time, while the next engine
# compiles; the script waits for them before the CDN build. Measured with warm dependencies,
# four engines: 7.4 min (one after the other, all five took about 13).
#
#   bash pkg/build.sh                        # release (default): fat LTO, then wasm-opt -O3;
#                                            # what CI, the demo, the tests and npm pack use
#   GEODETECT_PROFILE=dev bash pkg/build.sh  # quicker rebuilds while working on the Rust side
#
# Then it writes the classic-script build for CDNs (pkg/dist/geodetect.global.js, from
# pkg/build-global.mjs) and prints the size table of what a browser downloads, failing when a
# download path is over its budget (pkg/sizes.mjs).
#
# Environment:
#   GEODETECT_PROFILE   cargo profile: release (default), dev, or a custom profile name
#   GEODETECT_ENGINES   which to build, in order, names from pkg/engines.mjs (the default:
#                       all of them, "cpu cpu-relaxed webgpu threads threads-relaxed")
#   GEODETECT_NIGHTLY   the toolchain of the threaded build (default: the one pinned in
#                       pkg/threads.toolchain, which tests/setup.sh installs)
#   CARGO_TARGET_DIR    honoured, as cargo does (default: <repo>/target)
#   GEODETECT_WASM_OPT  path of a wasm-opt to use for release builds (must be binaryen >= 132;
#                       default: pkg/node_modules/.bin/wasm-opt, from pkg's devDependency
#                       binaryen, `npm ci --prefix pkg`). Debian's binaryen is never used: its
#                       wasm-opt breaks current wasm-bindgen output. A release build without
#                       wasm-opt fails: it would ship an unoptimised engine.
#   GEODETECT_WASM_OPT_FLAGS  flags for wasm-opt (default: -O3)
#
# Any failing step stops the script with a non-zero exit status.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
profile="${GEODETECT_PROFILE:-release}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
case "$profile" in
  dev) profile_dir=debug ;;
  release) profile_dir=release ;;
  *) profile_dir="$profile" ;;
esac
nightly="${GEODETECT_NIGHTLY:-$(tr -d '[:space:]' < "$here/threads.toolchain")}"

die() {
  echo "pkg/build.sh: error: $*" >&2
  exit 1
}
step() { echo "pkg/build.sh: $*" >&2; }

command -v node >/dev/null || die "node not found on PATH (the engine list, the CDN build and the size table need it)"
engine_list="$(node "$here/engines.mjs")"
# By default all of them: those of stable Rust, WebGPU's last of these, then the threaded ones:
# WebGPU's wasm-opt, the longest, runs while the threaded ones compile. (The browser tests,
# tests/lint-build.sh, reuse the WebGPU engine's dependencies in target/, not its library: they
# compile geodetect by clippy-driver, with relaxed SIMD.)
engines="${GEODETECT_ENGINES:-$(awk '$3 == "stable" && $1 != "webgpu" { printf "%s ", $1 }' <<< "$engine_list")$(awk '$1 == "webgpu" { printf "%s ", $1 }' <<< "$engine_list")$(awk '$3 != "stable" { printf "%s ", $1 }' <<< "$engine_list")}"

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

# build_engine DIR TOOLCHAIN FEATURES: cargo build + wasm-bindgen (+ wasm-opt for release) into
# pkg/DIR/. The threaded builds (TOOLCHAIN nightly) have their own target dir; the others share
# the stable one (their feature sets are cached side by side). FEATURES: comma-separated, or -.
build_engine() {
  local name="$1" toolchain="$2" features="$3" out_dir="$here/$1" engine_target_dir cargo_cmd
  local features_flags=() env_flags=()
  [ "$features" = - ] || features_flags=(--features "$features")
  if [ "$toolchain" = stable ]; then
    engine_target_dir="$target_dir"
    cargo_cmd=(cargo)
  else
    command -v rustup >/dev/null || die "rustup is needed for the threaded build's nightly toolchain"
    rustup run "$nightly" rustc --version >/dev/null 2>&1 \
      || die "toolchain $nightly is missing (rustup toolchain install $nightly --profile minimal --component rust-src)"
    # Its own target dir: other RUSTFLAGS and a rebuilt std would otherwise evict the
    # single-threaded build's artifacts.
    engine_target_dir="$target_dir/threads"
    cargo_cmd=(cargo "+$nightly")
    features_flags+=(-Z build-std=panic_abort,std)
    # RUSTFLAGS replaces .cargo/config.toml's target rustflags, so simd128 is repeated here.
    # rustc no longer tells wasm-ld about threads by itself: shared, imported memory (4 GiB at
    # most) and the thread-local-storage symbols wasm-bindgen's thread start needs.
    local link=(--shared-memory --import-memory --max-memory=4294967296 --export=__wasm_init_tls
      --export=__tls_size --export=__tls_align --export=__tls_base)
    env_flags=("RUSTFLAGS=-C target-feature=+atomics,+bulk-memory,+mutable-globals,+simd128 -C debug-assertions=off${link[*]/#/ -C link-arg=}")
  fi
  step "$name: ${cargo_cmd[*]} build --lib --target wasm32-unknown-unknown --profile $profile ${features_flags[*]}"
  # geodetect's own compiler warnings fail the build (cargo replays them when nothing is
  # recompiled): clippy lints the wasm code in one configuration (tests/lint-build.sh: the
  # WebGPU engine's features with relaxed SIMD), so what only the threaded or the CPU engines
  # compile is checked here.
  local cargo_log
  cargo_log="$(mktemp)"
  tmp_dirs+=("$cargo_log")
  (cd "$root" && env CARGO_TARGET_DIR="$engine_target_dir" "${env_flags[@]}" \
    "${cargo_cmd[@]}" build --lib --target wasm32-unknown-unknown --profile "$profile" "${features_flags[@]}" 2>&1) \
    | tee "$cargo_log" >&2
  if grep -q '^warning: `geodetect` (lib) generated' "$cargo_log"; then
    die "$name: geodetect compiles with warnings (above); the engines are built with none"
  fi

  local wasm_in="$engine_target_dir/wasm32-unknown-unknown/$profile_dir/geodetect.wasm"
  [ -f "$wasm_in" ] || die "cargo did not produce $wasm_in"

  # Nothing changed since the last build of pkg/$name (same cargo output, profile, tools and
  # flags): keep it. wasm-opt takes minutes, and tests/setup.sh runs this script every time.
  local stamp
  stamp="$(sha256sum "$wasm_in" | cut -c1-64) $profile $cli_version ${GEODETECT_WASM_OPT_FLAGS:--O3}"
  if [ -f "$out_dir/.build-stamp" ] && [ "$(cat "$out_dir/.build-stamp")" = "$stamp" ] \
    && [ -s "$out_dir/geodetect_bg.wasm" ] && [ -s "$out_dir/geodetect.js" ]; then
    step "$name: up to date ($profile)"
    return 0
  fi

  # Build into a fresh directory and swap it in, so a failed build never leaves a
  # half-written pkg/$name behind.
  local tmp_out
  tmp_out="$(mktemp -d "$here/.wasm-build.XXXXXX")"
  tmp_dirs+=("$tmp_out")

  step "$name: wasm-bindgen --target web -> pkg/$name/geodetect.js"
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
    [ -x "$wasm_opt" ] || die "no wasm-opt at $wasm_opt (npm ci --prefix pkg installs binaryen; or set GEODETECT_WASM_OPT)"
    # npm's binaryen is itself wasm on node, one thread: minutes per engine (3 for WebGPU's).
    # It runs in the background while the next engine compiles (at most two at a time); the
    # script waits for all of them at the end.
    while [ "${#finishing[@]}" -ge 2 ]; do
      wait_finishing
    done
    finish_engine "$name" "$tmp_out" "$out_dir" "$stamp" true &
    finishing+=("$!:$name")
  else
    finish_engine "$name" "$tmp_out" "$out_dir" "$stamp" false
  fi
}

# finish_engine NAME TMP_OUT OUT_DIR STAMP OPTIMISE: wasm-opt (when OPTIMISE is true), then
# swap TMP_OUT in as OUT_DIR.
finish_engine() {
  local name="$1" tmp_out="$2" out_dir="$3" stamp="$4" optimise="$5"
  if [ "$optimise" = true ]; then
    step "$name: wasm-opt $wasm_opt_flags ($wasm_opt; this takes minutes)"
    # shellcheck disable=SC2086
    "$wasm_opt" $wasm_opt_flags --strip-debug --strip-producers --enable-simd --enable-relaxed-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
      --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
      --enable-threads "$tmp_out/geodetect_bg.wasm" -o "$tmp_out/geodetect_bg.opt.wasm" \
      || die "$name: wasm-opt failed"
    mv "$tmp_out/geodetect_bg.opt.wasm" "$tmp_out/geodetect_bg.wasm"
  fi
  echo "$stamp" > "$tmp_out/.build-stamp"
  rm -rf "$out_dir"
  mv "$tmp_out" "$out_dir"
  chmod 755 "$out_dir"
  step "done: $(du -h "$out_dir/geodetect_bg.wasm" | cut -f1) pkg/$name/geodetect_bg.wasm ($profile)"
}

# Wait for the oldest engine still in wasm-opt; stop the script if it failed.
wait_finishing() {
  local job="${finishing[0]}"
  finishing=("${finishing[@]:1}")
  wait "${job%%:*}" || die "${job#*:}: finishing the engine failed (see above)"
}

wasm_opt="${GEODETECT_WASM_OPT:-$here/node_modules/.bin/wasm-opt}"
wasm_opt_flags="${GEODETECT_WASM_OPT_FLAGS:--O3}"
# Temporary output folders (removed on exit unless swapped in), the cargo logs checked for
# warnings, and the engines in wasm-opt.
tmp_dirs=()
finishing=()
cleanup() {
  local pid
  # A background job is a subshell running wasm-opt: stop both.
  for pid in $(jobs -p); do
    pkill -P "$pid" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  [ "${#tmp_dirs[@]}" -eq 0 ] || rm -rf "${tmp_dirs[@]}"
}
trap cleanup EXIT

for engine in $engines; do
  spec="$(awk -v n="$engine" '$1 == n { print $2, $3, $4 }' <<< "$engine_list")"
  [ -n "$spec" ] || die "unknown engine '$engine' in GEODETECT_ENGINES ($(awk '{ printf "%s ", $1 }' <<< "$engine_list"))"
  # shellcheck disable=SC2086
  build_engine $spec
done
while [ "${#finishing[@]}" -gt 0 ]; do
  wait_finishing
done

[ -x "$here/node_modules/.bin/esbuild" ] || die "esbuild is missing (npm ci --prefix pkg)"
step "CDN build: pkg/dist/geodetect.global.js"
node "$here/build-global.mjs"
node "$here/sizes.mjs" --check
