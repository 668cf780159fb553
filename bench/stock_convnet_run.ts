/**
 * One ER update of the tfjs-examples `mnist-node` convnet (4 conv layers,
 * dense 512, dropout; model.js of tensorflow/tfjs-examples), built with stock
 * tfjs layers and switched to ER by `attachER` alone, on the wasm backend,
 * in-process or on a thread pool. Spawned by the parallel suite, one process
 * per run; prints one JSON line: seconds, ms per training row, the update's
 * passes / solve seconds, peak memory and (with --count-flops, in-process)
 * the products' flops, and the test error after the update (not timed).
 * It imports the library by relative paths so that the parallel suite can
 * run the same file in a checkout of older code (its baseline).
 *
 *   tsx bench/stock_convnet_run.ts --train-size N [--threads T] [--count-flops] [--forward-cache-mb MB]
 */
import * as fs from 'fs';
import {parseArgs} from 'util';
import * as tf from '@tensorflow/tfjs';
import {attachER, er} from '../src/index';
import {balancedSubset, loadMnist, threadPool, useBackend} from '../src/node/index';
import {countProductFlops} from './harness/flops';

/**
 * The mnist-node model (tfjs-examples/mnist-node/model.js), layer for layer;
 * its default glorot-uniform kernels seeded, so every run starts alike.
 */
export function mnistNodeConvnet(): tf.Sequential {
  let seed = 0;
  const init = () => tf.initializers.glorotUniform({seed: ++seed});
  const model = tf.sequential();
  model.add(tf.layers.conv2d({inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: 'relu', kernelInitializer: init()}));
  model.add(tf.layers.conv2d({filters: 32, kernelSize: 3, activation: 'relu', kernelInitializer: init()}));
  model.add(tf.layers.maxPooling2d({poolSize: [2, 2]}));
  model.add(tf.layers.conv2d({filters: 64, kernelSize: 3, activation: 'relu', kernelInitializer: init()}));
  model.add(tf.layers.conv2d({filters: 64, kernelSize: 3, activation: 'relu', kernelInitializer: init()}));
  model.add(tf.layers.maxPooling2d({poolSize: [2, 2]}));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dropout({rate: 0.25}));
  model.add(tf.layers.dense({units: 512, activation: 'relu', kernelInitializer: init()}));
  model.add(tf.layers.dropout({rate: 0.5}));
  model.add(tf.layers.dense({units: 10, activation: 'softmax', kernelInitializer: init()}));
  return model;
}

function peakRssMb(): number|null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

async function main() {
  const {values: v} = parseArgs({options: {
    'train-size': {type: 'string'}, threads: {type: 'string'}, 'count-flops': {type: 'boolean'},
    'forward-cache-mb': {type: 'string'},
  }});
  const threads = Number(v.threads ?? 1), n = Number(v['train-size'] ?? 1000);
  if (v['count-flops'] && threads !== 1) throw new Error('--count-flops needs --threads 1 (workers have their own engines)');
  await useBackend('wasm');
  const data = loadMnist();
  const set = balancedSubset(data.train, n, 0);
  const x = tf.tensor4d(set.x, [set.count, 28, 28, 1]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(set.labels, 'int32'), 10).toFloat());
  const pool = threads > 1 ? threadPool({threads, backend: 'wasm'}) : null;
  try {
    let threadsStart = 0;
    if (pool != null) {
      const t = Date.now();
      await pool.ready();
      threadsStart = (Date.now() - t) / 1000;
    }
    const model = attachER(mnistNodeConvnet());
    // only when asked: older code (the suite's baseline) has no such option
    const cache = v['forward-cache-mb'] != null ? {forwardCacheMB: Number(v['forward-cache-mb'])} : {};
    const optimizer = er({verbose: false, executor: pool ?? undefined, ...cache});
    model.compile({optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy']});
    const stopCounting = v['count-flops'] ? countProductFlops() : null;
    const t0 = Date.now();
    await model.fit(x, y, {epochs: 1, batchSize: 500, verbose: 0, shuffle: false});
    const seconds = (Date.now() - t0) / 1000;
    const flops = stopCounting?.() ?? null;
    const report = optimizer.lastReport, peak = peakRssMb();
    const testError = tf.tidy(() => {
      const xt = tf.tensor4d(data.test.x, [data.test.count, 28, 28, 1]);
      const predicted = (model.predict(xt, {batchSize: 1000}) as tf.Tensor).argMax(-1);
      const wrong = tf.notEqual(predicted, tf.tensor1d(data.test.labels, 'int32')).sum().dataSync()[0];
      return 100 * wrong / data.test.count;
    });
    console.log(JSON.stringify({train_rows: set.count, train_seconds: seconds, ms_per_row: 1000 * seconds / set.count,
                                threads, threads_start_seconds: threadsStart, peak_rss_mb: peak, flops,
                                test_error: Number(testError.toFixed(2)),
                                updates: report ? [{seconds: report.seconds, passes: report.passSeconds}] : []}));
    model.dispose();
    optimizer.dispose();
  } finally {
    await pool?.close();
    tf.dispose([x, y]);
  }
}

main().catch(e => {
  console.error(`stock convnet run: ${(e as Error).stack}`);
  process.exit(1);
});
