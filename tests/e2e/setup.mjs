// Environment of the end-to-end tests: where the server is, what must exist before they
// can run (with the command that makes each missing piece), and the model directories the
// tests generate at run time (www/models-test/, gitignored).
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { REPO, startStaticServer } from "./helpers.mjs";

/** The model every test uses. */
export const MODEL = process.env.GEODETECT_E2E_MODEL ?? "yolov8n-obb-dota";

/**
 * GEODETECT_E2E_FAKE_ENGINE=1 runs the suite against fixtures/fake-wasm/geodetect.js
 * instead of pkg/wasm (a self-test of the harness before the real engine exists): the
 * test starts its own server, with generated fake weights, and skips the comparison with
 * the native CLI. Never use it to judge the engine.
 */
export const FAKE = process.env.GEODETECT_E2E_FAKE_ENGINE === "1";

const FAKE_MODELS = join(REPO, "tests/out/fake-models");
export const MODELS_TEST_DIR = join(REPO, "www/models-test");

async function probe(url) {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return { ok: r.ok, status: r.status, text: r.ok ? await r.text() : "" };
  } catch (e) {
    return { ok: false, status: 0, error: e.cause?.code ?? e.message };
  }
}

/** Fake mode: a manifest in the real format with one small random weights file. */
async function writeFakeModels() {
  await mkdir(FAKE_MODELS, { recursive: true });
  const weights = createHash("sha512").update("geodetect fake weights").digest();
  const bytes = Buffer.concat(Array.from({ length: 64 }, () => weights)); // 4 KiB
  await writeFile(join(FAKE_MODELS, `${MODEL}.safetensors`), bytes);
  const manifest = {
    version: 1,
    models: [{
      id: MODEL,
      name: "Fake YOLOv8n-OBB (harness self-test)",
      task: "obb",
      architecture: { family: "yolov8", scale: "n" },
      inputSize: 1024,
      classes: ["ship", "harbor"],
      weights: { file: `${MODEL}.safetensors`, sha256: createHash("sha256").update(bytes).digest("hex"), size: bytes.length },
      license: "MIT",
      source: { package: "none", path: "none", sha256: "0".repeat(64), upstream: "tests/e2e/setup.mjs" },
    }],
  };
  await writeFile(join(FAKE_MODELS, "manifest.json"), JSON.stringify(manifest, null, 1));
}

let envPromise = null;

/**
 * The server to test against and its manifest, once. Rejects with one message that
 * lists every missing prerequisite and how to make it.
 * @returns {Promise<{ base: string, manifest: any, model: any, modelsDir: string, close: () => Promise<void> }>}
 */
export function environment() {
  envPromise ??= (async () => {
    if (FAKE) {
      await writeFakeModels();
      const server = await startStaticServer({
        mounts: {
          "/": join(REPO, "www"),
          "/pkg/": join(REPO, "pkg"),
          "/pkg/wasm/": join(REPO, "tests/e2e/fixtures/fake-wasm"),
          "/models/": FAKE_MODELS,
        },
        headers: { "access-control-allow-origin": "*" },
      });
      const manifest = JSON.parse(await readFile(join(FAKE_MODELS, "manifest.json"), "utf8"));
      if (!existsSync(join(REPO, "www/tiles/marina/tileset.json"))) throw new Error("missing www/tiles/marina: run bash tests/data/prepare.sh");
      return { base: server.url, manifest, model: manifest.models[0], modelsDir: FAKE_MODELS, close: server.close };
    }
    const base = (process.env.GEODETECT_E2E_BASE ?? "http://127.0.0.1:8080").replace(/\/$/, "");
    const missing = [];
    if (!existsSync(join(REPO, "pkg/wasm/geodetect.js")) || !existsSync(join(REPO, "pkg/wasm/geodetect_bg.wasm"))) {
      missing.push("pkg/wasm/geodetect.js is missing: build the engine with `bash pkg/build.sh`");
    }
    const home = await probe(`${base}/e2e.html`);
    if (!home.ok) {
      missing.push(`${base}/e2e.html does not answer (${home.status || home.error}): start the server with \`www/serve.sh start\``);
    } else {
      const js = await probe(`${base}/pkg/wasm/geodetect.js`);
      if (!js.ok && existsSync(join(REPO, "pkg/wasm/geodetect.js"))) missing.push(`${base}/pkg/wasm/geodetect.js: HTTP ${js.status} (does the server serve this checkout's pkg/?)`);
      const tiles = await probe(`${base}/tiles/marina/tileset.json`);
      if (!tiles.ok) missing.push(`${base}/tiles/marina/tileset.json: HTTP ${tiles.status}: generate the tiles with \`bash tests/data/prepare.sh\``);
    }
    let manifest = null;
    const m = await probe(`${base}/models/manifest.json`);
    if (m.ok) manifest = JSON.parse(m.text);
    else if (home.ok) missing.push(`${base}/models/manifest.json: HTTP ${m.status}: put the converted models (manifest.json + weights) into www/models/`);
    const model = manifest?.models?.find((x) => x.id === MODEL);
    if (manifest && !model) missing.push(`www/models/manifest.json has no model "${MODEL}"`);
    if (missing.length) throw new Error(`the end-to-end tests cannot run:\n  - ${missing.join("\n  - ")}`);
    return { base, manifest, model, modelsDir: join(REPO, "www/models"), close: async () => {} };
  })();
  return envPromise;
}

/**
 * Write www/models-test/: the real manifest, and the model's weights with a few bytes
 * flipped (same size), so that loading it must fail with MODEL_INTEGRITY. Served at
 * /models-test/ (www/ is the server's root). Returns the URL path.
 */
export async function writeCorruptModelDir(env) {
  const { model, modelsDir } = env;
  await rm(MODELS_TEST_DIR, { recursive: true, force: true });
  const target = join(MODELS_TEST_DIR, model.weights.file);
  await mkdir(dirname(target), { recursive: true });
  await copyFile(join(modelsDir, model.weights.file), target);
  const bytes = await readFile(target);
  for (const i of [0, Math.floor(bytes.length / 2), bytes.length - 1]) bytes[i] ^= 0xff;
  await writeFile(target, bytes);
  await writeFile(join(MODELS_TEST_DIR, "manifest.json"), JSON.stringify({ version: env.manifest.version, models: [model] }, null, 1));
  await writeFile(join(MODELS_TEST_DIR, "README.txt"), "Generated by tests/e2e/setup.mjs (corrupted weights for the MODEL_INTEGRITY test). Safe to delete.\n");
  return "/models-test/";
}
