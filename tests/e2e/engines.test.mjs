// The engine list (pkg/engines.mjs) against what uses it, without a browser or a build:
//
//   cd tests/e2e && node --test --test-reporter=spec engines.test.mjs
//
// - package.json ships exactly the files of every engine in the list;
// - pkg/worker.js imports exactly the engines of the list (literal paths, for bundlers);
// - the relaxed-SIMD probe of pkg/protocol.js is a valid module that fails only for want of
//   relaxed SIMD (Node 20's V8 has it behind --experimental-wasm-relaxed-simd).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ENGINES, packageFiles } from "../../pkg/engines.mjs";
import { RELAXED_SIMD_PROBE } from "../../pkg/protocol.js";
import { REPO } from "./helpers.mjs";

const dirs = ENGINES.map((e) => e.dir);

test("every engine has a name, a folder and features of its own", () => {
  assert.equal(new Set(ENGINES.map((e) => e.name)).size, ENGINES.length);
  assert.equal(new Set(dirs).size, ENGINES.length);
  assert.equal(new Set(ENGINES.map((e) => e.features.slice().sort().join(","))).size, ENGINES.length);
  for (const e of ENGINES) {
    assert.equal(e.features.includes("threads"), e.threads, `${e.name}: the threads feature iff a threaded build`);
    assert.equal(e.features.includes("relaxed-simd"), e.relaxedSimd, `${e.name}: relaxed-simd`);
  }
});

test("package.json ships exactly the files of the listed engines", () => {
  const pkg = JSON.parse(readFileSync(join(REPO, "pkg/package.json"), "utf8"));
  const shipped = pkg.files.filter((/** @type {string} */ f) => /^wasm[^/]*\//.test(f)).sort();
  assert.deepEqual(shipped, ENGINES.flatMap(packageFiles).sort());
});

test("pkg/worker.js imports exactly the listed engines, by literal paths", () => {
  const source = readFileSync(join(REPO, "pkg/worker.js"), "utf8");
  const imported = [...source.matchAll(/import\("\.\/([^/"]+)\/geodetect\.js"\)/g)].map((m) => m[1]).sort();
  assert.deepEqual(imported, dirs.slice().sort());
});

test("the relaxed-SIMD probe validates exactly where relaxed SIMD is available", () => {
  const validate = (/** @type {string[]} */ flags, /** @type {number[]} */ bytes) => {
    const run = spawnSync(process.execPath, [...flags, "-e", `console.log(WebAssembly.validate(new Uint8Array(${JSON.stringify(bytes)})))`], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    return run.stdout.trim() === "true";
  };
  const probe = [...RELAXED_SIMD_PROBE];
  const at = probe.findIndex((b, i) => b === 0xfd && probe[i + 1] === 0x85 && probe[i + 2] === 0x02);
  assert.ok(at > 0, "the probe holds f32x4.relaxed_madd");
  // The same module with v128.bitselect (also three v128 in, one out) and a nop instead:
  // valid with plain SIMD, so the probe's structure is right and only the opcode can fail.
  const plain = probe.slice(0, at).concat([0xfd, 0x52, 0x01], probe.slice(at + 3));
  assert.equal(validate([], plain), true, "the probe's module, with a plain SIMD op, is valid");
  assert.equal(validate(["--experimental-wasm-relaxed-simd"], probe), true, "valid with relaxed SIMD");
  const v8 = process.versions.v8.split(".").map(Number);
  if (v8[0] < 11 || (v8[0] === 11 && v8[1] < 4)) {
    // Before V8 11.4 relaxed SIMD is off unless asked for.
    assert.equal(validate([], probe), false, "invalid without relaxed SIMD");
  }
});
