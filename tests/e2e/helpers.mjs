// Shared helpers of the browser tests: the Chromium launch (one place for the flags), a
// tiny static file server (with an optional reverse proxy), page diagnostics, and the
// geometry used to check and compare detections.
import { createServer, request as httpRequest } from "node:http";
import { createServer as createNetServer } from "node:net";
import { createReadStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/**
 * Launch headless Chromium the way this machine needs it: as root (--no-sandbox), on a
 * closed network (no background traffic), and with WebGPU through SwiftShader when
 * `webgpu` is set (Chromium then offers a fallback adapter in pages and workers).
 */
export async function launchBrowser({ webgpu = true, extraArgs = [] } = {}) {
  const { chromium } = await import("playwright-core");
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: chromiumArgs(webgpu, extraArgs), timeout: 60_000 });
}

/**
 * Chromium as a returning visitor has it: a browser with its own profile on disk (a fresh
 * temporary directory), where the HTTP cache, the Cache API and V8's code caches persist from
 * one page to the next. (`browser.newContext()` gives an off-the-record context instead.)
 * Same flags as launchBrowser. Resolves to the profile's context; `close()` ends the browser
 * and removes the directory.
 */
export async function launchProfile({ webgpu = true, extraArgs = [] } = {}) {
  const { chromium } = await import("playwright-core");
  const dir = await mkdtemp(join(tmpdir(), "geodetect-profile-"));
  const context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: chromiumArgs(webgpu, extraArgs), timeout: 60_000 });
  return {
    context,
    async close() {
      await context.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The flags of both launchers. */
function chromiumArgs(webgpu, extraArgs) {
  const args = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--disable-quic",
  ];
  if (webgpu) args.push("--enable-unsafe-webgpu");
  args.push(...extraArgs);
  return args;
}

/** A loopback port nobody listens on now (never 8080, the dev server's). */
export async function freePort() {
  for (;;) {
    const port = await new Promise((ok, fail) => {
      const s = createNetServer();
      s.once("error", fail);
      s.listen(0, "127.0.0.1", () => {
        const { port } = s.address();
        s.close(() => ok(port));
      });
    });
    if (port !== 8080) return port;
  }
}

/** The marina's tiles at zoom 19: x 272953..272960, y 191175..191179. */
export const MARINA_TILES = Object.freeze({ x0: 272953, nx: 8, y0: 191175, ny: 5 });

/**
 * A `rewrite` for startStaticServer: any zoom-19 tile address under `prefix` (e.g.
 * "/tiles/marina/19/") becomes the marina tile at the same place modulo its 8 x 5 tiles, so
 * that an area of any size has real imagery everywhere.
 * @param {string} prefix
 */
export function repeatMarinaTiles(prefix) {
  const wrap = (v, v0, n) => v0 + ((((v - v0) % n) + n) % n);
  const { x0, nx, y0, ny } = MARINA_TILES;
  const escaped = prefix.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const pattern = new RegExp(`^${escaped}(\\d+)/(\\d+)\\.png$`);
  return (path) => path.replace(pattern, (_, x, y) => `${prefix}${wrap(Number(x), x0, nx)}/${wrap(Number(y), y0, ny)}.png`);
}

/**
 * Collect what a page says (console, including its workers; uncaught errors; failed and
 * HTTP-error requests) so a failing test can print it.
 */
export function watchPage(page) {
  const lines = [];
  const t0 = Date.now();
  const log = (s) => lines.push(`[+${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`);
  page.on("console", (m) => log(`console.${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => log(`pageerror: ${e?.stack ?? e}`));
  page.on("crash", () => log("page crashed"));
  page.on("requestfailed", (r) => log(`requestfailed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ""}`));
  page.on("response", (r) => {
    if (r.status() >= 400) log(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
  page.on("worker", (w) => {
    log(`worker started: ${w.url()}`);
    w.on("close", () => log(`worker closed: ${w.url()}`));
  });
  return {
    lines,
    log,
    text: () => (lines.length ? lines.join("\n") : "(the page logged nothing)"),
  };
}

/**
 * Run `fn(page, watch)` in a fresh page of `context`; on failure, attach what the page
 * logged to the test output (TAP `#` lines) and to the error.
 */
export async function withPage(t, context, fn) {
  const page = await context.newPage();
  const watch = watchPage(page);
  try {
    return await fn(page, watch);
  } catch (e) {
    t.diagnostic(`page log (${page.url()}):`);
    for (const line of watch.lines) t.diagnostic(`  ${line}`);
    if (e && typeof e === "object" && typeof e.message === "string") e.message += `\n--- page log ---\n${watch.text()}`;
    throw e;
  } finally {
    await page.close().catch(() => {});
  }
}

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".geojson": "application/geo+json",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".webp": "image/webp",
  ".svg": "image/svg+xml",
  ".safetensors": "application/octet-stream",
  ".bin": "application/octet-stream",
};

/**
 * A static file server on 127.0.0.1 (random port). `mounts` maps URL prefixes to
 * directories (longest prefix wins); `proxy` maps URL prefixes to an origin that
 * requests are forwarded to. `headers` are added to every response (after
 * `cache-control: no-store`, so they may replace it), `headersFor(pathname)` returns more
 * for one path, and `rewrite(pathname)` the path to serve instead. A request for one byte
 * range gets 206 with that range, unless `ranges` is false (a server that ignores `Range`
 * and sends the whole file). Returns { url, close, requests } where `requests` lists every
 * path served.
 */
export async function startStaticServer({ mounts = { "/": REPO }, proxy = {}, headers = {}, headersFor = () => ({}), rewrite = (p) => p, ranges = true } = {}) {
  const mountList = Object.entries(mounts).sort((a, b) => b[0].length - a[0].length);
  const proxyList = Object.entries(proxy).sort((a, b) => b[0].length - a[0].length);
  const requests = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://x");
    requests.push(url.pathname);
    const common = { "cache-control": "no-store", ...headers, ...headersFor(url.pathname) };
    for (const [prefix, origin] of proxyList) {
      if (url.pathname.startsWith(prefix)) {
        const target = new URL(req.url, origin);
        const up = httpRequest(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        });
        up.on("error", (e) => {
          res.writeHead(502, { "content-type": "text/plain", ...common });
          res.end(`proxy error: ${e.message}`);
        });
        req.pipe(up);
        return;
      }
    }
    const pathname = rewrite(url.pathname);
    const mount = mountList.find(([prefix]) => pathname.startsWith(prefix));
    if (!mount || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, common).end("not found");
      return;
    }
    const [prefix, dir] = mount;
    let rel;
    try {
      rel = decodeURIComponent(pathname.slice(prefix.length));
    } catch {
      res.writeHead(400, common).end("bad path");
      return;
    }
    const base = resolve(dir);
    let file = normalize(join(base, rel));
    if (file !== base && !file.startsWith(base + sep)) {
      res.writeHead(403, common).end("forbidden");
      return;
    }
    try {
      let st = await stat(file);
      if (st.isDirectory()) {
        file = join(file, "index.html");
        st = await stat(file);
      }
      const type = MIME[extname(file).toLowerCase()] ?? "application/octet-stream";
      // One byte range (`Range: bytes=a-b`), as static hosts answer it: 206, or 416 past the end.
      const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
      if (range && ranges) {
        const start = Number(range[1]);
        const end = Math.min(range[2] ? Number(range[2]) : st.size - 1, st.size - 1);
        if (start >= st.size || end < start) {
          res.writeHead(416, { "content-range": `bytes */${st.size}`, ...common }).end();
          return;
        }
        res.writeHead(206, { "content-type": type, "content-length": end - start + 1, "content-range": `bytes ${start}-${end}/${st.size}`, "accept-ranges": "bytes", ...common });
        if (req.method === "HEAD") res.end();
        else createReadStream(file, { start, end }).pipe(res);
        return;
      }
      res.writeHead(200, { "content-type": type, "content-length": st.size, ...common });
      if (req.method === "HEAD") res.end();
      else createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404, { "content-type": "text/plain", ...common }).end("not found");
    }
  });
  await new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", ok);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((ok) => {
      server.closeAllConnections?.();
      server.close(() => ok());
    }),
  };
}

// ---------------------------------------------------------------------------------------
// Geometry
// ---------------------------------------------------------------------------------------

/** Global pixel coordinates of lon/lat at `zoom` (Web Mercator, `tileSize` px tiles). */
export function lonLatToPixel([lon, lat], zoom, tileSize = 256) {
  const scale = tileSize * 2 ** zoom;
  const x = ((lon + 180) / 360) * scale;
  const s = Math.sin((lat * Math.PI) / 180);
  const y = (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * scale;
  return [x, y];
}

/** Inverse of lonLatToPixel. */
export function pixelToLonLat([x, y], zoom, tileSize = 256) {
  const scale = tileSize * 2 ** zoom;
  const lon = (x / scale) * 360 - 180;
  const n = Math.PI - (2 * Math.PI * y) / scale;
  const lat = (180 / Math.PI) * Math.atan(Math.sinh(n));
  return [lon, lat];
}

/**
 * A rectangle of the marina's zoom-19 imagery as a GeoJSON Polygon: `w` x `h` pixels from 8 px
 * inside tile (x0 + dx, y0 + dy) of MARINA_TILES.
 * @param {number} dx
 * @param {number} dy
 * @param {number} w
 * @param {number} h
 */
export function marinaArea(dx, dy, w, h) {
  const [x, y] = [(MARINA_TILES.x0 + dx) * 256 + 8, (MARINA_TILES.y0 + dy) * 256 + 8];
  const ring = [[0, 0], [w, 0], [w, h], [0, h], [0, 0]].map(([a, b]) => pixelToLonLat([x + a, y + b], 19));
  return { type: "Polygon", coordinates: [ring] };
}

/** Signed area of a ring in its own units (positive = counter-clockwise in lon/lat). */
export function signedArea(ring) {
  let a = 0;
  for (let i = 0; i + 1 < ring.length; i++) a += ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1];
  return a / 2;
}

/** Even-odd point-in-ring test. */
function inRing([x, y], ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** The polygons (arrays of rings) of a GeoJSON Polygon/MultiPolygon/Feature/FeatureCollection. */
export function polygonsOf(geojson) {
  switch (geojson?.type) {
    case "Polygon":
      return [geojson.coordinates];
    case "MultiPolygon":
      return geojson.coordinates;
    case "Feature":
      return polygonsOf(geojson.geometry);
    case "FeatureCollection":
      return geojson.features.flatMap(polygonsOf);
    default:
      throw new Error(`not an area: ${geojson?.type}`);
  }
}

/** Point in a GeoJSON area (holes respected). */
export function pointInArea(pt, area) {
  return polygonsOf(area).some(([outer, ...holes]) => inRing(pt, outer) && !holes.some((h) => inRing(pt, h)));
}

/** The distinct corners of a closed ring (drops the closing position). */
export function corners(ring) {
  const same = (a, b) => a[0] === b[0] && a[1] === b[1];
  return ring.length > 1 && same(ring[0], ring[ring.length - 1]) ? ring.slice(0, -1) : ring.slice();
}

/** Centre (mean of the corners) of a detection polygon, in lon/lat. */
export function centreOf(feature) {
  const cs = corners(feature.geometry.coordinates[0]);
  return [cs.reduce((s, c) => s + c[0], 0) / cs.length, cs.reduce((s, c) => s + c[1], 0) / cs.length];
}

/**
 * Problems with a detections FeatureCollection as RFC 7946 output of geodetect: a list of
 * strings, empty when valid.
 */
export function validateDetections(fc) {
  const problems = [];
  if (fc?.type !== "FeatureCollection") return [`type is ${fc?.type}, not FeatureCollection`];
  if (!Array.isArray(fc.features)) return ["features is not an array"];
  fc.features.forEach((f, i) => {
    const p = (s) => problems.push(`feature ${i}: ${s}`);
    if (f?.type !== "Feature") return p(`type is ${f?.type}`);
    if (f.geometry?.type !== "Polygon") return p(`geometry type is ${f.geometry?.type}`);
    const rings = f.geometry.coordinates;
    if (!Array.isArray(rings) || rings.length < 1) return p("no rings");
    rings.forEach((ring, r) => {
      if (!Array.isArray(ring) || ring.length < 4) return p(`ring ${r} has ${ring?.length} positions (< 4)`);
      for (const pos of ring) {
        if (!Array.isArray(pos) || pos.length < 2 || !pos.every(Number.isFinite)) return p(`ring ${r} has a bad position ${JSON.stringify(pos)}`);
        if (pos[0] < -180 || pos[0] > 180 || pos[1] < -90 || pos[1] > 90) return p(`ring ${r} position out of range ${JSON.stringify(pos)}`);
      }
      const [a, b] = [ring[0], ring[ring.length - 1]];
      if (a[0] !== b[0] || a[1] !== b[1]) p(`ring ${r} is not closed`);
      const area = signedArea(ring);
      if (r === 0 && !(area > 0)) p(`exterior ring is not counter-clockwise (signed area ${area})`);
      if (r > 0 && !(area < 0)) p(`hole ${r} is not clockwise`);
    });
    const props = f.properties;
    if (typeof props?.class !== "string" || !props.class) p(`properties.class is ${JSON.stringify(props?.class)}`);
    if (!Number.isInteger(props?.classId) || props.classId < 0) p(`properties.classId is ${JSON.stringify(props?.classId)}`);
    if (typeof props?.score !== "number" || !(props.score >= 0 && props.score <= 1)) p(`properties.score is ${JSON.stringify(props?.score)}`);
  });
  return problems;
}

/**
 * One-to-one matching of two detection sets (e.g. browser vs native): same class, centre
 * within `tolPx` pixels at `zoom`, score within `tolScore`, each corner within `tolPx`.
 * Detections left unmatched only count as mismatches unless their score is within
 * `tolScore` of `confidence` (they may legitimately fall on either side of the
 * threshold). Returns { ok, matched, problems, borderline }.
 */
export function matchDetections(a, b, { zoom, tileSize = 256, tolPx = 0.5, tolScore = 1e-3, confidence = 0.25, labels = ["a", "b"] } = {}) {
  const px = (f) => f.geometry.coordinates[0].map((p) => lonLatToPixel(p, zoom, tileSize));
  const prep = (f, i) => {
    const ring = corners(px(f));
    const c = [ring.reduce((s, q) => s + q[0], 0) / ring.length, ring.reduce((s, q) => s + q[1], 0) / ring.length];
    return { i, f, ring, c, cls: f.properties.class, score: f.properties.score };
  };
  const A = a.features.map(prep);
  const B = b.features.map(prep);
  const dist = (p, q) => Math.hypot(p[0] - q[0], p[1] - q[1]);
  // All candidate pairs of the same class within tolerance, closest first.
  const pairs = [];
  for (const x of A) for (const y of B) {
    if (x.cls !== y.cls) continue;
    const d = dist(x.c, y.c);
    if (d <= tolPx * 4) pairs.push({ x, y, d });
  }
  pairs.sort((p, q) => p.d - q.d);
  const usedA = new Set();
  const usedB = new Set();
  const problems = [];
  let matched = 0;
  for (const { x, y, d } of pairs) {
    if (usedA.has(x.i) || usedB.has(y.i)) continue;
    usedA.add(x.i);
    usedB.add(y.i);
    const why = [];
    if (d > tolPx) why.push(`centre ${d.toFixed(3)} px apart`);
    if (Math.abs(x.score - y.score) > tolScore) why.push(`scores ${x.score.toFixed(5)} vs ${y.score.toFixed(5)}`);
    // Corners: same order expected, allow a cyclic shift.
    let best = Infinity;
    if (x.ring.length === y.ring.length) {
      for (let s = 0; s < x.ring.length; s++) {
        const worst = Math.max(...x.ring.map((p, k) => dist(p, y.ring[(k + s) % y.ring.length])));
        best = Math.min(best, worst);
      }
    }
    if (!(best <= tolPx)) why.push(x.ring.length === y.ring.length ? `a corner ${best.toFixed(3)} px apart` : `${x.ring.length} vs ${y.ring.length} corners`);
    if (why.length) problems.push(`${x.cls} at px (${x.c[0].toFixed(1)}, ${x.c[1].toFixed(1)}): ${why.join(", ")}`);
    else matched++;
  }
  const borderline = [];
  for (const [set, used, label] of [[A, usedA, labels[0]], [B, usedB, labels[1]]]) {
    for (const x of set) {
      if (used.has(x.i)) continue;
      const desc = `${x.cls} score ${x.score.toFixed(5)} at px (${x.c[0].toFixed(1)}, ${x.c[1].toFixed(1)}) only in ${label}`;
      if (Math.abs(x.score - confidence) <= tolScore) borderline.push(desc);
      else problems.push(desc);
    }
  }
  return { ok: problems.length === 0, matched, problems, borderline, counts: [A.length, B.length] };
}
