// Every bad input is a clear, typed error, and the detector still works afterwards:
//
//   cd tests/e2e && node --test --test-reporter=spec bad-inputs.test.mjs
//
// One detector in headless Chromium (CPU, one worker) meets each bad area, option and tile
// in turn; each case asserts the error's `code`, that its message names what is wrong (the
// field, the position in the polygon, the tile), and that the next valid detect() on the same
// detector resolves. The tiles come from a loopback server on another origin whose columns
// misbehave on purpose: a text body, an HTML error page sent with 200, a PNG of the wrong
// size, a 100 MB body. Then Detector.create meets bad models: an unknown id, weights that are
// corrupt, truncated or of another architecture (a tensor of another shape, with a matching
// sha256), and a manifest that is not JSON; after each, a valid create in the same page works.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { MARINA_TILES, REPO, launchBrowser, pixelToLonLat, startStaticServer, withPage } from "./helpers.mjs";
import { MODEL } from "./setup.mjs";

const MINUTE = 60_000;
const ZOOM = 19;
const BAD_MODELS = join(REPO, "tests/out/bad-models");
const HUGE = 100 * 1024 * 1024;
// The misbehaving columns of the tile server (tiles of other columns are the marina's).
const COLUMN = { text: 0, html: 1, wrongSize: 2, huge: 3 };

let server;
let tiles;
let browser;

/** A 48 px square area in the middle of tile (x0 + dx, y0 + dy) of the marina at zoom 19. */
function inTile(dx, dy = 2) {
  const [cx, cy] = [(MARINA_TILES.x0 + dx) * 256 + 128, (MARINA_TILES.y0 + dy) * 256 + 128];
  const ring = [[-24, -24], [24, -24], [24, 24], [-24, 24], [-24, -24]].map(([x, y]) => pixelToLonLat([cx + x, cy + y], ZOOM));
  return { type: "Polygon", coordinates: [ring] };
}

/**
 * The tile server: `/{z}/{x}/{y}.png` is the marina's tile, except in the columns of COLUMN:
 * plain text, an HTML page (both with 200), the whole marina image (a PNG far larger than a
 * tile), and a 100 MB body (sent only as far as the client reads it).
 */
async function startTileServer() {
  const cors = { "access-control-allow-origin": "*", "cache-control": "no-store" };
  const hugeRequests = [];
  const srv = createServer(async (req, res) => {
    const m = /^\/(\d+)\/(\d+)\/(\d+)\.png$/.exec(new URL(req.url, "http://x").pathname);
    if (!m) return res.writeHead(404, cors).end();
    const [, z, x, y] = m.map(Number);
    const column = x - MARINA_TILES.x0;
    if (column === COLUMN.text) return res.writeHead(200, { ...cors, "content-type": "text/plain" }).end("tile server says hello");
    if (column === COLUMN.html) {
      return res.writeHead(200, { ...cors, "content-type": "text/html" }).end("<!doctype html><title>Error</title><h1>Please log in</h1>");
    }
    if (column === COLUMN.wrongSize) {
      return res.writeHead(200, { ...cors, "content-type": "image/png" }).end(await readFile(join(REPO, "www/tiles/marina/source.png")));
    }
    if (column === COLUMN.huge) {
      hugeRequests.push(req.url);
      res.writeHead(200, { ...cors, "content-type": "image/png", "content-length": HUGE });
      const chunk = Buffer.alloc(1 << 20);
      let sent = 0;
      const more = () => {
        while (sent < HUGE) {
          sent += chunk.length;
          if (!res.write(chunk)) return res.once("drain", more);
        }
        res.end();
      };
      res.on("close", () => (sent = HUGE));
      return more();
    }
    try {
      const body = await readFile(join(REPO, `www/tiles/marina/${z}/${x}/${y}.png`));
      res.writeHead(200, { ...cors, "content-type": "image/png" }).end(body);
    } catch {
      res.writeHead(404, cors).end();
    }
  });
  await new Promise((ok) => srv.listen(0, "127.0.0.1", ok));
  return {
    url: `http://127.0.0.1:${srv.address().port}`,
    hugeRequests,
    close: () => new Promise((ok) => (srv.closeAllConnections(), srv.close(() => ok()))),
  };
}

/**
 * Model directories under tests/out/bad-models/, each with a manifest.json: the real weights
 * truncated to half (the manifest's sha256 is the real one's), the real weights with the
 * first tensor's shape changed and the sha256 of that file (a model of another
 * architecture, as far as the loader can tell), and a manifest that is an HTML page.
 */
async function writeBadModels() {
  const manifest = JSON.parse(await readFile(join(REPO, "www/models/manifest.json"), "utf8"));
  const entry = manifest.models.find((m) => m.id === MODEL);
  const weights = await readFile(join(REPO, "www/models", entry.weights.file));
  await rm(BAD_MODELS, { recursive: true, force: true });
  const dir = async (name, files) => {
    await mkdir(join(BAD_MODELS, name), { recursive: true });
    for (const [file, body] of Object.entries(files)) await writeFile(join(BAD_MODELS, name, file), body);
  };
  const withWeights = (bytes, sha256) => JSON.stringify({ ...manifest, models: [{ ...entry, weights: { ...entry.weights, sha256, size: bytes.length } }] });
  const truncated = weights.subarray(0, weights.length >> 1);
  await dir("truncated", { [entry.weights.file]: truncated, "manifest.json": withWeights(truncated, entry.weights.sha256) });
  // safetensors: an 8-byte little-endian header length, the JSON header, then the data.
  const headerLen = Number(weights.readBigUInt64LE(0));
  const header = JSON.parse(weights.subarray(8, 8 + headerLen).toString("utf8"));
  const [name, first] = Object.entries(header).find(([k, v]) => k !== "__metadata__" && v.shape.length === 4);
  const reshaped = { ...header, [name]: { ...first, shape: [first.shape[0] * first.shape[1], first.shape[2], first.shape[3]] } };
  let json = JSON.stringify(reshaped);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const other = Buffer.concat([length, Buffer.from(json), weights.subarray(8 + headerLen)]);
  const sha = createHash("sha256").update(other).digest("hex");
  await dir("other-architecture", { [entry.weights.file]: other, "manifest.json": withWeights(other, sha) });
  await dir("not-json", { "manifest.json": "<!doctype html><title>404</title><h1>Not found</h1>" });
  return { tensor: name, file: entry.weights.file };
}

before(async () => {
  server = await startStaticServer({ mounts: { "/": join(REPO, "www"), "/pkg/": join(REPO, "pkg"), "/bad-models/": BAD_MODELS } });
  tiles = await startTileServer();
  browser = await launchBrowser({ webgpu: false });
});

after(async () => {
  await browser?.close();
  await server?.close();
  await tiles?.close();
});

/** Run `fn(window.geodetect, args)` in a fresh page of the test page; returns its value. */
async function inPage(t, fn, args) {
  const ctx = await browser.newContext();
  try {
    return await withPage(t, ctx, async (page) => {
      await page.goto(`${server.url}/e2e.html`);
      await page.waitForFunction(() => document.title === "ready", null, { timeout: 30_000 });
      return await page.evaluate(fn, args);
    });
  } finally {
    await ctx.close();
  }
}

describe("bad inputs", () => {
  test("each bad area, option or tile is a typed error naming what is wrong; the same detector then works", { timeout: 10 * MINUTE }, async (t) => {
    const good = inTile(5);
    const [west, south] = good.coordinates[0][0];
    const ring = (points) => ({ type: "Polygon", coordinates: [points] });
    const failing = { zoom: ZOOM, failOnMissingTiles: true };
    // name: [area, options, code, what the message must name]
    const cases = {
      point: [{ type: "Point", coordinates: [west, south] }, { zoom: ZOOM }, "INVALID_POLYGON", /Point/],
      unclosed: [ring([[west, south], [west + 1e-4, south], [west + 1e-4, south + 1e-4], [west, south + 1e-4]]), { zoom: ZOOM }, "INVALID_POLYGON", /coordinates\[0\] is not closed/],
      shortRing: [ring([[west, south], [west + 1e-4, south], [west, south]]), { zoom: ZOOM }, "INVALID_POLYGON", /coordinates\[0\] has 3 positions/],
      nan: [ring([[west, south], [Number.NaN, south], [west + 1e-4, south + 1e-4], [west, south]]), { zoom: ZOOM }, "INVALID_POLYGON", /coordinates\[0\]\[1\]: the longitude must be a finite number, got null \(or NaN or Infinity\)/],
      infinity: [ring([[west, south], [west + 1e-4, Number.POSITIVE_INFINITY], [west + 1e-4, south + 1e-4], [west, south]]), { zoom: ZOOM }, "INVALID_POLYGON", /coordinates\[0\]\[1\]: the latitude must be a finite number/],
      polar: [ring([[west, 85.2], [west + 1, 85.2], [west + 1, 86], [west, 86], [west, 85.2]]), { zoom: ZOOM }, "INVALID_POLYGON", /coordinates\[0\]\[0\]: latitude 85\.2 is beyond ±85\.05/],
      empty: [{ type: "Polygon", coordinates: [] }, { zoom: ZOOM }, "INVALID_POLYGON", /coordinates has no rings/],
      emptyCollection: [{ type: "FeatureCollection", features: [] }, { zoom: ZOOM }, "INVALID_POLYGON", /no features/],
      bowtie: [ring([[west, south], [west + 2e-4, south + 2e-4], [west + 2e-4, south], [west, south + 1e-4], [west, south]]), { zoom: ZOOM }, "INVALID_POLYGON", /coordinates is not a valid polygon: .*self-intersection/],
      zoom: [good, { zoom: 22 }, "ZOOM_OUT_OF_RANGE", /zoom 22 .*0\.\.=21/],
      maxTiles: [inTile(0, 0), { zoom: 12, maxTiles: 1 }, null, null], // replaced below: a large area
      wrongType: [good, { zoom: ZOOM, confidence: "high" }, "INVALID_OPTIONS", /`confidence`/],
      unknownOption: [good, { zoom: ZOOM, confidance: 0.3 }, "INVALID_OPTIONS", /`confidance`/],
      notAnImage: [inTile(COLUMN.text), failing, "TILE_FETCH_FAILED", /x272953.*not a decodable image/],
      htmlPage: [inTile(COLUMN.html), failing, "TILE_FETCH_FAILED", /x272954.*`text\/html`, not an image/],
      wrongSize: [inTile(COLUMN.wrongSize), failing, "IMAGE_DECODE_FAILED", /tile 19\/272955\/191177 is \d+ x \d+ pixels but the tile source's tileSize is 256/],
      hugeTile: [inTile(COLUMN.huge), failing, "TILE_FETCH_FAILED", /x272956.*104857600 bytes, more than the \d+ MiB a tile may have/],
    };
    // Over `maxTiles`: the whole marina at zoom 19 is 40 tiles.
    const [w0, n0] = pixelToLonLat([MARINA_TILES.x0 * 256 + 8, MARINA_TILES.y0 * 256 + 8], ZOOM);
    const [e0, s0] = pixelToLonLat([(MARINA_TILES.x0 + MARINA_TILES.nx) * 256 - 8, (MARINA_TILES.y0 + MARINA_TILES.ny) * 256 - 8], ZOOM);
    cases.maxTiles = [ring([[w0, s0], [e0, s0], [e0, n0], [w0, n0], [w0, s0]]), { zoom: ZOOM, maxTiles: 10 }, "TOO_MANY_TILES", /40 tiles at zoom 19, more than the limit of 10 \(`maxTiles`\)/];

    const out = await inPage(t, async ({ cases, good, tileUrl, model }) => {
      const { Detector, GeodetectError } = window.geodetect;
      const d = await Detector.create({ source: { url: tileUrl, maxZoom: 21 }, model, backend: "cpu", workers: 1, threads: 1, modelBaseUrl: "/models/", fetch: { retries: 1, retryDelayMs: 10 } });
      const results = {};
      try {
        for (const [name, [aoi, options]] of Object.entries(cases)) {
          const r = {};
          try {
            await d.detect(aoi, options);
            r.error = "it resolved";
          } catch (e) {
            Object.assign(r, { code: e?.code, message: String(e?.message), typed: e instanceof GeodetectError });
          }
          try {
            const next = await d.detect(good, { zoom: 19 });
            r.next = { ok: true, tiles: next.tiles.requested };
          } catch (e) {
            r.next = { ok: false, code: e?.code, message: e?.message };
          }
          results[name] = r;
        }
        return results;
      } finally {
        d.dispose();
      }
    }, { cases, good, tileUrl: `${tiles.url}/{z}/{x}/{y}.png`, model: MODEL });

    for (const [name, [, , code, names]] of Object.entries(cases)) {
      const r = out[name];
      t.diagnostic(`${name}: ${r.code}: ${r.message?.slice(0, 240)}`);
      assert.equal(r.code, code, `${name}: ${JSON.stringify(r)}`);
      assert.equal(r.typed, true, `${name} is a GeodetectError`);
      assert.match(r.message, names, `${name}: the message names what is wrong`);
      assert.deepEqual(r.next, { ok: true, tiles: 1 }, `${name}: the next detect() on the same detector works`);
    }
    assert.equal(tiles.hugeRequests.length, 1, "the 100 MB tile is asked for once (a permanent failure), its body not read");
  });

  test("bad models are typed errors naming the file or tensor; a valid create then works", { timeout: 10 * MINUTE }, async (t) => {
    const { tensor, file } = await writeBadModels();
    const cases = {
      unknownModel: [{ model: "no-such-model" }, "UNKNOWN_MODEL", /no-such-model/],
      truncated: [{ modelBaseUrl: "/bad-models/truncated/" }, "MODEL_INTEGRITY", new RegExp(file.replace(/\./g, "\\."))],
      otherArchitecture: [{ modelBaseUrl: "/bad-models/other-architecture/" }, "MODEL_LOAD_FAILED", new RegExp(`tensor \`${tensor.replace(/\./g, "\\.")}\` has shape`)],
      manifestNotJson: [{ modelBaseUrl: "/bad-models/not-json/" }, "MODEL_LOAD_FAILED", /bad-models\/not-json\/manifest\.json: the model manifest is not valid/],
    };
    const out = await inPage(t, async ({ cases, model }) => {
      const { Detector, GeodetectError } = window.geodetect;
      const base = { source: { url: "/tiles/marina/{z}/{x}/{y}.png", maxZoom: 21 }, model, backend: "cpu", workers: 1, threads: 1, modelBaseUrl: "/models/", cache: false };
      const results = {};
      for (const [name, [options]] of Object.entries(cases)) {
        const r = {};
        try {
          (await Detector.create({ ...base, ...options })).dispose();
          r.error = "it resolved";
        } catch (e) {
          Object.assign(r, { code: e?.code, message: String(e?.message), typed: e instanceof GeodetectError });
        }
        try {
          (await Detector.create(base)).dispose();
          r.next = "ok";
        } catch (e) {
          r.next = `${e?.code}: ${e?.message}`;
        }
        results[name] = r;
      }
      return results;
    }, { cases, model: MODEL });
    for (const [name, [, code, names]] of Object.entries(cases)) {
      const r = out[name];
      t.diagnostic(`${name}: ${r.code}: ${r.message?.slice(0, 240)}`);
      assert.equal(r.code, code, `${name}: ${JSON.stringify(r)}`);
      assert.equal(r.typed, true, `${name} is a GeodetectError`);
      assert.match(r.message, names, `${name}: the message names what is wrong`);
      assert.equal(r.next, "ok", `${name}: a valid Detector.create in the same page works`);
    }
  });
});
