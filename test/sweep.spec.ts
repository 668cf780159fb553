import * as tf from '@tensorflow/tfjs';
import {dataScaledInit, DenseState, ERInputError, erSweep, SweepCache, SweepConfig, tensorBatches, UnitWeights} from '../src/engine/index';
import {describeBackends, expectNoLeak} from './helpers/backends';
import {ridgeReference} from './helpers/linalg';
import {readCsv, readReferenceJson} from './helpers/fixtures';

/** Replaces the layers' weights by the sweep's, disposing the old ones. */
function assign(layers: DenseState[], weights: Array<UnitWeights|null>) {
  weights.forEach((w, i) => {
    if (w == null) return;
    layers[i].kernel.dispose();
    layers[i].bias?.dispose();
    layers[i].kernel = w.kernel as tf.Tensor2D;
    layers[i].bias = w.bias;
  });
}

function disposeLayers(layers: DenseState[]) {
  layers.forEach(l => tf.dispose([l.kernel, l.bias].filter(t => t != null) as tf.Tensor[]));
}

function mlp(widths: number[], hidden: DenseState['activation'], out: DenseState['activation']):
    DenseState[] {
  return widths.slice(1).map((q, i) => ({
    name: `dense_${i + 1}`,
    kernel: tf.zeros([widths[i], q]) as tf.Tensor2D,
    bias: tf.zeros([q]) as tf.Tensor1D,
    activation: i === widths.length - 2 ? out : hidden,
    trainable: true,
  }));
}

function errorRate(layers: DenseState[], x: tf.Tensor2D, labels: number[]): number {
  return tf.tidy(() => {
    let a: tf.Tensor2D = x;
    let h: tf.Tensor2D = x;
    layers.forEach((l, i) => {
      h = tf.add(tf.matMul(a, l.kernel), l.bias!) as tf.Tensor2D;
      a = i < layers.length - 1 ? (l.activation === 'relu' ? tf.relu(h) : tf.tanh(h)) : h;
    });
    const pred = tf.argMax(h, 1).dataSync();
    let wrong = 0;
    labels.forEach((y, i) => { if (pred[i] !== y) wrong++; });
    return wrong / labels.length;
  });
}

function initialise(layers: DenseState[], x: tf.Tensor2D, seed: number) {
  assign(layers, dataScaledInit(layers, x, seed));
}

describeBackends('ER sweep', () => {
  let ref: any;
  let logX: number[][], logY: number[];
  let ringX: number[][], ringY: number[];
  beforeAll(async () => {
    ref = await readReferenceJson();
    const lg = await readCsv('logistic.csv');
    logX = lg.rows.map(r => r.slice(0, 6));
    logY = lg.rows.map(r => r[6]);
    const rg = await readCsv('rings.csv');
    ringX = rg.rows.map(r => r.slice(0, 2));
    ringY = rg.rows.map(r => r[2]);
  });

  it('single-layer logistic ER matches the NumPy reference after 1, 5 and 100 updates', () => {
    const x = tf.tensor2d(logX), y = tf.tensor2d(logY.map(v => [v]));
    const layers = mlp([6, 1], 'relu', 'sigmoid');
    const checkpoints: Record<number, any> = {1: ref.logistic.after_1, 5: ref.logistic.after_5,
                                              100: ref.logistic.after_100};
    for (let k = 1; k <= 100; k++) {
      const {weights} = erSweep(layers, tensorBatches(x, y, 128), {alpha: 1e-3});
      assign(layers, weights);
      const want = checkpoints[k];
      if (want) {
        const w = layers[0].kernel.dataSync(), b = layers[0].bias!.dataSync()[0];
        want.w.forEach((v: number, i: number) =>
            expect(w[i]).withContext(`update ${k}, w[${i}]`).toBeCloseTo(v, 3));
        expect(b).withContext(`update ${k}, b`).toBeCloseTo(want.b, 3);
        const h = tf.tidy(() => tf.add(tf.matMul(x, layers[0].kernel), layers[0].bias!).dataSync());
        const acc = logY.filter((v, i) => (h[i] > 0) === (v === 1)).length / logY.length;
        expect(acc).withContext(`update ${k} accuracy`).toBeCloseTo(want.train_accuracy, 6);
      }
    }
    disposeLayers(layers);
    tf.dispose([x, y]);
  });

  for (const width of [64, 256]) {
    it(`rings, 2-${width}-2 relu net: one update reaches ≤ 2% train error (3 init seeds)`, () => {
      const x = tf.tensor2d(ringX);
      const y = tf.oneHot(tf.tensor1d(ringY, 'int32'), 2).toFloat() as tf.Tensor2D;
      for (const seed of [0, 1, 2]) {
        const layers = mlp([2, width, 2], 'relu', 'softmax');
        initialise(layers, x, seed);
        const before = errorRate(layers, x, ringY);
        const {weights, report} = erSweep(layers, tensorBatches(x, y, 250));
        assign(layers, weights);
        const err = errorRate(layers, x, ringY);
        expect(before).toBeGreaterThan(0.3);  // zero read-out: chance
        expect(err).withContext(`seed ${seed}`).toBeLessThanOrEqual(0.02);
        expect(report.passes).toBe(3);
        expect(report.rows).toBe(1000);
        disposeLayers(layers);
      }
      tf.dispose([x, y]);
    });
  }

  it('the hidden update matters: ER beats the frozen-hidden read-out on rings (width 5)', () => {
    const x = tf.tensor2d(ringX);
    const y = tf.oneHot(tf.tensor1d(ringY, 'int32'), 2).toFloat() as tf.Tensor2D;
    let erWins = 0;
    for (const seed of [0, 1, 2, 3]) {
      const run = (freezeHidden: boolean) => {
        const layers = mlp([2, 5, 2], 'relu', 'softmax');
        initialise(layers, x, seed);
        layers[0].trainable = !freezeHidden;
        for (let k = 0; k < 3; k++) assign(layers, erSweep(layers, tensorBatches(x, y, 500)).weights);
        const e = errorRate(layers, x, ringY);
        disposeLayers(layers);
        return e;
      };
      if (run(false) < run(true)) erWins++;
    }
    expect(erWins).toBeGreaterThanOrEqual(3);
    tf.dispose([x, y]);
  });

  it('erls mode picks a step and does no worse than plain ER on rings (width 16)', () => {
    const x = tf.tensor2d(ringX);
    const y = tf.oneHot(tf.tensor1d(ringY, 'int32'), 2).toFloat() as tf.Tensor2D;
    const run = (mode: SweepConfig['mode']) => {
      const layers = mlp([2, 16, 2], 'relu', 'softmax');
      initialise(layers, x, 4);
      let gamma = -1;
      for (let k = 0; k < 3; k++) {
        const r = erSweep(layers, tensorBatches(x, y, 500), {mode, searchRows: 600});
        assign(layers, r.weights);
        gamma = r.report.gamma;
      }
      const e = errorRate(layers, x, ringY);
      disposeLayers(layers);
      return {e, gamma};
    };
    const er = run('er'), erls = run('erls');
    expect([0, 1, 2, 4, 8, 16, 32, 64, 128, 256]).toContain(erls.gamma);
    expect(erls.e).toBeLessThanOrEqual(er.e + 0.01);
  });

  it('erls picks the γ whose refitted read-out misfits least (float64 oracle of the whole search)', () => {
    // 2-8-2 relu net on 400 ring points: the oracle recomputes W⁰ (ridge refit of the old hidden
    // fields), W^ER (plain ER's hidden solve), and for every γ tried: the features of
    // W⁰ + γ(W^ER − W⁰) on subsample A (rows i mod s = 0), a ridge read-out against the reflected
    // output targets, its mean squared misfit on subsample B (rows i mod s = 1).
    const n = 400, searchRows = 100, alpha = 1e-3, stride = Math.max(2, Math.floor(n / searchRows));
    const x = tf.tensor2d(ringX.slice(0, n));
    const y = tf.oneHot(tf.tensor1d(ringY.slice(0, n), 'int32'), 2).toFloat() as tf.Tensor2D;
    const layers = mlp([2, 8, 2], 'relu', 'softmax');
    initialise(layers, x, 13);
    // the output starts non-zero so that the reflected targets depend on the field
    layers[1].kernel.dispose();
    layers[1].kernel = tf.randomNormal([8, 2], 0, 0.3, 'float32', 14) as tf.Tensor2D;
    const searched = erSweep(layers, tensorBatches(x, y, 128), {mode: 'erls', searchRows, alpha});
    const plain = erSweep(layers, tensorBatches(x, y, 128), {mode: 'er', refresh: false, alpha});
    const X = x.arraySync() as number[][], Y = y.arraySync() as number[][];
    const [W, b] = [layers[0].kernel.arraySync() as number[][], Array.from(layers[0].bias!.dataSync())];
    const [V, c] = [layers[1].kernel.arraySync() as number[][], Array.from(layers[1].bias!.dataSync())];
    const Wer = plain.weights[0]!.kernel.arraySync() as number[][], ber = Array.from(plain.weights[0]!.bias!.dataSync());
    const affine = (rows: number[][], M: number[][], v: number[]) =>
        rows.map(r => v.map((bj, j) => bj + r.reduce((t, xi, i) => t + xi * M[i][j], 0)));
    const g = (u: number) => Math.abs(u) < 1e-3 ? 1 + u * u / 3 : u / Math.tanh(u);
    const T = affine(affine(X, W, b).map(h => h.map(v => Math.max(v, 0))), V, c)
        .map((h, q) => h.map((hj, j) => (2 * Y[q][j] - 1) * 2 * g(hj / 2)));
    const refit = ridgeReference(X, affine(X, W, b), alpha);  // W⁰
    const A = X.map((_, i) => i).filter(i => i % stride === 0), B = X.map((_, i) => i).filter(i => i % stride === 1);
    const score = (gamma: number) => {
      const Wg = refit.W.map((r, i) => r.map((v, j) => v + gamma * (Wer[i][j] - v)));
      const bg = refit.b.map((v, j) => v + gamma * (ber[j] - v));
      const F = affine(X, Wg, bg).map(h => h.map(v => Math.max(v, 0)));
      const r = ridgeReference(A.map(i => F[i]), A.map(i => T[i]), alpha);
      const pred = affine(B.map(i => F[i]), r.W, r.b);
      let sse = 0;
      pred.forEach((p, q) => p.forEach((v, j) => { sse += (v - T[B[q]][j]) ** 2; }));
      return sse / (B.length * 2);
    };
    const tried = Object.keys(searched.report.stepScores!).map(Number);
    expect(tried.length).toBeGreaterThanOrEqual(4);
    const oracle = new Map(tried.map(gm => [gm, score(gm)]));
    for (const gm of tried) {
      expect(searched.report.stepScores![String(gm)]).withContext(`γ = ${gm}`).toBeCloseTo(oracle.get(gm)!, 4);
    }
    const best = tried.reduce((p, q) => oracle.get(q)! < oracle.get(p)! ? q : p);
    expect(searched.report.gamma).toBe(best);
    [searched, plain].forEach(r => r.weights.forEach(w => w && tf.dispose([w.kernel, w.bias!])));
    disposeLayers(layers);
    tf.dispose([x, y]);
  });

  it('erls: the step does not depend on how the search sample is cut into batches', () => {
    // The search walks the kept sample batch by batch; its misfit is the mean
    // over all sample rows, so one 600-row batch and twelve 50-row ones agree.
    // Rows sorted by class: no single batch looks like the whole sample.
    const order = ringY.map((c, i) => [c, i]).sort((p, q) => p[0] - q[0] || p[1] - q[1]).map(p => p[1]);
    const x = tf.tensor2d(order.map(i => ringX[i]));
    const y = tf.oneHot(tf.tensor1d(order.map(i => ringY[i]), 'int32'), 2).toFloat() as tf.Tensor2D;
    const gammas = (batch: number) => {
      const layers = mlp([2, 16, 16, 2], 'relu', 'softmax');
      initialise(layers, x, 9);
      const seen: number[] = [];
      for (let k = 0; k < 4; k++) {
        const r = erSweep(layers, tensorBatches(x, y, batch), {mode: 'erls', searchRows: 600});
        assign(layers, r.weights);
        seen.push(r.report.gamma);
      }
      disposeLayers(layers);
      return seen;
    };
    const whole = gammas(600), pieces = gammas(50);
    expect(pieces).toEqual(whole);
    whole.forEach(g => expect([0, 1, 2, 4, 8, 16, 32, 64, 128, 256]).toContain(g));
    tf.dispose([x, y]);
  });

  it('deep nets: a 2-32-32-2 tanh net trains in one sweep with 4 passes', () => {
    const x = tf.tensor2d(ringX);
    const y = tf.oneHot(tf.tensor1d(ringY, 'int32'), 2).toFloat() as tf.Tensor2D;
    const layers = mlp([2, 32, 32, 2], 'tanh', 'softmax');
    initialise(layers, x, 0);
    const r = erSweep(layers, tensorBatches(x, y, 1000));
    assign(layers, r.weights);
    expect(r.report.passes).toBe(4);
    expect(errorRate(layers, x, ringY)).toBeLessThan(0.1);
    disposeLayers(layers);
    tf.dispose([x, y]);
  });

  it('batch size does not change the update: every size agrees with row-by-row accumulation', () => {
    // Each batch's products are float32 (on the backend); batches merge in float64. One row per
    // batch is the exact reference; larger batches differ by the rounding of their own products,
    // measured against the layer's weight scale.
    const x = tf.tensor2d(ringX);
    const y = tf.oneHot(tf.tensor1d(ringY, 'int32'), 2).toFloat() as tf.Tensor2D;
    const results = [1, 1000, 100, 7].map(bs => {
      const layers = mlp([2, 16, 2], 'relu', 'softmax');
      initialise(layers, x, 9);
      const {weights} = erSweep(layers, tensorBatches(x, y, bs));
      const out = weights.map(w => [w!.kernel.dataSync(), w!.bias!.dataSync()]);
      weights.forEach(w => tf.dispose([w!.kernel, w!.bias!]));
      disposeLayers(layers);
      return out;
    });
    for (const r of results.slice(1)) {
      r.forEach((pair, i) => {
        const scale = Math.max(...results[0][i].map(arr => Math.max(...Array.from(arr).map(Math.abs))));
        pair.forEach((arr, j) => {
          const base = results[0][i][j];
          const diff = Math.max(...Array.from(base).map((v, q) => Math.abs(v - arr[q])));
          expect(diff / scale).withContext(`layer ${i} tensor ${j}`).toBeLessThan(2e-3);
        });
      });
    }
    tf.dispose([x, y]);
  });

  it('frozen layers keep their weights and are not returned', () => {
    const x = tf.tensor2d(ringX);
    const y = tf.oneHot(tf.tensor1d(ringY, 'int32'), 2).toFloat() as tf.Tensor2D;
    const layers = mlp([2, 16, 2], 'relu', 'softmax');
    initialise(layers, x, 1);
    layers[0].trainable = false;
    const r = erSweep(layers, tensorBatches(x, y, 500));
    expect(r.weights[0]).toBeNull();
    expect(r.weights[1]).not.toBeNull();
    expect(r.report.passes).toBe(1);
    tf.dispose([r.weights[1]!.kernel, r.weights[1]!.bias!]);
    disposeLayers(layers);
    tf.dispose([x, y]);
  });

  it('the input Gram cache gives the same update, and is rebuilt when the data change', () => {
    const x = tf.tensor2d(ringX);
    const y = tf.oneHot(tf.tensor1d(ringY, 'int32'), 2).toFloat() as tf.Tensor2D;
    const layers = mlp([2, 16, 2], 'relu', 'softmax');
    initialise(layers, x, 2);
    const cache = new SweepCache();
    const a = erSweep(layers, tensorBatches(x, y, 300), {}, cache);
    expect(cache.input).not.toBeNull();
    expect(a.report.inputGramReused).toBeFalse();
    const b = erSweep(layers, tensorBatches(x, y, 300), {}, cache);  // same data, other chunks
    expect(b.report.inputGramReused).toBeTrue();
    // the hidden weights did not change between a and b (not assigned): the refreshed
    // output Gram of a does not describe b's features (old weights), so it is not reused
    expect(b.report.outputGramReused).toBeFalse();
    const c = erSweep(layers, tensorBatches(x, y, 300));
    // different data: the fingerprint differs, the Gram is rebuilt
    const x2 = tf.mul(x, 1.5) as tf.Tensor2D;
    const d = erSweep(layers, tensorBatches(x2, y, 300), {}, cache);
    expect(d.report.inputGramReused).toBeFalse();
    const e = erSweep(layers, tensorBatches(x2, y, 300));
    d.weights.forEach((w, i) => {
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(w!.kernel, e.weights[i]!.kernel))).dataSync()[0]);
      expect(diff).toBeLessThan(1e-4);
    });
    [d, e].forEach(r => r.weights.forEach(w => tf.dispose([w!.kernel, w!.bias!])));
    x2.dispose();
    for (const r of [b, c]) {
      r.weights.forEach((w, i) => {
        const d = tf.tidy(() => tf.max(tf.abs(tf.sub(w!.kernel, a.weights[i]!.kernel))).dataSync()[0]);
        expect(d).toBeLessThan(1e-4);
      });
    }
    [a, b, c].forEach(r => r.weights.forEach(w => tf.dispose([w!.kernel, w!.bias!])));
    cache.dispose();
    disposeLayers(layers);
    tf.dispose([x, y]);
  });

  it('leaks no tensor (er and erls), and dataScaledInit returns only what it gives', async () => {
    const x = tf.tensor2d(ringX.slice(0, 200));
    const y = tf.oneHot(tf.tensor1d(ringY.slice(0, 200), 'int32'), 2).toFloat() as tf.Tensor2D;
    const layers = mlp([2, 8, 8, 2], 'relu', 'softmax');
    initialise(layers, x, 3);
    for (const mode of ['er', 'erls'] as const) {
      await expectNoLeak(() => {
        const r = erSweep(layers, tensorBatches(x, y, 64), {mode});
        r.weights.forEach(w => tf.dispose([w!.kernel, w!.bias!]));
      });
    }
    await expectNoLeak(() => {
      const w = dataScaledInit(layers, x, 0);
      w.forEach(v => tf.dispose([v.kernel, v.bias!]));
    });
    const wrongY = tf.zeros([200, 3]) as tf.Tensor2D;
    await expectNoLeak(() => {
      expect(() => erSweep(layers, tensorBatches(x, wrongY, 64)))
          .toThrowError(/dense_3: targets must have shape \[64, 2\]/);
    });
    wrongY.dispose();
    disposeLayers(layers);
    tf.dispose([x, y]);
  });

  it('bad data: NaN inputs, out-of-range targets, empty data → clear errors, weights untouched', async () => {
    const layers = mlp([2, 4, 2], 'relu', 'softmax');
    const x = tf.tensor2d([[0, 1], [NaN, 2]]);
    const y = tf.tensor2d([[1, 0], [0, 1]]);
    const before = layers.map(l => l.kernel.dataSync().slice());
    await expectNoLeak(() => {
      expect(() => erSweep(layers, tensorBatches(x, y))).toThrowMatching(
          e => e instanceof ERInputError && /NaN or Infinity/.test(e.message));
      const x2 = tf.tensor2d([[0, 1], [1, 2]]);
      const y2 = tf.tensor2d([[2, 0], [0, 1]]);
      expect(() => erSweep(layers, tensorBatches(x2, y2))).toThrowError(
          /dense_2: targets lie in \[0, 2\] but a softmax output needs them in \[0, 1\]/);
      expect(() => erSweep(layers, () => [])).toThrowError(/no rows/);
      expect(() => erSweep(layers, tensorBatches(x2, y2), {alpha: -1})).toThrowError(/alpha/);
      tf.dispose([x2, y2]);
    });
    layers.forEach((l, i) => expect(l.kernel.dataSync()).toEqual(before[i]));
    disposeLayers(layers);
    tf.dispose([x, y]);
  });

  it('reuses the refreshed output Gram at the next update: same weights as without the cache', () => {
    const x = tf.tensor2d(ringX);
    const y = tf.oneHot(tf.tensor1d(ringY, 'int32'), 2).toFloat() as tf.Tensor2D;
    const run = (useCache: boolean) => {
      const layers = mlp([2, 12, 2], 'relu', 'softmax');
      initialise(layers, x, 6);
      const cache = useCache ? new SweepCache() : undefined;
      const reports = [];
      for (let k = 0; k < 3; k++) {
        const r = erSweep(layers, tensorBatches(x, y, 250), {}, cache);
        assign(layers, r.weights);
        reports.push(r.report);
      }
      const w = layers.map(l => [l.kernel.dataSync().slice(), l.bias!.dataSync().slice()]);
      cache?.dispose();
      disposeLayers(layers);
      return {reports, w};
    };
    const cached = run(true), plain = run(false);
    expect(cached.reports.map(r => r.outputGramReused)).toEqual([false, true, true]);
    expect(cached.reports.map(r => r.passes)).toEqual([3, 3, 3]);
    cached.w.forEach((pair, i) => pair.forEach((arr, j) => {
      const ref = plain.w[i][j];
      const scale = Math.max(...Array.from(ref).map(Math.abs));
      arr.forEach((v, q) => expect(Math.abs(v - ref[q])).toBeLessThan(1e-3 * scale));
    }));
    // new data with the same weights: the stale output Gram is detected and rebuilt
    const layers = mlp([2, 12, 2], 'relu', 'softmax');
    initialise(layers, x, 6);
    const cache = new SweepCache();
    assign(layers, erSweep(layers, tensorBatches(x, y, 250), {}, cache).weights);
    const x2 = tf.mul(x, 0.9) as tf.Tensor2D;
    const r2 = erSweep(layers, tensorBatches(x2, y, 250), {}, cache);
    expect(r2.report.outputGramReused).toBeFalse();
    expect(r2.report.passes).toBe(4);
    const r3 = erSweep(layers, tensorBatches(x2, y, 250));
    r2.weights.forEach((w, i) => expect(
        tf.tidy(() => tf.max(tf.abs(tf.sub(w!.kernel, r3.weights[i]!.kernel))).dataSync()[0])).toBeLessThan(1e-4));
    [r2, r3].forEach(r => r.weights.forEach(w => tf.dispose([w!.kernel, w!.bias!])));
    cache.dispose();
    disposeLayers(layers);
    tf.dispose([x, y, x2]);
  });

  it('a source that re-chunks its rows between passes: the same update (kept targets recomputed)', () => {
    const x = tf.tensor2d(ringX.slice(0, 300));
    const y = tf.oneHot(tf.tensor1d(ringY.slice(0, 300), 'int32'), 2).toFloat() as tf.Tensor2D;
    const run = (source: () => Iterable<[tf.Tensor, tf.Tensor]>) => {
      const layers = mlp([2, 12, 2], 'relu', 'softmax');
      initialise(layers, x, 4);
      const {weights, report} = erSweep(layers, source);
      const out = weights.flatMap(w => [Array.from(w!.kernel.dataSync()), Array.from(w!.bias!.dataSync())]);
      weights.forEach(w => tf.dispose([w!.kernel, w!.bias!]));
      disposeLayers(layers);
      return {out, report};
    };
    const plain = run(tensorBatches(x, y, 100));
    expect(plain.report.passes).toBe(3);
    // the first and hidden passes see chunks of 100, the refresh pass chunks of 7: the kept
    // output targets do not fit, so the refresh recomputes them
    let walk = 0;
    const rechunked = run(() => tensorBatches(x, y, walk++ < 2 ? 100 : 7)());
    expect(walk).toBe(3);
    rechunked.out.forEach((arr, i) => {
      const base = plain.out[i];
      const scale = Math.max(...base.map(Math.abs));
      const diff = Math.max(...arr.map((v, q) => Math.abs(v - base[q])));
      expect(diff / scale).withContext(`tensor ${i}`).toBeLessThan(2e-3);
    });
    tf.dispose([x, y]);
  });

  it('rejects malformed chains naming the layer', () => {
    const layers = mlp([2, 4, 2], 'relu', 'softmax');
    layers[1].kernel.dispose();
    layers[1].kernel = tf.zeros([5, 2]) as tf.Tensor2D;
    expect(() => erSweep(layers, () => [])).toThrowError(/dense_2: expects 5 inputs but dense_1 gives 4/);
    layers[1].kernel.dispose();
    layers[1].kernel = tf.zeros([4, 2]) as tf.Tensor2D;
    layers[0].activation = 'softmax';
    expect(() => erSweep(layers, () => [])).toThrowError(/dense_1: softmax is only supported on the output/);
    disposeLayers(layers);
  });
});
