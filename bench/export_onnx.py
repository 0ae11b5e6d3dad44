#!/usr/bin/env python3
"""Export the ultralytics checkpoint that geodetect converts (models/fetch.sh puts it in
.cache/models/<id>.pt) to ONNX at the benchmark's input sizes, for onnxruntime-web:
.cache/bench/<id>_<size>.onnx. A plain `YOLO(...).export(format="onnx")` with static shapes,
the same export a user of onnxruntime-web would make. Needs ultralytics + torch
(bench/setup.sh uses the developer venv of models/reference); never run by CI.
"""
import argparse
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="yolov8n-obb-dota")
    ap.add_argument("--sizes", default="256,640,1024")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    from ultralytics import YOLO

    pt = REPO / ".cache/models" / f"{args.model}.pt"
    if not pt.exists():
        print(f"{pt} is missing: run bash models/fetch.sh", file=sys.stderr)
        return 1
    out_dir = REPO / ".cache/bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    for size in map(int, args.sizes.split(",")):
        out = out_dir / f"{args.model}_{size}.onnx"
        if out.exists() and not args.force:
            print(f"{out.relative_to(REPO)}: present")
            continue
        # ultralytics writes <stem>.onnx next to the .pt: export from a private copy.
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / pt.name
            shutil.copy(pt, copy)
            written = YOLO(str(copy), task="obb").export(
                format="onnx", imgsz=(size, size), opset=args.opset, simplify=False, dynamic=False
            )
            shutil.move(written, out)
        print(f"{out.relative_to(REPO)}: exported")
    return 0


if __name__ == "__main__":
    sys.exit(main())
