#!/usr/bin/env node
// Publish a built geodetect site (www/deploy/build-site.mjs output) to the S3 bucket behind the
// CloudFront distribution of www/deploy/cloudfront/template.yaml, then invalidate the unhashed
// paths. Node >= 20, no dependencies; the uploads and the invalidation run the `aws` CLI.
//
//   node www/deploy/cloudfront/publish.mjs --site www/dist/site --plan www/dist/site.json \
//        --bucket BUCKET --distribution DISTRIBUTION_ID [--prefix PREFIX] [--dry-run [--json]]
//
// What it does, in order:
//   1. reads the builder's plan (site.json: {version: 1, files: [{path, kind, hashed,
//      contentType, cacheControl, size, encodings: {br?, gzip?}}]}) and checks it against the
//      site directory (every file and sibling present, sizes as planned, no immutable
//      Cache-Control on an unhashed path);
//   2. uploads every file with its Content-Type and Cache-Control, and its precompressed
//      siblings to <key>.br / <key>.gz with Content-Encoding br / gzip and the original
//      Content-Type. The CloudFront viewer-request function rewrites <uri> to <uri>.br/.gz for
//      the extensions in COMPRESSIBLE; where the build made no sibling for such a file, the
//      identity file is uploaded under the sibling key (a "stand-in", no Content-Encoding) so
//      that the rewrite never reaches a missing object;
//   3. order: hashed assets and weights, then tiles, then unhashed entries (manifest, AOIs,
//      healthz), then HTML (index.html last), so no page refers to an object not yet there;
//   4. one CloudFront invalidation of the unhashed, non-tile paths (HTML, entries, /healthz)
//      and their .br/.gz keys; "/" (and "<dir>/") for index.html. Hashed assets and weights
//      are never invalidated: their names change with their content. Tiles (1 day TTL) only
//      with --invalidate-tiles (one "/tiles/*" wildcard).
// --dry-run prints that plan (with --json as JSON on stdout) and runs nothing.
// AWS credentials and region come from the usual aws CLI settings (AWS_PROFILE, ...).

import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { COMPRESSIBLE } from '../files.mjs';

export const PLAN_VERSION = 1;
export const KINDS = ['html', 'entry', 'asset', 'weights', 'tile', 'health'];
export const ENCODINGS = { br: '.br', gzip: '.gz' };
// Must equal the regex of the viewer-request function in template.yaml (the test checks it).
// The extensions the site builder precompresses (one list, in ../files.mjs).
export { COMPRESSIBLE };
// CloudFront: at most 3000 paths per invalidation (wildcards: 15).
export const MAX_INVALIDATION_PATHS = 3000;

const USAGE = `usage: node www/deploy/cloudfront/publish.mjs --site DIR [--plan FILE] --bucket NAME
         (--distribution ID | --no-invalidate) [--prefix PREFIX] [--invalidate-tiles]
         [--dry-run [--json]]

  --site DIR            built site root (www/dist/site)
  --plan FILE           the builder's plan (default: DIR.json, i.e. www/dist/site.json)
  --bucket NAME         S3 bucket (stack output BucketName)
  --distribution ID     CloudFront distribution id (stack output DistributionId)
  --no-invalidate       upload only, no invalidation (then --distribution is optional)
  --prefix PREFIX       key prefix in the bucket; must match the stack's OriginPath (/PREFIX)
  --invalidate-tiles    also invalidate /tiles/* (tiles are cached 1 day otherwise)
  --dry-run             print the plan, run nothing (no aws CLI needed)
  --json                with --dry-run: the plan as JSON on stdout
  -h, --help            this text`;

export class UsageError extends Error {}

export function parseArgs(argv) {
  const opts = {
    site: null, plan: null, bucket: null, distribution: null, prefix: '',
    dryRun: false, json: false, invalidate: true, invalidateTiles: false, help: false,
  };
  const valued = { '--site': 'site', '--plan': 'plan', '--bucket': 'bucket', '--distribution': 'distribution', '--prefix': 'prefix' };
  const flags = { '--dry-run': 'dryRun', '--json': 'json', '--invalidate-tiles': 'invalidateTiles', '--help': 'help', '-h': 'help' };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) { value = arg.slice(eq + 1); arg = arg.slice(0, eq); }
    if (arg in valued) {
      if (value === undefined) {
        value = argv[++i];
        if (value === undefined || (value.startsWith('--') && value.length > 2)) {
          throw new UsageError(`${arg} needs a value`);
        }
      }
      opts[valued[arg]] = value;
    } else if (arg in flags && value === undefined) {
      opts[flags[arg]] = true;
    } else if (arg === '--no-invalidate' && value === undefined) {
      opts.invalidate = false;
    } else {
      throw new UsageError(`unknown argument: ${argv[i]}`);
    }
  }
  if (opts.help) return opts;
  if (!opts.site) throw new UsageError('--site is required');
  if (!opts.bucket) throw new UsageError('--bucket is required');
  if (opts.bucket.startsWith('s3://')) throw new UsageError(`--bucket takes the bucket name, not a URL: ${opts.bucket.slice(5).replace(/\/.*$/, '')}`);
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(opts.bucket)) throw new UsageError(`--bucket: not a valid S3 bucket name: ${opts.bucket}`);
  if (opts.invalidate) {
    if (!opts.distribution) throw new UsageError('--distribution is required (or --no-invalidate)');
    if (!/^[A-Z0-9]{6,32}$/.test(opts.distribution)) throw new UsageError(`--distribution: not a CloudFront distribution id: ${opts.distribution}`);
  } else if (opts.invalidateTiles) {
    throw new UsageError('--invalidate-tiles contradicts --no-invalidate');
  }
  if (opts.json && !opts.dryRun) throw new UsageError('--json needs --dry-run');
  opts.prefix = opts.prefix.replace(/^\/+|\/+$/g, '');
  if (opts.prefix && !/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(opts.prefix) || opts.prefix.split('/').some((s) => s === '.' || s === '..')) {
    throw new UsageError(`--prefix: letters, digits, . _ - and / only: ${opts.prefix}`);
  }
  opts.site = path.resolve(opts.site);
  opts.plan = path.resolve(opts.plan ?? `${opts.site.replace(/\/+$/, '')}.json`);
  return opts;
}

function isSafeRelPath(p) {
  return typeof p === 'string' && p.length > 0 && !p.startsWith('/') && !p.includes('\\') && !p.includes('\0') &&
    p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

function fileSize(abs) {
  try {
    const st = statSync(abs);
    return st.isFile() ? st.size : null;
  } catch {
    return null;
  }
}

export function isCompressible(p) {
  const m = /\.([A-Za-z0-9]+)$/.exec(p);
  return !!m && COMPRESSIBLE.includes(m[1]);
}

// Order: 0 hashed (assets, weights), 1 tiles, 2 unhashed entries/health, 3 HTML (index.html last).
function rank(f) {
  if (f.kind === 'html') return path.posix.basename(f.path) === 'index.html' ? 4 : 3;
  if (f.kind === 'tile') return 1;
  if (f.hashed) return 0;
  return 2;
}

function encodeInvalidationPath(p) {
  return '/' + p.split('/').map((s) => encodeURIComponent(s).replace(/\*/g, '%2A')).join('/');
}

// Read and check the plan; returns {files, errors, warnings}. Never throws for plan content.
export function loadPlan(opts) {
  const errors = [];
  const warnings = [];
  let siteStat;
  try { siteStat = statSync(opts.site); } catch { /* handled below */ }
  if (!siteStat) errors.push(`site directory not found: ${opts.site}`);
  else if (!siteStat.isDirectory()) errors.push(`--site is not a directory: ${opts.site}`);
  let plan;
  try {
    plan = JSON.parse(readFileSync(opts.plan, 'utf8'));
  } catch (e) {
    errors.push(e.code === 'ENOENT' ? `plan not found: ${opts.plan} (run www/deploy/build-site.mjs first)` : `cannot read plan ${opts.plan}: ${e.message}`);
  }
  if (errors.length) return { files: [], errors, warnings };
  if (plan?.version !== PLAN_VERSION) errors.push(`plan ${opts.plan}: version ${JSON.stringify(plan?.version)}, expected ${PLAN_VERSION}`);
  if (!Array.isArray(plan?.files)) {
    errors.push(`plan ${opts.plan}: "files" is not an array`);
    return { files: [], errors, warnings };
  }
  if (plan.files.length === 0) errors.push(`plan ${opts.plan}: no files`);

  const files = [];
  const seen = new Set();
  plan.files.forEach((f, i) => {
    const where = `plan files[${i}]${typeof f?.path === 'string' ? ` (${f.path})` : ''}`;
    const bad = (msg) => errors.push(`${where}: ${msg}`);
    if (!f || typeof f !== 'object') return bad('not an object');
    if (!isSafeRelPath(f.path)) return bad(`path must be relative, '/'-separated, without '.', '..' or empty segments: ${JSON.stringify(f.path)}`);
    if (seen.has(f.path)) return bad('listed twice');
    seen.add(f.path);
    if (!KINDS.includes(f.kind)) bad(`kind ${JSON.stringify(f.kind)} is not one of ${KINDS.join(', ')}`);
    if (typeof f.hashed !== 'boolean') bad('"hashed" must be true or false');
    if (typeof f.contentType !== 'string' || !f.contentType.trim()) bad('missing contentType');
    if (typeof f.cacheControl !== 'string' || !f.cacheControl.trim()) bad('missing cacheControl');
    if (f.hashed === false && /\bimmutable\b/.test(f.cacheControl ?? '')) {
      bad(`unhashed file with an immutable Cache-Control ("${f.cacheControl}"): it could never be updated`);
    }
    const abs = path.join(opts.site, ...f.path.split('/'));
    const size = fileSize(abs);
    if (size === null) bad(`file missing: ${abs}`);
    else if (typeof f.size === 'number' && f.size !== size) bad(`size ${size} differs from the plan's ${f.size} (stale plan? rebuild)`);
    const encodings = f.encodings ?? {};
    if (typeof encodings !== 'object' || Array.isArray(encodings)) bad('"encodings" must be an object');
    const siblings = [];
    for (const [enc, rel] of Object.entries(encodings ?? {})) {
      if (!(enc in ENCODINGS)) { bad(`unknown encoding ${JSON.stringify(enc)} (expected br, gzip)`); continue; }
      if (!isSafeRelPath(rel)) { bad(`encodings.${enc} is not a relative path: ${JSON.stringify(rel)}`); continue; }
      const sabs = path.join(opts.site, ...rel.split('/'));
      const ssize = fileSize(sabs);
      if (ssize === null) { bad(`precompressed sibling missing: ${sabs}`); continue; }
      siblings.push({ encoding: enc, rel, abs: sabs, size: ssize });
    }
    files.push({ ...f, abs, size: size ?? f.size, siblings });
  });

  // Files in the site that the plan does not mention are not uploaded: say so.
  if (!errors.length) {
    const known = new Set();
    for (const f of files) {
      known.add(f.path);
      for (const s of f.siblings) known.add(s.rel);
    }
    const walk = (dir, rel) => {
      for (const ent of readdirSync(dir, { withFileTypes: true })) {
        const r = rel ? `${rel}/${ent.name}` : ent.name;
        if (ent.isDirectory()) walk(path.join(dir, ent.name), r);
        else if (!known.has(r)) warnings.push(`not in the plan, not uploaded: ${r}`);
      }
    };
    walk(opts.site, '');
  }
  return { files, errors, warnings };
}

// The whole publish plan: uploads (in order), the invalidation and the exact aws commands.
export function buildPlan(opts, files) {
  const key = (p) => (opts.prefix ? `${opts.prefix}/${p}` : p);
  const ordered = [...files].sort((a, b) => rank(a) - rank(b) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const uploads = [];
  for (const f of ordered) {
    const base = { path: f.path, kind: f.kind, hashed: f.hashed, contentType: f.contentType, cacheControl: f.cacheControl };
    // Siblings first, the identity file last: its key is the one error pages and Range
    // requests use, and it is what a client without br/gzip gets.
    for (const enc of Object.keys(ENCODINGS)) {
      const s = f.siblings.find((x) => x.encoding === enc);
      if (s) {
        uploads.push({ ...base, key: key(f.path + ENCODINGS[enc]), file: s.abs, size: s.size, contentEncoding: enc, standIn: false });
      } else if (isCompressible(f.path)) {
        uploads.push({ ...base, key: key(f.path + ENCODINGS[enc]), file: f.abs, size: f.size, contentEncoding: null, standIn: true });
      }
    }
    uploads.push({ ...base, key: key(f.path), file: f.abs, size: f.size, contentEncoding: null, standIn: false });
  }

  let invalidation = null;
  const notes = [];
  if (opts.invalidate) {
    const paths = [];
    for (const f of ordered) {
      if (f.hashed || f.kind === 'tile') continue;
      if (path.posix.basename(f.path) === 'index.html') {
        paths.push(encodeInvalidationPath(f.path).replace(/index\.html$/, ''));
      }
      paths.push(encodeInvalidationPath(f.path));
      for (const u of uploads) {
        if (u.path === f.path && u.key !== key(f.path)) paths.push(encodeInvalidationPath(u.path) + u.key.slice(key(f.path).length));
      }
    }
    if (opts.invalidateTiles && files.some((f) => f.kind === 'tile')) paths.push('/tiles/*');
    let unique = [...new Set(paths)];
    if (unique.length > MAX_INVALIDATION_PATHS) {
      notes.push(`${unique.length} paths exceed CloudFront's ${MAX_INVALIDATION_PATHS} per invalidation: invalidating /* instead`);
      unique = ['/*'];
    }
    if (unique.length) invalidation = { distribution: opts.distribution, paths: unique };
  }

  const commands = uploads.map((u) => {
    const cmd = ['aws', 's3', 'cp', u.file, `s3://${opts.bucket}/${u.key}`,
      '--content-type', u.contentType, '--cache-control', u.cacheControl];
    if (u.contentEncoding) cmd.push('--content-encoding', u.contentEncoding);
    cmd.push('--only-show-errors');
    return cmd;
  });
  if (invalidation) {
    commands.push(['aws', 'cloudfront', 'create-invalidation', '--distribution-id', invalidation.distribution,
      '--paths', ...invalidation.paths]);
  }
  return {
    version: 1,
    site: opts.site,
    plan: opts.plan,
    bucket: opts.bucket,
    prefix: opts.prefix,
    distribution: opts.invalidate ? opts.distribution : null,
    uploads,
    invalidation,
    notes,
    commands,
  };
}

function shellQuote(s) {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${String(s).replace(/'/g, `'\\''`)}'`;
}

function humanSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatPlan(plan) {
  const lines = [];
  const total = plan.uploads.reduce((s, u) => s + u.size, 0);
  lines.push(`publish ${plan.site} -> s3://${plan.bucket}/${plan.prefix ? plan.prefix + '/' : ''} (${plan.uploads.length} objects, ${humanSize(total)})`);
  const groups = ['hashed assets and weights', 'tiles', 'unhashed entries', 'HTML', 'HTML'];
  let last = -1;
  for (const u of plan.uploads) {
    const g = rank(u);
    if (groups[g] !== groups[last]) lines.push(`  # ${groups[g]}`);
    last = g;
    const enc = u.contentEncoding ? `; Content-Encoding: ${u.contentEncoding}` : u.standIn ? '; identity stand-in' : '';
    lines.push(`  upload ${u.key}  [${u.contentType}; ${u.cacheControl}${enc}] ${humanSize(u.size)}`);
  }
  if (plan.invalidation) {
    lines.push(`invalidate ${plan.invalidation.distribution}: ${plan.invalidation.paths.length} paths`);
    for (const p of plan.invalidation.paths) lines.push(`  ${p}`);
  } else {
    lines.push('no invalidation');
  }
  for (const n of plan.notes) lines.push(`note: ${n}`);
  lines.push('commands:');
  for (const c of plan.commands) lines.push(`  ${c.map(shellQuote).join(' ')}`);
  return lines.join('\n');
}

function awsAvailable() {
  const r = spawnSync('aws', ['--version'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

export function execute(plan, log = console.error) {
  if (!awsAvailable()) {
    throw new Error('the aws CLI was not found on PATH (or `aws --version` failed): install AWS CLI v2 ' +
      '(https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html) and configure credentials, ' +
      'or run with --dry-run to see the plan');
  }
  const n = plan.commands.length;
  plan.commands.forEach((cmd, i) => {
    log(`[${i + 1}/${n}] ${cmd[1] === 's3' ? `upload ${cmd[4]}` : `invalidate ${plan.invalidation.paths.length} paths`}`);
    const r = spawnSync(cmd[0], cmd.slice(1), { stdio: 'inherit' });
    if (r.error || r.status !== 0) {
      throw new Error(`command failed (${r.error ? r.error.message : `exit ${r.status ?? r.signal}`}): ${cmd.map(shellQuote).join(' ')}` +
        (cmd[1] === 's3' ? '\nnothing was invalidated; objects uploaded so far are harmless (HTML goes last): fix and rerun' : ''));
    }
  });
}

export function main(argv = process.argv.slice(2)) {
  let opts;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`publish.mjs: ${e.message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  const { files, errors, warnings } = loadPlan(opts);
  for (const w of warnings) console.error(`publish.mjs: warning: ${w}`);
  if (errors.length) {
    console.error(`publish.mjs: ${errors.length} error(s), nothing uploaded:\n${errors.map((e) => `  - ${e}`).join('\n')}`);
    return 2;
  }
  const plan = buildPlan(opts, files);
  const standIns = plan.uploads.filter((u) => u.standIn);
  if (standIns.length) {
    console.error(`publish.mjs: note: ${standIns.length} identity stand-in(s) for compressible files without a precompressed sibling (e.g. ${standIns[0].key})`);
  }
  if (opts.dryRun) {
    if (opts.json) console.log(JSON.stringify(plan, null, 2));
    else console.log(formatPlan(plan));
    return 0;
  }
  try {
    execute(plan);
  } catch (e) {
    console.error(`publish.mjs: ${e.message}`);
    return 1;
  }
  console.error(`publish.mjs: done: ${plan.uploads.length} objects to s3://${opts.bucket}/${opts.prefix}` +
    (plan.invalidation ? `, invalidation of ${plan.invalidation.paths.length} paths created` : ''));
  return 0;
}

if (process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) {
  process.exitCode = main();
}

export const TEMPLATE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'template.yaml');
