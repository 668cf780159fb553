/**
 * `fit`, `fitDataset` and `trainOnBatch` for a model compiled with `er()`.
 *
 * An ER epoch is one exact full-batch update, not a sequence of gradient
 * steps, so these loops do not take tfjs's per-batch training steps: each
 * epoch runs the update (its passes on the optimizer's executor), then
 * reports, per batch, the loss and metrics of the weights the update started
 * from (computed from the update's own first pass, with the model's compiled
 * loss and metric functions), then validates on the new weights. The
 * callbacks, `History`, `validationData` / `validationSplit`,
 * `initialEpoch`, `model.stopTraining` and the returned values follow tfjs;
 * per-batch callbacks run after the epoch's update. An epoch that fails
 * (in the update or in a callback) is undone: the model is left exactly as
 * before it.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {ERInputError} from '../engine/index';
import {EpochTrainer, UpdateOutcome} from './trainer';

/** Fit options ER honours (tfjs's `ModelFitArgs`). */
type FitArgs = tfl.ModelFitArgs;
/** fitDataset options (tfjs's `ModelFitDatasetArgs`). */
// tslint:disable-next-line:no-any
type FitDatasetArgs = tfl.ModelFitDatasetArgs<any>;
/** Logs of a batch or an epoch. */
type Logs = Record<string, number>;
// tslint:disable-next-line:no-any
type AnyModel = any;

/** What tfjs-layers keeps on a compiled model that the loops use. */
function internals(model: tfl.LayersModel): AnyModel {
  return model as AnyModel;
}

/** Throws unless `model` can start training now (compiled, not already training). */
function checkCanTrain(model: tfl.LayersModel) {
  if (model.optimizer == null) {
    throw new Error('You must compile a model before training/testing. Use LayersModel.compile(modelCompileConfig).');
  }
  if (internals(model).isTraining) {
    throw new Error('Cannot start training because another fit() call is ongoing.');
  }
}

/** The model's loss and metric values on one batch: [loss, ...metrics], in the order of `metricNames`. */
function evaluateBatch(model: tfl.LayersModel, yTrue: tf.Tensor, yPred: tf.Tensor): number[] {
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

function metricNames(model: tfl.LayersModel): string[] {
  return internals(model).getDedupedMetricsNames() as string[];
}

/** The callbacks of a fit call as tfjs builds them (configs become `CustomCallback`s), plus a `History`. */
function callbackList(model: tfl.LayersModel, callbacks: FitArgs['callbacks'], yieldEvery: FitArgs['yieldEvery'],
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
function disposeNew(made: tf.Tensor[], given: unknown) {
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
class EpochMeans {
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
async function reportBatches(model: tfl.LayersModel, list: tfl.CallbackList, names: string[],
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
async function validate(names: string[], run: () => Promise<tf.Scalar[]>|tf.Scalar[]):
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
async function training<T>(model: tfl.LayersModel, trainer: EpochTrainer, body: () => Promise<T>): Promise<T> {
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
async function epoch(update: () => Promise<UpdateOutcome>, rest: (o: UpdateOutcome) => Promise<void>) {
  const outcome = await update();
  try {
    await rest(outcome);
  } catch (e) {
    outcome.undo();
    throw e;
  }
  outcome.commit();
}

/** `model.fit(x, y, args)` with ER (see the module comment). */
export async function erFit(model: tfl.LayersModel, trainer: EpochTrainer, update: 'epoch'|'batch', x: unknown,
                      y: unknown, args: FitArgs = {}): Promise<tfl.History> {
  return training(model, trainer, () => fitRows(model, trainer, update, x, y, args));
}

async function fitRows(model: tfl.LayersModel, trainer: EpochTrainer, update: 'epoch'|'batch', x: unknown,
                       y: unknown, args: FitArgs): Promise<tfl.History> {
  if (args.sampleWeight != null || args.classWeight != null) {
    throw new ERInputError('fit: ER does not use sampleWeight or classWeight (it solves for the targets exactly); ' +
                           'remove them, or resample the rows');
  }
  const batchSize = args.batchSize ?? 32;
  if (!(Number.isInteger(batchSize) && batchSize > 0)) {
    throw new ERInputError(`fit: batchSize must be a positive integer, got ${batchSize}`);
  }
  const m = internals(model);
  const [inputs, targets] = await m.standardizeUserData(x, y, undefined, undefined, false, batchSize) as tf.Tensor[][];
  const owned: tf.Tensor[] = [...inputs, ...targets];
  {
    try {
      if (inputs.length !== 1 || targets.length !== 1) {
        throw new ERInputError(`model '${model.name}': ER trains models with one input and one output`);
      }
      let xs = inputs[0], ys = targets[0];
      let val: {x: tf.Tensor, y: tf.Tensor}|null = null;
      if (args.validationData != null && args.validationData.length > 0) {
        if (args.validationData.length !== 2) {
          throw new ERInputError('fit: validationData must be [x, y] (sample weights are not supported)');
        }
        const [vx, vy] = await m.standardizeUserData(args.validationData[0], args.validationData[1], undefined,
                                                     undefined, true, batchSize) as tf.Tensor[][];
        owned.push(...vx, ...vy);
        val = {x: vx[0], y: vy[0]};
      } else if (args.validationSplit != null && args.validationSplit > 0 && args.validationSplit < 1) {
        const n = xs.shape[0], split = Math.floor(n * (1 - args.validationSplit));
        val = {x: tf.slice(xs, split, n - split), y: tf.slice(ys, split, n - split)};
        xs = tf.slice(xs, 0, split);
        ys = tf.slice(ys, 0, split);
        owned.push(val.x, val.y, xs, ys);
      }
      const rows = xs.shape[0];
      const epochs = args.epochs ?? 1, initialEpoch = args.initialEpoch ?? 0;
      const names = metricNames(model);
      const {list, history} = callbackList(model, args.callbacks, args.yieldEvery, {
        epochs, initialEpoch, samples: rows, steps: null, batchSize, verbose: args.verbose ?? 1,
        doValidation: val != null, metrics: val != null ? [...names, ...names.map(n => `val_${n}`)] : names,
      });
      m.history = history;
      m.stopTraining_ = false;
      await list.onTrainBegin();
      await trainer.beginFit(xs, ys, {epochUpdates: update === 'epoch'});
      for (let e = initialEpoch; e < epochs; e++) {
        await list.onEpochBegin(e);
        await tf.nextFrame();
        const means = new EpochMeans();
        const epochLogs: Logs = {};
        const finish = async () => {
          Object.assign(epochLogs, means.logs());
          if (val != null) {
            Object.assign(epochLogs, await validate(names, () =>
                model.evaluate(val!.x, val!.y, {batchSize, verbose: 0}) as tf.Scalar[]));
          }
          await list.onEpochEnd(e, epochLogs);
        };
        if (update === 'epoch') {
          await epoch(() => trainer.updateFitRows(e - initialEpoch + 1, true), async o => {
            const batches = [];
            for (let s = 0; s < rows; s += batchSize) {
              batches.push({yTrue: tf.slice(ys, s, Math.min(batchSize, rows - s)), start: s});
            }
            try {
              await reportBatches(model, list, names, o.predictions!, batches, 0, means);
            } finally {
              tf.dispose(batches.map(b => b.yTrue));
            }
            await finish();
          });
        } else {
          // one update per batch, from that batch alone, in tfjs's (shuffled) batch order
          const order = Array.from({length: rows}, (_, i) => i);
          if (args.shuffle !== false) tf.util.shuffle(order);
          let stopped = false;
          for (let s = 0, b = 0; s < rows && !stopped; s += batchSize, b++) {
            const idx = tf.tensor1d(order.slice(s, s + batchSize), 'int32');
            const xb = tf.gather(xs, idx), yb = tf.gather(ys, idx);
            idx.dispose();
            try {
              await trainer.beginBatches();
              await trainer.addBatch(xb, yb);
              await epoch(() => trainer.updateBatches(e - initialEpoch + 1, true), async o => {
                stopped = !await reportBatches(model, list, names, o.predictions!, [{yTrue: yb, start: 0}], b, means);
              });
            } finally {
              tf.dispose([xb, yb]);
            }
          }
          await finish();
        }
        if (m.stopTraining_) break;
      }
      await list.onTrainEnd();
      await history.syncData();
      return history;
    } finally {
      disposeNew(owned, [x, y, args.validationData]);
    }
  }
}

/** One element of a dataset as the model's single input and target tensors. */
function datasetElement(model: tfl.LayersModel, value: unknown): {x: tf.Tensor, y: tf.Tensor} {
  const one = (v: unknown, what: string): tf.Tensor => {
    if (v instanceof tf.Tensor) return v;
    if (Array.isArray(v) && v.length === 1 && v[0] instanceof tf.Tensor) return v[0];
    if (v != null && typeof v === 'object' && !Array.isArray(v)) {
      const vals = Object.values(v as Record<string, unknown>);
      if (vals.length === 1 && vals[0] instanceof tf.Tensor) return vals[0] as tf.Tensor;
    }
    throw new ERInputError(`model '${model.name}': fitDataset needs each element's ${what} to be one tensor ` +
                           `(ER trains models with one input and one output)`);
  };
  if (Array.isArray(value) && value.length === 2) return {x: one(value[0], 'xs'), y: one(value[1], 'ys')};
  const v = value as {xs?: unknown, ys?: unknown};
  if (v == null || v.xs == null || v.ys == null) {
    throw new ERInputError('fitDataset: each dataset element must be {xs, ys} or [xs, ys]');
  }
  return {x: one(v.xs, 'xs'), y: one(v.ys, 'ys')};
}

/** `model.fitDataset(dataset, args)` with ER (see the module comment). */
// tslint:disable-next-line:no-any
export async function erFitDataset(model: tfl.LayersModel, trainer: EpochTrainer, update: 'epoch'|'batch',
                                   dataset: any, args: FitDatasetArgs): Promise<tfl.History> {
  if (args == null || !(Number.isInteger(args.epochs) && args.epochs > 0)) {
    throw new ERInputError(`fitDataset: config.epochs must be a positive integer, got ${args?.epochs}`);
  }
  if (args.classWeight != null) {
    throw new ERInputError('fitDataset: ER does not use classWeight (it solves for the targets exactly)');
  }
  if ((args as {validationSplit?: number}).validationSplit != null) {
    throw new Error('`validationSplit` is not supported by `fitDataset()`. Use validationData instead.');
  }
  const m = internals(model);
  return training(model, trainer, async () => {
    const names = metricNames(model);
    const hasPerEpoch = args.batchesPerEpoch != null;
    const doValidation = args.validationData != null;
    const {list, history} = callbackList(model, args.callbacks, args.yieldEvery, {
      epochs: args.epochs, initialEpoch: args.initialEpoch ?? 0, samples: null, steps: args.batchesPerEpoch ?? null,
      batchSize: null, verbose: args.verbose ?? 1, doValidation,
      metrics: doValidation ? [...names, ...names.map(n => `val_${n}`)] : names,
    });
    m.history = history;
    m.stopTraining_ = false;
    await list.onTrainBegin();
    let iterator = await dataset.iterator();
    for (let e = args.initialEpoch ?? 0; e < args.epochs; e++) {
      await list.onEpochBegin(e);
      await tf.nextFrame();
      if (!hasPerEpoch) iterator = await dataset.iterator();
      const means = new EpochMeans();
      const kept: Array<{yTrue: tf.Tensor, start: number}> = [];
      let rows = 0, steps = 0, stopped = false;
      const epochNumber = e - (args.initialEpoch ?? 0) + 1;
      try {
        await trainer.beginBatches();
        while (!hasPerEpoch || steps < args.batchesPerEpoch!) {
          const next = await iterator.next();
          if (next.done) {
            if (hasPerEpoch) {
              console.warn(`You provided \`batchesPerEpoch\` as ${args.batchesPerEpoch}, but your dataset ` +
                           `iterator ran out of data after ${steps} batches; interrupting training.`);
            }
            break;
          }
          const {x, y} = datasetElement(model, next.value);
          try {
            if (update === 'epoch') {
              await trainer.addBatch(x, y);
              kept.push({yTrue: tf.keep(tf.clone(y)), start: rows});
            } else {
              await trainer.beginBatches();
              await trainer.addBatch(x, y);
              const yTrue = y;
              await epoch(() => trainer.updateBatches(epochNumber, true), async o => {
                stopped = !await reportBatches(model, list, names, o.predictions!, [{yTrue, start: 0}], steps, means);
              });
            }
          } finally {
            tf.dispose([x, y]);
          }
          rows += x.shape[0];
          steps++;
          if (stopped) break;
        }
        const finish = async () => {
          const epochLogs: Logs = means.logs();
          if (doValidation) {
            Object.assign(epochLogs, await validate(names, async () => {
              const vd = args.validationData as unknown;
              if (vd != null && typeof (vd as {iterator?: unknown}).iterator === 'function') {
                // tslint:disable-next-line:no-any
                return await model.evaluateDataset(vd as any, {batches: args.validationBatches}) as tf.Scalar[];
              }
              const [vx, vy] = vd as [tf.Tensor, tf.Tensor];
              return model.evaluate(vx, vy, {batchSize: args.validationBatchSize ?? 32, verbose: 0}) as tf.Scalar[];
            }));
          }
          await list.onEpochEnd(e, epochLogs);
        };
        if (update === 'epoch' && rows > 0) {
          await epoch(() => trainer.updateBatches(epochNumber, true), async o => {
            await reportBatches(model, list, names, o.predictions!, kept, 0, means);
            await finish();
          });
        } else {
          await finish();
        }
      } finally {
        tf.dispose(kept.map(k => k.yTrue));
      }
      if (m.stopTraining_) break;
    }
    await list.onTrainEnd();
    await history.syncData();
    return history;
  });
}

/** `model.trainOnBatch(x, y)` with ER: one update from this batch alone; returns its loss (and metrics) before it. */
export async function erTrainOnBatch(model: tfl.LayersModel, trainer: EpochTrainer, x: unknown, y: unknown):
    Promise<number|number[]> {
  return training(model, trainer, async () => {
    const [inputs, targets] = await internals(model).standardizeUserData(x, y) as tf.Tensor[][];
    try {
      if (inputs.length !== 1 || targets.length !== 1) {
        throw new ERInputError(`model '${model.name}': ER trains models with one input and one output`);
      }
      await trainer.beginBatches();
      await trainer.addBatch(inputs[0], targets[0]);
      let values: number[] = [];
      await epoch(() => trainer.updateBatches(1, true), async o => {
        const outShape = model.outputs[0].shape.slice(1) as number[];
        const pred = tf.tensor(o.predictions!, [inputs[0].shape[0], ...outShape]);
        try {
          values = evaluateBatch(model, targets[0], pred);
        } finally {
          pred.dispose();
        }
      });
      return values.length === 1 ? values[0] : values;
    } finally {
      disposeNew([...inputs, ...targets], [x, y]);
    }
  });
}
