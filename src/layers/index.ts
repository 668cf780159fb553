/** ER layers, as `erLayers.*` (mirrors `tf.layers.*`). */
export {dense, ERDense, ERDenseLayerArgs} from './er_dense';
export {conv2d, ERConv2D, ERConv2DLayerArgs} from './er_conv2d';
