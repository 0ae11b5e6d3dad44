// What the site's files are, for the site builder (build-site.mjs) and the CloudFront publisher
// (cloudfront/publish.mjs): one list, so the files the build precompresses are the ones the
// CloudFront viewer-request function asks for (template.yaml's COMPRESSIBLE regex; a test
// keeps it equal to this list).

/** Content types by extension, as the production servers send them (nginx's types table too). */
export const CONTENT_TYPES = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
  geojson: "application/geo+json",
  wasm: "application/wasm",
  safetensors: "application/octet-stream",
  pmtiles: "application/octet-stream",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  svg: "image/svg+xml",
  txt: "text/plain; charset=utf-8",
};

/** Extensions that get .br/.gz siblings: text, wasm, and the f32 weights (brotli saves ~12 %). */
export const COMPRESSIBLE = ["html", "js", "mjs", "css", "json", "geojson", "wasm", "svg", "txt", "xml", "map", "webmanifest", "safetensors"];
