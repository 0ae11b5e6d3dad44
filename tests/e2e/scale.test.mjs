// Areas of any size, health and metrics, through the npm package in headless Chromium:
//
//   cd tests/e2e && node --test --test-reporter=spec scale.test.mjs
//
// A loopback server serves the repository's www/ and pkg/ cross-origin isolated, and tiles
// of any address at zoom 19 by repeating the marina's 8 x 5 tiles, so an area of thousands
// of tiles has real imagery everywhere.
// - A 2,025-tile area (45 x 45 tiles, 169 model windows, 49 chunks) on a pool of two workers
//   completes; its detections are valid, and a repetition of the imagery in the middle of the
//   area has about as many as the marina run on its own; each worker's wasm memory after it
//   is no larger than after a 128-tile area (memory is bounded by the chunk and the number of
//   workers, not the area); the progress counts every chunk and tile.
// - A pool of two workers gives the detections of one worker, feature for feature; a worker
//   killed mid-run is replaced, its chunk runs again and the result is the same.
// - health() is "healthy" with the model's hash and the engine's version, and answers while
//   a detect() runs; metrics() counts the areas, detections, errors and tiles, and its
//   Prometheus text is well formed.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { MARINA_TILES, REPO, launchBrowser, pixelToLonLat, repeatMarinaTiles, startStaticServer, validateDetections, withPage } from "./helpers.mjs";
import { MODEL } from "./setup.mjs";

const MINUTE = 60_000;
const ZOOM = 19;
const MARINA = MARINA_TILES;

let server;
let browser;

before(async () => {
  server = await startStaticServer({
    mounts: { "/": join(REPO, "www"), "/pkg/": join(REPO, "pkg") },
    headers: { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" },
    rewrite: repeatMarinaTiles("/tiles/marina/19/"),
  });
  browser = await launchBrowser({ webgpu: false });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** A rectangle of whole tiles at zoom 19, inset by 4 px: `[tx, ty]` its first tile. */
function tileRect([tx, ty], nx, ny) {
  const [w, n] = pixelToLonLat([tx * 256 + 4, ty * 256 + 4], ZOOM);
  const [e, s] = pixelToLonLat([(tx + nx) * 256 - 4, (ty + ny) * 256 - 4], ZOOM);
  return { type: "Polygon", coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] };
}

/** Run `script` (a function of `args`) in the e2e page, which has `window.geodetect`. */
async function inPage(t, script, args) {
  const ctx = await browser.newContext();
  try {
    return await withPage(t, ctx, async (page) => {
      await page.goto(`${server.url}/e2e.html`);
      await page.waitForFunction(() => document.title === "ready", null, { timeout: 30_000 });
      assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), true);
      return await page.evaluate(script, args);
    });
  } finally {
    await ctx.close();
  }
}

describe("areas of any size, health and metrics", () => {
  test("a 2,025-tile area runs in 49 chunks in bounded memory; health() and metrics() report it", { timeout: 20 * MINUTE }, async (t) => {
    const origin = [MARINA.x0 - 16, MARINA.y0 - 20];
    const args = {
      detector: { source: { url: "/tiles/marina/{z}/{x}/{y}.png", maxZoom: 21 }, model: MODEL, backend: "cpu", workers: 2, threads: 1, modelBaseUrl: "/models/" },
      marina: tileRect([MARINA.x0, MARINA.y0], 8, 5),
      medium: tileRect([MARINA.x0, MARINA.y0], 16, 8),
      large: tileRect(origin, 45, 45),
      options: { zoom: ZOOM, confidence: 0.25, iou: 0.45 },
    };
    const out = await inPage(t, async ({ detector: opts, marina, medium, large, options }) => {
      const { Detector } = window.geodetect;
      const d = await Detector.create(opts);
      const health0 = await d.health();
      const first = await d.detect(marina, options);
      // 128 tiles, 6 chunks (full 2 x 2 ones among them): the peak of one chunk.
      const second = await d.detect(medium, options);
      const memSmall = (await d.health()).workers.map((w) => w.memoryBytes);
      const progress = [];
      let batches = 0;
      const running = d.detect(large, { ...options, onProgress: (p) => progress.push(p), onDetections: () => batches++ });
      // health() answers while the large area runs.
      await new Promise((r) => setTimeout(r, 3000));
      const during = await d.health();
      const duringAt = progress.at(-1);
      const big = await running;
      const memLarge = (await d.health()).workers.map((w) => w.memoryBytes);
      const failed = await d.detect(large, { ...options, maxTiles: 100 }).then(() => null, (e) => ({ code: e.code, message: e.message }));
      const metrics = d.metrics();
      const text = d.metrics({ format: "prometheus" });
      d.dispose();
      return { health0, first, second, memSmall, big, memLarge, progress: progress.filter((p, i) => i % 50 === 0 || i === progress.length - 1), batches, during, duringAt, failed, metrics, text };
    }, args);

    // health(): healthy, the model's hash, the engine's version, one worker with memory.
    const pkg = JSON.parse(await readFile(join(REPO, "pkg/package.json"), "utf8"));
    const manifest = JSON.parse(await readFile(join(REPO, "www/models/manifest.json"), "utf8"));
    const entry = manifest.models.find((m) => m.id === MODEL);
    const h = out.health0;
    t.diagnostic(`health: ${h.status}, self-test ${h.workers[0].selfTestMs.toFixed(0)} ms, memory ${(h.workers[0].memoryBytes / 2 ** 20).toFixed(0)} MiB, check ${h.checkedMs.toFixed(0)} ms`);
    assert.equal(h.status, "healthy", JSON.stringify(h));
    assert.deepEqual(h.reasons, []);
    assert.equal(h.version, pkg.version);
    assert.deepEqual(h.model, { id: MODEL, weightsSha256: entry.weights.sha256 });
    assert.deepEqual([h.workersAlive, h.workersTotal], [1, 1]);
    assert.ok(h.workers[0].ok && h.workers[0].selfTestMs > 0 && h.workers[0].memoryBytes > 16 * 2 ** 20);
    assert.equal(out.during.status, "healthy", "health() during a detect()");
    assert.ok(out.duringAt && out.duringAt.stage !== "done", `health() answered mid-run (at ${JSON.stringify(out.duringAt)})`);

    // The large area: every chunk and tile, valid detections inside it, in bounded memory.
    const big = out.big;
    const last = out.progress.at(-1);
    t.diagnostic(`large area: ${big.image.width} x ${big.image.height} px, ${big.detections.features.length} detections in ${out.batches} batches, ${last.chunksTotal} chunks, ${last.tilesTotal} tile loads (${big.tiles.downloaded} downloaded, ${big.tiles.fromCache} from the workers' caches, ${(big.tiles.bytes / 2 ** 20).toFixed(0)} MiB), ${(big.timings.total / 1000).toFixed(1)} s (inference ${(big.timings.inference / 1000).toFixed(1)} s)`);
    assert.equal(big.tiles.requested, last.tilesTotal);
    assert.equal(big.tiles.downloaded + big.tiles.fromCache, big.tiles.requested);
    // Seams: a tile on the seam of two chunks run by one worker is downloaded once, and the
    // 128 tiles of the medium area (inside this one) may still be in a worker's cache; the
    // rest of the 2,025 distinct tiles are downloaded at least once each.
    assert.ok(big.tiles.downloaded >= 2025 - 128 && big.tiles.downloaded < big.tiles.requested, JSON.stringify(big.tiles));
    const mib = (/** @type {number[]} */ b) => b.map((x) => `${(x / 2 ** 20).toFixed(0)} MiB`).join(" + ");
    t.diagnostic(`wasm memory of the workers after the 128-tile area ${mib(out.memSmall)}, after the 2,025-tile area ${mib(out.memLarge)}`);
    assert.deepEqual([last.chunksDone, last.chunksTotal], [49, 49]);
    assert.ok(last.tilesTotal >= 2025, `${last.tilesTotal} tile fetches`);
    assert.equal(last.tilesDone, last.tilesTotal);
    assert.equal(big.missingTiles.length, 0);
    assert.ok(out.batches > 10, `${out.batches} batches`);
    assert.deepEqual(validateDetections(big.detections).slice(0, 20), []);
    assert.equal(out.memSmall.length, 2, "the pool grew to two workers with the first area of several chunks");
    assert.equal(out.memLarge.length, 2);
    assert.ok(Math.max(...out.memLarge) <= Math.max(...out.memSmall) * 1.1, "memory is bounded by the chunk, not the area");
    // The imagery repeats every 8 x 5 tiles: a period in the middle of the area has about as
    // many detections as the marina run on its own (window seams and borders differ a little).
    const inPeriod = (f, [px, py]) => {
      const c = f.geometry.coordinates[0].slice(0, 4).reduce((a, p) => [a[0] + p[0] / 4, a[1] + p[1] / 4], [0, 0]);
      const [w, n] = pixelToLonLat([px * 256, py * 256], ZOOM);
      const [e, s] = pixelToLonLat([(px + 8) * 256, (py + 5) * 256], ZOOM);
      return c[0] >= w && c[0] < e && c[1] <= n && c[1] > s;
    };
    const period = [MARINA.x0 + 8, MARINA.y0 + 5];
    const mid = big.detections.features.filter((f) => inPeriod(f, period)).length;
    const alone = out.first.detections.features.length;
    t.diagnostic(`detections in one repetition mid-area: ${mid}; the marina on its own: ${alone}`);
    assert.ok(alone > 50 && Math.abs(mid - alone) <= alone * 0.2, `${mid} vs ${alone}`);

    // The refused run, and metrics().
    assert.equal(out.failed?.code, "TOO_MANY_TILES");
    assert.match(out.failed.message, /needs 2025 tiles at zoom 19, more than the limit of 100.*at zoom 16 it fits/s);
    const m = out.metrics;
    assert.deepEqual(m.areas, { ok: 3, failed: 1 });
    assert.equal(m.detections, alone + out.second.detections.features.length + big.detections.features.length);
    assert.deepEqual(m.errors, { TOO_MANY_TILES: 1 });
    assert.equal(m.tiles.failed, 0);
    // Every load is a download or a tile from a worker's cache; the three areas overlap (the
    // marina is inside the others) and chunks share seams, so the caches serve some.
    const loads = [out.first, out.second, big].reduce((n, r) => n + r.tiles.requested, 0);
    assert.equal(m.tiles.requested, loads);
    assert.equal(m.tiles.downloaded + m.tiles.fromCache, loads);
    assert.ok(m.tiles.downloaded >= 2025 && m.tiles.fromCache > 0, JSON.stringify(m.tiles));
    assert.ok(m.tiles.bytes > m.tiles.downloaded * 1000, `${m.tiles.bytes} bytes`);
    assert.equal(m.stages.total.count, 3);
    assert.deepEqual(m.workers, { started: 2, replaced: 0 });
    assert.equal(m.stages.inference.counts.at(-1), 3, "every call is under the last bucket");
    const totals = [out.first, out.second, big].reduce((n, r) => n + r.timings.total, 0);
    assert.ok(Math.abs(m.stages.total.sumMs - totals) < 1);
    // Prometheus text: HELP and TYPE for each family, labelled samples, a histogram with +Inf.
    const lines = out.text.trim().split("\n");
    for (const family of ["geodetect_areas_total", "geodetect_detections_total", "geodetect_errors_total", "geodetect_tiles_total", "geodetect_stage_duration_seconds"]) {
      assert.ok(lines.includes(`# TYPE ${family} ${family.endsWith("seconds") ? "histogram" : "counter"}`), family);
    }
    assert.ok(lines.includes(`geodetect_areas_total{model="${MODEL}",backend="cpu",outcome="ok"} 3`), out.text.slice(0, 400));
    assert.ok(lines.includes(`geodetect_errors_total{model="${MODEL}",backend="cpu",code="TOO_MANY_TILES"} 1`));
    assert.ok(lines.includes(`geodetect_stage_duration_seconds_count{model="${MODEL}",backend="cpu",stage="total"} 3`));
    assert.ok(lines.includes(`geodetect_stage_duration_seconds_bucket{model="${MODEL}",backend="cpu",stage="total",le="+Inf"} 3`));
    for (const l of lines) assert.match(l, /^(# (HELP|TYPE) \S+ .+|[a-z_]+\{[^}]*\} [0-9.e+-]+)$/, l);
  });

  test("a pool of two workers gives one worker's detections; a worker killed mid-run is replaced and its chunk runs again", { timeout: 10 * MINUTE }, async (t) => {
    const detector = { source: { url: "/tiles/marina/{z}/{x}/{y}.png", maxZoom: 21 }, model: MODEL, backend: "cpu", threads: 1, modelBaseUrl: "/models/" };
    // 16 x 8 tiles: 6 chunks.
    const area = tileRect([MARINA.x0, MARINA.y0], 16, 8);
    const options = { zoom: ZOOM, confidence: 0.25, iou: 0.45 };
    const ctx = await browser.newContext();
    try {
      await withPage(t, ctx, async (page) => {
        await page.goto(`${server.url}/e2e.html`);
        await page.waitForFunction(() => document.title === "ready", null, { timeout: 30_000 });
        const one = await page.evaluate(async ({ detector, area, options }) => {
          const d = await window.geodetect.Detector.create({ ...detector, workers: 1 });
          const r = await d.detect(area, options);
          d.dispose();
          return r;
        }, { detector, area, options });
        const two = await page.evaluate(async ({ detector, area, options }) => {
          const d = await window.geodetect.Detector.create({ ...detector, workers: 2 });
          window.pool = d;
          const progress = [];
          const r = await d.detect(area, { ...options, onProgress: (p) => progress.push(p) });
          return { r, chunks: progress.at(-1).chunksTotal };
        }, { detector, area, options });
        t.diagnostic(`${two.chunks} chunks, ${one.detections.features.length} detections; one worker ${(one.timings.total / 1000).toFixed(1)} s, two ${(two.r.timings.total / 1000).toFixed(1)} s`);
        assert.equal(two.chunks, 6);
        assert.ok(one.detections.features.length > 50);
        assert.deepEqual(two.r.detections, one.detections, "the pool's detections are one worker's");

        // Again, killing a worker (an uncaught error in it) once two chunks are done.
        await page.evaluate(({ area, options }) => {
          window.killed = { progress: [] };
          window.killed.run = window.pool.detect(area, { ...options, onProgress: (p) => window.killed.progress.push(p.chunksDone) });
          window.killed.run.catch(() => {});
        }, { area, options });
        await page.waitForFunction(() => (window.killed.progress.at(-1) ?? 0) >= 2, null, { timeout: 5 * MINUTE, polling: 50 });
        const workers = page.workers().filter((w) => w.url().endsWith("/pkg/worker.js"));
        assert.equal(workers.length, 2, workers.map((w) => w.url()).join(", "));
        await workers[0].evaluate(() => setTimeout(() => {
          throw new Error("killed by the test");
        }, 0));
        const killed = await page.evaluate(async () => {
          const r = await window.killed.run;
          const health = await window.pool.health();
          const metrics = window.pool.metrics();
          window.pool.dispose();
          return { r, health, metrics, doneAtKill: window.killed.progress };
        });
        t.diagnostic(`killed run: ${(killed.r.timings.total / 1000).toFixed(1)} s, workers ${JSON.stringify(killed.metrics.workers)}, chunks ${JSON.stringify(killed.metrics.chunks)}`);
        assert.deepEqual(killed.metrics.workers, { started: 3, replaced: 1 }, "the killed worker was replaced");
        assert.ok(killed.metrics.chunks.retried >= 1, "its chunk ran again");
        assert.deepEqual(killed.r.failedChunks, []);
        assert.deepEqual(killed.r.detections, one.detections, "the same detections");
        assert.equal(killed.health.workersAlive, 2);
        assert.equal(killed.health.status, "healthy");
      });
    } finally {
      await ctx.close();
    }
  });
});
