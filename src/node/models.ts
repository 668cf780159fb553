/**
 * The networks the CLI builds: architecture strings ("784-1000-10",
 * "3072-c32k5-p8-10") and the tfjs models they describe, with ER layers.
 */
import * as tf from '@tensorflow/tfjs';
import {erLayers} from 'tfjs-er';

/** Parses "784-1000-10" against the data's input and class counts. */
export function parseArch(arch: string|undefined, features: number, classes: number): number[] {
  const dims = (arch ?? `${features}-1000-${classes}`).split('-').map(Number);
  if (dims.length < 2 || dims.some(d => !Number.isInteger(d) || d <= 0)) {
    throw new Error(`--arch '${arch}': expected sizes joined by '-', e.g. ${features}-1000-${classes}`);
  }
  if (dims[0] !== features || dims[dims.length - 1] !== classes) {
    throw new Error(`--arch '${arch}': this data set needs ${features} inputs and ${classes} ` +
                    `outputs, e.g. ${features}-1000-${classes}`);
  }
  return dims;
}

/** One step of a convnet architecture string (see {@link parseConvArch}). */
export type ArchStep = {kind: 'conv', filters: number, kernel: number}|{kind: 'pool', size: number, avg: boolean}|
                       {kind: 'dense', units: number};

/**
 * Parses a convnet architecture such as "3072-c32-p2-c64k5-p4-10": the input
 * size, then `cN[kK]` (conv2d, N filters, K×K kernel (default 3), 'same'
 * padding, hidden activation), `pN` / `aN` (max / average pooling N×N), plain
 * numbers (dense units; the last is the softmax output). Null for an MLP string.
 */
export function parseConvArch(arch: string|undefined, features: number, classes: number): ArchStep[]|null {
  if (arch == null || !/(^|-)[cpa]\d/.test(arch)) return null;
  const parts = arch.split('-');
  if (Number(parts[0]) !== features) {
    throw new Error(`--arch '${arch}': this data set needs ${features} inputs first, e.g. ${features}-c32-p2-${classes}`);
  }
  const steps = parts.slice(1).map((p): ArchStep => {
    let m = /^c(\d+)(?:k(\d+))?$/.exec(p);
    if (m) return {kind: 'conv', filters: Number(m[1]), kernel: Number(m[2] ?? 3)};
    m = /^([pa])(\d+)$/.exec(p);
    if (m) return {kind: 'pool', size: Number(m[2]), avg: m[1] === 'a'};
    if (/^\d+$/.test(p)) return {kind: 'dense', units: Number(p)};
    throw new Error(`--arch '${arch}': cannot read '${p}' (use cN, cNkK, pN, aN or a number)`);
  });
  const last = steps[steps.length - 1];
  if (last == null || last.kind !== 'dense' || last.units !== classes) {
    throw new Error(`--arch '${arch}': must end with the ${classes} output units`);
  }
  return steps;
}

/** Makes a dense layer (ER's by default; the Adam comparison passes tf.layers.dense). */
export type DenseFactory = (args: Parameters<typeof tf.layers.dense>[0]) => tf.layers.Layer;

/** Makes a K×K 'same' convolution: its layers, and weights to set once built. */
export type ConvFactory = (args: {first: {inputShape?: number[]}, filters: number, kernel: number, channels: number,
                                  activation: string, init: ReturnType<typeof tf.initializers.glorotUniform>}) =>
    {layers: tf.layers.Layer[],
     /** Sets the layers' weights once they are built (when the factory needs to). */
     assign?: () => void};

/** ER's conv layer for a {@link ConvFactory}. */
export const erConv: ConvFactory = ({first, filters, kernel, activation, init}) => ({layers: [erLayers.conv2d({
  ...first, filters, kernelSize: kernel, padding: 'same', activation: activation as 'relu', kernelInitializer: init})]});

/** The MLP `dims` (softmax output, `activation` hidden), glorot-initialised from `seed`. */
export function buildMlp(dims: number[], activation: string, seed: number,
                         dense: DenseFactory = erLayers.dense): tf.Sequential {
  const layers = dims.slice(1).map((units, i) => dense({
    inputShape: i === 0 ? [dims[0]] : undefined,
    units,
    activation: (i === dims.length - 2 ? 'softmax' : activation) as 'relu',
    kernelInitializer: tf.initializers.glorotUniform({seed: seed * 101 + i + 1}),
  }));
  return tf.sequential({layers});
}

/** The convnet of {@link parseConvArch} steps on images of `imageShape`. */
export function buildConvnet(steps: ArchStep[], imageShape: number[], activation: string, seed: number,
                             conv: ConvFactory = erConv, dense: DenseFactory = erLayers.dense): tf.Sequential {
  const layers: tf.layers.Layer[] = [];
  const assignments: Array<() => void> = [];
  let flat = false;
  let channels = imageShape[2];
  steps.forEach((s, i) => {
    const first = i === 0 ? {inputShape: imageShape} : {};
    const init = tf.initializers.glorotUniform({seed: seed * 101 + i + 1});
    if (s.kind === 'conv') {
      const made = conv({first, filters: s.filters, kernel: s.kernel, channels, activation, init});
      layers.push(...made.layers);
      if (made.assign) assignments.push(made.assign);
      channels = s.filters;
    } else if (s.kind === 'pool') {
      const args = {...first, poolSize: s.size};
      layers.push(s.avg ? tf.layers.averagePooling2d(args) : tf.layers.maxPooling2d(args));
    } else {
      if (!flat) layers.push(tf.layers.flatten(first));
      flat = true;
      layers.push(dense({units: s.units, activation: (i === steps.length - 1 ? 'softmax' : activation) as 'relu',
                         kernelInitializer: init}));
    }
  });
  const model = tf.sequential({layers});
  for (const assign of assignments) assign();
  return model;
}
