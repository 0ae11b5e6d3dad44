// geodetect: a Detector's pool of workers, and areas run on it chunk by chunk.
//
// Every worker loads the engine and the model once. The first starts in Detector.create();
// the others start when the first area of several chunks comes (a detector that only ever
// runs small areas holds one engine), in the background (the weights are then in the Cache
// API, so they are downloaded once), and take chunks as soon as they are up.
//
// An area of several chunks (the engine plans them: ./protocol.js, startRun) runs on the
// whole pool: its chunks are queued, each idle worker takes the next one, and each chunk's
// boxes go to the worker that started the run, which merges them across the seams and
// releases the detections that became final. A worker that fails while it runs a chunk
// (crashed, died, or ran past `chunkTimeoutMs`) is replaced by a fresh one and its chunk is
// queued again, once; a chunk that fails twice is given up: its area is treated as empty and
// it is listed in the result's `failedChunks` (the run fails with WORKER_CRASHED only when no
// chunk at all could be run). Any other error (a tile with `failOnMissingTiles`, an abort)
// stops the whole run. If the merging worker itself fails, a new one replays the merged
// chunks and the run goes on.
import { MSG, PROTOCOL, GeodetectError, describe } from "./protocol.js";
import { WorkerClient, callSafely } from "./client.js";

/** @typedef {import("./protocol.js").InitResult} InitResult */
/** @typedef {import("./protocol.js").DetectionBatch} DetectionBatch */
/** @typedef {import("./types.js").EngineOptions} EngineOptions */
/** @typedef {import("./types.js").DetectOptions} EngineDetectOptions */
/** @typedef {import("./types.js").DetectResult} DetectResult */
/** @typedef {import("./types.js").Progress} Progress */
/** @typedef {import("./types.js").ChunkOutput} ChunkOutput */
/** @typedef {import("./types.js").ChunkFailure} ChunkFailure */
/** @typedef {import("./types.js").MergeUpdate} MergeUpdate */
/** @typedef {import("./types.js").WorkerHealth} WorkerHealth */

/** Errors after which the work is retried on a fresh worker (the worker is gone). */
const WORKER_LOST = new Set(["WORKER_FAILED", "WORKER_CRASHED"]);
/** Attempts at one chunk (or one single-request detect) before it is given up. */
const ATTEMPTS = 2;
/**
 * Tries of one merge request (or of planning a run), each on the merging worker of the time:
 * a merging worker that is lost (it may die of a chunk it runs itself) is replaced by the
 * oldest worker that is up, which replays the run's merges so far.
 */
const MERGE_TRIES = 4;
/** Starts of a replacement worker that fail in a row before the pool stops replacing. */
const START_FAILURES = 2;

/**
 * @param {unknown} e
 * @returns {GeodetectError}
 */
function asGeodetectError(e) {
  return e instanceof GeodetectError ? e : new GeodetectError("INTERNAL", describe(e), { cause: e });
}

/** @param {unknown} e */
function workerLost(e) {
  return e instanceof GeodetectError && WORKER_LOST.has(e.code);
}

/** One worker of the pool. */
export class PoolWorker {
  /** @type {WorkerClient} */
  client;
  /** True once its engine is loaded. */
  up = false;
  /** True while it runs a task (a chunk or a whole detect). */
  busy = false;
  /** Settles when its engine is loaded or its start failed. */
  /** @type {Promise<void>} */
  ready = Promise.resolve();

  /** @param {WorkerClient} client */
  constructor(client) {
    this.client = client;
  }
}

/**
 * A task waiting for an idle worker.
 * @typedef {object} Task
 * @property {(w: PoolWorker) => Promise<unknown>} run
 * @property {(v: unknown) => void} resolve
 * @property {(e: unknown) => void} reject
 * @property {AbortSignal | undefined} signal
 * @property {() => void} cleanup
 */

/** What the pool has been through (for `detector.metrics()`). */
export class PoolStats {
  workersStarted = 0;
  workersReplaced = 0;
  chunksRetried = 0;
  chunksFailed = 0;
}

/** The workers of one Detector. */
export class Pool {
  /** @type {string | URL | undefined} */
  #workerUrl;
  /** @type {EngineOptions} */
  #options;
  /** Workers wanted. */
  #size;
  /** @type {PoolWorker[]} alive or starting, oldest first */
  #workers = [];
  /** @type {Task[]} */
  #tasks = [];
  /** @type {GeodetectError | null} set when no worker can be started any more */
  #broken = null;
  #disposed = false;
  #startFailures = 0;
  /** False until grow(): one worker until then. */
  #grown = false;
  /** @type {(() => void)[]} callers of `merger()` waiting for a worker to be up */
  #upWaiters = [];
  stats = new PoolStats();

  /**
   * @param {string | URL | undefined} workerUrl
   * @param {EngineOptions} options sent with every worker's init
   * @param {number} size
   */
  constructor(workerUrl, options, size) {
    this.#workerUrl = workerUrl;
    this.#options = options;
    this.#size = size;
  }

  /**
   * Start the first worker and load its engine (what Detector.create() waits for); the rest
   * of the pool starts with grow().
   * @param {{ signal?: AbortSignal, onProgress?: (p: Progress) => void }} opts
   * @returns {Promise<InitResult>}
   */
  async start({ signal, onProgress }) {
    const first = this.#spawn();
    const starting = this.#init(first, { signal, onProgress });
    first.ready = starting.then(() => undefined, () => undefined);
    const init = await starting;
    // On WebGPU one worker is the default (the option's doc): the GPU is shared anyway.
    if (this.#options.workers === undefined && init.backend === "webgpu") this.#size = 1;
    return init;
  }

  /** Start the rest of the pool (in the background; each takes work once it is up). */
  grow() {
    this.#grown = true;
    this.#fill();
  }

  /** Workers wanted. */
  get size() {
    return this.#size;
  }

  /** True once no worker can be started (the pool is unusable). */
  get broken() {
    return this.#broken;
  }

  /** The workers alive or starting, oldest first. */
  get workers() {
    return [...this.#workers];
  }

  /** Start a worker (its init is sent by #init). */
  #spawn() {
    /** @type {PoolWorker} */
    const w = new PoolWorker(new WorkerClient(this.#workerUrl, (e) => this.#lost(w, e)));
    this.#workers.push(w);
    this.stats.workersStarted++;
    return w;
  }

  /**
   * Load `w`'s engine.
   * @param {PoolWorker} w
   * @param {{ signal?: AbortSignal, onProgress?: (p: Progress) => void }} [opts]
   * @returns {Promise<InitResult>}
   */
  async #init(w, opts = {}) {
    const init = await w.client.request(MSG.INIT, { protocol: PROTOCOL, options: this.#options }, opts);
    if (!init || init.protocol !== PROTOCOL) {
      const e = new GeodetectError("WORKER_FAILED", `the worker speaks protocol ${init?.protocol}, this client ${PROTOCOL}: workerUrl points at a different geodetect version`);
      w.client.terminate(e.code, e.message);
      throw e;
    }
    w.up = true;
    this.#startFailures = 0;
    this.#dispatch();
    for (const wake of this.#upWaiters.splice(0)) wake();
    return init;
  }

  /** Start workers until there are `size` (alive or starting). */
  #fill() {
    const target = this.#grown ? this.#size : 1;
    while (!this.#disposed && !this.#broken && this.#workers.length < target) {
      const w = this.#spawn();
      w.ready = this.#init(w).then(
        () => undefined,
        (e) => w.client.terminate(e instanceof GeodetectError ? e.code : "WORKER_FAILED", describe(e)),
      );
    }
  }

  /**
   * A worker failed (crashed, died, timed out, was terminated): forget it and start another,
   * unless starting them keeps failing.
   * @param {PoolWorker} w
   * @param {GeodetectError} error
   */
  #lost(w, error) {
    const i = this.#workers.indexOf(w);
    if (i < 0) return;
    this.#workers.splice(i, 1);
    if (this.#disposed) return;
    const wasUp = w.up;
    w.up = false;
    if (!wasUp) this.#startFailures++;
    if (this.#startFailures >= START_FAILURES || (!wasUp && !this.#workers.length)) {
      // Nothing runs and nothing will: fail whatever waits.
      if (!this.#workers.some((x) => x.up)) this.#break(error);
      return;
    }
    this.stats.workersReplaced++;
    this.#fill();
  }

  /** @param {GeodetectError} error */
  #break(error) {
    this.#broken = new GeodetectError(error.code, `no geodetect worker could be started: ${error.message}`);
    for (const t of this.#tasks.splice(0)) {
      t.cleanup();
      t.reject(this.#broken);
    }
    for (const wake of this.#upWaiters.splice(0)) wake();
  }

  /**
   * Run `task` on the next idle worker (in the order submitted).
   * @template T
   * @param {(w: PoolWorker) => Promise<T>} task
   * @param {AbortSignal} [signal] rejects with ABORTED while it still waits
   * @returns {Promise<T>}
   */
  submit(task, signal) {
    if (this.#broken) return Promise.reject(this.#broken);
    if (this.#disposed) return Promise.reject(new GeodetectError("DISPOSED", "the detector was disposed"));
    return new Promise((resolve, reject) => {
      /** @type {Task} */
      const entry = {
        run: task,
        resolve: /** @type {(v: unknown) => void} */ (resolve),
        reject,
        signal,
        cleanup: () => {},
      };
      if (signal) {
        if (signal.aborted) return reject(new GeodetectError("ABORTED", "the operation was aborted", { cause: signal.reason }));
        const onAbort = () => {
          const i = this.#tasks.indexOf(entry);
          if (i < 0) return;
          this.#tasks.splice(i, 1);
          reject(new GeodetectError("ABORTED", "the operation was aborted", { cause: signal.reason }));
        };
        signal.addEventListener("abort", onAbort, { once: true });
        entry.cleanup = () => signal.removeEventListener("abort", onAbort);
      }
      this.#tasks.push(entry);
      this.#dispatch();
    });
  }

  /** Hand waiting tasks to idle workers. */
  #dispatch() {
    while (this.#tasks.length) {
      const w = this.#workers.find((x) => x.up && !x.busy && !x.client.failed);
      if (!w) return;
      const t = /** @type {Task} */ (this.#tasks.shift());
      t.cleanup();
      w.busy = true;
      Promise.resolve()
        .then(() => t.run(w))
        .then(t.resolve, t.reject)
        .finally(() => {
          w.busy = false;
          this.#dispatch();
        });
    }
  }

  /**
   * The worker that merges runs: the oldest one that is up (waits for one).
   * @param {AbortSignal} [signal]
   * @returns {Promise<PoolWorker>}
   */
  async merger(signal) {
    for (;;) {
      if (this.#broken) throw this.#broken;
      if (this.#disposed) throw new GeodetectError("DISPOSED", "the detector was disposed");
      if (signal?.aborted) throw new GeodetectError("ABORTED", "the operation was aborted", { cause: signal.reason });
      const w = this.#workers.find((x) => x.up && !x.client.failed);
      if (w) return w;
      await new Promise((resolve) => {
        this.#upWaiters.push(() => resolve(undefined));
        signal?.addEventListener("abort", () => resolve(undefined), { once: true });
      });
    }
  }

  /**
   * Post a control message to every worker that is up.
   * @param {import("./protocol.js").DropRunControl} msg
   */
  broadcast(msg) {
    for (const w of this.#workers) if (w.up) w.client.post(msg);
  }

  /** Terminate every worker; waiting and running work rejects with DISPOSED. */
  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    const error = new GeodetectError("DISPOSED", "the detector was disposed");
    for (const t of this.#tasks.splice(0)) {
      t.cleanup();
      t.reject(error);
    }
    for (const w of this.#workers.splice(0)) w.client.terminate("DISPOSED", "the detector was disposed");
    for (const wake of this.#upWaiters.splice(0)) wake();
  }
}

/**
 * @typedef {object} RunCallbacks
 * @property {AbortSignal} [signal]
 * @property {(p: Progress) => void} [onProgress]
 * @property {(batch: DetectionBatch, p: Progress) => void} [onDetections]
 */

let nextRun = 1;

/**
 * Detect in `aoi` on the pool: as one request on one worker when the pool has one worker or
 * the area one chunk, else chunk by chunk on every worker.
 * @param {Pool} pool
 * @param {unknown} aoi
 * @param {EngineDetectOptions} options
 * @param {number} chunkTimeoutMs
 * @param {RunCallbacks} callbacks
 * @returns {Promise<DetectResult>}
 */
export async function runArea(pool, aoi, options, chunkTimeoutMs, callbacks) {
  const { signal } = callbacks;
  if (pool.size === 1) return detectWhole(pool, aoi, options, callbacks, 0);
  const run = nextRun++;
  /** @type {PoolWorker} */
  let merger;
  /** @type {import("./types.js").RunPlan} */
  let plan;
  for (let tries = 1; ; tries++) {
    merger = await pool.merger(signal);
    try {
      plan = await merger.client.request(MSG.START_RUN, { run, aoi, options }, { signal });
      break;
    } catch (e) {
      // Lost to another call's crash (planning runs beside the worker's queue).
      if (!workerLost(e) || tries >= MERGE_TRIES) throw e;
    }
  }
  if (plan.chunks > 1) pool.grow();
  if (plan.chunks <= 1) {
    merger.client.post({ type: MSG.DROP_RUN, run });
    return detectWhole(pool, aoi, options, callbacks, chunkTimeoutMs);
  }
  return new PoolRun(pool, run, merger, aoi, options, plan, chunkTimeoutMs, callbacks).result;
}

/**
 * The whole area as one `detect` request on one worker; retried once on a fresh worker if
 * the first one is lost. `timeoutMs` (0: none) bounds each attempt.
 * @param {Pool} pool
 * @param {unknown} aoi
 * @param {EngineDetectOptions} options
 * @param {RunCallbacks} callbacks
 * @param {number} timeoutMs
 * @returns {Promise<DetectResult>}
 */
async function detectWhole(pool, aoi, options, { signal, onProgress, onDetections }, timeoutMs) {
  for (let attempt = 1; ; attempt++) {
    /** @type {DetectionBatch["features"]} every released detection, in release order */
    const released = [];
    const collect = (/** @type {DetectionBatch} */ batch, /** @type {Progress} */ p) => {
      released.push(...batch.features);
      if (onDetections) onDetections(batch, p);
    };
    try {
      const finished = await pool.submit(
        (w) => bounded(w, timeoutMs, "the area", () => w.client.request(MSG.DETECT, { aoi, options }, { signal, onProgress, onDetections: collect })),
        signal,
      );
      return compose(finished, released);
    } catch (e) {
      if (pool.broken) throw pool.broken;
      if (!workerLost(e) || attempt >= ATTEMPTS) {
        if (!workerLost(e)) throw e;
        pool.stats.chunksFailed++;
        throw new GeodetectError("WORKER_CRASHED", `the area could not be run: ${describe(e)} (on ${attempt} workers)`, { cause: e });
      }
      pool.stats.chunksRetried++;
    }
  }
}

/**
 * The result of a run whose detections left the worker in batches: every released detection
 * (the batches in release order, then the run's last batch), put in the result's order.
 * @param {import("./types.js").FinishedRun} finished
 * @param {DetectionBatch["features"]} released
 * @returns {DetectResult}
 */
function compose(finished, released) {
  const all = [...released, ...finished.batch.features];
  const features = finished.order.map((i) => all[i]);
  if (features.some((f) => f === undefined)) {
    throw new GeodetectError("INTERNAL", `the result names detection ${Math.max(...finished.order)} of ${all.length} released`);
  }
  return { ...finished.result, detections: { type: "FeatureCollection", features } };
}

/**
 * `request()` on worker `w`, which is terminated (WORKER_CRASHED) if it has not answered
 * after `timeoutMs` (0: no limit).
 * @template T
 * @param {PoolWorker} w
 * @param {number} timeoutMs
 * @param {string} what for the message
 * @param {() => Promise<T>} request
 * @returns {Promise<T>}
 */
async function bounded(w, timeoutMs, what, request) {
  if (!timeoutMs) return request();
  const timer = setTimeout(() => w.client.terminate("WORKER_CRASHED", `${what} ran past chunkTimeoutMs (${timeoutMs} ms)`), timeoutMs);
  try {
    return await request();
  } finally {
    clearTimeout(timer);
  }
}

/** One area run chunk by chunk on the pool. */
class PoolRun {
  /** @type {Promise<DetectResult>} */
  result;
  #pool;
  #run;
  /** @type {PoolWorker} */
  #merger;
  #aoi;
  #options;
  #plan;
  #timeoutMs;
  #callbacks;
  #start = performance.now();
  /** Stops every request of the run (the caller's abort, or the run's own failure). */
  #abort = new AbortController();
  /** @type {{ type: typeof MSG.MERGE_CHUNK | typeof MSG.FAIL_CHUNK, payload: any }[]} merges done, for a replay */
  #merged = [];
  /** @type {Promise<unknown>} the merges, one after the other */
  #mergeChain = Promise.resolve();
  /** Tiles settled and windows run, per chunk still running. */
  /** @type {Map<number, { tiles: number, windows: number }>} */
  #running = new Map();
  #done = { chunks: 0, windows: 0, tiles: 0, detections: 0, failed: 0 };
  /** @type {import("./types.js").Stage} */
  #stage = "fetch";
  /** Why the first chunk given up failed. */
  #firstFailure = "";
  /** @type {boolean[]} chunks no worker has taken (again, after a lost worker) */
  #free;
  /** @type {number[]} attempts at each chunk */
  #attempts;
  /** @type {WeakMap<PoolWorker, number>} the chunk each worker took last */
  #lastOf = new WeakMap();
  /** @type {DetectionBatch["features"]} every detection the merge released, in release order */
  #released = [];

  /**
   * @param {Pool} pool
   * @param {number} run
   * @param {PoolWorker} merger
   * @param {unknown} aoi
   * @param {EngineDetectOptions} options
   * @param {import("./types.js").RunPlan} plan
   * @param {number} timeoutMs
   * @param {RunCallbacks} callbacks
   */
  constructor(pool, run, merger, aoi, options, plan, timeoutMs, callbacks) {
    this.#pool = pool;
    this.#run = run;
    this.#merger = merger;
    this.#aoi = aoi;
    this.#options = options;
    this.#plan = plan;
    this.#timeoutMs = timeoutMs;
    this.#callbacks = callbacks;
    this.#free = new Array(plan.chunks).fill(true);
    this.#attempts = new Array(plan.chunks).fill(0);
    this.result = this.#go();
  }

  async #go() {
    const { signal } = this.#callbacks;
    const stop = () => this.#abort.abort(signal?.reason);
    if (signal?.aborted) stop();
    signal?.addEventListener("abort", stop, { once: true });
    try {
      this.#report();
      const chunks = Array.from({ length: this.#plan.chunks }, () => this.#slot());
      // The first error that is not a lost worker stops the others.
      await Promise.all(chunks.map((p) => p.catch((/** @type {unknown} */ e) => {
        this.#abort.abort();
        throw e;
      })));
      if (this.#done.failed === this.#plan.chunks) {
        throw new GeodetectError("WORKER_CRASHED", `no chunk of the area could be run; the first: ${this.#firstFailure}`);
      }
      const finished = /** @type {import("./types.js").FinishedRun} */ (await this.#merge(MSG.FINISH_RUN, { run: this.#run, totalMs: performance.now() - this.#start }));
      this.#stage = "done";
      const result = compose(finished, this.#released);
      this.#release(finished.batch);
      this.#report();
      return result;
    } catch (e) {
      this.#pool.broadcast({ type: MSG.DROP_RUN, run: this.#run });
      if (signal?.aborted) throw new GeodetectError("ABORTED", "the operation was aborted", { cause: signal.reason });
      throw e;
    } finally {
      signal?.removeEventListener("abort", stop);
    }
  }

  /**
   * One slot of the run: a task on the pool that runs the chunk its worker picks (#pick),
   * then merges it. There are as many slots waiting or running as chunks not yet taken: a
   * chunk whose worker is lost is freed again with a slot of its own, once; then it is given
   * up.
   * @returns {Promise<void>}
   */
  async #slot() {
    let k = -1;
    /** @type {ChunkOutput} */
    let output;
    try {
      output = await this.#pool.submit((w) => {
        k = this.#pick(w);
        return this.#runOn(w, k);
      }, this.#abort.signal);
    } catch (e) {
      if (k >= 0) this.#running.delete(k);
      if (this.#pool.broken) throw this.#pool.broken;
      if (k < 0 || !workerLost(e) || this.#abort.signal.aborted) throw e;
      if (this.#attempts[k] < ATTEMPTS) {
        this.#pool.stats.chunksRetried++;
        this.#free[k] = true;
        return this.#slot();
      }
      this.#pool.stats.chunksFailed++;
      this.#done.failed++;
      const reason = describe(e);
      this.#firstFailure ||= reason;
      /** @type {ChunkFailure} */
      const failure = { chunk: k, reason, attempts: this.#attempts[k] };
      const update = /** @type {MergeUpdate} */ (await this.#merge(MSG.FAIL_CHUNK, { run: this.#run, failure }));
      this.#merged.push({ type: MSG.FAIL_CHUNK, payload: { run: this.#run, failure } });
      this.#updated(update);
      return;
    }
    const update = /** @type {MergeUpdate} */ (await this.#merge(MSG.MERGE_CHUNK, { run: this.#run, output }));
    this.#merged.push({ type: MSG.MERGE_CHUNK, payload: { run: this.#run, output } });
    // Its tiles move from the running to the done; its windows are in the update.
    this.#done.tiles += this.#running.get(k)?.tiles ?? 0;
    this.#running.delete(k);
    this.#updated(update);
  }

  /**
   * The chunk worker `w` takes next: the one after its last, so that the tiles on their seam
   * come from its tile cache; else, in the longest run of chunks nobody has taken, its first
   * if nothing runs just before it, else its middle (so each worker works through a span of
   * neighbouring chunks of its own, and spans are split as workers free up).
   * @param {PoolWorker} w
   * @returns {number}
   */
  #pick(w) {
    const free = this.#free;
    const last = this.#lastOf.get(w);
    let k = last !== undefined && free[last + 1] ? last + 1 : -1;
    if (k < 0) {
      let [a, b] = [0, 0];
      for (let i = 0; i < free.length; ) {
        let j = i;
        while (j < free.length && free[j]) j++;
        if (j - i > b - a) [a, b] = [i, j];
        i = j + 1;
      }
      k = a === 0 || !this.#running.has(a - 1) ? a : a + ((b - a) >> 1);
    }
    if (!free[k]) throw new GeodetectError("INTERNAL", `the pool picked chunk ${k}, which is taken`);
    free[k] = false;
    this.#lastOf.set(w, k);
    this.#attempts[k]++;
    return k;
  }

  /**
   * Chunk `k` on worker `w`, its progress counted into the run's.
   * @param {PoolWorker} w
   * @param {number} k
   * @returns {Promise<ChunkOutput>}
   */
  #runOn(w, k) {
    const mine = { tiles: 0, windows: 0 };
    this.#running.set(k, mine);
    const onProgress = (/** @type {Progress} */ p) => {
      if (p.stage === "fetch" || p.stage === "stitch") mine.tiles = Math.max(mine.tiles, p.done);
      if (p.stage === "inference") mine.windows = Math.max(mine.windows, p.done);
      if (p.stage === "fetch" || p.stage === "stitch" || p.stage === "inference") this.#stage = p.stage;
      this.#report();
    };
    // The chunk this worker will likely take next (#pick), which it loads while it runs k.
    const next = this.#free[k + 1] ? k + 1 : undefined;
    const payload = { run: this.#run, aoi: this.#aoi, options: this.#options, chunk: k, next };
    return bounded(w, this.#timeoutMs, `chunk ${k}`, () => w.client.request(MSG.RUN_CHUNK, payload, { signal: this.#abort.signal, onProgress }));
  }

  /**
   * A merge request on the merging worker, after the ones before it; if that worker is lost,
   * a new one replays the merges done so far and takes this one.
   * @param {typeof MSG.MERGE_CHUNK | typeof MSG.FAIL_CHUNK | typeof MSG.FINISH_RUN} type
   * @param {any} payload
   * @returns {Promise<unknown>}
   */
  #merge(type, payload) {
    const next = this.#mergeChain.then(async () => {
      for (let tries = 1; ; tries++) {
        try {
          if (this.#merger.client.failed) await this.#replay();
          return await this.#merger.client.request(type, payload, { signal: this.#abort.signal });
        } catch (e) {
          if (!workerLost(e) || tries >= MERGE_TRIES) throw e;
        }
      }
    });
    this.#mergeChain = next.catch(() => {});
    return next;
  }

  /** Start the run again on a new merging worker and merge again what was merged. */
  async #replay() {
    const signal = this.#abort.signal;
    this.#merger = await this.#pool.merger(signal);
    await this.#merger.client.request(MSG.START_RUN, { run: this.#run, aoi: this.#aoi, options: this.#options }, { signal });
    for (const { type, payload } of this.#merged) await this.#merger.client.request(type, payload, { signal });
  }

  /** @param {MergeUpdate} update */
  #updated(update) {
    this.#done.chunks = update.chunksDone;
    this.#done.windows = update.windowsDone;
    this.#done.detections = update.detections;
    this.#released.push(...update.batch.features);
    this.#release(update.batch);
    this.#report();
  }

  /**
   * Detections released by the merge (each kept for the result, whose order comes at the end).
   * @param {DetectionBatch} batch
   */
  #release(batch) {
    const { onDetections } = this.#callbacks;
    if (onDetections && batch.features.length) callSafely(onDetections, batch, this.#progress());
  }

  /** @returns {Progress} the run's progress now */
  #progress() {
    let tiles = this.#done.tiles;
    let windows = this.#done.windows;
    for (const r of this.#running.values()) {
      tiles += r.tiles;
      windows += r.windows;
    }
    const elapsedMs = performance.now() - this.#start;
    const stage = this.#stage;
    const [done, total] = stage === "inference" ? [windows, this.#plan.windows] : stage === "done" ? [1, 1] : [tiles, this.#plan.tiles];
    return {
      stage,
      done,
      total,
      tilesDone: stage === "done" ? this.#plan.tiles : tiles,
      tilesTotal: this.#plan.tiles,
      chunksDone: this.#done.chunks,
      chunksTotal: this.#plan.chunks,
      detections: this.#done.detections,
      elapsedMs,
      // As the engine estimates it: the time per model window so far.
      etaMs: windows > 0 ? (elapsedMs / windows) * Math.max(0, this.#plan.windows - windows) : null,
    };
  }

  #report() {
    const { onProgress } = this.#callbacks;
    if (onProgress) callSafely(onProgress, this.#progress());
  }
}
