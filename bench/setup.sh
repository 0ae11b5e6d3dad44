#!/usr/bin/env bash
# Everything the benchmark needs, made once and skipped when present:
#   1. the demo's setup (tests/setup.sh --demo): Chromium and nginx (apt), imagery, converted
#      weights, the wasm build
#   2. the ONNX export of the same .pt at the benchmark's sizes (bench/export_onnx.py: the
#      default model at 256/640/1024 px, yolo11n-obb-vehicles at 512, yolo26n-obb-dota's
#      one-to-one branch at 1024, and its end-to-end export for yolo26-1024-e2e), with
#      ultralytics + PyTorch from the developer venv of models/reference (.venv-ref, ~3 GB;
#      never installed by CI)
#   3. onnxruntime-web (npm ci in bench/) and playwright-core (npm ci in tests/e2e/)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash tests/setup.sh --demo
if ! ls .cache/bench/yolov8n-obb-dota_{256,640,1024}.onnx .cache/bench/yolo11n-obb-vehicles_512.onnx \
    .cache/bench/yolo26n-obb-dota_{one2one,e2e}_1024.onnx >/dev/null 2>&1; then
    if [[ ! -x .venv-ref/bin/python ]]; then
        python3 -m venv .venv-ref
    fi
    .venv-ref/bin/python -m pip install -q -r models/reference/requirements.txt
    .venv-ref/bin/python bench/export_onnx.py --e2e
fi
for dir in bench tests/e2e; do
    if [[ ! -d "$dir/node_modules" || "$dir/package-lock.json" -nt "$dir/node_modules" ]]; then
        npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
        touch "$dir/node_modules"
    fi
done
