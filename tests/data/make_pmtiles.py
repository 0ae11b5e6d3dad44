#!/usr/bin/env python3
"""Pack each tile set of www/tiles/ into one PMTiles v3 archive, www/tiles/<name>.pmtiles.

The archive holds exactly the PNG tiles of www/tiles/<name>/ (every zoom of its
tileset.json's tileRanges), uncompressed (PNG is compressed already), with the tile set's
bounds, zoom range, name and licence in the header and metadata, written with the PyPI
`pmtiles` package's writer. geodetect reads it with HTTP range requests; the tests compare
its detections with the XYZ tiles'. Deterministic: the same tiles give the same bytes.

    python tests/data/make_pmtiles.py [--only marina|osbs]
"""
import argparse
import json
import sys
from pathlib import Path

from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

ROOT = Path(__file__).resolve().parents[2]
TILES = ROOT / "www" / "tiles"


def pack(name: str) -> Path:
    tiles_dir = TILES / name
    tileset = json.loads((tiles_dir / "tileset.json").read_text())
    entries = []
    for zoom, (x0, y0, x1, y1) in tileset["tileRanges"].items():
        z = int(zoom)
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                path = tiles_dir / str(z) / str(x) / f"{y}.png"
                if path.exists():
                    entries.append((zxy_to_tileid(z, x, y), path))
    if not entries:
        raise SystemExit(f"{tiles_dir}: no tiles; run tests/data/make_tiles.py first")
    entries.sort()
    out = TILES / f"{name}.pmtiles"
    tmp = out.with_suffix(".pmtiles.tmp")
    w, s, e, n = tileset["bounds"]
    lon, lat = tileset["center"]
    e7 = lambda v: round(v * 10_000_000)  # noqa: E731
    with tmp.open("wb") as f:
        writer = Writer(f)
        for tile_id, path in entries:
            writer.write_tile(tile_id, path.read_bytes())
        writer.finalize(
            {
                "tile_type": TileType.PNG,
                "tile_compression": Compression.NONE,
                "min_zoom": tileset["minZoom"],
                "max_zoom": tileset["maxZoom"],
                "min_lon_e7": e7(w), "min_lat_e7": e7(s), "max_lon_e7": e7(e), "max_lat_e7": e7(n),
                "center_zoom": tileset["nativeZoom"], "center_lon_e7": e7(lon), "center_lat_e7": e7(lat),
            },
            {"name": name, "description": tileset.get("description", ""), "attribution": tileset.get("license", ""),
             "type": "baselayer", "format": "png"},
        )
    tmp.replace(out)
    print(f"{out.relative_to(ROOT)}: {len(entries)} tiles, {out.stat().st_size} bytes")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=("marina", "osbs"))
    args = ap.parse_args()
    for name in [args.only] if args.only else ["marina", "osbs"]:
        pack(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
