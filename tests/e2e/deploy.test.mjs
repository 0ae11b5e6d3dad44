// The production hosting: the site built by www/deploy/build-site.mjs, served by real nginx
// with www/deploy/nginx's config (started through www/deploy/nginx/serve.sh), checked header
// by header against www/deploy/headers.json and the builder's plan (site.json), then the demo
// in headless Chromium through it: cross-origin isolated, no CSP violation, a detection.
//
// Needs what the builder needs (pkg/wasm*, www/models, www/tiles: tests/setup.sh), Debian's
// nginx with libnginx-mod-http-brotli-static, and /usr/bin/chromium.
//   cd tests/e2e && node --test --test-reporter=spec deploy.test.mjs
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile as execFileCb } from "node:child_process";
import { request as httpRequest } from "node:http";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { REPO, freePort, launchBrowser, validateDetections, withPage } from "./helpers.mjs";

const execFile = promisify(execFileCb);
const MINUTE = 60_000;
const SERVE = join(REPO, "www/deploy/nginx/serve.sh");
const HEADERS = JSON.parse(await readFile(join(REPO, "www/deploy/headers.json"), "utf8"));

/** The CSP headers.json describes, for these extra origins. */
function expectedCsp(tileHosts = "", modelHosts = "") {
  return HEADERS.contentSecurityPolicy
    .map((d) => d.replaceAll("{TILE_HOSTS}", tileHosts).replaceAll("{MODEL_HOSTS}", modelHosts).replace(/\s+/g, " ").trim())
    .join("; ");
}

const isCrossOriginPath = (path) => HEADERS.crossOriginPaths.some((p) => path.startsWith(p));

/** One HTTP request with node's http (no decompression): { status, headers, body: Buffer }. */
function http(base, path, { method = "GET", headers = {} } = {}) {
  return new Promise((ok, fail) => {
    const req = httpRequest(`${base}${path}`, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => ok({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", fail);
    });
    req.on("error", fail);
    req.end();
  });
}

/** The body as the client sees it after undoing Content-Encoding. */
function decoded(res) {
  const enc = res.headers["content-encoding"];
  if (enc === "br") return brotliDecompressSync(res.body);
  if (enc === "gzip") return gunzipSync(res.body);
  assert.equal(enc, undefined, `unexpected Content-Encoding ${enc}`);
  return res.body;
}

/** Start the production nginx on a free port for `site`; returns { base, stop, prefix }. */
async function startNginx(site, prefix, env = {}) {
  const port = await freePort();
  const fullEnv = { ...process.env, PORT: String(port), SITE: site, NGINX_PREFIX: prefix, ...env };
  const { stdout } = await execFile(SERVE, ["start"], { env: fullEnv });
  return {
    base: `http://127.0.0.1:${port}`,
    prefix,
    started: stdout.trim(),
    stop: () => execFile(SERVE, ["stop"], { env: fullEnv }),
  };
}

let work;
let site;
let plan;
let server;

before(async () => {
  work = await mkdtemp(join(tmpdir(), "geodetect-deploy-"));
  await execFile(process.execPath, [join(REPO, "www/deploy/build-site.mjs"), "--out", work], { maxBuffer: 1 << 24 });
  site = join(work, "site");
  plan = JSON.parse(await readFile(join(work, "site.json"), "utf8"));
  // Things no site should serve, whatever the builder puts there.
  await writeFile(join(site, ".env"), "SECRET=1\n");
  await mkdir(join(site, "assets/.git"), { recursive: true });
  await writeFile(join(site, "assets/.git/config"), "[core]\n");
  await mkdir(join(site, ".well-known"), { recursive: true });
  await writeFile(join(site, ".well-known/security.txt"), "Contact: mailto:security@example.org\n");
  server = await startNginx(site, join(work, "nginx"));
});

after(async () => {
  await server?.stop().catch(() => {});
  if (work) await rm(work, { recursive: true, force: true });
});

/** The plan entry of the first file whose path matches `re`. */
function pick(re) {
  const f = plan.files.find((x) => re.test(x.path));
  assert.ok(f, `the built site has no file matching ${re}`);
  return f;
}

/** The headers every response carries (security, isolation; CORP and CORS by path). */
function assertCommonHeaders(res, path, what, { coep = "credentialless" } = {}) {
  const h = res.headers;
  assert.equal(h["content-security-policy"], expectedCsp(), `${what}: CSP`);
  for (const [k, v] of Object.entries(HEADERS.security)) assert.equal(h[k.toLowerCase()], v, `${what}: ${k}`);
  assert.equal(h["cross-origin-opener-policy"], HEADERS.isolation["Cross-Origin-Opener-Policy"], `${what}: COOP`);
  assert.equal(h["cross-origin-embedder-policy"], coep, `${what}: COEP`);
  const xo = isCrossOriginPath(path);
  assert.equal(h["cross-origin-resource-policy"], xo ? "cross-origin" : HEADERS.isolation["Cross-Origin-Resource-Policy"], `${what}: CORP`);
  if (xo) {
    assert.equal(h["access-control-allow-origin"], HEADERS.cors["Access-Control-Allow-Origin"], `${what}: ACAO`);
    assert.equal(h["access-control-expose-headers"], HEADERS.cors["Access-Control-Expose-Headers"], `${what}: Expose-Headers`);
  } else {
    assert.equal(h["access-control-allow-origin"], undefined, `${what}: no CORS outside ${HEADERS.crossOriginPaths}`);
  }
  assert.equal(h.server, "nginx", `${what}: server_tokens off`);
}

describe("production nginx (www/deploy/nginx) serving the built site", () => {
  test("the CSP is what headers.json says, and safe", () => {
    const csp = expectedCsp();
    assert.match(csp, /(^|; )script-src 'self' 'wasm-unsafe-eval'(;|$)/);
    assert.doesNotMatch(csp, /'unsafe-eval'|'unsafe-inline'/);
    for (const d of ["worker-src", "connect-src", "img-src", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"]) {
      assert.ok(csp.includes(d), `CSP has ${d}`);
    }
    assert.doesNotMatch(csp, /\s\s|\s;/, "no double spaces left by empty placeholders");
  });

  test("the rendered config: extra tile and model origins, COEP, bad values refused", async () => {
    const env = {
      ...process.env,
      SITE: site,
      NGINX_PREFIX: join(work, "render"),
      TILE_HOSTS: " https://server.arcgisonline.com  https://*.tile.openstreetmap.org ",
      MODEL_HOSTS: "https://models.example.org",
      COEP: "require-corp",
    };
    const { stdout } = await execFile(SERVE, ["render"], { env });
    const csp = expectedCsp("https://server.arcgisonline.com https://*.tile.openstreetmap.org", "https://models.example.org");
    assert.ok(stdout.includes(`default "${csp}";`), `the CSP with the hosts:\n${csp}`);
    assert.match(csp, /connect-src 'self' https:\/\/server\.arcgisonline\.com https:\/\/\*\.tile\.openstreetmap\.org https:\/\/models\.example\.org;/);
    assert.match(stdout, /\$geodetect_cross_origin_embedder_policy_out \{\s*volatile;\s*416 "";\s*default "require-corp";/);
    assert.match(stdout, /load_module "\/usr\/lib\/nginx\/modules\/ngx_http_brotli_static_module\.so";/);
    assert.match(stdout, /error_page 500 502 503 504 \/50x\.html;/);
    assert.match(stdout, /error_page 404 \/404\.html;/);
    assert.match(stdout, /listen 127\.0\.0\.1:\d+;/);
    assert.doesNotMatch(stdout, /@[A-Z_:.]+@/, "no placeholder left");
    // No location may have its own add_header (it would drop the server's).
    const server = stdout.slice(stdout.indexOf("server {"));
    const adds = [...server.matchAll(/^\s*add_header /gm)].length;
    const headerCount = 1 + Object.keys(HEADERS.security).length + 3 + Object.keys(HEADERS.cors).length + 1;
    assert.equal(adds, headerCount, "add_header only in the server block's one list");
    for (const [name, value] of [["TILE_HOSTS", 'https://x.org"; evil'], ["MODEL_HOSTS", "https://x.org;script-src"], ["COEP", "unsafe-none"]]) {
      await assert.rejects(execFile(SERVE, ["render"], { env: { ...env, [name]: value } }), (e) => /serve\.sh: /.test(e.stderr), `${name}=${value} is refused`);
    }
  });

  test("each kind of file, with Accept-Encoding br, gzip and none", async () => {
    const cases = [
      ["/", pick(/^index\.html$/)],
      ["/models/manifest.json", pick(/^models\/manifest\.json$/)],
      [null, pick(/^assets\/app\.[0-9a-f]{10}\.js$/)],
      [null, pick(/^assets\/app\.[0-9a-f]{10}\.css$/)],
      [null, pick(/^assets\/maplibre-gl-worker\.[0-9a-f]{10}\.mjs$/)],
      [null, pick(/^pkg\/worker\.[0-9a-f]{10}\.js$/)],
      [null, pick(/^pkg\/wasm\/geodetect_bg\.[0-9a-f]{10}\.wasm$/)],
      [null, pick(/^models\/.+\.[0-9a-f]{10}\.safetensors$/)],
      [null, pick(/^tiles\/marina\/19\/.+\.png$/)],
      [null, pick(/^tiles\/marina\/tileset\.json$/)],
      [null, pick(/^tiles\/marina\.pmtiles$/)],
      [null, pick(/^aoi\/marina\.geojson$/)],
    ];
    for (const [url, file] of cases) {
      const path = url ?? `/${file.path}`;
      const bytes = await readFile(join(site, file.path));
      const etags = new Set();
      for (const ae of ["br", "gzip", null]) {
        const what = `GET ${path} (Accept-Encoding: ${ae ?? "none"})`;
        const res = await http(server.base, path, { headers: ae ? { "accept-encoding": ae } : {} });
        assert.equal(res.status, 200, what);
        assert.equal(res.headers["content-type"], file.contentType, `${what}: Content-Type`);
        const expectEnc = ae && file.encodings[ae] ? ae : undefined;
        assert.equal(res.headers["content-encoding"], expectEnc, `${what}: Content-Encoding`);
        assert.ok(decoded(res).equals(bytes), `${what}: the decoded body is the file`);
        assert.equal(res.headers["cache-control"], file.cacheControl, `${what}: Cache-Control`);
        assert.match(res.headers.etag ?? "", /^"[^"]+"$/, `${what}: a strong ETag`);
        assert.ok(res.headers["last-modified"], `${what}: Last-Modified`);
        etags.add(res.headers.etag);
        if (Object.keys(file.encodings).length) assert.equal(res.headers.vary, "Accept-Encoding", `${what}: Vary`);
        else assert.equal(res.headers.vary, undefined, `${what}: no Vary without siblings`);
        assertCommonHeaders(res, path, what);

        // Revalidation: 304 with the same ETag and the same headers.
        const again = await http(server.base, path, { headers: { ...(ae ? { "accept-encoding": ae } : {}), "if-none-match": res.headers.etag } });
        assert.equal(again.status, 304, `${what}: If-None-Match -> 304`);
        assert.equal(again.body.length, 0);
        assert.equal(again.headers.etag, res.headers.etag, `${what}: 304 ETag`);
        assert.equal(again.headers["cache-control"], file.cacheControl, `${what}: 304 Cache-Control`);
        assertCommonHeaders(again, path, `${what} 304`);
      }
      const distinct = 1 + ["br", "gzip"].filter((e) => file.encodings[e]).length;
      assert.equal(etags.size, distinct, `${path}: one ETag per representation`);
    }
  });

  test("byte ranges on the wasm and the weights: 206 for identity, the whole file when compressed", async () => {
    for (const file of [pick(/^pkg\/wasm\/geodetect_bg\.[0-9a-f]{10}\.wasm$/), pick(/^models\/.+\.[0-9a-f]{10}\.safetensors$/)]) {
      const path = `/${file.path}`;
      const bytes = await readFile(join(site, file.path));
      const size = bytes.length;

      const res = await http(server.base, path, { headers: { range: "bytes=100-1099" } });
      assert.equal(res.status, 206, `${path}: Range -> 206`);
      assert.equal(res.headers["content-range"], `bytes 100-1099/${size}`);
      assert.equal(res.headers["content-length"], "1000");
      assert.ok(res.body.equals(bytes.subarray(100, 1100)), `${path}: the range's bytes`);
      assert.equal(res.headers["content-type"], file.contentType);
      assert.equal(res.headers["cache-control"], file.cacheControl);
      assert.ok(res.headers.etag);
      assertCommonHeaders(res, path, `${path} 206`);

      const tail = await http(server.base, path, { headers: { range: "bytes=-100", "accept-encoding": "identity" } });
      assert.equal(tail.status, 206);
      assert.equal(tail.headers["content-range"], `bytes ${size - 100}-${size - 1}/${size}`);
      assert.ok(tail.body.equals(bytes.subarray(size - 100)));

      const plain = await http(server.base, path);
      assert.equal(plain.headers["accept-ranges"], "bytes", `${path}: Accept-Ranges on the identity response`);
      const ifRange = await http(server.base, path, { headers: { range: "bytes=0-9", "if-range": plain.headers.etag } });
      assert.equal(ifRange.status, 206, `${path}: If-Range with the current ETag`);

      // 416: nginx 1.22 runs its header filters twice here; each header must still come once.
      const beyond = await http(server.base, path, { headers: { range: `bytes=${size}-` } });
      assert.equal(beyond.status, 416, `${path}: unsatisfiable range`);
      assert.equal(beyond.headers["content-range"], `bytes */${size}`);
      assertCommonHeaders(beyond, path, `${path} 416`);
      const failed = await http(server.base, path, { headers: { "if-match": '"not-this-one"' } });
      assert.equal(failed.status, 412, `${path}: If-Match mismatch`);
      assertCommonHeaders(failed, path, `${path} 412`);

      // nginx serves ranges of identity responses only: with Accept-Encoding br (or gzip)
      // and a sibling, the Range is ignored and the whole compressed file comes (200, no
      // Accept-Ranges). Browsers send "Accept-Encoding: identity" with their Range requests.
      for (const enc of ["br", "gzip"]) {
        if (!file.encodings[enc]) continue;
        const z = await http(server.base, path, { headers: { range: "bytes=100-1099", "accept-encoding": enc } });
        assert.equal(z.status, 200, `${path}: Range + Accept-Encoding ${enc} -> 200, the whole representation`);
        assert.equal(z.headers["content-encoding"], enc);
        assert.equal(z.headers["content-range"], undefined);
        assert.equal(z.headers["accept-ranges"], undefined);
        assert.ok(decoded(z).equals(bytes), `${path}: the whole file, ${enc}-encoded`);
        assertCommonHeaders(z, path, `${path} Range+${enc}`);
      }
    }
  });

  test("every file of the plan: status, Content-Type, Cache-Control, CORP", async () => {
    const internal = new Set(["404.html", "50x.html"]);
    let n = 0;
    for (const file of plan.files) {
      const path = `/${file.path}`;
      const res = await http(server.base, path, { method: "HEAD" });
      if (internal.has(file.path)) {
        assert.equal(res.status, 404, `${path} answers only as an error page`);
        continue;
      }
      assert.equal(res.status, 200, path);
      assert.equal(res.headers["content-type"], file.contentType, `${path}: Content-Type`);
      assert.equal(res.headers["cache-control"], file.cacheControl, `${path}: Cache-Control (kind ${file.kind})`);
      assert.equal(Number(res.headers["content-length"]), file.size, `${path}: Content-Length`);
      assertCommonHeaders(res, path, `HEAD ${path}`);
      n++;
    }
    assert.ok(n > 100, `${n} files checked`);
  });

  test("/healthz is static JSON, not stored", async () => {
    for (const method of ["GET", "HEAD"]) {
      const res = await http(server.base, "/healthz", { method, headers: { "accept-encoding": "br, gzip" } });
      assert.equal(res.status, 200);
      assert.equal(res.headers["content-type"], "application/json");
      assert.equal(res.headers["cache-control"], HEADERS.cacheControl.health);
      assertCommonHeaders(res, "/healthz", `${method} /healthz`);
      if (method === "GET") {
        const body = JSON.parse(decoded(res).toString("utf8"));
        assert.equal(body.status, "ok");
        assert.equal(body.build, plan.build);
      }
    }
  });

  test("missing and hidden paths: the custom 404 page, with every header", async () => {
    const page404 = await readFile(join(site, "404.html"));
    for (const path of ["/nope", "/assets/app.0000000000.js", "/models/nope.safetensors", "/tiles/marina/30/0/0.png", "/pkg/", "/.env", "/assets/.git/config", "/.well-known/../.env", "/index.html.br", "/models/manifest.json.gz", "/404.html", "/50x.html"]) {
      for (const ae of ["br", null]) {
        const what = `GET ${path} (Accept-Encoding: ${ae ?? "none"})`;
        const res = await http(server.base, path, { headers: ae ? { "accept-encoding": ae } : {} });
        assert.equal(res.status, 404, what);
        assert.equal(res.headers["content-type"], "text/html; charset=utf-8", what);
        assert.ok(decoded(res).equals(page404), `${what}: the custom 404 page`);
        assert.equal(res.headers["cache-control"], "no-store", `${what}: error responses are not stored`);
        assertCommonHeaders(res, path, what);
      }
    }
    const wellKnown = await http(server.base, "/.well-known/security.txt");
    assert.equal(wellKnown.status, 200, "/.well-known/ is not hidden");
    const page = await readFile(join(site, "404.html"), "utf8");
    assert.doesNotMatch(page, /<script|<style|\sstyle=|\son[a-z]+=/i, "no inline script or style (the CSP forbids them)");
    const css = page.match(/href="(\/assets\/error\.[0-9a-f]{10}\.css)"/)?.[1];
    assert.ok(css, "the error page's stylesheet, hashed");
    assert.equal((await http(server.base, css)).status, 200);
    // The 50x page: same rules, reachable only through error_page (checked in the rendered config).
    const page50x = await readFile(join(site, "50x.html"), "utf8");
    assert.doesNotMatch(page50x, /<script|<style|\sstyle=|\son[a-z]+=/i);
    assert.ok(page50x.includes(css), "the 50x page uses the same stylesheet");
    const conf = await readFile(join(server.prefix, "nginx.conf"), "utf8");
    assert.match(conf, /error_page 500 502 503 504 \/50x\.html;/);
  });

  test("a PMTiles archive answers byte ranges, cross-origin, uncompressed, ETag exposed", async () => {
    const file = pick(/^tiles\/marina\.pmtiles$/);
    assert.deepEqual(file.encodings, {}, "never precompressed: ranges are of the file itself");
    const bytes = await readFile(join(site, file.path));
    const res = await http(server.base, `/${file.path}`, { headers: { range: "bytes=0-16383", origin: "https://other.example", "accept-encoding": "br, gzip" } });
    assert.equal(res.status, 206);
    assert.equal(res.headers["content-range"], `bytes 0-16383/${bytes.length}`);
    assert.equal(res.headers["content-encoding"], undefined);
    assert.ok(res.body.equals(bytes.subarray(0, 16384)), "the first 16 KiB of the archive");
    assert.equal(res.headers["access-control-allow-origin"], "*");
    assert.match(res.headers["access-control-expose-headers"] ?? "", /ETag/i);
    assert.ok(res.headers.etag, "an ETag, so a replaced archive is noticed");
    assert.equal(res.headers["cache-control"], HEADERS.cacheControl.tile);
  });

  test("CORS preflights on /pkg/, /models/ and /tiles/; none elsewhere", async () => {
    const preflight = {
      origin: "https://other.example",
      "access-control-request-method": "GET",
      "access-control-request-headers": "range",
    };
    for (const path of ["/models/manifest.json", `/${pick(/^models\/.+\.safetensors$/).path}`, `/${pick(/^tiles\/marina\/19\/.+\.png$/).path}`, `/${pick(/^pkg\/index\.[0-9a-f]{10}\.js$/).path}`]) {
      const res = await http(server.base, path, { method: "OPTIONS", headers: preflight });
      assert.equal(res.status, 204, `OPTIONS ${path}`);
      for (const [k, v] of Object.entries(HEADERS.cors)) assert.equal(res.headers[k.toLowerCase()], String(v), `OPTIONS ${path}: ${k}`);
      assertCommonHeaders(res, path, `OPTIONS ${path}`);
      // A simple cross-origin GET gets the CORS headers but not the preflight-only ones.
      const get = await http(server.base, path, { headers: { origin: "https://other.example" } });
      assert.equal(get.status, 200, `GET ${path}`);
      assert.equal(get.headers["access-control-allow-methods"], undefined, `GET ${path}: no preflight headers`);
      assert.equal(get.headers["access-control-max-age"], undefined);
    }
    const res = await http(server.base, "/", { method: "OPTIONS", headers: preflight });
    assert.notEqual(res.status, 204, "no preflight answer for the page");
    assert.equal(res.headers["access-control-allow-origin"], undefined);
  });
});

describe("the demo through the production nginx in headless Chromium", () => {
  let browser;
  before(async () => {
    browser = await launchBrowser({ webgpu: true });
  });
  after(async () => {
    await browser?.close();
  });

  /** Record CSP violations of the page (the init script) and its console errors. */
  async function openDemo(t, context, base, fn) {
    await context.addInitScript(() => {
      window.__cspViolations = [];
      document.addEventListener("securitypolicyviolation", (e) => {
        window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`);
      });
    });
    return withPage(t, context, async (page, watch) => {
      const errors = [];
      const responses = [];
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
      page.on("requestfailed", (r) => errors.push(`requestfailed: ${r.url()} ${r.failure()?.errorText ?? ""}`));
      page.on("response", (r) => responses.push(r));
      await page.goto(`${base}/`);
      const out = await fn(page, watch);
      const violations = await page.evaluate(() => window.__cspViolations);
      return { ...out, errors, violations, responses };
    });
  }

  test("cross-origin isolated, no CSP violation, no console error, and a detection", { timeout: 12 * MINUTE }, async (t) => {
    const context = await browser.newContext();
    try {
      const out = await openDemo(t, context, server.base, async (page) => {
        const isolated = await page.evaluate(() => window.crossOriginIsolated);
        // The map demo starts on the marina with its committed AOI (/aoi/marina.geojson, the
        // only one with objects of the model's classes) drawn, at its native zoom 19.
        await page.waitForFunction(() => window.demo?.ready === true && window.demo.currentArea() !== null);
        await page.click("#run");
        await page.waitForFunction(() => /^(Done|Failed)/.test(document.querySelector("#stage").textContent), null, { timeout: 10 * MINUTE });
        // The map draws the result on a later frame (its GeoJSON source is parsed in a worker of
        // MapLibre's): wait for that before asking what it drew, as the demo test does. A map
        // that never draws it is the assertion's to report, so the wait gives up after 30 s.
        if (/^Done/.test(await page.textContent("#stage"))) {
          await page.evaluate(() => window.demo.idle());
          await page
            .waitForFunction(() => window.demo.map.queryRenderedFeatures({ layers: ["detections-fill"] }).length > 0, null, { timeout: 30_000 })
            .catch(() => {});
        }
        // A Range request from the page: the Fetch standard sends Accept-Encoding: identity
        // with it, so nginx answers 206 even though a .br sibling exists.
        const wasmPath = `/${pick(/^pkg\/wasm\/geodetect_bg\.[0-9a-f]{10}\.wasm$/).path}`;
        const ranged = await page.evaluate(async (url) => {
          const r = await fetch(url, { headers: { Range: "bytes=0-3" } });
          return { status: r.status, range: r.headers.get("content-range"), bytes: [...new Uint8Array(await r.arrayBuffer())] };
        }, wasmPath);
        return {
          isolated,
          ranged,
          imageryShown: await page.evaluate(() => window.demo.map.getLayer("imagery") !== undefined && window.demo.map.isSourceLoaded("imagery")),
          rendered: await page.evaluate(() => window.demo.map.queryRenderedFeatures({ layers: ["detections-fill"] }).length),
          stage: await page.textContent("#stage"),
          error: await page.textContent("#error"),
          facts: await page.textContent("#facts"),
          detections: await page.evaluate(() => window.demo.result?.detections ?? null),
        };
      });
      t.diagnostic(`demo: ${out.stage}; ${out.facts}`);
      assert.equal(out.isolated, true, "crossOriginIsolated");
      assert.deepEqual(out.violations, [], "securitypolicyviolation events");
      assert.deepEqual(out.errors, [], "console errors, page errors and failed requests");
      assert.match(out.stage, /^Done: \d+ detections/, out.error);
      assert.deepEqual(validateDetections(out.detections), []);
      assert.ok(out.detections.features.length > 0, "a non-empty FeatureCollection");
      assert.ok(out.imageryShown, "the map shows the imagery");
      assert.ok(out.rendered > 0, "the map draws the detections");
      assert.equal(out.ranged.status, 206, "a ranged fetch() of the engine");
      assert.match(out.ranged.range ?? "", /^bytes 0-3\/\d+$/);
      assert.deepEqual(out.ranged.bytes, [0x00, 0x61, 0x73, 0x6d], "\\0asm");

      // What came over the wire: hashed names, brotli for the engine, no HTTP errors.
      const seen = out.responses.map((r) => ({ url: new URL(r.url()), status: r.status(), headers: r.headers() }));
      const bad = seen.filter((r) => r.status >= 400);
      assert.deepEqual(bad.map((r) => `${r.status} ${r.url.pathname}`), [], "no HTTP errors");
      const wasm = seen.filter((r) => r.url.pathname.endsWith(".wasm"));
      t.diagnostic(`engines: ${wasm.map((r) => `${r.status} ${r.url.pathname} (${r.headers["content-encoding"] ?? "identity"})`).join(", ")}`);
      assert.ok(wasm.length >= 1, "an engine was downloaded");
      for (const r of wasm) {
        assert.match(r.url.pathname, /^\/pkg\/wasm[a-z-]*\/geodetect_bg\.[0-9a-f]{10}\.wasm$/);
        if (r.status === 200) assert.equal(r.headers["content-encoding"], "br", `${r.url.pathname} came brotli-compressed`);
      }
      assert.ok(seen.some((r) => /^\/models\/.+\.[0-9a-f]{10}\.safetensors$/.test(r.url.pathname)), "the hashed weights were fetched");
      assert.ok(seen.some((r) => /^\/assets\/maplibre-gl-worker\.[0-9a-f]{10}\.mjs$/.test(r.url.pathname) && r.status === 200), "MapLibre's worker, hashed");
      // The demo's marina imagery is one PMTiles archive, read in ranges by MapLibre and geodetect.
      assert.ok(seen.some((r) => r.url.pathname === "/tiles/marina.pmtiles" && r.status === 206), "the archive's ranges");
    } finally {
      await context.close();
    }
  });

  test("COEP=require-corp isolates the page too", { timeout: 3 * MINUTE }, async (t) => {
    const strict = await startNginx(site, join(work, "nginx-require-corp"), { COEP: "require-corp" });
    const context = await browser.newContext();
    try {
      const res = await http(strict.base, "/");
      assert.equal(res.headers["cross-origin-embedder-policy"], "require-corp");
      const out = await openDemo(t, context, strict.base, async (page) => {
        // The demo has read the tile set, drawn the AOI and listed the models.
        await page.waitForFunction(() => window.demo?.ready === true && window.demo.currentArea() !== null);
        await page.waitForFunction(() => document.querySelector("#model option")?.textContent.includes("("));
        return { isolated: await page.evaluate(() => window.crossOriginIsolated) };
      });
      assert.equal(out.isolated, true, "crossOriginIsolated with require-corp");
      assert.deepEqual(out.violations, []);
      assert.deepEqual(out.errors, []);
    } finally {
      await context.close();
      await strict.stop().catch(() => {});
    }
  });
});
