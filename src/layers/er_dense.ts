/**
 * `ERDense`: tfjs's Dense layer under its own class name, marking a layer
 * meant to be trained by `er()`. Same arguments, weights and behaviour as
 * `tf.layers.dense` (`er()` trains stock dense layers too).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
// kept for its side effect (its layers register): `tfl` alone is a type here, and imports of types are dropped
import '@tensorflow/tfjs-layers';
import type {DenseLayerArgs} from '@tensorflow/tfjs-layers/dist/layers/core';

type DenseConstructor = new (args: DenseLayerArgs) => tfl.layers.Layer;

function stockDense(): DenseConstructor {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap['Dense'];
  if (entry == null) throw new Error('tfjs-er: @tensorflow/tfjs-layers did not register Dense');
  return entry[0] as unknown as DenseConstructor;
}

/** Arguments of {@link dense}: exactly those of `tf.layers.dense`. */
export type ERDenseLayerArgs = DenseLayerArgs;

/** A dense layer trainable by Expectation Reflection (see {@link dense}). */
export class ERDense extends stockDense() {
  // @nocollapse
  static className = 'ERDense';

  getConfig(): tf.serialization.ConfigDict {
    return {...super.getConfig()};
  }
}
tf.serialization.registerClass(
    ERDense as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);

/**
 * A dense layer trained by `er()`; takes the arguments of `tf.layers.dense`.
 *
 * ```ts
 * const model = tf.sequential({layers: [
 *   erLayers.dense({inputShape: [784], units: 1000, activation: 'relu'}),
 *   erLayers.dense({units: 10, activation: 'softmax'}),
 * ]});
 * ```
 */
export function dense(args: ERDenseLayerArgs): ERDense {
  return new ERDense(args);
}
