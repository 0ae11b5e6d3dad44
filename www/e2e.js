// Test page for tests/e2e/e2e.test.mjs (and handy for manual checks from the console).
// window.runDetect(params) creates a Detector from /pkg/index.js, runs one or more
// detections on it, disposes it, and returns everything as plain data:
//
//   await runDetect({
//     detector: { source: { url }, model, backend, modelBaseUrl, cache, fetch },
//     runs: [{ aoi, options: { zoom, confidence, ... }, abortAfterMs?: number,
//              stream?: boolean, breakAfter?: number }],
//   })
//   -> { ok, phase, backend, info, createMs, createProgress, error?,
//        runs: [{ ok, ms, result?, error?, progress, batches: [{ features, progress }] }] }
// A run collects its onDetections batches; with `stream` it iterates detectStream() instead
// (and leaves the loop after `breakAfter` batches, if set).
import * as geodetect from "/pkg/index.js";

const { Detector, GeodetectError } = geodetect;

function describeError(e) {
  return {
    name: e?.name,
    code: e?.code,
    message: e?.message ?? String(e),
    isGeodetectError: e instanceof GeodetectError,
    isError: e instanceof Error,
  };
}

window.geodetect = geodetect;

window.runDetect = async (params) => {
  const out = { ok: false, phase: "create", createProgress: [], runs: [] };
  let detector = null;
  const t0 = performance.now();
  try {
    detector = await Detector.create({
      ...params.detector,
      onProgress: (p) => out.createProgress.push(p),
    });
    out.createMs = performance.now() - t0;
    out.backend = detector.backend;
    out.info = detector.info;
    out.phase = "detect";
    for (const run of params.runs ?? []) {
      const r = { ok: false, progress: [], batches: [] };
      const ac = new AbortController();
      const start = performance.now();
      let abortedAt = null;
      if (run.abortAfterMs != null) {
        setTimeout(() => {
          abortedAt = performance.now();
          ac.abort();
        }, run.abortAfterMs);
      }
      const onProgress = (p) => r.progress.push(p);
      try {
        if (run.stream) {
          const stream = detector.detectStream(run.aoi, { ...run.options, signal: ac.signal, onProgress });
          for await (const { detections, progress } of stream) {
            r.batches.push({ features: detections.features, progress });
            if (run.breakAfter != null && r.batches.length >= run.breakAfter) break;
          }
          r.result = await stream.result;
        } else {
          const onDetections = (batch, progress) => r.batches.push({ features: batch.features, progress });
          r.result = await detector.detect(run.aoi, { ...run.options, signal: ac.signal, onProgress, onDetections });
        }
        r.ok = true;
      } catch (e) {
        r.error = describeError(e);
      }
      const end = performance.now();
      r.ms = end - start;
      if (abortedAt !== null) r.msAfterAbort = end - abortedAt;
      out.runs.push(r);
    }
    out.ok = out.runs.every((r) => r.ok);
  } catch (e) {
    out.error = describeError(e);
    out.createMs = performance.now() - t0;
  } finally {
    detector?.dispose();
  }
  return out;
};

document.getElementById("status").textContent = "ready";
document.title = "ready";
