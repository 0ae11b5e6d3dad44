#!/usr/bin/env bash
# The demo: set up what it needs (tests/setup.sh --demo: nginx, wasm build, marina imagery,
# model weights, the map page's bundle in www/dist/demo/) and serve www/ at
# http://127.0.0.1:${PORT:-8080}/ until Ctrl-C.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/tests/setup.sh" --demo
"$root/www/serve.sh" stop >/dev/null 2>&1 || true
echo "geodetect demo: open http://127.0.0.1:${PORT:-8080}/ (Ctrl-C to stop)"
exec "$root/www/serve.sh" foreground
