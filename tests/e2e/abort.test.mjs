// An AbortSignal fired during each stage stops the work, frees it, and leaves the detector
// usable:
//
//   cd tests/e2e && node --test --test-reporter=spec abort.test.mjs
//
// One detector in headless Chromium (CPU, one worker), its tiles from a loopback server that
// answers the big area's tiles after 300 ms each (so that the fetch stage lasts) and the small
// area's at once. For each stage (fetch,
// stitch, inference) a run is aborted as soon as its progress reports that stage: the call
// rejects with ABORTED at once, and the worker is free again within 200 ms of its next
// checkpoint, the longest step between two being one model window (measured on a clean run;
// an abort answering the stitch stage, which marks the raster whole right before the first
// window, may meet that window):
// a small run started right after the abort ends no later than the abort + that + 200 ms + the
// small run's own time. After all the aborted runs, the worker's wasm memory is no larger than
// after the clean runs. Detector.create aborted while it downloads the weights rejects with
// ABORTED, and a create right after works.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { MARINA_TILES, REPO, launchBrowser, marinaArea, startStaticServer, withPage } from "./helpers.mjs";
import { MODEL } from "./setup.mjs";

const MINUTE = 60_000;
const TILE_DELAY_MS = 300;

let server;
let tiles;
let browser;

/** The marina's tiles (CORS open, not cached by the browser); those of rows y0 + 1 to y0 + 3
 * (the big area's) each after TILE_DELAY_MS. */
async function startSlowTileServer() {
  const srv = createServer(async (req, res) => {
    const cors = { "access-control-allow-origin": "*", "cache-control": "no-store" };
    const m = /^\/(\d+)\/(\d+)\/(\d+)\.png$/.exec(new URL(req.url, "http://x").pathname);
    if (!m) return res.writeHead(404, cors).end();
    const row = Number(m[3]) - MARINA_TILES.y0;
    if (row >= 1 && row <= 3) await new Promise((ok) => setTimeout(ok, TILE_DELAY_MS));
    try {
      const body = await readFile(join(REPO, `www/tiles/marina/${m[1]}/${m[2]}/${m[3]}.png`));
      res.writeHead(200, { ...cors, "content-type": "image/png" }).end(body);
    } catch {
      res.writeHead(404, cors).end();
    }
  });
  await new Promise((ok) => srv.listen(0, "127.0.0.1", ok));
  return { url: `http://127.0.0.1:${srv.address().port}`, close: () => new Promise((ok) => (srv.closeAllConnections(), srv.close(() => ok()))) };
}

before(async () => {
  server = await startStaticServer({ mounts: { "/": join(REPO, "www"), "/pkg/": join(REPO, "pkg") } });
  tiles = await startSlowTileServer();
  browser = await launchBrowser({ webgpu: false });
});

after(async () => {
  await browser?.close();
  await server?.close();
  await tiles?.close();
});

describe("aborting", () => {
  test("an abort in each stage stops the worker within 200 ms of its next checkpoint, frees its memory, and the detector goes on", { timeout: 10 * MINUTE }, async (t) => {
    // Two model windows (1024 px with 128 px overlap): 1900 x 600 px, 8 x 3 tiles.
    const big = marinaArea(0, 1, 1900, 600);
    const small = marinaArea(6, 4, 48, 48);
    const ctx = await browser.newContext();
    try {
      const out = await withPage(t, ctx, async (page) => {
        await page.goto(`${server.url}/e2e.html`);
        await page.waitForFunction(() => document.title === "ready", null, { timeout: 30_000 });
        return await page.evaluate(async ({ big, small, tileUrl, model }) => {
          const { Detector } = window.geodetect;
          const d = await Detector.create({ source: { url: tileUrl, maxZoom: 21 }, model, backend: "cpu", workers: 1, threads: 1, modelBaseUrl: "/models/", fetch: { cacheBytes: 0 } });
          const memory = async () => (await d.health()).workers[0].memoryBytes;
          try {
            // Clean runs: the big area's model windows, and the small run's own time.
            const clean = await d.detect(big, { zoom: 19 });
            await d.detect(small, { zoom: 19 });
            let t0 = performance.now();
            await d.detect(small, { zoom: 19 });
            const smallMs = performance.now() - t0;
            const before = await memory();
            const runs = {};
            for (const stage of ["fetch", "stitch", "inference", "fetch", "stitch", "inference"]) {
              const controller = new AbortController();
              let abortedAt = 0;
              const onProgress = (p) => {
                if (!abortedAt && p.stage === stage) {
                  abortedAt = performance.now();
                  controller.abort();
                }
              };
              const r = { stage };
              try {
                await d.detect(big, { zoom: 19, signal: controller.signal, onProgress });
                r.code = "it resolved";
              } catch (e) {
                r.code = e?.code;
                r.rejectMs = performance.now() - abortedAt;
              }
              // The next run waits for the worker to stop the aborted one.
              t0 = performance.now();
              const next = await d.detect(small, { zoom: 19 });
              r.nextMs = performance.now() - t0;
              r.nextOk = next.detections.type === "FeatureCollection";
              r.stopMs = performance.now() - abortedAt - smallMs;
              (runs[stage] ??= []).push(r);
            }
            const afterAborts = await memory();
            return { windows: 2, inferenceMs: clean.timings.inference, smallMs, before, afterAborts, runs };
          } finally {
            d.dispose();
          }
        }, { big, small, tileUrl: `${tiles.url}/{z}/{x}/{y}.png`, model: MODEL });
      });
      const windowMs = out.inferenceMs / out.windows;
      t.diagnostic(`one model window: ${windowMs.toFixed(0)} ms; the small run: ${out.smallMs.toFixed(0)} ms; wasm memory ${out.before} -> ${out.afterAborts} bytes`);
      for (const [stage, list] of Object.entries(out.runs)) {
        for (const r of list) {
          t.diagnostic(`${stage}: rejected ${r.rejectMs?.toFixed(0)} ms after abort(); worker free ${r.stopMs.toFixed(0)} ms after it (the next run took ${r.nextMs.toFixed(0)} ms)`);
          assert.equal(r.code, "ABORTED", `${stage}: ${r.code}`);
          assert.ok(r.rejectMs < 50, `${stage}: the call rejects at once (${r.rejectMs} ms)`);
          assert.ok(r.nextOk, `${stage}: the next run works`);
          // The longest step between checkpoints is one model window (inference). In the fetch
          // stage the next checkpoint comes sooner. The stitch stage has no work of its own any
          // more (each tile goes into the raster as it arrives; its events say the raster is
          // whole, right before the first window's checkpoint), so an abort sent in answer to
          // it may reach the worker after that checkpoint and wait for the window, as in
          // inference.
          const bound = (stage === "fetch" ? 0 : windowMs) + 200;
          assert.ok(r.stopMs < bound, `${stage}: the worker was busy ${r.stopMs.toFixed(0)} ms after abort() (bound ${bound.toFixed(0)} ms)`);
        }
      }
      assert.ok(out.afterAborts <= out.before, `the aborted runs left the wasm memory larger: ${out.before} -> ${out.afterAborts}`);
    } finally {
      await ctx.close();
    }
  });

  test("Detector.create aborted while the weights download rejects with ABORTED; the next create works", { timeout: 5 * MINUTE }, async (t) => {
    const ctx = await browser.newContext();
    try {
      // Cache Storage off (`cache: false`), so that every create downloads the weights.
      const out = await withPage(t, ctx, async (page) => {
        await page.goto(`${server.url}/e2e.html`);
        await page.waitForFunction(() => document.title === "ready", null, { timeout: 30_000 });
        return await page.evaluate(async ({ model }) => {
          const { Detector } = window.geodetect;
          const options = { source: { url: "/tiles/marina/{z}/{x}/{y}.png", maxZoom: 21 }, model, backend: "cpu", workers: 1, threads: 1, modelBaseUrl: "/models/", cache: false };
          const controller = new AbortController();
          let abortedAt = 0;
          const r = {};
          try {
            await Detector.create({
              ...options,
              signal: controller.signal,
              onProgress: (p) => {
                if (!abortedAt && p.stage === "model") {
                  abortedAt = performance.now();
                  controller.abort();
                }
              },
            });
            r.code = "it resolved";
          } catch (e) {
            r.code = e?.code;
            r.rejectMs = performance.now() - abortedAt;
          }
          const d = await Detector.create(options);
          r.next = d.backend;
          d.dispose();
          return r;
        }, { model: MODEL });
      });
      t.diagnostic(`create aborted: ${out.code} ${out.rejectMs?.toFixed(0)} ms after abort(); next create: ${out.next}`);
      assert.equal(out.code, "ABORTED");
      assert.ok(out.rejectMs < 200, `${out.rejectMs} ms`);
      assert.equal(out.next, "cpu");
    } finally {
      await ctx.close();
    }
  });
});
