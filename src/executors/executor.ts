/**
 * Where the map steps of an ER update run. An executor holds the rows of a
 * training run split into shards (one per thread, worker or process) and
 * runs each pass on every shard; the coordinator (the thread that called
 * `fit`) merges the shards' statistics and solves. Any split gives the same
 * update, up to float rounding.
 */
import * as tf from '@tensorflow/tfjs-core';
import {BatchSource, NetworkSpec, NetworkUnit, UpdateSession} from '../engine/index';

/** An executor for `er({executor})`. */
export interface ERExecutor {
  /** Names the executor in errors and reports (e.g. 'in-process', 'threads ×4'). */
  readonly name: string;
  /** Shards the rows are split into (1 for the in-process executor). */
  readonly shards: number;
  /** Starts a run for one network (its structure); rows and updates go through the returned run. */
  open(spec: NetworkSpec, options: RunOptions): Promise<ExecutorRun>;
  /** Ends every thread or connection the executor started; it cannot be used afterwards. */
  close(): Promise<void>;
}

/** Options of a run. */
export interface RunOptions {
  /**
   * Rows per chunk: every pass walks the rows in chunks of this many (the
   * last one shorter), and a shard always holds whole chunks, so the float32
   * products of every chunk are the same whatever the executor.
   */
  chunkRows: number;
}

/** One training run on an executor: its rows, and sessions for updates on them. */
export interface ExecutorRun {
  /**
   * Makes `source` (chain inputs and ER targets, `rows` rows in all, in
   * chunks of `chunkRows`) the run's rows, replacing any before. A remote
   * executor walks it once here and deals whole chunks to its shards
   * (contiguous ranges); the in-process one keeps the source and walks it at
   * every pass.
   */
  load(source: BatchSource, rows: number): Promise<void>;
  /**
   * Adds one batch of rows, cut into chunks of `chunkRows` that are dealt to
   * the shards in turn; the caller keeps its tensors.
   */
  append(x: tf.Tensor, y: tf.Tensor): Promise<void>;
  /** Forgets the run's rows. */
  clear(): Promise<void>;
  /** Rows the run holds. */
  readonly rows: number;
  /** A session for one update starting from `units`' weights. */
  session(units: NetworkUnit[]): UpdateSession|Promise<UpdateSession>;
  /** Ends the run, releasing its rows on every shard. */
  close(): Promise<void>;
}
