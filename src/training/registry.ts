/**
 * Which controller trains which model: the optimizer binds one at compile
 * time; the fit hooks and ER layers look it up.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {ERInputError} from '../engine/errors';
import {SweepReport} from '../engine/sweep';
import {observeTargets} from './capture';

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
