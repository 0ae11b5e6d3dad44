// The benchmark's cases, for both sides of it: bench/page.js (in the browser) runs them and
// bench/run.mjs (in node) checks their files and labels them. Plain data, no imports.

/** The default model: every case but the other models' model-alone ones (AREAS[name].model). */
export const MODEL_ID = "yolov8n-obb-dota";

/** Tile size of the marina's tiles. */
export const TILE = 256;

/**
 * Where each case's pixels are: image pixel (sx, sy) of the marina photo, size. A model-alone
 * case of another model than MODEL_ID names it (`model`), and `onnx` the variant of its ONNX
 * export (bench/export_onnx.py's file names: `<model>_<size>.onnx`, or
 * `<model>_<onnx>_<size>.onnx`).
 */
export const AREAS = {
  // The model alone: one window of exactly the model input (no padding, no resampling).
  model256: { sx: 832, sy: 412, w: 256, h: 256 },
  model640: { sx: 640, sy: 220, w: 640, h: 640 },
  model1024: { sx: 448, sy: 28, w: 1024, h: 1024 },
  // YOLO11n-OBB (3 vehicle classes) at its 512 px input: the middle of the photo.
  "yolo11-512": { sx: 704, sy: 284, w: 512, h: 512, model: "yolo11n-obb-vehicles" },
  // YOLO26n-OBB at 1024 px, model1024's crop. geodetect runs the one-to-one branch (the
  // manifest's `postprocess: "topk"`); onnxruntime-web the export of that branch's decoded
  // output without the top-k (which geodetect times in `postprocess`, not `inference`).
  "yolo26-1024": { sx: 448, sy: 28, w: 1024, h: 1024, model: "yolo26n-obb-dota", onnx: "one2one" },
  // The same, onnxruntime-web on ultralytics' end-to-end export (nms=False: top-k in the
  // graph, [1, 300, 7]): what its top-k adds on that side.
  "yolo26-1024-e2e": { sx: 448, sy: 28, w: 1024, h: 1024, model: "yolo26n-obb-dota", onnx: "e2e" },
  // 16 tiles (4 x 4, tile-aligned): tiles x 272955..272958, y 191175..191178.
  tiles16: { gx: 272955 * TILE, gy: 191175 * TILE, w: 1024, h: 1024 },
  // 1,024 tiles (32 x 32, tile-aligned, an 8192 px square: 81 model windows): the marina's
  // 8 x 5 tiles repeated (bench/run.mjs's server wraps tile addresses outside them).
  tiles1024: { gx: 272944 * TILE, gy: 191168 * TILE, w: 8192, h: 8192, options: { maxTiles: 1024 } },
};

/** The ONNX export of a case's model at its size (bench/export_onnx.py's names). */
export function onnxFile({ model = MODEL_ID, onnx, w }) {
  return onnx ? `${model}_${onnx}_${w}.onnx` : `${model}_${w}.onnx`;
}

/** The model-alone cases run.mjs knows (model256 is the WebGPU run's, made by --webgpu). */
export const MODEL_CASES = ["model640", "model1024", "yolo11-512", "yolo26-1024", "yolo26-1024-e2e"];
