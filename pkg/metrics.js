// geodetect: a detector's counters and latency histograms (`detector.metrics()`), and their
// Prometheus text form.
import { GeodetectError } from "./protocol.js";

/** @typedef {import("./types.js").DetectResult} DetectResult */
/** @typedef {import("./types.js").Progress} Progress */
// Extensionless: the site builder (www/deploy/build-site.mjs) takes a quoted path to
// index.js in any file for a reference to hash, and index.js imports this file (a cycle).
/** @typedef {import("./index").MetricsSnapshot} MetricsSnapshot */

/** Upper bounds (ms) of the stage latency histograms' buckets (and +Inf). */
const BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000];
/** The stages of `DetectResult.timings`, in order. */
const STAGES = /** @type {const} */ (["fetch", "decode", "preprocess", "inference", "postprocess", "total"]);

/** A detector's counters and histograms (see {@link Detector.metrics}). */
export class Metrics {
  areas = { ok: 0, failed: 0 };
  detections = 0;
  /** @type {Record<string, number>} */
  errors = {};
  tiles = { requested: 0, downloaded: 0, fromCache: 0, empty: 0, failed: 0, retries: 0, bytes: 0 };
  /** @type {Record<string, { buckets: number[], sum: number, count: number }>} */
  stages = Object.fromEntries(STAGES.map((s) => [s, { buckets: BUCKETS_MS.map(() => 0), sum: 0, count: 0 }]));

  /**
   * @param {DetectResult} result
   * @param {Progress | null} last the run's last progress event
   */
  succeeded(result, last) {
    this.areas.ok++;
    // Counting must never fail the call it counts: every field is read defensively.
    const features = result?.detections?.features;
    this.detections += Array.isArray(features) ? features.length : 0;
    const tiles = result?.tiles;
    for (const key of /** @type {const} */ (["requested", "downloaded", "fromCache", "empty", "failed", "retries", "bytes"])) {
      const n = tiles?.[key];
      if (typeof n === "number" && Number.isFinite(n)) this.tiles[key] += n;
    }
    for (const stage of STAGES) {
      const ms = result?.timings?.[stage];
      if (typeof ms !== "number" || !Number.isFinite(ms)) continue;
      const h = this.stages[stage];
      h.sum += ms;
      h.count++;
      BUCKETS_MS.forEach((le, i) => {
        if (ms <= le) h.buckets[i]++;
      });
    }
  }

  /**
   * @param {unknown} error
   * @param {Progress | null} last
   */
  failed(error, last) {
    this.areas.failed++;
    const code = error instanceof GeodetectError ? error.code : "INTERNAL";
    this.errors[code] = (this.errors[code] ?? 0) + 1;
    // What a failed call loaded before it failed: only its progress tells.
    this.tiles.requested += last?.tilesDone ?? 0;
  }

  /**
   * @param {import("./pool.js").PoolStats} pool the pool's own counters
   * @returns {MetricsSnapshot}
   */
  snapshot(pool) {
    const copy = structuredClone({
      workers: { started: pool.workersStarted, replaced: pool.workersReplaced },
      chunks: { retried: pool.chunksRetried, failed: pool.chunksFailed },
      areas: this.areas,
      detections: this.detections,
      errors: this.errors,
      tiles: this.tiles,
      stages: Object.fromEntries(
        STAGES.map((s) => [s, { bucketsMs: BUCKETS_MS, counts: this.stages[s].buckets, sumMs: this.stages[s].sum, count: this.stages[s].count }]),
      ),
    });
    return /** @type {MetricsSnapshot} */ (/** @type {unknown} */ (copy));
  }
}

/**
 * A metrics snapshot in the Prometheus text exposition format (version 0.0.4).
 * @param {MetricsSnapshot} m
 * @param {Record<string, string>} labels constant labels of every sample
 */
export function prometheus(m, labels) {
  const esc = (/** @type {string} */ v) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
  const lbl = (/** @type {Record<string, string>} */ extra = {}) => {
    const all = { ...labels, ...extra };
    return `{${Object.entries(all).map(([k, v]) => `${k}="${esc(v)}"`).join(",")}}`;
  };
  /** @type {string[]} */
  const out = [];
  const metric = (/** @type {string} */ name, /** @type {string} */ type, /** @type {string} */ help, /** @type {[Record<string, string>, number][]} */ samples) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [extra, v] of samples) out.push(`${name}${lbl(extra)} ${v}`);
  };
  metric("geodetect_areas_total", "counter", "Areas run by detect(), by outcome.", [[{ outcome: "ok" }, m.areas.ok], [{ outcome: "error" }, m.areas.failed]]);
  metric("geodetect_detections_total", "counter", "Detections returned.", [[{}, m.detections]]);
  metric("geodetect_errors_total", "counter", "detect() errors, by code.", Object.entries(m.errors).map(([code, n]) => [{ code }, n]));
  metric("geodetect_tiles_total", "counter", "Tile loads, by how they ended (a failed call's loads count as requested only).", [
    [{ result: "requested" }, m.tiles.requested],
    [{ result: "downloaded" }, m.tiles.downloaded],
    [{ result: "cache" }, m.tiles.fromCache],
    [{ result: "empty" }, m.tiles.empty],
    [{ result: "failed" }, m.tiles.failed],
  ]);
  metric("geodetect_tile_retries_total", "counter", "Tile download attempts beyond each tile's first.", [[{}, m.tiles.retries]]);
  metric("geodetect_tile_bytes_total", "counter", "Bytes of tile bodies downloaded.", [[{}, m.tiles.bytes]]);
  metric("geodetect_workers_started_total", "counter", "Workers started (replacements included).", [[{}, m.workers.started]]);
  metric("geodetect_workers_replaced_total", "counter", "Workers replaced after they crashed, died or timed out.", [[{}, m.workers.replaced]]);
  metric("geodetect_chunks_total", "counter", "Chunks of areas that a lost worker left, by what became of them.", [[{ outcome: "retried" }, m.chunks.retried], [{ outcome: "failed" }, m.chunks.failed]]);
  out.push("# HELP geodetect_stage_duration_seconds Time per stage of completed detect() calls.", "# TYPE geodetect_stage_duration_seconds histogram");
  for (const [stage, h] of Object.entries(m.stages)) {
    h.bucketsMs.forEach((le, i) => out.push(`geodetect_stage_duration_seconds_bucket${lbl({ stage, le: String(le / 1000) })} ${h.counts[i]}`));
    out.push(`geodetect_stage_duration_seconds_bucket${lbl({ stage, le: "+Inf" })} ${h.count}`);
    out.push(`geodetect_stage_duration_seconds_sum${lbl({ stage })} ${h.sumMs / 1000}`);
    out.push(`geodetect_stage_duration_seconds_count${lbl({ stage })} ${h.count}`);
  }
  return `${out.join("\n")}\n`;
}

