/**
 * How a pass folds a unit's regression rows into its ridge statistics.
 */
import * as tf from '@tensorflow/tfjs-core';
import {RidgeAccumulator} from '../ridge/accumulator';
import {patchKernel} from '../conv';
import {convGeometry, designRows, fieldRows, SolvedUnit, unitWidth} from '../units';

/**
 * Rows per product when a convolution's patch rows are accumulated: XNNPACK
 * packs a fresh operand at every product, and very tall ones run slower, so a
 * chunk's images are taken a few at a time.
 */
const CONV_BLOCK_ROWS = 4096;

/**
 * Folds unit `u`'s regression rows (from its input `a`) and field targets
 * `t` into `acc`: the whole chunk for a dense unit; for a convolution, a few
 * images at a time (see {@link CONV_BLOCK_ROWS}), sliced from one read-back
 * of the chunk (the wasm backend's slice copies its whole source).
 */
export function accumulate(acc: RidgeAccumulator, u: SolvedUnit, a: tf.Tensor, t: tf.Tensor, part: 'full'|'cross') {
  const add = (rows: tf.Tensor2D, targets: tf.Tensor2D) => part === 'full' ? acc.add(rows, targets) : acc.addCross(rows, targets);
  const n = a.shape[0];
  const positions = u.kind === 'conv2d' ? t.size / (n * unitWidth(u)) : 1;
  const per = Math.max(1, Math.floor(CONV_BLOCK_ROWS / positions));
  if (u.kind === 'dense' || per >= n) {
    tf.tidy(() => add(designRows(u, a), fieldRows(u, t)));
    return;
  }
  const av = a.dataSync() as Float32Array, tv = t.dataSync() as Float32Array;
  const aImage = a.size / n, tImage = t.size / n;
  const kernel = patchKernel(convGeometry(u), a.shape[a.rank - 1]);
  try {
    for (let s = 0; s < n; s += per) {
      const m = Math.min(per, n - s);
      tf.tidy(() => {
        const ab = tf.tensor(av.subarray(s * aImage, (s + m) * aImage), [m, ...a.shape.slice(1)]);
        const tb = tf.tensor(tv.subarray(s * tImage, (s + m) * tImage), [m, ...t.shape.slice(1)]);
        add(designRows(u, ab, kernel), fieldRows(u, tb));
      });
    }
  } finally {
    kernel.dispose();
  }
}
