#!/usr/bin/env python3
"""Export the ultralytics checkpoints that geodetect converts (models/fetch.sh puts them in
.cache/models/<id>.pt) to ONNX at the benchmark's input sizes, for onnxruntime-web, in
.cache/bench/. A plain `YOLO(...).export(format="onnx")` with static shapes, the same export a
user of onnxruntime-web would make, of the branch geodetect runs:

- a model without an end-to-end head, or one whose manifest entry (www/models/manifest.json)
  selects NMS: the one-to-many branch, decoded, `[1, 4 + nc (+1), N]`
  (`<id>_<size>.onnx`; ultralytics' default `nms=None` export);
- an end-to-end head whose manifest entry has `"postprocess": "topk"` (YOLO26): the
  one-to-one branch, decoded, `[1, 4 + nc (+1), N]`, without the top-k selection
  (`<id>_one2one_<size>.onnx`). That is what geodetect's `timings.inference` covers: the
  network, the in-graph box decoding and the read-back; its top-k runs after, in
  `timings.postprocess`. Ultralytics' own `nms=False` export of that branch adds the top-k
  to the graph and gives `[1, 300, 6 + extra]`: `--e2e` also writes that one, as
  `<id>_e2e_<size>.onnx` (not used by bench/run.mjs; for comparison only).

Default: every model of BENCH_MODELS at its sizes. Needs ultralytics + torch (bench/setup.sh
uses the developer venv of models/reference); never run by CI.
"""
import argparse
import contextlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Model id -> the sizes the benchmark runs it at (bench/run.mjs's model cases: model256 with
# --webgpu, model640 and model1024 for the default model; yolo11-512; yolo26-1024).
BENCH_MODELS = {
    "yolov8n-obb-dota": (256, 640, 1024),
    "yolo11n-obb-vehicles": (512,),
    "yolo26n-obb-dota": (1024,),
}


def onnx_name(model: str, size: int, variant: str) -> str:
    """The file name in .cache/bench/ (bench/page.js builds the same names)."""
    return f"{model}_{size}.onnx" if variant == "" else f"{model}_{variant}_{size}.onnx"


def manifest_postprocess(model: str) -> str:
    manifest = json.loads((REPO / "www/models/manifest.json").read_text())
    entry = next((m for m in manifest["models"] if m["id"] == model), None)
    if entry is None:
        raise SystemExit(f"{model} is not in www/models/manifest.json (bash tests/setup.sh --demo)")
    return entry.get("postprocess", "nms")


@contextlib.contextmanager
def without_topk():
    """Within: an end-to-end head's export stops at its decoded one-to-one output.

    ultralytics' `Detect.forward` (export mode, end2end) is
    `y = self._inference(one2one); y = self.postprocess(y.permute(0, 2, 1))`, where
    `postprocess` is the top-k. Replaced here by the transpose back, the graph ends at
    `_inference`'s `[B, 4 + nc (+1), N]`: boxes (cx, cy, w, h in input pixels), class
    probabilities (sigmoid) and, for OBB26, the raw angle, as geodetect's decoded output.
    """
    from ultralytics.nn.modules.head import Detect

    original = Detect.postprocess
    Detect.postprocess = lambda self, preds: preds.permute(0, 2, 1)
    try:
        yield
    finally:
        Detect.postprocess = original


def export(pt: Path, out: Path, size: int, opset: int, nms) -> None:
    from ultralytics import YOLO

    # ultralytics writes <stem>.onnx next to the .pt: export from a private copy.
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / pt.name
        shutil.copy(pt, copy)
        written = YOLO(str(copy), task="obb").export(
            format="onnx", imgsz=(size, size), opset=opset, simplify=False, dynamic=False, nms=nms
        )
        shutil.move(written, out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=",".join(BENCH_MODELS), help="model ids, comma-separated (default: all)")
    ap.add_argument("--sizes", default=None, help="sizes for every model named (default: BENCH_MODELS's)")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--e2e", action="store_true", help="also the end-to-end export with top-k (topk models only)")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()

    out_dir = REPO / ".cache/bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    for model in filter(None, args.model.split(",")):
        pt = REPO / ".cache/models" / f"{model}.pt"
        if not pt.exists():
            print(f"{pt} is missing: run bash models/fetch.sh", file=sys.stderr)
            return 1
        sizes = map(int, args.sizes.split(",")) if args.sizes else BENCH_MODELS.get(model, (1024,))
        topk = manifest_postprocess(model) == "topk"
        for size in sizes:
            # (variant, nms argument, context): the benchmark's file first.
            jobs = [("one2one", False, without_topk)] if topk else [("", None, contextlib.nullcontext)]
            if topk and args.e2e:
                jobs.append(("e2e", False, contextlib.nullcontext))
            for variant, nms, context in jobs:
                out = out_dir / onnx_name(model, size, variant)
                if out.exists() and not args.force:
                    print(f"{out.relative_to(REPO)}: present")
                    continue
                with context():
                    export(pt, out, size, args.opset, nms)
                print(f"{out.relative_to(REPO)}: exported")
    return 0


if __name__ == "__main__":
    sys.exit(main())
