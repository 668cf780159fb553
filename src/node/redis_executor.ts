/**
 * `redisExecutor()`: an executor for `er({executor})` whose map steps are
 * BullMQ jobs on Redis, done by worker processes on any number of machines
 * (`tfjs-er worker`, or {@link serveRedisWorker} in a script of yours). Each
 * pass is one job per shard; the coordinator (the process that called `fit`)
 * waits for them, merges their statistics and solves.
 *
 * A job carries everything by reference — the network, where its shard's
 * rows are, the Redis keys of the update's weights — so when its worker dies,
 * BullMQ's stalled-job recovery hands it to another worker, which loads the
 * shard itself. Results are keyed by (update, pass, shard) and the first one
 * stored stays: a retried job that also finishes late changes nothing, and
 * the update equals the in-process one.
 *
 * Plain jobs and QueueEvents rather than a BullMQ flow: the reduce is the
 * coordinator's own float64 merge and solve, not a job a worker could take.
 *
 * Needs the optional peers `bullmq` and `ioredis`.
 */
import type {ConnectionOptions, Queue, QueueEvents} from 'bullmq';
import type {Redis, RedisOptions} from 'ioredis';
import {engine, ERExecutor, ERInputError, ExecutorRun, RunOptions, version} from 'tfjs-er';
import {ShardSource} from './redis_jobs';
import {RedisRun} from './redis_run';

/** The queue both the coordinator and the workers use unless told otherwise. */
export const DEFAULT_QUEUE = 'tfjs-er';

/** Options of {@link redisExecutor}. */
export interface RedisExecutorOptions {
  /** The Redis server: a URL (`redis://[:PASSWORD@]HOST:PORT[/DB]`) or ioredis options. */
  connection: string|RedisOptions;
  /** Queue name, shared with the workers. Default 'tfjs-er'. */
  queue?: string;
  /**
   * Shards the rows are split into (jobs per pass). Default: the number of
   * workers serving the queue when a fit starts.
   */
  shards?: number;
  /**
   * Where workers get the rows: a data set the CLI knows, or a module of
   * yours exporting `loadShard`; the rows never travel through Redis, and
   * each worker's shard is checked against the coordinator's own rows.
   * Without it the rows of `fit(x, y)` are stored in Redis for the fit
   * (they must fit in its memory: 4 bytes per value, inputs and targets).
   */
  source?: Exclude<ShardSource, {kind: 'shipped'}>;
  /** Seconds the fit waits with no worker connected to the queue before it fails. Default 60. */
  workerTimeout?: number;
  /** Seconds one pass may take before the fit fails. Default 3600. */
  passTimeout?: number;
  /** Seconds a fit waits for a first worker when `shards` is not given. Default 10. */
  connectTimeout?: number;
  /** Tries per job (a worker that throws is retried, possibly elsewhere). Default 3. */
  attempts?: number;
  /** The protocol version jobs carry (default: this package's version); workers refuse any other. */
  protocolVersion?: string;
  /** Called after every pass with its timings (to see what the queue costs). */
  onPass?: (report: RedisPassReport) => void;
}

/** The timings of one pass, for {@link RedisExecutorOptions.onPass}. */
export interface RedisPassReport {
  update: number;
  /** The pass, numbered from 1 within the update. */
  pass: number;
  /** What the pass computes ('first', 'target', 'refresh', …). */
  kind: string;
  /** Seconds from queueing the jobs to having every shard's statistics decoded. */
  seconds: number;
  /** Per shard: the seconds its worker spent on the job (loading what it lacked, then computing). */
  workerSeconds: number[];
  /** Per shard: of which loading the shard's rows (0 when the worker had them). */
  loadSeconds: number[];
  /** Bytes of statistics read back from Redis. */
  resultBytes: number;
}

/** bullmq and ioredis, loaded when an executor is made (optional peers). */
export function redisPeers(): {bullmq: typeof import('bullmq'), IORedis: typeof import('ioredis').default} {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return {bullmq: require('bullmq'), IORedis: require('ioredis')};
  } catch (e) {
    throw new ERInputError('the Redis executor needs the optional peers bullmq and ioredis: ' +
                           `npm install bullmq ioredis (${(e as Error).message})`);
  }
}

/** ioredis options from a URL or options. */
export function redisOptions(connection: string|RedisOptions): RedisOptions {
  if (typeof connection !== 'string') return {...connection};
  let u: URL;
  try {
    u = new URL(connection);
  } catch {
    throw new ERInputError(`redis: a URL redis://HOST:PORT is needed, got '${connection}'`);
  }
  if (u.protocol !== 'redis:') throw new ERInputError(`redis: a URL redis://HOST:PORT is needed, got '${connection}'`);
  return {host: u.hostname, port: Number(u.port || 6379), password: u.password ? decodeURIComponent(u.password) : undefined,
          db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined};
}

function positive(name: string, v: number|undefined, def: number): number {
  if (v == null) return def;
  if (!(typeof v === 'number' && v > 0 && Number.isFinite(v))) {
    throw new ERInputError(`redisExecutor: ${name} must be a positive number of seconds, got ${v}`);
  }
  return v;
}

/** Redis as an executor (see the module comment). `close()` ends its connections; the workers keep running. */
export class RedisExecutor implements ERExecutor {
  readonly name: string;
  /** Shards of the current (or last) fit. */
  shards: number;
  /** The queue's name. */
  readonly queueName: string;
  private readonly redis: Redis;
  private readonly conn: RedisOptions;
  // made once Redis has answered (a bullmq Queue or QueueEvents that never connected cannot be closed)
  private bull: {queue: Queue, events: QueueEvents}|null = null;
  private readonly settings: Required<Omit<RedisExecutorOptions, 'connection'|'queue'|'shards'|'source'|'onPass'>> &
      Pick<RedisExecutorOptions, 'onPass'>;
  private closed = false;

  constructor(readonly options: RedisExecutorOptions) {
    const {IORedis} = redisPeers();
    const conn = redisOptions(options.connection);
    if (options.shards != null && !(Number.isInteger(options.shards) && options.shards >= 1)) {
      throw new ERInputError(`redisExecutor: shards must be an integer >= 1, got ${options.shards}`);
    }
    if (options.attempts != null && !(Number.isInteger(options.attempts) && options.attempts >= 1)) {
      throw new ERInputError(`redisExecutor: attempts must be an integer >= 1, got ${options.attempts}`);
    }
    this.queueName = options.queue ?? DEFAULT_QUEUE;
    this.name = `redis ${conn.host ?? '127.0.0.1'}:${conn.port ?? 6379} queue '${this.queueName}'`;
    this.shards = options.shards ?? 0;
    this.settings = {
      workerTimeout: positive('workerTimeout', options.workerTimeout, 60),
      passTimeout: positive('passTimeout', options.passTimeout, 3600),
      connectTimeout: positive('connectTimeout', options.connectTimeout, 10),
      attempts: options.attempts ?? 3,
      protocolVersion: options.protocolVersion ?? version,
      onPass: options.onPass,
    };
    // fail fast while Redis is down rather than queue commands until it returns
    const quick = {...conn, enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true};
    this.redis = new IORedis(quick);
    this.redis.on('error', () => undefined);
    this.conn = conn;
  }

  async open(spec: engine.NetworkSpec, options: RunOptions): Promise<ExecutorRun> {
    if (this.closed) throw new Error(`${this.name}: the executor is closed`);
    await this.ensureReady('starting a fit');
    let shards = this.options.shards;
    if (shards == null) {
      const until = Date.now() + this.settings.connectTimeout * 1000;
      let workers = await this.workers();
      while (workers === 0 && Date.now() < until) {
        await sleep(250);
        workers = await this.workers();
      }
      if (workers === 0) {
        throw new Error(`${this.name}: no worker serves this queue (waited ${this.settings.connectTimeout} s); ` +
                        `start some with \`npx tfjs-er worker --redis URL --queue ${this.queueName}\``);
      }
      shards = workers;
    }
    this.shards = shards;
    const run = new RedisRun(this, spec, options, shards);
    await run.start();
    return run;
  }

  /** Ends the executor's connections (the workers keep serving the queue). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.bull != null) {
      // a graceful close waits for Redis: bounded, in case it went away for good
      const {queue, events} = this.bull;
      let timer: ReturnType<typeof setTimeout>|undefined;
      await Promise.race([Promise.allSettled([events.close(), queue.close()]),
                          new Promise(r => { timer = setTimeout(r, 5000); })]);
      clearTimeout(timer);
    }
    this.redis.disconnect();
  }

  /** The BullMQ queue and its events (made on first use, once Redis has answered). */
  private bullmq(): {queue: Queue, events: QueueEvents} {
    if (this.bull == null) {
      const {bullmq} = redisPeers();
      const queue = new bullmq.Queue(this.queueName,
                                     {connection: {...this.conn, enableOfflineQueue: false} as ConnectionOptions});
      queue.on('error', () => undefined);
      const events = new bullmq.QueueEvents(this.queueName, {connection: {...this.conn} as ConnectionOptions});
      events.on('error', () => undefined);
      this.bull = {queue, events};
    }
    return this.bull;
  }

  /** Workers connected to the queue now. */
  async workers(): Promise<number> {
    return (await this.bullmq().queue.getWorkers()).length;
  }

  /** @internal What a run uses. */
  get parts() {
    return {redis: this.redis, ...this.bullmq(), settings: this.settings,
            source: this.options.source};
  }

  /** Throws a clear error unless Redis answers. */
  async ensureReady(what: string): Promise<void> {
    try {
      if (this.redis.status === 'wait' || this.redis.status === 'end') await this.redis.connect();
      await this.redis.ping();
      this.bullmq();
    } catch (e) {
      throw new Error(`${this.name}: Redis is unreachable while ${what} (${(e as Error).message}); ` +
                      'start it or check the URL. Weights were not changed.');
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise(r => setTimeout(r, ms));
}

/**
 * Redis (BullMQ) as an executor for `er({executor})`: every pass of an update
 * becomes one job per shard, done by worker processes.
 *
 * ```ts
 * import {er} from 'tfjs-er';
 * import {redisExecutor} from 'tfjs-er/node';
 *
 * // workers, on any machines: npx tfjs-er worker --redis redis://HOST:6379
 * const redis = redisExecutor({connection: 'redis://HOST:6379'});
 * model.compile({optimizer: er({executor: redis}), loss: 'categoricalCrossentropy'});
 * await model.fit(xs, ys, {epochs: 3, batchSize: 2000});   // the weights of er() in this process
 * await redis.close();
 * ```
 */
export function redisExecutor(options: RedisExecutorOptions): RedisExecutor {
  return new RedisExecutor(options);
}
