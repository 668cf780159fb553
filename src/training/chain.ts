/**
 * Finds, in a tfjs LayersModel, the part ER trains: a chain of dense layers
 * ending at the model's single output. Layers before the chain's first
 * trainable layer form a frozen feature extractor and may be anything;
 * inside the chain, only layers ER can solve or pass targets through are
 * allowed.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import {ERActivation, toERActivation} from '../engine/activations';
import {ERInputError} from '../engine/errors';
import {DenseState} from '../engine/network';
import * as tf from '@tensorflow/tfjs-core';
import {isERLayer} from './capture';

type Layer = tfl.layers.Layer;
type LayerVariable = tfl.LayerVariable;

/** Dense layer classes ER solves. */
const DENSE = ['Dense', 'ERDense'];
/** Layers that are the identity at inference: targets pass straight through. */
const PASS_THROUGH = ['Dropout', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout',
                      'SpatialDropout1D', 'Flatten'];
const SUPPORTED_TEXT =
    `Supported in the trained part: ${DENSE.join(', ')} (erLayers.dense or attachER), ` +
    `Activation (${['linear', 'relu', 'tanh', 'sigmoid', 'softmax'].join('/')}), ` +
    `${PASS_THROUGH.join(', ')}. Layers before the first trainable layer may be of any ` +
    `type if they are frozen (layer.trainable = false).`;

/** One dense layer of the chain. */
export interface ChainDense {
  layer: Layer;
  kernel: LayerVariable;
  bias: LayerVariable|null;
  activation: ERActivation;
}

/** The trained part of a model. */
export interface ModelChain {
  /** The first layer of the chain: its input is what ER records. */
  start: Layer;
  /** Dense layers from input to output. */
  denses: ChainDense[];
  /** Whether `start` reports its input to ER (ERDense, or attached). */
  capturing: boolean;
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
    if (hasTrainableWeights(l) && !DENSE.includes(className(l))) {
      throw new ERInputError(`${describe(l)}: ER cannot train this layer type. ${SUPPORTED_TEXT}`);
    }
  }
  const denses: ChainDense[] = [];
  for (const l of path.slice(startIndex)) {
    const cls = className(l);
    if (DENSE.includes(cls)) {
      // tslint:disable-next-line:no-any
      const cfg = l.getConfig() as any;
      const [kernel, bias] = l.weights;
      if (kernel == null || kernel.shape.length !== 2) {
        throw new ERInputError(`${describe(l)} is not built yet; build or call the model first`);
      }
      denses.push({layer: l, kernel, bias: bias ?? null,
                   activation: toERActivation(cfg.activation, `layer '${l.name}'`)});
    } else if (cls === 'Activation') {
      const last = denses[denses.length - 1];
      // tslint:disable-next-line:no-any
      const act = toERActivation((l.getConfig() as any).activation, `layer '${l.name}'`);
      if (last == null || last.activation !== 'linear') {
        throw new ERInputError(
            `${describe(l)} must directly follow a dense layer without activation ` +
            `(ER folds it into that layer). ${SUPPORTED_TEXT}`);
      }
      last.activation = act;
    } else if (!PASS_THROUGH.includes(cls)) {
      throw new ERInputError(
          `${describe(l)} sits between trainable layers, and ER cannot pass targets ` +
          `through it. ${SUPPORTED_TEXT}`);
    }
  }
  denses.forEach((d, i) => {
    if (i < denses.length - 1 && d.activation === 'softmax') {
      throw new ERInputError(
          `layer '${d.layer.name}': softmax is only supported on the output layer`);
    }
  });
  const start = path[startIndex];
  const startInput = nodes[startIndex].inputTensors[0] as tfl.SymbolicTensor;
  return {start, denses, capturing: isERLayer(start), startInput,
          startIsModelInput: model.inputs.length === 1 && startInput === model.inputs[0]};
}

/** The chain as engine layers: the variables' current values (not copied). */
export function chainStates(chain: ModelChain): DenseState[] {
  return chain.denses.map(d => ({
    name: d.layer.name,
    kernel: d.kernel.read() as tf.Tensor2D,
    bias: d.bias ? d.bias.read() as tf.Tensor1D : null,
    activation: d.activation,
    trainable: d.layer.trainable,
  }));
}
