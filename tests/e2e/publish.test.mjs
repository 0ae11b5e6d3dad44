// CloudFront deployment: www/deploy/cloudfront/{publish.mjs,template.yaml,lint.sh}.
//
//   cd tests/e2e && node --test --test-reporter=spec publish.test.mjs
//
// - publish.mjs --dry-run --json on a small fixture site + plan (no builder, no AWS): every
//   object once with the right headers, the upload order, the invalidation paths, errors;
//   and a real run against a fake `aws` on PATH (records its calls), and without any `aws`.
// - template.yaml: its response headers policies equal www/deploy/headers.json (default and
//   custom parameters), its behaviours, cache policies and viewer-request function.
// - lint.sh (cfn-lint, installed from PyPI into .cache/venv-cfn on first use) exits 0.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, readFileSync, symlinkSync, chmodSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const cfDir = path.join(root, 'www/deploy/cloudfront');
const PUBLISH = path.join(cfDir, 'publish.mjs');
const TEMPLATE = path.join(cfDir, 'template.yaml');
const LINT = path.join(cfDir, 'lint.sh');
const HEADERS = JSON.parse(readFileSync(path.join(root, 'www/deploy/headers.json'), 'utf8'));
const CC = HEADERS.cacheControl;

// ------------------------------------------------------------------ fixture site + plan
// [path, kind, hashed, contentType, encodings present]
const FIXTURE = [
  ['index.html', 'html', false, 'text/html; charset=utf-8', ['br', 'gzip']],
  ['404.html', 'html', false, 'text/html; charset=utf-8', []],
  ['50x.html', 'html', false, 'text/html; charset=utf-8', ['gzip']],
  ['docs/index.html', 'html', false, 'text/html; charset=utf-8', ['br', 'gzip']],
  ['assets/app.0123456789.js', 'asset', true, 'text/javascript; charset=utf-8', ['br', 'gzip']],
  ['assets/style.abcdef0123.css', 'asset', true, 'text/css; charset=utf-8', []],
  ['assets/logo.89abcdef01.png', 'asset', true, 'image/png', []],
  ['pkg/geodetect_bg.0a1b2c3d4e.wasm', 'asset', true, 'application/wasm', ['br', 'gzip']],
  ['pkg/geodetect.5f6e7d8c9b.js', 'asset', true, 'text/javascript; charset=utf-8', ['br', 'gzip']],
  ['models/manifest.json', 'entry', false, 'application/json', ['br', 'gzip']],
  ['models/yolov8n-obb.0123abcd45.safetensors', 'weights', true, 'application/octet-stream', ['br', 'gzip']],
  ['aoi/harbour.geojson', 'entry', false, 'application/geo+json', ['gzip']],
  ['tiles/1/0/0.png', 'tile', false, 'image/png', []],
  ['tiles/1/0/1.png', 'tile', false, 'image/png', []],
  ['healthz', 'health', false, 'application/json', []],
];
const EXT = { br: '.br', gzip: '.gz' };

function makeSite(dir, { mutate } = {}) {
  const site = path.join(dir, 'site');
  const files = [];
  for (const [p, kind, hashed, contentType, encs] of FIXTURE) {
    const abs = path.join(site, p);
    mkdirSync(path.dirname(abs), { recursive: true });
    const body = `${p} `.repeat(40);
    writeFileSync(abs, body);
    const encodings = {};
    for (const e of encs) {
      writeFileSync(abs + EXT[e], `${e}:${body.slice(0, 20)}`);
      encodings[e] = p + EXT[e];
    }
    files.push({ path: p, kind, hashed, contentType, cacheControl: CC[kind], size: Buffer.byteLength(body), encodings });
  }
  const plan = { version: 1, files };
  mutate?.(plan, site);
  const planPath = path.join(dir, 'site.json');
  writeFileSync(planPath, JSON.stringify(plan, null, 2));
  return { site, planPath, plan };
}

function publish(args, env = {}) {
  const r = spawnSync(process.execPath, [PUBLISH, ...args], {
    encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function dryRunJson(site, planPath, extra = []) {
  const r = publish(['--site', site, '--plan', planPath, '--bucket', 'geodetect-site-bucket',
    '--distribution', 'E2QWRUHAPOMQZL', '--dry-run', '--json', ...extra]);
  assert.equal(r.code, 0, `publish --dry-run failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

const isCompressible = (p) => /\.(html|js|mjs|css|json|geojson|wasm|svg|txt|xml|map|webmanifest)$/.test(p);

describe('publish.mjs --dry-run', () => {
  let tmp;
  let fx;
  let plan;
  before(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'geodetect-publish-'));
    fx = makeSite(tmp);
    plan = dryRunJson(fx.site, fx.planPath);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test('every file and every sibling uploaded exactly once, with its headers', () => {
    const keys = plan.uploads.map((u) => u.key);
    assert.equal(new Set(keys).size, keys.length, 'duplicate keys');
    const byKey = new Map(plan.uploads.map((u) => [u.key, u]));
    const expected = new Set();
    for (const f of fx.plan.files) {
      const u = byKey.get(f.path);
      assert.ok(u, `${f.path} not uploaded`);
      assert.equal(u.file, path.join(fx.site, f.path));
      assert.equal(u.contentType, f.contentType, f.path);
      assert.equal(u.cacheControl, HEADERS.cacheControl[f.kind], f.path);
      assert.equal(u.contentEncoding, null, f.path);
      assert.equal(u.standIn, false);
      expected.add(f.path);
      for (const enc of ['br', 'gzip']) {
        const key = f.path + EXT[enc];
        const s = byKey.get(key);
        if (f.encodings[enc]) {
          assert.ok(s, `${key} not uploaded`);
          assert.equal(s.file, path.join(fx.site, f.encodings[enc]));
          assert.equal(s.contentEncoding, enc, key);
          assert.equal(s.standIn, false);
        } else if (isCompressible(f.path)) {
          // the viewer function will ask for <uri>.br/.gz: an identity stand-in must be there
          assert.ok(s, `${key}: stand-in missing`);
          assert.equal(s.file, path.join(fx.site, f.path));
          assert.equal(s.contentEncoding, null, `${key}: a stand-in has no Content-Encoding`);
          assert.equal(s.standIn, true);
        } else {
          assert.equal(s, undefined, `${key} uploaded for a non-compressible file`);
          continue;
        }
        // siblings: Content-Type and Cache-Control of the original
        assert.equal(s.contentType, f.contentType, key);
        assert.equal(s.cacheControl, f.cacheControl, key);
        expected.add(key);
      }
    }
    assert.deepEqual(new Set(keys), expected);
    // concrete spot checks
    assert.equal(byKey.get('pkg/geodetect_bg.0a1b2c3d4e.wasm.br').contentType, 'application/wasm');
    assert.equal(byKey.get('pkg/geodetect_bg.0a1b2c3d4e.wasm.br').cacheControl, 'public, max-age=31536000, immutable');
    assert.equal(byKey.get('healthz').cacheControl, 'no-store');
    assert.equal(byKey.get('healthz').contentType, 'application/json');
    assert.equal(byKey.get('tiles/1/0/0.png').cacheControl, 'public, max-age=86400');
    assert.equal(byKey.get('index.html.gz').contentEncoding, 'gzip');
  });

  test('order: hashed assets and weights, then tiles, then entries, HTML last (index.html at the end)', () => {
    const kinds = plan.uploads.map((u) => u.kind);
    const rank = { asset: 0, weights: 0, tile: 1, entry: 2, health: 2, html: 3 };
    for (let i = 1; i < kinds.length; i++) {
      assert.ok(rank[kinds[i - 1]] <= rank[kinds[i]], `${plan.uploads[i - 1].key} (${kinds[i - 1]}) before ${plan.uploads[i].key} (${kinds[i]})`);
    }
    assert.equal(plan.uploads.at(-1).key, 'index.html');
    const firstHtml = kinds.indexOf('html');
    assert.ok(kinds.slice(firstHtml).every((k) => k === 'html'));
    // a file's identity object comes after its siblings
    const pos = new Map(plan.uploads.map((u, i) => [u.key, i]));
    assert.ok(pos.get('models/manifest.json.br') < pos.get('models/manifest.json'));
  });

  test('invalidation: exactly the unhashed HTML, entries and healthz (with their .br/.gz), "/" for index.html', () => {
    assert.equal(plan.invalidation.distribution, 'E2QWRUHAPOMQZL');
    assert.deepEqual(new Set(plan.invalidation.paths), new Set([
      '/', '/index.html', '/index.html.br', '/index.html.gz',
      '/docs/', '/docs/index.html', '/docs/index.html.br', '/docs/index.html.gz',
      '/404.html', '/404.html.br', '/404.html.gz',
      '/50x.html', '/50x.html.br', '/50x.html.gz',
      '/models/manifest.json', '/models/manifest.json.br', '/models/manifest.json.gz',
      '/aoi/harbour.geojson', '/aoi/harbour.geojson.br', '/aoi/harbour.geojson.gz',
      '/healthz',
    ]));
    assert.equal(new Set(plan.invalidation.paths).size, plan.invalidation.paths.length);
    for (const p of plan.invalidation.paths) {
      assert.ok(!/^\/(assets|pkg|tiles)\//.test(p) && !p.includes('safetensors'), `hashed/tile path invalidated: ${p}`);
    }
  });

  test('commands: one aws s3 cp per upload with its headers, then one create-invalidation', () => {
    assert.equal(plan.commands.length, plan.uploads.length + 1);
    plan.uploads.forEach((u, i) => {
      const c = plan.commands[i];
      assert.deepEqual(c.slice(0, 5), ['aws', 's3', 'cp', u.file, `s3://geodetect-site-bucket/${u.key}`]);
      assert.equal(c[c.indexOf('--content-type') + 1], u.contentType);
      assert.equal(c[c.indexOf('--cache-control') + 1], u.cacheControl);
      if (u.contentEncoding) assert.equal(c[c.indexOf('--content-encoding') + 1], u.contentEncoding);
      else assert.ok(!c.includes('--content-encoding'), `${u.key}: unexpected --content-encoding`);
    });
    const inv = plan.commands.at(-1);
    assert.deepEqual(inv.slice(0, 6), ['aws', 'cloudfront', 'create-invalidation', '--distribution-id', 'E2QWRUHAPOMQZL', '--paths']);
    assert.deepEqual(inv.slice(6), plan.invalidation.paths);
  });

  test('--prefix prefixes the keys, not the invalidation paths; --no-invalidate; --invalidate-tiles', () => {
    const p = dryRunJson(fx.site, fx.planPath, ['--prefix', '/v2/']);
    assert.equal(p.prefix, 'v2');
    assert.ok(p.uploads.every((u) => u.key.startsWith('v2/')));
    assert.deepEqual(p.invalidation.paths, plan.invalidation.paths);
    const r = publish(['--site', fx.site, '--plan', fx.planPath, '--bucket', 'geodetect-site-bucket', '--no-invalidate', '--dry-run', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const q = JSON.parse(r.stdout);
    assert.equal(q.invalidation, null);
    assert.equal(q.commands.length, q.uploads.length);
    const t = dryRunJson(fx.site, fx.planPath, ['--invalidate-tiles']);
    assert.ok(t.invalidation.paths.includes('/tiles/*'));
    assert.ok(!plan.invalidation.paths.includes('/tiles/*'));
  });

  test('--plan defaults to <site>.json; human-readable dry run lists uploads, invalidation and commands', () => {
    const r = publish(['--site', fx.site, '--bucket', 'geodetect-site-bucket', '--distribution', 'E2QWRUHAPOMQZL', '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^publish .* -> s3:\/\/geodetect-site-bucket\/ \(\d+ objects/m);
    assert.match(r.stdout, /upload pkg\/geodetect_bg\.0a1b2c3d4e\.wasm\.br\s+\[application\/wasm; public, max-age=31536000, immutable; Content-Encoding: br\]/);
    assert.match(r.stdout, /upload 404\.html\.br\s+\[text\/html; charset=utf-8; no-cache; identity stand-in\]/);
    assert.match(r.stdout, /^invalidate E2QWRUHAPOMQZL: 21 paths$/m);
    assert.match(r.stdout, /^ {2}aws s3 cp .*index\.html s3:\/\/geodetect-site-bucket\/index\.html --content-type 'text\/html; charset=utf-8' --cache-control no-cache --only-show-errors$/m);
    assert.match(r.stdout, /^ {2}aws cloudfront create-invalidation --distribution-id E2QWRUHAPOMQZL --paths \/aoi\/harbour\.geojson .* \/ \/index\.html \/index\.html\.br \/index\.html\.gz$/m);
  });
});

describe('publish.mjs errors', () => {
  let tmp;
  before(() => { tmp = mkdtempSync(path.join(tmpdir(), 'geodetect-publish-err-')); });
  after(() => rmSync(tmp, { recursive: true, force: true }));
  let n = 0;
  const fixture = (mutate) => makeSite(path.join(tmp, String(n++)), { mutate });
  const base = (fx) => ['--site', fx.site, '--plan', fx.planPath, '--bucket', 'geodetect-site-bucket', '--distribution', 'E2QWRUHAPOMQZL', '--dry-run', '--json'];

  test('a plan entry whose file is absent', () => {
    const fx = fixture((plan, site) => rmSync(path.join(site, 'assets/app.0123456789.js')));
    const r = publish(base(fx));
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '', 'no plan printed');
    assert.match(r.stderr, /assets\/app\.0123456789\.js.*file missing/);
    assert.match(r.stderr, /nothing uploaded/);
  });

  test('a listed precompressed sibling that is absent; a stale size; unknown kind; duplicates', () => {
    const fx = fixture((plan, site) => {
      rmSync(path.join(site, 'index.html.br'));
      plan.files.find((f) => f.path === 'healthz').size = 1;
      plan.files.find((f) => f.path === 'aoi/harbour.geojson').kind = 'geojson';
      plan.files.push({ ...plan.files[0] });
    });
    const r = publish(base(fx));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /\(index\.html\): precompressed sibling missing: .*index\.html\.br/);
    assert.match(r.stderr, /\(healthz\): size \d+ differs from the plan's 1/);
    assert.match(r.stderr, /\(aoi\/harbour\.geojson\): kind "geojson" is not one of/);
    assert.match(r.stderr, /\(index\.html\): listed twice/);
  });

  test('unsafe paths and an immutable Cache-Control on an unhashed file', () => {
    const fx = fixture((plan) => {
      plan.files.push({ ...plan.files[0], path: '../etc/passwd' });
      plan.files.find((f) => f.path === 'models/manifest.json').cacheControl = CC.weights;
    });
    const r = publish(base(fx));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /path must be relative/);
    assert.match(r.stderr, /\(models\/manifest\.json\): unhashed file with an immutable Cache-Control/);
  });

  test('missing site, missing plan, bad plan version', () => {
    let r = publish(['--site', path.join(tmp, 'nope'), '--bucket', 'geodetect-site-bucket', '--distribution', 'E2QWRUHAPOMQZL', '--dry-run']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /site directory not found/);
    const fx = fixture();
    r = publish(['--site', fx.site, '--plan', path.join(tmp, 'missing.json'), '--bucket', 'geodetect-site-bucket', '--distribution', 'E2QWRUHAPOMQZL', '--dry-run']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /plan not found: .*missing\.json/);
    const fy = fixture((plan) => { plan.version = 2; });
    r = publish(base(fy));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /version 2, expected 1/);
  });

  test('argument errors', () => {
    const fx = fixture();
    const cases = [
      [['--bucket', 'b-u-c-k-e-t', '--distribution', 'E2QWRUHAPOMQZL'], /--site is required/],
      [['--site', fx.site, '--distribution', 'E2QWRUHAPOMQZL'], /--bucket is required/],
      [['--site', fx.site, '--bucket', 's3://geodetect-site-bucket', '--distribution', 'E2QWRUHAPOMQZL'], /bucket name, not a URL/],
      [['--site', fx.site, '--bucket', 'Bad_Bucket', '--distribution', 'E2QWRUHAPOMQZL'], /not a valid S3 bucket name/],
      [['--site', fx.site, '--bucket', 'geodetect-site-bucket'], /--distribution is required/],
      [['--site', fx.site, '--bucket', 'geodetect-site-bucket', '--distribution', 'e2q/x'], /not a CloudFront distribution id/],
      [['--site', fx.site, '--bucket', 'geodetect-site-bucket', '--distribution', 'E2QWRUHAPOMQZL', '--prefix', 'a/../b'], /--prefix/],
      [['--site', fx.site, '--bucket', 'geodetect-site-bucket', '--distribution', 'E2QWRUHAPOMQZL', '--json'], /--json needs --dry-run/],
      [['--site', fx.site, '--bucket', 'geodetect-site-bucket', '--distribution', 'E2QWRUHAPOMQZL', '--frobnicate'], /unknown argument: --frobnicate/],
      [['--site', '--bucket', 'geodetect-site-bucket'], /--site needs a value/],
    ];
    for (const [args, re] of cases) {
      const r = publish(args.includes('--json') ? args : [...args, '--dry-run']);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(' '));
      assert.match(r.stderr, /usage: node www\/deploy\/cloudfront\/publish\.mjs/);
    }
  });

  test('warns about site files the plan does not list', () => {
    const fx = fixture((plan, site) => writeFileSync(path.join(site, 'assets/stray.txt'), 'x'));
    const r = publish(base(fx));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: not in the plan, not uploaded: assets\/stray\.txt/);
    assert.ok(!JSON.parse(r.stdout).uploads.some((u) => u.key.includes('stray')));
  });
});

describe('publish.mjs without --dry-run', () => {
  let tmp;
  let fx;
  let bin;
  before(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'geodetect-publish-run-'));
    fx = makeSite(tmp);
    // a bin dir with only node, and one with node plus a fake aws that logs its argv
    bin = { bare: path.join(tmp, 'bin-bare'), fake: path.join(tmp, 'bin-fake') };
    for (const d of Object.values(bin)) {
      mkdirSync(d);
      symlinkSync(process.execPath, path.join(d, 'node'));
    }
    const fake = path.join(bin.fake, 'aws');
    writeFileSync(fake, `#!/usr/bin/env node
const fs = require('fs');
const args = process.argv.slice(2);
if (args[0] === '--version') { console.log('aws-cli/0.0.0 fake'); process.exit(0); }
fs.appendFileSync(process.env.FAKE_AWS_LOG, JSON.stringify(args) + '\\n');
if (process.env.FAKE_AWS_FAIL && args.some((a) => a.endsWith(process.env.FAKE_AWS_FAIL))) process.exit(3);
`);
    chmodSync(fake, 0o755);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const args = () => ['--site', fx.site, '--plan', fx.planPath, '--bucket', 'geodetect-site-bucket', '--distribution', 'E2QWRUHAPOMQZL'];

  test('no aws CLI on PATH: a clear error, exit 1', () => {
    const r = publish(args(), { PATH: bin.bare });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /aws CLI was not found on PATH/);
    assert.match(r.stderr, /--dry-run/);
  });

  test('runs exactly the dry-run commands, in order', () => {
    const log = path.join(tmp, 'aws.log');
    const r = publish(args(), { PATH: bin.fake, FAKE_AWS_LOG: log });
    assert.equal(r.code, 0, r.stderr);
    const calls = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const planned = dryRunJson(fx.site, fx.planPath).commands.map((c) => c.slice(1));
    assert.deepEqual(calls, planned);
    assert.match(r.stderr, /done: \d+ objects .*invalidation of 21 paths created/);
  });

  test('a failed upload stops the run before HTML and the invalidation', () => {
    const log = path.join(tmp, 'aws-fail.log');
    const r = publish(args(), { PATH: bin.fake, FAKE_AWS_LOG: log, FAKE_AWS_FAIL: 'models/manifest.json.br' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /command failed \(exit 3\): aws s3 cp .*manifest\.json\.br/);
    const calls = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(calls.at(-1).at(3).endsWith('models/manifest.json.br'));
    assert.ok(!calls.some((c) => c[0] === 'cloudfront'), 'invalidated after a failure');
    assert.ok(!calls.some((c) => c[3].endsWith('/index.html')), 'HTML uploaded after a failure');
  });
});

// ------------------------------------------------------------------ template.yaml
// CloudFormation short tags (!Sub, !Ref, ...) as their long forms.
function cfnTags() {
  const wrap = (name, v) => {
    if (name === 'Ref') return { Ref: v };
    if (name === 'Condition') return { Condition: v };
    if (name === 'GetAtt' && typeof v === 'string') return { 'Fn::GetAtt': v.split('.') };
    return { [`Fn::${name}`]: v };
  };
  const names = ['Ref', 'Condition', 'Sub', 'Join', 'If', 'Equals', 'Not', 'And', 'Or', 'GetAtt', 'Select', 'Split',
    'FindInMap', 'Base64', 'Cidr', 'ImportValue', 'GetAZs', 'Contains', 'EachMemberEquals', 'EachMemberIn', 'ValueOf', 'ValueOfAll', 'RefAll'];
  return names.flatMap((n) => [
    { tag: `!${n}`, resolve: (s) => wrap(n, s) },
    { tag: `!${n}`, collection: 'seq', resolve: (seq) => wrap(n, seq.toJSON()) },
    { tag: `!${n}`, collection: 'map', resolve: (map) => wrap(n, map.toJSON()) },
  ]);
}

function loadTemplate() {
  return parseYaml(readFileSync(TEMPLATE, 'utf8'), { customTags: cfnTags() });
}

// A small evaluator of the intrinsic functions the template uses, for given parameters.
function evaluator(tpl, params = {}) {
  const NOVALUE = Symbol('AWS::NoValue');
  const values = {};
  for (const [k, p] of Object.entries(tpl.Parameters ?? {})) {
    const v = k in params ? params[k] : p.Default;
    if (p.AllowedValues) assert.ok(p.AllowedValues.includes(v), `parameter ${k}=${v} not in AllowedValues`);
    if (p.AllowedPattern && !new RegExp(p.AllowedPattern).test(v)) throw new Error(`parameter ${k}=${JSON.stringify(v)} does not match AllowedPattern`);
    values[k] = v;
  }
  for (const k of Object.keys(params)) assert.ok(k in values, `unknown parameter ${k}`);
  const conds = {};
  const cond = (name) => {
    assert.ok(tpl.Conditions?.[name], `unknown condition ${name}`);
    if (!(name in conds)) conds[name] = boolOf(tpl.Conditions[name]);
    return conds[name];
  };
  const boolOf = (c) => {
    const v = c && typeof c === 'object' && 'Condition' in c ? cond(c.Condition) : ev(c);
    assert.equal(typeof v, 'boolean', `not a condition: ${JSON.stringify(c)}`);
    return v;
  };
  const ref = (name) => {
    if (name === 'AWS::NoValue') return NOVALUE;
    if (name in values) return values[name];
    if (name.startsWith('AWS::')) return `<${name}>`;
    assert.ok(tpl.Resources[name], `Ref to unknown ${name}`);
    return `<ref:${name}>`;
  };
  const sub = (a) => {
    const [s, vars] = Array.isArray(a) ? a : [a, {}];
    const v = ev(vars);
    return s.replace(/\$\{(!?)([^}]+)\}/g, (m, bang, name) => {
      if (bang) return `\${${name}}`;
      if (name in v) return v[name];
      if (name.includes('.') && !name.startsWith('AWS::')) return `<${name}>`;
      return ref(name);
    });
  };
  function ev(x) {
    if (Array.isArray(x)) return x.map(ev).filter((v) => v !== NOVALUE);
    if (x === null || typeof x !== 'object') return x;
    const keys = Object.keys(x);
    if (keys.length === 1) {
      const a = x[keys[0]];
      switch (keys[0]) {
        case 'Ref': return ref(a);
        case 'Condition': return cond(a);
        case 'Fn::Sub': return sub(a);
        case 'Fn::Join': return ev(a[1]).join(a[0]);
        case 'Fn::If': return cond(a[0]) ? ev(a[1]) : ev(a[2]);
        case 'Fn::Equals': return String(ev(a[0])) === String(ev(a[1]));
        case 'Fn::Not': return !boolOf(a[0]);
        case 'Fn::And': return a.every(boolOf);
        case 'Fn::Or': return a.some(boolOf);
        case 'Fn::GetAtt': return `<${a.join('.')}>`;
        case 'Fn::Select': return ev(a[1])[Number(ev(a[0]))];
        case 'Fn::Split': return String(ev(a[1])).split(a[0]);
        default:
      }
    }
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, ev(v)]).filter(([, v]) => v !== NOVALUE));
  }
  return { ev, cond };
}

// The headers a response headers policy produces (CORS: for a CORS request / preflight).
function policyHeaders(cfg) {
  const h = {};
  const s = cfg.SecurityHeadersConfig ?? {};
  if (s.ContentSecurityPolicy) h['Content-Security-Policy'] = s.ContentSecurityPolicy.ContentSecurityPolicy;
  if (s.StrictTransportSecurity) {
    const t = s.StrictTransportSecurity;
    h['Strict-Transport-Security'] = `max-age=${t.AccessControlMaxAgeSec}${t.IncludeSubdomains ? '; includeSubDomains' : ''}${t.Preload ? '; preload' : ''}`;
  }
  if (s.ContentTypeOptions) h['X-Content-Type-Options'] = 'nosniff';
  if (s.ReferrerPolicy) h['Referrer-Policy'] = s.ReferrerPolicy.ReferrerPolicy;
  if (s.FrameOptions) h['X-Frame-Options'] = s.FrameOptions.FrameOption;
  if (s.XSSProtection) h['X-XSS-Protection'] = s.XSSProtection.Protection ? `1${s.XSSProtection.ModeBlock ? '; mode=block' : ''}` : '0';
  for (const v of Object.values(s)) assert.equal(v.Override, true, 'security headers must override the origin');
  for (const c of cfg.CustomHeadersConfig?.Items ?? []) {
    assert.ok(!(c.Header in h), `${c.Header} set twice`);
    assert.equal(c.Override, true, `${c.Header}: Override`);
    h[c.Header] = c.Value;
  }
  const cors = cfg.CorsConfig;
  if (cors) {
    assert.equal(cors.OriginOverride, true);
    h['Access-Control-Allow-Origin'] = cors.AccessControlAllowOrigins.Items.join(', ');
    h['Access-Control-Allow-Methods'] = cors.AccessControlAllowMethods.Items.join(', ');
    if (cors.AccessControlAllowHeaders) h['Access-Control-Allow-Headers'] = cors.AccessControlAllowHeaders.Items.join(', ');
    if (cors.AccessControlExposeHeaders) h['Access-Control-Expose-Headers'] = cors.AccessControlExposeHeaders.Items.join(', ');
    if (cors.AccessControlMaxAgeSec !== undefined) h['Access-Control-Max-Age'] = String(cors.AccessControlMaxAgeSec);
    if (cors.AccessControlAllowCredentials) h['Access-Control-Allow-Credentials'] = 'true';
  }
  return h;
}

// headers.json rendered for the given hosts: what nginx sends.
function expectedHeaders({ tileHosts = '', modelHosts = '', coep, crossOrigin }) {
  const csp = HEADERS.contentSecurityPolicy
    .map((d) => d.replaceAll('{TILE_HOSTS}', tileHosts).replaceAll('{MODEL_HOSTS}', modelHosts).replace(/\s+/g, ' ').trim())
    .join('; ');
  const h = { 'Content-Security-Policy': csp, ...HEADERS.security, ...HEADERS.isolation };
  if (coep) h['Cross-Origin-Embedder-Policy'] = coep;
  if (crossOrigin) Object.assign(h, { 'Cross-Origin-Resource-Policy': 'cross-origin' }, HEADERS.cors);
  return h;
}

function distribution(tpl, params) {
  const { ev } = evaluator(tpl, params);
  const dist = ev(tpl.Resources.Distribution.Properties.DistributionConfig);
  const policyOf = (ref) => {
    const name = /^<ref:(.+)>$/.exec(ref)?.[1];
    return name ? ev(tpl.Resources[name].Properties) : null;
  };
  return { ev, dist, policyOf };
}

describe('template.yaml', () => {
  let tpl;
  before(() => { tpl = loadTemplate(); });

  const cases = [
    ['default parameters', {}, {}],
    ['tile and model hosts', { TileHosts: 'https://server.arcgisonline.com https://*.tile.example.org', ModelHosts: 'https://models.example.org' },
      { tileHosts: 'https://server.arcgisonline.com https://*.tile.example.org', modelHosts: 'https://models.example.org' }],
    ['model host only, COEP require-corp', { ModelHosts: 'https://models.example.org:8443', Coep: 'require-corp' },
      { modelHosts: 'https://models.example.org:8443', coep: 'require-corp' }],
  ];
  for (const [name, params, hosts] of cases) {
    test(`response headers equal www/deploy/headers.json (${name})`, () => {
      const { dist, policyOf } = distribution(tpl, params);
      const behaviours = [{ PathPattern: '*', ...dist.DefaultCacheBehavior }, ...dist.CacheBehaviors];
      const cross = new Set(HEADERS.crossOriginPaths.map((p) => `${p}*`));
      for (const b of behaviours) {
        const rhp = policyOf(b.ResponseHeadersPolicyId);
        assert.ok(rhp, `${b.PathPattern}: no response headers policy`);
        const got = policyHeaders(rhp.ResponseHeadersPolicyConfig);
        const isCross = cross.has(b.PathPattern);
        // Vary is CloudFront-only: S3 cannot send it, the function varies the body by Accept-Encoding
        // (and CloudFront adds the CORS headers only to requests with Origin).
        assert.equal(got.Vary, isCross ? 'Accept-Encoding, Origin' : 'Accept-Encoding', `${b.PathPattern}: Vary`);
        delete got.Vary;
        assert.deepEqual(got, expectedHeaders({ ...hosts, crossOrigin: isCross }), `${b.PathPattern}`);
        assert.ok(got['Content-Security-Policy'].length <= 1783, 'CloudFront CSP limit');
      }
      const withCors = behaviours.filter((b) => policyOf(b.ResponseHeadersPolicyId).ResponseHeadersPolicyConfig.CorsConfig);
      assert.deepEqual(new Set(withCors.map((b) => b.PathPattern)), cross, 'CORS exactly on headers.json crossOriginPaths');
    });
  }

  test('TileHosts/ModelHosts reject anything but https origins (no CSP injection)', () => {
    for (const bad of ["https://a.example; script-src 'unsafe-eval'", 'http://a.example', 'https://a.example/', 'https://a.example  https://b.example']) {
      assert.throws(() => evaluator(tpl, { TileHosts: bad }), /AllowedPattern/, bad);
      assert.throws(() => evaluator(tpl, { ModelHosts: bad }), /AllowedPattern/, bad);
    }
  });

  test('behaviours: HTTPS, http2and3, compression, cache TTLs that honour headers.json Cache-Control', () => {
    const { dist, policyOf } = distribution(tpl, {});
    assert.equal(dist.HttpVersion, 'http2and3');
    const behaviours = Object.fromEntries([['*', dist.DefaultCacheBehavior], ...dist.CacheBehaviors.map((b) => [b.PathPattern, b])]);
    assert.deepEqual(Object.keys(behaviours).sort(), ['*', '/assets/*', '/healthz', '/models/*', '/pkg/*', '/tiles/*']);
    const maxAge = (kind) => Number(/max-age=(\d+)/.exec(CC[kind])?.[1] ?? 0);
    const ttl = {};
    for (const [p, b] of Object.entries(behaviours)) {
      assert.equal(b.ViewerProtocolPolicy, 'redirect-to-https', p);
      assert.equal(b.Compress, true, p);
      const cp = policyOf(b.CachePolicyId);
      if (p === '/healthz') {
        assert.equal(b.CachePolicyId, '4135ea2d-6df8-44a3-9df3-4b5a84be39ad', 'managed CachingDisabled');
        continue;
      }
      const c = cp.CachePolicyConfig;
      assert.equal(c.ParametersInCacheKeyAndForwardedToOrigin.EnableAcceptEncodingGzip, true, p);
      assert.equal(c.ParametersInCacheKeyAndForwardedToOrigin.EnableAcceptEncodingBrotli, true, p);
      assert.equal(c.MinTTL, 0, `${p}: MinTTL 0 honours no-cache/no-store from the origin`);
      ttl[p] = c;
      assert.equal(b.FunctionAssociations?.[0]?.EventType, 'viewer-request', p);
    }
    assert.deepEqual([ttl['*'].DefaultTTL, ttl['*'].MaxTTL], [60, 300]);
    for (const p of ['/assets/*', '/pkg/*']) assert.ok(ttl[p].MaxTTL >= maxAge('asset') && ttl[p].MaxTTL <= 31536000, p);
    assert.equal(ttl['/models/*'].DefaultTTL, 30 * 86400);
    assert.ok(ttl['/models/*'].MaxTTL >= maxAge('weights'));
    assert.ok(ttl['/tiles/*'].MaxTTL >= maxAge('tile'));
    assert.equal(ttl['/tiles/*'].DefaultTTL, 86400);
    const errors = Object.fromEntries(dist.CustomErrorResponses.map((e) => [e.ErrorCode, e]));
    for (const code of [403, 404]) assert.deepEqual([errors[code].ResponseCode, errors[code].ResponsePagePath], [404, '/404.html']);
    for (const code of [500, 502, 503, 504]) {
      assert.equal(errors[code].ResponsePagePath, '/50x.html');
      assert.ok(errors[code].ErrorCachingMinTTL <= 10);
    }
  });

  test('private bucket read only by this distribution through OAC; S3 CORS matches headers.json', () => {
    const { ev } = evaluator(tpl, {});
    const bucket = ev(tpl.Resources.SiteBucket.Properties);
    assert.deepEqual(Object.values(bucket.PublicAccessBlockConfiguration), [true, true, true, true]);
    assert.equal(bucket.OwnershipControls.Rules[0].ObjectOwnership, 'BucketOwnerEnforced');
    const rule = bucket.CorsConfiguration.CorsRules[0];
    assert.deepEqual(rule.AllowedHeaders, HEADERS.cors['Access-Control-Allow-Headers'].split(/,\s*/));
    assert.deepEqual(rule.ExposedHeaders, HEADERS.cors['Access-Control-Expose-Headers'].split(/,\s*/));
    assert.equal(String(rule.MaxAge), HEADERS.cors['Access-Control-Max-Age']);
    const oac = ev(tpl.Resources.OriginAccessControl.Properties).OriginAccessControlConfig;
    assert.deepEqual([oac.OriginAccessControlOriginType, oac.SigningBehavior, oac.SigningProtocol], ['s3', 'always', 'sigv4']);
    const allow = ev(tpl.Resources.SiteBucketPolicy.Properties).PolicyDocument.Statement.find((s) => s.Effect === 'Allow');
    assert.deepEqual(allow.Principal, { Service: 'cloudfront.amazonaws.com' });
    assert.match(allow.Condition.StringEquals['AWS:SourceArn'], /:distribution\/<ref:Distribution>$/);
  });

  test('viewer-request function: / -> /index.html, precompressed siblings by Accept-Encoding', async () => {
    const fn = tpl.Resources.ViewerRequestFunction.Properties;
    assert.equal(fn.FunctionConfig.Runtime, 'cloudfront-js-2.0');
    const ctx = {};
    vm.runInNewContext(`${fn.FunctionCode}\nthis.handler = handler; this.COMPRESSIBLE = COMPRESSIBLE;`, ctx);
    const uri = (u, headers = {}) => ctx.handler({
      request: { method: 'GET', uri: u, headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, { value: v }])) },
    }).uri;
    const ae = (v) => ({ 'accept-encoding': v });
    assert.equal(uri('/'), '/index.html');
    assert.equal(uri('/', ae('gzip, deflate, br, zstd')), '/index.html.br');
    assert.equal(uri('/docs/', ae('gzip')), '/docs/index.html.gz');
    assert.equal(uri('/index.html', ae('BR')), '/index.html.br');
    assert.equal(uri('/assets/app.0123456789.js', ae('br;q=0, gzip;q=0.5')), '/assets/app.0123456789.js.gz');
    assert.equal(uri('/pkg/geodetect_bg.0a1b2c3d4e.wasm', ae('br')), '/pkg/geodetect_bg.0a1b2c3d4e.wasm.br');
    assert.equal(uri('/pkg/geodetect_bg.0a1b2c3d4e.wasm', { ...ae('br'), range: 'bytes=0-99' }), '/pkg/geodetect_bg.0a1b2c3d4e.wasm');
    assert.equal(uri('/models/manifest.json', ae('*')), '/models/manifest.json.br');
    assert.equal(uri('/models/manifest.json', ae('identity')), '/models/manifest.json');
    assert.equal(uri('/models/manifest.json', ae('gzip;q=0, br;q=0')), '/models/manifest.json');
    // The weights are precompressed too (f32 weights: brotli saves ~12 %), but not for ranges.
    assert.equal(uri('/models/yolov8n-obb.0123abcd45.safetensors', ae('br')), '/models/yolov8n-obb.0123abcd45.safetensors.br');
    assert.equal(uri('/models/yolov8n-obb.0123abcd45.safetensors', { ...ae('br'), range: 'bytes=0-9' }), '/models/yolov8n-obb.0123abcd45.safetensors');
    assert.equal(uri('/tiles/1/0/0.png', ae('br')), '/tiles/1/0/0.png');
    assert.equal(uri('/healthz', ae('br')), '/healthz');
    // the extensions publish.mjs makes stand-ins for are exactly the ones the function rewrites
    const { COMPRESSIBLE } = await import(PUBLISH);
    const m = /^\\\.\(([a-z|]+)\)\$$/.exec(ctx.COMPRESSIBLE.source);
    assert.ok(m, `unexpected COMPRESSIBLE regex ${ctx.COMPRESSIBLE.source}`);
    assert.deepEqual(m[1].split('|').sort(), [...COMPRESSIBLE].sort());
  });
});

// ------------------------------------------------------------------ cfn-lint
const hasPython = spawnSync('python3', ['--version'], { stdio: 'ignore' }).status === 0;
test('lint.sh: cfn-lint passes on template.yaml', { skip: !hasPython && 'python3 not installed', timeout: 600_000 }, () => {
  assert.ok(statSync(LINT).isFile());
  const r = spawnSync('bash', [LINT], { cwd: root, encoding: 'utf8', timeout: 590_000 });
  assert.equal(r.status, 0, `lint.sh exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /OK \(no findings\)/);
});
