#!/usr/bin/env bash
# Set up what is missing (bench/setup.sh), then run the benchmark (bench/run.mjs; options
# are passed on, e.g. --threads 1,2,4 --webgpu --runs 9).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/bench/setup.sh"
exec node "$root/bench/run.mjs" "$@"
