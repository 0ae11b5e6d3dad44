// Brotli (quality 11) and gzip (level 9) bytes of a file, as browsers and CDNs get them: the
// one implementation that the size table (pkg/sizes.mjs) and the site builder
// (www/deploy/build-site.mjs) share. Not part of the npm package.
//
// Quality 11 takes about 2 s per MB on one core, and both tools compress the same engines, so:
//   - results are cached on disk by the sha256 of the input (.cache/compress/<hash>.<br|gz>);
//     the site builder then finds what pkg/build.sh's size table already compressed;
//   - compression runs on libuv's thread pool (zlib's async API), which bounds how many run at
//     once (4 by default), so callers start every file at once and await them together.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { brotliCompress, constants, gzip } from "node:zlib";

const cacheDir = join(dirname(fileURLToPath(import.meta.url)), "..", ".cache", "compress");
const brotliAsync = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

/** @typedef {"br" | "gz"} Kind */

/**
 * `bytes` compressed as `kind`: brotli quality 11 ("br") or gzip level 9 ("gz").
 * @param {Buffer} bytes
 * @param {Kind} kind
 * @returns {Promise<Buffer>}
 */
export async function compressed(bytes, kind) {
  if (kind !== "br" && kind !== "gz") throw new Error(`compress: unknown kind ${kind}`);
  const key = createHash("sha256").update(bytes).digest("hex");
  const file = join(cacheDir, `${key}.${kind}`);
  if (existsSync(file)) return readFileSync(file);
  const z =
    kind === "br"
      ? await brotliAsync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } })
      : await gzipAsync(bytes, { level: 9 });
  // Written under a temporary name and renamed, so that a reader never sees half a file.
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, z);
  renameSync(tmp, file);
  return z;
}
