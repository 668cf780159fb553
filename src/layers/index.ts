/**
 * ER layers, as `erLayers.*` (mirrors `tf.layers.*`).
 *
 * ```ts
 * erLayers.dense({inputShape: [784], units: 1000, activation: 'relu'});
 * ```
 * @packageDocumentation
 */
export {dense, ERDense, ERDenseLayerArgs} from './er_dense';
export {conv2d, ERConv2D, ERConv2DLayerArgs} from './er_conv2d';
