import * as tf from '@tensorflow/tfjs';
import {erSweep, NetworkUnit, SolvedUnit, SweepConfig, tensorBatches, UnitWeights} from '../src/engine/index';
import {er, erLayers} from '../src/index';
import {describeBackends, expectNoLeak} from './helpers/backends';
import {maxDiff} from './helpers/data';
import {twins} from './helpers/models';

/**
 * conv 3×3 ReLU → max-pool → conv 3×3 tanh (frozen when `frozen`) → flatten →
 * dense ReLU → dense softmax, on 8×8×2 images: every kind of unit a target
 * passes through between two target passes.
 */
function deepUnits(frozen = false): NetworkUnit[] {
  const k = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 0.4, 'float32', seed);
  return [
    {kind: 'conv2d', name: 'c1', kernel: k([3, 3, 2, 4], 1), bias: tf.zeros([4]), activation: 'relu', trainable: true,
     geometry: {strides: [1, 1], padding: 'same'}},
    {kind: 'maxPool', name: 'p1', geometry: {kernelSize: [2, 2], strides: [2, 2], padding: 'valid'}},
    {kind: 'conv2d', name: 'c2', kernel: k([3, 3, 4, 5], 2), bias: tf.zeros([5]), activation: 'tanh',
     trainable: !frozen, geometry: {strides: [1, 1], padding: 'valid'}},
    {kind: 'flatten', name: 'f'},
    {kind: 'dense', name: 'd1', kernel: k([20, 6], 3), bias: tf.zeros([6]), activation: 'relu', trainable: true},
    {kind: 'dense', name: 'd2', kernel: k([6, 3], 4), bias: tf.zeros([3]), activation: 'softmax', trainable: true},
  ];
}

function data(n: number): {x: tf.Tensor4D, y: tf.Tensor2D} {
  return tf.tidy(() => {
    const x = tf.randomUniform([n, 8, 8, 2], 0, 1, 'float32', 7) as tf.Tensor4D;
    const score = tf.sum(tf.reshape(tf.slice(x, [0, 0, 0, 0], [n, 4, 8, 2]), [n, -1]), 1);
    const cls = tf.cast(tf.clipByValue(tf.floor(tf.div(tf.sub(score, 28), 2)), 0, 2), 'int32') as tf.Tensor1D;
    return {x, y: tf.oneHot(cls, 3).toFloat() as tf.Tensor2D};
  });
}

function disposeUnits(units: NetworkUnit[]) {
  for (const u of units) if ('kernel' in u) tf.dispose([u.kernel, u.bias].filter(t => t != null) as tf.Tensor[]);
}

function sweepWith(units: NetworkUnit[], x: tf.Tensor, y: tf.Tensor, config: SweepConfig, chunk: number) {
  return erSweep(units, tensorBatches(x, y, chunk), config, undefined, {inputShape: [8, 8, 2]});
}

/**
 * Expects equal weights: bit for bit on cpu and wasm (the same kernels on the same values); on webgl, whose
 * shaders may differ with how a kept texture is packed, within 1e-5 of each weight's largest entry.
 */
function expectSame(a: Array<UnitWeights|null>, b: Array<UnitWeights|null>, what: string) {
  expect(b.map(w => w == null)).withContext(what).toEqual(a.map(w => w == null));
  const tol = (t: tf.Tensor) => tf.getBackend() === 'webgl' ? 1e-5 * tf.tidy(() => tf.max(tf.abs(t)).dataSync()[0]) : 0;
  a.forEach((w, i) => {
    if (w == null) return;
    expect(maxDiff(w.kernel, b[i]!.kernel)).withContext(`${what}: unit ${i} kernel`).toBeLessThanOrEqual(tol(w.kernel));
    if (w.bias) expect(maxDiff(w.bias, b[i]!.bias!)).withContext(`${what}: unit ${i} bias`).toBeLessThanOrEqual(tol(w.bias));
  });
}

function disposeWeights(ws: Array<UnitWeights|null>) {
  ws.forEach(w => w != null && tf.dispose([w.kernel, w.bias].filter(t => t != null) as tf.Tensor[]));
}

/** Conv2D kernels run by `fn` (forward passes and pre-image folds). */
async function convKernels(fn: () => unknown): Promise<number> {
  const p = await tf.profile(() => {
    fn();
    return tf.scalar(0);
  });
  return p.kernels.filter(k => k.name === 'Conv2D').length;
}

describeBackends('forward cache', () => {
  it('the same update, bit for bit, with the cache off, on every chunk, or on some chunks (er and erls)', () => {
    const {x, y} = data(96);
    for (const frozen of [false, true]) {
      for (const mode of ['er', 'erls'] as const) {
        const units = deepUnits(frozen);
        const what = `${mode}${frozen ? ', c2 frozen' : ''}`;
        const off = sweepWith(units, x, y, {mode, forwardCacheMB: 0, searchRows: 40}, 32);
        const all = sweepWith(units, x, y, {mode, searchRows: 40}, 32);
        // room for about one 32-row chunk of this network's forward (~60 KB), so the rest are recomputed
        const some = sweepWith(units, x, y, {mode, forwardCacheMB: 0.08, searchRows: 40}, 32);
        expectSame(off.weights, all.weights, `${what}, all chunks kept`);
        expectSame(off.weights, some.weights, `${what}, some chunks kept`);
        expect(all.report.passes).toBe(off.report.passes);
        [off, all, some].forEach(r => disposeWeights(r.weights));
        disposeUnits(units);
      }
    }
    tf.dispose([x, y]);
  });

  it('kept chunks skip the forward and the pre-images above the last target: fewer convolutions', async () => {
    const {x, y} = data(96);
    const units = deepUnits();
    let w: Array<UnitWeights|null> = [];
    const count = (mb: number) => convKernels(() => {
      disposeWeights(w);
      w = sweepWith(units, x, y, {forwardCacheMB: mb}, 32).weights;
    });
    const off = await count(0), some = await count(0.08), all = await count(512);
    // passes: first, target d1, target c2, target c1, refresh. Per chunk, without the cache: 5 forwards of two
    // convs (10) and pre-images through c2 in the target pass of c1 (its field and its fold: 2) = 12; with it,
    // the forward of the first pass is reused by the three target passes: 12 − 6 = 6.
    expect(off).toBe(3 * 12);
    expect(all).toBe(3 * 6);
    expect(some).toBeGreaterThan(all);
    expect(some).toBeLessThan(off);
    // one trained hidden unit (one target pass): nothing is kept, the same convolutions either way
    const shallow = [units[0], units[1], units[3], {...(units[5] as SolvedUnit), kernel: tf.zeros([64, 3])}];
    const one = (mb: number) => convKernels(() => {
      disposeWeights(w);
      w = sweepWith(shallow, x, y, {forwardCacheMB: mb}, 32).weights;
    });
    expect(await one(512)).toBe(await one(0));
    (shallow[3] as SolvedUnit).kernel.dispose();
    disposeWeights(w);
    disposeUnits(units);
    tf.dispose([x, y]);
  });

  it('leaks no tensor, on success and when a later chunk makes the update fail after the cache filled', async () => {
    const {x, y} = data(96);
    const units = deepUnits();
    await expectNoLeak(() => disposeWeights(sweepWith(units, x, y, {mode: 'erls', searchRows: 40}, 32).weights));
    // the first two chunks are kept by the first pass; the third has a NaN, so the update stops after it
    const bad = tf.tidy(() => tf.concat([tf.slice(x, 0, 64), tf.fill([32, 8, 8, 2], NaN)]));
    await expectNoLeak(() => {
      expect(() => sweepWith(units, bad, y, {}, 32)).toThrowError(/NaN or Infinity/);
    });
    tf.dispose([bad]);
    disposeUnits(units);
    tf.dispose([x, y]);
  });

  it('er({forwardCacheMB}) trains to the same weights as no cache, on a model, and checks the option', async () => {
    const {x, y} = data(64);
    const make = () => tf.sequential({layers: [
      erLayers.conv2d({inputShape: [8, 8, 2], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu',
                       kernelInitializer: tf.initializers.glorotNormal({seed: 5})}),
      tf.layers.maxPooling2d({poolSize: 2}),
      erLayers.conv2d({filters: 4, kernelSize: 3, activation: 'relu',
                       kernelInitializer: tf.initializers.glorotNormal({seed: 6})}),
      tf.layers.flatten(),
      erLayers.dense({units: 3, activation: 'softmax'})]});
    const [a, b] = twins(make);
    a.compile({optimizer: er({forwardCacheMB: 0}), loss: 'categoricalCrossentropy'});
    const optB = er();
    b.compile({optimizer: optB, loss: 'categoricalCrossentropy'});
    expect(optB.getConfig().forwardCacheMB).toBe(512);
    await a.fit(x, y, {epochs: 2, batchSize: 64, verbose: 0});
    await expectNoLeak(() => b.fit(x, y, {epochs: 2, batchSize: 64, verbose: 0}).then(() => undefined));
    const wa = a.getWeights();
    expectSame(wa.map(kernel => ({kernel, bias: null})), b.getWeights().map(kernel => ({kernel, bias: null})),
               'er() with and without the cache');
    expect(() => er({forwardCacheMB: -1})).toThrowError(/forwardCacheMB must be a finite number >= 0, got -1/);
    expect(() => er({forwardCacheMB: NaN})).toThrowError(/forwardCacheMB/);
    a.dispose();
    b.dispose();
    tf.dispose([x, y]);
  });
});
