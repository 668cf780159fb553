/**
 * The `er()` optimizer: a `tf.Optimizer` that trains a compiled model by
 * Expectation Reflection. `fit`, `fitDataset` and `trainOnBatch` on a model
 * compiled with it run one exact update per epoch (by default) by solving
 * every layer's weights; no gradients, no learning rate.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {ERInputError, ERMode, SweepReport} from '../engine/index';
import {ERExecutor} from '../executors/executor';
import {ERController} from '../training/controller';
import {ERHeadController, headOf} from '../training/head_controller';
import {installModelHooks} from '../training/model_hooks';
import {bind, unbind} from '../training/registry';
import {EpochTrainer} from '../training/trainer';

/** When updates are applied. */
export type ERUpdateSchedule = 'epoch'|'batch';

/** Options of {@link er}. None is a learning rate: ER has none. */
export interface ERConfig {
  /**
   * Dimensionless ridge α of every solve: λ = α·trace(cov a)/d. Default 1e-3.
   * 'auto' picks α for each solve by generalised cross-validation from the
   * ridge statistics (no held-out data), at the cost of extra d×d
   * factorisations per solve: worth it for heads and small layers, slow for
   * wide MLPs.
   */
  alpha?: number|'auto';
  /** Damping β of the pre-image through each layer: μ = β·trace(WᵀW)/q. Default 0.1. */
  beta?: number;
  /**
   * 'er' (default): plain ER. 'erls': ER with the automatic step search on
   * the hidden layers (no knob; usually reaches a given accuracy in fewer updates).
   */
  mode?: ERMode;
  /**
   * 'epoch' (default): one exact full-batch update per epoch, statistics
   * streamed over the epoch's batches. 'batch': one update per batch, from that
   * batch alone (for streaming data; use large batches).
   */
  update?: ERUpdateSchedule;
  /** Re-solve the output layer on the new hidden features in each update. Default true. */
  refresh?: boolean;
  /** Rows in each of the two subsamples the 'erls' step search uses. Default 10000. */
  searchRows?: number;
  /**
   * How 'erls' judges a step: 'refit' (default) by the read-out the update's
   * refresh would solve for it (fitted on one subsample, scored on another);
   * 'held' with the output layer held at its first solve (tfjs-er 0.1's rule).
   */
  stepSearch?: 'refit'|'held';
  /**
   * Megabytes of the first pass's forwards that each update keeps for its
   * later passes, over all shards (split evenly), in networks with two or
   * more trained hidden layers; chunks beyond it are recomputed, with the
   * same weights. 0 turns it off. Default 512.
   */
  forwardCacheMB?: number;
  /** Print recovered numerical trouble (e.g. a singular Gram) with console.warn. Default true. */
  verbose?: boolean;
  /**
   * Where the passes of each update run: in this thread (default), or on
   * worker threads (`threadPool()` from `tfjs-er/node`), Web Workers
   * (`webWorkerPool()`), or worker processes (`redisExecutor()` from
   * `tfjs-er/node`). Any executor gives the same weights; the caller closes it.
   */
  executor?: ERExecutor;
}

type FullConfig = Required<Omit<ERConfig, 'executor'>> & {executor?: ERExecutor};
const ER_BRAND = '__tfjsErOptimizer';
/** A named tensor as tfjs optimizers save them (not exported by tfjs-core). */
type NamedTensor = {name: string, tensor: tf.Tensor};

const DEFAULTS: FullConfig = {
  alpha: 1e-3, beta: 0.1, mode: 'er', update: 'epoch', refresh: true, searchRows: 10000, stepSearch: 'refit',
  forwardCacheMB: 512, verbose: true, executor: undefined,
};

function validate(config: ERConfig): FullConfig {
  const known = Object.keys(DEFAULTS);
  for (const k of Object.keys(config)) {
    if (!known.includes(k)) {
      const hint = /learning|lr|rate|momentum|beta1|beta2|epsilon/i.test(k) ?
          ' (ER has no learning rate or momentum)' : '';
      throw new ERInputError(`er(): unknown option '${k}'${hint}; known options: ${known.join(', ')}`);
    }
  }
  const c = {...DEFAULTS, ...config} as FullConfig;
  const num = (name: keyof FullConfig, min: number, integer = false) => {
    const v = c[name] as number;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
      throw new ERInputError(`er(): option ${name} must be a finite ${integer ? 'integer' : 'number'} >= ${min}, ` +
                             `got ${JSON.stringify(v)}`);
    }
  };
  if (c.alpha !== 'auto') num('alpha', 0);
  num('beta', 0);
  num('searchRows', 1, true);
  num('forwardCacheMB', 0);
  for (const name of ['verbose', 'refresh'] as const) {
    if (typeof c[name] !== 'boolean') {
      throw new ERInputError(`er(): option ${name} must be true or false, got ${JSON.stringify(c[name])}`);
    }
  }
  const ex = c.executor as unknown as {open?: unknown, close?: unknown}|undefined;
  if (ex != null && (typeof ex.open !== 'function' || typeof ex.close !== 'function')) {
    throw new ERInputError('er(): option executor must be an executor (threadPool(), webWorkerPool(), ' +
                           'redisExecutor() or inProcess())');
  }
  if (c.mode !== 'er' && c.mode !== 'erls') {
    throw new ERInputError(`er(): option mode must be 'er' or 'erls', got '${c.mode}'`);
  }
  if (c.stepSearch !== 'refit' && c.stepSearch !== 'held') {
    throw new ERInputError(`er(): option stepSearch must be 'refit' or 'held', got '${c.stepSearch}'`);
  }
  if (c.update !== 'epoch' && c.update !== 'batch') {
    throw new ERInputError(`er(): option update must be 'epoch' or 'batch', got '${c.update}'`);
  }
  return c;
}

/**
 * Expectation Reflection as a tfjs optimizer. Create it with {@link er}.
 *
 * ```ts
 * model.compile({optimizer: er(), loss: 'categoricalCrossentropy', metrics: ['accuracy']});
 * await model.fit(xs, ys, {epochs: 3, batchSize: 512});
 * ```
 */
export class ExpectationReflection extends tf.Optimizer {
  // @nocollapse
  static className = 'ExpectationReflection';

  /**
   * tf.Optimizer's own `instanceof` is duck-typed (any optimizer matches);
   * an ER optimizer is recognised by its brand instead.
   */
  static [Symbol.hasInstance](instance: unknown): boolean {
    return instance != null && (instance as Record<string, unknown>)[ER_BRAND] === true;
  }
  /** The options in force (defaults filled in). */
  readonly config: Readonly<FullConfig>;
  private controller: EpochTrainer|null = null;
  private model: tfl.LayersModel|null = null;
  private restoredUpdates = 0;
  /** Tensors handed to the last `getWeights` (tfjs's save does not dispose them). */
  private saved: tf.Tensor[] = [];

  constructor(config: ERConfig = {}) {
    super();
    this.config = validate(config);
  }

  /** ER updates applied so far (one per epoch by default). */
  get updates(): number {
    return this.controller?.updates ?? this.restoredUpdates;
  }

  /** Steps taken: for ER, the updates applied. */
  get iterations(): number {
    return this.updates;
  }

  /** What the last update did: passes, seconds per phase, ridge used, warnings. */
  get lastReport(): SweepReport|null {
    return this.controller?.lastReport ?? null;
  }

  /**
   * Called by `model.compile` (tfjs-er hooks it): binds this optimizer to the
   * model, checking the loss and the layers. Throws a clear error if ER cannot
   * train the model.
   */
  bindModel(model: tfl.LayersModel): void {
    if (this.model != null && this.model !== model) unbind(this.model, this.controller ?? undefined);
    this.controller?.dispose();
    this.controller = null;
    const head = headOf(model);
    const controller = head != null ?
        new ERHeadController(model, head, {verbose: this.config.verbose}) :
        new ERController(model, {...this.config});
    controller.updates = this.restoredUpdates;
    this.controller = controller;
    this.model = model;
    bind(model, {trainer: controller, update: head != null ? 'epoch' : this.config.update});
  }

  /** ER does not take gradient steps: train with `model.fit`, `fitDataset` or `trainOnBatch`. */
  minimize(_f: () => tf.Scalar, _returnCost = false, _varList?: tf.Variable[]): tf.Scalar|null {
    throw new Error(
        'ExpectationReflection does not take gradient steps: compile a model with it (after importing ' +
        'tfjs-er) and train with model.fit, fitDataset or trainOnBatch');
  }

  /** ER does not use gradients. */
  computeGradients(): never {
    throw new Error('ExpectationReflection does not compute gradients: weights are solved');
  }

  /** ER does not use gradients. */
  applyGradients(): never {
    throw new Error(
        'ExpectationReflection does not apply gradients: weights are solved by ' +
        'model.fit / fitDataset / trainOnBatch');
  }

  /**
   * Saved with the model (`includeOptimizer`): iterations and updates. tfjs's
   * save does not dispose what this returns, so the tensors are kept here and
   * released by the next call or by {@link dispose}.
   */
  async getWeights(): Promise<NamedTensor[]> {
    tf.dispose(this.saved);
    const weights = [{name: 'iter', tensor: tf.scalar(this.updates, 'int32')},
                     {name: 'er_updates', tensor: tf.scalar(this.updates, 'int32')}];
    this.saved = weights.map(w => w.tensor);
    return weights;
  }

  /** Restores {@link getWeights}' state. */
  async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    const u = rest.find(w => w.name === 'er_updates');
    if (u != null) {
      this.restoredUpdates = (await u.tensor.data())[0];
      if (this.controller) this.controller.updates = this.restoredUpdates;
    }
  }

  /** The serialisable options (the executor is not saved: it belongs to the process). */
  getConfig(): tf.serialization.ConfigDict {
    const {executor: _executor, ...rest} = this.config;
    return {...rest};
  }

  // @nocollapse
  static fromConfig<T extends tf.serialization.Serializable>(
      cls: tf.serialization.SerializableConstructor<T>,
      config: tf.serialization.ConfigDict): T {
    // tfjs-layers adds its own keys (customObjects) when deserialising: keep ours.
    const own: tf.serialization.ConfigDict = {};
    for (const k of Object.keys(DEFAULTS)) if (k in config) own[k] = config[k];
    return new cls(own);
  }

  /** Releases the statistics and cached data (not the executor: the caller closes it). */
  dispose(): void {
    if (this.model != null) unbind(this.model, this.controller ?? undefined);
    this.controller?.dispose();
    this.controller = null;
    this.model = null;
    tf.dispose(this.saved);
    this.saved = [];
    super.dispose();
  }
}
Object.defineProperty(ExpectationReflection.prototype, ER_BRAND, {value: true});
tf.serialization.registerClass(ExpectationReflection);

/**
 * Creates an Expectation Reflection optimizer for `model.compile`.
 *
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import {er, erLayers} from 'tfjs-er';
 *
 * const model = tf.sequential({layers: [
 *   erLayers.dense({inputShape: [784], units: 1000, activation: 'relu'}),
 *   erLayers.dense({units: 10, activation: 'softmax'}),
 * ]});
 * model.compile({optimizer: er(), loss: 'categoricalCrossentropy', metrics: ['accuracy']});
 * await model.fit(xs, ys, {epochs: 3, batchSize: 512, validationData: [xv, yv]});
 * ```
 */
export function er(config: ERConfig = {}): ExpectationReflection {
  return new ExpectationReflection(config);
}

installModelHooks((o): o is ExpectationReflection => o instanceof ExpectationReflection);
