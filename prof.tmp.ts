import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {er} from './src/index';
import {buildConvnet, parseConvArch} from './src/node/train';
(async () => {
  await tf.setBackend('wasm');
  const n = 2000;
  const x = tf.randomUniform([n, 32, 32, 3]), y = tf.oneHot(tf.randomUniform([n], 0, 10, 'int32'), 10).toFloat();
  const model = buildConvnet(parseConvArch(process.argv[2], 3072, 10)!, [32, 32, 3], 'er', 'relu', 1);
  const opt = er();
  model.compile({optimizer: opt, loss: 'categoricalCrossentropy'});
  for (let e = 0; e < 2; e++) {
  const t0 = Date.now();
  await model.fit(x, y, {epochs: 1, batchSize: 500, verbose: 0});
  console.log(Date.now() - t0, JSON.stringify(opt.lastReport!.seconds));
  }
  const t1 = Date.now(); const p = model.predict(x, {batchSize: 500}) as tf.Tensor; p.dataSync(); console.log('predict', Date.now() - t1);
})();
