/**
 * What ER's `fit`, `fitDataset` and `trainOnBatch` share: tfjs's callbacks
 * and History, per-batch logs from an update's predictions, validation, the
 * training flag, and undoing an epoch that fails.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {EpochTrainer, UpdateOutcome} from './trainer';

/** Fit options ER honours (tfjs's `ModelFitArgs`). */
export type FitArgs = tfl.ModelFitArgs;
/** fitDataset options (tfjs's `ModelFitDatasetArgs`). */
// tslint:disable-next-line:no-any
export type FitDatasetArgs = tfl.ModelFitDatasetArgs<any>;
/** Logs of a batch or an epoch. */
export type Logs = Record<string, number>;
// tslint:disable-next-line:no-any
type AnyModel = any;

/** What tfjs-layers keeps on a compiled model that the loops use. */
export function internals(model: tfl.LayersModel): AnyModel {
  return model as AnyModel;
}

/** Throws unless `model` can start training now (compiled, not already training). */
export function checkCanTrain(model: tfl.LayersModel) {
  if (model.optimizer == null) {
    throw new Error('You must compile a model before training/testing. Use LayersModel.compile(modelCompileConfig).');
  }
  if (internals(model).isTraining) {
    throw new Error('Cannot start training because another fit() call is ongoing.');
  }
}

/** The model's loss and metric values on one batch: [loss, ...metrics], in the order of `metricNames`. */
export function evaluateBatch(model: tfl.LayersModel, yTrue: tf.Tensor, yPred: tf.Tensor): number[] {
  const m = internals(model);
  const values = tf.tidy(() => {
    let loss = tf.mean(m.lossFunctions[0](yTrue, yPred)) as tf.Scalar;
    for (const reg of m.calculateLosses() as tf.Scalar[]) loss = tf.add(loss, reg);
    const out: tf.Tensor[] = [loss];
    for (const [fn] of m.metricsTensors as Array<[(a: tf.Tensor, b: tf.Tensor) => tf.Tensor, number]>) {
      out.push(tf.mean(fn(yTrue, yPred)));
    }
    return tf.stack(out);
  });
  const v = Array.from(values.dataSync());
  values.dispose();
  return v;
}

export function metricNames(model: tfl.LayersModel): string[] {
  return internals(model).getDedupedMetricsNames() as string[];
}

/** The callbacks of a fit call as tfjs builds them (configs become `CustomCallback`s), plus a `History`. */
export function callbackList(model: tfl.LayersModel, callbacks: FitArgs['callbacks'], yieldEvery: FitArgs['yieldEvery'],
                      params: Record<string, unknown>): {list: tfl.CallbackList, history: tfl.History} {
  // tslint:disable-next-line:no-any
  const isCallback = (c: any) => c != null && typeof c.setParams === 'function' && typeof c.onEpochEnd === 'function';
  const given = callbacks == null ? [] : Array.isArray(callbacks) ? callbacks : [callbacks];
  // tslint:disable-next-line:no-any
  const user = given.map((c: any) => isCallback(c) ? c : new tfl.CustomCallback(c, yieldEvery));
  const history = new tfl.History();
  const list = new tfl.CallbackList([...user, history]);
  list.setModel(model);
  // tslint:disable-next-line:no-any
  list.setParams(params as any);
  return {list, history};
}

/** Disposes the tensors of `made` that are not among `given` (what standardisation created). */
export function disposeNew(made: tf.Tensor[], given: unknown) {
  const keep = new Set<number>();
  const visit = (v: unknown) => {
    if (v instanceof tf.Tensor) keep.add(v.id);
    else if (Array.isArray(v)) v.forEach(visit);
    else if (v != null && typeof v === 'object') Object.values(v).forEach(visit);
  };
  visit(given);
  tf.dispose(made.filter(t => !keep.has(t.id)));
}

/** Running weighted means of batch logs (what tfjs's BaseLogger does). */
export class EpochMeans {
  private sums: Record<string, number> = {};
  private rows = 0;
  add(size: number, logs: Logs) {
    this.rows += size;
    for (const [k, v] of Object.entries(logs)) this.sums[k] = (this.sums[k] ?? 0) + v * size;
  }
  logs(): Logs {
    const out: Logs = {};
    for (const [k, v] of Object.entries(this.sums)) out[k] = v / this.rows;
    return out;
  }
}

/** Per-batch callbacks for rows [start, end) of an update's predictions; folds their logs into `means`. */
export async function reportBatches(model: tfl.LayersModel, list: tfl.CallbackList, names: string[],
                             predictions: Float32Array, batches: Array<{yTrue: tf.Tensor, start: number}>,
                             firstIndex: number, means: EpochMeans): Promise<boolean> {
  const outShape = model.outputs[0].shape.slice(1) as number[];
  const width = outShape.reduce((a, b) => a * b, 1);
  for (let b = 0; b < batches.length; b++) {
    const {yTrue, start} = batches[b];
    const size = yTrue.shape[0];
    const index = firstIndex + b;
    await list.onBatchBegin(index, {batch: index, size});
    const pred = tf.tensor(predictions.subarray(start * width, (start + size) * width), [size, ...outShape]);
    let values: number[];
    try {
      values = evaluateBatch(model, yTrue, pred);
    } finally {
      pred.dispose();
    }
    const logs: Logs = {batch: index, size};
    names.forEach((n, i) => { logs[n] = values[i]; });
    means.add(size, Object.fromEntries(names.map((n, i) => [n, values[i]])));
    await list.onBatchEnd(index, logs);
    if (internals(model).stopTraining_) return false;
  }
  return true;
}

/** Validation logs (`val_` + each metric) from `model.evaluate` or `evaluateDataset`. */
export async function validate(names: string[], run: () => Promise<tf.Scalar[]>|tf.Scalar[]):
    Promise<Logs> {
  const outs = await run();
  const list = Array.isArray(outs) ? outs : [outs];
  const logs: Logs = {};
  try {
    list.forEach((s, i) => { logs[`val_${names[i]}`] = s.dataSync()[0]; });
  } finally {
    tf.dispose(list);
  }
  return logs;
}

/**
 * Marks the model as training at once (so a concurrent call is refused before
 * it touches anything), runs `body`, then always unmarks it and ends the
 * trainer's fit.
 */
export async function training<T>(model: tfl.LayersModel, trainer: EpochTrainer, body: () => Promise<T>): Promise<T> {
  checkCanTrain(model);
  const m = internals(model);
  m.isTraining = true;
  try {
    return await body();
  } finally {
    m.isTraining = false;
    await trainer.endFit();
  }
}

/** One epoch's update, callbacks and validation, undone if any of them fails. */
export async function epoch(update: () => Promise<UpdateOutcome>, rest: (o: UpdateOutcome) => Promise<void>) {
  const outcome = await update();
  try {
    await rest(outcome);
  } catch (e) {
    outcome.undo();
    throw e;
  }
  outcome.commit();
}
