/**
 * Finds, in a tfjs LayersModel, the part ER trains: a chain of dense and
 * conv2d layers (with pooling and flatten between them) ending at the model's
 * single output. Layers before the chain's first trainable layer form a
 * frozen feature extractor and may be anything; inside the chain, only layers
 * ER can solve or pass targets through are allowed.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import {ERActivation, toERActivation} from '../engine/activations';
import {ERInputError} from '../engine/errors';
import {ConvGeometry} from '../engine/conv';
import {DenseState, NetworkUnit, UnitWeights} from '../engine/units';
import * as tf from '@tensorflow/tfjs-core';

type Layer = tfl.layers.Layer;
type LayerVariable = tfl.LayerVariable;

/** Dense layer classes ER solves. */
const DENSE = ['Dense', 'ERDense'];
/** Convolution layer classes ER solves. */
const CONV = ['Conv2D', 'ERConv2D'];
/** Pooling layers targets are routed through. */
const POOL: Record<string, 'maxPool'|'avgPool'> = {MaxPooling2D: 'maxPool', AveragePooling2D: 'avgPool'};
/** Layers that are the identity at inference: targets pass straight through. */
const IDENTITY = ['Dropout', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'SpatialDropout1D',
                  'SpatialDropout2D'];
const SUPPORTED_TEXT =
    `Supported in the trained part: ${DENSE.join(', ')}, ${CONV.join(', ')} (erLayers.dense / ` +
    `erLayers.conv2d or attachER), Activation (${['linear', 'relu', 'tanh', 'sigmoid', 'softmax'].join('/')}), ` +
    `${Object.keys(POOL).join(', ')}, Flatten, ${IDENTITY.join(', ')}. Layers before the first trainable ` +
    `layer may be of any type if they are frozen (layer.trainable = false).`;

/** One layer of the chain whose weights ER solves (dense or conv2d). */
export interface SolvedLayer {
  kind: 'dense'|'conv2d';
  layer: Layer;
  kernel: LayerVariable;
  bias: LayerVariable|null;
  activation: ERActivation;
  /** conv2d: strides and padding. */
  geometry?: ConvGeometry;
}

/** One step of the chain: a solved layer, or a layer targets pass through. */
export type ChainUnit =
    {kind: 'solved', solved: SolvedLayer}|
    {kind: 'maxPool'|'avgPool', layer: Layer, geometry: ConvGeometry}|
    {kind: 'flatten', layer: Layer};

/** The trained part of a model. */
export interface ModelChain {
  /** The first layer of the chain: its input is what ER records. */
  start: Layer;
  /** The layers whose weights ER solves, from input to output. */
  solved: SolvedLayer[];
  /** Every step from `start` to the output (identity layers left out). */
  units: ChainUnit[];
  /** True when the chain has conv2d or pooling layers (trained by the general network sweep). */
  hasConv: boolean;
  /**
   * True when the chain has layers that add noise in training (dropout and
   * the like): then a training step's activations differ from the clean
   * forward pass ER fits.
   */
  noisy: boolean;
  /** The symbolic tensor feeding `start` in this model. */
  startInput: tfl.SymbolicTensor;
  /** True when `startInput` is the model's own (single) input. */
  startIsModelInput: boolean;
}

function className(layer: Layer): string {
  return layer.getClassName();
}

function hasTrainableWeights(layer: Layer): boolean {
  return layer.trainable && layer.trainableWeights.length > 0;
}

function describe(layer: Layer): string {
  return `layer '${layer.name}' (${className(layer)})`;
}

/** The layers on the path from the model's inputs to its single output, in order, with their nodes. */
// tslint:disable-next-line:no-any
function outputPath(model: tfl.LayersModel): {path: Layer[], nodes: any[]} {
  if (model.outputs.length !== 1) {
    throw new ERInputError(
        `model '${model.name}' has ${model.outputs.length} outputs; ER trains single-output models`);
  }
  const path: Layer[] = [];
  // tslint:disable-next-line:no-any
  const nodes: any[] = [];
  let layer = model.outputs[0].sourceLayer as Layer;
  let nodeIndex = model.outputs[0].nodeIndex;
  for (;;) {
    path.push(layer);
    // tslint:disable-next-line:no-any
    const node = (layer as any).inboundNodes[nodeIndex];
    nodes.push(node);
    if (node == null || node.inboundLayers.length !== 1) break;
    layer = node.inboundLayers[0];
    nodeIndex = node.nodeIndices[0];
  }
  return {path: path.reverse(), nodes: nodes.reverse()};
}

/**
 * The dense chain of `model`. Throws, naming the layer and its class, when a
 * layer ER cannot handle has trainable weights, or sits inside the chain.
 */
export function extractChain(model: tfl.LayersModel): ModelChain {
  const {path, nodes} = outputPath(model);
  const startIndex = path.findIndex(hasTrainableWeights);
  const inPath = new Set(path);
  for (const l of model.layers) {
    if (!inPath.has(l) && hasTrainableWeights(l)) {
      throw new ERInputError(
          `${describe(l)} has trainable weights but is not on the single path to the ` +
          `output, so ER cannot train it; set layer.trainable = false. ${SUPPORTED_TEXT}`);
    }
  }
  if (startIndex < 0) {
    throw new ERInputError(
        `model '${model.name}' has no trainable layer on the path to its output: ` +
        `nothing for ER to train`);
  }
  for (const l of path) {
    if (hasTrainableWeights(l) && !DENSE.includes(className(l)) && !CONV.includes(className(l))) {
      throw new ERInputError(`${describe(l)}: ER cannot train this layer type. ${SUPPORTED_TEXT}`);
    }
  }
  const solved: SolvedLayer[] = [];
  const units: ChainUnit[] = [];
  let noisy = false;
  for (const l of path.slice(startIndex)) {
    const cls = className(l);
    // tslint:disable-next-line:no-any
    const cfg = l.getConfig() as any;
    if (DENSE.includes(cls) || CONV.includes(cls)) {
      const [kernel, bias] = l.weights;
      const conv = CONV.includes(cls);
      if (kernel == null || kernel.shape.length !== (conv ? 4 : 2)) {
        throw new ERInputError(`${describe(l)} is not built yet; build or call the model first`);
      }
      const s: SolvedLayer = {kind: conv ? 'conv2d' : 'dense', layer: l, kernel, bias: bias ?? null,
                              activation: toERActivation(cfg.activation, `layer '${l.name}'`)};
      if (conv) s.geometry = convGeometryOf(l, cfg);
      solved.push(s);
      units.push({kind: 'solved', solved: s});
    } else if (cls === 'Activation') {
      const last = units[units.length - 1];
      const act = toERActivation(cfg.activation, `layer '${l.name}'`);
      if (last == null || last.kind !== 'solved' || last.solved.activation !== 'linear') {
        throw new ERInputError(
            `${describe(l)} must directly follow a dense or conv2d layer without activation ` +
            `(ER folds it into that layer). ${SUPPORTED_TEXT}`);
      }
      last.solved.activation = act;
    } else if (POOL[cls] != null) {
      units.push({kind: POOL[cls], layer: l, geometry: poolGeometryOf(l, cfg)});
    } else if (cls === 'Flatten') {
      units.push({kind: 'flatten', layer: l});
    } else if (IDENTITY.includes(cls)) {
      noisy = true;
    } else {
      throw new ERInputError(
          `${describe(l)} sits between trainable layers, and ER cannot pass targets ` +
          `through it. ${SUPPORTED_TEXT}`);
    }
  }
  solved.forEach((d, i) => {
    if (i < solved.length - 1 && d.activation === 'softmax') {
      throw new ERInputError(
          `layer '${d.layer.name}': softmax is only supported on the output layer`);
    }
  });
  const last = units[units.length - 1];
  if (last == null || last.kind !== 'solved') {
    throw new ERInputError(
        `model '${model.name}': the output layer must be a dense or conv2d layer (or an Activation ` +
        `after one) for ER to train it; got ${describe(path[path.length - 1])}`);
  }
  const hasConv = units.some(u => u.kind !== 'flatten' && (u.kind !== 'solved' || u.solved.kind === 'conv2d'));
  const start = path[startIndex];
  const startInput = nodes[startIndex].inputTensors[0] as tfl.SymbolicTensor;
  return {start, solved, units, hasConv, noisy, startInput,
          startIsModelInput: model.inputs.length === 1 && startInput === model.inputs[0]};
}

function pair(v: number|number[]|undefined, fallback: [number, number]): [number, number] {
  if (v == null) return fallback;
  return Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [v, v];
}

// tslint:disable-next-line:no-any
function convGeometryOf(l: Layer, cfg: any): ConvGeometry {
  if (cfg.dataFormat != null && cfg.dataFormat !== 'channelsLast') {
    throw new ERInputError(`${describe(l)}: ER needs dataFormat 'channelsLast' (NHWC), got '${cfg.dataFormat}'`);
  }
  const dilation = pair(cfg.dilationRate, [1, 1]);
  if (dilation[0] !== 1 || dilation[1] !== 1) {
    throw new ERInputError(`${describe(l)}: ER supports dilationRate 1 only, got [${dilation}]`);
  }
  if (cfg.padding !== 'same' && cfg.padding !== 'valid') {
    throw new ERInputError(`${describe(l)}: ER supports padding 'same' or 'valid', got '${cfg.padding}'`);
  }
  const k = pair(cfg.kernelSize, [1, 1]);
  return {kernelSize: k, strides: pair(cfg.strides, [1, 1]), padding: cfg.padding};
}

// tslint:disable-next-line:no-any
function poolGeometryOf(l: Layer, cfg: any): ConvGeometry {
  if (cfg.dataFormat != null && cfg.dataFormat !== 'channelsLast') {
    throw new ERInputError(`${describe(l)}: ER needs dataFormat 'channelsLast' (NHWC), got '${cfg.dataFormat}'`);
  }
  const size = pair(cfg.poolSize, [2, 2]);
  return {kernelSize: size, strides: pair(cfg.strides, size), padding: cfg.padding === 'same' ? 'same' : 'valid'};
}

/** A dense-only chain as engine layers: the variables' current values (not copied). */
export function chainStates(chain: ModelChain): DenseState[] {
  return chain.solved.map(d => ({
    name: d.layer.name,
    kernel: d.kernel.read() as tf.Tensor2D,
    bias: d.bias ? d.bias.read() as tf.Tensor1D : null,
    activation: d.activation,
    trainable: d.layer.trainable,
  }));
}

/** The chain as engine units (any chain): the variables' current values (not copied). */
export function chainUnits(chain: ModelChain): NetworkUnit[] {
  return chain.units.map((u): NetworkUnit => {
    if (u.kind === 'solved') {
      const d = u.solved;
      return {kind: d.kind, name: d.layer.name, kernel: d.kernel.read(),
              bias: d.bias ? d.bias.read() as tf.Tensor1D : null, activation: d.activation,
              trainable: d.layer.trainable, geometry: d.geometry};
    }
    if (u.kind === 'flatten') return {kind: 'flatten', name: u.layer.name};
    return {kind: u.kind, name: u.layer.name, geometry: u.geometry};
  });
}

/** One example's shape at the chain's input; throws unless it is fully known. */
export function chainInputShape(chain: ModelChain): number[] {
  const shape = chain.startInput.shape.slice(1);
  if (shape.some(d => d == null)) {
    throw new ERInputError(
        `layer '${chain.start.name}': ER needs a fixed input shape, got [${chain.startInput.shape}]; ` +
        `give the model an inputShape without null dimensions`);
  }
  return shape as number[];
}

/** Writes new weights (one entry per chain unit, null: unchanged) into the layers' variables. */
export function writeChainWeights(chain: ModelChain, weights: Array<UnitWeights|null>): void {
  tf.tidy(() => {
    weights.forEach((w, i) => {
      const u = chain.units[i];
      if (w == null || u.kind !== 'solved') return;
      u.solved.kernel.write(w.kernel);
      if (u.solved.bias != null && w.bias != null) u.solved.bias.write(w.bias);
    });
  });
}
