/**
 * How a Redis worker gets a shard's rows: from a data set the CLI knows, from
 * a module of the user's (`loadShard`), or from chunks the coordinator stored
 * in Redis; as chunks of the job's chunk size with their global offsets, and
 * with the fingerprint the coordinator checks them by.
 */
import * as path from 'path';
import {pathToFileURL} from 'url';
import * as tf from '@tensorflow/tfjs-core';
import type {Redis} from 'ioredis';
import {engine, ERInputError} from 'tfjs-er';
import {balancedSubset, loadDataset} from './datasets';
import {addToPrint, ChunkBlob, decode, emptyPrint, LoadedShard, MapJobData, ShardPrint, ShardRequestInfo,
        ShardSource} from './redis_jobs';

/** A shard's rows on a worker: chunks it owns, and their print. */
export interface WorkerShard {
  chunks: engine.ShardChunk[];
  print: ShardPrint;
}

/** Rows [from, to) of a data set the CLI knows, as the CLI trains on them. */
export function datasetShard(source: Extract<ShardSource, {kind: 'dataset'}>, from: number, to: number,
                             dataDir?: string): LoadedShard {
  const data = loadDataset(source.name, dataDir ?? source.dataDir);
  const set = source.trainSize ? balancedSubset(data.train, source.trainSize, source.seed ?? 0) : data.train;
  if (to > set.count) {
    throw new ERInputError(`${source.name}: the shard wants rows ${from}…${to - 1} but this worker's training set ` +
                           `has ${set.count} rows: the coordinator trains on other data`);
  }
  const n = to - from;
  const y = new Float32Array(n * set.classes);
  for (let i = 0; i < n; i++) y[i * set.classes + set.labels[from + i]] = 1;
  return {x: set.x.slice(from * set.features, to * set.features),
          xShape: source.images ? [n, ...set.imageShape] : [n, set.features], y, yShape: [n, set.classes]};
}

/** Calls a module source's `loadShard` and checks what it returns. */
export async function moduleShard(source: Extract<ShardSource, {kind: 'module'}>, info: ShardRequestInfo):
    Promise<LoadedShard> {
  const file = path.resolve(source.path);
  let mod: {loadShard?: (i: ShardRequestInfo) => LoadedShard|Promise<LoadedShard>, default?: {loadShard?: unknown}};
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (e) {
    throw new ERInputError(`data module ${file} could not be loaded on this worker (${(e as Error).message})`);
  }
  const load = mod.loadShard ?? (mod.default?.loadShard as typeof mod.loadShard);
  if (typeof load !== 'function') throw new ERInputError(`data module ${file} exports no loadShard(request) function`);
  const s = await load(info);
  const rows = info.to - info.from;
  const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
  if (!(s?.x instanceof Float32Array) || !(s.y instanceof Float32Array) || !Array.isArray(s.xShape) ||
      !Array.isArray(s.yShape)) {
    throw new ERInputError(`${file}: loadShard must return {x: Float32Array, xShape, y: Float32Array, yShape}`);
  }
  if (s.xShape[0] !== rows || s.yShape[0] !== rows || size(s.xShape) !== s.x.length || size(s.yShape) !== s.y.length) {
    throw new ERInputError(`${file}: loadShard(${info.index}, ${info.count}) returned x [${s.xShape}] (${s.x.length} values) ` +
                           `and y [${s.yShape}] (${s.y.length} values); rows ${info.from}…${info.to - 1} (${rows}) were asked`);
  }
  return s;
}

/** Cuts a loaded shard into chunks of `chunkRows` (tensors the caller owns), starting at global row `from`. */
export function chunksOf(s: LoadedShard, from: number, chunkRows: number): WorkerShard {
  const rows = s.xShape[0], xPer = s.x.length / Math.max(1, rows), yPer = s.y.length / Math.max(1, rows);
  const chunks: engine.ShardChunk[] = [];
  const print = emptyPrint();
  for (let lo = 0; lo < rows; lo += chunkRows) {
    const hi = Math.min(rows, lo + chunkRows);
    const xs = s.x.subarray(lo * xPer, hi * xPer), ys = s.y.subarray(lo * yPer, hi * yPer);
    addToPrint(print, xs, ys, hi - lo);
    chunks.push({x: tf.tensor(xs, [hi - lo, ...s.xShape.slice(1)]), y: tf.tensor(ys, [hi - lo, ...s.yShape.slice(1)]),
                 offset: from + lo});
  }
  return {chunks, print};
}

/** The shard of a job, from wherever its source says. */
export async function loadWorkerShard(job: MapJobData, redis: Redis, dataDir?: string): Promise<WorkerShard> {
  const src = job.source;
  switch (src.kind) {
    case 'dataset':
      return chunksOf(datasetShard(src, job.from, job.to, dataDir), job.from, job.chunkRows);
    case 'module':
      return chunksOf(await moduleShard(src, {index: job.shard, count: job.shards, from: job.from, to: job.to,
                                              options: src.options}), job.from, job.chunkRows);
    case 'shipped': {
      const chunks: engine.ShardChunk[] = [];
      const print = emptyPrint();
      try {
        for (const key of src.chunkKeys) {
          const bytes = await redis.getBuffer(key);
          if (bytes == null) throw new Error(`the rows stored under ${key} are gone (the fit ended, or Redis was restarted)`);
          const c = decode<ChunkBlob>(bytes);
          addToPrint(print, c.x.data, c.y.data, c.x.shape[0]);
          chunks.push({x: tf.tensor(c.x.data, c.x.shape), y: tf.tensor(c.y.data, c.y.shape), offset: c.offset});
        }
      } catch (e) {
        tf.dispose(chunks.flatMap(c => [c.x, c.y]));
        throw e;
      }
      return {chunks, print};
    }
    default:
      throw new ERInputError(`unknown data source kind '${(src as {kind: string}).kind}'`);
  }
}
