// Compile-only usage of the public API (never run). `tsc -p pkg/types-test` must pass:
// everything below type-checks, and every @ts-expect-error line must really be an error.
import { Detector, GeodetectError } from "geodetect";
import type {
  AreaOfInterest,
  Backend,
  DetectOptions,
  DetectResult,
  Detection,
  DetectorOptions,
  EngineInfo,
  ErrorCode,
  Feature,
  FeatureCollection,
  ModelInfo,
  MultiPolygon,
  Polygon,
  Progress,
  ProgressStage,
  TileSource,
} from "geodetect";

const polygon: Polygon = {
  type: "Polygon",
  coordinates: [[[-117.23, 32.71], [-117.22, 32.71], [-117.22, 32.72], [-117.23, 32.72], [-117.23, 32.71]]],
};
const feature: Feature<Polygon, { name: string }> = { type: "Feature", geometry: polygon, properties: { name: "marina" } };
const multi: MultiPolygon = { type: "MultiPolygon", coordinates: [polygon.coordinates] };
const collection: FeatureCollection<Polygon | MultiPolygon> = {
  type: "FeatureCollection",
  features: [{ type: "Feature", geometry: multi, properties: null }],
};
const aois: AreaOfInterest[] = [polygon, feature, multi, collection];
// Parsed JSON is accepted as-is.
const parsed: AreaOfInterest = JSON.parse("{}");

const options: DetectorOptions = {
  source: { url: "http://127.0.0.1:8080/tiles/marina/{z}/{x}/{y}.png", tileSize: 256, maxZoom: 21, subdomains: ["a", "b"] },
  model: "yolov8n-obb-dota",
  backend: "auto",
  modelBaseUrl: new URL("/models/", "http://127.0.0.1:8080"),
  fetch: { concurrency: 8, timeoutMs: 15000, retries: 3, retryDelayMs: 250 },
  cache: true,
  workerUrl: "/pkg/worker.js",
  onProgress: (p: Progress) => {
    const stage: ProgressStage = p.stage;
    const frac: number = p.tilesDone / Math.max(1, p.tilesTotal) + p.done / Math.max(1, p.total);
    // @ts-expect-error the engine never reports stages that are not in ProgressStage
    const bogus: ProgressStage = "decode";
    void stage, frac, bogus;
  },
};

export async function main(signal: AbortSignal): Promise<void> {
  const detector = await Detector.create(options);
  const backend: Backend = detector.backend;
  const info: EngineInfo = detector.info;
  const classes: string[] = info.model.classes;
  const fallback: boolean | undefined = info.adapter?.isFallbackAdapter;
  const loadMs: number = info.loadMs;
  const fromCache: boolean = info.weightsFromCache;
  const reason: string | null | undefined = info.fallbackReason;
  void loadMs, fromCache, reason;
  const disposed: boolean = detector.disposed;
  void backend, classes, fallback, disposed;

  const detectOptions: DetectOptions = { zoom: 18, confidence: 0.25, iou: 0.45, maxDetections: 300, maxTiles: 256, failOnMissingTiles: false, classes: ["ship", 1], windowOverlap: 128, signal };
  const result: DetectResult = await detector.detect(feature, detectOptions);
  const { detections, image, timings, missingTiles } = result;
  for (const d of detections.features) {
    const det: Detection = d;
    const cls: string = det.properties.class;
    const id: number = det.properties.classId;
    const score: number = det.properties.score;
    const ring = det.geometry.coordinates[0];
    const lon: number | undefined = ring?.[0]?.[0];
    void cls, id, score, lon;
  }
  const [west, south, east, north] = image.bounds;
  const [ox, oy] = image.origin;
  const total: number = timings.total;
  const missing = missingTiles.map((m) => `${m.tile.z}/${m.tile.x}/${m.tile.y}: ${m.reason} (${m.attempts})`);
  void west, south, east, north, ox, oy, total, missing, result.backend, image.bounds3857;
  const credit: string | null = result.attribution;
  void credit;
  const sources: TileSource[] = [
    { url: "https://ecn.t{s}.example/tiles/a{q}.jpeg", subdomains: ["0", "1"], retina: false, attribution: "© x" },
    { url: "https://h/cgi-bin/mapserv?map=/m.map", wms: { layers: ["ortho"], version: "1.1.1", params: { TIME: "2024" } } },
    { preset: "mapbox-satellite", accessToken: "pk.x", retina: true },
    { preset: "titiler", url: "https://titiler.example", cog: "https://d.example/a.tif" },
  ];
  void sources;

  const kept = ["ship", 1] as const;
  await detector.detect(feature, { zoom: 17, classes: kept });
  for (const aoi of aois) await detector.detect(aoi, { zoom: 17 });
  await detector.detect(parsed, { zoom: 17, onProgress: (p) => console.log(p.stage) });

  await detector.preload(["yolov8n-obb-dota"]);
  await detector.preload(["yolov8n-obb-dota"], { signal });
  const models: ModelInfo[] = await Detector.models({ modelBaseUrl: "/models/" });
  const own: ModelInfo[] = await detector.models();
  const m = models[0];
  if (m) {
    const task: "detect" | "obb" = m.task;
    const sha: string = m.weights.sha256;
    const family: string = m.architecture.family;
    const pkg: string = m.source.package;
    void task, sha, family, pkg, m.inputSize, m.license;
  }
  void own;
  await Detector.models();

  try {
    await detector.detect(polygon, { zoom: 30 });
  } catch (e) {
    if (e instanceof GeodetectError) {
      const code: ErrorCode = e.code;
      const name: "GeodetectError" = e.name;
      const asError: Error = e;
      switch (code) {
        case "ZOOM_OUT_OF_RANGE":
        case "WORKER_FAILED":
        case "DISPOSED":
          break;
        default:
          break;
      }
      void name, asError;
    }
  }
  const err = new GeodetectError("INTERNAL", "x", { cause: new Error("y") });
  void err;
  detector.dispose();
}

export async function negatives(detector: Detector): Promise<void> {
  // @ts-expect-error: the constructor is private, use Detector.create()
  new Detector();
  // @ts-expect-error: unknown backend
  await Detector.create({ source: { url: "x" }, model: "m", backend: "webgl" });
  // @ts-expect-error: TileSource has no token (the engine refuses unknown fields)
  await Detector.create({ source: { url: "x", token: "test" }, model: "m" });
  // @ts-expect-error: not a preset
  await Detector.create({ source: { preset: "google-satellite" }, model: "m" });
  // @ts-expect-error: a WMS needs its layers
  await Detector.create({ source: { url: "https://h/wms", wms: { version: "1.3.0" } }, model: "m" });
  // @ts-expect-error: source is required
  await Detector.create({ model: "m" });
  // @ts-expect-error: zoom is required
  await detector.detect({ type: "Polygon", coordinates: [] }, {});
  // @ts-expect-error: a LineString is not an area
  await detector.detect({ type: "LineString", coordinates: [] }, { zoom: 3 });
  // @ts-expect-error: confidence is a number
  await detector.detect({ type: "Polygon", coordinates: [] }, { zoom: 3, confidence: "high" });
  // @ts-expect-error: not an error code
  new GeodetectError("NOPE", "x");
  // @ts-expect-error: backend is read-only
  detector.backend = "cpu";
  // @ts-expect-error: detection properties are typed
  const s: string = (await detector.detect({ type: "Polygon", coordinates: [] }, { zoom: 3 })).detections.features[0]!.properties.score;
  void s;
}
