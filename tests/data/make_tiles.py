#!/usr/bin/env python3
"""Cut the project's test imagery into Web Mercator XYZ tiles (deterministic).

Inputs (fetched by tests/data/fetch_sources.sh into .cache/pypi/files/):
  obb_test_image.png  sahi==0.12.8 demo image, really a 1920x1080 RGB JPEG, not georeferenced
  OSBS_029.tif        deepforest==2.1.0 sample, 400x400 RGB GeoTIFF, 0.10 m, EPSG:32617
  OSBS_029.csv        deepforest==2.1.0 tree crown boxes (pixel coordinates) for OSBS_029.tif

Outputs (gitignored):
  www/tiles/marina/{z}/{x}/{y}.png   z17..z19, nominal placement at Port Hercule, Monaco
  www/tiles/marina/source.png        the decoded JPEG, lossless (reference image for tests)
  www/tiles/osbs/{z}/{x}/{y}.png     z20..z22, reprojected EPSG:32617 -> EPSG:3857
  www/tiles/osbs/annotations.geojson the OSBS_029.csv boxes as lon/lat polygons
  www/tiles/<name>/tileset.json, www/tiles/<name>/SHA256SUMS

Committed fixtures (generated here; verified on every run, rewritten with --update-fixtures):
  tests/data/osbs_checkpoints.json, tests/data/aoi/marina.geojson, tests/data/aoi/osbs.geojson

Tile scheme: XYZ / slippy map, EPSG:3857, 256 px, x from the west, y from the north. Global
pixel (gx, gy) at zoom z covers [gx, gx+1) x [gy, gy+1); its centre is (gx+0.5, gy+0.5).
Tile (x, y) pixel (i, j) is global pixel (256x + i, 256y + j). PNG tiles are 8-bit RGB with only
IHDR/IDAT/IEND chunks (no gAMA/iCCP/sRGB), so browsers decode the exact stored values. A tile is
written only if it intersects the image footprint; its pixels outside the footprint are black.

See tests/data/README.md for the full description.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import shutil
import struct
import sys
import time
from pathlib import Path

import numpy as np
import PIL
import pyproj
import rasterio
from PIL import Image, features

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SRC_DIR = ROOT / ".cache" / "pypi" / "files"
TILES_DIR = ROOT / "www" / "tiles"
CHECKPOINTS = HERE / "osbs_checkpoints.json"
AOI_DIR = HERE / "aoi"

TILE = 256
EARTH_RADIUS = 6378137.0  # EPSG:3857 sphere
CIRCUMFERENCE = 2.0 * math.pi * EARTH_RADIUS

# ---------------------------------------------------------------- marina placement (nominal)
# Port Hercule, Monaco (~ lon 7.4246, lat 43.7347). The image's top-left corner is global pixel
# MARINA_ORIGIN_Z19 at zoom 19, i.e. tile (272953, 191175) + (36, 92): not on a tile boundary, so
# every edge tile is partial. Both offsets are multiples of 4, so the z18 and z17 levels are the
# image reduced 2x / 4x exactly (no block straddles the image edge).
MARINA_NATIVE_ZOOM = 19
MARINA_TILE_Z19 = (272953, 191175)
MARINA_OFFSET_IN_TILE = (36, 92)
MARINA_ORIGIN_Z19 = (
    MARINA_TILE_Z19[0] * TILE + MARINA_OFFSET_IN_TILE[0],
    MARINA_TILE_Z19[1] * TILE + MARINA_OFFSET_IN_TILE[1],
)
MARINA_ZOOMS = (17, 18, 19)
# AOI vertices in marina image pixels (x right, y down): most of the ~170 boats, leaving out the
# buildings on the western quay. (polygon_feature makes the ring counter-clockwise, RFC 7946.)
MARINA_AOI_PX = [(250, 12), (1150, 22), (1900, 30), (1892, 1066), (215, 1070), (132, 915), (168, 420)]

# ---------------------------------------------------------------- osbs (georeferenced)
OSBS_ZOOMS = (20, 21, 22)
OSBS_NATIVE_ZOOM = 21  # first zoom finer than the source's 0.10 m
OSBS_CHECK_ZOOM = 22
# AOI vertices in OSBS_029.tif pixels (col right, row down), well inside the 40 m x 40 m footprint.
OSBS_AOI_PX = [(30, 25), (210, 18), (375, 40), (382, 370), (190, 385), (22, 360)]

SOURCES = {
    "marina": {
        "pypi": "sahi==0.12.8",
        "archive": "sahi-0.12.8.tar.gz",
        "archiveSha256": "f2074b3b3aa0f655dbdd69fbb1f1a0b985220f5fb3d920a4206eba160d37028a",
        "path": "sahi-0.12.8/demo/demo_data/obb_test_image.png",
        "sha256": "8c5ada657cf8110a9f8aaac954c1dd96cde0187315b581276c32b0d1863e756f",
        "note": "JPEG data despite the .png name; 1920x1080 RGB drone photo, not georeferenced",
    },
    "osbs": {
        "pypi": "deepforest==2.1.0",
        "archive": "deepforest-2.1.0-py3-none-any.whl",
        "archiveSha256": "8c2798d8e9be7f0004b194fe207b76c1d9fff6e711b3db67b9508dcd5d00ae54",
        "path": "deepforest/data/OSBS_029.tif",
        "sha256": "8521dbb5e8063d37d61895867dfcca7476491d1345103dc1b3fd96f71b186353",
        "annotations": "deepforest/data/OSBS_029.csv",
        "annotationsSha256": "83ecd1fb6339eb0997c5a543300295fdd6e0d23c943f50429eb82d149905adba",
        "note": "400x400 RGB GeoTIFF, 0.10 m, EPSG:32617 (WGS 84 / UTM 17N), LZW",
    },
}


# ================================================================ Web Mercator helpers
def world_px(z: int) -> int:
    return TILE << z


def lonlat_to_px(lon, lat, z):
    """lon/lat (degrees, WGS 84) -> global pixel coordinates (float) at zoom z."""
    n = world_px(z)
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    x = (lon + 180.0) / 360.0 * n
    y = (0.5 - np.arcsinh(np.tan(np.radians(lat))) / (2.0 * math.pi)) * n
    return x, y


def px_to_lonlat(x, y, z):
    n = world_px(z)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    lon = x / n * 360.0 - 180.0
    lat = np.degrees(np.arctan(np.sinh(math.pi * (1.0 - 2.0 * y / n))))
    return lon, lat


def px_to_merc(x, y, z):
    n = world_px(z)
    mx = (np.asarray(x, dtype=np.float64) / n - 0.5) * CIRCUMFERENCE
    my = (0.5 - np.asarray(y, dtype=np.float64) / n) * CIRCUMFERENCE
    return mx, my


def merc_to_px(mx, my, z):
    n = world_px(z)
    x = (np.asarray(mx, dtype=np.float64) / CIRCUMFERENCE + 0.5) * n
    y = (0.5 - np.asarray(my, dtype=np.float64) / CIRCUMFERENCE) * n
    return x, y


def ground_resolution(lat: float, z: int) -> float:
    """Metres per pixel on the ground at latitude lat, zoom z."""
    return CIRCUMFERENCE * math.cos(math.radians(lat)) / world_px(z)


def r(v: float, nd: int) -> float:
    """Round for JSON output (and turn -0.0 into 0.0)."""
    v = round(float(v), nd)
    return 0.0 if v == 0 else v


# ================================================================ PNG / output helpers
PNG_SIG = b"\x89PNG\r\n\x1a\n"


def png_chunks(data: bytes) -> list[str]:
    assert data[:8] == PNG_SIG, "not a PNG"
    out, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        out.append(data[pos + 4 : pos + 8].decode("ascii"))
        pos += 12 + length
    return out


def encode_png(rgb: np.ndarray) -> bytes:
    """8-bit RGB PNG with only IHDR/IDAT/IEND. Deterministic for a given Pillow build."""
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb), "RGB").save(buf, format="PNG", compress_level=6)
    data = buf.getvalue()
    chunks = set(png_chunks(data))
    assert chunks == {"IHDR", "IDAT", "IEND"}, f"unexpected PNG chunks {chunks}"
    return data


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dumps(obj) -> str:
    """Indented JSON, with lists of scalars (coordinates, rgb, ...) kept on one line."""

    def fmt(v, ind):
        pad = "  " * (ind + 1)
        if isinstance(v, dict):
            if not v:
                return "{}"
            items = [f"{pad}{json.dumps(k)}: {fmt(x, ind + 1)}" for k, x in v.items()]
            return "{\n" + ",\n".join(items) + "\n" + "  " * ind + "}"
        if isinstance(v, list):
            if all(not isinstance(x, (dict, list)) for x in v):
                return "[" + ", ".join(json.dumps(x, ensure_ascii=False) for x in v) + "]"
            if all(isinstance(x, list) and all(not isinstance(y, (dict, list)) for y in x) for x in v):
                return "[" + ", ".join(fmt(x, ind + 1) for x in v) + "]"
            return "[\n" + ",\n".join(pad + fmt(x, ind + 1) for x in v) + "\n" + "  " * ind + "]"
        return json.dumps(v, ensure_ascii=False)

    text = fmt(obj, 0) + "\n"
    assert json.loads(text) == json.loads(json.dumps(obj))
    return text


class TileWriter:
    """Writes one tile set into a staging directory, swapped into place by commit()."""

    def __init__(self, name: str):
        self.name = name
        self.final = TILES_DIR / name
        self.stage = TILES_DIR / f".{name}.staging"
        if self.stage.exists():
            shutil.rmtree(self.stage)
        self.stage.mkdir(parents=True)
        self.sums: dict[tuple[int, int, int], str] = {}
        self.ranges: dict[int, list[int]] = {}

    def write_bytes(self, rel: str, data: bytes) -> None:
        p = self.stage / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)

    def cut(self, z: int, canvas: np.ndarray, covered: np.ndarray, tx0: int, ty0: int) -> None:
        """Cut a tile-aligned canvas whose top-left is tile (tx0, ty0) into 256 px tiles.

        covered: boolean (H, W) mask of pixels inside the image footprint; a tile is written only
        if it has at least one covered pixel.
        """
        h, w = covered.shape
        assert h % TILE == 0 and w % TILE == 0 and canvas.shape[:2] == covered.shape
        xs, ys = [], []
        for j in range(h // TILE):
            for i in range(w // TILE):
                sl = (slice(j * TILE, (j + 1) * TILE), slice(i * TILE, (i + 1) * TILE))
                if not covered[sl].any():
                    continue
                x, y = tx0 + i, ty0 + j
                data = encode_png(canvas[sl])
                self.write_bytes(f"{z}/{x}/{y}.png", data)
                self.sums[(z, x, y)] = sha256_hex(data)
                xs.append(x)
                ys.append(y)
        self.ranges[z] = [min(xs), min(ys), max(xs), max(ys)]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for z, _, _ in self.sums:
            out[str(z)] = out.get(str(z), 0) + 1
        return dict(sorted(out.items(), key=lambda kv: int(kv[0])))

    def sha256sums(self) -> str:
        return "".join(f"{h}  {z}/{x}/{y}.png\n" for (z, x, y), h in sorted(self.sums.items()))

    def commit(self, tileset: dict) -> dict:
        sums = self.sha256sums()
        tileset["digest"] = "sha256:" + sha256_hex(sums.encode())
        self.write_bytes("SHA256SUMS", sums.encode())
        self.write_bytes("tileset.json", dumps(tileset).encode())
        if self.final.exists():
            shutil.rmtree(self.final)
        os.replace(self.stage, self.final)
        return tileset


# ================================================================ fixtures
class Fixtures:
    def __init__(self, update: bool):
        self.update = update
        self.stale: list[Path] = []

    def put(self, path: Path, obj) -> None:
        text = dumps(obj)
        rel = path.relative_to(ROOT)
        if path.exists() and path.read_text() == text:
            print(f"fixture {rel}: up to date")
            return
        if path.exists() and not self.update:
            self.stale.append(rel)
            print(f"fixture {rel}: DIFFERS from what this script generates", file=sys.stderr)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"fixture {rel}: written")


def polygon_feature(ring_lonlat, props) -> dict:
    ring = [[r(lon, 8), r(lat, 8)] for lon, lat in ring_lonlat]
    ring.append(ring[0])
    # RFC 7946: exterior rings are counter-clockwise (positive shoelace area in lon/lat).
    area2 = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:]))
    assert area2 != 0
    if area2 < 0:
        ring.reverse()
    return {"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": [ring]}}


def point_in_polygon(x: float, y: float, ring) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


# ================================================================ marina
def box_reduce(a: np.ndarray, f: int) -> np.ndarray:
    """Mean of each f x f block, rounded half up: floor((sum + f*f/2) / (f*f))."""
    h, w, c = a.shape
    s = a.reshape(h // f, f, w // f, f, c).astype(np.uint32).sum(axis=(1, 3))
    return ((s + (f * f) // 2) // (f * f)).astype(np.uint8)


def make_marina(fixtures: Fixtures) -> dict:
    src = SRC_DIR / "obb_test_image.png"
    im = Image.open(src)
    assert im.format == "JPEG", f"expected JPEG data, got {im.format}"
    im = im.convert("RGB")  # decoded once; a plain copy without JFIF/ICC info
    img = np.asarray(im)
    h, w = img.shape[:2]
    assert (w, h) == (1920, 1080), (w, h)
    ox, oy = MARINA_ORIGIN_Z19
    assert ox % 4 == 0 and oy % 4 == 0 and w % 4 == 0 and h % 4 == 0

    tw = TileWriter("marina")
    source_png = encode_png(img)
    tw.write_bytes("source.png", source_png)

    for z in MARINA_ZOOMS:
        f = 1 << (MARINA_NATIVE_ZOOM - z)  # z19 pixels per z pixel
        block = TILE * f  # z19 pixels per z tile
        tx0, tx1 = ox // block, (ox + w - 1) // block
        ty0, ty1 = oy // block, (oy + h - 1) // block
        ch, cw = (ty1 - ty0 + 1) * block, (tx1 - tx0 + 1) * block
        canvas = np.zeros((ch, cw, 3), np.uint8)
        covered = np.zeros((ch, cw), bool)
        x0, y0 = ox - tx0 * block, oy - ty0 * block
        canvas[y0 : y0 + h, x0 : x0 + w] = img
        covered[y0 : y0 + h, x0 : x0 + w] = True
        if f > 1:
            canvas = box_reduce(canvas, f)
            # Pillow's Image.reduce is the same filter; keep them in agreement.
            pil = np.asarray(Image.fromarray(img).reduce(f))
            assert np.array_equal(canvas[y0 // f : (y0 + h) // f, x0 // f : (x0 + w) // f], pil), f"z{z}: box_reduce != Pillow reduce"
            covered = covered.reshape(ch // f, f, cw // f, f).any(axis=(1, 3))
        tw.cut(z, canvas, covered, tx0, ty0)

    west, north = px_to_lonlat(ox, oy, MARINA_NATIVE_ZOOM)
    east, south = px_to_lonlat(ox + w, oy + h, MARINA_NATIVE_ZOOM)
    clon, clat = px_to_lonlat(ox + w / 2, oy + h / 2, MARINA_NATIVE_ZOOM)
    res = {str(z): r(ground_resolution(float(clat), z), 5) for z in MARINA_ZOOMS}
    tileset = {
        "name": "marina",
        "description": "sahi OBB demo drone photo of a marina (~170 boats), placed nominally at Port Hercule, "
        "Monaco so that one image pixel is exactly one Web Mercator pixel at zoom 19",
        "source": SOURCES["marina"],
        "license": "MIT (sahi, Copyright (c) 2020 obss)",
        "placement": "nominal",
        "crs": "EPSG:3857",
        "scheme": "xyz",
        "format": "png",
        "tiles_url": "{z}/{x}/{y}.png",
        "minZoom": min(MARINA_ZOOMS),
        "maxZoom": max(MARINA_ZOOMS),
        "nativeZoom": MARINA_NATIVE_ZOOM,
        "tileSize": TILE,
        "bounds": [r(west, 9), r(south, 9), r(east, 9), r(north, 9)],
        "center": [r(clon, 9), r(clat, 9)],
        "tiles": tw.counts(),
        "tileRanges": {str(z): tw.ranges[z] for z in MARINA_ZOOMS},
        "groundResolutionM": res[str(MARINA_NATIVE_ZOOM)],
        "groundResolutionByZoomM": res,
        "imageSize": [w, h],
        "originGlobalPx": {"z": MARINA_NATIVE_ZOOM, "x": ox, "y": oy},
        "originTile": {"z": MARINA_NATIVE_ZOOM, "x": MARINA_TILE_Z19[0], "y": MARINA_TILE_Z19[1],
                       "offsetPx": list(MARINA_OFFSET_IN_TILE)},
        "downsampling": "z18/z17: f x f box mean (f = 2, 4) of the z19 mosaic on the global pixel grid, "
        "rounded half up, floor((sum + f*f/2) / (f*f)) == Pillow Image.reduce(f); "
        "origin and size are multiples of 4, so no block straddles the image edge",
        "referenceImage": {"path": "source.png", "sha256": sha256_hex(source_png),
                           "decoder": f"Pillow {PIL.__version__} (libjpeg-turbo {features.version('libjpeg_turbo')})"},
        "aoi": "tests/data/aoi/marina.geojson",
    }

    ring = [px_to_lonlat(ox + px, oy + py, MARINA_NATIVE_ZOOM) for px, py in MARINA_AOI_PX]
    feat = polygon_feature(ring, {
        "name": "marina", "tileset": "marina", "zoom": MARINA_NATIVE_ZOOM,
        "description": "Most of the marina's boats; lies inside the marina image footprint (nominal placement)",
    })
    for lon, lat in feat["geometry"]["coordinates"][0]:
        assert west < lon < east and south < lat < north, "marina AOI outside the image"
    fixtures.put(AOI_DIR / "marina.geojson", feat)
    return tw.commit(tileset)


# ================================================================ osbs
class Osbs:
    def __init__(self):
        path = SRC_DIR / "OSBS_029.tif"
        with rasterio.open(path) as ds:
            assert ds.crs.to_epsg() == 32617, ds.crs
            self.t = ds.transform
            self.img = np.transpose(ds.read(), (1, 2, 0))  # (H, W, 3) uint8
            self.nodata = ds.nodata
        assert self.t.b == 0 and self.t.d == 0, "rotated GeoTIFF not supported"
        self.h, self.w = self.img.shape[:2]
        self.res = self.t.a
        self.merc_to_utm = pyproj.Transformer.from_crs("EPSG:3857", "EPSG:32617", always_xy=True)
        self.utm_to_merc = pyproj.Transformer.from_crs("EPSG:32617", "EPSG:3857", always_xy=True)
        self.utm_to_ll = pyproj.Transformer.from_crs("EPSG:32617", "EPSG:4326", always_xy=True)

    def px_to_utm(self, col, row):
        """Source pixel coordinates (continuous; centre of pixel (c, r) is (c+0.5, r+0.5)) -> UTM."""
        return self.t * (np.asarray(col, np.float64), np.asarray(row, np.float64))

    def utm_to_px(self, e, n):
        col = (np.asarray(e) - self.t.c) / self.t.a
        row = (np.asarray(n) - self.t.f) / self.t.e
        return col, row

    def outline_utm(self, k: int = 40):
        s = np.linspace(0.0, 1.0, k + 1)
        cols = np.concatenate([s * self.w, np.full_like(s, self.w), (1 - s) * self.w, np.zeros_like(s)])
        rows = np.concatenate([np.zeros_like(s), s * self.h, np.full_like(s, self.h), (1 - s) * self.h])
        return self.px_to_utm(cols, rows)

    def sample_bilinear(self, col, row):
        """Bilinear sample at continuous pixel coordinates; edge pixels clamped. Returns float (.., 3)."""
        s = col - 0.5
        t = row - 0.5
        i0 = np.floor(s)
        j0 = np.floor(t)
        fx = (s - i0)[..., None]
        fy = (t - j0)[..., None]
        i0 = i0.astype(np.int64)
        j0 = j0.astype(np.int64)
        i1 = np.clip(i0 + 1, 0, self.w - 1)
        j1 = np.clip(j0 + 1, 0, self.h - 1)
        i0 = np.clip(i0, 0, self.w - 1)
        j0 = np.clip(j0, 0, self.h - 1)
        a = self.img.astype(np.float64)
        top = a[j0, i0] * (1 - fx) + a[j0, i1] * fx
        bot = a[j1, i0] * (1 - fx) + a[j1, i1] * fx
        return top * (1 - fy) + bot * fy

    def render(self, z: int):
        """Tile-aligned canvas for zoom z: (canvas, covered, tx0, ty0, merc geotransform)."""
        e, n = self.outline_utm()
        mx, my = self.utm_to_merc.transform(e, n)
        gx, gy = merc_to_px(mx, my, z)
        tx0, tx1 = int(math.floor(gx.min() / TILE)), int(math.floor(gx.max() / TILE))
        ty0, ty1 = int(math.floor(gy.min() / TILE)), int(math.floor(gy.max() / TILE))
        cw, ch = (tx1 - tx0 + 1) * TILE, (ty1 - ty0 + 1) * TILE
        # Pixel centres of the whole canvas on the tile grid.
        px = tx0 * TILE + np.arange(cw, dtype=np.float64) + 0.5
        py = ty0 * TILE + np.arange(ch, dtype=np.float64) + 0.5
        PX, PY = np.meshgrid(px, py)
        MX, MY = px_to_merc(PX, PY, z)
        E, N = self.merc_to_utm.transform(MX, MY)
        col, row = self.utm_to_px(E, N)
        covered = (col >= 0) & (col < self.w) & (row >= 0) & (row < self.h)
        val = self.sample_bilinear(col, row)
        canvas = np.clip(np.floor(val + 0.5), 0, 255).astype(np.uint8)
        canvas[~covered] = 0
        return canvas, covered, tx0, ty0

    # ------------------------------------------------------------ checkpoints
    def checkpoints(self) -> dict:
        a = self.img.astype(np.int16)
        h, w = self.h, self.w

        def window_dev(k):
            """max over channels and the (2k+1)^2 window of |neighbour - centre|, for interior pixels."""
            dev = np.zeros((h, w), np.int16)
            for dy in range(-k, k + 1):
                for dx in range(-k, k + 1):
                    sh = np.roll(np.roll(a, dy, axis=0), dx, axis=1)
                    dev = np.maximum(dev, np.abs(sh - a).max(axis=2))
            return dev

        dev1 = window_dev(1)
        dev2 = window_dev(2)
        # Saturated or nodata-valued (255) neighbourhoods are excluded.
        mx = self.img.max(axis=2)
        mn = self.img.min(axis=2)
        sat = np.zeros((h, w), bool)
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                sat |= np.roll(np.roll((mx >= 250) | (mn <= 5), dy, 0), dx, 1)
        margin = 8
        gx, gy = 5, 4  # 20 cells
        pts = []
        for cy in range(gy):
            for cx in range(gx):
                r0 = margin + (h - 2 * margin) * cy // gy
                r1 = margin + (h - 2 * margin) * (cy + 1) // gy
                c0 = margin + (w - 2 * margin) * cx // gx
                c1 = margin + (w - 2 * margin) * (cx + 1) // gx
                best = None
                for rr in range(r0, r1):
                    for cc in range(c0, c1):
                        if sat[rr, cc]:
                            continue
                        # prefer smooth 5x5, then smooth 3x3, then near the cell centre
                        d = (rr - (r0 + r1) / 2) ** 2 + (cc - (c0 + c1) / 2) ** 2
                        key = (int(dev2[rr, cc]), int(dev1[rr, cc]), d, rr, cc)
                        if best is None or key < best:
                            best = key
                assert best is not None
                pts.append((best[3], best[4]))
        out = []
        for i, (rr, cc) in enumerate(pts):
            e, n = self.px_to_utm(cc + 0.5, rr + 0.5)
            lon, lat = self.utm_to_ll.transform(e, n)
            x22, y22 = lonlat_to_px(lon, lat, OSBS_CHECK_ZOOM)
            out.append({
                "id": i,
                "pixel": [int(cc), int(rr)],
                "utm": [r(e, 3), r(n, 3)],
                "lon": r(lon, 10),
                "lat": r(lat, 10),
                "rgb": [int(v) for v in self.img[rr, cc]],
                "tol3x3": int(dev1[rr, cc]),
                "tol5x5": int(dev2[rr, cc]),
                "globalPxZ22": [r(x22, 3), r(y22, 3)],
            })
        return {
            "description": "Sample points of OSBS_029.tif (deepforest==2.1.0) for checking that stitched "
            "EPSG:3857 tiles put the original colours at the right lon/lat",
            "source": SOURCES["osbs"]["pypi"] + " " + SOURCES["osbs"]["path"],
            "sourceSha256": SOURCES["osbs"]["sha256"],
            "crs": "EPSG:32617",
            "geotransform": [self.t.c, self.t.a, self.t.b, self.t.f, self.t.d, self.t.e],
            "method": "pixel centre (col+0.5, row+0.5) -> UTM 17N via the GeoTIFF affine transform -> "
            "lon/lat (EPSG:4326) via pyproj " + pyproj.__version__ + "; rgb is the original pixel value. "
            "Points: the smoothest pixel (5x5 window) in each cell of a 5x4 grid, no channel <= 5 or >= 250 "
            "within 5x5. globalPxZ22 = Web Mercator global pixel coordinates of lon/lat at zoom 22.",
            "tileset": "osbs",
            "zoom": OSBS_CHECK_ZOOM,
            "tolerance": "Look up the tile pixel containing (lon, lat) at zoom 20, 21 or 22 (floor of the global "
            "pixel coordinates). Every channel must be within tol3x3 of rgb: that pixel's centre is less than one "
            "source pixel from the point, so its bilinear sample only blends the 3x3 source neighbourhood, whose "
            "max |neighbour - centre| is tol3x3 (make_tiles.py checks this bound). Use tol5x5 if the lookup may be "
            "off by one output pixel (z21/z22 only).",
            "points": out,
        }


def make_osbs(fixtures: Fixtures, crosscheck: bool) -> dict:
    o = Osbs()
    tw = TileWriter("osbs")
    canvases = {}
    for z in OSBS_ZOOMS:
        canvas, covered, tx0, ty0 = o.render(z)
        canvases[z] = (canvas, tx0, ty0)
        tw.cut(z, canvas, covered, tx0, ty0)
        if crosscheck:
            gdal_crosscheck(o, z, canvas, covered, tx0, ty0)

    # footprint bounds in lon/lat (densified outline)
    e, n = o.outline_utm()
    lon, lat = o.utm_to_ll.transform(e, n)
    west, east, south, north = lon.min(), lon.max(), lat.min(), lat.max()
    ce, cn = o.px_to_utm(o.w / 2, o.h / 2)
    clon, clat = o.utm_to_ll.transform(ce, cn)
    res = {str(z): r(ground_resolution(float(clat), z), 5) for z in OSBS_ZOOMS}

    # Checkpoints: generated from the original GeoTIFF, then checked against the tiles just rendered.
    cp = o.checkpoints()
    worst = {}
    for z in OSBS_ZOOMS:
        canvas, tx0, ty0 = canvases[z]
        worst_z = 0
        for p in cp["points"]:
            gx, gy = lonlat_to_px(p["lon"], p["lat"], z)
            px = int(math.floor(gx)) - tx0 * TILE
            py = int(math.floor(gy)) - ty0 * TILE
            got = canvas[py, px].astype(int)
            d = int(np.abs(got - np.array(p["rgb"])).max())
            assert d <= p["tol3x3"], f"z{z} checkpoint {p['id']}: got {got.tolist()} want {p['rgb']} tol {p['tol3x3']}"
            worst_z = max(worst_z, d)
        worst[z] = worst_z
    # The same lookup on the PNG files written for z22, decoded again.
    for p in cp["points"]:
        gx, gy = lonlat_to_px(p["lon"], p["lat"], OSBS_CHECK_ZOOM)
        gx, gy = int(math.floor(gx)), int(math.floor(gy))
        tile = tw.stage / f"{OSBS_CHECK_ZOOM}/{gx // TILE}/{gy // TILE}.png"
        with Image.open(tile) as t:
            got = np.asarray(t.convert("RGB"))[gy % TILE, gx % TILE].astype(int)
        assert int(np.abs(got - np.array(p["rgb"])).max()) <= p["tol3x3"]
    print("osbs checkpoints: max |tile - original| per zoom " + ", ".join(f"z{z}={d}" for z, d in worst.items())
          + f" (tol3x3 range {min(p['tol3x3'] for p in cp['points'])}..{max(p['tol3x3'] for p in cp['points'])})")
    fixtures.put(CHECKPOINTS, cp)

    # Tree crown annotations as lon/lat polygons (generated, not committed).
    feats = []
    with open(SRC_DIR / "OSBS_029.csv") as fh:
        header = fh.readline().strip().split(",")
        for k, line in enumerate(fh):
            rec = dict(zip(header, line.strip().split(",")))
            x0, y0, x1, y1 = (float(rec[c]) for c in ("xmin", "ymin", "xmax", "ymax"))
            ring_px = [(x0, y1), (x1, y1), (x1, y0), (x0, y0)]
            ring = [o.utm_to_ll.transform(*o.px_to_utm(c, rr)) for c, rr in ring_px]
            feats.append(polygon_feature(ring, {"id": k, "label": rec["label"],
                                                "pixelBox": [x0, y0, x1, y1]}))
    tw.write_bytes("annotations.geojson", dumps({"type": "FeatureCollection", "features": feats}).encode())

    aoi_ring = [o.utm_to_ll.transform(*o.px_to_utm(c, rr)) for c, rr in OSBS_AOI_PX]
    feat = polygon_feature(aoi_ring, {
        "name": "osbs", "tileset": "osbs", "zoom": OSBS_CHECK_ZOOM,
        "description": "Most of OSBS_029.tif (Ordway-Swisher Biological Station, Florida); inside the image footprint",
    })
    for lon_, lat_ in feat["geometry"]["coordinates"][0]:
        c, rr = o.utm_to_px(*o.utm_to_ll.transform(lon_, lat_, direction="INVERSE"))
        assert 0 < c < o.w and 0 < rr < o.h, "osbs AOI outside the image"
    fixtures.put(AOI_DIR / "osbs.geojson", feat)

    tileset = {
        "name": "osbs",
        "description": "deepforest sample OSBS_029 (NEON airborne RGB, Ordway-Swisher Biological Station, Florida), "
        "reprojected from EPSG:32617 to EPSG:3857 tiles",
        "source": SOURCES["osbs"],
        "license": "MIT (deepforest, Copyright (c) 2019 Ben Weinstein)",
        "placement": "georeferenced",
        "crs": "EPSG:3857",
        "scheme": "xyz",
        "format": "png",
        "tiles_url": "{z}/{x}/{y}.png",
        "minZoom": min(OSBS_ZOOMS),
        "maxZoom": max(OSBS_ZOOMS),
        "nativeZoom": OSBS_NATIVE_ZOOM,
        "tileSize": TILE,
        "bounds": [r(west, 9), r(south, 9), r(east, 9), r(north, 9)],
        "center": [r(clon, 9), r(clat, 9)],
        "tiles": tw.counts(),
        "tileRanges": {str(z): tw.ranges[z] for z in OSBS_ZOOMS},
        "groundResolutionM": res[str(OSBS_NATIVE_ZOOM)],
        "groundResolutionByZoomM": res,
        "sourceResolutionM": o.res,
        "imageSize": [o.w, o.h],
        "resampling": "per output pixel: centre (256x+i+0.5, 256y+j+0.5) -> EPSG:3857 metres -> EPSG:32617 via "
        f"pyproj {pyproj.__version__} (PROJ {pyproj.proj_version_str}) -> source pixel coordinates via the "
        "GeoTIFF transform; bilinear between source pixel centres, edge pixels clamped, rounded half up; "
        "pixels whose centre maps outside the source are black. The GeoTIFF's nodata=255 is ignored "
        "(its 255s are saturated sand, not holes).",
        "annotations": "annotations.geojson",
        "checkpoints": "tests/data/osbs_checkpoints.json",
        "aoi": "tests/data/aoi/osbs.geojson",
    }
    return tw.commit(tileset)


def gdal_crosscheck(o: Osbs, z: int, canvas, covered, tx0, ty0) -> None:
    """Compare with GDAL's warper (rasterio.warp.reproject, bilinear) on the same tile grid."""
    from affine import Affine
    from rasterio.warp import Resampling, reproject

    ch, cw = covered.shape
    res = CIRCUMFERENCE / world_px(z)
    mx0, my0 = px_to_merc(tx0 * TILE, ty0 * TILE, z)
    dst = np.zeros((3, ch, cw), np.uint8)
    reproject(
        source=np.transpose(o.img, (2, 0, 1)).copy(), destination=dst,
        src_transform=o.t, src_crs="EPSG:32617", src_nodata=None,
        dst_transform=Affine(res, 0, float(mx0), 0, -res, float(my0)), dst_crs="EPSG:3857", dst_nodata=None,
        resampling=Resampling.bilinear,
    )
    dst = np.transpose(dst, (1, 2, 0)).astype(int)
    # interior only: at least 2 output px away from the footprint edge
    inner = covered.copy()
    for dy in (-2, 2):
        inner &= np.roll(covered, dy, 0)
    for dx in (-2, 2):
        inner &= np.roll(covered, dx, 1)
    d = np.abs(dst - canvas.astype(int)).max(axis=2)[inner]
    print(f"  crosscheck z{z} vs GDAL {rasterio.__gdal_version__} bilinear: max {d.max()}, mean {d.mean():.3f}, "
          f"share > 1: {(d > 1).mean():.4%} over {inner.sum()} interior px")


def summary_fixture(fixtures: Fixtures, done: list[dict]) -> None:
    """tests/data/tilesets.json: what the tile sets must look like, for tests that don't run Python.

    Placement, bounds and tile ranges must match exactly. The digests are compared too, but a
    difference there is only a warning: PNG bytes depend on the zlib inside the pinned Pillow wheel
    (another platform's wheel may compress differently), while the pixels are what tests rely on.
    """
    keys = ("placement", "minZoom", "maxZoom", "nativeZoom", "tileSize", "bounds", "center", "tiles",
            "tileRanges", "imageSize", "originGlobalPx", "groundResolutionM")
    obj = {
        "description": "Expected www/tiles/<name>/tileset.json values, generated by tests/data/make_tiles.py",
        "tilesets": {ts["name"]: {k: ts[k] for k in keys if k in ts} | {"digest": ts["digest"]} for ts in done},
    }
    path = HERE / "tilesets.json"
    if path.exists() and not fixtures.update:
        old = json.loads(path.read_text())
        strip = lambda o: {n: {k: v for k, v in t.items() if k != "digest"} for n, t in o["tilesets"].items()}
        if strip(old) == strip(obj):
            for n, t in obj["tilesets"].items():
                want = old["tilesets"][n]["digest"]
                if t["digest"] != want:
                    print(f"WARNING: {n} tile digest {t['digest']} differs from the committed {want} "
                          "(same placement; PNG encoder bytes differ?)", file=sys.stderr)
            return
    fixtures.put(path, obj)


# ================================================================ main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--update-fixtures", action="store_true",
                    help="rewrite the committed fixtures in tests/data/ instead of failing when they differ")
    ap.add_argument("--crosscheck", action="store_true",
                    help="also compare the osbs tiles with GDAL's warper (diagnostic only)")
    ap.add_argument("--only", choices=("marina", "osbs"), help="build one tile set")
    args = ap.parse_args()

    missing = [p for p in ("obb_test_image.png", "OSBS_029.tif", "OSBS_029.csv") if not (SRC_DIR / p).exists()]
    if missing:
        print(f"missing {missing} in {SRC_DIR.relative_to(ROOT)}: run tests/data/fetch_sources.sh first", file=sys.stderr)
        return 2

    t0 = time.time()
    TILES_DIR.mkdir(parents=True, exist_ok=True)
    fixtures = Fixtures(args.update_fixtures)
    print(f"Pillow {PIL.__version__}, numpy {np.__version__}, pyproj {pyproj.__version__} "
          f"(PROJ {pyproj.proj_version_str}), rasterio {rasterio.__version__} (GDAL {rasterio.__gdal_version__})")
    done = []
    if args.only in (None, "marina"):
        done.append(make_marina(fixtures))
    if args.only in (None, "osbs"):
        done.append(make_osbs(fixtures, args.crosscheck))

    if args.only is None:
        summary_fixture(fixtures, done)

    for ts in done:
        print(f"\n{ts['name']} -> www/tiles/{ts['name']}/  ({ts['placement']})")
        for z, n in ts["tiles"].items():
            print(f"  z{z}: {n:3d} tiles, x {ts['tileRanges'][z][0]}..{ts['tileRanges'][z][2]}, "
                  f"y {ts['tileRanges'][z][1]}..{ts['tileRanges'][z][3]}, {ts['groundResolutionByZoomM'][z]} m/px")
        print(f"  bounds (W,S,E,N) {ts['bounds']}  center {ts['center']}")
        if "originGlobalPx" in ts:
            o = ts["originGlobalPx"]
            print(f"  image {ts['imageSize'][0]}x{ts['imageSize'][1]} at z{o['z']} global px ({o['x']}, {o['y']})")
        print(f"  digest {ts['digest']}")
    print(f"\ndone in {time.time() - t0:.1f} s")
    if fixtures.stale:
        print(f"\nERROR: committed fixtures differ from the generated ones: {', '.join(map(str, fixtures.stale))}\n"
              "Placement or inputs changed. If that is intended, rerun with --update-fixtures and commit them.",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
