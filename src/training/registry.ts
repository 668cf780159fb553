/**
 * Which controller trains which model: the optimizer binds one at compile
 * time; the fit hooks and ER layers look it up.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {ERInputError} from '../engine/errors';
import {SweepReport} from '../engine/sweep';
import {CaptureSession, observeTargets, withCaptureSession} from './capture';

/** Fit parameters as tfjs passes them to callbacks. */
export interface FitParams {
  samples?: number|null;
  steps?: number|null;
  batchSize?: number|null;
}

/** What the optimizer and the fit hooks call on a model's controller. */
export interface TrainingController {
  /** The report of the last applied update. */
  lastReport: SweepReport|null;
  /** Updates applied so far. */
  updates: number;
  minimize(f: () => tf.Scalar, returnCost: boolean): tf.Scalar|null;
  flushPending(): void;
  setFitData(x: unknown, y: unknown, args: {validationSplit?: number, validationData?: unknown}|undefined): void;
  clearFitData(): void;
  beginFit(params: FitParams): void;
  beginEpoch(): void;
  endEpoch(): void;
  endFit(): void;
  dispose(): void;
}

/**
 * The epoch bookkeeping both controllers share: the fit hooks call these
 * methods; `countBatch()` tells when an epoch's last batch was seen (so an
 * update can be applied before tfjs validates at the end of the epoch).
 */
export abstract class FitLifecycle {
  /** Inside fit / fitDataset (false for trainOnBatch). */
  protected fitting = false;
  /** 1-based epoch of the running fit (0 before the first). */
  protected epoch = 0;
  protected batchesPerEpoch: number|null = null;
  protected batchInEpoch = 0;

  /** Applies whatever update is pending. */
  abstract flushPending(): void;

  /** Called when fit/fitDataset starts. */
  beginFit(params: FitParams): void {
    this.fitting = true;
    this.epoch = 0;
    this.batchInEpoch = 0;
    const steps = params.steps ?? (params.samples != null && params.batchSize ?
                                       Math.ceil(params.samples / params.batchSize) : null);
    this.batchesPerEpoch = steps != null && steps > 0 ? steps : null;
  }

  /** Called at each epoch start: nothing should be pending; apply it if so. */
  beginEpoch(): void {
    this.flushPending();
    this.epoch++;
    this.batchInEpoch = 0;
  }

  /** Called at each epoch end (fitDataset without a known length ends here). */
  endEpoch(): void {
    this.flushPending();
  }

  /** Called when fit/fitDataset ends. */
  endFit(): void {
    this.fitting = false;
    this.batchesPerEpoch = null;
    this.flushPending();
  }

  /**
   * One training step: runs the loss `f` with `session` active (so ER sees
   * the batch's inputs and targets), hands the session to
   * `record`, and applies the pending update when `flushNow(epochDone)` says
   * so. On a `record` error, `onError` runs and the error is rethrown.
   */
  protected trainingStep(session: CaptureSession, f: () => tf.Scalar, returnCost: boolean,
                         record: (session: CaptureSession) => void, onError: () => void,
                         flushNow: (epochDone: boolean) => boolean): tf.Scalar|null {
    let cost: tf.Scalar;
    try {
      cost = tf.tidy(() => withCaptureSession(session, f));
    } catch (e) {
      session.dispose();
      throw e;
    }
    try {
      record(session);
    } catch (e) {
      cost.dispose();
      onError();
      throw e;
    } finally {
      session.dispose();
    }
    if (flushNow(this.countBatch())) this.flushPending();
    if (returnCost) return cost;
    cost.dispose();
    return null;
  }

  /** Counts one training batch; true when it was the epoch's last. */
  protected countBatch(): boolean {
    this.batchInEpoch++;
    return this.batchesPerEpoch != null && this.batchInEpoch >= this.batchesPerEpoch;
  }
}

const controllers = new WeakMap<object, TrainingController>();

/** The controller bound to a model. */
export function controllerOf(model: object): TrainingController|undefined {
  return controllers.get(model);
}

/** Binds `controller` to `model`, disposing the previous one. */
export function setController(model: object, controller: TrainingController): void {
  const old = controllers.get(model);
  if (old != null && old !== controller) old.dispose();
  controllers.set(model, controller);
}

/** Unbinds `controller` from `model` if it is the bound one. */
export function unsetController(model: object, controller: TrainingController): void {
  if (controllers.get(model) === controller) controllers.delete(model);
}

const WRAPPED = '__tfjsErWrapped';

/** Wraps the model's single loss function so it reports the true targets to ER. */
export function wrapLossForTargets(model: tfl.LayersModel): void {
  const fns = model.lossFunctions;
  if (fns == null || fns.length !== 1) {
    throw new ERInputError(`model '${model.name}': ER trains models with exactly one loss`);
  }
  const original = fns[0];
  // tslint:disable-next-line:no-any
  if ((original as any)[WRAPPED]) return;
  const wrapped = (yTrue: tf.Tensor, yPred: tf.Tensor) => {
    observeTargets(yTrue);
    return original(yTrue, yPred);
  };
  Object.defineProperty(wrapped, WRAPPED, {value: true});
  Object.defineProperty(wrapped, 'name', {value: original.name});
  model.lossFunctions = [wrapped];
}
