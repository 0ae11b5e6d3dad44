// The WebGPU device lost in the middle of a run, with the real engine on Chromium's WebGPU
// (SwiftShader here): the package's worker is started from a `blob:` module that keeps the
// GPUDevices the engine requests and destroys them (`device.destroy()`, which is what a lost
// device looks like to the engine) when the page says so on a BroadcastChannel, as soon as
// the run reports its inference stage.
//
//   cd tests/e2e && node --test --test-reporter=spec device-lost.test.mjs
//
// The run resolves whole: the failed window ran again on the CPU path, `backend` is "cpu" and
// `fallbackReason` says the device was lost; its detections are the CPU detector's. The next
// call runs on the CPU and says so too, and health() reports the detector degraded.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO, launchBrowser, marinaArea, startStaticServer, withPage } from "./helpers.mjs";
import { MODEL } from "./setup.mjs";

const MINUTE = 60_000;

let server;
let browser;

const AREA = marinaArea(1, 1, 600, 600); // one model window
const SMALL = marinaArea(6, 4, 48, 48);

before(async () => {
  server = await startStaticServer({ mounts: { "/": join(REPO, "www"), "/pkg/": join(REPO, "pkg") } });
  browser = await launchBrowser({ webgpu: true });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** Box centres of a result's detections, with their class. */
const centres = (features) => features.map((f) => {
  const ring = f.geometry.coordinates[0].slice(0, 4);
  return { cls: f.properties.class, x: ring.reduce((s, p) => s + p[0], 0) / 4, y: ring.reduce((s, p) => s + p[1], 0) / 4 };
});

describe("WebGPU device lost", () => {
  test("mid-run: the run finishes on the CPU and says so; the detector goes on, degraded", { timeout: 10 * MINUTE }, async (t) => {
    const ctx = await browser.newContext();
    try {
      const r = await withPage(t, ctx, async (page) => {
        await page.goto(`${server.url}/e2e.html`);
        await page.waitForFunction(() => document.title === "ready", null, { timeout: 30_000 });
        return await page.evaluate(async ({ aoi, small, model, base }) => {
          const { Detector } = window.geodetect;
          const source = { url: `${base}/tiles/marina/{z}/{x}/{y}.png`, maxZoom: 21 };
          const common = { source, model, workers: 1, threads: 1, modelBaseUrl: "/models/" };
          const cpu = await Detector.create({ ...common, backend: "cpu" });
          const reference = await cpu.detect(aoi, { zoom: 19 });
          cpu.dispose();

          const channel = `geodetect-device-lost-${Math.random()}`;
          const worker = new URL("/pkg/worker.js", location.href).href;
          const wrapper = `import ${JSON.stringify(worker)};
const devices = [];
const requestDevice = GPUAdapter.prototype.requestDevice;
GPUAdapter.prototype.requestDevice = async function (...args) {
  const device = await requestDevice.apply(this, args);
  devices.push(device);
  return device;
};
new BroadcastChannel(${JSON.stringify(channel)}).onmessage = () => {
  for (const device of devices) device.destroy();
};`;
          const workerUrl = URL.createObjectURL(new Blob([wrapper], { type: "text/javascript" }));
          const d = await Detector.create({ ...common, backend: "webgpu", workerUrl });
          try {
            const before = await d.detect(small, { zoom: 19 });
            const destroy = new BroadcastChannel(channel);
            let destroyedAt = null;
            const onProgress = (p) => {
              if (destroyedAt === null && p.stage === "inference") {
                destroyedAt = p.stage;
                destroy.postMessage("destroy");
              }
            };
            const lost = await d.detect(aoi, { zoom: 19, onProgress });
            const next = await d.detect(aoi, { zoom: 19 });
            const health = await d.health();
            const pick = (res) => ({ backend: res.backend, fallbackReason: res.fallbackReason, features: res.detections.features, inference: res.timings.inference });
            return {
              detectorBackend: d.backend, destroyedAt, before: pick(before), lost: pick(lost), next: pick(next),
              reference: reference.detections.features,
              health: { status: health.status, reasons: health.reasons, workers: health.workers.map((w) => ({ backend: w.backend, ok: w.ok, fallbackReason: w.fallbackReason })) },
            };
          } finally {
            d.dispose();
          }
        }, { aoi: AREA, small: SMALL, model: MODEL, base: server.url });
      });
      const { lost, next } = r;
      t.diagnostic(`device destroyed at the ${r.destroyedAt} stage; the run ended on ${lost.backend}: ${lost.fallbackReason}`);
      t.diagnostic(`detections: ${lost.features.length} (CPU detector ${r.reference.length}), next run ${next.features.length}`);
      assert.equal(r.detectorBackend, "webgpu");
      assert.equal(r.before.backend, "webgpu");
      assert.equal(r.before.fallbackReason, null);
      assert.equal(r.destroyedAt, "inference");
      assert.equal(lost.backend, "cpu");
      assert.match(lost.fallbackReason ?? "", /^the WebGPU device was lost \(.*destroyed.*\); the network runs on the CPU since$/i);
      assert.equal(next.backend, "cpu");
      assert.equal(next.fallbackReason, lost.fallbackReason);
      // The same detections as the CPU detector (the WebGPU engine's CPU path, without relaxed
      // SIMD, rounds a little differently from the relaxed engine's): each within 0.2 m.
      for (const run of [lost, next]) {
        assert.ok(Math.abs(run.features.length - r.reference.length) <= 1, `${run.features.length} vs ${r.reference.length}`);
        const ref = centres(r.reference);
        const unmatched = centres(run.features).filter((c) => !ref.some((q) => q.cls === c.cls && Math.hypot(q.x - c.x, q.y - c.y) < 2e-6));
        assert.ok(unmatched.length <= 1, `${unmatched.length} detections not in the CPU detector's`);
      }
      assert.equal(r.health.status, "degraded");
      assert.ok(r.health.reasons.some((m) => /runs on the CPU instead of WebGPU: the WebGPU device was lost/.test(m)), r.health.reasons.join("; "));
      assert.deepEqual(r.health.workers.map((w) => [w.backend, w.ok]), [["cpu", true]]);
    } finally {
      await ctx.close();
    }
  });
});
