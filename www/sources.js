// The demo's imagery sources: one entry per source, and nothing else about a source lives in
// app.js. Each entry has
//   id        a short name (the ?source= parameter, the download's file name)
//   name      what the imagery selector shows
//   map       how MapLibre shows it: a raster source specification (tiles, or a TileJSON /
//             "pmtiles://<url>" in `url`; the pmtiles:// protocol is registered in app.js)
//   source    what geodetect fetches: the `source` option of Detector.create (pkg/README.md)
//   tileset   (optional) a tileset.json (www/tiles/<name>/tileset.json, made by
//             tests/data/make_tiles.py) with bounds, minZoom/maxZoom, nativeZoom, tileSize
//             and licence; app.js copies them into `map` and `source` where those do not say.
//             Without it, bounds, zooms and attribution come from the MapLibre source once it
//             has loaded (its TileJSON, or the PMTiles header).
//   aoi       (optional) a sample area of interest (GeoJSON, served at /aoi/ from
//             tests/data/aoi/), the area the demo starts with.
//
// A PMTiles archive would be, e.g.:
//   { id: "ortho", name: "Orthophoto (PMTiles)",
//     map: { type: "raster", url: "pmtiles://https://data.example.org/ortho.pmtiles", tileSize: 256 },
//     source: { pmtiles: "https://data.example.org/ortho.pmtiles" } },

/** An absolute XYZ template for a tile set under www/tiles/ (geodetect's workers need absolute URLs). */
const xyz = (name) => `${new URL(`/tiles/${encodeURIComponent(name)}/`, location.href).href}{z}/{x}/{y}.png`;
/** The absolute URL of a tile set's PMTiles archive, www/tiles/<name>.pmtiles (tests/data/make_pmtiles.py). */
const archive = (name) => new URL(`/tiles/${encodeURIComponent(name)}.pmtiles`, location.href).href;

export const SOURCES = [
  {
    // Served as one PMTiles archive, read with range requests by MapLibre and geodetect alike.
    id: "marina",
    name: "Marina — drone photo (placed at Port Hercule, Monaco), PMTiles",
    map: { type: "raster", url: `pmtiles://${archive("marina")}`, tileSize: 256 },
    source: { pmtiles: archive("marina"), tileSize: 256 },
    tileset: "/tiles/marina/tileset.json",
    aoi: "/aoi/marina.geojson",
  },
  {
    id: "osbs",
    name: "OSBS — NEON airborne RGB (Florida)",
    map: { type: "raster", tiles: [xyz("osbs")], tileSize: 256 },
    source: { url: xyz("osbs"), tileSize: 256 },
    tileset: "/tiles/osbs/tileset.json",
    aoi: "/aoi/osbs.geojson",
  },
];
