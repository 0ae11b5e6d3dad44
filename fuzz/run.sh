#!/usr/bin/env bash
# Builds the fuzz targets (cargo-fuzz, the pinned nightly, no sanitizer: geodetect forbids
# unsafe code, so the fuzzers look for panics, failed assertions, timeouts and runaway memory)
# and runs each for a bounded time from its committed seeds (fuzz/corpus/<target>/).
#
#   bash fuzz/run.sh                  # every target, 10 s each (what tests/run.sh runs)
#   bash fuzz/run.sh 600              # every target, 10 minutes each (by hand)
#   bash fuzz/run.sh 60 cog_open plan # some targets
#   bash fuzz/run.sh --build          # only build them (tests/setup.sh, beside the engines' build)
#
# The committed corpora (fuzz/corpus/<target>/): make_seeds.py's real inputs for the targets
# that read bytes, and for `plan` and `url_template` (structured inputs, no natural seeds) the
# smallest set covering what a 3-minute run reached (`-merge=1 -set_cover_merge=1`). New
# inputs the fuzzer finds go to fuzz/out/corpus/<target>/ (gitignored), not into them. A
# crash is written to fuzz/artifacts/<target>/ and fails the run;
# `cargo +<nightly> fuzz run -s none <target> <file>` replays it. Each target's executions
# and coverage are printed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build_only=false
if [ "${1:-}" = --build ]; then
  build_only=true
  shift
fi
seconds="${1:-10}"
shift || true
nightly="$(cat "$here/../pkg/threads.toolchain")"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cd "$here" && cargo "+$nightly" fuzz list)
cd "$here"
# Warnings are errors in geodetect (built without burn here) and in the targets: this build is
# the lint gate of that configuration (registry crates are capped by cargo as always). For the
# runs too, which would otherwise rebuild with other flags.
export RUSTFLAGS="${RUSTFLAGS:-} -D warnings"
cargo "+$nightly" fuzz build -s none 2>&1 | { grep -vE "^ +(Finished|Compiling)" || true; }
$build_only && exit 0
# fuzz_one TARGET: one target's run (libFuzzer, one thread); its log in fuzz/out/TARGET.log,
# its exit status in fuzz/out/TARGET.status.
fuzz_one() {
  local target="$1" work="$here/out/corpus/$1" log="$here/out/$1.log" seeds=() status=0
  mkdir -p "$work" "$here/artifacts/$target"
  [ -d "$here/corpus/$target" ] && seeds=("$here/corpus/$target")
  # -timeout: one input over 10 s is a finding; -rss_limit_mb: over 2 GiB is one too.
  cargo "+$nightly" fuzz run -s none "$target" "$work" "${seeds[@]}" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || status=$?
  echo "$status" > "$here/out/$target.status"
}
# As many targets at a time as there are cores (FUZZ_JOBS to choose): each fuzzer is one
# thread, and each gets the whole of its time.
jobs_max="${FUZZ_JOBS:-$(nproc)}"
mkdir -p "$here/out"
for target in "${targets[@]}"; do
  rm -f "$here/out/$target.status"
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  fuzz_one "$target" &
done
wait
failed=()
for target in "${targets[@]}"; do
  log="$here/out/$target.log"
  if [ "$(cat "$here/out/$target.status" 2>/dev/null)" = 0 ]; then
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
    cov="$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)"
    echo "fuzz $target: ${seconds}s, $runs executions, $cov, no crash"
  else
    echo "fuzz $target: CRASH (fuzz/out/$target.log; input in fuzz/artifacts/$target/)"
    { grep -E "panicked|ERROR|SUMMARY" "$log" || true; } | head -5 | sed "s/^/  /"
    failed+=("$target")
  fi
done
# The line tests/run.sh counts: one test per target.
echo "fuzz: $((${#targets[@]} - ${#failed[@]})) passed; ${#failed[@]} failed;"
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: crashes in ${failed[*]}"; exit 1; }
