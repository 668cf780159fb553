/**
 * What the fit loops need from whatever trains a model with ER: a network
 * chain (`ERController`) or a statistics-only head (`ERHeadController`).
 * An update writes the model's weights at once and returns how to undo
 * it, so a fit that fails later in the same epoch leaves the model exactly
 * as it was before that epoch.
 */
import * as tf from '@tensorflow/tfjs-core';
import {SweepReport} from '../engine/index';

/** The outcome of one update. */
export interface UpdateOutcome {
  /** The model's outputs under the weights the update started from, row-major, one row per training row. */
  predictions: Float32Array|null;
  /** Puts back the weights (and statistics) the update replaced. */
  undo(): void;
  /** Releases what `undo` would need (the update is final). */
  commit(): void;
}

/** The ER training of one compiled model. */
export interface EpochTrainer {
  /** The report of the last update. */
  lastReport: SweepReport|null;
  /** Updates applied so far. */
  updates: number;
  /** `fit(x, y)` starts: the training rows are `x` (model inputs) and `y` (targets as given to fit). */
  beginFit(x: tf.Tensor, y: tf.Tensor, options: {epochUpdates: boolean}): Promise<void>;
  /** One update over the rows given to {@link beginFit}. */
  updateFitRows(epoch: number, predictions: boolean): Promise<UpdateOutcome>;
  /** Starts collecting batches (fitDataset, per-batch updates, trainOnBatch). */
  beginBatches(): Promise<void>;
  /** Adds one batch (model inputs, targets as given). */
  addBatch(x: tf.Tensor, y: tf.Tensor): Promise<void>;
  /** One update over the batches added since {@link beginBatches}; forgets them. */
  updateBatches(epoch: number, predictions: boolean): Promise<UpdateOutcome>;
  /** The fit call ends (also on failure): releases its rows. */
  endFit(): Promise<void>;
  /** Releases everything. */
  dispose(): void;
}

/** Clones of the given variables' values, and how to write them back. */
export function snapshot(variables: Array<{read(): tf.Tensor, write(t: tf.Tensor): void}>): UpdateOutcome['undo'] &
    {release(): void} {
  const saved = variables.map(v => tf.keep(tf.clone(v.read())));
  let live = true;
  const undo = (() => {
    if (!live) return;
    variables.forEach((v, i) => v.write(saved[i]));
    tf.dispose(saved);
    live = false;
  }) as UpdateOutcome['undo'] & {release(): void};
  undo.release = () => {
    if (!live) return;
    tf.dispose(saved);
    live = false;
  };
  return undo;
}
