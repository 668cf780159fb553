/**
 * `ERConv2D`: tfjs's Conv2D layer under its own class name, marking a layer
 * meant to be trained by `er()`. Same arguments, weights and behaviour as
 * `tf.layers.conv2d` (`er()` trains stock conv2d layers too). ER solves its
 * kernel as a ridge regression of the reflected field on image patches
 * (channels-last, dilation 1, padding 'same' or 'valid').
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
// kept for its side effect (its layers register): `tfl` alone is a type here, and imports of types are dropped
import '@tensorflow/tfjs-layers';
import type {ConvLayerArgs} from '@tensorflow/tfjs-layers/dist/layers/convolutional';

type Conv2DConstructor = new (args: ConvLayerArgs) => tfl.layers.Layer;

function stockConv2D(): Conv2DConstructor {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap['Conv2D'];
  if (entry == null) throw new Error('tfjs-er: @tensorflow/tfjs-layers did not register Conv2D');
  return entry[0] as unknown as Conv2DConstructor;
}

/** Arguments of {@link conv2d}: exactly those of `tf.layers.conv2d`. */
export type ERConv2DLayerArgs = ConvLayerArgs;

/** A 2-D convolution layer trainable by Expectation Reflection (see {@link conv2d}). */
export class ERConv2D extends stockConv2D() {
  // @nocollapse
  static className = 'ERConv2D';

  getConfig(): tf.serialization.ConfigDict {
    return {...super.getConfig()};
  }
}
tf.serialization.registerClass(
    ERConv2D as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);

/**
 * A 2-D convolution layer trained by `er()`; takes the arguments of
 * `tf.layers.conv2d` (channels-last, dilation 1).
 *
 * ```ts
 * const model = tf.sequential({layers: [
 *   erLayers.conv2d({inputShape: [32, 32, 3], filters: 32, kernelSize: 3, padding: 'same', activation: 'relu'}),
 *   tf.layers.maxPooling2d({poolSize: 4}),
 *   tf.layers.flatten(),
 *   erLayers.dense({units: 10, activation: 'softmax'}),
 * ]});
 * model.compile({optimizer: er(), loss: 'categoricalCrossentropy', metrics: ['accuracy']});
 * ```
 */
export function conv2d(args: ERConv2DLayerArgs): ERConv2D {
  return new ERConv2D(args);
}
