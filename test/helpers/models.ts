/** Model helpers shared by the specs. */
import * as tf from '@tensorflow/tfjs';
import {er, ERExecutor, erLayers} from '../../src/index';
import {maxDiff} from './data';

/** Saves `model` in memory and loads it back with `tf.loadLayersModel`. */
export async function saveAndLoad(model: tf.LayersModel, config?: tf.io.SaveConfig):
    Promise<{artifacts: tf.io.ModelArtifacts, loaded: tf.LayersModel}> {
  let artifacts: tf.io.ModelArtifacts|null = null;
  await model.save(tf.io.withSaveHandler(async a => {
    artifacts = a;
    return {modelArtifactsInfo: {dateSaved: new Date(), modelTopologyType: 'JSON'}};
  }), config);
  return {artifacts: artifacts!, loaded: await tf.loadLayersModel(tf.io.fromMemory(artifacts!))};
}

/**
 * The outputs of `layer` and of the stock layer `stock` given `layer`'s
 * weights, on `input` (the caller disposes them).
 */
export function outputsWithSameWeights(layer: tf.layers.Layer, stock: tf.layers.Layer, input: tf.Tensor):
    [tf.Tensor, tf.Tensor] {
  const a = layer.apply(input) as tf.Tensor;
  stock.apply(input);  // builds it
  stock.setWeights(layer.getWeights());
  return [a, stock.apply(input) as tf.Tensor];
}

/**
 * The executor specs' small MLP: `inputs` → hidden (ReLU, then tanh) →
 * `classes` softmax, all ER layers.
 */
export function smallMlp(inputs = 4, hidden = [24, 12], classes = 3): tf.LayersModel {
  return tf.sequential({layers: [
    ...hidden.map((units, i) => erLayers.dense({...(i === 0 ? {inputShape: [inputs]} : {}), units,
                                         activation: i === 1 ? 'tanh' : 'relu'})),
    erLayers.dense({units: classes, activation: 'softmax'})]});
}

/** The executor specs' small convnet on 6×6×1 images: conv 3×3 ReLU, max-pool 2, 2-way softmax. */
export function smallConvnet(): tf.LayersModel {
  return tf.sequential({layers: [
    erLayers.conv2d({inputShape: [6, 6, 1], filters: 3, kernelSize: 3, padding: 'same', activation: 'relu'}),
    tf.layers.maxPooling2d({poolSize: 2}), tf.layers.flatten(),
    erLayers.dense({units: 2, activation: 'softmax'})]});
}

/** Two models from `make` with the same starting weights. */
export function twins(make: () => tf.LayersModel): [tf.LayersModel, tf.LayersModel] {
  const a = make(), b = make();
  b.setWeights(a.getWeights());
  return [a, b];
}

/** The largest weight difference between `a` and `b`, relative to each of `a`'s weights' largest entry. */
export function relativeWeightDiff(a: tf.LayersModel, b: tf.LayersModel): number {
  const bw = b.getWeights();
  return Math.max(...a.getWeights().map((w, i) =>
      maxDiff(w, bw[i]) / Math.max(1e-6, tf.tidy(() => tf.max(tf.abs(w)).dataSync()[0]))));
}

/** Expects every weight of `b` within 1e-4 of `a`'s, relative to the weight's largest entry. */
export function expectSameWeights(a: tf.LayersModel, b: tf.LayersModel, what: string): void {
  const bw = b.getWeights();
  a.getWeights().forEach((w, i) => {
    const scale = Math.max(1e-6, tf.tidy(() => tf.max(tf.abs(w)).dataSync()[0]));
    expect(maxDiff(w, bw[i]) / scale).withContext(`${what}, weight ${i}`).toBeLessThan(1e-4);
  });
}

/** Expects `weights` to equal `before` exactly (a failed or refused call left them as they were). */
export function expectUnchanged(weights: tf.Tensor[], before: tf.Tensor[], what = 'weight'): void {
  expect(weights.length).withContext(`${what}s`).toBe(before.length);
  weights.forEach((w, i) => expect(maxDiff(w, before[i])).withContext(`${what} ${i}`).toBe(0));
}

/**
 * The wide-Gram case of the executor specs: `x` widened to `features`
 * columns by seeded uniform ones, and twin MLPs on it compiled with `er()`
 * in-process and on `executor` (the caller disposes all three).
 */
export function wideTwins(x: tf.Tensor2D, features: number, executor: ERExecutor):
    {wide: tf.Tensor2D, local: tf.LayersModel, remote: tf.LayersModel} {
  const wide = tf.tidy(() => tf.concat([x, tf.randomUniform([x.shape[0], features - x.shape[1]], 0, 1, 'float32', 9)], 1));
  const [local, remote] = twins(() => smallMlp(features, [16, 8]));
  local.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
  remote.compile({optimizer: er({executor}), loss: 'categoricalCrossentropy'});
  return {wide: wide as tf.Tensor2D, local, remote};
}
