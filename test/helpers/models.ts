/** Model helpers shared by the specs. */
import * as tf from '@tensorflow/tfjs';

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
