/**
 * The data-scaled initialisation of the ER reference for dense chains
 * (docs/algorithm.md §7).
 */
import * as tf from '@tensorflow/tfjs-core';
import {activate} from './activations';
import {ERInputError} from './errors';
import {DenseState, DenseWeights, field, tidyWeights, toUnits, validateUnits} from './units';

/**
 * The seed tfjs's random ops get for stream `stream` of the user's `seed`.
 * Never 0: tfjs (4.22, rand_util) treats a seed of 0 as no seed and draws
 * from `Math.random()`, so seed 0 would not reproduce.
 */
function streamSeed(seed: number, stream: number): number {
  return seed * 1009 + stream + 1;
}

/**
 * The initialisation of the ER reference: each hidden layer gets
 * `W ~ N(0, 1/E‖a − ā‖²)`, `b = −ā·W + N(0, 1/4)`, computed from the rows `x`
 * (the reference uses 10k); the output layer starts at zero. Returns new
 * tensors; the caller assigns them. The same `seed` (a non-negative integer)
 * gives the same weights.
 */
export function dataScaledInit(layers: DenseState[], x: tf.Tensor2D, seed = 0):
    DenseWeights[] {
  validateUnits(toUnits(layers), [x.shape[1]]);
  if (!(Number.isInteger(seed) && seed >= 0)) {
    throw new ERInputError(`data-scaled initialisation: seed must be a non-negative integer, got ${seed}`);
  }
  const out: DenseWeights[] = [];
  let a = tf.clone(x);
  layers.forEach((l, i) => {
    const [p, q] = l.kernel.shape;
    if (i === layers.length - 1) {
      out.push({kernel: tf.zeros([p, q]), bias: l.bias ? tf.zeros([q]) : null});
      return;
    }
    const w = tidyWeights(() => {
      const mean = tf.mean(a, 0);
      const s2 = tf.mean(tf.sum(tf.square(tf.sub(a, mean)), 1)).dataSync()[0];
      const kernel = tf.mul(tf.randomNormal([p, q], 0, 1, 'float32', streamSeed(seed, 2 * i)),
                            1 / Math.sqrt(s2 > 0 ? s2 : 1)) as tf.Tensor2D;
      const bias = l.bias == null ? null :
          tf.add(tf.neg(tf.reshape(tf.matMul(tf.reshape(mean, [1, p]), kernel), [q])),
                 tf.randomNormal([q], 0, 0.5, 'float32', streamSeed(seed, 2 * i + 1))) as tf.Tensor1D;
      return {kernel, bias};
    });
    out.push(w);
    const next = tf.tidy(() => activate(l.activation, field(a, w.kernel, w.bias)));
    a.dispose();
    a = next as tf.Tensor2D;
  });
  a.dispose();
  return out;
}
