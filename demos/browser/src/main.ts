/**
 * The tfjs-er browser demo: MNIST (10k/2k subset bundled with the page) on
 * the webgl backend, trained with ER or Adam, with live charts (tfjs-vis), a
 * confusion matrix, a grid of test digits, a drawing pad, and a "teach new
 * symbols" mode: an ER head (erHead) on the frozen features of the trained
 * model learns new symbols from a few drawings, at once; "teach objects" does
 * the same on a real pretrained image model (objects.ts). ER's passes run in
 * the page or on wasm Web Workers (the faster here: software WebGL is slow).
 */
import * as tf from '@tensorflow/tfjs';
import * as tfvis from '@tensorflow/tfjs-vis';
// Bundled from the library's ESM build, dist/tfjs-er.esm.js (see build.mjs); tfjs is a
// separate, shared import, as for any app using the package.
import {er, erHead, erLayers, extendERHead, WebWorkerPool, webWorkerPool} from 'tfjs-er';
import {objects, setupObjects} from './objects';

interface Subset {xTrain: tf.Tensor2D; yTrain: tf.Tensor2D; xTest: tf.Tensor2D; yTest: tf.Tensor2D;
                  testPixels: Uint8Array; testLabels: Uint8Array; }
interface RunResult {optimizer: string; arch: string; epochs: number; accuracy: number; seconds: number;
                   where: string; }

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const state = {
  backend: '', training: false, ready: false,
  results: [] as RunResult[], lastResult: null as RunResult|null,
  series: {ER: [] as Array<{x: number, y: number}>, Adam: [] as Array<{x: number, y: number}>},
  model: null as tf.LayersModel|null, padPrediction: null as number|null, error: null as string|null,
  teach: {
    /** Preprocessed drawings (1×784 each) and their symbol slots. */
    examples: [] as tf.Tensor2D[], labels: [] as number[],
    /** The head model, the base it sits on, and how many examples it has been taught. */
    head: null as tf.LayersModel|null, base: null as tf.LayersModel|null, taught: 0,
    prediction: null as string|null, lastSeconds: 0,
  },
};
(window as unknown as {__demo: unknown}).__demo = {tf, state, objects};

/** Web Worker pools by size, made on first use and kept for the page's life. */
const pools = new Map<number, WebWorkerPool>();
function workerPool(workers: number): WebWorkerPool {
  let pool = pools.get(workers);
  if (pool == null) {
    const url = (f: string) => new URL(`vendor/${f}`, location.href).href;
    pool = webWorkerPool({workers, backend: 'wasm', workerUrl: url('tfjs-er.worker.js'),
                          tfjsUrls: [url('tf.min.js'), url('tf-backend-wasm.min.js')], wasmPaths: url('')});
    pools.set(workers, pool);
  }
  return pool;
}
addEventListener('pagehide', () => pools.forEach(p => p.close()));

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
  // Seeded initialisers: runs of the demo (and its end-to-end test) are reproducible.
  return tf.sequential({layers: dims.slice(1).map((units, i) => make({
    inputShape: i === 0 ? [784] : undefined, units,
    activation: i === dims.length - 2 ? 'softmax' : 'relu',
    kernelInitializer: tf.initializers.glorotUniform({seed: 42 + i}),
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
      `<tr><td>${r.optimizer}</td><td>${r.where}</td><td>${r.arch}</td><td>${r.epochs}</td>` +
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
  const on = $<HTMLSelectElement>('er-executor').value;
  const executor = optimizer === 'ER' && on !== 'page' ? workerPool(Number(on)) : undefined;
  const where = optimizer === 'Adam' || executor == null ? `this page (${state.backend})` :
      `${on} wasm Web Worker${on === '1' ? '' : 's'}`;
  const opt = optimizer === 'ER' ? er({mode, executor}) : tf.train.adam(1e-3);
  model.compile({optimizer: opt, loss: 'categoricalCrossentropy', metrics: ['accuracy']});
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
    const result = {optimizer: optimizer === 'ER' ? `ER (${mode})` : 'Adam', arch, epochs, accuracy, seconds, where};
    state.results.push(result);
    state.lastResult = result;
    renderResults();
    await renderEvaluation(model, data);
    state.model?.dispose();
    state.model = model;
    $('status').textContent = `${optimizer} done on ${where}: test accuracy ${(100 * accuracy).toFixed(2)} % in ` +
        `${seconds.toFixed(1)} s`;
  } catch (err) {
    state.error = String(err);
    $('status').textContent = `error: ${err}`;
    model.dispose();
  } finally {
    state.training = false;
    document.querySelectorAll('button').forEach(b => (b as HTMLButtonElement).disabled = false);
    renderTeachCounts();
  }
}

/**
 * A drawing pad: strokes on a 280×280 canvas; `onStroke` runs after each stroke.
 * Returns a function that clears it.
 */
function setupPad(pad: HTMLCanvasElement, onStroke: () => void): () => void {
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
    onStroke();
  };
  pad.addEventListener('pointerup', finish);
  pad.addEventListener('pointerleave', finish);
  return clear;
}

/**
 * The drawing as an MNIST-style input [1, 784]: the strokes cropped, scaled
 * into a 20×20 box and centred on 28×28. Null when the pad is empty.
 */
function padToDigit(pad: HTMLCanvasElement): tf.Tensor2D|null {
  const img = tf.tidy(() => tf.mean(tf.browser.fromPixels(pad).toFloat(), 2)) as tf.Tensor2D;  // [280, 280]
  const [cols, rows] = tf.tidy(() => [tf.max(img, 0).dataSync(), tf.max(img, 1).dataSync()]);
  const first = (a: ArrayLike<number>) => Array.prototype.findIndex.call(a, (v: number) => v > 0);
  const lastIdx = (a: ArrayLike<number>) => a.length - 1 - first(Array.from(a).reverse());
  const r0 = first(rows), r1 = lastIdx(rows), c0 = first(cols), c1 = lastIdx(cols);
  if (r0 < 0 || c0 < 0) {
    img.dispose();
    return null;
  }
  const digit = tf.tidy(() => {
    const side = Math.max(r1 - r0, c1 - c0) + 1;
    const box = tf.slice(img, [r0, c0], [r1 - r0 + 1, c1 - c0 + 1]);
    const scale = 20 / side;
    const h = Math.max(1, Math.round((r1 - r0 + 1) * scale)), w = Math.max(1, Math.round((c1 - c0 + 1) * scale));
    const small = tf.image.resizeBilinear(tf.expandDims(box, 2) as tf.Tensor3D, [h, w]);
    const top = Math.floor((28 - h) / 2), left = Math.floor((28 - w) / 2);
    const padded = tf.pad(small, [[top, 28 - h - top], [left, 28 - w - left], [0, 0]]);
    return tf.reshape(tf.div(padded, 255), [1, 784]) as tf.Tensor2D;
  });
  img.dispose();
  return digit;
}

/** `model`'s class probabilities for the drawing on `pad` and the most likely class (null: empty pad). */
function classifyDrawing(model: tf.LayersModel, pad: HTMLCanvasElement): {best: number, p: Float32Array}|null {
  const digit = padToDigit(pad);
  if (digit == null) return null;
  const probs = tf.tidy(() => model.predict(digit) as tf.Tensor);
  digit.dispose();
  const p = probs.dataSync() as Float32Array;
  probs.dispose();
  return {best: p.indexOf(Math.max(...p)), p};
}

/** Predicts the digit drawn on the main pad with the trained model. */
function predictPad(pad: HTMLCanvasElement) {
  if (!state.model) {
    $('pad-prediction').textContent = 'train a model first';
    return;
  }
  const r = classifyDrawing(state.model, pad);
  if (r == null) return;
  const {best, p} = r;
  state.padPrediction = best;
  $('pad-prediction').innerHTML = `prediction: <b id="pad-digit">${best}</b> (${(100 * p[best]).toFixed(0)} %)`;
}

/** The names of the symbol slots (editable). */
function symbolNames(): string[] {
  return [0, 1, 2].map(i => $<HTMLInputElement>(`symbol-${i}`).value.trim() || `symbol ${i + 1}`);
}

function renderTeachCounts() {
  const counts = [0, 1, 2].map(i => state.teach.labels.filter(l => l === i).length);
  counts.forEach((c, i) => $(`count-${i}`).textContent = `${c}`);
  const pending = state.teach.examples.length - state.teach.taught;
  $<HTMLButtonElement>('teach').disabled = !state.model || pending === 0 || new Set(state.teach.labels).size < 2;
}

/** Adds the teach pad's drawing as an example of symbol `slot`. */
function addExample(pad: HTMLCanvasElement, slot: number, clear: () => void) {
  const digit = padToDigit(pad);
  if (digit == null) return;
  state.teach.examples.push(digit);
  state.teach.labels.push(slot);
  clear();
  $('teach-status').textContent = `added a drawing of "${symbolNames()[slot]}"`;
  renderTeachCounts();
}

/**
 * Trains the ER head on the examples it has not seen: the first time, a new
 * head on the frozen MNIST model; when a new symbol appears, the head is
 * extended (old examples are not needed again); then one fit = one solve.
 */
async function teach() {
  const t = state.teach;
  if (!state.model) return;
  const classes = Math.max(...t.labels) + 1;
  const labels = symbolNames().slice(0, classes);
  if (t.head == null || t.base !== state.model) {
    t.head = erHead(state.model, {classes, labels});
    t.base = state.model;
    t.taught = 0;
  } else if (classes > (t.head.outputs[0].shape[1] as number)) {
    t.head = extendERHead(t.head, {classes, labels});
  }
  const fresh = t.examples.slice(t.taught), freshLabels = t.labels.slice(t.taught);
  const x = tf.concat(fresh), y = tf.tidy(() => tf.oneHot(tf.tensor1d(freshLabels, 'int32'), classes).toFloat());
  const t0 = performance.now();
  await t.head.fit(x, y, {epochs: 1, batchSize: 256, verbose: 0});
  t.lastSeconds = (performance.now() - t0) / 1000;
  tf.dispose([x, y]);
  t.taught = t.examples.length;
  $('teach-status').textContent = `taught ${fresh.length} new drawing(s) in ${(1000 * t.lastSeconds).toFixed(0)} ms ` +
      `(${t.taught} in all, ${classes} symbols); now draw one to see the prediction`;
  renderTeachCounts();
}

/** Predicts the symbol on the teach pad with the ER head. */
function predictSymbol(pad: HTMLCanvasElement) {
  const t = state.teach;
  if (!t.head) return;
  const r = classifyDrawing(t.head, pad);
  if (r == null) return;
  const {best, p} = r;
  const names = symbolNames();
  t.prediction = names[best];
  $('teach-prediction').innerHTML = `it looks like: <b id="teach-symbol">${names[best]}</b> (${(100 * p[best]).toFixed(0)} %)`;
}

function setupTeach() {
  const pad = $<HTMLCanvasElement>('teach-pad');
  const clear = setupPad(pad, () => predictSymbol(pad));
  for (const i of [0, 1, 2]) $(`add-${i}`).addEventListener('click', () => addExample(pad, i, clear));
  $('teach-clear').addEventListener('click', () => {
    clear();
    state.teach.prediction = null;
    $('teach-prediction').textContent = '';
  });
  $('teach').addEventListener('click', () => {
    teach().catch(e => {
      state.error = String(e);
      $('teach-status').textContent = `error: ${e}`;
    });
  });
  renderTeachCounts();
}

async function main() {
  await tf.setBackend('webgl').catch(() => false);
  await tf.ready();
  state.backend = tf.getBackend();
  $('backend').textContent = `the ${state.backend} backend`;
  const data = await loadSubset();
  const pad = $<HTMLCanvasElement>('pad');
  const clearPad = setupPad(pad, () => predictPad(pad));
  $('clear').addEventListener('click', () => {
    clearPad();
    state.padPrediction = null;
    $('pad-prediction').textContent = 'draw a digit';
  });
  setupTeach();
  setupObjects();
  $('train-er').addEventListener('click', () => train('ER', data));
  $('train-adam').addEventListener('click', () => train('Adam', data));
  state.ready = true;
  $('status').textContent = `ready: ${data.xTrain.shape[0]} training and ${data.xTest.shape[0]} test digits`;
}

main().catch(e => {
  state.error = String(e);
  $('status').textContent = `error: ${e}`;
});
