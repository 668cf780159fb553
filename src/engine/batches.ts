import * as tf from '@tensorflow/tfjs-core';
import {ERInputError} from './errors';
import {BatchSource} from './update/index';
import {rowRange} from './window';

export {rowRange} from './window';

/**
 * A {@link BatchSource} over in-memory tensors `x` and `y` (same row count),
 * in row order, `batchSize` rows at a time. Each batch is a fresh copy,
 * disposed as soon as the consumer asks for the next one (or stops iterating).
 *
 * ```ts
 * erSweep(layers, tensorBatches(x, y, 1024));
 * ```
 */
export function tensorBatches(x: tf.Tensor, y: tf.Tensor, batchSize = 1024): BatchSource {
  if (!(Number.isInteger(batchSize) && batchSize > 0)) {
    throw new ERInputError(`batchSize must be a positive integer, got ${batchSize}`);
  }
  if (x.shape[0] !== y.shape[0]) {
    throw new ERInputError(`x has ${x.shape[0]} rows but y has ${y.shape[0]}; they must match`);
  }
  return function* () {
    const n = x.shape[0];
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const xb = rowRange(x, start, size);
      const yb = rowRange(y, start, size);
      try {
        yield [xb, yb] as [tf.Tensor, tf.Tensor];
      } finally {
        tf.dispose([xb, yb]);
      }
    }
  };
}
