// Protocol tests of the main-thread client (pkg/index.js) and the worker runtime
// (pkg/worker-core.js) against a fake engine (fixtures/fake-wasm/geodetect.js), in headless
// Chromium. They need neither the wasm build, nor tiles, nor models, nor www/serve.sh:
// a tiny static server on a random port serves the repository.
//
//   cd tests/e2e && npm ci && npm run test:client
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { launchBrowser, startStaticServer, withPage } from "./helpers.mjs";

let browser;
let server;
let context;

before(async () => {
  server = await startStaticServer();
  browser = await launchBrowser({ webgpu: false });
  context = await browser.newContext();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/**
 * Open the protocol test page, run `fn` in it, then `check({ value, page, watch })` in
 * node while the page is still open (its output is attached if anything fails).
 */
async function inPage(t, fn, check) {
  return withPage(t, context, async (page, watch) => {
    await page.goto(`${server.url}/tests/e2e/fixtures/client.html`);
    await page.waitForFunction(() => document.title === "ready");
    const value = await page.evaluate(fn);
    await check({ value, page, watch });
  });
}

/** Wait (up to 3 s) until the page has no live worker. */
async function noWorkers(page, message) {
  for (let i = 0; i < 30 && page.workers().length; i++) await page.waitForTimeout(100);
  assert.deepEqual(page.workers().map((w) => w.url()), [], message);
}

describe("client protocol (fake engine)", { timeout: 60_000 }, () => {
  test("create resolves backend and info; options are resolved against the page", async (t) => {
    await inPage(t, async () => {
      const progress = [];
      const d = await create({ modelBaseUrl: "models", onProgress: (p) => progress.push(p), cache: undefined });
      const stats = (await d.detect(polygon("stats"), { zoom: 1 })).stats;
      const out = { backend: d.backend, info: d.info, disposed: d.disposed, progress, created: stats.lastCreate, base: document.baseURI };
      d.dispose();
      return out;
    }, async ({ value }) => {
      assert.equal(value.backend, "cpu");
      assert.equal(value.disposed, false);
      assert.equal(value.info.model.id, "fake");
      assert.deepEqual(value.progress.map((p) => p.stage), ["model"]);
      const base = new URL(value.base);
      assert.equal(value.created.source.url, new URL("tiles/", base).href + "{z}/{x}/{-y}.png", "relative template resolved, placeholders kept");
      assert.equal(value.created.modelBaseUrl, new URL("models/", base).href, "modelBaseUrl resolved, trailing slash added");
      assert.equal(value.created.backend, "auto");
      assert.equal(value.created.model, "fake");
      assert.ok(!("cache" in value.created), "undefined options are not sent");
      assert.ok(!("workerUrl" in value.created) && !("onProgress" in value.created));
    });
  });

  test("default modelBaseUrl is ./models/ next to index.js; absolute templates are untouched", async (t) => {
    await inPage(t, async () => {
      const d = await create({ source: { url: "https://{s}.tiles.example/{z}/{x}/{y}.png", subdomains: ["a"] } });
      const { stats } = await d.detect(polygon("stats"), { zoom: 1 });
      d.dispose();
      return { created: stats.lastCreate, origin: location.origin };
    }, async ({ value }) => {
      assert.equal(value.created.modelBaseUrl, `${value.origin}/pkg/models/`);
      assert.equal(value.created.source.url, "https://{s}.tiles.example/{z}/{x}/{y}.png");
      assert.deepEqual(value.created.source.subdomains, ["a"]);
    });
  });

  test("detect: progress, result, options and signal reach the engine", async (t) => {
    await inPage(t, async () => {
      const d = await create();
      const progress = [];
      const ac = new AbortController();
      const r = await d.detect(polygon("ok"), { zoom: 5, confidence: 0.5, iou: undefined, classes: ["ship"], signal: ac.signal, onProgress: (p) => progress.push(p) });
      d.dispose();
      return { r, progress };
    }, async ({ value }) => {
      assert.deepEqual(value.progress.map((p) => `${p.stage}:${p.tilesDone}/${p.tilesTotal}`), ["fetch:1/4", "fetch:2/4", "fetch:3/4", "fetch:4/4", "done:4/4"]);
      assert.equal(value.r.detections.type, "FeatureCollection");
      assert.deepEqual(value.r.detections.features[0].properties, { class: "ship", classId: 0, score: 0.9 });
      assert.deepEqual(value.r.echo.options, { zoom: 5, confidence: 0.5, classes: ["ship"] }, "signal/onProgress/undefined stripped");
      assert.equal(value.r.echo.signalIsAbortSignal, true);
      assert.equal(value.r.image.zoom, 5);
    });
  });

  test("engine errors become GeodetectError with the engine's code", async (t) => {
    await inPage(t, async () => {
      const d = await create();
      const invalid = await settle(d.detect(polygon("invalid"), { zoom: 3 }));
      const bare = await settle(d.detect(polygon("plain-throw"), { zoom: 3 }));
      const ok = await settle(d.detect(polygon("ok"), { zoom: 3 }));
      const panic = await settle(d.detect(polygon("panic"), { zoom: 3 }));
      const afterPanic = await settle(d.detect(polygon("ok"), { zoom: 3 }));
      d.dispose();
      return { invalid, bare, ok, panic, afterPanic };
    }, async ({ value }) => {
      assert.equal(value.invalid.ok, false);
      assert.equal(value.invalid.code, "INVALID_POLYGON");
      assert.equal(value.invalid.name, "GeodetectError");
      assert.equal(value.invalid.isError, true);
      assert.equal(value.invalid.isGeodetectError, true);
      assert.match(value.invalid.message, /invalid polygon/);
      assert.equal(value.bare.code, "INTERNAL");
      assert.match(value.bare.message, /a bare string/);
      assert.equal(value.ok.ok, true, "an engine error does not break the detector");
      assert.equal(value.panic.code, "WORKER_CRASHED", "a wasm trap, on the first worker and on its replacement");
      assert.match(value.panic.message, /crashed \(unreachable\)/);
      assert.equal(value.afterPanic.ok, true, "a trapped engine is replaced by a fresh worker");
    });
  });

  // Only shapes (types, required keys, signal, callbacks) are checked on the main thread;
  // ranges are the engine's (e2e.test.mjs checks them against the real one).
  test("obvious option mistakes are rejected on the main thread with INVALID_OPTIONS", async (t) => {
    await inPage(t, async () => {
      const d = await create();
      const cases = {
        stringZoom: await settle(d.detect(polygon("ok"), { zoom: "18" })),
        noZoom: await settle(d.detect(polygon("ok"), {})),
        noOptions: await settle(d.detect(polygon("ok"))),
        stringConfidence: await settle(d.detect(polygon("ok"), { zoom: 3, confidence: "high" })),
        stringFailOnMissing: await settle(d.detect(polygon("ok"), { zoom: 3, failOnMissingTiles: "yes" })),
        classes: await settle(d.detect(polygon("ok"), { zoom: 3, classes: "ship" })),
        signal: await settle(d.detect(polygon("ok"), { zoom: 3, signal: {} })),
        onProgress: await settle(d.detect(polygon("ok"), { zoom: 3, onProgress: "log" })),
        nullAoi: await settle(d.detect(null, { zoom: 3 })),
        uncloneableAoi: await settle(d.detect({ ...polygon("ok"), f: () => 1 }, { zoom: 3 })),
      };
      const { stats } = await d.detect(polygon("stats"), { zoom: 3 });
      d.dispose();
      const creates = {
        noSource: await settle(geodetect.Detector.create({ model: "fake", workerUrl: FAKE_WORKER })),
        noModel: await settle(geodetect.Detector.create({ source: { url: "x/{z}/{x}/{y}" }, workerUrl: FAKE_WORKER })),
        numberBackend: await settle(create({ backend: 1 })),
        stringTileSize: await settle(create({ source: { url: "x/{z}/{x}/{y}", tileSize: "256" } })),
        subdomains: await settle(create({ source: { url: "x/{z}/{x}/{y}", subdomains: "abc" } })),
        fetchNotObject: await settle(create({ fetch: 3 })),
        stringRetries: await settle(create({ fetch: { retries: "3" } })),
        stringCache: await settle(create({ cache: "no" })),
        stringThreads: await settle(create({ threads: "2" })),
        modelBaseUrl: await settle(create({ modelBaseUrl: 42 })),
        notObject: await settle(geodetect.Detector.create()),
      };
      return { cases, creates, detectsSeen: stats.detects };
    }, async ({ value }) => {
      for (const [name, r] of Object.entries(value.cases)) {
        const expected = name === "nullAoi" ? "INVALID_POLYGON" : "INVALID_OPTIONS";
        assert.equal(r.code, expected, `${name}: ${r.message}`);
        assert.equal(r.isGeodetectError, true, name);
      }
      for (const [name, r] of Object.entries(value.creates)) {
        assert.equal(r.code, "INVALID_OPTIONS", `create ${name}: ${r.message}`);
        assert.equal(r.isGeodetectError, true, `create ${name}`);
      }
      assert.equal(value.detectsSeen, 1, "none of the invalid calls reached the engine");
      assert.match(value.cases.stringZoom.message, /`zoom`/);
      assert.match(value.cases.stringConfidence.message, /`confidence`/);
      assert.match(value.creates.stringTileSize.message, /`source\.tileSize`/);
      assert.match(value.creates.stringRetries.message, /`fetch\.retries`/);
      assert.match(value.creates.numberBackend.message, /`backend`/);
      assert.match(value.creates.stringThreads.message, /`threads`/);
    });
  });

  test("ranges and unknown keys are left to the engine: they reach it unchanged", async (t) => {
    await inPage(t, async () => {
      const d = await create({ backend: "webgl", bakend: "cpu", threads: 0, source: { url: "x/{z}/{x}/{y}", tileSize: 300 }, fetch: { concurrency: 65, timeoutMs: 0, retries: 1.5 } });
      const options = { zoom: 18.5, confidence: 1.5, iou: -0.1, maxDetections: 20000, maxTiles: 0, classes: [1.5] };
      const { stats } = await d.detect(polygon("stats"), options);
      d.dispose();
      return { stats, options };
    }, async ({ value }) => {
      const { lastCreate, lastOptions } = value.stats;
      assert.equal(lastCreate.backend, "webgl");
      assert.equal(lastCreate.bakend, "cpu", "a misspelt option goes on, for the engine to refuse by name");
      assert.equal(lastCreate.threads, 0, "the thread count's range is the engine's to check");
      assert.equal(lastCreate.source.tileSize, 300);
      assert.deepEqual(lastCreate.fetch, { concurrency: 65, timeoutMs: 0, retries: 1.5 });
      assert.deepEqual(lastOptions, value.options);
    });
  });

  test("abort: pre-aborted signals never post; aborting rejects at once and reaches the engine", async (t) => {
    await inPage(t, async () => {
      const d = await create();
      const pre = new AbortController();
      pre.abort();
      const preAborted = await settle(d.detect(polygon("slow"), { zoom: 3, signal: pre.signal }));
      const ac = new AbortController();
      const progress = [];
      let t0 = 0;
      // Abort on the second progress report (the engine sends 50, 100 ms apart).
      const onProgress = (x) => {
        if (progress.push(x) === 2) {
          t0 = performance.now();
          ac.abort(new Error("user cancelled"));
        }
      };
      const aborted = await settle(d.detect(polygon("slow"), { zoom: 3, signal: ac.signal, onProgress }));
      const rejectMs = performance.now() - t0;
      const progressAtAbort = progress.length;
      await new Promise((r) => setTimeout(r, 300));
      const next = await settle(d.detect(polygon("ok"), { zoom: 3 }));
      const { stats } = await d.detect(polygon("stats"), { zoom: 3 });
      d.dispose();
      return { preAborted, aborted, rejectMs, progressAtAbort, progressLater: progress.length, next, stats };
    }, async ({ value }) => {
      assert.equal(value.preAborted.code, "ABORTED");
      assert.ok(value.preAborted.ms < 50, `pre-aborted rejection took ${value.preAborted.ms} ms`);
      assert.equal(value.aborted.code, "ABORTED");
      assert.ok(value.rejectMs < 50, `abort rejection took ${value.rejectMs} ms`);
      assert.equal(value.progressAtAbort, 2, "progress arrived before the abort");
      assert.equal(value.progressLater, value.progressAtAbort, "no progress callbacks after the abort");
      assert.equal(value.next.ok, true, "the detector still works after an abort");
      assert.equal(value.stats.detects, 3, "the pre-aborted call never reached the engine (slow, ok, stats)");
      assert.equal(value.stats.abortsSeen, 1, "the engine's AbortSignal fired");
    });
  });

  test("late results of aborted requests are dropped", async (t) => {
    await inPage(t, async () => {
      const d = await create();
      const ac = new AbortController();
      let settledTwice = false;
      let first = null;
      const p = d.detect(polygon("ignore-abort"), { zoom: 3, signal: ac.signal }).then(
        (v) => { if (first) settledTwice = true; first ??= { ok: true, v }; },
        (e) => { if (first) settledTwice = true; first ??= { ok: false, code: e.code }; },
      );
      setTimeout(() => ac.abort(), 50);
      await p;
      await new Promise((r) => setTimeout(r, 800)); // the engine answers after 500 ms
      const next = await settle(d.detect(polygon("ok"), { zoom: 3 }));
      d.dispose();
      return { first, settledTwice, next };
    }, async ({ value }) => {
      assert.deepEqual(value.first, { ok: false, code: "ABORTED" });
      assert.equal(value.settledTwice, false);
      assert.equal(value.next.ok, true);
      assert.equal(value.next.value.echo.scenario, "ok", "the next call got its own result, not the late one");
    });
  });

  test("concurrent detect calls on one detector all resolve, in order", async (t) => {
    await inPage(t, async () => {
      const d = await create();
      const order = [];
      const rs = await Promise.all([3, 4, 5, 6].map((z) => d.detect(polygon("ok"), { zoom: z }).then((r) => { order.push(z); return r.image.zoom; })));
      d.dispose();
      return { rs, order };
    }, async ({ value }) => {
      assert.deepEqual(value.rs, [3, 4, 5, 6]);
      assert.deepEqual(value.order, [3, 4, 5, 6]);
    });
  });

  test("dispose rejects pending calls with DISPOSED, is idempotent, and later calls fail", async (t) => {
    await inPage(t, async () => {
      const d = await create();
      const pending = settle(d.detect(polygon("slow"), { zoom: 3 }));
      const queued = settle(d.detect(polygon("ok"), { zoom: 3 }));
      await new Promise((r) => setTimeout(r, 100));
      d.dispose();
      d.dispose();
      return {
        pending: await pending,
        queued: await queued,
        later: await settle(d.detect(polygon("ok"), { zoom: 3 })),
        preload: await settle(d.preload(["fake"])),
        disposed: d.disposed,
      };
    }, async ({ value, page }) => {
      assert.equal(value.pending.code, "DISPOSED");
      assert.equal(value.queued.code, "DISPOSED");
      assert.ok(value.pending.ms < 200);
      assert.equal(value.later.code, "DISPOSED");
      assert.equal(value.preload.code, "DISPOSED");
      assert.equal(value.disposed, true);
      await noWorkers(page, "the worker was terminated");
    });
  });

  test("a worker that throws is replaced: its call is retried once, then WORKER_CRASHED; the others go on", async (t) => {
    await inPage(t, async () => {
      const d = await create();
      const a = settle(d.detect(polygon("crash"), { zoom: 3 }));
      const b = settle(d.detect(polygon("ok"), { zoom: 3 }));
      const r = { a: await a, b: await b };
      r.later = await settle(d.detect(polygon("ok"), { zoom: 3 }));
      r.disposed = d.disposed;
      r.metrics = d.metrics();
      d.dispose();
      return r;
    }, async ({ value }) => {
      assert.equal(value.a.code, "WORKER_CRASHED");
      assert.match(value.a.message, /exploded.*on 2 workers/);
      assert.equal(value.b.ok, true, "a call queued behind the crash runs on the replacement");
      assert.equal(value.later.ok, true, "the detector is still usable");
      assert.equal(value.disposed, false);
      assert.deepEqual(value.metrics.workers, { started: 3, replaced: 2 });
      assert.deepEqual(value.metrics.chunks, { retried: 1, failed: 1 });
    });
  });

  test("create fails with WORKER_FAILED for a worker that cannot load or crashes", async (t) => {
    await inPage(t, async () => ({
      missing: await settle(create({ workerUrl: "/tests/e2e/fixtures/no-such-worker.js" })),
      broken: await settle(create({ workerUrl: "/tests/e2e/fixtures/broken-worker.js" })),
      crash: await settle(create({ model: "crash" })),
    }), async ({ value }) => {
      for (const [name, r] of Object.entries(value)) {
        assert.equal(r.code, "WORKER_FAILED", `${name}: ${r.message}`);
        assert.ok(r.ms < 10_000, `${name} took ${r.ms} ms`);
      }
    });
  });

  test("engine errors during create reject create and stop the worker", async (t) => {
    await inPage(t, async () => ({
      unknown: await settle(create({ model: "unknown" })),
      webgpu: await settle(create({ model: "no-webgpu", backend: "webgpu" })),
    }), async ({ value, page }) => {
      assert.equal(value.unknown.code, "UNKNOWN_MODEL");
      assert.equal(value.webgpu.code, "BACKEND_UNAVAILABLE");
      await noWorkers(page, "no worker left behind");
    });
  });

  test("create can be aborted while the model loads; its progress is reported", async (t) => {
    await inPage(t, async () => {
      const ac = new AbortController();
      const progress = [];
      // Abort on the second progress report (the engine sends 20, 100 ms apart).
      const onProgress = (x) => progress.push(`${x.stage} ${x.done}/${x.total}`) === 2 && ac.abort();
      const p = settle(create({ model: "slow", signal: ac.signal, onProgress }));
      const r = await p;
      await new Promise((ok) => setTimeout(ok, 300));
      return { r, progress };
    }, async ({ value, page }) => {
      assert.equal(value.r.code, "ABORTED");
      assert.deepEqual(value.progress, ["model 1/20", "model 2/20"], "progress until the abort, nothing after");
      await noWorkers(page, "the aborted create's worker is gone");
    });
  });

  test("a browser without WebAssembly SIMD gets UNSUPPORTED_BROWSER and no worker", async (t) => {
    await withPage(t, context, async (page) => {
      // This page's WebAssembly validates no module: in particular not the client's SIMD
      // probe, as in a browser without wasm SIMD. (Workers are not affected.)
      await page.addInitScript(() => {
        WebAssembly.validate = () => false;
      });
      const started = [];
      page.on("worker", (w) => started.push(w.url()));
      await page.goto(`${server.url}/tests/e2e/fixtures/client.html`);
      await page.waitForFunction(() => document.title === "ready");
      const value = await page.evaluate(async () => ({
        create: await settle(create()),
        createDefaultWorker: await settle(geodetect.Detector.create({ source: { url: "x/{z}/{x}/{y}" }, model: "fake" })),
        models: await settle(geodetect.Detector.models({ workerUrl: FAKE_WORKER })),
      }));
      for (const [name, r] of Object.entries(value)) {
        assert.equal(r.code, "UNSUPPORTED_BROWSER", `${name}: ${r.message}`);
        assert.equal(r.isGeodetectError, true, name);
        assert.equal(r.name, "GeodetectError", name);
        assert.match(r.message, /WebAssembly SIMD \(simd128\)/, name);
      }
      assert.deepEqual(started, [], "no worker was started");
      assert.deepEqual(page.workers().map((w) => w.url()), []);
    });
  });

  test("a worker without WebAssembly SIMD answers UNSUPPORTED_BROWSER (custom workerUrl)", async (t) => {
    await inPage(t, async () => {
      const workerUrl = new URL("./no-simd-worker.js", FAKE_WORKER).href;
      return {
        create: await settle(create({ workerUrl })),
        models: await settle(geodetect.Detector.models({ workerUrl })),
      };
    }, async ({ value, page }) => {
      for (const [name, r] of Object.entries(value)) {
        assert.equal(r.code, "UNSUPPORTED_BROWSER", `${name}: ${r.message}`);
        assert.equal(r.isGeodetectError, true, name);
        assert.match(r.message, /WebAssembly SIMD \(simd128\)/, name);
      }
      await noWorkers(page, "the workers were stopped");
    });
  });

  test("results that cannot be cloned fail that call only", async (t) => {
    await inPage(t, async () => {
      const d = await create();
      const r = { bad: await settle(d.detect(polygon("uncloneable"), { zoom: 3 })), next: await settle(d.detect(polygon("ok"), { zoom: 3 })) };
      d.dispose();
      return r;
    }, async ({ value }) => {
      assert.equal(value.bad.code, "INTERNAL");
      assert.match(value.bad.message, /could not be sent/);
      assert.equal(value.next.ok, true);
    });
  });

  test("preload and models", async (t) => {
    await inPage(t, async () => {
      const d = await create({ modelBaseUrl: "/some/models" });
      const r = {
        preload: await settle(d.preload(["fake"])),
        unknown: await settle(d.preload(["unknown"])),
        badIds: await settle(d.preload("fake")),
        own: await settle(d.models()),
        stats: (await d.detect(polygon("stats"), { zoom: 1 })).stats,
        staticModels: await settle(geodetect.Detector.models({ modelBaseUrl: "/other/models/", workerUrl: FAKE_WORKER })),
        workersAfter: 0,
      };
      d.dispose();
      return r;
    }, async ({ value }) => {
      assert.equal(value.preload.ok, true);
      assert.equal(value.preload.value, undefined);
      assert.equal(value.unknown.code, "UNKNOWN_MODEL");
      assert.equal(value.badIds.code, "INVALID_OPTIONS");
      assert.deepEqual(value.stats.preloaded, ["fake"]);
      assert.equal(value.own.value[0].id, "fake");
      assert.match(value.own.value[0].name, /^http:\/\/127\.0\.0\.1:\d+\/some\/models\/$/);
      assert.match(value.staticModels.value[0].name, /\/other\/models\/$/);
    });
  });

  test("a throwing onProgress callback does not break detection", async (t) => {
    await inPage(t, async () => {
      const d = await create();
      const r = await settle(d.detect(polygon("ok"), { zoom: 3, onProgress: () => { throw new Error("callback bug"); } }));
      d.dispose();
      return r;
    }, async ({ value, watch }) => {
      assert.equal(value.ok, true);
      assert.ok(watch.lines.some((l) => l.includes("callback bug")), "the callback's error is reported, not swallowed");
    });
  });

  test("the Detector constructor is not public", async (t) => {
    await inPage(t, async () => {
      try {
        new geodetect.Detector();
        return "constructed";
      } catch (e) {
        return `${e.name}: ${e.message}`;
      }
    }, async ({ value }) => {
      assert.match(value, /TypeError: use `await Detector.create/);
    });
  });
});

// The pool (pkg/pool.js) against the fake engine's scripted pool runs: each chunk gives one
// detection whose class names the worker that ran it and whose classId is the chunk.
describe("worker pool (fake engine)", { timeout: 90_000 }, () => {
  test("an area of several chunks runs on every worker; each chunk is merged once; progress and batches add up", async (t) => {
    await inPage(t, async () => {
      const d = await create({ workers: 3 });
      const before = await d.health();
      const progress = [];
      const batches = [];
      const r = await d.detect(area(12, { chunkMs: 100 }), {
        zoom: 3,
        onProgress: (p) => progress.push(p),
        onDetections: (b, p) => batches.push({ n: b.features.length, chunksDone: p.chunksDone }),
      });
      const after = await d.health();
      const metrics = d.metrics();
      d.dispose();
      return { r, progress, batches, before, after, metrics, workers: d.workers };
    }, async ({ value }) => {
      const { r, progress, batches } = value;
      assert.equal(value.workers, 3);
      assert.deepEqual(r.detections.features.map((f) => f.properties.classId), [...Array(12).keys()], "every chunk, once");
      const ran = new Set(r.detections.features.map((f) => f.properties.class));
      assert.ok(ran.size >= 2, `the chunks ran on ${ran.size} workers: ${[...ran]}`);
      assert.deepEqual(r.failedChunks, []);
      assert.equal(batches.reduce((n, b) => n + b.n, 0), 12, "every detection streamed once");
      assert.deepEqual(batches.map((b) => b.chunksDone), [...Array(12).keys()].map((k) => k + 1), "a batch per merged chunk");
      const last = progress.at(-1);
      assert.equal(last.stage, "done");
      assert.deepEqual([last.chunksDone, last.chunksTotal, last.tilesDone, last.tilesTotal, last.detections], [12, 12, 48, 48, 12]);
      for (let i = 1; i < progress.length; i++) {
        assert.ok(progress[i].chunksDone >= progress[i - 1].chunksDone, "chunks done never go back");
        assert.ok(progress[i].elapsedMs >= progress[i - 1].elapsedMs);
      }
      assert.ok(progress.some((p) => p.stage === "inference" && p.etaMs !== null), "an ETA once windows have run");
      assert.equal(value.before.workersTotal, 1, "one worker until an area of several chunks");
      assert.equal(value.before.workersWanted, 3);
      assert.equal(value.after.workersTotal, 3);
      assert.equal(value.after.workersAlive, 3);
      assert.equal(value.after.status, "healthy");
      assert.deepEqual(value.metrics.workers, { started: 3, replaced: 0 });
    });
  });

  test("workers: 1 runs an area as one request on its one worker", async (t) => {
    await inPage(t, async () => {
      const d = await create({ workers: 1 });
      const r = await d.detect(area(6), { zoom: 3 });
      const { stats } = await d.detect(polygon("stats"), { zoom: 3 });
      d.dispose();
      return { r, stats, created: stats.lastCreate, cores: navigator.hardwareConcurrency };
    }, async ({ value }) => {
      assert.equal(value.r.echo.scenario, "pool", "the engine's detect() ran the whole area");
      assert.equal(value.stats.runsStarted, 0, "no pool run");
      assert.equal(value.created.workers, 1);
      assert.equal(value.created.threads, Math.min(value.cores, 4), "one worker gets the cores");
    });
  });

  test("the default pool: min(hardwareConcurrency, 4) workers of one thread each", async (t) => {
    await inPage(t, async () => {
      const d = await create();
      const { stats } = await d.detect(polygon("stats"), { zoom: 3 });
      d.dispose();
      return { workers: d.workers, created: stats.lastCreate, cores: navigator.hardwareConcurrency };
    }, async ({ value }) => {
      assert.equal(value.workers, Math.min(value.cores, 4));
      assert.ok(!("workers" in value.created), "the default is not sent");
      assert.equal(value.created.threads, Math.max(1, Math.floor(Math.min(value.cores, 4) / value.workers)));
    });
  });

  test("a worker that crashes or traps in a chunk is replaced and the chunk runs again", async (t) => {
    await inPage(t, async () => {
      const d = await create({ workers: 2 });
      const r = await d.detect(area(10, { faults: { 3: "trap-once", 6: "throw-once" } }), { zoom: 3 });
      const next = await settle(d.detect(area(4), { zoom: 3 }));
      const health = await d.health();
      const metrics = d.metrics();
      d.dispose();
      return { r, next, health, metrics };
    }, async ({ value }) => {
      assert.deepEqual(value.r.detections.features.map((f) => f.properties.classId), [...Array(10).keys()]);
      assert.deepEqual(value.r.failedChunks, []);
      assert.equal(value.next.ok, true);
      assert.deepEqual(value.metrics.workers, { started: 4, replaced: 2 });
      assert.deepEqual(value.metrics.chunks, { retried: 2, failed: 0 });
      assert.equal(value.health.workersAlive, 2, "the pool is whole again");
    });
  });

  test("a chunk that fails twice is listed in failedChunks; a hung worker is cut off by chunkTimeoutMs", async (t) => {
    await inPage(t, async () => {
      const d = await create({ workers: 2, chunkTimeoutMs: 600 });
      const t0 = performance.now();
      const r = await settle(d.detect(area(8, { faults: { 2: "trap", 5: "hang" } }), { zoom: 3 }));
      const ms = performance.now() - t0;
      const prom = d.metrics({ format: "prometheus" });
      d.dispose();
      return { r, ms, prom };
    }, async ({ value }) => {
      assert.equal(value.r.ok, true, value.r.message);
      const { detections, failedChunks } = value.r.value;
      assert.deepEqual(detections.features.map((f) => f.properties.classId), [0, 1, 3, 4, 6, 7]);
      assert.deepEqual(failedChunks.map((f) => [f.chunk, f.attempts]), [[2, 2], [5, 2]]);
      assert.match(failedChunks[0].reason, /crashed \(unreachable\)/);
      assert.match(failedChunks[1].reason, /chunk 5 ran past chunkTimeoutMs \(600 ms\)/);
      // Two timeouts of 600 ms one after the other, and the rest: bounded.
      assert.ok(value.ms < 4000, `took ${value.ms} ms`);
      assert.match(value.prom, /geodetect_chunks_total\{[^}]*outcome="failed"[^}]*\} 2/);
      assert.match(value.prom, /geodetect_workers_replaced_total\{[^}]*\} 4/);
    });
  });

  test("when every chunk fails, the area fails with WORKER_CRASHED", async (t) => {
    await inPage(t, async () => {
      const d = await create({ workers: 2 });
      const r = await settle(d.detect(area(2, { faults: { 0: "trap", 1: "trap" } }), { zoom: 3 }));
      const next = await settle(d.detect(area(3), { zoom: 3 }));
      d.dispose();
      return { r, next };
    }, async ({ value }) => {
      assert.equal(value.r.code, "WORKER_CRASHED");
      assert.match(value.r.message, /no chunk of the area could be run/);
      assert.equal(value.next.ok, true);
    });
  });

  test("if the merging worker dies, a new one replays the merged chunks", async (t) => {
    await inPage(t, async () => {
      const d = await create({ workers: 2 });
      const batches = [];
      const r = await d.detect(area(8, { mergerCrashAt: 4 }), { zoom: 3, onDetections: (b) => batches.push(...b.features.map((f) => f.properties.classId)) });
      d.dispose();
      return { r, batches, metrics: d.metrics() };
    }, async ({ value }) => {
      assert.deepEqual(value.r.detections.features.map((f) => f.properties.classId), [...Array(8).keys()]);
      assert.deepEqual([...value.batches].sort((a, b) => a - b), [...Array(8).keys()], "each detection streamed once");
      assert.equal(value.metrics.workers.replaced, 1);
    });
  });

  test("an engine error in one chunk stops the whole run; the detector goes on", async (t) => {
    await inPage(t, async () => {
      const d = await create({ workers: 2 });
      const r = await settle(d.detect(area(10, { chunkMs: 100, faults: { 3: "tile-error" } }), { zoom: 3, failOnMissingTiles: true }));
      await new Promise((ok) => setTimeout(ok, 300));
      const next = await settle(d.detect(area(4), { zoom: 3 }));
      const { stats } = await d.detect(polygon("stats"), { zoom: 3 });
      d.dispose();
      return { r, next, stats };
    }, async ({ value }) => {
      assert.equal(value.r.code, "TILE_FETCH_FAILED");
      assert.equal(value.next.ok, true);
      assert.ok(value.stats.runsDropped >= 1, "the failed run was dropped on every worker");
    });
  });

  test("abort stops every worker promptly and the detector goes on", async (t) => {
    await inPage(t, async () => {
      const d = await create({ workers: 2 });
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 400);
      const t0 = performance.now();
      const r = await settle(d.detect(area(20, { chunkMs: 200 }), { zoom: 3, signal: ac.signal }));
      const ms = performance.now() - t0;
      const next = await settle(d.detect(area(3), { zoom: 3 }));
      d.dispose();
      return { r, ms, next };
    }, async ({ value }) => {
      assert.equal(value.r.code, "ABORTED");
      assert.ok(value.ms < 600, `rejected after ${value.ms} ms`);
      assert.equal(value.next.ok, true);
    });
  });

  test("detectMany: one settled result per area, in input order; bad areas never fail the batch", async (t) => {
    await inPage(t, async () => {
      const d = await create({ workers: 2 });
      const areas = Array.from({ length: 50 }, (_, i) => (i % 10 === 3 ? polygon("invalid") : i % 10 === 7 ? area(2, { faults: { 0: "trap", 1: "trap" } }) : i % 5 === 0 ? area(3) : polygon("ok")));
      const seen = [];
      const settled = await d.detectMany(areas, { zoom: 4, onArea: (s, i) => seen.push(i) });
      const tooMany = await settle(d.detectMany([...areas, polygon("ok")], { zoom: 4 }));
      const notArray = await settle(d.detectMany(polygon("ok"), { zoom: 4 }));
      const badOption = await settle(d.detectMany(areas, { zoom: "4" }));
      const more = await settle(d.detectMany([...areas, polygon("ok")], { zoom: 4, maxAreas: 51, concurrency: 1 }));
      d.dispose();
      return {
        statuses: settled.map((s) => (s.status === "fulfilled" ? `ok:${s.value.detections.features.length}` : `${s.reason.code}:${s.reason instanceof geodetect.GeodetectError}`)),
        seen: seen.sort((a, b) => a - b),
        tooMany, notArray, badOption, moreLength: more.ok ? more.value.length : more.message,
      };
    }, async ({ value }) => {
      assert.equal(value.statuses.length, 50);
      value.statuses.forEach((s, i) => {
        const want = i % 10 === 3 ? "INVALID_POLYGON:true" : i % 10 === 7 ? "WORKER_CRASHED:true" : i % 5 === 0 ? "ok:3" : "ok:1";
        assert.equal(s, want, `area ${i}`);
      });
      assert.deepEqual(value.seen, [...Array(50).keys()], "onArea for each area");
      assert.equal(value.tooMany.code, "INVALID_OPTIONS");
      assert.match(value.tooMany.message, /51 areas .*maxAreas.*50/);
      assert.equal(value.notArray.code, "INVALID_OPTIONS");
      assert.equal(value.badOption.code, "INVALID_OPTIONS");
      assert.equal(value.moreLength, 51);
    });
  });
});
