/**
 * `attachER(model)`: makes a model built from stock tfjs layers trainable by
 * `er()`, in place, keeping its weights.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import {ERConv2D} from './layers/er_conv2d';
import {ERDense} from './layers/er_dense';
import {extractChain} from './training/chain';

/**
 * Turns the dense and conv2d layers that ER trains into {@link ERDense} /
 * {@link ERConv2D} layers (same weights and behaviour; they now report to ER
 * and save under those class names), after checking every layer: a layer type
 * ER cannot train (LSTM, BatchNormalization, …) with trainable weights gets
 * an error naming it and its class;
 * frozen or weightless layers before the trained part are passed through.
 * Returns the same model.
 *
 * ```ts
 * const model = tf.sequential({layers: [
 *   tf.layers.flatten({inputShape: [28, 28, 1]}),
 *   tf.layers.dense({units: 256, activation: 'relu'}),
 *   tf.layers.dropout({rate: 0.2}),
 *   tf.layers.dense({units: 10, activation: 'softmax'}),
 * ]});
 * attachER(model).compile({optimizer: er(), loss: 'categoricalCrossentropy'});
 * ```
 */
export function attachER<T extends tfl.LayersModel>(model: T): T {
  const chain = extractChain(model);
  for (const d of chain.solved) {
    const cls = d.kind === 'conv2d' ? ERConv2D : ERDense;
    if (!(d.layer instanceof cls)) Object.setPrototypeOf(d.layer, cls.prototype);
  }
  return model;
}
