/**
 * One fit of a {@link RedisExecutor}: its rows (by reference, or shipped
 * into Redis), its updates' weights as Redis blobs, and each pass as one
 * BullMQ job per shard whose statistics it reads back in shard order.
 */
import * as tf from '@tensorflow/tfjs-core';
import {randomUUID} from 'crypto';
import type {Job} from 'bullmq';
import type {Redis} from 'ioredis';
import {engine, ExecutorRun, executors, RunOptions} from 'tfjs-er';
import type {RedisExecutor} from './redis_executor';
import {addToPrint, BLOB_SECONDS, ChunkBlob, decode, emptyPrint, encode, keys, MapJobData, ResultBlob, ShardPrint,
        SlotBlob} from './redis_jobs';

/** One fit on Redis: its rows (by reference or shipped), updates and passes. */
export class RedisRun implements ExecutorRun {
  rows = 0;
  private readonly run = randomUUID();
  private readonly base: string;
  /** Shipped chunk keys per shard (when the rows travel through Redis). */
  private shipped: string[][] = [];
  private expect: Array<ShardPrint|null> = [];
  private bounds: number[] = [];
  private dealt = 0;
  private update = 0;
  private byReference = false;

  constructor(private readonly ex: RedisExecutor, private readonly spec: engine.NetworkSpec,
              private readonly options: RunOptions, private readonly shards: number) {
    this.base = keys.base(ex.queueName, this.run);
  }

  /** Marks the run as live in Redis (a restarted Redis loses the mark, and the run fails clearly). */
  async start(): Promise<void> {
    await this.redisCall('starting a fit', r => r.set(`${this.base}:live`, '1', 'EX', BLOB_SECONDS));
  }

  async load(source: engine.BatchSource, rows: number): Promise<void> {
    await this.clear();
    const c = this.options.chunkRows;
    this.bounds = executors.shardBounds(rows, c, this.shards);
    const byReference = this.ex.parts.source != null;
    const prints = Array.from({length: this.shards}, emptyPrint);
    const shipped: string[][] = Array.from({length: this.shards}, () => []);
    let start = 0;
    for (const [x, y] of source()) {
      const n = x.shape[0];
      const xv = x.dataSync(), yv = y.dataSync();
      const xPer = x.size / n, yPer = y.size / n;
      for (let s = 0; s < this.shards; s++) {
        const lo = Math.max(start, this.bounds[s]), hi = Math.min(start + n, this.bounds[s + 1]);
        if (lo >= hi) continue;
        const xs = xv.subarray((lo - start) * xPer, (hi - start) * xPer);
        const ys = yv.subarray((lo - start) * yPer, (hi - start) * yPer);
        addToPrint(prints[s], xs, ys, hi - lo);
        if (!byReference) {
          const key = keys.chunk(this.base, s, shipped[s].length);
          const blob: ChunkBlob = {x: {data: Float32Array.from(xs), shape: [hi - lo, ...x.shape.slice(1)]},
                                   y: {data: Float32Array.from(ys), shape: [hi - lo, ...y.shape.slice(1)]}, offset: lo};
          await this.redisCall('storing the rows', r => r.set(key, encode(blob), 'EX', BLOB_SECONDS));
          shipped[s].push(key);
        }
      }
      start += n;
    }
    if (start !== rows) throw new Error(`the data gave ${start} rows, ${rows} expected`);
    this.rows = rows;
    this.expect = prints;
    this.shipped = shipped;
    this.byReference = byReference;
  }

  async append(x: tf.Tensor, y: tf.Tensor): Promise<void> {
    // appended batches always travel through Redis (whole chunks dealt to the shards in turn)
    this.byReference = false;
    while (this.shipped.length < this.shards) this.shipped.push([]);
    const c = this.options.chunkRows, n = x.shape[0];
    const xv = x.dataSync(), yv = y.dataSync(), xPer = x.size / n, yPer = y.size / n;
    for (let lo = 0; lo < n; lo += c) {
      const hi = Math.min(n, lo + c);
      const shard = this.dealt++ % this.shards;
      const key = keys.chunk(this.base, shard, this.shipped[shard].length);
      const blob: ChunkBlob = {x: {data: Float32Array.from(xv.subarray(lo * xPer, hi * xPer)), shape: [hi - lo, ...x.shape.slice(1)]},
                               y: {data: Float32Array.from(yv.subarray(lo * yPer, hi * yPer)), shape: [hi - lo, ...y.shape.slice(1)]},
                               offset: this.rows + lo};
      await this.redisCall('storing the rows', r => r.set(key, encode(blob), 'EX', BLOB_SECONDS));
      this.shipped[shard].push(key);
    }
    this.rows += n;
    this.expect = [];
    this.bounds = [];
  }

  async clear(): Promise<void> {
    await this.dropKeys(':rows:');
    this.rows = 0;
    this.dealt = 0;
    this.shipped = [];
    this.expect = [];
    this.bounds = [];
    this.byReference = false;
  }

  async session(units: engine.NetworkUnit[]): Promise<engine.UpdateSession> {
    const update = ++this.update;
    const beginKey = keys.begin(this.base, update);
    const slotKeys: string[] = [];
    const weights = units.map(u => engine.isSolved(u) ? executors.weightsToWire(u) : null);
    await this.redisCall('storing the weights', r => r.set(beginKey, encode(weights), 'EX', BLOB_SECONDS));
    let pass = 0;
    return {
      set: async req => {
        const value = req.value == null ? null : req.value instanceof tf.Tensor ? executors.toWire(req.value) :
            executors.weightsToWire(req.value as engine.UnitWeights);
        const key = keys.slot(this.base, update, slotKeys.length);
        const blob: SlotBlob = {slot: req.slot, unit: req.unit, value};
        await this.redisCall('storing the weights', r => r.set(key, encode(blob), 'EX', BLOB_SECONDS));
        slotKeys.push(key);
      },
      pass: req => this.pass(update, ++pass, req.plan, beginKey, slotKeys.slice()),
      end: async () => {
        await this.dropKeys(`:u${update}:`).catch(() => undefined);
      },
    };
  }

  async close(): Promise<void> {
    await this.dropKeys(':').catch(() => undefined);
  }

  /** One pass: a job per shard; their statistics in shard order. */
  private async pass(update: number, pass: number, plan: engine.PassPlan, beginKey: string, slotKeys: string[]):
      Promise<engine.PassStats[]> {
    const {queue, events, settings} = this.ex.parts;
    const what = `${plan.kind === 'target' ? `pass target ${this.spec.units[plan.unit].name}` : `pass ${plan.kind}`} ` +
        `of update ${update}`;
    const t0 = Date.now();
    await this.ex.ensureReady(what);
    if ((await this.redisCall(what, r => r.exists(`${this.base}:live`))) === 0) {
      throw new Error(`${this.ex.name}: Redis no longer holds this fit's data (was it restarted?) at ${what}. ` +
                      'Weights were not changed.');
    }
    const jobs = Array.from({length: this.shards}, (_, shard): MapJobData => ({
      version: settings.protocolVersion, run: this.run, base: this.base, spec: this.spec,
      chunkRows: this.options.chunkRows, shard, shards: this.shards,
      from: this.bounds[shard] ?? 0, to: this.bounds[shard + 1] ?? 0,
      source: this.byReference ? this.ex.parts.source! : {kind: 'shipped', chunkKeys: this.shipped[shard] ?? []},
      expect: this.expect[shard] ?? null, update, beginKey, slotKeys, pass, plan,
      resultKey: keys.result(this.base, update, pass, shard),
    }));
    let added: Job[];
    try {
      added = await queue.addBulk(jobs.map(data => ({
        name: 'map', data,
        opts: {jobId: `${this.run}.u${update}.p${pass}.s${data.shard}`, attempts: settings.attempts,
               backoff: {type: 'fixed', delay: 100}, removeOnComplete: {age: 600}, removeOnFail: {age: 3600}},
      })));
    } catch (e) {
      throw new Error(`${this.ex.name}: Redis failed while queueing ${what} (${(e as Error).message}). ` +
                      'Weights were not changed.');
    }
    const monitor = this.watch(what, jobs.length);
    try {
      await Promise.race([monitor.failed, Promise.all(added.map(async (job, shard) => {
        try {
          await job.waitUntilFinished(events);
        } catch (e) {
          const m = (e as Error).message;
          throw executors.errorFromWire({name: /^ERInputError: /.test(m) ? 'ERInputError' : 'Error',
                                         message: m.replace(/^ERInputError: /, '')},
                                        `${this.ex.name}, shard ${shard + 1} of ${this.shards}, ${what}`);
        }
      }))]);
      const answers: ResultBlob[] = [];
      let resultBytes = 0;
      for (const j of jobs) {
        const bytes = await this.redisCall(what, r => r.getBuffer(j.resultKey));
        if (bytes == null) {
          throw new Error(`${this.ex.name}: the statistics of shard ${j.shard + 1} of ${what} are missing from ` +
                          'Redis (was it restarted?). Weights were not changed.');
        }
        resultBytes += bytes.length;
        answers.push(decode<ResultBlob>(bytes));
      }
      await this.redisCall(what, r => r.del(...jobs.map(j => j.resultKey))).catch(() => undefined);
      settings.onPass?.({update, pass, kind: plan.kind, seconds: (Date.now() - t0) / 1000, resultBytes,
                         workerSeconds: answers.map(a => a.seconds), loadSeconds: answers.map(a => a.loadSeconds)});
      return answers.map(a => a.stats);
    } catch (e) {
      // a failed pass leaves no job behind for a worker to pick up later
      await Promise.allSettled(added.map(j => j.remove()));
      throw e;
    } finally {
      monitor.stop();
    }
  }

  /**
   * Watches a pass: rejects `failed` when the connection to Redis drops,
   * when no worker has been connected for `workerTimeout` s, or when the pass
   * exceeds `passTimeout` s.
   */
  private watch(what: string, shards: number): {failed: Promise<never>, stop: () => void} {
    const {redis, settings} = this.ex.parts;
    let fail: (e: Error) => void = () => undefined;
    const failed = new Promise<never>((_, reject) => { fail = reject; });
    failed.catch(() => undefined);
    const lost = () => fail(new Error(`${this.ex.name}: the connection to Redis was lost during ${what}; the fit ` +
                                      'stops (its jobs may be lost). Weights were not changed.'));
    redis.once('close', lost);
    const t0 = Date.now();
    let lastWorker = Date.now();
    let busy = false;
    const timer = setInterval(async () => {
      if (busy) return;
      busy = true;
      try {
        if (Date.now() - t0 > settings.passTimeout * 1000) {
          fail(new Error(`${this.ex.name}: ${what} did not finish within passTimeout = ${settings.passTimeout} s ` +
                         `(${shards} shard(s)). Weights were not changed.`));
          return;
        }
        if ((await this.ex.workers()) > 0) lastWorker = Date.now();
        else if (Date.now() - lastWorker > settings.workerTimeout * 1000) {
          fail(new Error(`${this.ex.name}: no worker has served the queue for workerTimeout = ${settings.workerTimeout} s ` +
                         `during ${what}; start workers (npx tfjs-er worker --redis URL --queue ${this.ex.queueName}) ` +
                         'and fit again. Weights were not changed.'));
        }
      } catch {
        // the connection watcher reports a lost Redis
      } finally {
        busy = false;
      }
    }, 500);
    return {failed, stop: () => {
      clearInterval(timer);
      redis.off('close', lost);
    }};
  }

  /** Runs a Redis command, turning a failure into a clear error. */
  private async redisCall<T>(what: string, f: (r: Redis) => Promise<T>): Promise<T> {
    try {
      return await f(this.ex.parts.redis);
    } catch (e) {
      throw new Error(`${this.ex.name}: Redis failed while ${what} (${(e as Error).message}). Weights were not changed.`);
    }
  }

  /** Deletes this run's keys whose name continues with `part` after the run's prefix. */
  private async dropKeys(part: string): Promise<void> {
    const {redis} = this.ex.parts;
    if (redis.status !== 'ready') return;
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${this.base}${part}*`, 'COUNT', 1000);
      if (found.length > 0) await redis.del(...found);
      cursor = next;
    } while (cursor !== '0');
  }
}
