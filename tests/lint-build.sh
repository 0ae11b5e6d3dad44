#!/usr/bin/env bash
# The test builds that are also the clippy passes: geodetect's own crates compiled by
# clippy-driver (RUSTC_WORKSPACE_WRAPPER, which is how `cargo clippy` itself runs it), so the
# builds lint as they compile and clippy needs no `cargo check` of its own. A check shares
# nothing with a build: each went through every dependency again (natively 224 CPU-seconds of a
# cold CI run, for wasm32 282). cargo applies the wrapper to the workspace's own crates only: the
# dependencies are the same artifacts with it or without it. geodetect's own are built once
# each way (the wrapper is part of their hash, so the two builds stay side by side: a plain
# `cargo test` after these costs a minute and a half the first time, nothing after).
# clippy-driver compiles with MIR optimisations off; LLVM still optimises as the profile says.
# The release engines (pkg/build.sh) are never built this way.
#
#   bash tests/lint-build.sh native [--gate]   the native test build: cargo test --no-run
#                                              --all-targets --features cli (the CLI, the unit
#                                              and integration tests, the bench)
#   bash tests/lint-build.sh wasm [--gate]     the browser tests' build, as `wasm-pack test
#                                              --release` runs it (`cargo build --tests`, every
#                                              test target, the native-only ones empty on
#                                              wasm32) with the WebGPU engine's features and
#                                              relaxed SIMD: every line of the wasm code but the
#                                              plain twin of the relaxed-SIMD kernel (linted
#                                              natively), what `threads` adds and the CPU
#                                              engines' stand-in `init_wgpu` (pkg/build.sh builds
#                                              those with warnings as errors). It reuses the
#                                              dependencies pkg/build.sh compiled for the WebGPU
#                                              engine.
#   bash tests/lint-build.sh browser           the browser suite: wasm-pack test --headless
#                                              --chrome --release on the wasm build's features
#                                              and test files (CHROMEDRIVER, a served www/: see
#                                              tests/run.sh)
#   bash tests/lint-build.sh exec CMD...       CMD with the wrapper set: the native suite (cargo
#                                              test), the tests' CLI
#
# tests/setup.sh builds both configurations; tests/run.sh's lint steps run them again with
# --gate, which fails on any warning of geodetect's (clippy's and rustc's alike, as `cargo
# clippy -- -D warnings` did). cargo replays the warnings of what is already built, so after the
# setup a gate takes seconds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

driver="$(command -v clippy-driver)" || {
    echo "tests/lint-build.sh: clippy-driver not found (rustup component add clippy)" >&2
    exit 1
}
export RUSTC_WORKSPACE_WRAPPER="$driver"

# The browser suite's features, and wasm-pack's build of them (tests/run.sh's browser step).
wasm_features=webgpu,relaxed-simd
wasm_tests=(--test web --test web_worker)

config="${1:-}"
shift || true
case "$config" in
    native) build=(cargo test --no-run --all-targets --features cli) ;;
    wasm) build=(env CARGO_BUILD_TARGET=wasm32-unknown-unknown cargo build --tests --release --features "$wasm_features" "${wasm_tests[@]}") ;;
    exec) exec "$@" ;;
    browser) exec wasm-pack test --headless --chrome --release --features "$wasm_features" "${wasm_tests[@]}" ;;
    *)
        echo "usage: tests/lint-build.sh native|wasm [--gate] | exec CMD... | browser" >&2
        exit 2
        ;;
esac

[[ "${1:-}" == --gate ]] || exec "${build[@]}"

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
"${build[@]}" 2>&1 | tee "$log" || status=$?
# cargo ends each crate's warnings with "warning: `geodetect` (lib test) generated 2 warnings".
if grep -qE '^warning: `geodetect` \(.*\) generated [0-9]+ warnings?' "$log"; then
    echo "tests/lint-build.sh: geodetect has warnings in the $config build (above); the lint gate allows none" >&2
    exit 1
fi
exit "$status"
