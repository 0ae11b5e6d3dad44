// The map demo (www/index.html: www/app.js with MapLibre GL and terra-draw, bundled by
// www/build.mjs into www/dist/demo/) in headless Chromium, through the dev server
// (www/serve.sh), as a user drives it: pick the marina, draw a polygon with mouse clicks in
// terra-draw's polygon mode, detect on the CPU, then check that the map's detections source,
// the table and the result hold the same detections, inside the drawn polygon; that the
// backend and the stage timings are shown; that a table row flies the map to its detection;
// and that the download is the result. Screenshot: tests/out/demo.png. A second test
// cancels a run.
//
//   www/serve.sh start && cd tests/e2e && node --test --test-reporter=spec demo.test.mjs
//
// Needs what e2e.test.mjs needs (tiles, models, pkg/wasm*: tests/setup.sh) and the demo's
// bundle (tests/setup.sh, or: npm ci --prefix www && node www/build.mjs).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { REPO, centreOf, launchBrowser, lonLatToPixel, pixelToLonLat, pointInArea, validateDetections, withPage } from "./helpers.mjs";
import { environment } from "./setup.mjs";

const MINUTE = 60_000;
const ZOOM = 19;
const TILESET = JSON.parse(await readFile(join(REPO, "www/tiles/marina/tileset.json"), "utf8"));
/**
 * The polygon the test draws, as pixels of the marina photo (its top-left corner is
 * TILESET.originGlobalPx at zoom 19): the middle pier and its two rows of boats, about
 * 450 × 490 px, so one model window.
 */
const DRAWN_PX = [[880, 130], [1300, 110], [1330, 560], [900, 600]];

let browser;

before(async () => {
  browser = await launchBrowser({ webgpu: true });
});

after(async () => {
  await browser?.close();
});

/** The page's console errors and uncaught errors, gathered while `fn` runs. */
async function openDemo(t, context, fn) {
  const env = await environment();
  if (!existsSync(join(REPO, "www/dist/demo/app.js"))) {
    throw new Error("www/dist/demo/app.js is missing: bundle the demo with `npm ci --prefix www && node www/build.mjs` (tests/setup.sh does)");
  }
  return withPage(t, context, async (page, watch) => {
    const errors = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
    await page.goto(`${env.base}/`);
    await page.waitForFunction(() => window.demo?.ready === true, null, { timeout: MINUTE });
    const out = await fn(page, watch);
    return { ...out, errors };
  });
}

/** Select the source `id` and wait until its imagery, zooms and sample area are on the map. */
async function pickSource(page, id) {
  await page.selectOption("#source", id);
  await page.waitForFunction((want) => {
    const d = window.demo;
    return d.source?.id === want && d.meta !== null && !document.querySelector("#run").disabled && d.currentArea() !== null;
  }, id);
  await page.evaluate(() => window.demo.idle());
}

/** Wait for the end of a run; returns the stage line. */
async function waitForRun(page, timeout = 5 * MINUTE) {
  await page.waitForFunction(() => /^(Done|Failed|Cancelled)/.test(document.querySelector("#stage").textContent), null, { timeout });
  return page.textContent("#stage");
}

test("draw a polygon on the marina, detect on the CPU: map, table and result agree", { timeout: 10 * MINUTE }, async (t) => {
  const t0 = Date.now();
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
  try {
    const out = await openDemo(t, context, async (page) => {
      // Another source first, so that picking the marina really switches.
      await pickSource(page, "osbs");
      await pickSource(page, "marina");
      assert.equal(await page.inputValue("#zoom"), String(TILESET.nativeZoom), "the zoom suggested is the tile set's native zoom");
      // A model trained at a known ground resolution suggests its own zoom: the vehicles
      // model's 0.6 m is nearest the marina's zoom 18 (0.43 m); the default model has none.
      await page.selectOption("#model", "yolo11n-obb-vehicles");
      assert.equal(await page.inputValue("#zoom"), "18", "the zoom suggested for the vehicles model");
      assert.match(await page.textContent("#model-info"), /0\.6 m imagery: zoom 18/);
      await page.selectOption("#model", "yolov8n-obb-dota");
      await page.fill("#zoom", String(TILESET.nativeZoom));
      await page.selectOption("#backend", "cpu");

      // Draw: one click per corner in polygon mode, then a click on the first corner closes it.
      const { x: ox, y: oy } = TILESET.originGlobalPx;
      const wanted = DRAWN_PX.map(([x, y]) => pixelToLonLat([ox + x, oy + y], ZOOM));
      const clicks = await page.evaluate((lonLats) => {
        const map = window.demo.map;
        const r = map.getCanvas().getBoundingClientRect();
        return lonLats.map((p) => {
          const q = map.project(p);
          return [r.left + q.x, r.top + q.y];
        });
      }, wanted);
      await page.click("#draw");
      assert.equal(await page.evaluate(() => window.demo.draw.getMode()), "polygon");
      for (const [x, y] of [...clicks, clicks[0]]) {
        await page.mouse.move(x, y, { steps: 3 });
        await page.mouse.click(x, y);
        await page.waitForTimeout(120);
      }
      await page.waitForFunction(() => window.demo.draw.getMode() === "select", null, { timeout: 10_000 });
      const drawn = await page.evaluate(() => window.demo.currentArea());
      const aoiInfo = await page.textContent("#aoi-info");

      await page.click("#run");
      const stage = await waitForRun(page);
      await page.evaluate(() => window.demo.idle());
      await mkdir(join(REPO, "tests/out"), { recursive: true });
      await page.screenshot({ path: join(REPO, "tests/out/demo.png") });

      const shown = await page.evaluate(async () => {
        const d = window.demo;
        const cells = (sel) => [...document.querySelectorAll(sel)].map((tr) => [...tr.cells].map((c) => c.textContent.trim()));
        return {
          result: d.result,
          run: d.run,
          error: document.querySelector("#error").textContent,
          source: await d.map.getSource("detections").getData(),
          rendered: d.map.queryRenderedFeatures({ layers: ["detections-fill"] }).length,
          rows: cells("#detections tbody tr"),
          caption: document.querySelector("#detections-caption").textContent,
          facts: Object.fromEntries([...document.querySelectorAll("#facts dt")].map((dt) => [dt.textContent, dt.nextElementSibling.textContent])),
          timings: cells("#timings tbody tr"),
          timingsHidden: document.querySelector("#timings").hidden,
          attributionControl: document.querySelector(".maplibregl-ctrl-attrib")?.textContent ?? "",
        };
      });

      // A table row flies the map to its detection and highlights it.
      await page.click('#detections tbody tr[data-index="0"]');
      await page.waitForFunction(() => !window.demo.map.isMoving(), null, { timeout: 10_000 });
      const flown = await page.evaluate(() => ({
        center: window.demo.map.getCenter().toArray(),
        selected: window.demo.map.getFeatureState({ source: "detections", id: 0 }).selected === true,
        rowSelected: document.querySelector('#detections tbody tr[data-index="0"]').classList.contains("selected"),
      }));

      // The download is the result's FeatureCollection.
      const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
      const downloaded = JSON.parse(await readFile(await download.path(), "utf8"));

      return { wanted, drawn, aoiInfo, stage, shown, flown, downloaded, downloadName: download.suggestedFilename() };
    });
    const { wanted, drawn, stage, shown, flown, downloaded } = out;
    t.diagnostic(`${stage} ${shown.caption}; backend ${shown.facts.backend}; timings ${JSON.stringify(shown.result?.timings)}`);
    t.diagnostic(`drawn: ${JSON.stringify(drawn.geometry.coordinates)}; ${out.aoiInfo}`);

    // The drawn polygon is the one clicked: 4 corners, each within 2 screen px (the map shows
    // the photo at about 0.43 screen px per zoom-19 px) of where the test clicked.
    assert.equal(drawn.geometry.type, "Polygon");
    const ring = drawn.geometry.coordinates[0];
    assert.equal(ring.length, 5, `4 corners and the closing position: ${JSON.stringify(ring)}`);
    assert.deepEqual(ring[0], ring[4], "closed");
    for (const w of wanted) {
      const [wx, wy] = lonLatToPixel(w, ZOOM);
      const d = Math.min(...ring.map((p) => Math.hypot(lonLatToPixel(p, ZOOM)[0] - wx, lonLatToPixel(p, ZOOM)[1] - wy)));
      assert.ok(d < 5, `a drawn corner within 5 zoom-19 px of ${w} (closest: ${d.toFixed(2)} px)`);
    }

    // The run: on the drawn polygon, on the CPU, with detections.
    assert.match(stage, /^Done: \d+ detections/, shown.error);
    const result = shown.result;
    const n = result.detections.features.length;
    assert.equal(stage, `Done: ${n} detections.`);
    assert.ok(n > 0, "detections in the drawn polygon");
    assert.deepEqual(validateDetections(result.detections), []);
    assert.deepEqual(shown.run.area.geometry, drawn.geometry, "the run's area is the drawn polygon");
    assert.equal(shown.run.zoom, ZOOM);
    assert.equal(result.image.zoom, ZOOM);
    assert.equal(result.backend, "cpu");
    for (const f of result.detections.features) {
      assert.ok(pointInArea(centreOf(f), drawn), `${f.properties.class} at ${centreOf(f)} is inside the drawn polygon`);
    }

    // The map's detections source holds exactly the result, and the layer draws them.
    assert.equal(shown.source.type, "FeatureCollection");
    assert.equal(shown.source.features.length, n, "features in the detections source");
    shown.source.features.forEach((f, i) => {
      assert.deepEqual(f.geometry, result.detections.features[i].geometry, `source feature ${i}: geometry`);
      assert.deepEqual(f.properties, result.detections.features[i].properties, `source feature ${i}: properties`);
    });
    assert.ok(shown.rendered > 0, "the detections layer renders features");

    // The table: one row per detection, in order: class, confidence, centre.
    assert.equal(shown.rows.length, n, "table rows");
    assert.match(shown.caption, new RegExp(`^${n} detections`));
    shown.rows.forEach((row, i) => {
      const f = result.detections.features[i];
      const [lon, lat] = centreOf(f);
      assert.deepEqual(row, [String(i + 1), f.properties.class, `${(f.properties.score * 100).toFixed(1)} %`, lon.toFixed(7), lat.toFixed(7)], `row ${i + 1}`);
    });

    // What ran and how long each stage took.
    assert.match(shown.facts.backend ?? "", /^cpu\b/, "the backend shown");
    assert.equal(shown.timingsHidden, false);
    assert.deepEqual(shown.timings.map(([stage]) => stage), Object.keys(result.timings));
    for (const [stage, ms] of shown.timings) assert.equal(ms, Number(result.timings[stage]).toFixed(0), `timing ${stage}`);
    assert.ok(result.timings.inference > 0 && result.timings.total > 0);
    assert.match(shown.facts.imagery ?? "", /sahi/, "the result's attribution is shown");
    assert.equal(shown.facts.imagery, result.attribution);
    assert.match(shown.attributionControl, /sahi/, "the map's attribution control credits the imagery");

    // The row click.
    const [clon, clat] = centreOf(result.detections.features[0]);
    assert.ok(Math.abs(flown.center[0] - clon) < 1e-6 && Math.abs(flown.center[1] - clat) < 1e-6, `flew to detection 1 (${flown.center} vs ${[clon, clat]})`);
    assert.ok(flown.selected && flown.rowSelected, "detection 1 highlighted on the map and in the table");

    // The download.
    assert.match(out.downloadName, /^detections-marina-z19\.geojson$/);
    assert.deepEqual(downloaded, result.detections);

    assert.deepEqual(out.errors, [], "console errors and page errors");
    t.diagnostic(`the test took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    await context.close();
  }
});

test("Cancel stops a run: no result, the page usable again", { timeout: 5 * MINUTE }, async (t) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  try {
    const out = await openDemo(t, context, async (page) => {
      await page.selectOption("#backend", "cpu");
      // The whole photo: several model windows, time enough to cancel once the model runs.
      await page.click("#use-bounds");
      await page.click("#run");
      await page.waitForFunction(() => /^(Fetching tiles|Stitching|Running the model)/.test(document.querySelector("#stage").textContent), null, { timeout: 2 * MINUTE });
      const during = await page.evaluate(() => ({ cancel: document.querySelector("#cancel").disabled, run: document.querySelector("#run").disabled }));
      await page.click("#cancel");
      const stage = await waitForRun(page, MINUTE);
      return {
        during,
        stage,
        after: await page.evaluate(async () => ({
          result: window.demo.result,
          features: (await window.demo.map.getSource("detections").getData()).features.length,
          error: document.querySelector("#error").hidden,
          run: document.querySelector("#run").disabled,
          cancel: document.querySelector("#cancel").disabled,
        })),
      };
    });
    assert.deepEqual(out.during, { cancel: false, run: true }, "while running: Cancel enabled, Detect disabled");
    assert.equal(out.stage, "Cancelled.");
    assert.deepEqual(out.after, { result: null, features: 0, error: true, run: false, cancel: true });
    assert.deepEqual(out.errors, []);
  } finally {
    await context.close();
  }
});
