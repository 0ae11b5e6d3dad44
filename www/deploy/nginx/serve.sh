#!/usr/bin/env bash
# The built site (node www/deploy/build-site.mjs) behind the production nginx config:
# Debian's nginx with the brotli_static module, run from a private prefix.
#
#   www/deploy/nginx/serve.sh start        start in the background, wait until it answers, print the URL
#   www/deploy/nginx/serve.sh stop         stop the instance of this prefix (pid file)
#   www/deploy/nginx/serve.sh status       say whether it runs and answers (exit 0 if so, 1 if not)
#   www/deploy/nginx/serve.sh restart
#   www/deploy/nginx/serve.sh foreground   run in the foreground (Ctrl-C stops it)
#   www/deploy/nginx/serve.sh render       print the rendered nginx.conf (e.g. for an image)
#
# Environment:
#   PORT          listen port on 127.0.0.1 (default 8090)
#   SITE          the built site (default www/dist/site)
#   TILE_HOSTS    space-separated extra origins for the CSP's connect-src and img-src
#                 (e.g. "https://server.arcgisonline.com https://*.tile.openstreetmap.org")
#   MODEL_HOSTS   space-separated extra origins for connect-src (weights elsewhere)
#   COEP          credentialless (default) or require-corp
#   NGINX         default /usr/sbin/nginx
#   NGINX_PREFIX  runtime dir (default .cache/nginx-deploy in the checkout, or
#                 /tmp/geodetect-nginx-deploy-$UID/<hash> if that is not writable)
#   BROTLI_MODULE default /usr/lib/nginx/modules/ngx_http_brotli_static_module.so
#   LISTEN        listen address for `render` (default 127.0.0.1:$PORT); start always uses
#                 127.0.0.1:$PORT
# The headers come from www/deploy/headers.json (rendered with node). Works as root (the
# workers run as the site's owner) and as a normal user.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
port="${PORT:-8090}"
nginx="${NGINX:-/usr/sbin/nginx}"
site="${SITE:-$root/www/dist/site}"
template="$here/nginx.conf.template"
headers="$here/../headers.json"
brotli_module="${BROTLI_MODULE:-/usr/lib/nginx/modules/ngx_http_brotli_static_module.so}"

name="www/deploy/nginx/serve.sh"
start_hint="is $site a built site?"
# shellcheck source=../../nginx-control.sh
source "$here/../../nginx-control.sh"
prefix="$(nginx_prefix nginx-deploy)"
nginx_paths

# The config on stdout.
render_text() {
    [[ "$port" =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$port'"
    [[ -d "$site" ]] || die "no built site at $site (run: node www/deploy/build-site.mjs)"
    site="$(cd "$site" && pwd)"
    [[ -f "$brotli_module" ]] || die "no brotli_static module at $brotli_module (apt-get install libnginx-mod-http-brotli-static)"
    command -v node >/dev/null || die "node is needed to render the config"
    local user_directive=""
    if [[ "$(id -u)" == 0 ]]; then
        # Workers run as the site's owner, so they can read it wherever it lives.
        user_directive="user $(stat -c %U "$site") $(stat -c %G "$site");"
    fi
    TEMPLATE="$template" HEADERS_JSON="$headers" USER_DIRECTIVE="$user_directive" \
    PREFIX="$prefix" LISTEN="${LISTEN:-127.0.0.1:$port}" SITE_DIR="$site" \
    BROTLI_MODULE="$brotli_module" TILE_HOSTS="${TILE_HOSTS:-}" MODEL_HOSTS="${MODEL_HOSTS:-}" \
    COEP="${COEP:-credentialless}" node --input-type=module - <<'JS'
import { readFileSync } from "node:fs";
const env = process.env;
const fail = (m) => { process.stderr.write(`serve.sh: ${m}\n`); process.exit(1); };
const h = JSON.parse(readFileSync(env.HEADERS_JSON, "utf8"));

// Values go into double-quoted nginx strings: no quotes, backslashes, variables or braces.
const safe = (what, v) => {
  if (typeof v !== "string" || /["\\$\n\r{}]/.test(v)) fail(`${what}: unusable value ${JSON.stringify(v)}`);
  return v;
};
const hosts = (name) => {
  const list = (env[name] ?? "").split(/\s+/).filter(Boolean);
  for (const o of list) {
    if (!/^(https?:\/\/)?(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:(\d+|\*))?$/.test(o)) fail(`${name}: not an origin: ${o}`);
  }
  return list.join(" ");
};
const coep = env.COEP;
if (!["credentialless", "require-corp"].includes(coep)) fail(`COEP must be credentialless or require-corp, got '${coep}'`);

const csp = h.contentSecurityPolicy
  .map((d) => d.replaceAll("{TILE_HOSTS}", hosts("TILE_HOSTS")).replaceAll("{MODEL_HOSTS}", hosts("MODEL_HOSTS")))
  .map((d) => d.replace(/\s+/g, " ").trim())
  .join("; ");
const isolation = { ...h.isolation, "Cross-Origin-Embedder-Policy": coep };

// Sent on every cross-origin response / only on preflights.
const CORS_ALWAYS = new Set(["Access-Control-Allow-Origin", "Access-Control-Expose-Headers"]);
const varName = (header) => "$geodetect_" + header.toLowerCase().replace(/-/g, "_");
const q = (what, v) => `"${safe(what, v)}"`;
const map = (source, variable, entries) =>
  `    map ${source} ${variable} {\n${entries.map(([k, v]) => `        ${k} ${v};`).join("\n")}\n    }`;

// [header, value: a quoted literal or a variable of the template's maps]
const headers = [
  ["Content-Security-Policy", q("CSP", csp)],
  ...Object.entries(h.security).map(([k, v]) => [k, q(k, v)]),
  ...Object.entries(isolation).map(([k, v]) => [k, k === "Cross-Origin-Resource-Policy" ? "$geodetect_corp" : q(k, v)]),
  ...Object.keys(h.cors).map((k) => [k, varName(k)]),
  ["Cache-Control", "$geodetect_cache_control"],
];
const maps = [
  ...Object.entries(h.cors).map(([k, v]) => map(CORS_ALWAYS.has(k) ? "$geodetect_xo" : "$geodetect_preflight", varName(k), [["default", '""'], ["1", q(k, String(v))]])),
  // Every header through a volatile map on $status that is empty for 416: nginx 1.22 runs the
  // header filters a second time for the 416 of an unsatisfiable Range without clearing the
  // headers of the first run, so "always" headers would otherwise come twice
  // ("Access-Control-Allow-Origin: *, *" fails CORS).
  ...headers.map(([k, v]) => map("$status", `${varName(k)}_out`, [["volatile", ""], ["416", '""'], ["default", v]]).replace("volatile ;", "volatile;")),
];
const headerLines = headers.map(([k]) => `        add_header ${k} ${varName(k)}_out always;`);

const xo = h.crossOriginPaths.map((p) => {
  if (!/^\/[A-Za-z0-9_-]+\/$/.test(p)) fail(`crossOriginPaths: unusable path ${p}`);
  return p.slice(1, -1);
});
const xoRegex = `^/(${xo.join("|")})/`;

const lookup = (path) => {
  const v = path.split(".").reduce((o, k) => o?.[k], h);
  if (v === undefined) fail(`headers.json has no ${path}`);
  return safe(path, String(v));
};
let text = readFileSync(env.TEMPLATE, "utf8");
text = text
  .replace(/@H:([A-Za-z0-9_.-]+)@/g, (_, p) => lookup(p))
  .replaceAll("@HEADERS@", headerLines.join("\n"))
  .replaceAll("@HEADER_MAPS@", maps.join("\n"))
  .replaceAll("@XO_PATH_REGEX@", xoRegex)
  .replaceAll("@USER_DIRECTIVE@", env.USER_DIRECTIVE)
  .replaceAll("@BROTLI_MODULE@", safe("BROTLI_MODULE", env.BROTLI_MODULE))
  .replaceAll("@PREFIX@", safe("prefix", env.PREFIX))
  .replaceAll("@LISTEN@", safe("LISTEN", env.LISTEN))
  .replaceAll("@SITE@", safe("SITE", env.SITE_DIR));
const left = text.match(/@[A-Z][A-Za-z0-9_:.-]*@/);
if (left) fail(`template placeholder not filled: ${left[0]}`);
process.stdout.write(text);
JS
}

render() {
    [[ -x "$nginx" ]] || die "nginx not found at $nginx (apt-get install nginx, or set NGINX=)"
    mkdir -p "$prefix/logs" "$prefix/temp"
    local text
    text="$(render_text)"
    printf '%s\n' "$text" > "$conf"
}

# The static /healthz answers 200.
answers() { [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${1}healthz" 2>/dev/null)" == 200 ]]; }
serving() { echo "$site at $url"; }

case "${1:-}" in
    start) nginx_start ;;
    stop) nginx_stop ;;
    status) nginx_status ;;
    restart) nginx_stop; nginx_start ;;
    foreground) nginx_foreground ;;
    render) render_text; echo ;;
    *) echo "usage: $0 start|stop|status|restart|foreground|render   (PORT=${port} SITE=${site})" >&2; exit 2 ;;
esac
