/**
 * Trains a model whose output layer is an ER head (see `erHead`): only that
 * layer is trained, by the first ER update from a zero field, whose
 * reflected targets are `±2` whatever the weights (`h* = 2·(2y − 1)` at
 * `h = 0`). The head's ridge statistics are therefore additive: each batch is
 * folded into the statistics stored in the layer itself, and the weights are
 * re-solved from them, so examples added later (even of a new class) never
 * require the old ones again.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {ERInputError} from '../engine/errors';
import {disposeRidgeState, RidgeAccumulator, RidgeState} from '../engine/ridge';
import {SweepReport} from '../engine/sweep';
import {CaptureSession, setCaptureListener} from './capture';
import {ERLossName, resolveLoss, targetMatrix} from './losses';
import {FitLifecycle, FitParams, setController, TrainingController, unsetController, wrapLossForTargets} from './registry';

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

/** Training settings of a head (its ridge is the head layer's own `alpha`). */
export interface HeadControllerConfig {
  verbose: boolean;
}

/** Solves the head from `acc` with the head's own ridge and writes its weights; returns the report. */
export function solveHead(head: StatsHead, acc: RidgeAccumulator): SweepReport {
  const t0 = Date.now();
  const sol = acc.solve({alpha: head.alpha});
  head.writeSolution(sol.W, sol.b);
  const solve = (Date.now() - t0) / 1000;
  return {rows: sol.count, passes: 0, gamma: 1, inputGramReused: true, outputGramReused: true, topBatches: 0,
          lambdas: {[head.name]: sol.lambdaUsed}, alphas: {[head.name]: sol.alpha},
          seconds: {gram: 0, solve, target: 0, search: 0, total: solve}, warnings: sol.warnings};
}

/**
 * One ER head trained by one ER optimizer. Within one `fit`/`fitDataset`
 * call, only the first epoch adds its examples (later epochs would only count
 * the same examples again); each `trainOnBatch` adds its batch.
 */
export class ERHeadController extends FitLifecycle implements TrainingController {
  lastReport: SweepReport|null = null;
  updates = 0;
  private readonly loss: ERLossName;
  private pending: RidgeAccumulator|null = null;
  private disposed = false;

  constructor(readonly model: tfl.LayersModel, readonly head: StatsHead,
              private readonly config: HeadControllerConfig) {
    super();
    this.loss = resolveLoss(model.loss, model.name);
    if (this.loss !== 'categoricalCrossentropy' && this.loss !== 'sparseCategoricalCrossentropy' &&
        this.loss !== 'binaryCrossentropy') {
      throw new ERInputError(
          `model '${model.name}': the ER head '${head.name}' is a classifier; compile it with ` +
          `categoricalCrossentropy, sparseCategoricalCrossentropy or binaryCrossentropy, ` +
          `not ${this.loss}`);
    }
    for (const l of model.layers) {
      if (l !== head && l.trainable && l.trainableWeights.length > 0) {
        throw new ERInputError(
            `layer '${l.name}' (${l.getClassName()}) is trainable, but ER trains only the ` +
            `head '${head.name}' of this model: set layer.trainable = false (erHead does)`);
      }
    }
    wrapLossForTargets(model);
    setCaptureListener(head, this);
    setController(model, this);
  }

  minimize(f: () => tf.Scalar, returnCost: boolean): tf.Scalar|null {
    if (this.disposed) throw new Error('this ER optimizer was disposed');
    return this.trainingStep(new CaptureSession(this.head), f, returnCost, session => {
      if (!this.fitting || this.epoch <= 1) this.addBatch(session);
    }, () => {}, epochDone => !this.fitting || epochDone);
  }

  /** Solves the head from the statistics if batches were added since the last solve. */
  flushPending(): void {
    const acc = this.pending;
    if (acc == null) return;
    this.pending = null;
    try {
      this.lastReport = solveHead(this.head, acc);
      const state = acc.exportState();
      try {
        this.head.writeStatistics(state);
      } finally {
        disposeRidgeState(state);
      }
      this.updates++;
      if (this.config.verbose) {
        for (const w of this.lastReport.warnings) console.warn(`tfjs-er: ${w}`);
      }
    } finally {
      acc.dispose();
    }
  }

  setFitData(): void {}
  clearFitData(): void {}

  beginFit(params: FitParams): void {
    this.flushPending();
    super.beginFit(params);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.pending?.dispose();
    this.pending = null;
    setCaptureListener(this.head, null);
    unsetController(this.model, this);
  }

  private addBatch(session: CaptureSession) {
    const head = this.head;
    if (session.input == null) {
      throw new ERInputError(`the training step never reached the ER head '${head.name}'`);
    }
    if (session.targets == null) {
      throw new ERInputError(`the training step did not compute the loss, so ER saw no targets`);
    }
    const a = session.input;
    const y = targetMatrix(this.loss, session.targets, head.classes, `ER head '${head.name}'`);
    try {
      if (this.pending == null) {
        const state = head.readStatistics();
        try {
          this.pending = RidgeAccumulator.fromState(state, `ER head '${head.name}'`);
        } finally {
          disposeRidgeState(state);
        }
      }
      // Reflection at a zero field: h* = 2·(2y − 1), i.e. ±2 for one-hot targets.
      const t = tf.tidy(() => tf.sub(tf.mul(y, 4), 2));
      try {
        this.pending.add(a, t);
      } finally {
        t.dispose();
      }
    } finally {
      y.dispose();
    }
  }
}
