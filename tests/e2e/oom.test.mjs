// A worker that runs out of memory, with the real engine: Chromium's V8 is started with every
// wasm memory capped at 896 pages (56 MiB, `--wasm-max-mem-pages`), enough for the engine,
// the model and a small area (~44 MiB, most of it the convolutions' packed weights: Winograd
// F(4×4, 3×3) keeps 36 values per 3×3 filter) but not for an area of two 1024 px model
// windows (~68 MiB; it runs without the cap, checked first in a browser without it). When the
// allocator cannot grow the memory, Rust aborts: a wasm trap, as a real out-of-memory is.
//
//   cd tests/e2e && node --test --test-reporter=spec oom.test.mjs
//
// On a pool of two workers the big area and a small one start together: the worker that runs
// out of memory is replaced and the chunk retried once on another worker, which runs out too,
// and the call rejects with WORKER_CRASHED saying so; the small area resolves meanwhile, the
// next call on the same detector works, every worker of the pool is alive and healthy, and the
// metrics count the error and the retried chunk.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO, launchBrowser, marinaArea, startStaticServer, withPage } from "./helpers.mjs";
import { MODEL } from "./setup.mjs";

const MINUTE = 60_000;
const MAX_PAGES = 896;

let server;

const BIG = marinaArea(0, 1, 1900, 600); // two 1024 px windows
const SMALL = marinaArea(6, 4, 48, 48);

before(async () => {
  server = await startStaticServer({ mounts: { "/": join(REPO, "www"), "/pkg/": join(REPO, "pkg") } });
});

after(async () => {
  await server?.close();
});

/** In a fresh browser (with `extraArgs`), one page: `script(args)` evaluated after the page is ready. */
async function inBrowser(t, extraArgs, script, args) {
  const browser = await launchBrowser({ webgpu: false, extraArgs });
  try {
    const ctx = await browser.newContext();
    return await withPage(t, ctx, async (page) => {
      await page.goto(`${server.url}/e2e.html`);
      await page.waitForFunction(() => document.title === "ready", null, { timeout: 30_000 });
      return await page.evaluate(script, args);
    });
  } finally {
    await browser.close();
  }
}

describe("a worker out of memory", () => {
  test("without the cap, the big area runs and needs more than the cap", { timeout: 5 * MINUTE }, async (t) => {
    const r = await inBrowser(t, [], async ({ big, model, base }) => {
      const { Detector } = window.geodetect;
      const d = await Detector.create({ source: { url: `${base}/tiles/marina/{z}/{x}/{y}.png`, maxZoom: 21 }, model, backend: "cpu", workers: 1, threads: 1, modelBaseUrl: "/models/" });
      try {
        const result = await d.detect(big, { zoom: 19 });
        return { detections: result.detections.features.length, memoryBytes: (await d.health()).workers[0].memoryBytes };
      } finally {
        d.dispose();
      }
    }, { big: BIG, model: MODEL, base: server.url });
    assert.ok(r.detections > 0, JSON.stringify(r));
    assert.ok(r.memoryBytes > MAX_PAGES * 65536, `${r.memoryBytes} bytes: the big area fits under the cap, the test proves nothing`);
    t.diagnostic(`uncapped: ${r.detections} detections, wasm memory ${(r.memoryBytes / 2 ** 20).toFixed(1)} MiB (cap ${(MAX_PAGES / 16).toFixed(1)} MiB)`);
  });

  test("out of memory: replaced, retried once, then WORKER_CRASHED; the other area finishes and the detector goes on", { timeout: 5 * MINUTE }, async (t) => {
    const r = await inBrowser(t, [`--js-flags=--wasm-max-mem-pages=${MAX_PAGES}`], async ({ big, small, model, base }) => {
      const { Detector } = window.geodetect;
      const d = await Detector.create({ source: { url: `${base}/tiles/marina/{z}/{x}/{y}.png`, maxZoom: 21 }, model, backend: "cpu", workers: 2, threads: 1, modelBaseUrl: "/models/" });
      const settle = (p) => p.then((v) => ({ detections: v.detections.features.length }), (e) => ({ code: e.code, message: e.message }));
      try {
        const [bigOut, smallOut] = await Promise.all([settle(d.detect(big, { zoom: 19 })), settle(d.detect(small, { zoom: 19 }))]);
        const next = await settle(d.detect(small, { zoom: 19 }));
        const health = await d.health();
        return { bigOut, smallOut, next, health: { status: health.status, alive: health.workersAlive, total: health.workersTotal, wanted: health.workersWanted, memory: health.workers.map((w) => w.memoryBytes) }, metrics: d.metrics() };
      } finally {
        d.dispose();
      }
    }, { big: BIG, small: SMALL, model: MODEL, base: server.url });
    t.diagnostic(JSON.stringify({ big: r.bigOut, small: r.smallOut, next: r.next, health: r.health }));
    assert.equal(r.bigOut.code, "WORKER_CRASHED", JSON.stringify(r.bigOut));
    // The trap named and explained (no panic before it: out of memory, at the cap), and the
    // retry: the chunk was tried on a second worker.
    assert.match(r.bigOut.message, /crashed \(unreachable\) at [\d.]+ MiB of wasm memory with no panic before it: most likely it ran out of memory/);
    const mib = Number(/at ([\d.]+) MiB/.exec(r.bigOut.message)[1]);
    // At or under the cap: the allocation that failed (a model window's buffers are several
    // MiB) was larger than what the cap left.
    assert.ok(mib > 20 && mib <= MAX_PAGES / 16, `${mib} MiB at the crash, cap ${MAX_PAGES / 16} MiB`);
    assert.equal(r.metrics.chunks.retried, 1, JSON.stringify(r.metrics.chunks));
    assert.equal(r.metrics.errors.WORKER_CRASHED, 1, JSON.stringify(r.metrics.errors));
    assert.ok(!r.smallOut.code, `the other area failed: ${r.smallOut.message}`);
    assert.ok(!r.next.code, `the next call failed: ${r.next.message}`);
    assert.equal(r.health.status, "healthy");
    // The pool starts workers as it needs them: every one it has is alive.
    assert.ok(r.health.alive >= 1 && r.health.alive === r.health.total, JSON.stringify(r.health));
    for (const m of r.health.memory) assert.ok(m <= MAX_PAGES * 65536, `${m}`);
  });
});
