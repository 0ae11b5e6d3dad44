"""Makes the test COGs and their truth from the OSBS GeoTIFF, with rasterio (GDAL) and pyproj.

    .venv-data/bin/python tests/data/make_cogs.py [SOURCE.tif] [LABELS.csv]

(tests/data/prepare.sh runs it.) Writes into .cache/cog/ (gitignored), for tests/cog_*.rs:

- `<variant>.tif`: the OSBS image (400 x 400 RGB, EPSG:32617, 0.1 m) as a COG, 128 px tiles,
  two overviews (200 and 100 px), in each compression the reader supports, BigTIFF,
  PixelIsPoint, RGBA and greyscale; a plain tiled GeoTIFF with JPEG in RGB whose IFD is at
  the end of the file (not GDAL's COG layout); other CRSs (Web Mercator, WGS 84 lon/lat).
- `<variant>.L<level>.rgb`: every level as rasterio decodes it, pixel-interleaved, 3 or 4
  bytes a pixel (level 0 = full resolution, 1.. the overviews).
- `variants.tsv`: one line per variant: name, file, lossless (1/0), levels (as
  `WxH,WxH,..`), samples per pixel, EPSG code, the level-0 affine (a b c d e f as rasterio's
  `Affine`, pixel corner based), and the tree table it goes with.
- `affines.tsv`: per variant and level, rasterio's affine of that level (overviews too).
- `trees_<crs>.tsv`: per labelled tree: the box centre in the original image's pixels, its
  lon/lat (rasterio transform + pyproj, WGS 84), and where that lon/lat falls in the
  variant's own grid (pixel x, y).
- `bad_*.tif`: inputs the reader must refuse: stripped, 16-bit, planar separate, truncated.
- `marina_utm.tif`: the marina's zoom-19 XYZ tiles (`www/tiles/marina/19`, made by
  make_tiles.py) stitched in EPSG:3857 and reprojected (bilinear) to UTM zone 32N
  (EPSG:32632) at their ground resolution, 0.2158 m, as a COG (256 px tiles, Deflate, two
  overviews or more): the same imagery as the XYZ tiles in another grid and CRS, for
  `detect()` in the COG's own grid (tests/cog_detect.rs, tests/e2e/sources.test.mjs).
"""

import csv
import os
import sys

import numpy as np
import rasterio
import rasterio.shutil
from pyproj import Transformer
from rasterio.io import MemoryFile
from rasterio.warp import Resampling, calculate_default_transform, reproject

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, ".cache", "cog")
# Fetched from the deepforest wheel by tests/data/fetch_sources.sh.
DEFAULT_SRC = os.path.join(ROOT, ".cache", "pypi", "files", "OSBS_029.tif")


def cog(src_path, dst, **options):
    rasterio.shutil.copy(src_path, dst, driver="COG", BLOCKSIZE="128", **options)


def levels_of(path):
    """(width, height) of every level, full resolution first."""
    with rasterio.open(path) as ds:
        sizes = [(ds.width, ds.height)]
        for factor in ds.overviews(1):
            sizes.append((-(-ds.width // factor), -(-ds.height // factor)))
    # Overview sizes as GDAL wrote them (the factors above are rounded): read each one.
    real = [sizes[0]]
    for k in range(len(sizes) - 1):
        with rasterio.open(path, overview_level=k) as ov:
            real.append((ov.width, ov.height))
    return real


def dump_levels(name, path, affines):
    sizes = levels_of(path)
    for level in range(len(sizes)):
        kwargs = {} if level == 0 else {"overview_level": level - 1}
        with rasterio.open(path, **kwargs) as ds:
            arr = ds.read()  # (bands, rows, cols)
            t = ds.transform
            affines.append(f"{name}\t{level}\t" + " ".join(repr(v) for v in (t.a, t.b, t.c, t.d, t.e, t.f)))
        with open(os.path.join(OUT, f"{name}.L{level}.rgb"), "wb") as f:
            f.write(np.ascontiguousarray(np.transpose(arr, (1, 2, 0))).tobytes())
    return sizes


def memory_dataset(arr, profile, **tags):
    mf = MemoryFile()
    with mf.open(**profile) as ds:
        ds.write(arr)
        if tags:
            ds.update_tags(**tags)
    return mf


def main():
    src_path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_SRC
    labels_path = sys.argv[2] if len(sys.argv) > 2 else os.path.splitext(src_path)[0] + ".csv"
    os.makedirs(OUT, exist_ok=True)

    with rasterio.open(src_path) as src:
        profile = src.profile
        pixels = src.read()
        src_transform, src_crs = src.transform, src.crs

    make_marina_utm()

    variants = []  # (name, path, lossless, trees)

    def add(name, lossless, trees="utm", **options):
        path = os.path.join(OUT, f"{name}.tif")
        cog(src_path, path, **options)
        variants.append((name, path, lossless, trees))

    add("deflate_pred", 1, COMPRESS="DEFLATE", PREDICTOR="YES")
    add("lzw", 1, COMPRESS="LZW")
    add("lzw_pred", 1, COMPRESS="LZW", PREDICTOR="YES")
    add("none", 1, COMPRESS="NONE")
    add("jpeg", 0, COMPRESS="JPEG", QUALITY="90")
    add("webp", 0, COMPRESS="WEBP", QUALITY="90")
    add("webp_lossless", 1, COMPRESS="WEBP", WEBP_LOSSLESS="TRUE")
    add("bigtiff", 1, COMPRESS="DEFLATE", BIGTIFF="YES")

    # PixelIsPoint: GDAL writes RasterTypeGeoKey = PixelIsPoint and moves the tiepoint half a
    # pixel; the pixel-corner geotransform rasterio reports stays the same.
    point_profile = dict(profile, driver="GTiff")
    with memory_dataset(pixels, point_profile, AREA_OR_POINT="Point") as mf:
        path = os.path.join(OUT, "point.tif")
        cog(mf.name, path, COMPRESS="DEFLATE")
        variants.append(("point", path, 1, "utm"))

    # RGBA: an alpha band (a diagonal ramp, 0 in one corner), unassociated alpha.
    ys, xs = np.mgrid[0 : pixels.shape[1], 0 : pixels.shape[2]]
    alpha = np.clip((xs + ys) * 255 // (pixels.shape[1] + pixels.shape[2] - 2), 0, 255).astype("uint8")
    rgba = np.concatenate([pixels, alpha[None]], axis=0)
    rgba_profile = dict(profile, driver="GTiff", count=4, nodata=None, photometric="RGB", alpha="YES")
    with memory_dataset(rgba, rgba_profile) as mf:
        path = os.path.join(OUT, "rgba.tif")
        cog(mf.name, path, COMPRESS="DEFLATE", PREDICTOR="YES")
        variants.append(("rgba", path, 1, "utm"))

    # Greyscale (PhotometricInterpretation MinIsBlack, one band), LZW with predictor.
    gray = pixels.mean(axis=0).round().astype("uint8")[None]
    gray_profile = dict(profile, driver="GTiff", count=1, nodata=None, photometric="MINISBLACK")
    with memory_dataset(gray, gray_profile) as mf:
        path = os.path.join(OUT, "gray.tif")
        cog(mf.name, path, COMPRESS="LZW", PREDICTOR="YES")
        variants.append(("gray", path, 1, "utm"))

    # JPEG with PhotometricInterpretation RGB (no YCbCr) in a plain tiled GeoTIFF, then given
    # more metadata in place: GDAL rewrites the grown IFD at the end of the file, after the
    # tiles, so the header is not all in the first bytes.
    path = os.path.join(OUT, "jpeg_rgb_tiled.tif")
    with rasterio.open(
        path, "w", **dict(profile, driver="GTiff", tiled=True, blockxsize=128, blockysize=128,
                         compress="JPEG", photometric="RGB", jpeg_quality=90)
    ) as ds:
        ds.write(pixels)
    with rasterio.open(path, "r+") as ds:
        ds.update_tags(NOTE="metadata added after the tiles, " * 200)
    variants.append(("jpeg_rgb_tiled", path, 0, "utm"))

    # Other CRSs: Web Mercator and WGS 84 lon/lat, reprojected (nearest), as COGs.
    for name, crs in (("webmerc", "EPSG:3857"), ("lonlat", "EPSG:4326")):
        transform, width, height = calculate_default_transform(
            src_crs, crs, profile["width"], profile["height"],
            *rasterio.transform.array_bounds(profile["height"], profile["width"], src_transform),
        )
        dst = np.zeros((3, height, width), dtype="uint8")
        reproject(pixels, dst, src_transform=src_transform, src_crs=src_crs, dst_transform=transform,
                  dst_crs=crs, resampling=Resampling.nearest)
        p = dict(profile, driver="GTiff", crs=crs, transform=transform, width=width, height=height)
        with memory_dataset(dst, p) as mf:
            path = os.path.join(OUT, f"{name}.tif")
            cog(mf.name, path, COMPRESS="DEFLATE", PREDICTOR="YES")
            variants.append((name, path, 1, name))

    # Trees: box centres in the original image's pixels -> lon/lat (the truth for every
    # variant on the original grid) -> pixels of each reprojected grid.
    with open(labels_path) as f:
        boxes = [(float(r["xmin"]), float(r["ymin"]), float(r["xmax"]), float(r["ymax"])) for r in csv.DictReader(f)]
    to_wgs84 = Transformer.from_crs(src_crs, "EPSG:4326", always_xy=True)
    trees = []
    for xmin, ymin, xmax, ymax in boxes:
        cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
        x, y = src_transform * (cx, cy)
        lon, lat = to_wgs84.transform(x, y)
        trees.append((cx, cy, lon, lat))

    lines = []
    affines = []
    for name, path, lossless, tree_table in variants:
        sizes = dump_levels(name, path, affines)
        with rasterio.open(path) as ds:
            t = ds.transform
            epsg = ds.crs.to_epsg()
            count = ds.count
            if tree_table not in ("utm",) and not os.path.exists(os.path.join(OUT, f"trees_{tree_table}.tsv")):
                write_trees(f"trees_{tree_table}.tsv", trees, ds)
        levels = ",".join(f"{w}x{h}" for w, h in sizes)
        affine = " ".join(repr(v) for v in (t.a, t.b, t.c, t.d, t.e, t.f))
        lines.append(f"{name}\t{name}.tif\t{lossless}\t{levels}\t{count}\t{epsg}\t{affine}\ttrees_{tree_table}.tsv")
    with rasterio.open(os.path.join(OUT, "deflate_pred.tif")) as ds:
        write_trees("trees_utm.tsv", trees, ds)
    with open(os.path.join(OUT, "variants.tsv"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(OUT, "affines.tsv"), "w") as f:
        f.write("\n".join(affines) + "\n")

    make_bad(src_path, profile, pixels)
    print(f"wrote {len(variants)} variants and {len(trees)} trees to {OUT}")


def make_marina_utm():
    """The marina's zoom-19 tiles -> one EPSG:3857 raster -> UTM 32N COG (see the docstring)."""
    from PIL import Image

    tiles = os.path.join(ROOT, "www", "tiles", "marina", "19")
    xs = sorted(int(x) for x in os.listdir(tiles))
    ys = sorted({int(f.split(".")[0]) for x in xs for f in os.listdir(os.path.join(tiles, str(x)))})
    size = 256
    mosaic = np.zeros((3, len(ys) * size, len(xs) * size), dtype="uint8")
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            path = os.path.join(tiles, str(x), f"{y}.png")
            if os.path.exists(path):
                tile = np.asarray(Image.open(path).convert("RGB"))
                mosaic[:, j * size:(j + 1) * size, i * size:(i + 1) * size] = tile.transpose(2, 0, 1)
    half = 20037508.342789244
    res = 2 * half / (size * 2**19)
    src_transform = rasterio.transform.Affine(res, 0, -half + xs[0] * size * res, 0, -res, half - ys[0] * size * res)
    dst_crs = "EPSG:32632"
    height, width = mosaic.shape[1:]
    bounds = rasterio.transform.array_bounds(height, width, src_transform)
    transform, w, h = calculate_default_transform("EPSG:3857", dst_crs, width, height, *bounds, resolution=0.2158)
    dst = np.zeros((3, h, w), dtype="uint8")
    reproject(mosaic, dst, src_transform=src_transform, src_crs="EPSG:3857", dst_transform=transform,
              dst_crs=dst_crs, resampling=Resampling.bilinear)
    profile = dict(driver="GTiff", dtype="uint8", count=3, width=w, height=h, crs=dst_crs, transform=transform,
                   photometric="RGB")
    with memory_dataset(dst, profile) as mf:
        rasterio.shutil.copy(mf.name, os.path.join(OUT, "marina_utm.tif"), driver="COG", BLOCKSIZE="256",
                             COMPRESS="DEFLATE", PREDICTOR="YES")


def write_trees(filename, trees, ds):
    """cx cy lon lat px py: the tree centre in the original pixels, its lon/lat, and where that
    lon/lat falls in `ds`'s grid (pixels, corner based)."""
    from_wgs84 = Transformer.from_crs("EPSG:4326", ds.crs, always_xy=True)
    inverse = ~ds.transform
    with open(os.path.join(OUT, filename), "w") as f:
        for cx, cy, lon, lat in trees:
            x, y = from_wgs84.transform(lon, lat)
            px, py = inverse * (x, y)
            f.write(f"{cx!r}\t{cy!r}\t{lon!r}\t{lat!r}\t{px!r}\t{py!r}\n")


def make_bad(src_path, profile, pixels):
    # The source itself: LZW in strips of 6 rows.
    rasterio.shutil.copy(src_path, os.path.join(OUT, "bad_stripped.tif"), driver="GTiff")
    # 16-bit RGB, tiled.
    p16 = dict(profile, driver="GTiff", dtype="uint16", nodata=None, tiled=True, blockxsize=128, blockysize=128,
               compress="DEFLATE")
    with rasterio.open(os.path.join(OUT, "bad_16bit.tif"), "w", **p16) as ds:
        ds.write(pixels.astype("uint16") * 257)
    # Planar separate (one plane per band), tiled.
    pp = dict(profile, driver="GTiff", tiled=True, blockxsize=128, blockysize=128, compress="DEFLATE",
              interleave="band")
    with rasterio.open(os.path.join(OUT, "bad_planar.tif"), "w", **pp) as ds:
        ds.write(pixels)
    # Truncated: a COG cut inside its first IFD.
    with open(os.path.join(OUT, "deflate_pred.tif"), "rb") as f:
        head = f.read(300)
    with open(os.path.join(OUT, "bad_truncated.tif"), "wb") as f:
        f.write(head)


if __name__ == "__main__":
    main()
