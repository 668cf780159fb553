/**
 * `webWorkerPool()`: an executor for `er({executor})` in the browser whose
 * shards run on Web Workers, each with its own tfjs and backend (wasm by
 * default, or cpu), so an update uses every core instead of the page's one.
 *
 * The workers load `dist/tfjs-er.worker.js` (this package's worker bundle)
 * and, through it, the tfjs scripts you serve: tfjs is never bundled in.
 */
import {ERInputError, NetworkSpec} from '../engine/index';
import {ERExecutor, ExecutorRun, RunOptions} from './executor';
import {ShardPort} from './protocol';
import {RemoteRun, RemoteShard} from './remote';

/** Options of {@link webWorkerPool}. */
export interface WebWorkerPoolOptions {
  /** Web Workers, one shard each. Default: `navigator.hardwareConcurrency` (at most 8), else 2. */
  workers?: number;
  /** URL of `dist/tfjs-er.worker.js` as you serve it. */
  workerUrl: string;
  /**
   * URLs of the tfjs scripts each worker loads first, in order: the tfjs
   * bundle (e.g. `@tensorflow/tfjs/dist/tf.min.js`) and, for the wasm backend,
   * `@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js`.
   */
  tfjsUrls: string[];
  /** The workers' backend: 'wasm' (default) or 'cpu'. */
  backend?: 'wasm'|'cpu';
  /** Where the wasm backend finds its `.wasm` files (a URL prefix ending in '/'); required for 'wasm'. */
  wasmPaths?: string;
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  /** Rejects when the worker fails (an uncaught error) or is terminated. */
  lifetime: Promise<never>;
  kill: (reason: Error) => void;
}

/** Web Workers as an ER executor (see the module comment). `close()` terminates them. */
export class WebWorkerPool implements ERExecutor {
  readonly name: string;
  readonly shards: number;
  private slots: Array<Slot|null>;
  private closed = false;

  constructor(private readonly options: WebWorkerPoolOptions) {
    if (typeof Worker === 'undefined') {
      throw new ERInputError('webWorkerPool: this environment has no Web Workers; in Node use threadPool() from tfjs-er/node');
    }
    const nav = typeof navigator !== 'undefined' ? navigator : undefined;
    const workers = options.workers ?? Math.min(8, nav?.hardwareConcurrency ?? 2);
    if (!(Number.isInteger(workers) && workers >= 1)) {
      throw new ERInputError(`webWorkerPool: workers must be an integer >= 1, got ${workers}`);
    }
    if (typeof options.workerUrl !== 'string' || !Array.isArray(options.tfjsUrls) || options.tfjsUrls.length === 0) {
      throw new ERInputError('webWorkerPool: give workerUrl (dist/tfjs-er.worker.js) and tfjsUrls (the tfjs scripts)');
    }
    const backend = options.backend ?? 'wasm';
    if (backend !== 'wasm' && backend !== 'cpu') {
      throw new ERInputError(`webWorkerPool: backend must be 'wasm' or 'cpu', got '${backend as string}'`);
    }
    if (backend === 'wasm' && options.wasmPaths == null) {
      throw new ERInputError("webWorkerPool: the wasm backend needs wasmPaths (the URL prefix of its .wasm files)");
    }
    this.shards = workers;
    this.name = `web workers ×${workers} (${backend})`;
    this.slots = Array.from({length: workers}, () => null);
  }

  /** Terminates worker `i` (a run using it fails; the next run starts a new one). */
  terminateWorker(i: number): void {
    const s = this.slots[i];
    if (s == null) return;
    this.slots[i] = null;
    s.worker.terminate();
    s.kill(new Error(`web worker ${i + 1} of ${this.shards} was terminated`));
  }

  async open(spec: NetworkSpec, options: RunOptions): Promise<ExecutorRun> {
    if (this.closed) throw new Error(`${this.name}: the pool is closed`);
    const slots = this.slots.map((s, i) => s ?? (this.slots[i] = this.start(i)));
    await Promise.all(slots.map(s => s.ready));
    const shards = slots.map((s, i) => new RemoteShard(`web worker ${i + 1} of ${this.shards}`, portOf(s.worker),
                                                       s.lifetime));
    // shared memory (for the solves) needs a cross-origin-isolated page
    const shared = typeof SharedArrayBuffer !== 'undefined' &&
        (globalThis as {crossOriginIsolated?: boolean}).crossOriginIsolated === true;
    return RemoteRun.open(spec, shards, options, shared);
  }

  /** Live tensors in each worker's tfjs (between runs: 0 unless something leaked). */
  async memory(): Promise<number[]> {
    const run = await this.open({units: [], inputShape: []}, {chunkRows: 1}) as RemoteRun;
    try {
      return await run.memory();
    } finally {
      await run.close();
    }
  }

  /** Terminates every worker; the pool cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.slots.forEach((_, i) => this.terminateWorker(i));
  }

  private start(i: number): Slot {
    const o = this.options;
    const url = `${o.workerUrl}${o.workerUrl.includes('?') ? '&' : '?'}tfjs=${encodeURIComponent(JSON.stringify(o.tfjsUrls))}`;
    const worker = new Worker(url);
    let kill: (reason: Error) => void = () => undefined;
    const lifetime = new Promise<never>((_, reject) => { kill = reject; });
    lifetime.catch(() => undefined);
    worker.addEventListener('error', e => {
      e.preventDefault();
      if (this.slots[i]?.worker === worker) this.slots[i] = null;
      worker.terminate();
      kill(new Error(`web worker ${i + 1} of ${this.shards} failed: ${e.message || 'an uncaught error'}`));
    });
    const ready = new Promise<void>((resolve, reject) => {
      const onInit = (e: MessageEvent) => {
        const m = e.data as {initialised?: boolean, initError?: string};
        if (m == null || (m.initialised == null && m.initError == null)) return;
        worker.removeEventListener('message', onInit);
        if (m.initError != null) reject(new Error(`web worker ${i + 1}: ${m.initError}`));
        else resolve();
      };
      worker.addEventListener('message', onInit);
      lifetime.catch(reject);
    });
    worker.postMessage({init: {backend: o.backend ?? 'wasm', wasmPaths: o.wasmPaths ?? null}});
    return {worker, ready, lifetime, kill: reason => kill(reason)};
  }
}

/** A run's channel over a worker: its listener is removed when the run closes. */
function portOf(worker: Worker): ShardPort {
  let listener: ((e: MessageEvent) => void)|null = null;
  return {
    post: (m, transfer) => worker.postMessage(m, transfer ?? []),
    onMessage: h => {
      listener = (e: MessageEvent) => h(e.data);
      worker.addEventListener('message', listener);
    },
    close: () => {
      if (listener != null) worker.removeEventListener('message', listener);
      listener = null;
    },
  };
}

/**
 * Web Workers as an executor for `er({executor})`.
 *
 * ```ts
 * const pool = webWorkerPool({
 *   workers: 2, workerUrl: '/tfjs-er/tfjs-er.worker.js',
 *   tfjsUrls: ['/tfjs/tf.min.js', '/tfjs/tf-backend-wasm.min.js'], wasmPaths: '/tfjs/',
 * });
 * model.compile({optimizer: er({executor: pool}), loss: 'categoricalCrossentropy'});
 * await model.fit(xs, ys, {epochs: 3, batchSize: 2000});
 * await pool.close();
 * ```
 */
export function webWorkerPool(options: WebWorkerPoolOptions): WebWorkerPool {
  return new WebWorkerPool(options);
}
