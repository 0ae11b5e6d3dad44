// Imagery sources through the npm package in headless Chromium, each run through the same
// detect() on the marina AOI and compared with the XYZ tiles of the same imagery:
//
//   cd tests/e2e && node --test --test-reporter=spec sources.test.mjs
//
// - WMS 1.1.1 and 1.3.0 from a real WMS server: Debian's MapServer (`cgi-mapserver`) serving
//   the marina reference image (`www/tiles/marina/source.png`, placed in EPSG:3857 by a GDAL
//   VRT on a canvas of whole tiles), run as CGI behind a loopback server of this file. Its
//   GetMap of a tile's EPSG:3857 box is pixel for pixel the XYZ tile, so the detections must
//   be the same.
// - A Bing-style quadkey template (`{q}`) on a loopback server that maps quadkeys to the
//   marina's tiles: the same detections again.
// - The PMTiles archive of the same tiles (www/tiles/marina.pmtiles) read with range
//   requests: the same detections, one request for the header and root directory and one per
//   tile; a host that ignores `Range`, and a zoom the archive lacks, fail with a clear error.
// - The same tiles reprojected to UTM zone 32N as a Cloud-Optimized GeoTIFF
//   (.cache/cog/marina_utm.tif, made by tests/data/make_cogs.py), read with range requests
//   and run in its own grid: the XYZ run's boats, within what resampling moves them (the
//   native test tests/cog_detect.rs measures the same), one request per tile after the
//   header; on a pool of two workers, the same detections as on one.
// - The source's attribution comes back in the result.
// - A source's key never shows: an error whose reasons quote the tile URL (the browser's
//   own "Failed to parse URL" message included) carries `[redacted]` instead of the key;
//   a layer the WMS does not have fails every tile as "not a decodable image" (MapServer's
//   XML exception, sent with HTTP 200).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, symlink, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { join } from "node:path";
import { REPO, launchBrowser, matchDetections, startStaticServer, validateDetections, withPage } from "./helpers.mjs";
import { MODEL } from "./setup.mjs";

const MINUTE = 60_000;
const ZOOM = 19;
const OPTIONS = { zoom: ZOOM, confidence: 0.25, iou: 0.45 };
const AOI = JSON.parse(await readFile(join(REPO, "tests/data/aoi/marina.geojson"), "utf8"));
const MAPSERV = process.env.MAPSERV ?? "/usr/lib/cgi-bin/mapserv";
const WMS_DIR = join(REPO, "tests/out/wms");
const HALF = 20037508.342789244; // half the Web Mercator world, metres
const SECRET = "s3cr3t-K3y-0123456789";

let server;
let wms;
let browser;

before(async () => {
  server = await startStaticServer({
    mounts: { "/": join(REPO, "www"), "/pkg/": join(REPO, "pkg"), "/cog/": join(REPO, ".cache/cog") },
    // /qk/<quadkey>.png: the marina's z/x/y tile of that quadkey.
    rewrite: (path) => {
      const m = /^\/qk\/([0-3]+)\.png$/.exec(path);
      return m ? `/tiles/marina/${fromQuadkey(m[1]).join("/")}.png` : path;
    },
  });
  wms = await startMapServer();
  browser = await launchBrowser({ webgpu: false });
});

after(async () => {
  await browser?.close();
  await server?.close();
  await wms?.close();
});

/** [z, x, y] of a quadkey. */
function fromQuadkey(key) {
  let x = 0;
  let y = 0;
  for (const digit of key) {
    const d = Number(digit);
    x = x * 2 + (d & 1);
    y = y * 2 + (d >> 1);
  }
  return [key.length, x, y];
}

/**
 * MapServer behind a loopback HTTP server that runs `mapserv` as CGI per request, with a
 * map file serving the marina reference image in EPSG:3857 (placed by tileset.json's
 * originGlobalPx: one image pixel is one z19 Web Mercator pixel) on a canvas of whole tiles. CORS open, like a public
 * WMS. Returns { url (the endpoint, with its `map=` parameter), requests, close }.
 */
async function startMapServer() {
  if (!existsSync(MAPSERV)) throw new Error(`${MAPSERV} is missing: apt-get install cgi-mapserver (tests/setup.sh does)`);
  const tileset = JSON.parse(await readFile(join(REPO, "www/tiles/marina/tileset.json"), "utf8"));
  const { x, y, z } = tileset.originGlobalPx;
  const size = tileset.tileSize;
  const [tx0, ty0, tx1, ty1] = tileset.tileRanges[z];
  const px = (2 * HALF) / (size * 2 ** z);
  const [width, height] = tileset.imageSize;
  await rm(WMS_DIR, { recursive: true, force: true });
  await mkdir(WMS_DIR, { recursive: true });
  await symlink(join(REPO, "www/tiles/marina/source.png"), join(WMS_DIR, "marina.png"));
  // A GDAL VRT: the reference image at its place on a canvas of whole tiles (black around
  // it, as the XYZ tiles are). MapServer shifts the rows of a GetMap that the data covers
  // only in part by one, so the data covers every tile whole.
  const bands = ["Red", "Green", "Blue"].map((colour, i) => `  <VRTRasterBand dataType="Byte" band="${i + 1}">
    <ColorInterp>${colour}</ColorInterp>
    <SimpleSource>
      <SourceFilename relativeToVRT="1">marina.png</SourceFilename>
      <SourceBand>${i + 1}</SourceBand>
      <SrcRect xOff="0" yOff="0" xSize="${width}" ySize="${height}"/>
      <DstRect xOff="${x - tx0 * size}" yOff="${y - ty0 * size}" xSize="${width}" ySize="${height}"/>
    </SimpleSource>
  </VRTRasterBand>
`).join("");
  await writeFile(join(WMS_DIR, "marina.vrt"), `<VRTDataset rasterXSize="${(tx1 - tx0 + 1) * size}" rasterYSize="${(ty1 - ty0 + 1) * size}">
  <SRS>EPSG:3857</SRS>
  <GeoTransform>${tx0 * size * px - HALF}, ${px}, 0, ${HALF - ty0 * size * px}, 0, ${-px}</GeoTransform>
${bands}</VRTDataset>
`);
  const map = join(WMS_DIR, "marina.map");
  await writeFile(map, `MAP
  NAME "geodetect-test"
  EXTENT ${-HALF} ${-HALF} ${HALF} ${HALF}
  SIZE 256 256
  IMAGECOLOR 0 0 0
  PROJECTION "init=epsg:3857" END
  OUTPUTFORMAT
    NAME "png"
    DRIVER "GDAL/PNG"
    MIMETYPE "image/png"
    IMAGEMODE RGB
    EXTENSION "png"
  END
  WEB
    METADATA
      "wms_title" "geodetect test"
      "wms_srs" "EPSG:3857"
      "wms_enable_request" "*"
    END
  END
  LAYER
    NAME "marina"
    TYPE RASTER
    STATUS ON
    DATA "${join(WMS_DIR, "marina.vrt")}"
    PROJECTION "init=epsg:3857" END
    METADATA "wms_title" "marina" END
  END
END
`);
  const config = join(WMS_DIR, "mapserver.conf");
  await writeFile(config, `CONFIG\n  ENV\n    MS_MAP_PATTERN "^${WMS_DIR}/"\n  END\nEND\n`);
  const requests = [];
  const cors = { "access-control-allow-origin": "*", "cross-origin-resource-policy": "cross-origin", "cache-control": "no-store" };
  const http = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    requests.push(url.search);
    if (url.pathname !== "/wms") return res.writeHead(404, cors).end("not found");
    const child = spawn(MAPSERV, [], {
      env: { REQUEST_METHOD: "GET", QUERY_STRING: url.search.slice(1), MAPSERVER_CONFIG_FILE: config, PATH: process.env.PATH },
    });
    const chunks = [];
    child.stdout.on("data", (c) => chunks.push(c));
    child.on("close", () => {
      // CGI output: headers, a blank line, the body.
      const out = Buffer.concat(chunks);
      const crlf = out.indexOf("\r\n\r\n");
      const split = crlf >= 0 ? [crlf, crlf + 4] : [out.indexOf("\n\n"), out.indexOf("\n\n") + 2];
      if (split[0] < 0) return res.writeHead(502, cors).end("mapserv wrote no headers");
      const headers = { ...cors };
      let status = 200;
      for (const line of out.subarray(0, split[0]).toString().split(/\r?\n/)) {
        const [name, ...rest] = line.split(":");
        const value = rest.join(":").trim();
        if (/^status$/i.test(name)) status = Number.parseInt(value, 10);
        else if (name) headers[name.toLowerCase()] = value;
      }
      res.writeHead(status, headers).end(out.subarray(split[1]));
    });
  });
  await new Promise((ok, fail) => {
    http.once("error", fail);
    http.listen(0, "127.0.0.1", ok);
  });
  return {
    url: `http://127.0.0.1:${http.address().port}/wms?map=${encodeURIComponent(map)}`,
    requests,
    close: () => new Promise((ok) => {
      http.closeAllConnections?.();
      http.close(() => ok());
    }),
  };
}

/** Run each of `sources` through detect() on the marina AOI in one page; per source, the
 * result or the error's { code, message }. */
async function detectWith(t, sources, { options = OPTIONS, base = server.url, workers = 1 } = {}) {
  const ctx = await browser.newContext();
  try {
    return await withPage(t, ctx, async (page) => {
      await page.goto(`${base}/e2e.html`);
      await page.waitForFunction(() => document.title === "ready", null, { timeout: 30_000 });
      return await page.evaluate(async ({ sources, model, aoi, options, workers }) => {
        const { Detector } = window.geodetect;
        const out = [];
        for (const source of sources) {
          const d = await Detector.create({ source, model, backend: "cpu", workers, threads: 1, modelBaseUrl: "/models/" });
          try {
            out.push(await d.detect(aoi, options));
          } catch (e) {
            out.push({ code: e.code, message: e.message });
          } finally {
            d.dispose();
          }
        }
        return out;
      }, { sources, model: MODEL, aoi: AOI, options, workers });
    });
  } finally {
    await ctx.close();
  }
}

/** Assert `got` has the detections of `want`, feature for feature. */
function sameDetections(t, what, got, want) {
  assert.ok(!got.code, `${what}: ${got.code}: ${got.message}`);
  validateDetections(got.detections);
  const m = matchDetections(got.detections, want.detections, { zoom: ZOOM, tolPx: 1e-3, tolScore: 1e-5, labels: [what, "xyz"] });
  t.diagnostic(`${what}: ${got.detections.features.length} detections, ${m.matched} matched, ${got.tiles.downloaded} tiles`);
  assert.ok(m.ok, `${what} vs xyz:\n${m.problems.join("\n")}`);
  assert.equal(got.detections.features.length, want.detections.features.length);
  assert.deepEqual(got.missingTiles, []);
}

/** Centre [lon, lat] and class of each detection. */
function centres(fc) {
  return fc.features.map((f) => {
    const ring = f.geometry.coordinates[0].slice(0, -1);
    const mean = (k) => ring.reduce((sum, p) => sum + p[k], 0) / ring.length;
    return { cls: f.properties.class, score: f.properties.score, lon: mean(0), lat: mean(1) };
  });
}

/** For each detection of `from` scoring at least 0.5: the [east, north] offset in metres to
 * the nearest detection of its class in `to`, or null when none is within `metres`. */
function twins(from, to, metres) {
  const m = 111_320; // metres per degree of latitude, and of longitude at the equator
  return centres(from).filter((d) => d.score >= 0.5).map((d) => {
    let best = null;
    for (const o of centres(to)) {
      if (o.cls !== d.cls) continue;
      const east = (o.lon - d.lon) * m * Math.cos((d.lat * Math.PI) / 180);
      const north = (o.lat - d.lat) * m;
      if (!best || Math.hypot(east, north) < Math.hypot(...best)) best = [east, north];
    }
    return best && Math.hypot(...best) <= metres ? best : null;
  });
}

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

describe("imagery sources", () => {
  test("WMS 1.1.1 and 1.3.0 (MapServer) and a quadkey template give the XYZ tiles' detections", { timeout: 10 * MINUTE }, async (t) => {
    const layer = { layers: ["marina"], format: "image/png" };
    const archiveRequests = () => server.requests.filter((p) => p === "/tiles/marina.pmtiles").length;
    const [xyz, wms111, wms130, quadkey, pmtiles] = await detectWith(t, [
      { url: "/tiles/marina/{z}/{x}/{y}.png", attribution: "marina: sahi demo image (MIT)" },
      { url: wms.url, wms: { ...layer, version: "1.1.1" } },
      { url: wms.url, wms: { ...layer, version: "1.3.0" } },
      { url: "/qk/{q}.png" },
      { pmtiles: "/tiles/marina.pmtiles" },
    ]);
    assert.ok(!xyz.code, `xyz: ${xyz.message}`);
    assert.ok(xyz.detections.features.length >= 20, `${xyz.detections.features.length} detections on the marina`);
    assert.equal(xyz.attribution, "marina: sahi demo image (MIT)");
    assert.equal(wms111.attribution, null);
    sameDetections(t, "WMS 1.1.1", wms111, xyz);
    sameDetections(t, "WMS 1.3.0", wms130, xyz);
    sameDetections(t, "quadkey", quadkey, xyz);
    sameDetections(t, "PMTiles", pmtiles, xyz);
    assert.equal(pmtiles.tiles.downloaded, xyz.tiles.downloaded);
    assert.equal(archiveRequests(), 1 + pmtiles.tiles.downloaded, "the header and root directory once, then one range per tile");
    // The server saw GetMaps of both versions, with the CRS parameter of each.
    const getMaps = wms.requests.filter((q) => q.includes("REQUEST=GetMap"));
    assert.ok(getMaps.some((q) => q.includes("VERSION=1.1.1") && q.includes("SRS=EPSG:3857")), "a 1.1.1 GetMap with SRS");
    assert.ok(getMaps.some((q) => q.includes("VERSION=1.3.0") && q.includes("CRS=EPSG:3857")), "a 1.3.0 GetMap with CRS");
    assert.equal(getMaps.length, wms111.tiles.downloaded + wms130.tiles.downloaded);
  });

  test("keys in a source's URL are redacted; a WMS exception fails the tiles, not the page", { timeout: 5 * MINUTE }, async (t) => {
    const [badUrl, badLayer, after] = await detectWith(t, [
      // Not a URL a browser can request: the browser's error quotes it, key and all.
      { url: `http://[bad/{z}/{x}/{y}.png?api_key=${SECRET}` },
      { url: wms.url, wms: { layers: ["no-such-layer"], params: { token: SECRET } } },
      { url: "/tiles/marina/{z}/{x}/{y}.png" },
    ]);
    t.diagnostic(`bad URL: ${badUrl.code}: ${badUrl.message.slice(0, 300)}`);
    assert.equal(badUrl.code, "TILE_FETCH_FAILED");
    assert.ok(badUrl.message.includes("[redacted]"), badUrl.message);
    t.diagnostic(`bad layer: ${badLayer.code}: ${badLayer.message.slice(0, 300)}`);
    assert.equal(badLayer.code, "TILE_FETCH_FAILED");
    assert.match(badLayer.message, /not a decodable image|not an image/);
    for (const r of [badUrl, badLayer]) assert.ok(!JSON.stringify(r).includes(SECRET), JSON.stringify(r));
    // The WMS server did get the key: it is only kept out of what geodetect reports.
    assert.ok(wms.requests.some((q) => q.includes(`token=${SECRET}`)));
    assert.ok(!after.code && after.detections.features.length > 0, "a valid source still works in the same page");
  });

  test("a Cloud-Optimized GeoTIFF in UTM, read with range requests, gives the XYZ boats in its own grid", { timeout: 10 * MINUTE }, async (t) => {
    const cogRequests = () => server.requests.filter((p) => p === "/cog/marina_utm.tif").length;
    const before = cogRequests();
    const [xyz, cog] = await detectWith(t, [{ url: "/tiles/marina/{z}/{x}/{y}.png" }, { cog: "/cog/marina_utm.tif" }]);
    assert.ok(!cog.code, `cog: ${cog.code}: ${cog.message}`);
    validateDetections(cog.detections);
    assert.equal(cog.image.crs, "EPSG:32632");
    assert.equal(cog.image.level, 0, "0.216 m, the full resolution, is nearest to zoom 19 (0.216 m at 43.7° N)");
    assert.equal(xyz.image.crs, "EPSG:3857");
    assert.equal(xyz.image.level, null);
    assert.deepEqual(cog.missingTiles, []);
    const requests = cogRequests() - before;
    t.diagnostic(`COG: ${cog.detections.features.length} detections (XYZ ${xyz.detections.features.length}), ${cog.tiles.downloaded} tiles in ${requests} requests`);
    assert.ok(requests >= cog.tiles.downloaded + 1 && requests <= cog.tiles.downloaded + 2, "the header in one or two reads, then one range per tile");
    // One pixel is 0.216 m: nine in ten confident detections of either run have their twin
    // within 3 px in the other, and the twins are not shifted as a whole.
    const pixel = 0.2158;
    for (const [what, from, to] of [["XYZ -> COG", xyz, cog], ["COG -> XYZ", cog, xyz]]) {
      const found = twins(from.detections, to.detections, 3 * pixel);
      const pairs = found.filter(Boolean);
      const [east, north] = [median(pairs.map((p) => p[0])), median(pairs.map((p) => p[1]))];
      t.diagnostic(`${what}: ${pairs.length} of ${found.length} have a twin within 3 px; median offset ${east.toFixed(3)} m east, ${north.toFixed(3)} m north`);
      assert.ok(pairs.length * 10 >= found.length * 9, `${what}: ${pairs.length} of ${found.length}`);
      assert.ok(Math.abs(east) < pixel / 4 && Math.abs(north) < pixel / 4, `${what}: shifted by ${east}, ${north} m`);
    }
    // A pool of two workers (the area is two chunks: startRun opens the COG, each worker
    // opens it for its chunks) gives the same detections as one.
    const [pooled] = await detectWith(t, [{ cog: "/cog/marina_utm.tif" }], { workers: 2 });
    assert.ok(!pooled.code, `pool: ${pooled.code}: ${pooled.message}`);
    const m = matchDetections(pooled.detections, cog.detections, { zoom: ZOOM, tolPx: 1e-3, tolScore: 1e-5, labels: ["pool", "one worker"] });
    assert.ok(m.ok, m.problems.join("\n"));
    assert.equal(pooled.detections.features.length, cog.detections.features.length);
  });

  test("COG: a host that ignores Range, and a file that is not a COG, are clear errors", { timeout: 5 * MINUTE }, async (t) => {
    const noRanges = await startStaticServer({ mounts: { "/": join(REPO, "www"), "/pkg/": join(REPO, "pkg"), "/cog/": join(REPO, ".cache/cog") }, ranges: false });
    try {
      const [whole] = await detectWith(t, [{ cog: "/cog/marina_utm.tif" }], { base: noRanges.url });
      t.diagnostic(`no ranges: ${whole.code}: ${whole.message}`);
      assert.equal(whole.code, "TILE_FETCH_FAILED");
      assert.match(whole.message, /COG .* could not be opened: .*[Rr]ange/);
    } finally {
      await noRanges.close();
    }
    const [stripped, png] = await detectWith(t, [{ cog: "/cog/bad_stripped.tif" }, { cog: "/tiles/marina/19/272953/191175.png" }]);
    t.diagnostic(`stripped: ${stripped.message}; png: ${png.message}`);
    assert.equal(stripped.code, "TILE_FETCH_FAILED");
    assert.match(stripped.message, /strip/);
    assert.equal(png.code, "TILE_FETCH_FAILED");
    assert.match(png.message, /not a valid TIFF/);
  });

  test("PMTiles: a host that ignores Range, and a zoom the archive lacks, are clear errors", { timeout: 5 * MINUTE }, async (t) => {
    const noRanges = await startStaticServer({ mounts: { "/": join(REPO, "www"), "/pkg/": join(REPO, "pkg") }, ranges: false });
    try {
      const [whole] = await detectWith(t, [{ pmtiles: "/tiles/marina.pmtiles" }], { base: noRanges.url });
      t.diagnostic(`no ranges: ${whole.code}: ${whole.message}`);
      assert.equal(whole.code, "TILE_FETCH_FAILED");
      assert.match(whole.message, /PMTiles archive .* could not be opened: .*range/);
    } finally {
      await noRanges.close();
    }
    const [deep] = await detectWith(t, [{ pmtiles: "/tiles/marina.pmtiles" }], { options: { ...OPTIONS, zoom: 20 } });
    assert.equal(deep.code, "ZOOM_OUT_OF_RANGE", deep.message);
    assert.match(deep.message, /17\.\.=19/);
  });
});
