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
import {ERInputError, gatherRows, rowRange} from '../engine/index';
import {callbackList, disposeNew, epoch, EpochMeans, evaluateBatch, FitArgs, internals, Logs, metricNames, reportBatches,
        training, validate} from './fit_common';
import {EpochTrainer} from './trainer';

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
        val = {x: rowRange(xs, split, n - split), y: rowRange(ys, split, n - split)};
        xs = rowRange(xs, 0, split);
        ys = rowRange(ys, 0, split);
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
              batches.push({yTrue: rowRange(ys, s, Math.min(batchSize, rows - s)), start: s});
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
            const xb = gatherRows(xs, idx), yb = gatherRows(ys, idx);
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
