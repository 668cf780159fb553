/**
 * What the Redis executor's coordinator and its worker processes agree on:
 * the data of a map job, the Redis keys of the blobs it references (rows,
 * weights, results), their encoding (V8 serialisation: typed arrays intact)
 * and the fingerprint that proves a worker's shard holds the coordinator's rows.
 */
import * as v8 from 'v8';
import type {engine} from 'tfjs-er';

/** The data sets a worker can load by name (the CLI's). */
export type DatasetSourceName = 'mnist'|'fashion-mnist'|'cifar10';

/** Where a worker gets a shard's rows. */
export type ShardSource =
    /** The coordinator stored the shard's chunks in Redis under these keys (in row order). */
    {kind: 'shipped', chunkKeys: string[]}|
    /**
     * A data set the CLI knows, loaded by each worker itself: its training
     * split (or the class-balanced subset of `trainSize` rows drawn with
     * `seed`), as the CLI trains on it — pixels in [0, 1], flat rows or
     * images (`images`), one-hot targets.
     */
    {kind: 'dataset', name: DatasetSourceName, dataDir?: string, trainSize?: number, seed?: number, images?: boolean}|
    /**
     * A module of yours exporting `loadShard(request)` ({@link ShardRequestInfo}
     * → {@link LoadedShard}), resolved by each worker from its working folder.
     */
    {kind: 'module', path: string, options?: unknown};

/** What a module data source's `loadShard` is asked for. */
export interface ShardRequestInfo {
  /** The shard's index and the number of shards. */
  index: number;
  count: number;
  /** Its first and last (exclusive) row in the whole training data. */
  from: number;
  to: number;
  /** The `options` of the module source. */
  options?: unknown;
}

/**
 * A shard's rows as a module data source returns them: inputs and targets,
 * row-major, with their shapes — exactly the rows (and order) the
 * coordinator's `fit(x, y)` has in [from, to), targets as the output layer
 * needs them (e.g. one-hot).
 */
export interface LoadedShard {
  x: Float32Array;
  /** [rows, ...one example's input shape]. */
  xShape: number[];
  y: Float32Array;
  /** [rows, ...one example's target shape]. */
  yShape: number[];
}

/** Rows, Σx, Σx² and Σy of a shard in float64, in row order: equal rows give equal prints. */
export interface ShardPrint {
  rows: number;
  sumX: number;
  sumSqX: number;
  sumY: number;
}

/** The data of one map job. */
export interface MapJobData {
  /** The protocol version of the coordinator (its tfjs-er version): workers refuse any other. */
  version: string;
  /** Names the training run (keys and worker caches are per run). */
  run: string;
  /** Prefix of the run's keys. */
  base: string;
  spec: engine.NetworkSpec;
  chunkRows: number;
  shard: number;
  shards: number;
  /** First and last (exclusive) global row of this shard (for shipped rows: from the chunks themselves). */
  from: number;
  to: number;
  source: ShardSource;
  /** The print the shard's rows must have (null: not checked). */
  expect: ShardPrint|null;
  /** The update this pass belongs to: its starting weights and every slot set so far, in order. */
  update: number;
  beginKey: string;
  slotKeys: string[];
  /** The pass, numbered from 1 within the update. */
  pass: number;
  plan: engine.PassPlan;
  /** Where the worker stores its statistics (one key per update, pass and shard; the first answer stays). */
  resultKey: string;
}

/** One slot change of an update, as stored. */
export interface SlotBlob {
  slot: engine.WeightSlot;
  unit: number;
  value: {kernel: {data: Float32Array, shape: number[]}, bias: {data: Float32Array, shape: number[]}|null}|
         {data: Float32Array, shape: number[]}|null;
}

/** A worker's answer to one map job, as stored. */
export interface ResultBlob {
  stats: engine.PassStats;
  /** Seconds the worker spent on the job: loading what it lacked (shard, weights) and computing. */
  seconds: number;
  /** Of which loading its shard (0 when it was cached). */
  loadSeconds: number;
}

/** A stored chunk of shipped rows. */
export interface ChunkBlob {
  x: {data: Float32Array, shape: number[]};
  y: {data: Float32Array, shape: number[]};
  offset: number;
}

/** The keys of a run, all under `base` = `tfjs-er:{queue}:{run}`. */
export const keys = {
  base: (queue: string, run: string) => `tfjs-er:${queue}:${run}`,
  chunk: (base: string, shard: number, i: number) => `${base}:rows:${shard}:${i}`,
  begin: (base: string, update: number) => `${base}:u${update}:begin`,
  slot: (base: string, update: number, i: number) => `${base}:u${update}:slot:${i}`,
  result: (base: string, update: number, pass: number, shard: number) => `${base}:u${update}:p${pass}:s${shard}`,
};

/** Seconds a run's blobs live in Redis if the coordinator never deletes them (it dies, say). */
export const BLOB_SECONDS = 24 * 3600;

/** Encodes a value (typed arrays kept) for Redis. */
export function encode(value: unknown): Buffer {
  return v8.serialize(value);
}

/** Decodes {@link encode}'s bytes. */
export function decode<T>(bytes: Buffer): T {
  return v8.deserialize(bytes) as T;
}

/** An empty print. */
export function emptyPrint(): ShardPrint {
  return {rows: 0, sumX: 0, sumSqX: 0, sumY: 0};
}

/** Adds a chunk's rows to a print. */
export function addToPrint(p: ShardPrint, x: ArrayLike<number>, y: ArrayLike<number>, rows: number): void {
  p.rows += rows;
  let s = 0, q = 0, t = 0;
  for (let i = 0; i < x.length; i++) {
    s += x[i];
    q += x[i] * x[i];
  }
  for (let i = 0; i < y.length; i++) t += y[i];
  p.sumX += s;
  p.sumSqX += q;
  p.sumY += t;
}

/** True when two prints describe the same rows (sums to 1e-9 relative: equal float32 data sum equally). */
export function samePrint(a: ShardPrint, b: ShardPrint): boolean {
  // NaN or ±Infinity (null once a job's JSON carried it): such rows are the worker's to report
  const bad = (u: number|null) => u == null || !Number.isFinite(u);
  const close = (u: number, v: number) => bad(u) || bad(v) ? bad(u) && bad(v) :
      Math.abs(u - v) <= 1e-9 * Math.max(1, Math.abs(u), Math.abs(v));
  return a.rows === b.rows && close(a.sumX, b.sumX) && close(a.sumSqX, b.sumSqX) && close(a.sumY, b.sumY);
}

/** A print for messages. */
export function describePrint(p: ShardPrint): string {
  const f = (u: number|null) => u == null ? 'NaN' : u.toPrecision(10);
  return `${p.rows} rows, Σx ${f(p.sumX)}, Σx² ${f(p.sumSqX)}, Σy ${f(p.sumY)}`;
}
