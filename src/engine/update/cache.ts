/**
 * What an ER update keeps for the next one on the same data: the factored
 * Gram of the network's input (no update changes it) and of the output
 * unit's input after the refresh (unchanged until the hidden weights
 * change). Each is checked against a fingerprint of the data (row count,
 * column sums, sum of squares) and, for the output, of the hidden weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import {RidgeSystem} from '../ridge/solve';
import {DataFingerprint} from './plan';

/** A factored Gram and what it was computed from. */
export interface CachedGram {
  /** The unit whose input Gram this is. */
  unit: number;
  system: RidgeSystem;
  data: DataFingerprint;
  /** Fingerprint of the weights below the unit (empty for the network's input). */
  weights: Float64Array;
}

/**
 * State kept between updates; the caller owns it (one per trained model)
 * and calls {@link dispose} when done. Holds no tensors: plain arrays only.
 */
export class SweepCache {
  /** The first solved unit's input Gram. */
  input: CachedGram|null = null;
  /** The output unit's Gram after the last refresh. */
  output: CachedGram|null = null;

  /** Forgets everything. */
  dispose(): void {
    this.input = null;
    this.output = null;
  }

  /** Forgets the output unit's Gram. */
  dropOutput(): void {
    this.output = null;
  }
}

/**
 * Float32 sums of the same rows in another order (a shuffled dataset) differ
 * by rounding (up to ~1e-5 of the largest column sum on MNIST): the
 * tolerance sits above that.
 */
const FINGERPRINT_TOLERANCE = 1e-4;

/** True when two data fingerprints describe the same rows (up to summation-order rounding). */
export function sameData(a: DataFingerprint, b: DataFingerprint): boolean {
  if (a.rows !== b.rows || a.sums.length !== b.sums.length) return false;
  let scale = 0;
  for (let i = 0; i < a.sums.length; i++) scale = Math.max(scale, Math.abs(a.sums[i]));
  if (Math.abs(a.sumSq - b.sumSq) > FINGERPRINT_TOLERANCE * Math.abs(a.sumSq)) return false;
  for (let i = 0; i < a.sums.length; i++) {
    if (Math.abs(a.sums[i] - b.sums[i]) > FINGERPRINT_TOLERANCE * scale + 1e-6) return false;
  }
  return true;
}

/** Sums and sums of squares of each unit's kernel and bias (detects changed weights). */
export function weightsFingerprint(weights: Array<{kernel: tf.Tensor, bias: tf.Tensor|null}|null>): Float64Array {
  const present = weights.filter(w => w != null) as Array<{kernel: tf.Tensor, bias: tf.Tensor|null}>;
  if (present.length === 0) return new Float64Array(0);
  const t = tf.tidy(() => tf.stack(present.flatMap(l => {
    const b = l.bias ?? tf.zeros([1]);
    return [tf.sum(l.kernel), tf.sum(tf.square(l.kernel)), tf.sum(b), tf.sum(tf.square(b))];
  })));
  const v = Float64Array.from(t.dataSync());
  t.dispose();
  return v;
}

/** Exact equality of two weight fingerprints. */
export function sameWeights(a: Float64Array, b: Float64Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
