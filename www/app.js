// geodetect demo: plain JS, no build step. Served by www/serve.sh at http://127.0.0.1:8080/
// with the package at /pkg/, tiles at /tiles/<name>/{z}/{x}/{y}.png and models at /models/.
import { Detector, GeodetectError } from "/pkg/index.js";

const MODEL_BASE_URL = new URL("/models/", location.href).href;

const PALETTE = ["#ff4d4d", "#4dd2ff", "#ffd24d", "#7dff4d", "#ff4dd2", "#4d7dff", "#ff9f4d", "#b84dff", "#4dffb8", "#ffffff", "#c0c0c0", "#ff8080", "#80ff80", "#8080ff", "#ffff80"];

const $ = (id) => document.getElementById(id);
const ui = {
  form: $("controls"), tileset: $("tileset"), zoom: $("zoom"), model: $("model"), backend: $("backend"),
  confidence: $("confidence"), iou: $("iou"), aoi: $("aoi"), aoiInfo: $("aoi-info"), tilesetInfo: $("tileset-info"),
  modelInfo: $("model-info"), run: $("run"), cancel: $("cancel"), download: $("download"), stage: $("stage"),
  progress: $("progress"), error: $("error"), warning: $("warning"), facts: $("facts"), counts: $("counts"),
  timings: $("timings"), canvas: $("canvas"), attribution: $("attribution"),
};

const state = {
  tileset: null, // parsed tileset.json (or null)
  detector: null,
  detectorKey: "",
  controller: null,
  result: null,
};
// For poking at from the devtools console.
window.demo = state;

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------

async function fetchJson(url) {
  const r = await fetch(url, { cache: "no-cache" });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

function tileTemplate(name) {
  return new URL(`/tiles/${encodeURIComponent(name)}/{z}/{x}/{y}.png`, location.href).href.replace(/%7B/g, "{").replace(/%7D/g, "}");
}

/** Global pixel [x, y] of a lon/lat at `zoom` (Web Mercator). */
function toPixel([lon, lat], zoom, tileSize) {
  const scale = tileSize * 2 ** zoom;
  const s = Math.sin((lat * Math.PI) / 180);
  return [((lon + 180) / 360) * scale, (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * scale];
}

function polygonsOf(g) {
  switch (g?.type) {
    case "Polygon": return [g.coordinates];
    case "MultiPolygon": return g.coordinates;
    case "Feature": return polygonsOf(g.geometry);
    case "FeatureCollection": return g.features.flatMap(polygonsOf);
    default: return [];
  }
}

function bboxPolygon([w, s, e, n]) {
  return { type: "Feature", properties: {}, geometry: { type: "Polygon", coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] } };
}

function setStage(text, fraction) {
  ui.stage.textContent = text;
  if (fraction === undefined) ui.progress.removeAttribute("value");
  else ui.progress.value = fraction;
}

function showError(e) {
  if (!e) {
    ui.error.hidden = true;
    ui.error.textContent = "";
    return;
  }
  const code = e instanceof GeodetectError ? e.code : e?.name ?? "Error";
  const hints = {
    MODEL_LOAD_FAILED: "Are the models in www/models/ (manifest.json + weights)?",
    UNKNOWN_MODEL: "Pick a model listed in /models/manifest.json.",
    WORKER_FAILED: "Is the wasm engine built (bash pkg/build.sh)? See the browser console.",
    BACKEND_UNAVAILABLE: "Try the CPU backend, or a browser with WebGPU.",
    ZOOM_OUT_OF_RANGE: "Pick a zoom the tile set has (see above).",
    TOO_MANY_TILES: "Lower the zoom or draw a smaller area.",
    UNSUPPORTED_BROWSER: "Use a browser with WebAssembly SIMD and module workers (Chrome/Edge 91+, Firefox 114+, Safari 16.4+).",
  };
  ui.error.hidden = false;
  ui.error.textContent = `${code}: ${e?.message ?? e}${hints[code] ? `\n${hints[code]}` : ""}`;
}

function fact(label, value) {
  const dt = document.createElement("dt");
  dt.textContent = label;
  const dd = document.createElement("dd");
  dd.textContent = value;
  ui.facts.append(dt, dd);
}

function fillTable(table, rows) {
  const body = table.tBodies[0];
  body.replaceChildren(...rows.map((cells) => {
    const tr = document.createElement("tr");
    for (const c of cells) {
      const td = document.createElement("td");
      if (c instanceof Node) td.append(c);
      else td.textContent = String(c);
      tr.append(td);
    }
    return tr;
  }));
  table.hidden = rows.length === 0;
}

// ---------------------------------------------------------------------------------------
// Tile set and AOI
// ---------------------------------------------------------------------------------------

async function loadTileset() {
  const name = ui.tileset.value.trim();
  state.tileset = null;
  ui.tilesetInfo.textContent = `Tiles from ${tileTemplate(name)}`;
  try {
    state.tileset = await fetchJson(`/tiles/${encodeURIComponent(name)}/tileset.json`);
    const t = state.tileset;
    ui.tilesetInfo.textContent = `${t.description ?? name} — zooms ${t.minZoom}–${t.maxZoom}, ${t.tileSize ?? 256} px tiles.`;
    ui.attribution.textContent = t.license ? `Imagery: ${t.license}` : "";
  } catch (e) {
    ui.tilesetInfo.textContent = `No tileset.json for "${name}" (${e.message}); generate tiles with bash tests/data/prepare.sh.`;
  }

  let aoi = null;
  let from = "";
  // The committed AOI for the set (tests/data/aoi/<name>.geojson, served at /aoi/), else
  // one next to the tiles, else the tile set's bounds.
  for (const url of [`/aoi/${encodeURIComponent(name)}.geojson`, `/tiles/${encodeURIComponent(name)}/aoi.geojson`]) {
    try {
      aoi = await fetchJson(url);
      from = url;
      break;
    } catch {
      // not served
    }
  }
  if (!aoi && state.tileset?.bounds) {
    aoi = bboxPolygon(state.tileset.bounds);
    from = "the tile set's bounds";
  }
  if (aoi) {
    ui.aoi.value = JSON.stringify(aoi, null, 1);
    ui.aoiInfo.textContent = `From ${from}. Edit it, or paste any GeoJSON Polygon/MultiPolygon/Feature.`;
    const zoom = aoi.properties?.zoom ?? state.tileset?.nativeZoom ?? state.tileset?.maxZoom;
    if (Number.isInteger(zoom)) ui.zoom.value = String(zoom);
  } else {
    ui.aoi.value = "";
    ui.aoiInfo.textContent = "No AOI known for this tile set: paste a GeoJSON polygon here.";
    ui.form.querySelector("details").open = true;
  }
  if (state.tileset) {
    ui.zoom.min = String(state.tileset.minZoom ?? 0);
    ui.zoom.max = String(state.tileset.maxZoom ?? 22);
  }
}

async function loadModels() {
  try {
    const models = await Detector.models({ modelBaseUrl: MODEL_BASE_URL });
    if (!models.length) return;
    const current = ui.model.value;
    ui.model.replaceChildren(...models.map((m) => new Option(`${m.name} (${m.id}, ${m.license})`, m.id)));
    if (models.some((m) => m.id === current)) ui.model.value = current;
  } catch (e) {
    ui.modelInfo.textContent = `Could not read ${MODEL_BASE_URL}manifest.json (${e.code ?? e.name}: ${e.message}).`;
  }
}

// ---------------------------------------------------------------------------------------
// Detection
// ---------------------------------------------------------------------------------------

function currentSource() {
  const t = state.tileset;
  const source = { url: tileTemplate(ui.tileset.value.trim()) };
  if (t?.tileSize) source.tileSize = t.tileSize;
  if (Number.isInteger(t?.minZoom)) source.minZoom = t.minZoom;
  if (Number.isInteger(t?.maxZoom)) source.maxZoom = t.maxZoom;
  // The imagery's licence is shown on the page (loadTileset), not passed to the engine.
  return source;
}

async function getDetector(signal) {
  const options = { source: currentSource(), model: ui.model.value, backend: ui.backend.value, modelBaseUrl: MODEL_BASE_URL };
  const key = JSON.stringify(options);
  if (state.detector && state.detectorKey === key && !state.detector.disposed) return state.detector;
  state.detector?.dispose();
  state.detector = null;
  setStage("Loading the engine and the model…");
  const t0 = performance.now();
  const detector = await Detector.create({
    ...options,
    signal,
    onProgress: (p) => setStage("Loading the model…", p.total > 0 ? p.done / p.total : undefined),
  });
  state.detector = detector;
  state.detectorKey = key;
  state.createMs = performance.now() - t0;
  return detector;
}

async function run(event) {
  event?.preventDefault();
  showError(null);
  ui.warning.hidden = true;
  let aoi;
  try {
    aoi = JSON.parse(ui.aoi.value);
  } catch (e) {
    showError(new Error(`the AOI is not valid JSON: ${e.message}`));
    return;
  }
  const controller = new AbortController();
  state.controller = controller;
  ui.run.disabled = true;
  ui.cancel.disabled = false;
  try {
    const detector = await getDetector(controller.signal);
    const zoom = Number(ui.zoom.value);
    setStage("Fetching tiles…", 0);
    const result = await detector.detect(aoi, {
      zoom,
      confidence: Number(ui.confidence.value),
      iou: Number(ui.iou.value),
      signal: controller.signal,
      onProgress: (p) => {
        const unit = p.stage === "fetch" ? " tiles" : p.stage === "inference" ? " windows" : "";
        const count = p.total > 0 ? ` ${p.done}/${p.total}${unit}` : "";
        const label = { fetch: "Fetching tiles", stitch: "Stitching", inference: "Running the model", postprocess: "Building GeoJSON", done: "Finishing" }[p.stage] ?? p.stage;
        setStage(`${label}${count}`, p.total > 0 ? p.done / p.total : undefined);
      },
    });
    state.result = result;
    setStage(`Done: ${result.detections.features.length} detections.`, 1);
    showResult(detector, result, aoi);
    await draw(result, aoi);
  } catch (e) {
    if (e?.code === "ABORTED") setStage("Cancelled.", 0);
    else {
      setStage("Failed.", 0);
      showError(e);
      console.error(e);
    }
  } finally {
    if (state.controller === controller) state.controller = null;
    ui.run.disabled = false;
    ui.cancel.disabled = true;
  }
}

function showResult(detector, result, aoi) {
  ui.facts.replaceChildren();
  const a = detector.info?.adapter;
  fact("backend", result.backend + (a ? ` — ${a.description || a.vendor || "adapter"}${a.isFallbackAdapter ? " (software fallback)" : ""}` : ""));
  fact("model", `${detector.info?.model?.name ?? ui.model.value}`);
  fact("raster", `${result.image.width} × ${result.image.height} px at zoom ${result.image.zoom}`);
  if (state.createMs) fact("engine + model load", `${state.createMs.toFixed(0)} ms${detector.info?.weightsFromCache ? " (weights from cache)" : ""}`);
  if (detector.info?.fallbackReason) fact("why not WebGPU", detector.info.fallbackReason);
  void aoi;

  const counts = new Map();
  for (const f of result.detections.features) counts.set(f.properties.class, (counts.get(f.properties.class) ?? 0) + 1);
  fillTable(ui.counts, [...counts.entries()].sort((x, y) => y[1] - x[1]).map(([cls, n]) => {
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    const id = result.detections.features.find((f) => f.properties.class === cls)?.properties.classId ?? 0;
    swatch.style.background = PALETTE[id % PALETTE.length];
    const label = document.createElement("span");
    label.append(swatch, ` ${cls}`);
    return [label, n];
  }));
  fillTable(ui.timings, Object.entries(result.timings).map(([k, v]) => [k, Number(v).toFixed(0)]));

  if (result.missingTiles.length) {
    ui.warning.hidden = false;
    ui.warning.textContent = `${result.missingTiles.length} tile(s) could not be loaded and were treated as empty, e.g. ` +
      result.missingTiles.slice(0, 3).map((m) => `${m.tile.z}/${m.tile.x}/${m.tile.y} (${m.reason})`).join(", ");
  }
  ui.download.disabled = false;
}

function loadImage(url) {
  return new Promise((resolve) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => resolve(null);
    img.src = url;
  });
}

/** Draw the stitched tiles, the AOI and the detections onto the canvas. */
async function draw(result, aoi) {
  const { width, height, zoom, tileSize, origin } = result.image;
  const canvas = ui.canvas;
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#222";
  ctx.fillRect(0, 0, width, height);

  // The tiles again (the browser has them cached): tile (x, y) sits at x*tileSize - origin.
  const [ox, oy] = origin;
  const x0 = Math.floor(ox / tileSize);
  const y0 = Math.floor(oy / tileSize);
  const x1 = Math.floor((ox + width - 1) / tileSize);
  const y1 = Math.floor((oy + height - 1) / tileSize);
  const template = tileTemplate(ui.tileset.value.trim());
  const jobs = [];
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const url = template.replace("{z}", zoom).replace("{x}", x).replace("{y}", y);
      jobs.push(loadImage(url).then((img) => img && ctx.drawImage(img, x * tileSize - ox, y * tileSize - oy)));
    }
  }
  await Promise.all(jobs);

  const toCanvas = (p) => {
    const [gx, gy] = toPixel(p, zoom, tileSize);
    return [gx - ox, gy - oy];
  };
  const trace = (ring) => {
    ring.forEach((p, i) => {
      const [x, y] = toCanvas(p);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.closePath();
  };

  // AOI outline.
  ctx.save();
  ctx.lineWidth = Math.max(2, width / 600);
  ctx.setLineDash([12, 8]);
  ctx.strokeStyle = "#ffe14d";
  ctx.beginPath();
  for (const poly of polygonsOf(aoi)) for (const ring of poly) trace(ring);
  ctx.stroke();
  ctx.restore();

  // Detections: rotated boxes with class and score.
  const fontPx = Math.max(11, Math.round(width / 140));
  ctx.font = `${fontPx}px system-ui, sans-serif`;
  ctx.textBaseline = "bottom";
  for (const f of result.detections.features) {
    const color = PALETTE[f.properties.classId % PALETTE.length];
    ctx.lineWidth = Math.max(1.5, width / 1000);
    ctx.strokeStyle = color;
    ctx.beginPath();
    trace(f.geometry.coordinates[0]);
    ctx.stroke();
    const top = f.geometry.coordinates[0].map(toCanvas).reduce((a, b) => (b[1] < a[1] ? b : a));
    const label = `${f.properties.class} ${(f.properties.score * 100).toFixed(0)}%`;
    const w = ctx.measureText(label).width;
    ctx.fillStyle = "rgba(0, 0, 0, 0.6)";
    ctx.fillRect(top[0] - 1, top[1] - fontPx - 3, w + 4, fontPx + 2);
    ctx.fillStyle = color;
    ctx.fillText(label, top[0] + 1, top[1] - 2);
  }
}

function cancel() {
  state.controller?.abort();
}

function download() {
  if (!state.result) return;
  const blob = new Blob([JSON.stringify(state.result.detections, null, 1)], { type: "application/geo+json" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `detections-${ui.tileset.value.trim()}-z${state.result.image.zoom}.geojson`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

// ---------------------------------------------------------------------------------------
// Start-up: ?tileset=marina&zoom=19&backend=cpu&model=... preset the form.
// ---------------------------------------------------------------------------------------

const params = new URLSearchParams(location.search);
if (params.get("tileset")) ui.tileset.value = params.get("tileset");
if (params.get("backend")) ui.backend.value = params.get("backend");
if (params.get("model")) {
  ui.model.append(new Option(params.get("model"), params.get("model")));
  ui.model.value = params.get("model");
}
ui.form.addEventListener("submit", run);
ui.cancel.addEventListener("click", cancel);
ui.download.addEventListener("click", download);
ui.tileset.addEventListener("change", () => loadTileset());

if (!("gpu" in navigator)) {
  ui.backend.querySelector('option[value="webgpu"]').disabled = true;
}
await loadTileset();
if (params.get("zoom")) ui.zoom.value = params.get("zoom");
loadModels();
if (params.has("run")) run();
