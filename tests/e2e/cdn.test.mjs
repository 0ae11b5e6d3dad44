// The CDN script tag: a page on one loopback origin loads pkg/dist/geodetect.global.js from a
// second one (as from jsDelivr or unpkg: CORS, Subresource Integrity, a CSP that names the
// CDN), and runs the same detection as the ESM entry on the page's own origin, with the same
// result. The worker, the engine and its wasm come from the CDN origin; the worker starts
// through the same-origin blob bootstrap (pkg/index.js, startWorker).
//
// Prerequisites: bash pkg/build.sh (engines + dist/geodetect.global.js), www/models, www/tiles.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO, launchBrowser, startStaticServer, validateDetections, withPage } from "./helpers.mjs";
import { MODEL } from "./setup.mjs";

const MINUTE = 60_000;
const AOI = JSON.parse(await readFile(join(REPO, "tests/data/aoi/marina.geojson"), "utf8"));
const GLOBAL = join(REPO, "pkg/dist/geodetect.global.js");

let browser;
let cdn;
let site;
let isolated;
let pageDir;

/** The page's CSP: what the README documents for the script tag, with the CDN's origin. */
const csp = (cdnOrigin) =>
  [
    "default-src 'self'",
    `script-src 'self' ${cdnOrigin} 'wasm-unsafe-eval'`,
    `worker-src 'self' blob: ${cdnOrigin}`,
    `connect-src 'self' ${cdnOrigin}`,
    "img-src 'self' data: blob:",
    "object-src 'none'",
    "base-uri 'none'",
  ].join("; ");

before(async () => {
  for (const f of [GLOBAL, `${GLOBAL}.sri`, join(REPO, "pkg/wasm-relaxed/geodetect_bg.wasm"), join(REPO, "www/models/manifest.json")]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: run tests/setup.sh (pkg/build.sh writes the engines and dist/)`);
  }
  // The "CDN": the package directory as npm publishes it, with CORS as jsDelivr sends it.
  cdn = await startStaticServer({
    mounts: { "/npm/geodetect/": join(REPO, "pkg") },
    headers: { "access-control-allow-origin": "*", "cross-origin-resource-policy": "cross-origin" },
  });
  pageDir = await mkdtemp(join(tmpdir(), "geodetect-cdn-"));
  const integrity = (await readFile(`${GLOBAL}.sri`, "utf8")).trim();
  await writeFile(
    join(pageDir, "index.html"),
    `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>loading</title>
  <link rel="icon" href="data:,">
  <script src="${cdn.url}/npm/geodetect/dist/geodetect.global.js" integrity="${integrity}" crossorigin="anonymous"></script>
  <script src="/page.js"></script>
</head>
<body></body>
</html>
`,
  );
  // A classic script too (no inline script: the CSP forbids it). It runs one detection with
  // the global build and one with the ESM entry of the page's own origin.
  await writeFile(
    join(pageDir, "page.js"),
    `window.violations = [];
document.addEventListener("securitypolicyviolation", (e) => window.violations.push(e.violatedDirective + " " + e.blockedURI));
async function run(api, params) {
  const detector = await api.Detector.create(params.detector);
  try {
    const result = await detector.detect(params.aoi, params.options);
    return { ok: true, backend: detector.backend, info: detector.info, result };
  } catch (e) {
    return { ok: false, error: { name: e.name, code: e.code, message: e.message, isGeodetectError: e instanceof api.GeodetectError } };
  } finally {
    detector.dispose();
  }
}
window.runBoth = async (params) => {
  const g = window.geodetect;
  const shape = g ? { keys: Object.keys(g).sort(), detector: typeof g.Detector, error: typeof g.GeodetectError, models: typeof g.Detector.models } : null;
  const viaScript = g ? await run(g, params) : { ok: false, error: { message: "window.geodetect is not defined" } };
  const esm = await import("/pkg/index.js");
  const viaEsm = await run(esm, params);
  return { shape, esmKeys: Object.keys(esm).sort(), viaScript, viaEsm, violations: window.violations };
};
document.title = "ready";
`,
  );
  // The page's origin: the page, the package for the ESM entry, tiles and weights; the CSP on
  // the HTML.
  const pageOrigin = {
    mounts: { "/": pageDir, "/pkg/": join(REPO, "pkg"), "/tiles/": join(REPO, "www/tiles"), "/models/": join(REPO, "www/models") },
    headersFor: (p) => (p === "/" || p.endsWith(".html") ? { "content-security-policy": csp(cdn.url) } : {}),
  };
  site = await startStaticServer(pageOrigin);
  // The same page, cross-origin isolated: the threaded engine and its pool workers come from
  // the CDN too (the CDN sends CORS and Cross-Origin-Resource-Policy, as jsDelivr does).
  isolated = await startStaticServer({
    ...pageOrigin,
    headers: { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" },
  });
  browser = await launchBrowser({ webgpu: false });
});

after(async () => {
  await browser?.close();
  await cdn?.close();
  await site?.close();
  await isolated?.close();
  if (pageDir) await rm(pageDir, { recursive: true, force: true });
});

describe("the CDN script tag", () => {
  test("from another origin, with SRI and a strict CSP, it detects exactly what the ESM entry detects", { timeout: 10 * MINUTE }, async (t) => {
    const ctx = await browser.newContext();
    try {
      await withPage(t, ctx, async (page, watch) => {
        const errors = [];
        page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
        page.on("pageerror", (e) => errors.push(String(e)));
        await page.goto(`${site.url}/`);
        await page.waitForFunction(() => document.title === "ready", null, { timeout: 30_000 });
        const params = {
          detector: {
            source: { url: `${site.url}/tiles/marina/{z}/{x}/{y}.png`, tileSize: 256, maxZoom: 21 },
            model: MODEL,
            backend: "cpu",
            modelBaseUrl: "/models/",
          },
          aoi: AOI,
          options: { zoom: 19, confidence: 0.25, iou: 0.45 },
        };
        const out = await page.evaluate((p) => window.runBoth(p), params);
        t.diagnostic(`global API: ${JSON.stringify(out.shape)}; ESM exports: ${out.esmKeys.join(", ")}`);
        assert.ok(out.shape, "window.geodetect is defined");
        assert.deepEqual(out.shape.keys, out.esmKeys, "window.geodetect has exactly the ESM entry's exports");
        assert.equal(out.shape.detector, "function");
        assert.equal(out.shape.models, "function");
        assert.ok(out.viaScript.ok, `script tag: ${JSON.stringify(out.viaScript.error)}\n${watch.text()}`);
        assert.ok(out.viaEsm.ok, `ESM: ${JSON.stringify(out.viaEsm.error)}`);
        const a = out.viaScript.result;
        const b = out.viaEsm.result;
        validateDetections(a.detections);
        assert.ok(a.detections.features.length > 0, "the marina AOI has detections");
        assert.deepEqual(a.detections, b.detections, "the same FeatureCollection from both entries");
        assert.deepEqual(a.image, b.image);
        // The same engine and model (loadMs and weightsFromCache differ: the second load
        // reads the weights from the Cache API).
        const same = ({ backend, model, threads }) => ({ backend, model, threads });
        assert.deepEqual(same(out.viaScript.info), same(out.viaEsm.info));
        t.diagnostic(`${a.detections.features.length} detections from both; script tag ${a.timings.total.toFixed(0)} ms, ESM ${b.timings.total.toFixed(0)} ms`);

        // The script tag's worker, engine and wasm came from the CDN origin, the ESM entry's
        // from the page's; the weights and tiles from the page's origin both times. (Chromium
        // has relaxed SIMD: the relaxed build of the engine.)
        for (const f of ["/npm/geodetect/dist/geodetect.global.js", "/npm/geodetect/worker.js", "/npm/geodetect/wasm-relaxed/geodetect.js", "/npm/geodetect/wasm-relaxed/geodetect_bg.wasm"]) {
          assert.ok(cdn.requests.includes(f), `${f} was fetched from the CDN origin (it served: ${[...new Set(cdn.requests)].join(", ")})`);
        }
        assert.ok(!cdn.requests.some((p) => p.includes("/models/") || p.includes("/tiles/")), "no weights or tiles from the CDN");
        assert.ok(site.requests.includes("/pkg/worker.js"), "the ESM entry used the page origin's worker");
        assert.deepEqual(out.violations, [], "no CSP violation");
        assert.deepEqual(errors, [], "no console error");
      });
    } finally {
      await ctx.close();
    }
  });

  test("in a cross-origin-isolated page, the threaded engine and its pool come from the CDN too", { timeout: 10 * MINUTE }, async (t) => {
    const ctx = await browser.newContext();
    try {
      await withPage(t, ctx, async (page) => {
        const errors = [];
        page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
        page.on("pageerror", (e) => errors.push(String(e)));
        const before = cdn.requests.length;
        await page.goto(`${isolated.url}/`);
        await page.waitForFunction(() => document.title === "ready", null, { timeout: 30_000 });
        assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), true);
        const out = await page.evaluate((p) => window.runBoth(p), {
          detector: {
            source: { url: `${isolated.url}/tiles/marina/{z}/{x}/{y}.png`, tileSize: 256, maxZoom: 21 },
            model: MODEL,
            backend: "cpu",
            threads: 2,
            modelBaseUrl: "/models/",
          },
          aoi: AOI,
          options: { zoom: 19, confidence: 0.25, iou: 0.45 },
        });
        assert.ok(out.viaScript.ok, `script tag: ${JSON.stringify(out.viaScript.error)}`);
        assert.ok(out.viaEsm.ok, `ESM: ${JSON.stringify(out.viaEsm.error)}`);
        assert.equal(out.viaScript.info.threads, 2, `script tag: ${out.viaScript.info.threadsNote}`);
        assert.equal(out.viaEsm.info.threads, 2);
        assert.ok(out.viaScript.result.detections.features.length > 0);
        assert.deepEqual(out.viaScript.result.detections, out.viaEsm.result.detections);
        const fromCdn = cdn.requests.slice(before);
        for (const f of ["/npm/geodetect/wasm-threads-relaxed/geodetect.js", "/npm/geodetect/wasm-threads-relaxed/geodetect_bg.wasm"]) {
          assert.ok(fromCdn.includes(f), `${f} from the CDN (it served: ${[...new Set(fromCdn)].join(", ")})`);
        }
        assert.ok(fromCdn.some((p) => p.endsWith("workerHelpers.no-bundler.js")), "the pool's worker helper from the CDN");
        t.diagnostic(`${out.viaScript.result.detections.features.length} detections on 2 threads from both entries`);
        assert.deepEqual(out.violations, [], "no CSP violation");
        assert.deepEqual(errors, [], "no console error");
      });
    } finally {
      await ctx.close();
    }
  });

  test("a tampered script is refused by its integrity hash", { timeout: MINUTE }, async (t) => {
    const ctx = await browser.newContext();
    try {
      await withPage(t, ctx, async (page) => {
        // Same page, but the CDN answers the script with one byte changed.
        await page.route("**/npm/geodetect/dist/geodetect.global.js", async (route) => {
          const body = await readFile(GLOBAL);
          body[body.length - 2] ^= 0x20;
          await route.fulfill({ status: 200, body, headers: { "content-type": "text/javascript", "access-control-allow-origin": "*" } });
        });
        await page.goto(`${site.url}/`);
        await page.waitForFunction(() => document.title === "ready", null, { timeout: 30_000 });
        assert.equal(await page.evaluate(() => typeof window.geodetect), "undefined");
      });
    } finally {
      await ctx.close();
    }
  });

  test("the README's script tag carries the integrity hash of this build", async () => {
    const readme = await readFile(join(REPO, "README.md"), "utf8");
    const integrity = (await readFile(`${GLOBAL}.sri`, "utf8")).trim();
    const tag = readme.match(/<script src="https:\/\/cdn\.jsdelivr\.net\/npm\/geodetect@[^"]+\/dist\/geodetect\.global\.js"\s+integrity="([^"]+)"\s+crossorigin="anonymous"><\/script>/);
    assert.ok(tag, "README.md shows the jsDelivr script tag with integrity and crossorigin");
    assert.equal(tag[1], integrity, "README.md's integrity is what pkg/build-global.mjs printed (rebuild, then update the README)");
  });
});
