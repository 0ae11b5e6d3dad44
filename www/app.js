// geodetect map demo: MapLibre GL shows the imagery, terra-draw draws and edits the area,
// geodetect detects in it, and the detections come back onto the map and into a table.
//
// Bundled by www/build.mjs (esbuild) into www/dist/demo/ with MapLibre GL, terra-draw and
// pmtiles; tests/setup.sh runs it. geodetect itself is not bundled: it is imported from /pkg/
// as it is, where its worker and engines sit next to its index.js. The imagery sources are
// the table in sources.js. Served by www/serve.sh (www/demo.sh) at http://127.0.0.1:8080/;
// the production site (www/deploy/build-site.mjs) ships the same bundle under strict CSP.
//
// URL parameters preset the form: ?source=osbs&zoom=21&backend=cpu&model=...&confidence=0.3
import "maplibre-gl/dist/maplibre-gl.css";
import "./style.css";
import { AttributionControl, Map as MapLibreMap, NavigationControl, ScaleControl, addProtocol, setWorkerUrl } from "maplibre-gl";
import { Protocol as PMTilesProtocol } from "pmtiles";
import { TerraDraw, TerraDrawPolygonMode, TerraDrawSelectMode } from "terra-draw";
import { TerraDrawMapLibreGLAdapter } from "terra-draw-maplibre-gl-adapter";
import { Detector, GeodetectError } from "/pkg/index.js";
import { SOURCES } from "./sources.js";

const MODEL_BASE_URL = new URL("/models/", location.href).href;
// MapLibre's module worker, copied next to this bundle by build.mjs (the site builder gives it
// a hashed name and rewrites this string).
const MAPLIBRE_WORKER = "./maplibre-gl-worker.mjs";

/** Per-class colours, by classId. */
const PALETTE = ["#ff4d4d", "#4dd2ff", "#ffd24d", "#7dff4d", "#ff4dd2", "#4d7dff", "#ff9f4d", "#b84dff", "#4dffb8", "#ffffff", "#c0c0c0", "#ff8080", "#80ff80", "#8080ff", "#ffff80"];
const classColor = (classId) => PALETTE[classId % PALETTE.length];
/** The same as a MapLibre expression over a detection's properties. */
const CLASS_COLOR = ["match", ["%", ["get", "classId"], PALETTE.length], ...PALETTE.flatMap((c, i) => [i, c]), "#ffffff"];
const AOI_COLOR = "#ffe14d";
const EMPTY = { type: "FeatureCollection", features: [] };
/** Rows the detections table shows at most (the map and the download have them all). */
const MAX_ROWS = 2000;
/** terra-draw keeps coordinates to this many decimals (its default). */
const PRECISION = 9;

const STAGE_LABELS = {
  model: "Loading the model",
  fetch: "Fetching tiles",
  stitch: "Stitching",
  inference: "Running the model",
  postprocess: "Building GeoJSON",
  done: "Finishing",
};
const STAGE_UNITS = { fetch: "tiles", stitch: "tiles", inference: "windows" };

const HINTS = {
  MODEL_LOAD_FAILED: "Are the models in www/models/ (manifest.json + weights)? tests/setup.sh puts them there.",
  UNKNOWN_MODEL: "Pick a model listed in /models/manifest.json.",
  WORKER_FAILED: "Is the wasm engine built (bash pkg/build.sh)? See the browser console.",
  BACKEND_UNAVAILABLE: "This browser offers no WebGPU adapter: pick the CPU backend.",
  ZOOM_OUT_OF_RANGE: "Pick a zoom the imagery has (see the hint under the source).",
  TOO_MANY_TILES: "Lower the zoom or draw a smaller area.",
  INVALID_POLYGON: "Redraw the area: a simple polygon, not crossing itself.",
  TILE_FETCH_FAILED: "No tile of the area could be loaded: is the area on the imagery, and the zoom one it has?",
  UNSUPPORTED_BROWSER: "Use a browser with WebAssembly SIMD and module workers (Chrome/Edge 91+, Firefox 114+, Safari 16.4+).",
};

const $ = (id) => document.getElementById(id);
const ui = {
  form: $("controls"), source: $("source"), sourceInfo: $("source-info"), draw: $("draw"), edit: $("edit"), clear: $("clear"),
  useSample: $("use-sample"), useBounds: $("use-bounds"), aoiInfo: $("aoi-info"), model: $("model"), modelInfo: $("model-info"),
  zoom: $("zoom"), backend: $("backend"), confidence: $("confidence"), iou: $("iou"), run: $("run"), cancel: $("cancel"),
  download: $("download"), stage: $("stage"), progress: $("progress"), error: $("error"), warning: $("warning"), facts: $("facts"),
  timings: $("timings"), results: $("results"), detections: $("detections"), detectionsCaption: $("detections-caption"),
};

/** Everything the page knows; window.demo for the devtools console and the tests. */
const demo = {
  ready: false,
  map: null,
  draw: null,
  /** The SOURCES entry shown, and what its tileset.json (or the map source) says about it. */
  source: null,
  meta: null,
  /** The models of the manifest. */
  models: [],
  detector: null,
  detectorKey: "",
  controller: null,
  /** The last result, and the area and options it was run with. */
  result: null,
  run: null,
  selected: -1,
  /** sources.js's table. */
  sources: SOURCES,
};
window.demo = demo;

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------

async function fetchJson(url) {
  const r = await fetch(url, { cache: "no-cache" });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const round = (v) => Number(v.toFixed(PRECISION));

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
  const code = e instanceof GeodetectError ? e.code : e?.code ?? e?.name ?? "Error";
  const hint = HINTS[code];
  ui.error.hidden = false;
  ui.error.textContent = `${code}: ${e?.message ?? e}${hint ? `\n${hint}` : ""}`;
}

function fact(label, value) {
  const dt = document.createElement("dt");
  dt.textContent = label;
  const dd = document.createElement("dd");
  dd.textContent = value;
  ui.facts.append(dt, dd);
}

/** Global pixel [x, y] of a lon/lat at `zoom` (Web Mercator, `tileSize` px tiles). */
function toPixel([lon, lat], zoom, tileSize = 256) {
  const scale = tileSize * 2 ** zoom;
  const s = Math.sin((lat * Math.PI) / 180);
  return [((lon + 180) / 360) * scale, (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * scale];
}

/** The polygons (arrays of rings) of any GeoJSON area. */
function polygonsOf(g) {
  switch (g?.type) {
    case "Polygon": return [g.coordinates];
    case "MultiPolygon": return g.coordinates;
    case "Feature": return polygonsOf(g.geometry);
    case "FeatureCollection": return g.features.flatMap(polygonsOf);
    default: return [];
  }
}

/** Centre (mean of the distinct corners) of a detection's ring. */
function centreOf(feature) {
  const ring = feature.geometry.coordinates[0];
  const n = ring.length > 1 && ring[0][0] === ring.at(-1)[0] && ring[0][1] === ring.at(-1)[1] ? ring.length - 1 : ring.length;
  let x = 0;
  let y = 0;
  for (let i = 0; i < n; i++) {
    x += ring[i][0];
    y += ring[i][1];
  }
  return [x / n, y / n];
}

// ---------------------------------------------------------------------------------------
// The map
// ---------------------------------------------------------------------------------------

setWorkerUrl(new URL(MAPLIBRE_WORKER, import.meta.url).href);
// pmtiles://<url> sources (see sources.js): MapLibre reads the archive with range requests.
const pmtiles = new PMTilesProtocol({ metadata: true });
addProtocol("pmtiles", pmtiles.tile);

function createMap() {
  const map = new MapLibreMap({
    container: "map",
    // No glyphs, sprites or remote sources: everything comes from this origin.
    style: {
      version: 8,
      sources: { detections: { type: "geojson", data: EMPTY, generateId: true } },
      layers: [
        { id: "background", type: "background", paint: { "background-color": "#20252b" } },
        {
          id: "detections-fill",
          type: "fill",
          source: "detections",
          paint: {
            "fill-color": CLASS_COLOR,
            "fill-opacity": ["case", ["boolean", ["feature-state", "selected"], false], 0.55, 0.2],
          },
        },
        {
          id: "detections-line",
          type: "line",
          source: "detections",
          paint: {
            "line-color": CLASS_COLOR,
            "line-width": ["case", ["boolean", ["feature-state", "selected"], false], 3.5, 1.5],
          },
        },
      ],
    },
    center: [0, 20],
    zoom: 1,
    maxZoom: 23,
    attributionControl: false,
    dragRotate: false,
    pitchWithRotate: false,
    touchPitch: false,
  });
  map.touchZoomRotate.disableRotation();
  map.addControl(new NavigationControl({ showCompass: false }), "top-right");
  map.addControl(new ScaleControl({ unit: "metric" }), "bottom-left");
  map.addControl(new AttributionControl({ compact: false }), "bottom-right");
  map.on("click", "detections-fill", (e) => {
    const id = e.features?.[0]?.id;
    if (typeof id === "number") selectDetection(id, { fly: false, scroll: true });
  });
  map.on("mouseenter", "detections-fill", () => map.getCanvasContainer().classList.add("over-detection"));
  map.on("mouseleave", "detections-fill", () => map.getCanvasContainer().classList.remove("over-detection"));
  return map;
}

/** Resolves when the map has finished loading and moving (tiles drawn). */
function idle() {
  const map = demo.map;
  return new Promise((resolve) => {
    if (map.loaded() && !map.isMoving()) resolve();
    else map.once("idle", () => resolve());
  });
}
demo.idle = idle;

/** Resolves with the imagery source once it has its metadata (TileJSON, PMTiles header). */
function imageryLoaded() {
  const map = demo.map;
  return new Promise((resolve, reject) => {
    const done = () => {
      map.off("sourcedata", onData);
      map.off("error", onError);
    };
    const onData = (e) => {
      if (e.sourceId === "imagery" && map.getSource("imagery")?.loaded()) {
        done();
        resolve(map.getSource("imagery"));
      }
    };
    const onError = (e) => {
      if (e.sourceId === "imagery") {
        done();
        reject(e.error ?? new Error("the imagery could not be loaded"));
      }
    };
    map.on("sourcedata", onData);
    map.on("error", onError);
    onData({ sourceId: "imagery" });
  });
}

/** What the demo needs to know about an imagery source: bounds, zooms, attribution. */
async function sourceMeta(entry) {
  if (!entry.tileset) return null;
  const t = await fetchJson(entry.tileset);
  const credit = t.attribution ?? (t.license ? `Imagery: ${t.license}` : null);
  return {
    bounds: t.bounds,
    minZoom: t.minZoom ?? 0,
    maxZoom: t.maxZoom ?? 22,
    nativeZoom: t.nativeZoom ?? t.maxZoom ?? 19,
    tileSize: t.tileSize ?? 256,
    attribution: credit,
    description: t.description ?? "",
    fromTileset: true,
  };
}

/** The MapLibre source specification of `entry`, completed from its tileset.json. */
function mapSpec(entry, meta) {
  const spec = { ...entry.map };
  if (meta) {
    spec.bounds ??= meta.bounds;
    spec.minzoom ??= meta.minZoom;
    spec.maxzoom ??= meta.maxZoom;
    spec.tileSize ??= meta.tileSize;
    // The attribution control inserts it as HTML.
    if (meta.attribution) spec.attribution ??= escapeHtml(meta.attribution);
  }
  return spec;
}

/** The geodetect `source` option of `entry`, completed from its tileset.json. */
function detectSource(entry, meta) {
  const source = { ...entry.source };
  if (meta?.fromTileset && source.url) {
    // A URL template says nothing about the zooms it serves; tileset.json does.
    source.tileSize ??= meta.tileSize;
    source.minZoom ??= meta.minZoom;
    source.maxZoom ??= meta.maxZoom;
  }
  if (meta?.attribution) source.attribution ??= meta.attribution;
  return source;
}

function setImagery(spec) {
  const map = demo.map;
  if (map.getLayer("imagery")) map.removeLayer("imagery");
  if (map.getSource("imagery")) map.removeSource("imagery");
  map.addSource("imagery", spec);
  map.addLayer({ id: "imagery", type: "raster", source: "imagery", paint: { "raster-fade-duration": 0 } }, "detections-fill");
}

let sourceToken = 0;

/** Show the source `id`, fit the map to it and start with its sample area (or its bounds). */
async function selectSource(id) {
  const entry = SOURCES.find((s) => s.id === id) ?? SOURCES[0];
  const token = ++sourceToken;
  ui.source.value = entry.id;
  demo.source = entry;
  demo.meta = null;
  clearResult();
  showError(null);
  ui.sourceInfo.textContent = "Loading…";
  try {
    let meta = await sourceMeta(entry);
    if (token !== sourceToken) return;
    setImagery(mapSpec(entry, meta));
    if (!meta) {
      // No tileset.json: what the source itself says (TileJSON or PMTiles header).
      const src = await imageryLoaded();
      if (token !== sourceToken) return;
      meta = {
        bounds: src.bounds ?? [-180, -85.0511, 180, 85.0511],
        minZoom: src.minzoom ?? 0,
        maxZoom: src.maxzoom ?? 22,
        nativeZoom: src.maxzoom ?? 19,
        tileSize: src.tileSize ?? 256,
        attribution: src.attribution ? new DOMParser().parseFromString(src.attribution, "text/html").body.textContent : null,
        description: "",
        fromTileset: false,
      };
    }
    demo.meta = meta;
    demo.map.fitBounds(meta.bounds, { padding: 30, animate: false });
    ui.zoom.min = String(meta.minZoom);
    ui.zoom.max = String(meta.maxZoom);
    ui.zoom.value = String(meta.nativeZoom);
    ui.sourceInfo.textContent = `Zooms ${meta.minZoom}–${meta.maxZoom}; native zoom ${meta.nativeZoom} (suggested).`;
    describeModel(); // a model trained at a known resolution suggests its own zoom
    ui.sourceInfo.title = meta.description;
    ui.useSample.disabled = !entry.aoi;
    if (entry.aoi) await useSampleArea();
    else useBounds();
  } catch (e) {
    if (token !== sourceToken) return;
    ui.sourceInfo.textContent = `Could not load ${entry.name}.`;
    showError(e);
  }
  updateButtons();
}

// ---------------------------------------------------------------------------------------
// The area of interest (terra-draw)
// ---------------------------------------------------------------------------------------

function createDraw(map) {
  const draw = new TerraDraw({
    adapter: new TerraDrawMapLibreGLAdapter({ map }),
    modes: [
      new TerraDrawPolygonMode({
        styles: {
          fillColor: AOI_COLOR, fillOpacity: 0.08, outlineColor: AOI_COLOR, outlineWidth: 2,
          closingPointColor: AOI_COLOR, closingPointWidth: 5, closingPointOutlineColor: "#000000", closingPointOutlineWidth: 1,
        },
      }),
      new TerraDrawSelectMode({
        flags: {
          polygon: { feature: { draggable: false, coordinates: { midpoints: true, draggable: true, deletable: true } } },
        },
        styles: {
          selectedPolygonColor: AOI_COLOR, selectedPolygonFillOpacity: 0.12, selectedPolygonOutlineColor: AOI_COLOR, selectedPolygonOutlineWidth: 3,
          selectionPointColor: AOI_COLOR, selectionPointWidth: 5, selectionPointOutlineColor: "#000000", selectionPointOutlineWidth: 1,
          midPointColor: "#ffffff", midPointWidth: 3, midPointOutlineColor: "#000000", midPointOutlineWidth: 1,
        },
      }),
    ],
  });
  draw.start();
  draw.on("finish", (id, context) => {
    if (context.mode === "polygon" && context.action === "draw") {
      // A new polygon replaces the area.
      const others = areaFeatures().map((f) => f.id).filter((x) => x !== id);
      if (others.length) draw.removeFeatures(others);
      setDrawMode("select");
    }
    areaChanged();
  });
  draw.on("change", (_ids, type) => {
    if (type === "delete" || type === "update" || type === "create") areaChanged();
  });
  return draw;
}

function setDrawMode(mode) {
  demo.draw.setMode(mode);
  ui.draw.setAttribute("aria-pressed", String(mode === "polygon"));
  ui.edit.setAttribute("aria-pressed", String(mode === "select"));
  ui.aoiInfo.dataset.mode = mode;
  if (mode === "polygon") ui.aoiInfo.textContent = "Click on the map to add corners; click the first corner (or press Enter) to close, Escape to cancel.";
  else areaChanged();
}

/** The finished polygons of the drawing. */
function areaFeatures() {
  if (!demo.draw) return [];
  return demo.draw.getSnapshot().filter((f) => f.geometry.type === "Polygon" && f.properties?.mode === "polygon" && !f.properties?.currentlyDrawing);
}

/** The area to run on: one Feature (Polygon, or MultiPolygon for several), or null. */
function currentArea() {
  const polys = areaFeatures().map((f) => f.geometry.coordinates);
  if (!polys.length) return null;
  const geometry = polys.length === 1 ? { type: "Polygon", coordinates: polys[0] } : { type: "MultiPolygon", coordinates: polys };
  return { type: "Feature", properties: { source: demo.source?.id ?? null }, geometry };
}
demo.currentArea = currentArea;

/** Replace the drawing with the polygons of a GeoJSON area. */
function setArea(geojson, what) {
  const polys = polygonsOf(geojson);
  if (!polys.length) throw new Error(`${what} holds no Polygon or MultiPolygon`);
  demo.draw.clear();
  const features = polys.map((rings) => ({
    id: demo.draw.getFeatureId(),
    type: "Feature",
    properties: { mode: "polygon" },
    geometry: { type: "Polygon", coordinates: rings.map((ring) => ring.map(([x, y]) => [round(x), round(y)])) },
  }));
  const bad = demo.draw.addFeatures(features).filter((v) => !v.valid);
  if (bad.length) throw new Error(`${what}: ${bad.map((v) => v.reason ?? "invalid").join("; ")}`);
  setDrawMode("select");
}

async function useSampleArea() {
  const entry = demo.source;
  if (!entry?.aoi) return;
  try {
    setArea(await fetchJson(entry.aoi), entry.aoi);
  } catch (e) {
    showError(e);
  }
}

function useBounds() {
  const b = demo.meta?.bounds;
  if (!b) return;
  const [w, s, e, n] = b;
  setArea({ type: "Polygon", coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] }, "the imagery's bounds");
}

/** Describe the area: its size in pixels and tiles at the chosen zoom. */
function areaChanged() {
  if (ui.aoiInfo.dataset.mode === "polygon") {
    // Drawing: the instructions stay until the polygon is closed.
    updateButtons();
    return;
  }
  const area = currentArea();
  if (!area) {
    ui.aoiInfo.textContent = "No area: draw a polygon, or take the sample area or the whole image.";
  } else {
    const zoom = Number(ui.zoom.value);
    const tileSize = demo.meta?.tileSize ?? 256;
    const pts = polygonsOf(area).flatMap((p) => p[0]);
    const px = pts.map((p) => toPixel(p, zoom, tileSize));
    const xs = px.map((p) => p[0]);
    const ys = px.map((p) => p[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const tiles = (Math.floor(x1 / tileSize) - Math.floor(x0 / tileSize) + 1) * (Math.floor(y1 / tileSize) - Math.floor(y0 / tileSize) + 1);
    const n = polygonsOf(area).length;
    ui.aoiInfo.textContent = Number.isInteger(zoom)
      ? `${n} polygon${n > 1 ? "s" : ""}, ${Math.round(x1 - x0)} × ${Math.round(y1 - y0)} px at zoom ${zoom} (at most ${tiles} tiles). Edit: select it, drag a corner or a midpoint.`
      : `${n} polygon${n > 1 ? "s" : ""}.`;
  }
  updateButtons();
}

// ---------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------

/** Metres per pixel of the source's tiles at `zoom`, at the middle of its bounds. */
function metresPerPixel(meta, zoom) {
  const lat = (meta.bounds[1] + meta.bounds[3]) / 2;
  return (40075016.686 * Math.cos((lat * Math.PI) / 180)) / ((meta.tileSize ?? 256) * 2 ** zoom);
}

/**
 * The source's zoom whose pixels are nearest in scale to the imagery a model was trained on
 * (its manifest's `groundResolutionM`), or null when the model does not say.
 */
function zoomForModel(model, meta) {
  if (!model?.groundResolutionM || !meta) return null;
  let best = meta.minZoom;
  for (let z = meta.minZoom; z <= meta.maxZoom; z++) {
    const off = (zoom) => Math.abs(Math.log(metresPerPixel(meta, zoom) / model.groundResolutionM));
    if (off(z) < off(best)) best = z;
  }
  return best;
}

/** Describe the chosen model and suggest the zoom that matches its training imagery. */
function describeModel() {
  const m = demo.models.find((x) => x.id === ui.model.value);
  if (!m) {
    ui.modelInfo.textContent = "";
    return;
  }
  let text = `${m.id}: ${m.classes?.length ?? "?"} classes, ${m.inputSize ?? "?"} px windows; weights under ${m.license ?? "an unknown licence"}.`;
  const zoom = zoomForModel(m, demo.meta);
  if (zoom !== null) {
    ui.zoom.value = String(zoom);
    text += ` Trained on ${m.groundResolutionM} m imagery: zoom ${zoom} (${metresPerPixel(demo.meta, zoom).toFixed(2)} m here) suggested.`;
  }
  ui.modelInfo.textContent = text;
}

async function loadModels(wanted) {
  try {
    const manifest = await fetchJson(`${MODEL_BASE_URL}manifest.json`);
    const models = manifest.models ?? [];
    if (!models.length) throw new Error("the manifest lists no model");
    demo.models = models;
    ui.model.replaceChildren(...models.map((m) => new Option(`${m.name ?? m.id} (${m.license ?? "licence unknown"})`, m.id)));
    if (wanted && models.some((m) => m.id === wanted)) ui.model.value = wanted;
    ui.model.onchange = describeModel;
    describeModel();
  } catch (e) {
    ui.model.replaceChildren(new Option(wanted ?? "yolov8n-obb-dota", wanted ?? "yolov8n-obb-dota"));
    ui.modelInfo.textContent = `Could not read ${MODEL_BASE_URL}manifest.json (${e.message}); tests/setup.sh puts the models there.`;
  }
}

// ---------------------------------------------------------------------------------------
// Detection
// ---------------------------------------------------------------------------------------

async function getDetector(signal) {
  const options = { source: detectSource(demo.source, demo.meta), model: ui.model.value, backend: ui.backend.value, modelBaseUrl: MODEL_BASE_URL };
  const key = JSON.stringify(options);
  if (demo.detector && demo.detectorKey === key && !demo.detector.disposed) return demo.detector;
  demo.detector?.dispose();
  demo.detector = null;
  setStage("Loading the engine and the model…");
  const t0 = performance.now();
  const detector = await Detector.create({
    ...options,
    signal,
    onProgress: (p) => setStage(`${STAGE_LABELS.model}${p.total > 0 ? ` (${Math.round((100 * p.done) / p.total)} %)` : "…"}`, p.total > 0 ? p.done / p.total : undefined),
  });
  demo.detector = detector;
  demo.detectorKey = key;
  demo.createMs = performance.now() - t0;
  return detector;
}

function progressText(p) {
  const label = STAGE_LABELS[p.stage] ?? p.stage;
  const parts = [label];
  if (p.total > 0) {
    const unit = STAGE_UNITS[p.stage];
    parts.push(`${p.done}/${p.total}${unit ? ` ${unit}` : ""} (${Math.round((100 * p.done) / p.total)} %)`);
  }
  const extra = [];
  if (p.chunksTotal > 1) extra.push(`${p.chunksDone}/${p.chunksTotal} chunks`);
  if (p.detections > 0) extra.push(`${p.detections} found`);
  if (p.etaMs != null && p.stage !== "done") extra.push(`~${Math.max(1, Math.round(p.etaMs / 1000))} s left`);
  return `${parts.join(": ")}${extra.length ? ` — ${extra.join(", ")}` : ""}`;
}

async function run(event) {
  event?.preventDefault();
  if (demo.controller || !demo.draw) return;
  showError(null);
  ui.warning.hidden = true;
  const area = currentArea();
  if (!area) {
    showError(new Error("there is no area: draw a polygon first"));
    return;
  }
  const options = { zoom: Number(ui.zoom.value), confidence: Number(ui.confidence.value), iou: Number(ui.iou.value) };
  const controller = new AbortController();
  demo.controller = controller;
  clearResult();
  updateButtons();
  try {
    const detector = await getDetector(controller.signal);
    setStage(`${STAGE_LABELS.fetch}…`, 0);
    const result = await detector.detect(area, {
      ...options,
      signal: controller.signal,
      onProgress: (p) => setStage(progressText(p), p.total > 0 ? p.done / p.total : undefined),
    });
    demo.result = result;
    demo.run = { area, ...options, source: demo.source.id, model: ui.model.value, backend: ui.backend.value };
    showResult(detector, result);
    setStage(`Done: ${result.detections.features.length} detections.`, 1);
  } catch (e) {
    if (e?.code === "ABORTED") setStage("Cancelled.", 0);
    else {
      setStage("Failed.", 0);
      showError(e);
      console.warn(e);
    }
  } finally {
    if (demo.controller === controller) demo.controller = null;
    updateButtons();
  }
}

function clearResult() {
  demo.result = null;
  demo.run = null;
  demo.selected = -1;
  if (demo.map?.getSource("detections")) {
    demo.map.removeFeatureState({ source: "detections" });
    demo.map.getSource("detections").setData(EMPTY);
  }
  ui.facts.replaceChildren();
  ui.timings.hidden = true;
  ui.results.hidden = true;
  ui.detections.tBodies[0].replaceChildren();
  ui.warning.hidden = true;
}

function showResult(detector, result) {
  const features = result.detections.features;
  demo.map.getSource("detections").setData(result.detections);

  ui.facts.replaceChildren();
  const info = detector.info;
  const a = info?.adapter;
  const threads = result.backend === "cpu" && info ? ` (${info.threads} thread${info.threads > 1 ? "s" : ""}${info.relaxedSimd ? ", relaxed SIMD" : ""}; ${detector.workers} worker${detector.workers > 1 ? "s" : ""})` : "";
  fact("backend", `${result.backend}${a ? ` — ${a.description || a.vendor || "adapter"}${a.isFallbackAdapter ? " (software)" : ""}` : ""}${threads}`);
  if (info?.fallbackReason) fact("why not WebGPU", info.fallbackReason);
  fact("model", info?.model?.id ?? ui.model.value);
  const t = result.tiles;
  fact("raster", `${result.image.width} × ${result.image.height} px at zoom ${result.image.zoom}; ${t.requested} tiles${t.fromCache ? ` (${t.fromCache} from cache)` : ""}${t.failed ? `, ${t.failed} failed` : ""}`);
  if (demo.createMs) fact("engine + model load", `${demo.createMs.toFixed(0)} ms${info?.weightsFromCache ? " (weights from cache)" : ""}`);
  if (result.attribution) fact("imagery", result.attribution);

  ui.timings.tBodies[0].replaceChildren(...Object.entries(result.timings).map(([stage, ms]) => {
    const tr = document.createElement("tr");
    tr.dataset.stage = stage;
    for (const text of [stage, Number(ms).toFixed(0)]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  }));
  ui.timings.hidden = false;

  // The table: class, confidence, centre. Clicking a row flies there.
  const rows = features.slice(0, MAX_ROWS).map((f, i) => {
    const [lon, lat] = centreOf(f);
    const tr = document.createElement("tr");
    tr.dataset.index = String(i);
    tr.tabIndex = 0;
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = classColor(f.properties.classId);
    const cls = document.createElement("td");
    cls.append(swatch, ` ${f.properties.class}`);
    const cells = [String(i + 1), cls, `${(f.properties.score * 100).toFixed(1)} %`, lon.toFixed(7), lat.toFixed(7)].map((c) => {
      if (c instanceof Node) return c;
      const td = document.createElement("td");
      td.textContent = c;
      return td;
    });
    tr.append(...cells);
    return tr;
  });
  ui.detections.tBodies[0].replaceChildren(...rows);
  const counts = new Map();
  for (const f of features) counts.set(f.properties.class, (counts.get(f.properties.class) ?? 0) + 1);
  const summary = [...counts].sort((x, y) => y[1] - x[1]).map(([c, n]) => `${n} ${c}`).join(", ");
  ui.detectionsCaption.textContent = `${features.length} detections${summary ? ` (${summary})` : ""}${features.length > MAX_ROWS ? `; the first ${MAX_ROWS} listed` : ""}`;
  ui.results.hidden = false;

  if (result.missingTiles.length || result.failedChunks?.length) {
    const parts = [];
    if (result.missingTiles.length) {
      parts.push(`${result.missingTiles.length} tile(s) could not be loaded and were treated as empty, e.g. ${result.missingTiles.slice(0, 3).map((m) => `${m.tile.z}/${m.tile.x}/${m.tile.y} (${m.reason})`).join(", ")}`);
    }
    if (result.failedChunks?.length) parts.push(`${result.failedChunks.length} part(s) of the area could not be run: ${result.failedChunks[0].reason}`);
    ui.warning.textContent = parts.join("\n");
    ui.warning.hidden = false;
  }
}

/** Highlight detection `i` on the map and in the table; fly to it. */
function selectDetection(i, { fly = true, scroll = false } = {}) {
  const f = demo.result?.detections.features[i];
  if (!f) return;
  const map = demo.map;
  if (demo.selected >= 0) map.setFeatureState({ source: "detections", id: demo.selected }, { selected: false });
  map.setFeatureState({ source: "detections", id: i }, { selected: true });
  demo.selected = i;
  for (const tr of ui.detections.tBodies[0].querySelectorAll("tr.selected")) tr.classList.remove("selected");
  const row = ui.detections.tBodies[0].querySelector(`tr[data-index="${i}"]`);
  row?.classList.add("selected");
  if (scroll) row?.scrollIntoView({ block: "nearest" });
  if (fly) map.flyTo({ center: centreOf(f), zoom: Math.max(map.getZoom(), demo.meta?.nativeZoom ?? map.getZoom()), duration: 800 });
}

function download() {
  if (!demo.result) return;
  const blob = new Blob([`${JSON.stringify(demo.result.detections, null, 1)}\n`], { type: "application/geo+json" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `detections-${demo.run?.source ?? "area"}-z${demo.result.image.zoom}.geojson`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

function updateButtons() {
  const busy = demo.controller !== null;
  const started = demo.draw !== null;
  ui.run.disabled = busy || !started || areaFeatures().length === 0;
  ui.cancel.disabled = !busy;
  ui.download.disabled = busy || !demo.result;
  for (const b of [ui.source, ui.draw, ui.edit, ui.clear, ui.useBounds, ui.model, ui.backend, ui.zoom]) b.disabled = busy || !started;
  ui.useSample.disabled = busy || !started || !demo.source?.aoi;
}

// ---------------------------------------------------------------------------------------
// Start-up
// ---------------------------------------------------------------------------------------

async function start() {
  const params = new URLSearchParams(location.search);
  ui.source.replaceChildren(...SOURCES.map((s) => new Option(s.name, s.id)));
  if (!("gpu" in navigator)) ui.backend.querySelector('option[value="webgpu"]').disabled = true;
  if (params.get("backend")) ui.backend.value = params.get("backend");
  if (params.get("confidence")) ui.confidence.value = params.get("confidence");
  updateButtons();
  const models = loadModels(params.get("model"));

  try {
    demo.map = createMap();
  } catch (e) {
    setStage("The map cannot start.", 0);
    showError(new Error(`${e.message} (the map needs WebGL 2)`));
    return;
  }
  await new Promise((resolve) => demo.map.once("load", resolve));
  demo.draw = createDraw(demo.map);

  ui.form.addEventListener("submit", run);
  ui.cancel.addEventListener("click", () => demo.controller?.abort());
  ui.download.addEventListener("click", download);
  ui.source.addEventListener("change", () => selectSource(ui.source.value));
  ui.draw.addEventListener("click", () => setDrawMode("polygon"));
  ui.edit.addEventListener("click", () => setDrawMode("select"));
  ui.clear.addEventListener("click", () => {
    demo.draw.clear();
    areaChanged();
  });
  ui.useSample.addEventListener("click", () => useSampleArea());
  ui.useBounds.addEventListener("click", () => {
    try {
      useBounds();
    } catch (e) {
      showError(e);
    }
  });
  ui.zoom.addEventListener("input", areaChanged);
  const rowOf = (e) => e.target.closest?.("tr[data-index]");
  ui.detections.addEventListener("click", (e) => {
    const tr = rowOf(e);
    if (tr) selectDetection(Number(tr.dataset.index));
  });
  ui.detections.addEventListener("keydown", (e) => {
    const tr = rowOf(e);
    if (tr && (e.key === "Enter" || e.key === " ")) {
      e.preventDefault();
      selectDetection(Number(tr.dataset.index));
    }
  });

  await selectSource(params.get("source") ?? SOURCES[0].id);
  if (params.get("zoom")) ui.zoom.value = params.get("zoom");
  await models;
  areaChanged();
  setStage(ui.error.hidden ? "Draw an area (or keep the one shown), then press Detect." : "Failed.", 0);
  demo.ready = true;
  document.body.dataset.ready = "true";
}

start();
