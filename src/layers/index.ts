/** ER layers, as `erLayers.*` (mirrors `tf.layers.*`). */
export {dense, ERDense, ERDenseLayerArgs} from './er_dense';
