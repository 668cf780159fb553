/**
 * Column sums of a batch as a matrix product, `1ᵀ·a`. tfjs reduces along
 * the inner axis only: `tf.sum(a, 0)` first transposes the whole batch
 * (docs/performance.md).
 */
import * as tf from '@tensorflow/tfjs-core';

/** `Σᵢ a[i, :]` for a 2-D `a` (n×d), as a 1-D tensor of length d. */
export function columnSums(a: tf.Tensor): tf.Tensor1D {
  if (a.rank !== 2) throw new Error(`columnSums needs a 2-D tensor, got shape [${a.shape}]`);
  const [n, d] = a.shape as [number, number];
  return tf.tidy(() => {
    const ones = tf.ones([1, n]) as tf.Tensor2D;
    return tf.reshape(tf.matMul(ones, tf.cast(a, 'float32') as tf.Tensor2D), [d]) as tf.Tensor1D;
  });
}
