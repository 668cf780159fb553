import * as tf from '@tensorflow/tfjs';
import {RidgeAccumulator} from '../../src/engine/index';

/** A seeded 3-class problem: 4 features, labels from a random linear map (+ a nonlinearity). */
export function toyClassification(n = 240, seed = 1): {x: tf.Tensor2D, y: tf.Tensor2D, labels: tf.Tensor1D} {
  return tf.tidy(() => {
    const x = tf.randomNormal([n, 4], 0, 1, 'float32', seed) as tf.Tensor2D;
    const w = tf.randomNormal([4, 3], 0, 1, 'float32', seed + 1);
    const labels = tf.argMax(tf.add(tf.matMul(x, w), tf.mul(0.5, tf.square(x).slice([0, 0], [n, 3]))), 1) as tf.Tensor1D;
    const y = tf.cast(tf.oneHot(labels, 3), 'float32') as tf.Tensor2D;
    return {x, y, labels};
  });
}

/** Max |a − b| over two tensors. */
export function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** Max |a − b| / max|b| over two tensors. */
export function relDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] /
                       Math.max(1e-12, tf.max(tf.abs(b)).dataSync()[0]));
}

/** A ridge accumulator of width d → k that has added the n rows of `X` (n×d) and `Y` (n×k), row-major. */
export function accumulatorOn(X: Float32Array, Y: Float32Array, n: number, d: number, k: number,
                              label: string): RidgeAccumulator {
  const acc = new RidgeAccumulator(d, k, label);
  tf.tidy(() => acc.add(tf.tensor2d(X, [n, d]), tf.tensor2d(Y, [n, k])));
  return acc;
}
