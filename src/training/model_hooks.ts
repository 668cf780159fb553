/**
 * Hooks on `tf.LayersModel`, installed once when tfjs-er is imported. They
 * do nothing unless the model is compiled with an ER optimizer:
 * - `compile`: lets the optimizer bind a trainer to the model (checking its
 *   loss and layers), and disposes the trainer of an earlier compile;
 * - `fit`, `fitDataset`, `trainOnBatch`: run ER's own loops (`fit_loop.ts`)
 *   instead of tfjs's gradient steps.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import {erFitDataset} from './fit_dataset';
import {erFit, erTrainOnBatch} from './fit_loop';
import {bindingOf, unbind} from './registry';

/** Implemented by the ER optimizer: binds itself to a model at compile time. */
export interface ModelBinder {
  bindModel(model: tfl.LayersModel): void;
}

const INSTALLED = '__tfjsErHooks';

/** Installs the hooks (idempotent); `isER` recognises an ER optimizer. */
export function installModelHooks(isER: (optimizer: unknown) => optimizer is ModelBinder): void {
  // tslint:disable-next-line:no-any
  const proto = tfl.LayersModel.prototype as any;
  if (proto[INSTALLED]) return;
  const {compile, fit, fitDataset, trainOnBatch} = proto;
  proto.compile = function(this: tfl.LayersModel, args: tfl.ModelCompileArgs) {
    compile.call(this, args);
    if (isER(this.optimizer)) this.optimizer.bindModel(this);
    else unbind(this);
  };
  proto.fit = function(this: tfl.LayersModel, x: unknown, y: unknown, args?: tfl.ModelFitArgs) {
    const b = isER(this.optimizer) ? bindingOf(this) : undefined;
    return b != null ? erFit(this, b.trainer, b.update, x, y, args) : fit.call(this, x, y, args);
  };
  // tslint:disable-next-line:no-any
  proto.fitDataset = function(this: tfl.LayersModel, dataset: any, args: tfl.ModelFitDatasetArgs<unknown>) {
    const b = isER(this.optimizer) ? bindingOf(this) : undefined;
    return b != null ? erFitDataset(this, b.trainer, b.update, dataset, args) : fitDataset.call(this, dataset, args);
  };
  proto.trainOnBatch = function(this: tfl.LayersModel, x: unknown, y: unknown) {
    const b = isER(this.optimizer) ? bindingOf(this) : undefined;
    return b != null ? erTrainOnBatch(this, b.trainer, x, y) : trainOnBatch.call(this, x, y);
  };
  Object.defineProperty(proto, INSTALLED, {value: true});
}
