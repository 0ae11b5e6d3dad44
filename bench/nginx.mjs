// The benchmark's loopback server as nginx (Debian's, which tests/setup.sh installs for the
// hosting tests) instead of the node server of tests/e2e/helpers.mjs: the same paths and
// headers, served by the kind of server production uses, in processes of its own. The
// node server shares its event loop with playwright in the benchmark's own process, which
// slowed every tile down (16 tiles on 2 cores: about 55 ms against 45 through nginx in
// geodetect's worker, 40–59 against 25 on the onnxruntime-web page).
//
// nginx cannot compute the repeated marina addresses of tiles1024 (repeatMarinaTiles), so
// the tiles are served from a folder of links made for the tiles the cases read.
import { spawn } from "node:child_process";
import { access, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { freePort } from "../tests/e2e/helpers.mjs";

export const NGINX = process.env.NGINX ?? "/usr/sbin/nginx";

/** Whether nginx is installed. */
export async function haveNginx() {
  return access(NGINX).then(
    () => true,
    () => false,
  );
}

/**
 * nginx on a free loopback port serving `root` with `headers` on every answer;
 * `Cache-Control: public, max-age=600` on all but the tiles (no-store), as the node server of
 * the benchmark does. Tiles `/www/tiles/marina/19/x/y.png` for each `[x, y]` of `tiles` are
 * links to `tileFile(x, y)`. Resolves to { url, close }.
 * @param {{ root: string, headers: Record<string, string>, tiles: [number, number][], tileFile: (x: number, y: number) => string, extraTiles?: Record<string, string> }} opts
 */
export async function startNginx({ root, headers, tiles, tileFile, extraTiles = {} }) {
  const prefix = await mkdtemp(join(tmpdir(), "geodetect-bench-nginx-"));
  const tileRoot = join(prefix, "tiles");
  for (const [x, y] of tiles) {
    const link = join(tileRoot, "www/tiles/marina/19", String(x), `${y}.png`);
    await mkdir(dirname(link), { recursive: true });
    await symlink(tileFile(x, y), link).catch((e) => {
      if (e.code !== "EEXIST") throw e;
    });
  }
  for (const [path, file] of Object.entries(extraTiles)) {
    const link = join(tileRoot, path);
    await mkdir(dirname(link), { recursive: true });
    await symlink(file, link);
  }
  const port = await freePort();
  const add = (cache) =>
    Object.entries({ ...headers, "Cache-Control": cache })
      .map(([k, v]) => `add_header ${k} "${v}" always;`)
      .join(" ");
  const conf = `worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server_tokens off;
  include /etc/nginx/mime.types;
  types { application/javascript mjs; }
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path ${prefix}/tmp; proxy_temp_path ${prefix}/tmp; fastcgi_temp_path ${prefix}/tmp;
  uwsgi_temp_path ${prefix}/tmp; scgi_temp_path ${prefix}/tmp;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    disable_symlinks off;
    location /www/tiles/ { root ${tileRoot}; ${add("no-store")} }
    location / { ${add("public, max-age=600")} }
  }
}
`;
  await mkdir(join(prefix, "tmp"), { recursive: true });
  await writeFile(join(prefix, "nginx.conf"), conf);
  // As root, nginx's workers would run as nobody: keep them as this user (whoever it is).
  const user = process.getuid?.() === 0 ? ["-g", "user root;"] : [];
  const child = spawn(NGINX, ["-p", prefix, "-c", join(prefix, "nginx.conf"), ...user], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}): ${stderr}`);
    const up = await fetch(`${url}/bench/index.html`, { method: "HEAD" }).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (i > 100) throw new Error(`nginx did not answer on ${url}: ${stderr}`);
    await new Promise((ok) => setTimeout(ok, 50));
  }
  return {
    url,
    async close() {
      const exited = new Promise((ok) => child.once("exit", ok));
      child.kill("SIGTERM");
      await exited;
      await rm(prefix, { recursive: true, force: true });
    },
  };
}
