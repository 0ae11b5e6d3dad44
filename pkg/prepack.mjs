// `npm pack` / `npm publish` run this first: the package carries only release engines
// (pkg/build.sh writes each engine's profile into its .build-stamp) and the CDN script.
import { existsSync, readFileSync } from "node:fs";
import { ENGINES } from "./engines.mjs";

const problems = [];
for (const { dir: engine } of ENGINES) {
  if (!existsSync(`${engine}/geodetect_bg.wasm`)) {
    problems.push(`${engine}/ is not built`);
    continue;
  }
  const stamp = existsSync(`${engine}/.build-stamp`) ? readFileSync(`${engine}/.build-stamp`, "utf8").split(" ") : [];
  if (stamp[1] !== "release") problems.push(`${engine}/ is a ${stamp[1] ?? "unknown"} build, not release`);
}
if (!existsSync("dist/geodetect.global.js")) problems.push("dist/geodetect.global.js is missing");
if (problems.length) {
  console.error(`geodetect: cannot pack: ${problems.join("; ")}. Run bash pkg/build.sh (release by default) first.`);
  process.exit(1);
}
