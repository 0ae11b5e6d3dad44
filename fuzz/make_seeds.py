"""Writes the seed corpora of the fuzz targets that read bytes into fuzz/corpus/<target>/
(committed; rerun only to change them; `plan` and `url_template` take structured inputs and
keep a corpus a fuzzing run found, see run.sh). Seeds are small real inputs of each kind, so
the fuzzer starts from valid structure rather than from nothing:

    ../.venv-data/bin/python make_seeds.py      # rasterio (GDAL), numpy; from tests/setup.sh

- cog_open: 40 x 24 px COGs (16 px tiles, one overview) in each compression the reader takes
  (Deflate + predictor, LZW, JPEG YCbCr, WebP, none), RGBA and grey, BigTIFF, in EPSG:32632,
  3857 and 4326.
- cog_tile: the first tile of some of those, as stored (the JPEG one with its tables).
- tile_image: tiles as a server sends them (Pillow): PNG RGB, RGBA, palette and grey 16-bit,
  JPEG baseline and progressive, WebP lossy and lossless with alpha.
- safetensors: a few tensors named as in YOLOv8 checkpoints, F32, F16 and BF16.
- area, options, manifest: the repository's own examples (areas, the shipped manifest) and
  option sets of every source kind.
"""

import json
import os
import shutil
import struct

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.io import MemoryFile
from rasterio.transform import from_origin

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    mode = "w" if isinstance(data, str) else "wb"
    with open(os.path.join(CORPUS, target, name), mode) as f:
        f.write(data)


def cog(name, bands, crs, transform, **profile):
    height, width = bands.shape[1], bands.shape[2]
    base = dict(driver="GTiff", width=width, height=height, count=bands.shape[0], dtype="uint8",
                crs=crs, transform=transform, tiled=True, blockxsize=16, blockysize=16)
    with MemoryFile() as mem:
        with mem.open(**base) as ds:
            ds.write(bands)
        with mem.open() as src:
            os.makedirs(os.path.join(CORPUS, "cog_open"), exist_ok=True)
            dst = os.path.join(CORPUS, "cog_open", name)
            rasterio.shutil.copy(src, dst, driver="COG", blocksize=16, overview_count=1, **profile)
    with open(dst, "rb") as f:
        return f.read()


def jpeg_tables(data):
    """The JPEGTables tag (347) of a little-endian classic TIFF's first IFD."""
    assert data[:4] == b"II*\0"
    ifd = struct.unpack_from("<I", data, 4)[0]
    for i in range(struct.unpack_from("<H", data, ifd)[0]):
        tag, kind, count, value = struct.unpack_from("<HHII", data, ifd + 2 + 12 * i)
        if tag == 347:
            return data[value:value + count] if count > 4 else data[ifd + 10 + 12 * i:][:count]
    return None


def tile_seed(data, compression, color, extra=0, flags=0):
    """The first tile of a COG in memory, as cog_tile reads it: six bytes of format (see
    fuzz_targets/cog_tile.rs), the JPEG tables if any, the tile's stored bytes."""
    with MemoryFile(data) as mem, mem.open() as ds:
        offset = int(ds.get_tag_item("BLOCK_OFFSET_0_0", "TIFF", bidx=1))
        size = int(ds.get_tag_item("BLOCK_SIZE_0_0", "TIFF", bidx=1))
    tables = jpeg_tables(data) if compression == 2 else None
    head = bytes([15, 15, compression, color, extra, flags | (4 if tables else 0)])
    if tables:
        head += struct.pack("<H", len(tables)) + tables
    return head + data[offset:offset + size]


def image_seeds(rgb):
    """tile_image's seeds: `rgb` ([3, H, W] uint8) encoded as a tile server might send it."""
    import io

    from PIL import Image

    image = Image.fromarray(np.moveaxis(rgb, 0, -1))
    alpha = image.copy()
    alpha.putalpha(Image.fromarray(((rgb[0] // 64) * 85).astype("uint8")))
    grey16 = Image.fromarray(rgb[0].astype("uint16") * 257)
    cases = {
        "rgb.png": (image, "PNG", {}),
        "rgba.png": (alpha, "PNG", {}),
        "palette.png": (image.convert("P", palette=Image.Palette.ADAPTIVE, colors=16), "PNG", {"transparency": 0}),
        "grey16.png": (grey16, "PNG", {}),
        "baseline.jpg": (image, "JPEG", {"quality": 80}),
        "progressive.jpg": (image, "JPEG", {"quality": 80, "progressive": True}),
        "lossy.webp": (alpha, "WEBP", {"quality": 80}),
        "lossless.webp": (alpha, "WEBP", {"lossless": True}),
    }
    for name, (img, kind, options) in cases.items():
        out = io.BytesIO()
        img.save(out, kind, **options)
        put("tile_image", name, out.getvalue())


def main():
    for target in ("area", "cog_open", "cog_tile", "manifest", "options", "safetensors", "tile_image"):
        shutil.rmtree(os.path.join(CORPUS, target), ignore_errors=True)
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:24, 0:40]
    rgb = np.stack([(x * 6) % 256, (y * 10) % 256, (x * y) % 256]).astype("uint8")
    rgb = np.clip(rgb.astype(int) + rng.integers(-8, 8, rgb.shape), 0, 255).astype("uint8")
    utm = from_origin(431_200.0, 5_094_100.0, 0.25, 0.25)
    merc = from_origin(909_700.0, 5_780_600.0, 0.3, 0.3)
    lonlat = from_origin(8.1725, 46.0072, 3e-6, 3e-6)
    tiles = {}
    tiles["deflate_pred"] = cog("deflate_pred.tif", rgb, "EPSG:32632", utm, compress="DEFLATE", predictor=2)
    tiles["lzw"] = cog("lzw_3857.tif", rgb, "EPSG:3857", merc, compress="LZW")
    tiles["jpeg"] = cog("jpeg_4326.tif", rgb, "EPSG:4326", lonlat, compress="JPEG", quality=80)
    tiles["webp"] = cog("webp.tif", rgb, "EPSG:32632", utm, compress="WEBP", quality=80)
    tiles["none"] = cog("none.tif", rgb, "EPSG:32632", utm, compress="NONE")
    rgba = np.concatenate([rgb, np.full((1, 24, 40), 255, "uint8")])
    tiles["rgba"] = cog("rgba.tif", rgba, "EPSG:32632", utm, compress="DEFLATE")
    tiles["gray"] = cog("gray.tif", rgb[:1], "EPSG:32632", utm, compress="LZW", predictor=2)
    cog("bigtiff.tif", rgb, "EPSG:32632", utm, compress="DEFLATE", bigtiff="YES")
    # (compression: 0 none, 1 LZW, 2 JPEG, 3 Deflate, 4 WebP; colour: 0 RGB, 1 YCbCr, 2 grey;
    # extra samples; flags: 1 alpha, 2 predictor)
    formats = {"deflate_pred": (3, 0, 0, 2), "lzw": (1, 0, 0, 0), "jpeg": (2, 1, 0, 0), "webp": (4, 0, 0, 0),
               "none": (0, 0, 0, 0), "rgba": (3, 0, 1, 1), "gray": (1, 2, 0, 2)}
    for name, data in tiles.items():
        put("cog_tile", name, tile_seed(data, *formats[name]))
    image_seeds(rgb)

    def safetensors(tensors, dtype):
        header, blobs, offset = {}, [], 0
        for name, shape in tensors:
            values = rng.standard_normal(int(np.prod(shape))).astype("float32")
            if dtype == "F16":
                raw = values.astype("float16").tobytes()
            elif dtype == "BF16":
                raw = (values.view("uint32") >> 16).astype("uint16").tobytes()
            else:
                raw = values.tobytes()
            header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
            blobs.append(raw)
            offset += len(raw)
        header["__metadata__"] = {"format": "pt"}
        text = json.dumps(header).encode()
        return struct.pack("<Q", len(text)) + text + b"".join(blobs)

    convs = [("model.0.conv.weight", (16, 3, 3, 3)), ("model.0.bn.weight", (16,)),
             ("model.0.bn.num_batches_tracked", (1,))]
    put("safetensors", "f32", safetensors(convs[:2], "F32"))
    put("safetensors", "f16", safetensors(convs[:2], "F16"))
    put("safetensors", "bf16", safetensors([("model.22.cv3.0.2.weight", (15, 64, 1, 1))], "BF16"))

    with open(os.path.join(ROOT, "models", "manifest.json")) as f:
        manifest = f.read()
    put("manifest", "shipped.json", manifest)
    for name in sorted(os.listdir(os.path.join(ROOT, "tests", "data", "aoi"))):
        with open(os.path.join(ROOT, "tests", "data", "aoi", name)) as f:
            put("area", name, f.read())
    with open(os.path.join(ROOT, "tests", "data", "aoi", "marina.geojson")) as f:
        marina = json.load(f)
    put("area", "multipolygon.json", json.dumps({"type": "MultiPolygon", "coordinates": [
        [[[8.17, 46.0], [8.18, 46.0], [8.18, 46.01], [8.17, 46.0]],
         [[8.175, 46.002], [8.177, 46.002], [8.176, 46.004], [8.175, 46.002]]],
        [[[8.19, 46.0], [8.2, 46.0], [8.2, 46.01], [8.19, 46.0]]]]}))
    put("area", "feature-collection.json", json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": marina.get("geometry", marina)}]}))

    sources = [
        {"url": "https://tiles.example/{z}/{x}/{y}.png?api_key=k-12345", "maxZoom": 21},
        {"url": "https://{s}.tiles.example/{z}/{x}/{-y}@{r}.jpg", "subdomains": ["a", "b"], "retina": True},
        {"preset": "mapbox-satellite", "accessToken": "pk.eyJ1Ijoi"},
        {"url": "https://h.example/wms", "wms": {"layers": ["ortho"], "params": {"TOKEN": "t0ps3cret"}}},
        {"pmtiles": "https://h.example/marina.pmtiles"},
        {"url": "https://h.example/{q}.jpeg", "tileSize": 512},
    ]
    detects = [
        {"zoom": 19},
        {"zoom": 18, "confidence": 0.5, "iou": 0.6, "maxDetections": 50, "maxTiles": 100,
         "classes": ["ship", 9], "windowOverlap": 64, "clip": "within", "failOnMissingTiles": True},
    ]
    for i, source in enumerate(sources):
        engine = {"source": source, "model": "yolov8n-obb-dota", "modelBaseUrl": "https://m.example/models/",
                  "backend": "cpu", "fetch": {"retries": 2, "timeoutMs": 5000, "perHost": 4}, "threads": 2}
        put("options", f"options-{i}.json", json.dumps({"engine": engine, "detect": detects[i % 2]}))
    print("seeds in", CORPUS)
    for target in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, target))
        size = sum(os.path.getsize(os.path.join(CORPUS, target, f)) for f in files)
        print(f"  {target}: {len(files)} files, {size} bytes")


if __name__ == "__main__":
    main()
