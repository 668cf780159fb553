/**
 * Suite `transfer`: classifier heads on a real pretrained backbone — the
 * MobileNetV2 that nsfwjs ships (bench/backbone.ts), frozen — trained on
 * CIFAR-10 features, against the recipes people use:
 *   - erHead: one ridge solve, α by GCV (and with a random ReLU projection);
 *   - the Teachable-Machine head: dense(100, relu) → dense(softmax), Adam lr 1e-3, 50 epochs, batch 16;
 *   - the ml5 featureExtractor head: the same layers, Adam lr 1e-4, 20 epochs, batch 0.4·n;
 *   - @tensorflow-models/knn-classifier, k = 3.
 * Few-shot (1 … 1,000 examples per class) and class-incremental (5 tasks of
 * 2 classes). Features are extracted once (two processes) and cached under
 * .cache/transfer/ (never committed). `--probe` compares input sizes,
 * preprocessing and layers on a small subset instead (the choice of backbone setup).
 * Writes bench/results/transfer.{json,md,svg} (or transfer-probe.{json,md}).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import * as knnClassifier from '@tensorflow-models/knn-classifier';
import {BAND_MIN_WIDTH, BAND_WIDTH, bandScoring} from '../src/engine/band';
import {disposeRidgeState, RidgeAccumulator} from '../src/engine/index';
import {ERHead, erHead, extendERHead} from '../src/index';
import {installWasmTransposeFix} from './harness/wasm_matmul_fix';
import {median, ROOT, RESULTS, runJson, table, writeResults} from './lib';

/** One extraction setup of the backbone. */
interface Setup {size: number; layer: string; range: 'unit'|'signed'}

/** Features of a per-class subset: n×d rows, their labels, and the extraction's seconds per image (one process). */
interface Features {x: Float32Array; labels: number[]; n: number; d: number; secondsPerImage: number}

const CACHE = path.join(ROOT, '.cache', 'transfer');

/** The features of the first `perClass` images per class of `split`, from the cache or extracted (2 processes). */
async function features(split: 'train'|'test', perClass: number, s: Setup): Promise<Features> {
  fs.mkdirSync(CACHE, {recursive: true});
  const base = path.join(CACHE, `mnv2-${s.size}-${s.layer}-${s.range}-${split}-${perClass}`);
  if (fs.existsSync(`${base}.json`)) {
    const meta = JSON.parse(fs.readFileSync(`${base}.json`, 'utf8')) as {labels: number[], d: number,
                                                                          seconds_per_image: number};
    const buf = fs.readFileSync(`${base}.f32`);
    const x = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4).slice();
    return {x, labels: meta.labels, n: meta.labels.length, d: meta.d, secondsPerImage: meta.seconds_per_image};
  }
  const parts = Number(process.env.ER_TRANSFER_PARTS ?? 2);
  console.error(`  transfer: extracting ${split} ${perClass}/class at ${s.size}px (${s.layer}, ${s.range})`);
  const outs = await Promise.all(Array.from({length: parts}, (_, p) => runJson<{rows: number, d: number,
      seconds: number, labels: number[]}>('transfer_features.ts', ['--split', split, '--per-class', String(perClass),
      '--size', String(s.size), '--layer', s.layer, '--range', s.range, '--part', String(p), '--parts', String(parts),
      '--out', `${base}.part${p}`], `features ${split} part ${p}`)));
  const n = outs.reduce((a, o) => a + o.rows, 0), d = outs[0].d;
  const x = new Float32Array(n * d), labels = new Array<number>(n);
  outs.forEach((o, p) => {
    const buf = fs.readFileSync(`${base}.part${p}`);
    const f = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    for (let i = 0; i < o.rows; i++) {
      const row = i * parts + p;  // the worker took every parts-th row
      x.set(f.subarray(i * d, (i + 1) * d), row * d);
      labels[row] = o.labels[i];
    }
    fs.rmSync(`${base}.part${p}`);
  });
  fs.writeFileSync(`${base}.f32`, Buffer.from(x.buffer));
  const secondsPerImage = outs.reduce((a, o) => a + o.seconds, 0) / n;
  fs.writeFileSync(`${base}.json`, JSON.stringify({labels, d, seconds_per_image: secondsPerImage}));
  return {x, labels, n, d, secondsPerImage};
}

/** Rows `rows` of `f` as tensors: features [n, d] and one-hot labels over `classes`. */
function tensors(f: Features, rows: number[], classes = 10, relabel = (l: number) => l) {
  const x = new Float32Array(rows.length * f.d);
  rows.forEach((r, i) => x.set(f.x.subarray(r * f.d, (r + 1) * f.d), i * f.d));
  return tf.tidy(() => ({
    x: tf.tensor2d(x, [rows.length, f.d]),
    y: tf.oneHot(tf.tensor1d(rows.map(r => relabel(f.labels[r])), 'int32'), classes).toFloat() as tf.Tensor2D,
  }));
}

/** `k` random rows of each class among `rows` (seeded). */
function sample(f: Features, k: number, seed: number, classes: number[]): number[] {
  let s = seed * 2654435761 >>> 0;
  const rand = () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  return classes.flatMap(c => {
    const of = f.labels.map((l, i) => [l, i]).filter(([l]) => l === c).map(([, i]) => i);
    for (let i = of.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [of[i], of[j]] = [of[j], of[i]];
    }
    return of.slice(0, k);
  });
}

/** Accuracy of `predict` (scores [n, ≥classes]) over the first `classes` columns. */
function accuracy(scores: tf.Tensor, y: tf.Tensor, classes: number): number {
  return tf.tidy(() => {
    const s = tf.slice(scores, [0, 0], [-1, classes]);
    return tf.mean(tf.cast(tf.equal(tf.argMax(s, 1), tf.argMax(y, 1)), 'float32')).dataSync()[0];
  });
}

/** A model whose output is its input: the cached features stand in for the frozen backbone. */
function featureInput(d: number): tf.LayersModel {
  const input = tf.input({shape: [d]});
  return tf.model({inputs: input, outputs: input});
}

interface Trained {predict: (x: tf.Tensor) => tf.Tensor; seconds: number; bytes: number; dispose: () => void}

async function trainER(x: tf.Tensor, y: tf.Tensor, classes: number, opts: {alpha?: number|'auto', units?: number} = {}):
    Promise<Trained & {model: tf.LayersModel}> {
  const d = x.shape[1]!;
  const model = erHead(featureInput(d), {classes, alpha: opts.alpha ?? 'auto',
                                         projection: opts.units ? {units: opts.units, seed: 1} : undefined});
  const t0 = performance.now();
  await model.fit(x, y, {epochs: 1, batchSize: 4096, verbose: 0});
  const seconds = (performance.now() - t0) / 1000;
  const w = opts.units ?? d;
  return {model, seconds, bytes: 4 * (w * w + w * classes + 2 * w + 2 * classes + 1 + (w + 1) * classes),
          predict: z => model.predict(z) as tf.Tensor, dispose: () => disposeER(model)};
}

function disposeER(model: tf.LayersModel) {
  model.optimizer?.dispose();
  model.dispose();
}

/** The Teachable-Machine (lr 1e-3, 50 epochs, batch 16) or ml5 (lr 1e-4, 20 epochs, batch 0.4·n) head. */
async function trainDense(x: tf.Tensor, y: tf.Tensor, classes: number, recipe: 'tm'|'ml5', seed: number,
                          init?: tf.Sequential): Promise<Trained & {model: tf.Sequential}> {
  const d = x.shape[1]!, n = x.shape[0];
  const scaling = () => tf.initializers.varianceScaling({scale: 1, mode: 'fanIn', distribution: 'normal', seed: seed++});
  const model = init ?? tf.sequential({layers: [
    tf.layers.dense({inputShape: [d], units: 100, activation: 'relu', kernelInitializer: scaling(), useBias: true}),
    tf.layers.dense({units: classes, activation: 'softmax', kernelInitializer: scaling(), useBias: false}),
  ]});
  if (init == null) {
    model.compile({optimizer: tf.train.adam(recipe === 'tm' ? 1e-3 : 1e-4), loss: 'categoricalCrossentropy'});
  }
  const t0 = performance.now();
  await model.fit(x, y, {epochs: recipe === 'tm' ? 50 : 20, verbose: 0, shuffle: true,
                         batchSize: recipe === 'tm' ? 16 : Math.max(1, Math.floor(0.4 * n))});
  const seconds = (performance.now() - t0) / 1000;
  const params = d * 100 + 100 + 100 * classes;
  return {model, seconds, bytes: 4 * 3 * params, predict: z => model.predict(z) as tf.Tensor,
          dispose: () => model.dispose()};
}

/** knn-classifier (k = 3): every example stored; scores one-hot of the predicted class. */
async function trainKnn(x: tf.Tensor, y: tf.Tensor, classifier = knnClassifier.create()):
    Promise<Trained & {classifier: knnClassifier.KNNClassifier, predictAsync: (x: tf.Tensor, classes: number) => Promise<tf.Tensor>}> {
  const labels = tf.tidy(() => tf.argMax(y, 1)).dataSync();
  const t0 = performance.now();
  const rows = tf.unstack(x);
  rows.forEach((r, i) => classifier.addExample(r, labels[i]));
  tf.dispose(rows);
  const seconds = (performance.now() - t0) / 1000;
  const stored = Object.values(classifier.getClassExampleCount()).reduce((a, b) => a + b, 0);
  const predictAsync = async (z: tf.Tensor, classes: number) => {
    const out: number[] = [];
    const zs = tf.unstack(z);
    for (const r of zs) out.push(Number((await classifier.predictClass(r, 3)).label));
    tf.dispose(zs);
    return tf.oneHot(tf.tensor1d(out, 'int32'), classes);
  };
  return {classifier, seconds, bytes: 4 * stored * x.shape[1]!, predictAsync,
          predict: () => { throw new Error('use predictAsync'); }, dispose: () => classifier.dispose()};
}

const mb = (b: number) => (b / 2 ** 20).toFixed(1);
const pct = (v: number) => (100 * v).toFixed(1);

interface Shot {perClass: number; seed: number; method: string; acc: number; seconds: number; bytes: number}

const PER_CLASS = [1, 5, 20, 100, 1000];
const TEST_PER_CLASS = 200;
/** Projection width of the "+ projection" rows. */
const UNITS = Number(process.env.ER_TRANSFER_UNITS ?? 2048);

async function fewShot(train: Features, test: Features): Promise<Shot[]> {
  const all = Array.from({length: 10}, (_, c) => c);
  const te = tensors(test, test.labels.map((_, i) => i));
  const shots: Shot[] = [];
  for (const perClass of PER_CLASS) {
    const seeds = perClass <= 20 ? [1, 2, 3] : [1];
    for (const seed of seeds) {
      const rows = perClass >= 1000 ? train.labels.map((_, i) => i) : sample(train, perClass, seed, all);
      const {x, y} = tensors(train, rows);
      const record = (method: string, t: Trained, acc: number) =>
          shots.push({perClass, seed, method, acc, seconds: t.seconds, bytes: t.bytes});
      for (const [method, run] of [
        ['erHead (GCV)', () => trainER(x, y, 10)],
        ['erHead α = 1e-3', () => trainER(x, y, 10, {alpha: 1e-3})],
        [`erHead (GCV) + projection ${UNITS}`, () => trainER(x, y, 10, {units: UNITS})],
        ['Teachable-Machine head', () => trainDense(x, y, 10, 'tm', seed)],
        ['ml5 featureExtractor head', () => trainDense(x, y, 10, 'ml5', seed)],
      ] as Array<[string, () => Promise<Trained>]>) {
        const t = await run();
        const s = t.predict(te.x);
        record(method, t, accuracy(s, te.y, 10));
        s.dispose();
        t.dispose();
      }
      const k = await trainKnn(x, y);
      const s = await k.predictAsync(te.x, 10);
      record('knn-classifier k = 3', k, accuracy(s, te.y, 10));
      s.dispose();
      k.dispose();
      tf.dispose([x, y]);
      console.error(`  transfer few-shot: ${perClass}/class seed ${seed}: ` +
                    shots.filter(c => c.perClass === perClass && c.seed === seed).map(c => `${c.method} ${pct(c.acc)}`).join(', '));
    }
  }
  tf.dispose([te.x, te.y]);
  return shots;
}

interface Step {task: number; method: string; acc: number; seconds: number}

const INC_PER_CLASS = Number(process.env.ER_TRANSFER_INC_PER_CLASS ?? 500);

async function classIncremental(train: Features, test: Features): Promise<{steps: Step[], joint: number}> {
  const steps: Step[] = [];
  const seen = (t: number) => Array.from({length: 2 * t}, (_, c) => c);
  const rowsOf = (f: Features, classes: number[], perClass: number) => {
    const count = new Map<number, number>();
    return f.labels.map((l, i) => [l, i]).filter(([l]) => {
      if (!classes.includes(l)) return false;
      count.set(l, (count.get(l) ?? 0) + 1);
      return count.get(l)! <= perClass;
    }).map(([, i]) => i);
  };
  let er: tf.LayersModel|null = null;
  let tmSeq: tf.Sequential|null = null;
  const knn = knnClassifier.create();
  let knnTrained: Awaited<ReturnType<typeof trainKnn>>|null = null;
  let joint = NaN;
  for (let task = 1; task <= 5; task++) {
    const classes = seen(task);
    const newRows = rowsOf(train, [2 * task - 2, 2 * task - 1], INC_PER_CLASS);
    const seenRows = rowsOf(train, classes, INC_PER_CLASS);
    const te = tensors(test, rowsOf(test, classes, Infinity), 2 * task);
    // ER: the head extended by two classes, fitted on the new task's examples only
    const fresh = tensors(train, newRows, 2 * task);
    let t0 = performance.now();
    const grown: tf.LayersModel = er == null ? erHead(featureInput(train.d), {classes: 2}) :
        extendERHead(er, {classes: 2 * task});
    await grown.fit(fresh.x, fresh.y, {epochs: 1, batchSize: 4096, verbose: 0});
    const erSeconds = (performance.now() - t0) / 1000;
    if (er != null) disposeER(er);
    er = grown;
    let s = er.predict(te.x) as tf.Tensor;
    steps.push({task, method: 'erHead + extendERHead (new task only)', acc: accuracy(s, te.y, 2 * task), seconds: erSeconds});
    s.dispose();
    // Teachable-Machine head, 10 outputs, trained on each new task alone (continuing its weights)
    const fresh10 = tensors(train, newRows, 10);
    const tmS = await trainDense(fresh10.x, fresh10.y, 10, 'tm', task, tmSeq ?? undefined);
    tmSeq = tmS.model;
    s = tmSeq.predict(te.x) as tf.Tensor;
    steps.push({task, method: 'Teachable-Machine head, new task only', acc: accuracy(s, te.y, 2 * task), seconds: tmS.seconds});
    s.dispose();
    // Teachable-Machine head retrained from scratch on all seen data (needs the old examples)
    const old = tensors(train, seenRows, 2 * task);
    const tmR = await trainDense(old.x, old.y, 2 * task, 'tm', 100 + task);
    s = tmR.predict(te.x);
    steps.push({task, method: 'Teachable-Machine head, retrained on all seen data', acc: accuracy(s, te.y, 2 * task),
                seconds: tmR.seconds});
    s.dispose();
    tmR.dispose();
    // knn-classifier: the new examples added
    knnTrained = await trainKnn(fresh10.x, fresh10.y, knn);
    s = await knnTrained.predictAsync(te.x, 10);
    steps.push({task, method: 'knn-classifier k = 3', acc: accuracy(s, te.y, 2 * task), seconds: knnTrained.seconds});
    s.dispose();
    if (task === 5) {
      // the incremental head against one joint solve on all seen examples
      t0 = performance.now();
      const j = erHead(featureInput(train.d), {classes: 10});
      await j.fit(old.x, old.y, {epochs: 1, batchSize: 4096, verbose: 0});
      const a = (er.getLayer('er_head') as ERHead).getWeights()[0], b = (j.getLayer('er_head') as ERHead).getWeights()[0];
      joint = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / tf.max(tf.abs(b)).dataSync()[0]);
      disposeER(j);
    }
    tf.dispose([fresh.x, fresh.y, fresh10.x, fresh10.y, old.x, old.y, te.x, te.y]);
    console.error(`  transfer incremental: task ${task}: ` +
                  steps.filter(x => x.task === task).map(x => `${x.method} ${pct(x.acc)}`).join(', '));
  }
  if (er != null) disposeER(er);
  tmSeq?.dispose();
  knn.dispose();
  return {steps, joint};
}

interface SolveCost {width: number; auto: number; tridiagonal: number; fixed: number; ratio: number; alpha: number;
                    alphaTridiagonal: number}

/**
 * The head's solve alone, α 'auto' (GCV) against a fixed α, on the Gram of
 * all training features (and of their random ReLU projections to wider
 * widths): medians of 5, each solve from a fresh copy of the statistics, the
 * three kinds taken in turn. 'auto' is timed as shipped (the band form from
 * {@link bandScoring}'s threshold on) and with every width scored on the
 * float64 tridiagonal form.
 */
const REPEATS = 5;

function solveCosts(train: Features): SolveCost[] {
  const out: SolveCost[] = [];
  const {x, y} = tensors(train, train.labels.map((_, i) => i));
  const t = tf.tidy(() => tf.sub(tf.mul(y, 4), 2));
  const shippedMin = bandScoring.minWidth;
  for (const width of [train.d, 768, 1024, 1280, 2048]) {
    const a = width === train.d ? x : tf.tidy(() => tf.relu(tf.matMul(x, tf.randomNormal([train.d, width], 0, 1 / Math.sqrt(train.d), 'float32', 1))));
    const acc = new RidgeAccumulator(width, 10, `width ${width}`);
    tf.tidy(() => acc.add(a, t));
    const state = acc.exportState();
    acc.dispose();
    const runs = {auto: [] as number[], tridiagonal: [] as number[], fixed: [] as number[]};
    const chosen = {auto: 0, tridiagonal: 0};
    const time = (alpha: number|'auto', minWidth: number) => {
      bandScoring.minWidth = minWidth;
      const fresh = RidgeAccumulator.fromState(state, `width ${width}`);
      const t0 = performance.now();
      const a = fresh.solve({alpha}).alpha;
      const seconds = (performance.now() - t0) / 1000;
      fresh.dispose();
      bandScoring.minWidth = shippedMin;
      return {seconds, alpha: a};
    };
    for (let r = 0; r < REPEATS; r++) {
      const au = time('auto', shippedMin), tri = time('auto', Infinity), fx = time(1e-3, shippedMin);
      runs.auto.push(au.seconds);
      runs.tridiagonal.push(tri.seconds);
      runs.fixed.push(fx.seconds);
      chosen.auto = au.alpha;
      chosen.tridiagonal = tri.alpha;
    }
    const auto = median(runs.auto), fixed = median(runs.fixed);
    out.push({width, auto, tridiagonal: median(runs.tridiagonal), fixed, ratio: auto / fixed, alpha: chosen.auto,
              alphaTridiagonal: chosen.tridiagonal});
    disposeRidgeState(state);
    if (a !== x) a.dispose();
    console.error(`  transfer solve: width ${width}: auto ${auto.toFixed(2)} s, tridiagonal ${median(runs.tridiagonal).toFixed(2)} s, fixed ${fixed.toFixed(2)} s`);
  }
  tf.dispose([x, y, t]);
  return out;
}

function plot(shots: Shot[]): string {
  const methods = [...new Set(shots.map(s => s.method))];
  const colours = ['#1f77b4', '#aec7e8', '#2ca02c', '#d62728', '#ff7f0e', '#9467bd'];
  const W = 560, H = 300, L = 50, B = 30, T = 10;
  const xs = (k: number) => L + (Math.log10(k) / 3) * (W - L - 170);
  const ys = (a: number) => T + (1 - a) * (H - T - B);
  const parts: string[] = [];
  for (let g = 0; g <= 10; g += 2) {
    parts.push(`<line x1="${L}" x2="${W - 170}" y1="${ys(g / 10)}" y2="${ys(g / 10)}" stroke="#eee"/>`,
               `<text x="${L - 6}" y="${ys(g / 10) + 4}" text-anchor="end">${g * 10}%</text>`);
  }
  for (const k of PER_CLASS) parts.push(`<text x="${xs(k)}" y="${H - 10}" text-anchor="middle">${k}</text>`);
  methods.forEach((m, i) => {
    const pts = PER_CLASS.map(k => {
      const v = shots.filter(s => s.method === m && s.perClass === k).map(s => s.acc);
      return v.length ? `${xs(k).toFixed(1)},${ys(v.reduce((a, b) => a + b, 0) / v.length).toFixed(1)}` : null;
    }).filter(p => p != null);
    parts.push(`<polyline fill="none" stroke="${colours[i % colours.length]}" stroke-width="2" points="${pts.join(' ')}"/>`,
               `<text x="${W - 160}" y="${T + 14 + 16 * i}" fill="${colours[i % colours.length]}">${m}</text>`);
  });
  return [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
          ...parts, `<text x="${(L + W - 170) / 2}" y="${H}" text-anchor="middle">examples per class</text>`, '</svg>', ''].join('\n');
}

const SETUP: Setup = {size: Number(process.env.ER_TRANSFER_SIZE ?? 96), layer: process.env.ER_TRANSFER_LAYER ?? 'block_11_expand_relu',
                      range: (process.env.ER_TRANSFER_RANGE as Setup['range']) ?? 'unit'};

export async function transferSuite(): Promise<void> {
  await tf.setBackend('wasm');
  installWasmTransposeFix();
  const train = await features('train', 1000, SETUP), test = await features('test', TEST_PER_CLASS, SETUP);
  // warm-up (JIT, kernels) on 20 rows
  {
    const w = tensors(train, sample(train, 2, 9, Array.from({length: 10}, (_, c) => c)));
    for (const t of [await trainER(w.x, w.y, 10), await trainDense(w.x, w.y, 10, 'ml5', 1)]) t.dispose();
    tf.dispose([w.x, w.y]);
  }
  const solves = solveCosts(train);
  const shots = await fewShot(train, test);
  const inc = await classIncremental(train, test);
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const methods = [...new Set(shots.map(s => s.method))];
  const shotRows = methods.map(m => [m, ...PER_CLASS.map(k => {
    const c = shots.filter(s => s.method === m && s.perClass === k);
    return `${pct(mean(c.map(s => s.acc)))} (${median(c.map(s => s.seconds)).toFixed(2)} s)`;
  }), mb(shots.find(s => s.method === m && s.perClass === 1000)!.bytes)]);
  const incMethods = [...new Set(inc.steps.map(s => s.method))];
  const incRows = incMethods.map(m => {
    const c = inc.steps.filter(s => s.method === m);
    return [m, ...c.map(s => pct(s.acc)), pct(mean(c.map(s => s.acc))), c.reduce((a, s) => a + s.seconds, 0).toFixed(1)];
  });
  const setup = `MobileNetV2 from nsfwjs at ${SETUP.size}×${SETUP.size} (CIFAR-10's 32×32 images resized bilinearly), ` +
      `features: ${SETUP.layer} (d = ${train.d}), pixels ${SETUP.range === 'unit' ? 'in [0, 1] as nsfwjs feeds them' : 'in [−1, 1]'}; ` +
      `${(1000 * train.secondsPerImage).toFixed(0)} ms per image per process to extract (2 processes), cached. ` +
      `Train pool: the first 1,000 training images of each class; test: the first ${TEST_PER_CLASS} test images of ` +
      `each class (${test.n}). wasm backend, one process, heads trained on the cached features (the backbone's ` +
      `time is not counted for any method), after a warm-up.`;
  writeResults('transfer', 'npm run bench -- --suite transfer', {setup: SETUP, shots, incremental: inc, solves},
               ['### Few-shot: test accuracy % (median training seconds)', '',
                table(['method', ...PER_CLASS.map(k => `${k} / class`), 'state MB at 1,000 / class'], shotRows), '',
                '### Class-incremental: 5 tasks of 2 classes, accuracy % on the test images of all classes seen', '',
                table(['method', 'after task 1', '2', '3', '4', '5 (final)', 'average incremental', 'training s (all tasks)'],
                      incRows), '',
                `### The head's solve: α 'auto' (GCV over 11 α) vs a fixed α, on ${train.n} rows`, '',
                table(['width d', "'auto' s", "'auto' on the float64 tridiagonal form s", 'α = 1e-3 s',
                       "'auto' / fixed", 'α chosen (tridiagonal form)'],
                      solves.map(c => [c.width, c.auto.toFixed(3), c.tridiagonal.toFixed(3), c.fixed.toFixed(3),
                                       c.ratio.toFixed(2) + '×', `${c.alpha} (${c.alphaTridiagonal})`]))].join('\n'),
               [setup,
                'Few-shot: k random examples per class from the pool (seeds 1–3 for k ≤ 20, one draw for 100; all ' +
                '1,000 for 1,000); accuracy is the mean over seeds. erHead: one fit, α by GCV from the statistics ' +
                `(α = 1e-3 fixed for comparison), "+ projection": a frozen random ReLU layer of ${UNITS} units before ` +
                'the head (RanPAC). Teachable-Machine head: dense(100, relu) → dense(softmax), varianceScaling init, ' +
                'Adam lr 1e-3, 50 epochs, batch 16 (no validation split, all examples trained); ml5 featureExtractor: ' +
                'the same layers, Adam lr 1e-4, 20 epochs, batch ⌊0.4·n⌋. Adam runs with the wasm matMul fix. ' +
                'knn-classifier: @tensorflow-models/knn-classifier, k = 3 (time = adding the examples). "state" = ' +
                'what the method keeps to predict and to learn more: ER its statistics (d² + …), the dense heads ' +
                'their weights and Adam moments, kNN every example.',
                `Class-incremental: tasks {0,1}, {2,3}, …, {8,9}, ${INC_PER_CLASS} training images per class. erHead is ` +
                'extended by extendERHead and fitted on the new task\'s examples only; after task 5 its weights equal ' +
                `the joint solve on all 10 classes' examples within ${inc.joint.toExponential(1)} (max relative). ` +
                'The Teachable-Machine head has 10 outputs from the start and is trained on each task alone (scores ' +
                'restricted to the classes seen); "retrained" starts afresh on all data seen so far each task.',
                'Solve: the solve of the head from its statistics (the Gram of the 10,000 training features, ' +
                `or of their frozen random ReLU projection to the width shown), median of ${REPEATS}, the three kinds in turn; ` +
                `'auto' as shipped scores the GCV grid on a float32 band form (half-bandwidth ${BAND_WIDTH}) from ` +
                `d = ${BAND_MIN_WIDTH} on with at least 2 rows per column (wasm), then solves at the chosen α by conjugate gradients preconditioned ` +
                'with that form (float64 residuals, to a normwise backward error of 1e-12), below it on the float64 ' +
                'tridiagonal form; the fit times above also include accumulating the Gram.',
                'Plot: bench/results/transfer.svg.']);
  fs.writeFileSync(path.join(RESULTS, 'transfer.svg'), plot(shots));
}

/** `--probe`: which input size, preprocessing and layer give the best features (erHead GCV, 100/class, 500 test). */
export async function transferProbe(): Promise<void> {
  await tf.setBackend('wasm');
  const setups: Setup[] = process.env.ER_TRANSFER_PROBE ?
      process.env.ER_TRANSFER_PROBE.split(',').map(t => {
        const [size, layer, range] = t.split(':');
        return {size: Number(size), layer, range: (range ?? 'unit') as Setup['range']};
      }) : [
    {size: 96, layer: 'flatten_1', range: 'unit'}, {size: 96, layer: 'flatten_1', range: 'signed'},
    {size: 224, layer: 'flatten_1', range: 'unit'}, {size: 96, layer: 'block_16_project_BN', range: 'unit'},
    {size: 96, layer: 'block_16_expand_relu', range: 'unit'}, {size: 96, layer: 'block_13_expand_relu', range: 'unit'},
    {size: 96, layer: 'block_11_expand_relu', range: 'unit'}, {size: 128, layer: 'block_11_expand_relu', range: 'unit'},
    {size: 128, layer: 'block_9_expand_relu', range: 'unit'}, {size: 128, layer: 'block_6_expand_relu', range: 'unit'},
    {size: 128, layer: 'block_11_expand_relu', range: 'signed'}, {size: 224, layer: 'block_11_expand_relu', range: 'unit'},
  ];
  const rows: Array<Array<string|number>> = [], data: unknown[] = [];
  for (const s of setups) {
    const train = await features('train', 100, s), test = await features('test', 50, s);
    const a = tensors(train, train.labels.map((_, i) => i)), b = tensors(test, test.labels.map((_, i) => i));
    const er = await trainER(a.x, a.y, 10);
    const p = er.predict(b.x);
    const acc = accuracy(p, b.y, 10);
    rows.push([s.size, s.layer, s.range, train.d, pct(acc), (1000 * train.secondsPerImage).toFixed(0)]);
    data.push({...s, d: train.d, acc, seconds_per_image: train.secondsPerImage});
    tf.dispose([a.x, a.y, b.x, b.y, p]);
    er.dispose();
  }
  writeResults('transfer-probe', 'npm run bench -- --suite transfer-probe', data,
               table(['input px', 'layer', 'pixels', 'd', 'erHead (GCV) test acc %', 'ms / image to extract'], rows),
               ['CIFAR-10 through the nsfwjs MobileNetV2: the first 100 training images per class (1,000), the first ' +
                '50 test images per class (500); erHead, α by GCV; 4-D layers global-average pooled. "unit" = pixels ' +
                'in [0, 1] (what nsfwjs feeds its model), "signed" = [−1, 1] (Keras MobileNetV2 preprocessing).']);
}
