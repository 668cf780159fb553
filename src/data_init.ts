/**
 * `initializeFromData(model, x)`: the initialisation of the ER reference
 * (docs/algorithm.md) for the dense layers ER trains: each hidden layer
 * `W ~ N(0, 1/E‖a − ā‖²)`, `b = −ā·W + N(0, 1/4)` computed from sample rows,
 * the output layer at zero. Optional: ER also works from tfjs's glorot
 * initialisers (docs/benchmarks.md compares the two).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {ERInputError} from './engine/errors';
import {dataScaledInit} from './engine/init';
import {chainStates, extractChain} from './training/chain';

/**
 * Re-initialises the trained dense layers of `model` from sample inputs `x`
 * (e.g. 10,000 training rows), in place. `options.seed` (a non-negative
 * integer, default 0) makes it reproducible: the same seed and rows give the
 * same weights.
 *
 * ```ts
 * initializeFromData(model, tf.slice(xs, [0, 0], [10000, -1]), {seed: 0});
 * ```
 */
export function initializeFromData(model: tfl.LayersModel, x: tf.Tensor,
                                   options: {seed?: number} = {}): void {
  const chain = extractChain(model);
  if (chain.hasConv) {
    throw new ERInputError(
        `initializeFromData: model '${model.name}' has conv2d or pooling layers; the data-scaled ` +
        `initialisation is defined for dense chains only (keep tfjs's initialisers)`);
  }
  const states = chainStates(chain);
  const features = tf.tidy(() => {
    if (chain.start === model.layers[0] ||
        (model.inputs.length === 1 && chain.start.input === model.inputs[0])) {
      return tf.reshape(x, [x.shape[0], -1]);
    }
    const prefix = tfl.model({inputs: model.inputs, outputs: chain.start.input as tfl.SymbolicTensor});
    return prefix.predict(x) as tf.Tensor;
  }) as tf.Tensor2D;
  let weights: ReturnType<typeof dataScaledInit>;
  try {
    weights = dataScaledInit(states, features, options.seed ?? 0);
  } finally {
    features.dispose();
  }
  weights.forEach((w, i) => {
    const d = chain.solved[i];
    if (d.layer.trainable) {
      d.kernel.write(w.kernel);
      if (d.bias != null && w.bias != null) d.bias.write(w.bias);
    }
    tf.dispose([w.kernel, w.bias].filter(t => t != null) as tf.Tensor[]);
  });
}
