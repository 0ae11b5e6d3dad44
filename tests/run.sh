#!/usr/bin/env bash
# Run every test suite of geodetect, after tests/setup.sh (which skips what is done):
#
#   1. native:  cargo test --features cli      unit tests + parity with onnxruntime (flex CPU),
#               georeferencing, PMTiles, the COG reader, detect() on COGs (with `cli`: the
#               library the setup compiled for the CLI, not a second build of it)
#   2. browser: wasm-pack test --headless --chrome --release --features webgpu,relaxed-simd
#               --test web --test web_worker: page tests + dedicated-worker tests (CPU and
#               WebGPU parity, the Engine API), built in release as the engines are, so that
#               they reuse the dependencies pkg/build.sh compiled for the WebGPU engine
#               (Cargo.toml's [profile.release] says why that works); the other test files are
#               native
#   3. types:   tsc over pkg/index.d.ts (strict, nodenext + bundler resolution) and over the
#               JS sources (checkJs, strict)
#   4. e2e:     node --test tests/e2e: the npm package in Chromium (worker client protocol,
#               real detection vs the native CLI, WebGPU, errors, Cache API, Vite build)
#   5. lint:    cargo fmt --check; clippy with warnings as errors, natively and for wasm32:
#               the native and browser suites' builds are clippy's passes (tests/lint-build.sh:
#               geodetect's crates compiled by clippy-driver), so these two steps only replay
#               what those builds reported, and fail on any warning of geodetect's. For wasm32
#               that covers every line but the plain twin of the relaxed-SIMD kernel (linted
#               natively), what `threads` adds and the CPU engines' stand-in `init_wgpu`
#               (pkg/build.sh builds the engines with geodetect's warnings as errors)
#   6. deny:    cargo deny check licenses bans sources (deny.toml: permissive licences,
#               crates.io only, no wildcard versions; advisories need github.com)
#   7. fuzz:    fuzz/run.sh: every cargo-fuzz target for 5 s from its committed seeds (area,
#               options, URL templates, planning, manifest, safetensors, COG headers and
#               tiles, tile images), geodetect built without burn (`--no-default-features`) with warnings as
#               errors; fmt covers the fuzz crate too
#
# Suites run even if an earlier one fails; the last line sums them up:
#   geodetect: N passed, M failed
# GEODETECT_SKIP_SETUP=1 skips tests/setup.sh.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

setup_seconds=0
if [[ "${GEODETECT_SKIP_SETUP:-}" != 1 ]]; then
    bash tests/setup.sh || { echo "geodetect: setup failed"; echo "geodetect: 0 passed, 1 failed"; exit 1; }
    setup_seconds=$SECONDS
fi

log_dir="$root/tests/out/logs"
mkdir -p "$log_dir"
started_server=false
if ! www/serve.sh status >/dev/null 2>&1; then
    www/serve.sh start >/dev/null && started_server=true
fi
cleanup() { $started_server && www/serve.sh stop >/dev/null 2>&1; }
trap cleanup EXIT

passed=0
failed=0
suites_failed=()

# Seconds each step took (setup, then every suite), printed before the summary line: the
# fresh-machine CI run has a time budget.
timings=("setup ${setup_seconds}s")

# run NAME COMMAND...: run a suite, tee its output, add its counts.
run() {
    local name="$1"
    shift
    printf '\n==== %s: %s\n' "$name" "$*"
    local log="$log_dir/$name.log" started=$SECONDS
    "$@" 2>&1 | tee "$log"
    local status=${PIPESTATUS[0]}
    timings+=("$name $((SECONDS - started))s")
    # cargo / wasm-bindgen-test: "test result: ok. 3 passed; 0 failed"; node TAP: "# pass 3".
    local p f
    p=$(grep -hoE '[0-9]+ passed;|^# pass [0-9]+' "$log" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')
    f=$(grep -hoE '[0-9]+ failed;|^# fail [0-9]+' "$log" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')
    # A suite that reports no test counts as one: tsc, or a build error / crash.
    if ((status != 0 && f == 0)); then
        f=1
    elif ((status == 0 && p == 0 && f == 0)); then
        p=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    ((status == 0)) || suites_failed+=("$name")
}

run native bash tests/lint-build.sh exec cargo test --no-fail-fast --features cli
run browser env CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=900 bash tests/lint-build.sh browser
run types npm --prefix pkg run --silent check-types
run e2e npm --prefix tests/e2e test --silent
run fmt cargo fmt --check
run fmt-fuzz cargo fmt --check --manifest-path fuzz/Cargo.toml
run clippy bash tests/lint-build.sh native --gate
run clippy-wasm bash tests/lint-build.sh wasm --gate
run deny cargo deny --offline check licenses bans sources
run fuzz bash fuzz/run.sh 5

echo
echo "geodetect: seconds per step: ${timings[*]}"
if ((${#suites_failed[@]})); then
    echo "geodetect: failing suites: ${suites_failed[*]} (logs in tests/out/logs/)"
fi
echo "geodetect: $passed passed, $failed failed"
((failed == 0 && ${#suites_failed[@]} == 0))
