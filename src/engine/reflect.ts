/**
 * The multiplicative reflection rules of Expectation Reflection: the observed
 * target reflects the local field by the ratio observed / predicted,
 * `h* = h · y / f(h)`, written in closed forms that never divide by zero.
 */
import * as tf from '@tensorflow/tfjs-core';
import {ERActivation} from './activations';
import {ERInputError} from './errors';

/** Below this |u|, `u / tanh(u)` is replaced by its series `1 + u²/3`. */
const SERIES_CUTOFF = 1e-3;
/** Sigmoid hidden targets are clipped to ±30 (the ratio explodes for h ≪ 0). */
const SIGMOID_CLIP = 30;

/** `g(u) = u / tanh(u)`, with `g(0) = 1`; even, ≥ 1, never divides by zero. */
export function fieldRatio(u: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const small = tf.less(tf.abs(u), SERIES_CUTOFF);
    // Where |u| is small, feed a safe value to the division branch.
    const safe = tf.where(small, tf.onesLike(u), u);
    const ratio = tf.div(safe, tf.tanh(safe));
    const series = tf.add(1, tf.div(tf.square(u), 3));
    return tf.where(small, series, ratio);
  });
}

/**
 * Reflected field of an output layer, from its current field `h` and the
 * observed targets `y` (same shape).
 * - softmax / sigmoid (classification, one-vs-rest, y ∈ [0, 1]):
 *   `y₁ = 2y − 1`, prediction `tanh(h/2)`, `h* = y₁ · 2·g(h/2)`.
 * - linear: `h* = y`.
 * - tanh: `h* = y · g(h)` (y ∈ [−1, 1]).
 * - relu: `h* = y` where the unit is on or the target is positive, else `h`.
 */
export function reflectOutput(act: ERActivation, h: tf.Tensor, y: tf.Tensor):
    tf.Tensor {
  return tf.tidy(() => {
    switch (act) {
      case 'softmax':
      case 'sigmoid': {
        const y1 = tf.sub(tf.mul(y, 2), 1);
        return tf.mul(tf.mul(y1, 2), fieldRatio(tf.div(h, 2)));
      }
      case 'linear':
        return tf.cast(y, 'float32');
      case 'tanh':
        return tf.mul(y, fieldRatio(h));
      case 'relu':
        return tf.where(tf.logicalOr(tf.greater(h, 0), tf.greater(y, 0)),
                        tf.cast(y, 'float32'), h);
      default:
        throw new ERInputError(`no output reflection rule for '${act as string}'`);
    }
  });
}

/**
 * Reflected field of a hidden layer from its field `h` and the target
 * activation `aStar` propagated down from the layer above.
 * - linear: `h* = a*`; tanh: `h* = a* · g(h)`;
 * - relu: `h* = a*` where `h > 0`; units that are off keep their field;
 * - sigmoid: `h* = a* · h(1 + e^{−h})`, clipped to ±30.
 */
export function reflectHidden(act: ERActivation, h: tf.Tensor, aStar: tf.Tensor):
    tf.Tensor {
  return tf.tidy(() => {
    switch (act) {
      case 'linear': return tf.clone(aStar);
      case 'relu': {
        // where(h > 0, a*, h) as exact arithmetic on a 0/1 mask: on wasm a scalar
        // comparison and a select cost ~20× a binary op on large tensors
        const on = tf.step(h);
        return tf.add(tf.mul(aStar, on), tf.mul(h, tf.sub(1, on)));
      }
      case 'tanh': return tf.mul(aStar, fieldRatio(h));
      case 'sigmoid': {
        const r = tf.mul(h, tf.add(1, tf.exp(tf.neg(tf.clipByValue(h, -30, 30)))));
        return tf.clipByValue(tf.mul(aStar, r), -SIGMOID_CLIP, SIGMOID_CLIP);
      }
      default:
        throw new ERInputError(
            `a '${act as string}' activation cannot be a hidden ER layer; ` +
            `use relu, tanh, sigmoid or linear`);
    }
  });
}

/** The range the observed targets must lie in, per output activation. */
export function targetRange(act: ERActivation): [number, number] {
  switch (act) {
    case 'softmax':
    case 'sigmoid': return [0, 1];
    case 'tanh': return [-1, 1];
    default: return [-Infinity, Infinity];
  }
}
