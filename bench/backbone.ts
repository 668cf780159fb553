/**
 * A real pretrained image backbone with no download: the Keras MobileNetV2
 * (ImageNet-pretrained, fine-tuned by the nsfwjs authors; MIT) that the npm
 * package `nsfwjs` ships inside `dist/models/mobilenet_v2/` as a tfjs layers
 * model (uint8-quantised weights, base64 in a UMD module). Used by the
 * `transfer` benchmark and the real-backbone specs (a devDependency only).
 *
 * The model may be rebuilt at a smaller square input (a multiple of 32) for
 * speed: the convolutions are size-agnostic, only the final 7×7 average
 * pooling is resized to the new feature map, so the weights are the same.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';

/** Options of {@link loadMobileNetV2}. */
export interface BackboneConfig {
  /** Square input size in pixels, a multiple of 32 (default 224, the trained size). */
  size?: number;
  /**
   * The layer whose output is the features (default 'flatten_1': the global
   * average of the last 1280-channel block, before nsfwjs's own classifier).
   * A 4-D layer is global-average pooled.
   */
  layer?: string;
}

/** The folder of the model files inside the installed nsfwjs package. */
export function mobileNetV2Dir(): string {
  const entry = require.resolve('nsfwjs');
  let dir = path.dirname(entry);
  while (!fs.existsSync(path.join(dir, 'package.json')) || path.basename(dir) !== 'nsfwjs') {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('nsfwjs is not installed (npm install --save-dev nsfwjs)');
    dir = up;
  }
  return path.join(dir, 'dist', 'models', 'mobilenet_v2');
}

/** The model's topology and weight manifest (the UMD module's export). */
interface ModelJson {
  modelTopology: {model_config: {config: {layers: Array<{class_name: string, config: Record<string, unknown>}>}}};
  weightsManifest: Array<{paths: string[], weights: tf.io.WeightsManifestEntry[]}>;
}

/** Reads the shipped files: topology (resized to `size`) and weights. */
export function mobileNetV2Artifacts(size = 224): tf.io.ModelArtifacts {
  if (!(Number.isInteger(size) && size >= 32 && size % 32 === 0)) {
    throw new Error(`backbone size must be a multiple of 32 (>= 32), got ${size}`);
  }
  const dir = mobileNetV2Dir();
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const json = JSON.parse(JSON.stringify(require(path.join(dir, 'model.min.js')))) as ModelJson;
  const weights: string = require(path.join(dir, 'group1-shard1of1.min.js'));
  for (const l of json.modelTopology.model_config.config.layers) {
    if (l.class_name === 'InputLayer') l.config.batch_input_shape = [null, size, size, 3];
    if (l.class_name === 'AveragePooling2D') {
      l.config.pool_size = [size / 32, size / 32];
      l.config.strides = [size / 32, size / 32];
    }
  }
  const bytes = Buffer.from(weights, 'base64');
  const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  return {modelTopology: json.modelTopology as unknown as tf.io.ModelArtifacts['modelTopology'],
          weightSpecs: json.weightsManifest[0].weights, weightData};
}

/** MobileNetV2 from nsfwjs cut at `layer`: images [n, size, size, 3] in [0, 1] → features [n, d]. */
export async function loadMobileNetV2(config: BackboneConfig = {}): Promise<tf.LayersModel> {
  const size = config.size ?? 224;
  const full = await tf.loadLayersModel(tf.io.fromMemory(mobileNetV2Artifacts(size)));
  const layer = full.getLayer(config.layer ?? 'flatten_1');
  let out = layer.output as tf.SymbolicTensor;
  if (out.shape.length === 4) out = tf.layers.globalAveragePooling2d({}).apply(out) as tf.SymbolicTensor;
  const model = tf.model({inputs: full.inputs, outputs: out, name: `mobilenet_v2_${size}`});
  // nsfwjs's own classifier layers are not part of the cut: free their weights
  for (const l of full.layers) if (!model.layers.includes(l)) l.dispose();
  return model;
}

/**
 * Images (channels-last [n, h, w, 3], values in [0, 1]) resized to the
 * backbone's input, as nsfwjs prepares them (bilinear, aligned corners,
 * [0, 1]: the range its fine-tuning used).
 */
export function toBackboneInput(images: tf.Tensor4D, size: number): tf.Tensor4D {
  return tf.tidy(() => tf.image.resizeBilinear(images, [size, size], true));
}

/** Features of `images` [n, h, w, 3] in [0, 1], `batch` images at a time (a float32 array n×d). */
export function extractFeatures(backbone: tf.LayersModel, images: Float32Array, n: number, imageShape: number[],
                                batch = 64): Float32Array {
  const size = backbone.inputs[0].shape[1] as number;
  const per = imageShape[0] * imageShape[1] * imageShape[2];
  let out: Float32Array|null = null, d = 0;
  for (let s = 0; s < n; s += batch) {
    const m = Math.min(batch, n - s);
    const f = tf.tidy(() => {
      const x = tf.tensor4d(images.subarray(s * per, (s + m) * per), [m, imageShape[0], imageShape[1], imageShape[2]]);
      return backbone.predict(toBackboneInput(x, size)) as tf.Tensor2D;
    });
    if (out == null) {
      d = f.shape[1];
      out = new Float32Array(n * d);
    }
    out.set(f.dataSync(), s * d);
    f.dispose();
  }
  return out ?? new Float32Array(0);
}
