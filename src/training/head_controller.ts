/**
 * Trains a model whose output layer is an ER head (see `erHead`): only that
 * layer is trained, by the first ER update from a zero field, whose
 * reflected targets are `±2` whatever the weights (`h* = 2·(2y − 1)` at
 * `h = 0`). The head's ridge statistics are therefore additive: each fit's
 * examples are folded into the statistics stored in the layer itself and the
 * weights are re-solved from them, so examples added later (even of a new
 * class) never require the old ones again. Within one fit, only the first
 * epoch adds its examples (later epochs would count them again).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {disposeRidgeState, ERInputError, RidgeAccumulator, RidgeState, rowRange, SweepReport} from '../engine/index';
import {ERLossName, resolveLoss, targetMatrix} from './losses';
import {EpochTrainer, snapshot, UpdateOutcome} from './trainer';

/** Marks a layer class as an ER head (set on the class's prototype). */
export const ER_HEAD_MARK = '__tfjsErHead';

/** What the head controller needs from a head layer. */
export interface StatsHead extends tfl.layers.Layer {
  /** Number of classes (output units). */
  readonly classes: number;
  /** The head's own ridge (α or 'auto'). */
  readonly alpha: number|'auto';
  /** The stored statistics (new tensors the caller owns). */
  readStatistics(): RidgeState;
  /** Stores statistics (copied). */
  writeStatistics(state: RidgeState): void;
  /** Sets the weights (float64 row-major kernel d×k, bias k). */
  writeSolution(W: Float64Array, b: Float64Array): void;
}

/** True if `layer` is an ER head. */
export function isStatsHead(layer: object): layer is StatsHead {
  return (layer as Record<string, unknown>)[ER_HEAD_MARK] === true;
}

/** The model's output layer if it is an ER head, else null. */
export function headOf(model: tfl.LayersModel): StatsHead|null {
  if (model.outputs.length !== 1) return null;
  const layer = model.outputs[0].sourceLayer as tfl.layers.Layer;
  return isStatsHead(layer) ? layer : null;
}

/** Solves the head from `acc` with the head's own ridge and writes its weights; returns the report. */
export function solveHead(head: StatsHead, acc: RidgeAccumulator): SweepReport {
  const t0 = Date.now();
  const sol = acc.solve({alpha: head.alpha});
  head.writeSolution(sol.W, sol.b);
  const solve = (Date.now() - t0) / 1000;
  return {rows: sol.count, passes: 0, gamma: 1, inputGramReused: true, outputGramReused: true,
          lambdas: {[head.name]: sol.lambdaUsed}, alphas: {[head.name]: sol.alpha},
          seconds: {passes: 0, reduce: 0, solve, total: solve}, passSeconds: [], warnings: sol.warnings};
}

/** Training settings of a head (its ridge is the head layer's own `alpha`). */
export interface HeadControllerConfig {
  verbose: boolean;
}

/** One ER head trained by one ER optimizer. */
export class ERHeadController implements EpochTrainer {
  lastReport: SweepReport|null = null;
  updates = 0;
  private readonly loss: ERLossName;
  /** The model's input → [the head's features, the model's output]. */
  private readonly features: tfl.LayersModel;
  private fitRows: {x: tf.Tensor, y: tf.Tensor}|null = null;
  private batches: Array<[tf.Tensor, tf.Tensor]> = [];
  private disposed = false;

  constructor(readonly model: tfl.LayersModel, readonly head: StatsHead,
              private readonly config: HeadControllerConfig) {
    this.loss = resolveLoss(model.loss, model.name);
    if (this.loss !== 'categoricalCrossentropy' && this.loss !== 'sparseCategoricalCrossentropy' &&
        this.loss !== 'binaryCrossentropy') {
      throw new ERInputError(
          `model '${model.name}': the ER head '${head.name}' is a classifier; compile it with ` +
          `categoricalCrossentropy, sparseCategoricalCrossentropy or binaryCrossentropy, not ${this.loss}`);
    }
    for (const l of model.layers) {
      if (l !== head && l.trainable && l.trainableWeights.length > 0) {
        throw new ERInputError(
            `layer '${l.name}' (${l.getClassName()}) is trainable, but ER trains only the ` +
            `head '${head.name}' of this model: set layer.trainable = false (erHead does)`);
      }
    }
    this.features = tfl.model({inputs: model.inputs,
                               outputs: [head.input as tfl.SymbolicTensor, model.outputs[0]]});
  }

  async beginFit(x: tf.Tensor, y: tf.Tensor): Promise<void> {
    this.checkLive();
    this.fitRows = {x, y};
  }

  async updateFitRows(epoch: number, predictions: boolean): Promise<UpdateOutcome> {
    const {x, y} = this.fitRows!;
    const chunk = 1024;
    const chunks = function* () {
      for (let s = 0; s < x.shape[0]; s += chunk) {
        const n = Math.min(chunk, x.shape[0] - s);
        const pair: [tf.Tensor, tf.Tensor] = [rowRange(x, s, n), rowRange(y, s, n)];
        try {
          yield pair;
        } finally {
          tf.dispose(pair);
        }
      }
    };
    return this.update(chunks(), epoch, predictions, x.shape[0]);
  }

  async beginBatches(): Promise<void> {
    this.checkLive();
    this.clearBatches();
  }

  async addBatch(x: tf.Tensor, y: tf.Tensor): Promise<void> {
    this.batches.push([tf.keep(tf.clone(x)), tf.keep(tf.clone(y))]);
  }

  async updateBatches(epoch: number, predictions: boolean): Promise<UpdateOutcome> {
    try {
      const rows = this.batches.reduce((a, [x]) => a + x.shape[0], 0);
      return this.update(this.batches, epoch, predictions, rows);
    } finally {
      this.clearBatches();
    }
  }

  async endFit(): Promise<void> {
    this.fitRows = null;
    this.clearBatches();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.fitRows = null;
    this.clearBatches();
  }

  private clearBatches() {
    tf.dispose(this.batches.flat());
    this.batches = [];
  }

  private checkLive() {
    if (this.disposed) throw new Error('this ER optimizer was disposed');
  }

  /**
   * Folds the rows into the head's statistics (only in a fit's first epoch)
   * and re-solves; returns the head's outputs before the update.
   */
  private update(rows: Iterable<[tf.Tensor, tf.Tensor]>, epoch: number, wantPredictions: boolean,
                 count: number): UpdateOutcome {
    const head = this.head, label = `ER head '${head.name}'`;
    const learn = epoch <= 1;
    const predictions = wantPredictions ? new Float32Array(count * head.classes) : null;
    let acc: RidgeAccumulator|null = null;
    let done = 0;
    try {
      if (learn) {
        const state = head.readStatistics();
        try {
          acc = RidgeAccumulator.fromState(state, label);
        } finally {
          disposeRidgeState(state);
        }
      }
      for (const [x, y] of rows) {
        const [a, p] = this.features.predict(x) as tf.Tensor[];
        try {
          if (predictions != null) predictions.set(p.dataSync(), done * head.classes);
          if (acc != null) {
            const t = tf.tidy(() => {
              const yt = targetMatrix(this.loss, y, head.classes, label);
              checkProbabilities(yt, label);
              // Reflection at a zero field: h* = 2·(2y − 1), i.e. ±2 for one-hot targets.
              return tf.sub(tf.mul(yt, 4), 2);
            });
            try {
              tf.tidy(() => acc!.add(tf.reshape(a, [a.shape[0], -1]), t));
            } finally {
              t.dispose();
            }
          }
        } finally {
          tf.dispose([a, p]);
        }
        done += x.shape[0];
      }
      if (acc == null || done === 0) {
        if (learn && done === 0) throw new ERInputError('the data gave no rows; pass at least one non-empty batch');
        return {predictions, undo: () => {}, commit: () => {}};
      }
      const undo = snapshot(head.weights.map(w => w));
      try {
        this.lastReport = solveHead(head, acc);
        const state = acc.exportState();
        try {
          head.writeStatistics(state);
        } finally {
          disposeRidgeState(state);
        }
      } catch (e) {
        undo();
        throw e;
      }
      this.updates++;
      if (this.config.verbose) for (const w of this.lastReport.warnings) console.warn(`tfjs-er: ${w}`);
      return {predictions, undo: () => { undo(); this.updates--; }, commit: () => undo.release()};
    } finally {
      acc?.dispose();
    }
  }
}

/** Throws (naming the value and the range) unless every target is finite and in [0, 1]. */
function checkProbabilities(y: tf.Tensor, label: string) {
  const stats = tf.tidy(() => tf.stack([tf.min(y), tf.max(y), tf.cast(tf.all(tf.isFinite(y)), 'float32')]));
  const [lo, hi, finite] = stats.dataSync();
  stats.dispose();
  if (finite !== 1) {
    throw new ERInputError(`${label}: the targets contain NaN or Infinity; check the labels. Weights were not changed.`);
  }
  if (lo < 0 || hi > 1) {
    throw new ERInputError(
        `${label}: targets lie in [${lo}, ${hi}] but a classifier head needs them in [0, 1] (one-hot labels ` +
        `or probabilities); check the labels. Weights were not changed.`);
  }
}
