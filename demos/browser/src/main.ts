/**
 * The tfjs-er browser demo: MNIST (10k/2k subset bundled with the page) on
 * the webgl backend, trained with ER or Adam, with live charts (tfjs-vis), a
 * confusion matrix, a grid of test digits and a drawing pad.
 */
import * as tf from '@tensorflow/tfjs';
import * as tfvis from '@tensorflow/tfjs-vis';
// Bundled from the library's ESM build, dist/tfjs-er.esm.js (see build.mjs); tfjs is a
// separate, shared import, as for any app using the package.
import {er, erLayers} from 'tfjs-er';

interface Subset {xTrain: tf.Tensor2D; yTrain: tf.Tensor2D; xTest: tf.Tensor2D; yTest: tf.Tensor2D;
                  testPixels: Uint8Array; testLabels: Uint8Array; }
interface RunResult {optimizer: string; arch: string; epochs: number; accuracy: number; seconds: number; }

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const state = {
  backend: '', training: false, ready: false,
  results: [] as RunResult[], lastResult: null as RunResult|null,
  series: {ER: [] as Array<{x: number, y: number}>, Adam: [] as Array<{x: number, y: number}>},
  model: null as tf.LayersModel|null, padPrediction: null as number|null, error: null as string|null,
};
(window as unknown as {__demo: unknown}).__demo = {tf, state};

async function loadSubset(): Promise<Subset> {
  const buf = new Uint8Array(await (await fetch('mnist-subset.bin')).arrayBuffer());
  const view = new DataView(buf.buffer);
  if (String.fromCharCode(...buf.subarray(0, 4)) !== 'ERMN') throw new Error('mnist-subset.bin: bad header');
  const nTrain = view.getUint32(4, true), nTest = view.getUint32(8, true);
  let o = 12;
  const take = (n: number) => { const s = buf.subarray(o, o + n); o += n; return s; };
  const trainPx = take(nTrain * 784), trainLab = take(nTrain), testPx = take(nTest * 784), testLab = take(nTest);
  return tf.tidy(() => ({
    xTrain: tf.div(tf.tensor2d(trainPx, [nTrain, 784], 'float32'), 255) as tf.Tensor2D,
    yTrain: tf.oneHot(tf.tensor1d(trainLab, 'int32'), 10).toFloat() as tf.Tensor2D,
    xTest: tf.div(tf.tensor2d(testPx, [nTest, 784], 'float32'), 255) as tf.Tensor2D,
    yTest: tf.oneHot(tf.tensor1d(testLab, 'int32'), 10).toFloat() as tf.Tensor2D,
    testPixels: testPx, testLabels: testLab,
  })) as unknown as Subset;
}

function buildModel(arch: string, optimizer: 'ER'|'Adam'): tf.LayersModel {
  const dims = arch.split('-').map(Number);
  const make = optimizer === 'ER' ? erLayers.dense : tf.layers.dense;
  return tf.sequential({layers: dims.slice(1).map((units, i) => make({
    inputShape: i === 0 ? [784] : undefined, units,
    activation: i === dims.length - 2 ? 'softmax' : 'relu',
  }))});
}

function renderChart() {
  const series = (['ER', 'Adam'] as const).filter(k => state.series[k].length > 0);
  tfvis.render.linechart($('accuracy-chart'),
                         {values: series.map(k => state.series[k]), series: [...series]},
                         {xLabel: 'update (ER) / epoch (Adam)', yLabel: 'test accuracy', width: 420, height: 240,
                          zoomToFit: true});
}

function renderResults() {
  $('results').querySelector('tbody')!.innerHTML = state.results.map(r =>
      `<tr><td>${r.optimizer}</td><td>${r.arch}</td><td>${r.epochs}</td>` +
      `<td>${(100 * r.accuracy).toFixed(2)} %</td><td>${r.seconds.toFixed(1)}</td></tr>`).join('');
}

async function renderEvaluation(model: tf.LayersModel, data: Subset) {
  const pred = tf.tidy(() => tf.argMax(model.predict(data.xTest) as tf.Tensor, 1)) as tf.Tensor1D;
  const labels = tf.tensor1d(data.testLabels, 'int32');
  const matrix = await tfvis.metrics.confusionMatrix(labels, pred, 10);
  await tfvis.render.confusionMatrix($('confusion'), {values: matrix, tickLabels: [...'0123456789']},
                                     {width: 420, height: 380});
  const predicted = await pred.data();
  tf.dispose([pred, labels]);
  const grid = $('digits');
  grid.innerHTML = '';
  for (let i = 0; i < 32; i++) {
    const fig = document.createElement('figure');
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = 28;
    const img = tf.tidy(() => tf.tensor3d(data.testPixels.subarray(i * 784, (i + 1) * 784), [28, 28, 1], 'int32'));
    await tf.browser.toPixels(img as tf.Tensor3D, canvas);
    img.dispose();
    const ok = predicted[i] === data.testLabels[i];
    const cap = document.createElement('figcaption');
    cap.className = ok ? 'ok' : 'bad';
    cap.textContent = ok ? `${predicted[i]}` : `${predicted[i]} (${data.testLabels[i]})`;
    fig.append(canvas, cap);
    grid.append(fig);
  }
}

async function train(optimizer: 'ER'|'Adam', data: Subset) {
  if (state.training) return;
  state.training = true;
  state.error = null;
  document.querySelectorAll('button').forEach(b => (b as HTMLButtonElement).disabled = true);
  const arch = $<HTMLSelectElement>('arch').value;
  const epochs = Number($<HTMLInputElement>(optimizer === 'ER' ? 'er-epochs' : 'adam-epochs').value);
  const batchSize = optimizer === 'ER' ? 2000 : 64;
  const batches = Math.ceil(data.xTrain.shape[0] / batchSize);
  const model = buildModel(arch, optimizer);
  const mode = $<HTMLSelectElement>('er-mode').value as 'er'|'erls';
  model.compile({optimizer: optimizer === 'ER' ? er({mode}) : tf.train.adam(1e-3),
                 loss: 'categoricalCrossentropy', metrics: ['accuracy']});
  state.series[optimizer] = [];
  const progress = $<HTMLProgressElement>('progress');
  let seconds = 0, accuracy = 0;
  try {
    for (let e = 1; e <= epochs; e++) {
      $('status').textContent = `${optimizer}: ${optimizer === 'ER' ? 'update' : 'epoch'} ${e}/${epochs}…`;
      const t0 = performance.now();
      await model.fit(data.xTrain, data.yTrain, {
        epochs: 1, batchSize, verbose: 0, yieldEvery: 'batch',
        callbacks: {onBatchEnd: async b => { progress.value = ((e - 1) + (b + 1) / batches) / epochs; }},
      });
      seconds += (performance.now() - t0) / 1000;
      const [, acc] = model.evaluate(data.xTest, data.yTest, {batchSize: 1000}) as tf.Scalar[];
      accuracy = (await acc.data())[0];
      tf.dispose(acc);
      state.series[optimizer].push({x: e, y: accuracy});
      renderChart();
    }
    const result = {optimizer: optimizer === 'ER' ? `ER (${mode})` : 'Adam', arch, epochs, accuracy, seconds};
    state.results.push(result);
    state.lastResult = result;
    renderResults();
    await renderEvaluation(model, data);
    state.model?.dispose();
    state.model = model;
    $('status').textContent = `${optimizer} done: test accuracy ${(100 * accuracy).toFixed(2)} % in ${seconds.toFixed(1)} s`;
  } catch (err) {
    state.error = String(err);
    $('status').textContent = `error: ${err}`;
    model.dispose();
  } finally {
    state.training = false;
    document.querySelectorAll('button').forEach(b => (b as HTMLButtonElement).disabled = false);
  }
}

/** The drawing pad: strokes on a 280×280 canvas, read as an MNIST-style 28×28 digit. */
function setupPad() {
  const pad = $<HTMLCanvasElement>('pad');
  const ctx = pad.getContext('2d')!;
  const clear = () => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, pad.width, pad.height);
  };
  clear();
  let drawing = false, last: [number, number]|null = null;
  const pos = (e: PointerEvent): [number, number] => {
    const r = pad.getBoundingClientRect();
    return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
  };
  pad.addEventListener('pointerdown', e => { drawing = true; last = pos(e); pad.setPointerCapture(e.pointerId); });
  pad.addEventListener('pointermove', e => {
    if (!drawing || !last) return;
    const p = pos(e);
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = 20;
    ctx.lineCap = ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(...last);
    ctx.lineTo(...p);
    ctx.stroke();
    last = p;
  });
  const finish = () => {
    if (!drawing) return;
    drawing = false;
    last = null;
    predictPad(pad);
  };
  pad.addEventListener('pointerup', finish);
  pad.addEventListener('pointerleave', finish);
  $('clear').addEventListener('click', () => {
    clear();
    state.padPrediction = null;
    $('pad-prediction').textContent = 'draw a digit';
  });
}

/** Crops the strokes, scales them into a 20×20 box centred on 28×28 (as MNIST), predicts. */
function predictPad(pad: HTMLCanvasElement) {
  if (!state.model) {
    $('pad-prediction').textContent = 'train a model first';
    return;
  }
  const img = tf.tidy(() => tf.mean(tf.browser.fromPixels(pad).toFloat(), 2)) as tf.Tensor2D;  // [280, 280]
  const [cols, rows] = tf.tidy(() => [tf.max(img, 0).dataSync(), tf.max(img, 1).dataSync()]);
  const first = (a: ArrayLike<number>) => Array.prototype.findIndex.call(a, (v: number) => v > 0);
  const lastIdx = (a: ArrayLike<number>) => a.length - 1 - first(Array.from(a).reverse());
  const r0 = first(rows), r1 = lastIdx(rows), c0 = first(cols), c1 = lastIdx(cols);
  if (r0 < 0 || c0 < 0) {
    img.dispose();
    return;
  }
  const probs = tf.tidy(() => {
    const side = Math.max(r1 - r0, c1 - c0) + 1;
    const box = tf.slice(img, [r0, c0], [r1 - r0 + 1, c1 - c0 + 1]);
    const scale = 20 / side;
    const h = Math.max(1, Math.round((r1 - r0 + 1) * scale)), w = Math.max(1, Math.round((c1 - c0 + 1) * scale));
    const small = tf.image.resizeBilinear(tf.expandDims(box, 2) as tf.Tensor3D, [h, w]);
    const top = Math.floor((28 - h) / 2), left = Math.floor((28 - w) / 2);
    const digit = tf.pad(small, [[top, 28 - h - top], [left, 28 - w - left], [0, 0]]);
    return state.model!.predict(tf.reshape(tf.div(digit, 255), [1, 784])) as tf.Tensor;
  });
  img.dispose();
  const p = probs.dataSync();
  probs.dispose();
  const best = p.indexOf(Math.max(...p));
  state.padPrediction = best;
  $('pad-prediction').innerHTML = `prediction: <b id="pad-digit">${best}</b> (${(100 * p[best]).toFixed(0)} %)`;
}

async function main() {
  await tf.setBackend('webgl').catch(() => false);
  await tf.ready();
  state.backend = tf.getBackend();
  $('backend').textContent = `the ${state.backend} backend`;
  const data = await loadSubset();
  setupPad();
  $('train-er').addEventListener('click', () => train('ER', data));
  $('train-adam').addEventListener('click', () => train('Adam', data));
  state.ready = true;
  $('status').textContent = `ready: ${data.xTrain.shape[0]} training and ${data.xTest.shape[0]} test digits`;
}

main().catch(e => {
  state.error = String(e);
  $('status').textContent = `error: ${e}`;
});
