/**
 * The pre-image of target propagation: given a layer's input `a`, its weights
 * and a target field `h*`, the input change that best explains the field's
 * residual, by damped least squares:
 *
 *   a* = a + (h* − aW − b) · M,   M = (WᵀW + μI + 1e-12·I)⁻¹ Wᵀ,   μ = β·trace(WᵀW)/q.
 */
import * as tf from '@tensorflow/tfjs-core';
import {solveSPD} from './spd';

/** The damped pseudo-inverse `M` (q×p) of a p×q weight matrix, in float32. */
export function preimageOperator(W: tf.Tensor2D, beta: number): tf.Tensor2D {
  const [p, q] = W.shape;
  const wt = tf.transpose(W);
  const gramT = tf.matMul(wt, W);
  const G = Float64Array.from(gramT.dataSync());
  const Wt = Float64Array.from(wt.dataSync());
  tf.dispose([wt, gramT]);
  let trace = 0;
  for (let i = 0; i < q; i++) trace += G[i * q + i];
  const mu = beta * trace / q + 1e-12;
  const {x} = solveSPD(G, q, Wt, p, mu);
  return tf.tensor2d(Float32Array.from(x), [q, p]);
}

/** `a* = a + (h* − aW − b)·M`. */
export function preimage(a: tf.Tensor2D, hStar: tf.Tensor2D, W: tf.Tensor2D,
                         b: tf.Tensor1D|null, M: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    let h = tf.matMul(a, W);
    if (b != null) h = tf.add(h, b);
    return tf.add(a, tf.matMul(tf.sub(hStar, h), M));
  });
}
