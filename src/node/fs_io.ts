/**
 * Saving and loading layers models as files (model.json + weights.bin, the
 * standard tfjs layout) without tfjs-node, whose `file://` handler is the
 * only one tfjs ships for Node.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as path from 'path';

/** An IOHandler that writes `dir/model.json` and `dir/weights.bin`. */
export function fileSaveHandler(dir: string): tf.io.IOHandler {
  return tf.io.withSaveHandler(async (artifacts: tf.io.ModelArtifacts) => {
    fs.mkdirSync(dir, {recursive: true});
    const weightData = artifacts.weightData == null ? new ArrayBuffer(0) :
        tf.io.CompositeArrayBuffer.join(artifacts.weightData);
    fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(weightData));
    const json: tf.io.ModelJSON = {
      modelTopology: artifacts.modelTopology!,
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy,
      trainingConfig: artifacts.trainingConfig,
      userDefinedMetadata: artifacts.userDefinedMetadata,
      weightsManifest: [{paths: ['weights.bin'], weights: artifacts.weightSpecs ?? []}],
    };
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
    return {modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts)};
  });
}

/** An IOHandler that reads what {@link fileSaveHandler} wrote. */
export function fileLoadHandler(dir: string): tf.io.IOHandler {
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
  const buffers = json.weightsManifest.flatMap(g => g.paths.map(p => fs.readFileSync(path.join(dir, p))));
  const data = Buffer.concat(buffers);
  return tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest.flatMap(g => g.weights),
    weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
    trainingConfig: json.trainingConfig,
    format: json.format, generatedBy: json.generatedBy, convertedBy: json.convertedBy,
    userDefinedMetadata: json.userDefinedMetadata,
  });
}
