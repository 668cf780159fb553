/**
 * The losses ER can take targets from, and how the targets are read.
 * ER never differentiates the loss: it only needs the true targets, which the
 * compiled loss function receives; the loss value is still reported as usual.
 */
import * as tf from '@tensorflow/tfjs-core';
import {ERActivation} from '../engine/activations';
import {ERInputError} from '../engine/errors';

/** Loss names (as given to `model.compile`) that ER supports. */
export type ERLossName =
    'categoricalCrossentropy'|'sparseCategoricalCrossentropy'|'binaryCrossentropy'|'meanSquaredError';

/** Supported losses and the output activations each accepts. */
export const SUPPORTED_LOSSES: Readonly<Record<ERLossName, ReadonlyArray<ERActivation>>> = {
  categoricalCrossentropy: ['softmax', 'sigmoid'],
  sparseCategoricalCrossentropy: ['softmax', 'sigmoid'],
  binaryCrossentropy: ['sigmoid', 'softmax'],
  meanSquaredError: ['linear', 'tanh', 'relu', 'sigmoid', 'softmax'],
};

const NAMES = Object.keys(SUPPORTED_LOSSES) as ERLossName[];

/** Reads the loss given to `compile` (string, one-element array or map). */
export function resolveLoss(loss: unknown, modelName: string): ERLossName {
  let l = loss;
  if (Array.isArray(l) && l.length === 1) l = l[0];
  else if (l != null && typeof l === 'object' && !Array.isArray(l) && Object.keys(l).length === 1) {
    l = (l as Record<string, unknown>)[Object.keys(l)[0]];
  }
  if (typeof l === 'string' && (NAMES as string[]).includes(l)) return l as ERLossName;
  const shown = typeof l === 'function' ? `a custom function (${(l as {name?: string}).name || 'anonymous'})` :
                                          JSON.stringify(l);
  throw new ERInputError(
      `model '${modelName}': the er() optimizer cannot train with loss ${shown}. ` +
      `ER reads the true targets from the loss, so it must be one of: ${NAMES.join(', ')} ` +
      `(one output only).`);
}

/** Throws if the output activation does not fit the loss. */
export function checkLossActivation(loss: ERLossName, act: ERActivation, layerName: string): void {
  if (!SUPPORTED_LOSSES[loss].includes(act)) {
    throw new ERInputError(
        `${layerName}: a '${act}' output cannot be trained with ${loss}; use a ` +
        `${SUPPORTED_LOSSES[loss].join(' or ')} output for this loss`);
  }
}

/** The batch's targets as a float32 [rows, units] matrix for the output layer. */
export function targetMatrix(loss: ERLossName, yTrue: tf.Tensor, units: number,
                             layerName: string): tf.Tensor2D {
  return tf.tidy(() => {
    if (loss === 'sparseCategoricalCrossentropy') {
      if (yTrue.rank > 2 || (yTrue.rank === 2 && yTrue.shape[1] !== 1)) {
        throw new ERInputError(
            `${layerName}: sparseCategoricalCrossentropy needs integer class labels of shape ` +
            `[rows] or [rows, 1], got [${yTrue.shape}]`);
      }
      const labels = tf.reshape(yTrue, [-1]);
      checkLabels(labels, units, layerName);
      return tf.cast(tf.oneHot(tf.cast(labels, 'int32'), units), 'float32') as tf.Tensor2D;
    }
    const y = yTrue.rank === 1 ? tf.reshape(yTrue, [-1, 1]) : yTrue;
    if (y.rank !== 2 || y.shape[1] !== units) {
      throw new ERInputError(
          `${layerName}: targets of shape [${yTrue.shape}] do not match the output layer's ` +
          `${units} units; give targets of shape [rows, ${units}]`);
    }
    return tf.cast(y, 'float32') as tf.Tensor2D;
  });
}

/**
 * The batch's targets for an output of shape `outShape` (one example's):
 * {@link targetMatrix} for a flat output, the targets themselves (float32,
 * same shape as the output) for an image-shaped one (e.g. a conv output).
 */
export function targetTensor(loss: ERLossName, yTrue: tf.Tensor, outShape: number[], layerName: string): tf.Tensor {
  if (outShape.length === 1) return targetMatrix(loss, yTrue, outShape[0], layerName);
  if (loss === 'sparseCategoricalCrossentropy') {
    throw new ERInputError(`${layerName}: sparseCategoricalCrossentropy needs a flat output; this one is [${outShape}]`);
  }
  if (yTrue.rank !== outShape.length + 1 || !outShape.every((d, i) => yTrue.shape[i + 1] === d)) {
    throw new ERInputError(
        `${layerName}: targets of shape [${yTrue.shape}] do not match the output [rows, ${outShape}]`);
  }
  return tf.cast(yTrue, 'float32');
}

/** Throws, naming the first bad label, unless every label is an integer class index in [0, classes). */
function checkLabels(labels: tf.Tensor, classes: number, layerName: string): void {
  const v = labels.dataSync();
  for (let i = 0; i < v.length; i++) {
    if (!(Number.isInteger(v[i]) && v[i] >= 0 && v[i] < classes)) {
      throw new ERInputError(
          `${layerName}: sparse class label ${v[i]} (row ${i} of the batch) is not a class index 0…${classes - 1}; ` +
          `give integer labels in that range. Weights were not changed.`);
    }
  }
}
