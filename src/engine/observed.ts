/**
 * What the first pass of an update observed about the data — row count,
 * whether everything was finite, the targets' range — kept on the device
 * until the update is solved, then checked once (one read-back). Shared by
 * `ERSweep` and `NetworkSweep`, with the small helpers both use.
 */
import * as tf from '@tensorflow/tfjs-core';
import {ERActivation} from './activations';
import {ERInputError} from './errors';
import {targetRange} from './reflect';

/** `op(acc, v)` (or `v` when `acc` is null), kept; `acc` is disposed. Safe inside a caller's tidy. */
export function foldKept(acc: tf.Tensor|null, v: tf.Tensor,
                         op: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): tf.Tensor {
  const next = tf.keep(acc == null ? v : op(acc, v));
  acc?.dispose();
  return next;
}

/** Row count, finiteness and target range of the batches seen by a first pass. */
export class ObservedData {
  /** Rows seen. */
  rows = 0;
  private finite: tf.Tensor|null = null;
  private yMin: tf.Tensor|null = null;
  private yMax: tf.Tensor|null = null;

  /** Folds one batch of inputs and targets in. */
  add(x: tf.Tensor, y: tf.Tensor): void {
    tf.tidy(() => {
      const ok = tf.logicalAnd(tf.all(tf.isFinite(x)), tf.all(tf.isFinite(y)));
      this.finite = foldKept(this.finite, ok, tf.logicalAnd);
      this.yMin = foldKept(this.yMin, tf.min(y), tf.minimum);
      this.yMax = foldKept(this.yMax, tf.max(y), tf.maximum);
    });
    this.rows += x.shape[0];
  }

  /**
   * Throws (weights unchanged) unless some rows were seen, all finite, with
   * targets in the range an `act` output needs.
   */
  check(act: ERActivation, outName: string): void {
    if (this.rows === 0) {
      throw new ERInputError('the data gave no rows; pass at least one non-empty batch');
    }
    const [ok, lo, hi] = [this.finite!, this.yMin!, this.yMax!].map(t => t.dataSync()[0]);
    if (ok !== 1) {
      throw new ERInputError(
          'the inputs or targets contain NaN or Infinity; clean the data. ' +
          'Weights were not changed.');
    }
    const [min, max] = targetRange(act);
    if (lo < min || hi > max) {
      throw new ERInputError(
          `${outName}: targets lie in [${lo}, ${hi}] but a ${act} ` +
          `output needs them in [${min}, ${max}] (one-hot or probabilities for ` +
          `softmax/sigmoid); rescale them or use a linear output. Weights were not changed.`);
    }
  }

  /** Releases the tensors. */
  dispose(): void {
    tf.dispose([this.finite, this.yMin, this.yMax].filter(t => t != null) as tf.Tensor[]);
    this.finite = this.yMin = this.yMax = null;
  }
}

/** Throws unless option `name` is a finite number ≥ `min`. */
export function checkOption(name: string, v: number, min: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    throw new ERInputError(`option ${name} must be a finite number >= ${min}, got ${v}`);
  }
}

/** Seconds, for the phase timings of the sweeps' reports. */
export function now(): number {
  return (typeof performance !== 'undefined' ? performance.now() : Date.now()) / 1000;
}
