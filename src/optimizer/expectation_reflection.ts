/**
 * The `er()` optimizer: a `tf.Optimizer` whose `minimize` does not take a
 * gradient step but streams the batch into an Expectation Reflection update,
 * applied at the end of each epoch (by default) by solving every layer's
 * weights. No learning rate.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {ERInputError} from '../engine/errors';
import {ERMode, SweepReport} from '../engine/sweep';
import {ERController, ERUpdateSchedule} from '../training/controller';
import {ERHeadController, headOf} from '../training/head_controller';
import {controllerOf, TrainingController} from '../training/registry';
import {registerFitHooks} from '../training/fit_callback';

/** Options of {@link er}. None is a learning rate: ER has none. */
export interface ERConfig {
  /**
   * Dimensionless ridge α of every solve: λ = α·trace(cov a)/d. Default 1e-3.
   * 'auto' picks α for each solve by generalised cross-validation from the
   * ridge statistics (no held-out data), at the cost of 11 extra d×d
   * factorisations per solve: worth it for heads and small layers; slow for
   * wide MLPs (measured: 784-1000-10 on 100 MNIST rows with the few-shot
   * bench's settings, 129 s of training against 2–3 s with a fixed α, on a
   * loaded machine).
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
  /** Rows the 'erls' step search evaluates. Default 10000. */
  searchRows?: number;
  /** Print recovered numerical trouble (e.g. a singular Gram) with console.warn. Default true. */
  verbose?: boolean;
}

type FullConfig = Required<ERConfig>;
const ER_BRAND = '__tfjsErOptimizer';
/** A named tensor as tfjs optimizers save them (not exported by tfjs-core). */
type NamedTensor = {name: string, tensor: tf.Tensor};

const DEFAULTS: FullConfig = {
  alpha: 1e-3, beta: 0.1, mode: 'er', update: 'epoch', refresh: true, searchRows: 10000,
  verbose: true,
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
  const num = (name: keyof FullConfig, min: number) => {
    const v = c[name] as number;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
      throw new ERInputError(`er(): option ${name} must be a finite number >= ${min}, got ${v}`);
    }
  };
  if (c.alpha !== 'auto') num('alpha', 0);
  num('beta', 0);
  num('searchRows', 1);
  if (c.mode !== 'er' && c.mode !== 'erls') {
    throw new ERInputError(`er(): option mode must be 'er' or 'erls', got '${c.mode}'`);
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
  /** @nocollapse */
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
  private controller: TrainingController|null = null;
  private restoredUpdates = 0;

  constructor(config: ERConfig = {}) {
    super();
    this.config = validate(config);
    registerFitHooks();
  }

  /** ER updates applied so far (one per epoch by default). */
  get updates(): number {
    return this.controller?.updates ?? this.restoredUpdates;
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
    this.controller?.dispose();
    this.controller = null;
    const head = headOf(model);
    this.controller = head != null ?
        new ERHeadController(model, head, {verbose: this.config.verbose}) :
        new ERController(model, {...this.config});
    this.controller.updates = this.restoredUpdates;
  }

  /**
   * Runs the training step `f` (the model's loss) once, recording the batch's
   * inputs and targets; updates weights by solving, never by gradients.
   */
  minimize(f: () => tf.Scalar, returnCost = false, _varList?: tf.Variable[]): tf.Scalar|null {
    if (this.controller == null) {
      throw new Error(
          'ExpectationReflection is not bound to a model: pass it to model.compile() ' +
          '(after importing tfjs-er) and train with fit, fitDataset or trainOnBatch');
    }
    const cost = this.controller.minimize(f, returnCost);
    this.incrementIterations();
    return cost;
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

  /** Saved with the model (`includeOptimizer`): iterations and updates. */
  async getWeights(): Promise<NamedTensor[]> {
    return [await this.saveIterations(),
            {name: 'er_updates', tensor: tf.scalar(this.updates, 'int32')}];
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

  getConfig(): tf.serialization.ConfigDict {
    return {...this.config};
  }

  /** @nocollapse */
  static fromConfig<T extends tf.serialization.Serializable>(
      cls: tf.serialization.SerializableConstructor<T>,
      config: tf.serialization.ConfigDict): T {
    // tfjs-layers adds its own keys (customObjects) when deserialising: keep ours.
    const own: tf.serialization.ConfigDict = {};
    for (const k of Object.keys(DEFAULTS)) if (k in config) own[k] = config[k];
    return new cls(own);
  }

  /** Releases the statistics and cached data. */
  dispose(): void {
    this.controller?.dispose();
    this.controller = null;
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

/**
 * Two small hooks on LayersModel, installed once; both do nothing unless the
 * model is compiled with an ER optimizer:
 * - compile: binds the optimizer to the model (checks the loss and layers);
 * - fit: lets ER read the training tensors again for the extra passes of an
 *   update, so it keeps nothing of size N.
 */
function installModelHooks() {
  // tslint:disable-next-line:no-any
  const proto = tfl.LayersModel.prototype as any;
  if (proto.__tfjsErHooks) return;
  const compile = proto.compile;
  proto.compile = function(this: tfl.LayersModel, args: tfl.ModelCompileArgs) {
    compile.call(this, args);
    if (this.optimizer instanceof ExpectationReflection) this.optimizer.bindModel(this);
  };
  const fit = proto.fit;
  proto.fit = async function(this: tfl.LayersModel, x: unknown, y: unknown, args?: tfl.ModelFitArgs) {
    const controller = controllerOf(this);
    controller?.setFitData(x, y, args);
    try {
      return await fit.call(this, x, y, args);
    } finally {
      controller?.clearFitData();
    }
  };
  proto.__tfjsErHooks = true;
}
installModelHooks();
