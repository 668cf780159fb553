import * as tf from '@tensorflow/tfjs-core';
import {ERInputError} from './errors';

/** Activations whose reflection rule tfjs-er knows. */
export type ERActivation = 'linear'|'relu'|'tanh'|'sigmoid'|'softmax';

const KNOWN: ReadonlyArray<ERActivation> = ['linear', 'relu', 'tanh', 'sigmoid', 'softmax'];

/**
 * Normalises a tfjs activation identifier (`undefined`, `'linear'`, `'relu'`, …)
 * to one ER can train, or throws naming the layer and the supported set.
 */
export function toERActivation(name: string|null|undefined, layerName = 'layer'):
    ERActivation {
  const a = (name == null ? 'linear' : String(name)).toLowerCase();
  if ((KNOWN as ReadonlyArray<string>).includes(a)) return a as ERActivation;
  throw new ERInputError(
      `${layerName}: activation '${name}' has no Expectation Reflection rule. ` +
      `Use one of ${KNOWN.join(', ')} (or put the activation in a separate ` +
      `tf.layers.activation layer that ER passes through).`);
}

/** f(h) for an ER activation. Softmax is taken over the last axis. */
export function activate(act: ERActivation, h: tf.Tensor): tf.Tensor {
  switch (act) {
    case 'linear': return h;
    case 'relu': return tf.relu(h);
    case 'tanh': return tf.tanh(h);
    case 'sigmoid': return tf.sigmoid(h);
    case 'softmax': return tf.softmax(h);
    default: throw new ERInputError(`unknown activation '${act as string}'`);
  }
}
