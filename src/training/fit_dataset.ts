/**
 * `fitDataset` for a model compiled with `er()` (see `fit_loop.ts`): an
 * epoch walks the dataset once, its batches are added to the update's rows,
 * then the update runs and the per-batch callbacks report each batch's loss
 * under the weights the update started from.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {ERInputError} from '../engine/index';
import {callbackList, epoch, EpochMeans, FitDatasetArgs, internals, Logs, metricNames, reportBatches, training,
        validate} from './fit_common';
import {EpochTrainer} from './trainer';

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
