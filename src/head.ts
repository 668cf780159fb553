/**
 * `erHead(base, {classes})`: a dense ER-trained classifier head on top of a
 * frozen tfjs model — the everyday "teach my model new classes from a few
 * examples" case — and `extendERHead` to add classes later without the old
 * examples.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import {ERInputError} from './engine/errors';
import {disposeRidgeState, RidgeAccumulator} from './engine/ridge';
import {ERHead} from './layers/er_head';
import {er, ERConfig} from './optimizer/expectation_reflection';
import {headOf, solveHead, StatsHead} from './training/head_controller';

/** Options of {@link erHead}. */
export interface ERHeadConfig {
  /** Number of classes the head predicts (integer ≥ 1). */
  classes: number;
  /**
   * The layer of `base` whose output is the features: a layer name or an
   * index into `base.layers`. Default: the input of `base`'s output layer
   * (for a classifier, the penultimate layer's output).
   */
  layer?: string|number;
  /**
   * How features with spatial dimensions (a conv feature map `[h, w, c]` or
   * a sequence `[t, c]`) become a vector: 'flatten' (default; `h·w·c`
   * features), or 'average' / 'max' over the spatial positions (`c`
   * features: the global pooling of a backbone's feature map, far narrower
   * and usually better for transfer).
   */
  pooling?: 'flatten'|'average'|'max';
  /** Class names, one per class (saved with the model). */
  labels?: string[];
  /** 'softmax' (default: one class per example) or 'sigmoid' (multi-label). */
  activation?: 'softmax'|'sigmoid';
  /**
   * Compile the returned model with `er()` and this loss (default
   * 'categoricalCrossentropy'; 'sparseCategoricalCrossentropy' takes integer
   * labels). Pass `compile: false` to compile it yourself.
   */
  loss?: 'categoricalCrossentropy'|'sparseCategoricalCrossentropy'|'binaryCrossentropy';
  /** Compile the returned model (default true). */
  compile?: boolean;
  /**
   * The head's ridge: 'auto' (default) picks α by generalised cross-validation
   * on every solve, from the stored statistics; or a fixed α ≥ 0.
   */
  alpha?: number|'auto';
  /** Options of the `er()` optimizer it is compiled with (`verbose`; the ridge is `alpha` above). */
  optimizer?: ERConfig;
  /** Name of the head layer (default 'er_head'). */
  name?: string;
  /**
   * A fixed random ReLU projection of the features before the head (RanPAC):
   * `relu(features · R)` with R `[d, units]` drawn once from N(0, 1/d) with
   * `seed` and never trained (saved with the model). It gives the linear head
   * nonlinear features; the head's statistics grow to `units² + units·classes`
   * floats (units = 2048: 16 MB) and each solve costs O(units³). Default none.
   */
  projection?: ERHeadProjection;
}

/** The random projection of {@link ERHeadConfig.projection}. */
export interface ERHeadProjection {
  /** Width of the projected features (integer ≥ 1). */
  units: number;
  /** Seed of the random matrix (default 1). */
  seed?: number;
}

/** The frozen random ReLU projection layer (a plain tfjs dense layer, so it saves and loads as one). */
function projectionLayer(p: ERHeadProjection, d: number, headName: string): tfl.layers.Layer {
  if (p == null || !(Number.isInteger(p.units) && p.units >= 1)) {
    throw new ERInputError(`erHead: projection.units must be an integer >= 1, got ${p?.units}`);
  }
  const seed = p.seed ?? 1;
  if (!Number.isFinite(seed)) throw new ERInputError(`erHead: projection.seed must be a finite number, got ${seed}`);
  return tfl.layers.dense({
    units: p.units, activation: 'relu', useBias: false, trainable: false, name: `${headName}_projection`,
    kernelInitializer: tfl.initializers.randomNormal({mean: 0, stddev: 1 / Math.sqrt(d), seed}),
  });
}

/** The layer that makes `rank`-dimensional features (rank > 2) a vector per example, as `pooling` says. */
function poolingLayer(mode: NonNullable<ERHeadConfig['pooling']>, rank: number, headName: string): tfl.layers.Layer {
  if (mode === 'flatten') return tfl.layers.flatten();
  if (rank !== 3 && rank !== 4) {
    throw new ERInputError(`erHead: pooling '${mode}' takes features of rank 3 or 4 (a sequence or an image ` +
                           `feature map); these have rank ${rank}: use pooling 'flatten'`);
  }
  const config = {name: `${headName}_pooling`};
  if (rank === 3) return mode === 'average' ? tfl.layers.globalAveragePooling1d(config) : tfl.layers.globalMaxPooling1d(config);
  return mode === 'average' ? tfl.layers.globalAveragePooling2d(config) : tfl.layers.globalMaxPooling2d(config);
}

function featureTensor(base: tfl.LayersModel, layer: string|number|undefined): tfl.SymbolicTensor {
  if (layer != null) {
    let l: tfl.layers.Layer;
    try {
      l = typeof layer === 'number' ? base.getLayer(layer) : base.getLayer(layer);
    } catch (e) {
      throw new ERInputError(
          `erHead: model '${base.name}' has no layer ${JSON.stringify(layer)}; its layers are ` +
          `${base.layers.map(x => `'${x.name}'`).join(', ')}`);
    }
    const out = l.output;
    if (Array.isArray(out)) {
      throw new ERInputError(`erHead: layer '${l.name}' has several outputs; choose a layer with one`);
    }
    return out;
  }
  if (base.outputs.length !== 1) {
    throw new ERInputError(
        `erHead: model '${base.name}' has ${base.outputs.length} outputs; pass {layer} to choose the features`);
  }
  const outLayer = base.outputs[0].sourceLayer as tfl.layers.Layer;
  const inputs = outLayer.inboundNodes[base.outputs[0].nodeIndex]?.inputTensors ?? [];
  // The output layer's input, unless the output layer is the model's input itself.
  return inputs.length === 1 ? inputs[0] : base.outputs[0];
}

function compileHead(model: tfl.LayersModel, config: ERHeadConfig) {
  if (config.compile === false) return;
  model.compile({optimizer: er(config.optimizer), loss: config.loss ?? 'categoricalCrossentropy',
                 metrics: ['accuracy']});
}

/**
 * Puts a dense ER head on a frozen model and returns the new model (sharing
 * `base`'s layers, which are set to `trainable = false`). `fit` trains the
 * head in one exact solve; later `fit` / `trainOnBatch` calls add their
 * examples to the head's stored statistics and re-solve, without revisiting
 * earlier examples. The model saves and loads (`model.save`,
 * `tf.loadLayersModel`) with those statistics. Each `fit` call counts its
 * examples once, however many epochs it runs: do not fit the same examples twice.
 *
 * ```ts
 * const base = await tf.loadLayersModel('https://…/mnist/model.json');
 * const head = erHead(base, {classes: 3, labels: ['α', 'β', 'γ']});
 * await head.fit(xs, ysOneHot, {epochs: 1});        // one solve
 * const probs = head.predict(newXs) as tf.Tensor;
 * const bigger = extendERHead(head, {classes: 4});  // a 4th class, old examples kept
 * await bigger.fit(xsOfClass3, ysOfClass3);
 * ```
 */
export function erHead(base: tfl.LayersModel, config: ERHeadConfig): tfl.LayersModel {
  if (base == null || !(base instanceof tfl.LayersModel)) {
    throw new ERInputError('erHead: base must be a tf.LayersModel (tf.sequential, tf.model or loaded)');
  }
  if (config == null) throw new ERInputError('erHead: pass {classes}');
  const pooling = config.pooling ?? 'flatten';
  if (pooling !== 'flatten' && pooling !== 'average' && pooling !== 'max') {
    throw new ERInputError(`erHead: pooling must be 'flatten', 'average' or 'max', got ${JSON.stringify(config.pooling)}`);
  }
  const name = config.name ?? 'er_head';
  const mapped = featureTensor(base, config.layer);
  let features = mapped.shape.length > 2 ?
      poolingLayer(pooling, mapped.shape.length, name).apply(mapped) as tfl.SymbolicTensor : mapped;
  if (config.projection != null) {
    const d = features.shape[features.shape.length - 1];
    if (d == null) throw new ERInputError(`erHead: the features' width is unknown ([${features.shape}]); give the base a fixed input shape`);
    features = projectionLayer(config.projection, d, name).apply(features) as tfl.SymbolicTensor;
  }
  const head = new ERHead({classes: config.classes, activation: config.activation, alpha: config.alpha,
                           labels: config.labels, name});
  const output = head.apply(features) as tfl.SymbolicTensor;
  const model = tfl.model({inputs: base.inputs, outputs: output});
  for (const l of model.layers) if (l !== head) l.trainable = false;
  compileHead(model, config);
  return model;
}

/** Options of {@link extendERHead}. */
export interface ExtendERHeadConfig extends Omit<ERHeadConfig, 'layer'|'pooling'|'activation'|'alpha'|'projection'> {}

/**
 * A new model whose head has more classes: the old head's statistics carry
 * over (every earlier example counts as "not" each new class), so examples
 * of the new classes are all that is needed. The new head is solved at once;
 * the old model is left unchanged.
 *
 * ```ts
 * const bigger = extendERHead(head, {classes: 4, labels: ['α', 'β', 'γ', 'δ']});
 * await bigger.fit(xsOfDelta, ysOfDelta);
 * ```
 */
export function extendERHead(model: tfl.LayersModel, config: ExtendERHeadConfig): tfl.LayersModel {
  const old = headOf(model);
  if (old == null || !(old instanceof ERHead)) {
    throw new ERInputError(
        `extendERHead: model '${model?.name}' does not end in an ER head; build it with erHead()`);
  }
  const extra = config.classes - old.classes;
  if (!Number.isInteger(config.classes) || extra < 1) {
    throw new ERInputError(
        `extendERHead: the head '${old.name}' has ${old.classes} classes; classes must be a ` +
        `larger integer, got ${config.classes}`);
  }
  const labels = config.labels ?? (old.labels ? [...old.labels, ...Array.from(
      {length: extra}, (_, i) => `class ${old.classes + i}`)] : undefined);
  const head = new ERHead({classes: config.classes, activation: old.activation, alpha: old.alpha, labels,
                           name: config.name ?? old.name});
  const features = old.input as tfl.SymbolicTensor;
  const output = head.apply(features) as tfl.SymbolicTensor;
  const grown = tfl.model({inputs: model.inputs, outputs: output});
  for (const l of grown.layers) if (l !== head) l.trainable = false;
  transferStatistics(old, head, extra);
  const lossName = typeof model.loss === 'string' ? model.loss : undefined;
  compileHead(grown, {...config, loss: config.loss ?? (lossName as ERHeadConfig['loss'])});
  return grown;
}

/** Copies `from`'s statistics into `to` with `extra` new "never seen" classes, and solves `to`. */
function transferStatistics(from: StatsHead, to: StatsHead, extra: number) {
  const state = from.readStatistics();
  let acc: RidgeAccumulator|null = null, grown: RidgeAccumulator|null = null;
  try {
    acc = RidgeAccumulator.fromState(state, `ER head '${to.name}'`);
    grown = acc.withExtraTargets(extra, -2);
    if (state.count > 0) solveHead(to, grown);
    const next = grown.exportState();
    try {
      to.writeStatistics(next);
    } finally {
      disposeRidgeState(next);
    }
  } finally {
    acc?.dispose();
    grown?.dispose();
    disposeRidgeState(state);
  }
}
