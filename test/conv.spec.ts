import * as tf from '@tensorflow/tfjs';
import {ConvGeometry, erSweep, extractPatches, foldPatches, foldStride1, patchRows, poolPreimage} from '../src/engine/index';
import {describeBackends, expectNoLeak} from './helpers/backends';
import {maxDiff} from './helpers/data';
import {maxRelErr, ridgeReference} from './helpers/linalg';
import {explicitPatches} from './helpers/patches';

const GEOMETRIES: Array<[string, ConvGeometry]> = [
  ['3×3 same stride 1', {kernelSize: [3, 3], strides: [1, 1], padding: 'same'}],
  ['3×3 valid stride 1', {kernelSize: [3, 3], strides: [1, 1], padding: 'valid'}],
  ['3×2 same stride 2', {kernelSize: [3, 2], strides: [2, 2], padding: 'same'}],
  ['2×2 valid stride (2, 1)', {kernelSize: [2, 2], strides: [2, 1], padding: 'valid'}],
];

describeBackends('conv engine (patches, fold, pooling, conv sweep)', () => {
  let x: tf.Tensor4D;
  beforeAll(() => x = tf.randomNormal([3, 7, 6, 2], 0.2, 1, 'float32', 31) as tf.Tensor4D);
  afterAll(() => x.dispose());

  for (const [name, g] of GEOMETRIES) {
    it(`extractPatches equals explicit patches, 2 channels (identity conv) and 10 (slices) (${name})`, () => {
      for (const img of [x, tf.randomNormal([2, 7, 6, 10], 0, 1, 'float32', 32) as tf.Tensor4D]) {
        const ref = explicitPatches(img.arraySync(), g);
        const p = extractPatches(img, g);
        const rows = tf.tidy(() => tf.reshape(p, [-1, p.shape[3]]).arraySync() as number[][]);
        expect(rows.length).toBe(ref.length);
        expect(maxRelErr(rows, ref)).toBeLessThan(1e-6);
        p.dispose();
        if (img !== x) img.dispose();
      }
    });

    it(`foldPatches undoes extractPatches where patches cover the image (${name})`, () => {
      const folded = tf.tidy(() => foldPatches(extractPatches(x, g), [7, 6, 2], g));
      // covered pixels come back exactly; uncovered ones (strided 'valid') get 0
      const covered = tf.tidy(() => tf.notEqual(foldPatches(extractPatches(tf.onesLike(x), g), [7, 6, 2], g), 0));
      const expected = tf.tidy(() => tf.where(covered, x, tf.zerosLike(x)));
      expect(maxDiff(folded, expected)).toBeLessThan(1e-5);
      tf.dispose([folded, covered, expected]);
    });

    it(`identity-activation conv layer: one ER solve is the float64 ridge on explicit patches (${name})`, async () => {
      const filters = 3, kh = g.kernelSize[0], kw = g.kernelSize[1];
      const kernel = tf.randomNormal([kh, kw, 2, filters], 0, 0.3, 'float32', 5);
      const bias = tf.zeros([filters]) as tf.Tensor1D;
      const unit = {kind: 'conv2d' as const, name: 'conv', kernel, bias, activation: 'linear' as const,
                    trainable: true, geometry: g};
      // targets: a noisy linear map of the patches
      const wTrue = tf.randomNormal([kh, kw, 2, filters], 0, 1, 'float32', 6);
      const y = tf.tidy(() => tf.add(tf.conv2d(x, wTrue as tf.Tensor4D, g.strides, g.padding),
                                     tf.randomNormal([1], 0.5, 0.1, 'float32', 7)));
      const yNoisy = tf.tidy(() => tf.add(y, tf.randomNormal(y.shape, 0, 0.1, 'float32', 8)));
      const {W, b, report} = await expectNoLeak(() => {
        const [x1, x2] = tf.split(x, [2, 1]);
        const [y1, y2] = tf.split(yNoisy, [2, 1]);
        const r = erSweep([unit], () => [[x1, y1], [x2, y2]], {alpha: 1e-3}, undefined, {inputShape: [7, 6, 2]});
        tf.dispose([x1, x2, y1, y2]);
        const out = {W: tf.tidy(() => tf.reshape(r.weights[0]!.kernel, [kh * kw * 2, filters]).arraySync() as number[][]),
                     b: Array.from(r.weights[0]!.bias!.dataSync()), report: r.report};
        tf.dispose([r.weights[0]!.kernel, r.weights[0]!.bias!]);
        return out;
      });
      const X = explicitPatches(x.arraySync(), g);
      const T = tf.tidy(() => tf.reshape(yNoisy, [-1, filters]).arraySync() as number[][]);
      const ref = ridgeReference(X, T, 1e-3);
      expect(maxRelErr(W, ref.W)).toBeLessThan(1e-3);
      expect(maxRelErr([b], [ref.b])).toBeLessThan(1e-3);
      expect(report.rows).toBe(3);
      tf.dispose([kernel, bias, wTrue, y, yNoisy]);
    });
  }

  for (const padding of ['valid', 'same'] as const) {
    it(`stride-1 fold as one convolution equals folding the explicit patch changes (${padding})`, () => {
      const g: ConvGeometry = {kernelSize: [3, 2], strides: [1, 1], padding};
      const [n, h, w, c, f] = [2, 7, 6, 2, 4];
      const xs = tf.randomNormal([n, h, w, c], 0, 1, 'float32', 41) as tf.Tensor4D;
      const out = tf.tidy(() => extractPatches(xs, g));
      const residual = tf.randomNormal([n, out.shape[1], out.shape[2], f], 0, 1, 'float32', 42) as tf.Tensor4D;
      const M = tf.randomNormal([f, c * 6], 0, 1, 'float32', 43) as tf.Tensor2D;
      const fast = foldStride1(residual, M, [h, w, c], g);
      // reference: patch-wise changes R·M, columns (channel, offset) → (offset, channel), then foldPatches
      const ref = tf.tidy(() => {
        const change = tf.matMul(tf.reshape(residual, [-1, f]), M);
        const byOffset = tf.reshape(tf.transpose(tf.reshape(change, [-1, c, 6]), [0, 2, 1]),
                                    [n, out.shape[1], out.shape[2], 6 * c]) as tf.Tensor4D;
        return foldPatches(byOffset, [h, w, c], g);
      });
      expect(maxDiff(fast, ref)).toBeLessThan(1e-4);
      // patchRows orders each row (channel, offset): a permutation of extractPatches' (offset, channel)
      const rows = patchRows(xs, g);
      const perm = tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(out, [-1, 6, c]), [0, 2, 1]), [-1, 6 * c]));
      expect(maxDiff(rows, perm)).toBe(0);
      tf.dispose([xs, out, residual, M, fast, ref, rows, perm]);
    });
  }

  it('max pooling routes the target change to the arg-max; avg pooling moves every input of the window', () => {
    const a = tf.tensor4d([1, 5, 2, 0, 3, 1, 4, 2, 0, 6, 1, 1, 2, 2, 7, 3], [1, 4, 4, 1]);
    const g: ConvGeometry = {kernelSize: [2, 2], strides: [2, 2], padding: 'valid'};
    const target = tf.tensor4d([6, 3, 9, 8], [1, 2, 2, 1]);  // maxima are 5, 4, 6, 7
    const m = poolPreimage('max', a, target, g);
    expect(Array.from(m.dataSync())).toEqual([1, 6, 2, 0, 3, 1, 3, 2, 0, 9, 1, 1, 2, 2, 8, 3]);
    const avgTarget = tf.tensor4d([3, 2, 4, 4], [1, 2, 2, 1]);  // means are 2.5, 1.25, 2, 3.25
    const v = poolPreimage('avg', a, avgTarget, g);
    const means = tf.avgPool(v, [2, 2], [2, 2], 'valid');
    expect(maxDiff(means, avgTarget)).toBeLessThan(1e-5);
    // every input of the first window moved by the same 3 − 2.5
    const d = tf.sub(v, a).dataSync();
    for (const i of [0, 1, 4, 5]) expect(d[i]).toBeCloseTo(0.5, 5);
    tf.dispose([a, target, m, avgTarget, v, means]);
  });
});
