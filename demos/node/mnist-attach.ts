/**
 * A stock tf.layers MLP on MNIST, switched from backprop to ER with attachER:
 * one epoch (= one ER update), then test accuracy.
 *
 *   npx tsx demos/node/mnist-attach.ts [--epochs 1] [--hidden 1000] [--backend wasm]
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {attachER, er} from '../../src/index';
import {loadMnist} from '../../src/node/datasets';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

async function main() {
  await tf.setBackend(arg('backend', 'wasm'));
  const epochs = Number(arg('epochs', '1'));
  const hidden = Number(arg('hidden', '1000'));
  const {train, test} = loadMnist();
  const xs = tf.tensor2d(train.x, [train.count, 784]);
  const ys = tf.oneHot(tf.tensor1d(train.labels, 'int32'), 10).toFloat();
  const xt = tf.tensor2d(test.x, [test.count, 784]);
  const yt = tf.oneHot(tf.tensor1d(test.labels, 'int32'), 10).toFloat();

  // An ordinary tfjs model, as it would be written for Adam.
  const model = tf.sequential({layers: [
    tf.layers.dense({inputShape: [784], units: hidden, activation: 'relu'}),
    tf.layers.dense({units: 10, activation: 'softmax'}),
  ]});
  attachER(model);
  model.compile({optimizer: er(), loss: 'categoricalCrossentropy', metrics: ['accuracy']});
  const t0 = Date.now();
  await model.fit(xs, ys, {
    epochs, batchSize: 2000, verbose: 0,
    callbacks: {onEpochEnd: async (e, logs) => console.log(`epoch ${e + 1}: train loss ${logs?.loss.toFixed(4)}`)},
  });
  const seconds = (Date.now() - t0) / 1000;
  const [, acc] = model.evaluate(xt, yt, {batchSize: 2000}) as tf.Scalar[];
  const accuracy = (await acc.data())[0];
  console.log(JSON.stringify({demo: 'mnist-attach', backend: tf.getBackend(), arch: `784-${hidden}-10`,
                              init: 'glorotUniform (tfjs default)', epochs,
                              test_accuracy: Number(accuracy.toFixed(4)),
                              test_error: Number((100 * (1 - accuracy)).toFixed(2)),
                              train_seconds: Number(seconds.toFixed(1))}));
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
