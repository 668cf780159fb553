/**
 * `threadPool()`: an executor for `er({executor})` whose shards run on
 * worker threads (piscina), each thread with its own tfjs and backend
 * (wasm by default, or cpu), so an update uses every core. tfjs-node cannot
 * be loaded in more than one thread (tfjs issue #8388): use worker processes
 * (`redisExecutor`) for it.
 */
import * as os from 'os';
import * as path from 'path';
import {MessageChannel, Worker} from 'worker_threads';
import Piscina from 'piscina';
import {engine, ERExecutor, ERInputError, ExecutorRun, executors, RunOptions} from 'tfjs-er';
import {ThreadWorkerData} from './thread_worker';

/** Options of {@link threadPool}. */
export interface ThreadPoolOptions {
  /** Worker threads, one shard each. Default: `os.availableParallelism()`. */
  threads?: number;
  /** The tfjs backend of every thread: 'wasm' (default, the fastest CPU backend) or 'cpu'. */
  backend?: 'wasm'|'cpu'|'tensorflow';
}

/** The worker file next to this module: the compiled one in dist, the TypeScript source under tsx. */
function workerFile(): string {
  return __filename.endsWith('.ts') ? path.join(__dirname, 'thread_worker.ts') : path.join(__dirname, 'thread_worker.cjs');
}

/**
 * Worker threads as an ER executor. Runs are served one at a time (a second
 * concurrent fit waits for the first); `close()` ends every thread.
 *
 * ```ts
 * import {er} from 'tfjs-er';
 * import {threadPool} from 'tfjs-er/node';
 *
 * const pool = threadPool({threads: 2});
 * model.compile({optimizer: er({executor: pool}), loss: 'categoricalCrossentropy'});
 * await model.fit(xs, ys, {epochs: 3, batchSize: 2000});   // the same weights as er()
 * await pool.close();
 * ```
 */
export class ThreadPool implements ERExecutor {
  readonly name: string;
  readonly shards: number;
  readonly backend: 'wasm'|'cpu';
  private readonly pool: Piscina;
  private closed = false;

  constructor(options: ThreadPoolOptions = {}) {
    const threads = options.threads ?? (os.availableParallelism?.() ?? os.cpus().length);
    if (!(Number.isInteger(threads) && threads >= 1)) {
      throw new ERInputError(`threadPool: threads must be an integer >= 1, got ${threads}`);
    }
    const backend = options.backend ?? 'wasm';
    if (backend === 'tensorflow') {
      throw new ERInputError(
          "threadPool: the 'tensorflow' backend (tfjs-node) cannot be loaded in more than one worker thread " +
          '(tfjs issue #8388); use backend wasm or cpu here, or worker processes with redisExecutor()');
    }
    if (backend !== 'wasm' && backend !== 'cpu') {
      throw new ERInputError(`threadPool: backend must be 'wasm' or 'cpu', got '${backend as string}'`);
    }
    this.shards = threads;
    this.backend = backend;
    this.name = `threads ×${threads} (${backend})`;
    const workerData: ThreadWorkerData = {backend};
    this.pool = new Piscina({
      filename: workerFile(), minThreads: threads, maxThreads: threads, idleTimeout: 2 ** 31 - 1,
      concurrentTasksPerWorker: 1, atomics: 'disabled', workerData,
    });
    // A thread that dies is reported through the task it ran; piscina replaces it.
    this.pool.on('error', () => undefined);
  }

  /** The live worker threads (for monitoring). */
  get threads(): Worker[] {
    return this.pool.threads;
  }

  async open(spec: engine.NetworkSpec, options: RunOptions): Promise<ExecutorRun> {
    if (this.closed) throw new Error(`${this.name}: the pool is closed`);
    const shards = Array.from({length: this.shards}, (_, i) => {
      const {port1, port2} = new MessageChannel();
      const task = this.pool.run({port: port2}, {transferList: [port2]});
      return new executors.RemoteShard(`thread ${i + 1} of ${this.shards}`, {
        post: (m, transfer) => port1.postMessage(m, transfer ?? []),
        onMessage: h => port1.on('message', h),
        close: () => port1.close(),
      }, task);
    });
    return executors.RemoteRun.open(spec, shards, options, true);
  }

  /**
   * Resolves once every thread has loaded tfjs and its backend. Optional: a
   * fit started before then waits for the threads inside its first update.
   */
  async ready(): Promise<void> {
    await (await this.openEmpty()).close();
  }

  /** Live tensors in each thread's tfjs (between runs: 0 unless something leaked). */
  async memory(): Promise<number[]> {
    const run = await this.openEmpty();
    try {
      return await run.memory();
    } finally {
      await run.close();
    }
  }

  /** A run of no units on every thread: each thread answers once its tfjs and backend are up. */
  private openEmpty(): Promise<executors.RemoteRun> {
    return this.open({units: [], inputShape: []}, {chunkRows: 1}) as Promise<executors.RemoteRun>;
  }

  /** Ends every thread; the pool cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.destroy();
  }
}

/** A pool of worker threads as an executor for `er({executor})` (see {@link ThreadPool}). */
export function threadPool(options: ThreadPoolOptions = {}): ThreadPool {
  return new ThreadPool(options);
}
