/**
 * Ridge statistics as tensors (`RidgeState`): what an `ERHead` stores as its
 * non-trainable weights, saved and loaded with the model, and converted to
 * and from float64 moments. A state holds sums of rows shifted by a fixed
 * vector; exported states use the inputs' mean, so `sumA` is zero.
 */
import * as tf from '@tensorflow/tfjs-core';
import {ERInputError} from '../errors';
import {RidgeMoments} from './moments';

/**
 * The sums of a ridge regression as plain tensors, so they can be stored
 * (e.g. as a layer's non-trainable weights) and restored: the statistics are
 * additive, so new rows can be folded in later without the old ones. Tensors
 * of an exported state belong to the caller.
 */
export interface RidgeState {
  /** Σ (a − shift)ᵀ(a − shift), d×d. */
  gram: tf.Tensor2D;
  /** Σ (a − shift), d. */
  sumA: tf.Tensor1D;
  /** Σ (a − shift)ᵀ t, d×k. */
  cross: tf.Tensor2D;
  /** Column sums of the targets, k. */
  sumT: tf.Tensor1D;
  /** Column sums of the squared targets, k (for the automatic ridge). */
  sumSqT: tf.Tensor1D;
  /** A fixed shift of the inputs (exported states use the inputs' mean), d. */
  shift: tf.Tensor1D;
  /** Rows covered (0: the other fields are ignored). */
  count: number;
}

/** Disposes the tensors of a {@link RidgeState}. */
export function disposeRidgeState(state: RidgeState): void {
  tf.dispose([state.gram, state.sumA, state.cross, state.sumT, state.sumSqT, state.shift]);
}

/** Moments (both parts, over the same rows, or none) as a state of new tensors centred at the mean. */
export function stateFromMoments(m: RidgeMoments): RidgeState {
  const {d, k} = m;
  const n = m.gram?.n ?? 0;
  if (n === 0 || m.cross == null) {
    return tf.tidy(() => ({
      gram: tf.zeros([d, d]) as tf.Tensor2D, sumA: tf.zeros([d]) as tf.Tensor1D,
      cross: tf.zeros([d, k]) as tf.Tensor2D, sumT: tf.zeros([k]) as tf.Tensor1D,
      sumSqT: tf.zeros([k]) as tf.Tensor1D, shift: tf.zeros([d]) as tf.Tensor1D, count: 0,
    }));
  }
  const c = m.cross;
  const sumT = new Float32Array(k), sumSqT = new Float32Array(k);
  for (let q = 0; q < k; q++) {
    sumT[q] = n * c.tMean[q];
    sumSqT[q] = c.tScatter[q] + n * c.tMean[q] * c.tMean[q];
  }
  return {
    gram: tf.tensor2d(Float32Array.from(m.gram!.scatter), [d, d]), sumA: tf.zeros([d]) as tf.Tensor1D,
    cross: tf.tensor2d(Float32Array.from(c.cross), [d, k]), sumT: tf.tensor1d(sumT), sumSqT: tf.tensor1d(sumSqT),
    shift: tf.tensor1d(Float32Array.from(m.gram!.mean)), count: n,
  };
}

/** A state's statistics as float64 moments (any shift; the state stays the caller's). Throws naming bad shapes. */
export function momentsFromState(state: RidgeState, label: string): RidgeMoments {
  const [d, k] = state.cross.shape;
  const shapes: Array<[string, tf.Tensor, number[]]> = [
    ['gram', state.gram, [d, d]], ['sumA', state.sumA, [d]], ['sumT', state.sumT, [k]],
    ['sumSqT', state.sumSqT, [k]], ['shift', state.shift, [d]]];
  for (const [name, t, shape] of shapes) {
    if (!tf.util.arraysEqual(t.shape, shape)) {
      throw new ERInputError(`${label}: stored statistics '${name}' have shape [${t.shape}], expected [${shape}]`);
    }
  }
  const n = state.count;
  if (!(Number.isInteger(n) && n >= 0)) {
    throw new ERInputError(`${label}: stored row count must be an integer >= 0, got ${n}`);
  }
  if (n === 0) return {d, k, gram: null, cross: null};
  const G = state.gram.dataSync(), sa = state.sumA.dataSync(), X = state.cross.dataSync();
  const st = state.sumT.dataSync(), sst = state.sumSqT.dataSync(), c = state.shift.dataSync();
  const mean = new Float64Array(d), scatter = new Float64Array(d * d);
  for (let i = 0; i < d; i++) mean[i] = c[i] + sa[i] / n;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) scatter[i * d + j] = G[i * d + j] - sa[i] * sa[j] / n;
  }
  const tMean = new Float64Array(k), tScatter = new Float64Array(k), cross = new Float64Array(d * k);
  for (let q = 0; q < k; q++) {
    tMean[q] = st[q] / n;
    tScatter[q] = sst[q] - st[q] * st[q] / n;
  }
  for (let i = 0; i < d; i++) {
    for (let q = 0; q < k; q++) cross[i * k + q] = X[i * k + q] - sa[i] * st[q] / n;
  }
  return {d, k, gram: {n, mean, scatter}, cross: {n, mean: Float64Array.from(mean), tMean, cross, tScatter}};
}

/**
 * New moments with `columns` target columns appended, as if every row had
 * target `value` there: a constant target has mean `value` and no scatter.
 */
export function withConstantTargets(m: RidgeMoments, columns: number, value: number): RidgeMoments {
  const {d, k} = m, k2 = k + columns;
  const c = m.cross;
  if (c == null) return {d, k: k2, gram: m.gram, cross: null};
  const cross = new Float64Array(d * k2);
  for (let i = 0; i < d; i++) cross.set(c.cross.subarray(i * k, (i + 1) * k), i * k2);
  const tMean = new Float64Array(k2).fill(value), tScatter = new Float64Array(k2);
  tMean.set(c.tMean);
  tScatter.set(c.tScatter);
  return {d, k: k2, gram: m.gram, cross: {n: c.n, mean: c.mean, tMean, cross, tScatter}};
}
