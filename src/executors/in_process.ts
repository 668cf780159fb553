/**
 * The default executor: every pass runs in this thread, on the backend
 * tfjs is using, over the caller's own tensors (nothing is copied).
 */
import * as tf from '@tensorflow/tfjs-core';
import {BatchSource, localSession, NetworkSpec, NetworkUnit, rowRange, shardOf, UpdateSession} from '../engine/index';
import {ERExecutor, ExecutorRun, RunOptions} from './executor';

class InProcessRun implements ExecutorRun {
  private source: BatchSource|null = null;
  private kept: Array<[tf.Tensor, tf.Tensor]> = [];
  rows = 0;

  constructor(private readonly spec: NetworkSpec, private readonly options: RunOptions) {}

  async load(source: BatchSource, rows: number): Promise<void> {
    await this.clear();
    this.source = source;
    this.rows = rows;
  }

  async append(x: tf.Tensor, y: tf.Tensor): Promise<void> {
    if (this.source != null) throw new Error('this run holds loaded rows; clear() it before appending batches');
    const n = x.shape[0], c = this.options.chunkRows;
    for (let s = 0; s < n; s += c) {
      const size = Math.min(c, n - s);
      this.kept.push(size === n ? [tf.keep(tf.clone(x)), tf.keep(tf.clone(y))] :
                                  [tf.keep(rowRange(x, s, size)), tf.keep(rowRange(y, s, size))]);
    }
    this.rows += n;
  }

  async clear(): Promise<void> {
    tf.dispose(this.kept.flat());
    this.kept = [];
    this.source = null;
    this.rows = 0;
  }

  /** A synchronous session: the passes run when the sweep asks. */
  session(units: NetworkUnit[]): UpdateSession {
    const kept = this.kept;
    const source: BatchSource = this.source ?? (() => kept);
    return localSession(units, this.spec.inputShape, shardOf(source));
  }

  async close(): Promise<void> {
    await this.clear();
  }
}

/** The in-process executor (the default of `er()`). */
export class InProcessExecutor implements ERExecutor {
  readonly name = 'in-process';
  readonly shards = 1;

  async open(spec: NetworkSpec, options: RunOptions): Promise<ExecutorRun> {
    return new InProcessRun(spec, options);
  }

  async close(): Promise<void> {}
}

/** The in-process executor: passes run in this thread (the default). */
export function inProcess(): ERExecutor {
  return new InProcessExecutor();
}
