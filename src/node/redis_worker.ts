/**
 * `serveRedisWorker()`: a worker process for {@link redisExecutor}. It takes
 * the queue's map jobs one at a time and runs each pass on its shard with the
 * engine's map step, on the tfjs backend of this process (any backend,
 * tfjs-node included). It loads a shard's rows itself (a data set by name, a
 * module's `loadShard`, or chunks the coordinator stored) and keeps them, with
 * the update's weights, while jobs of the same fit keep coming; it refuses
 * jobs of another tfjs-er version and shards whose rows differ from the
 * coordinator's.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {ConnectionOptions, Job, Worker} from 'bullmq';
import type {Redis, RedisOptions} from 'ioredis';
import {engine, ERInputError, executors, version} from 'tfjs-er';
import {DEFAULT_QUEUE, redisOptions, redisPeers} from './redis_executor';
import {BLOB_SECONDS, decode, describePrint, encode, MapJobData, ResultBlob, samePrint, SlotBlob} from './redis_jobs';
import {loadWorkerShard, WorkerShard} from './shard_sources';

/** Options of {@link serveRedisWorker}. */
export interface RedisWorkerOptions {
  /** The Redis server: a URL (`redis://HOST:PORT`) or ioredis options. */
  connection: string|RedisOptions;
  /** Queue name, the coordinator's. Default 'tfjs-er'. */
  queue?: string;
  /**
   * Seconds a job's lock lasts between renewals: when a worker dies, its job
   * goes to another worker after about this long. Default 30.
   */
  lockSeconds?: number;
  /** Overrides the data folder of data-set sources (where this machine keeps CIFAR-10, say). */
  dataDir?: string;
  /** Shards kept in memory between jobs (least recently used dropped first). Default 4. */
  cacheShards?: number;
  /** The protocol version this worker serves (default: this package's version). */
  protocolVersion?: string;
  /** Called when a job starts and ends (for logs). */
  onJob?: (event: RedisWorkerEvent) => void;
  /**
   * Called when the backend aborted (its WebAssembly heap full, most often):
   * the worker has stopped taking jobs (the failed one goes to another
   * worker) and its process should end. Default: nothing more.
   */
  onBroken?: (error: Error) => void;
}

/** A job as {@link RedisWorkerOptions.onJob} reports it. */
export interface RedisWorkerEvent {
  phase: 'start'|'done'|'failed';
  run: string;
  update: number;
  pass: number;
  plan: engine.PassPlan['kind'];
  shard: number;
  shards: number;
  /** Seconds the job took (done or failed). */
  seconds?: number;
  error?: string;
}

/** A running worker. */
export interface RedisWorkerHandle {
  /** Jobs done so far. */
  readonly jobs: number;
  /** Resolves once connected and taking jobs. */
  ready(): Promise<void>;
  /** Finishes the job in progress, stops taking jobs and releases every tensor and connection. */
  close(): Promise<void>;
}

/** Where a cached shard came from: equal keys give equal rows. */
function shardKey(job: MapJobData): string {
  const src = job.source.kind === 'shipped' ? {kind: 'shipped', run: job.run, keys: job.source.chunkKeys} : job.source;
  return JSON.stringify([src, job.from, job.to, job.chunkRows, job.spec.inputShape]);
}

/** The current update's state on this worker. */
interface UpdateState {
  run: string;
  update: number;
  state: executors.ShardUpdate;
  applied: number;
}

class RedisWorkerProcess implements RedisWorkerHandle {
  jobs = 0;
  private readonly worker: Worker;
  private readonly redis: Redis;
  private readonly shards = new Map<string, WorkerShard>();
  private current: UpdateState|null = null;
  private readonly protocol: string;
  private readonly unrecoverable: new (message: string) => Error;
  private closing: Promise<void>|null = null;

  constructor(private readonly options: RedisWorkerOptions) {
    const {bullmq, IORedis} = redisPeers();
    const conn = redisOptions(options.connection);
    const lock = options.lockSeconds ?? 30;
    if (!(lock > 0 && Number.isFinite(lock))) {
      throw new ERInputError(`serveRedisWorker: lockSeconds must be a positive number, got ${lock}`);
    }
    this.protocol = options.protocolVersion ?? version;
    this.unrecoverable = bullmq.UnrecoverableError;
    this.redis = new IORedis({...conn, maxRetriesPerRequest: null});
    this.redis.on('error', () => undefined);
    this.worker = new bullmq.Worker(options.queue ?? DEFAULT_QUEUE, job => this.process(job), {
      connection: {...conn, maxRetriesPerRequest: null} as ConnectionOptions, concurrency: 1,
      lockDuration: lock * 1000, stalledInterval: lock * 1000, maxStalledCount: 2,
    });
    this.worker.on('error', () => undefined);
  }

  async ready(): Promise<void> {
    await this.worker.waitUntilReady();
    await this.redis.ping();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.worker.close();
      this.dropUpdate();
      for (const s of this.shards.values()) tf.dispose(s.chunks.flatMap(c => [c.x, c.y]));
      this.shards.clear();
      this.redis.disconnect();
    })();
    return this.closing;
  }

  private async process(job: Job): Promise<{rows: number, duplicate?: boolean}> {
    const d = job.data as MapJobData;
    const event = {run: d.run, update: d.update, pass: d.pass, plan: d.plan?.kind, shard: d.shard, shards: d.shards};
    const t0 = Date.now();
    this.options.onJob?.({phase: 'start', ...event});
    try {
      if (d.version !== this.protocol) {
        throw new this.unrecoverable(
            `a tfjs-er ${this.protocol} worker refused a job from a tfjs-er ${d.version} coordinator: run the same ` +
            'tfjs-er version on the coordinator and on every worker');
      }
      // a first try of this job already answered (the result that is stored stays)
      if (await this.redis.exists(d.resultKey)) return {rows: 0, duplicate: true};
      const shard = await this.shardOf(d);
      const loadSeconds = (Date.now() - t0) / 1000;
      const update = await this.updateFor(d);
      const stats = await update.state.runner.runAsync(d.plan, () => shard.chunks,
                                                        () => new Promise(r => setImmediate(r)));
      const blob: ResultBlob = {stats, seconds: (Date.now() - t0) / 1000, loadSeconds};
      await this.redis.set(d.resultKey, encode(blob), 'EX', BLOB_SECONDS, 'NX');
      this.jobs++;
      this.options.onJob?.({phase: 'done', ...event, seconds: (Date.now() - t0) / 1000});
      return {rows: stats.rows};
    } catch (e) {
      const err = e as Error;
      this.options.onJob?.({phase: 'failed', ...event, seconds: (Date.now() - t0) / 1000, error: err.message});
      // input errors are the data's: no retry can help
      if (err instanceof ERInputError) throw new this.unrecoverable(`ERInputError: ${err.message}`);
      if (executors.isBackendAbort(err)) {
        // this process's backend cannot run again: stop taking jobs; the job is retried elsewhere
        const broken = executors.backendAbortError(err, 'This worker stopped taking jobs; the job goes to another.');
        void this.close().finally(() => this.options.onBroken?.(broken));
        throw broken;
      }
      throw err;
    }
  }

  /** The job's shard: cached, or loaded and checked against the coordinator's print. */
  private async shardOf(d: MapJobData): Promise<WorkerShard> {
    const key = shardKey(d);
    let shard = this.shards.get(key);
    if (shard != null) {
      this.shards.delete(key);
      this.shards.set(key, shard);
      return shard;
    }
    shard = await loadWorkerShard(d, this.redis, this.options.dataDir);
    if (d.expect != null && !samePrint(shard.print, d.expect)) {
      tf.dispose(shard.chunks.flatMap(c => [c.x, c.y]));
      throw new this.unrecoverable(
          `shard ${d.shard + 1} of ${d.shards} (rows ${d.from}…${d.to - 1}) on this worker is not the coordinator's: ` +
          `its ${d.source.kind} source gave ${describePrint(shard.print)}, the coordinator has ` +
          `${describePrint(d.expect)}. Give the coordinator and the workers the same data source.`);
    }
    this.shards.set(key, shard);
    const keep = this.options.cacheShards ?? 4;
    for (const [k, s] of this.shards) {
      if (this.shards.size <= keep) break;
      if (k === key) continue;
      tf.dispose(s.chunks.flatMap(c => [c.x, c.y]));
      this.shards.delete(k);
    }
    return shard;
  }

  /** The runner of the job's update, with every slot the coordinator has set so far. */
  private async updateFor(d: MapJobData): Promise<UpdateState> {
    let u = this.current;
    if (u == null || u.run !== d.run || u.update !== d.update || u.applied > d.slotKeys.length) {
      this.dropUpdate();
      const bytes = await this.redis.getBuffer(d.beginKey);
      if (bytes == null) {
        throw new this.unrecoverable(`the weights of update ${d.update} are not in Redis (the fit ended, or Redis ` +
                                     'was restarted)');
      }
      const spec = d.spec;
      u = {run: d.run, update: d.update, state: new executors.ShardUpdate(spec, decode(bytes)), applied: 0};
      this.current = u;
    }
    for (; u.applied < d.slotKeys.length; u.applied++) {
      const bytes = await this.redis.getBuffer(d.slotKeys[u.applied]);
      if (bytes == null) {
        this.dropUpdate();
        throw new this.unrecoverable(`the weights set during update ${d.update} are not in Redis (the fit ended, or ` +
                                     'Redis was restarted)');
      }
      const blob = decode<SlotBlob>(bytes);
      u.state.set(blob.slot, blob.unit, blob.value);
    }
    return u;
  }

  private dropUpdate() {
    this.current?.state.dispose();
    this.current = null;
  }
}

/**
 * Serves a {@link redisExecutor}'s queue from this process until `close()`:
 * what `npx tfjs-er worker --redis URL` runs. Select the tfjs backend first.
 *
 * ```ts
 * import * as tf from '@tensorflow/tfjs-node';            // or wasm, cpu …
 * import {serveRedisWorker} from 'tfjs-er/node';
 *
 * const worker = serveRedisWorker({connection: 'redis://HOST:6379'});
 * process.on('SIGTERM', () => worker.close().then(() => process.exit(0)));
 * ```
 */
export function serveRedisWorker(options: RedisWorkerOptions): RedisWorkerHandle {
  return new RedisWorkerProcess(options);
}
