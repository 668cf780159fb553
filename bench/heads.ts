/**
 * Suite `heads`: a classifier head on a frozen feature extractor, trained
 * from a few examples of NEW classes — erHead (one solve) vs a dense softmax
 * head trained by Adam on the same frozen features (lr 1e-3 and 3e-3, early
 * stopping on a held-out split). The base is a 784-512-5 MLP trained by Adam
 * on MNIST digits 0–4; the heads learn digits 5–9 from k examples per class.
 * One process (wasm backend, matMul fix for Adam); warm-up runs first.
 * Writes bench/results/heads.{json,md}.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {erHead} from '../src/index';
import {balancedSubset, holdOut, LabelledImages, loadMnist} from '../src/node/datasets';
import {installWasmTransposeFix} from './harness/wasm_matmul_fix';
import {table, writeResults} from './lib';

const PER_CLASS = [1, 5, 20, 100, 0];  // 0 = all (~5,400 per class)
const SEEDS = [1, 2, 3];

function subsetOf(set: LabelledImages, keep: (label: number) => boolean, relabel: (l: number) => number): LabelledImages {
  const rows: number[] = [];
  for (let i = 0; i < set.count; i++) if (keep(set.labels[i])) rows.push(i);
  const x = new Float32Array(rows.length * 784), labels = new Uint8Array(rows.length);
  rows.forEach((r, i) => {
    x.set(set.x.subarray(r * 784, (r + 1) * 784), i * 784);
    labels[i] = relabel(set.labels[r]);
  });
  return {...set, x, labels, count: rows.length, classes: 5};
}

function tensors(set: LabelledImages) {
  return tf.tidy(() => ({x: tf.tensor2d(set.x, [set.count, 784]),
                         y: tf.oneHot(tf.tensor1d(set.labels, 'int32'), 5).toFloat() as tf.Tensor2D}));
}

async function accuracy(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor): Promise<number> {
  return tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(model.predict(x) as tf.Tensor, 1), tf.argMax(y, 1)), 'float32')))
      .data().then(d => d[0]);
}

interface Cell {perClass: number; seed: number; method: string; test: number; val: number; seconds: number; epochs: number}

export async function headsSuite(): Promise<void> {
  await tf.setBackend('wasm');
  installWasmTransposeFix();
  const mnist = loadMnist();
  const oldTrain = subsetOf(mnist.train, l => l < 5, l => l);
  const newTrainAll = subsetOf(mnist.train, l => l >= 5, l => l - 5);
  const newTest = tensors(subsetOf(mnist.test, l => l >= 5, l => l - 5));
  // held-out split of the new classes (500 rows), never trained on
  const {rest: poolSet, held} = holdOut(newTrainAll, 500, 99);
  const val = tensors(held);

  // The base: 784-512-5 trained by Adam on digits 0–4 (2 epochs).
  const base = tf.sequential({layers: [
    tf.layers.dense({inputShape: [784], units: 512, activation: 'relu', name: 'features',
                     kernelInitializer: tf.initializers.glorotUniform({seed: 1})}),
    tf.layers.dense({units: 5, activation: 'softmax'})]});
  base.compile({optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy'});
  const old = tensors(oldTrain);
  await base.fit(old.x, old.y, {epochs: 2, batchSize: 128, verbose: 0});
  tf.dispose([old.x, old.y]);
  const featureModel = tf.model({inputs: base.inputs, outputs: base.getLayer('features').output as tf.SymbolicTensor});
  // the frozen features of the held-out and test digits, for the Adam heads (computed once)
  const fVal = featureModel.predict(val.x) as tf.Tensor, fTest = featureModel.predict(newTest.x) as tf.Tensor;

  const cells: Cell[] = [];
  const runER = async (x: tf.Tensor, y: tf.Tensor, alpha: number|'auto' = 'auto') => {
    const head = erHead(base, {classes: 5, alpha});
    const t0 = performance.now();
    await head.fit(x, y, {epochs: 1, batchSize: 4096, verbose: 0});
    const seconds = (performance.now() - t0) / 1000;
    const r = {test: await accuracy(head, newTest.x, newTest.y), val: await accuracy(head, val.x, val.y), seconds, epochs: 1};
    head.optimizer.dispose();
    head.getLayer('er_head').dispose();
    return r;
  };
  // Adam: a dense softmax head on the same frozen features (precomputed once per run, not timed: as for ER,
  // whose fit also runs the base, this favours Adam).
  const runAdam = async (x: tf.Tensor, y: tf.Tensor, lr: number, seed: number) => {
    const fx = featureModel.predict(x) as tf.Tensor;
    const head = tf.sequential({layers: [tf.layers.dense({inputShape: [512], units: 5, activation: 'softmax',
                                                          kernelInitializer: tf.initializers.glorotUniform({seed})})]});
    head.compile({optimizer: tf.train.adam(lr), loss: 'categoricalCrossentropy'});
    const n = x.shape[0];
    const maxEpochs = n <= 100 ? 500 : n <= 500 ? 300 : 60, patience = n <= 500 ? 30 : 5;
    let best = {val: -1, epoch: 0, seconds: 0, weights: [] as tf.Tensor[]}, seconds = 0;
    for (let e = 1; e <= maxEpochs; e++) {
      const t0 = performance.now();
      await head.fit(fx, y, {epochs: 1, batchSize: Math.min(128, n), verbose: 0, shuffle: true});
      seconds += (performance.now() - t0) / 1000;
      const v = await accuracy(head, fVal, val.y);
      if (v > best.val) {
        tf.dispose(best.weights);
        best = {val: v, epoch: e, seconds, weights: head.getWeights().map(w => w.clone())};
      }
      if (e - best.epoch >= patience) break;
    }
    head.setWeights(best.weights);
    const test = await accuracy(head, fTest, newTest.y);
    tf.dispose([fx, ...best.weights]);
    head.dispose();
    return {test, val: best.val, seconds: best.seconds, epochs: best.epoch};
  };

  // warm-up (JIT, kernels) on 50 rows
  {
    const w = tensors(balancedSubset(poolSet, 50, 7));
    await runER(w.x, w.y);
    await runAdam(w.x, w.y, 1e-3, 1);
    tf.dispose([w.x, w.y]);
  }
  for (const perClass of PER_CLASS) {
    for (const seed of (perClass === 0 ? [1] : SEEDS)) {
      const set = perClass === 0 ? poolSet : balancedSubset(poolSet, perClass * 5, seed);
      const {x, y} = tensors(set);
      const er = await runER(x, y);
      cells.push({perClass, seed, method: 'ER head (erHead)', ...er});
      cells.push({perClass, seed, method: 'ER head α=1e-3', ...(await runER(x, y, 1e-3))});
      for (const lr of [1e-3, 3e-3]) {
        cells.push({perClass, seed, method: `Adam head lr=${lr}`, ...(await runAdam(x, y, lr, seed))});
      }
      tf.dispose([x, y]);
      console.error(`  heads: ${perClass || 'all'} per class, seed ${seed} done`);
    }
  }
  const rows: Array<Array<string|number>> = [];
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  for (const perClass of PER_CLASS) {
    const of = (m: string) => cells.filter(c => c.perClass === perClass && c.method === m);
    const er = of('ER head (erHead)');
    // Adam: per seed, the learning rate with the better held-out accuracy
    const seeds = [...new Set(er.map(c => c.seed))];
    const adam = seeds.map(s => cells.filter(c => c.perClass === perClass && c.seed === s && c.method.startsWith('Adam'))
                                   .sort((a, b) => b.val - a.val)[0]);
    const adamAll = cells.filter(c => c.perClass === perClass && c.method.startsWith('Adam'));
    const fixed = of('ER head α=1e-3');
    rows.push([perClass || `all (${poolSet.count})`, seeds.length,
               (100 * mean(er.map(c => c.test))).toFixed(2), (1000 * mean(er.map(c => c.seconds))).toFixed(0),
               (100 * mean(fixed.map(c => c.test))).toFixed(2),
               (100 * mean(adam.map(c => c.test))).toFixed(2), (1000 * mean(adam.map(c => c.seconds))).toFixed(0),
               mean(adam.map(c => c.epochs)).toFixed(0),
               (mean(adam.map(c => c.seconds)) / mean(er.map(c => c.seconds))).toFixed(1) + '×',
               (1000 * adamAll.reduce((a, c) => a + c.seconds, 0) / seeds.length).toFixed(0)]);
  }
  writeResults('heads', 'npm run bench -- --suite heads', cells,
               table(['examples per new class', 'seeds', 'ER head test acc % (α auto)', 'ER ms (one fit)',
                      'ER α = 1e-3 test acc %',
                      'Adam head test acc % (best lr)', 'Adam ms to best epoch', 'Adam epochs to best',
                      'ER speed-up', 'Adam ms, both lrs (tuning)'], rows),
               ['Base: 784-512-5 MLP trained by Adam (2 epochs) on MNIST digits 0–4, frozen. Heads learn digits 5–9 ' +
                'from k class-balanced examples per class (means over 3 seeds; "all" = every 5–9 training digit but ' +
                'a 500-row held-out split). ER: erHead(base, {classes: 5}) on the 512 hidden features, one fit (one ' +
                'solve; α chosen by GCV from the statistics, the default), time includes running the base; the ' +
                'fixed α = 1e-3 column shows the interpolation dip GCV avoids. Adam: a dense softmax head on the same features ' +
                '(precomputed, not timed), lr 1e-3 and 3e-3, batch min(128, n), early stopping on the held-out split ' +
                '(patience 30 epochs for ≤ 500 rows, else 5), the epoch and lr with the best held-out accuracy kept. ' +
                'Test: the 4,861 MNIST test digits 5–9. wasm backend, one process, after a warm-up.']);
  tf.dispose([newTest.x, newTest.y, val.x, val.y, fVal, fTest]);
}
