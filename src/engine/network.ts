/**
 * A chain of dense layers as the engine sees it: plain tensors, no tfjs-layers.
 */
import * as tf from '@tensorflow/tfjs-core';
import {activate, ERActivation} from './activations';
import {ERInputError} from './errors';

/** One dense layer `a_out = f(a·kernel + bias)` of a chain the engine trains. */
export interface DenseState {
  /** Names the layer in errors and reports. */
  name: string;
  /** Weights, shape [inputs, units]. Owned by the caller; the engine never changes it. */
  kernel: tf.Tensor2D;
  /** Bias, shape [units], or null for a layer without bias. */
  bias: tf.Tensor1D|null;
  /** Activation of the layer. */
  activation: ERActivation;
  /** False keeps the layer's weights (targets still propagate through it). */
  trainable: boolean;
}

/** New weights for one layer of the chain. */
export interface DenseWeights {
  kernel: tf.Tensor2D;
  bias: tf.Tensor1D|null;
}

/** Checks that the chain is well formed; throws naming the layer at fault. */
export function validateChain(layers: DenseState[]): void {
  if (layers.length === 0) throw new ERInputError('the network has no layers to train');
  layers.forEach((l, i) => {
    if (l.kernel.rank !== 2) {
      throw new ERInputError(`${l.name}: kernel must be 2-D, got shape [${l.kernel.shape}]`);
    }
    if (l.bias != null && (l.bias.rank !== 1 || l.bias.shape[0] !== l.kernel.shape[1])) {
      throw new ERInputError(
          `${l.name}: bias shape [${l.bias.shape}] does not match kernel [${l.kernel.shape}]`);
    }
    if (i > 0 && layers[i - 1].kernel.shape[1] !== l.kernel.shape[0]) {
      throw new ERInputError(
          `${l.name}: expects ${l.kernel.shape[0]} inputs but ${layers[i - 1].name} ` +
          `gives ${layers[i - 1].kernel.shape[1]}`);
    }
    if (i < layers.length - 1 && l.activation === 'softmax') {
      throw new ERInputError(
          `${l.name}: softmax is only supported on the output layer; use relu or tanh`);
    }
  });
}

/** Field of one layer: `a·W + b`. */
export function field(a: tf.Tensor2D, W: tf.Tensor2D, b: tf.Tensor1D|null): tf.Tensor2D {
  const h = tf.matMul(a, W) as tf.Tensor2D;
  return b == null ? h : tf.add(h, b) as tf.Tensor2D;
}

/** `tf.tidy` for a function returning {@link DenseWeights} (bias may be null). */
export function tidyWeights(fn: () => DenseWeights): DenseWeights {
  return tf.tidy(() => fn() as unknown as tf.TensorContainer) as unknown as DenseWeights;
}

/**
 * Forward pass keeping each layer's input (`inputs[l]`, `inputs[0] = x`) and
 * field (`fields[l]`). `weights[l]` overrides layer l's weights.
 * Call inside `tf.tidy`.
 */
export function forwardChain(layers: DenseState[], x: tf.Tensor2D,
                             weights?: Array<DenseWeights|null>):
    {inputs: tf.Tensor2D[], fields: tf.Tensor2D[]} {
  const inputs: tf.Tensor2D[] = [x];
  const fields: tf.Tensor2D[] = [];
  let a = x;
  layers.forEach((l, i) => {
    const w = weights?.[i] ?? l;
    const h = field(a, w.kernel, w.bias);
    fields.push(h);
    if (i < layers.length - 1) {
      a = activate(l.activation, h) as tf.Tensor2D;
      inputs.push(a);
    }
  });
  return {inputs, fields};
}

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
  validateChain(layers);
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
