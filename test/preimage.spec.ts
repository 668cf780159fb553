import * as tf from '@tensorflow/tfjs';
import {preimage, preimageOperator} from '../src/engine/index';
import {describeBackends, expectNoLeak} from './helpers/backends';
import {gaussSolve, lcg} from './helpers/linalg';

describeBackends('pre-image (damped least squares)', () => {
  const r = lcg(3);
  const p = 7, q = 4;
  const Wv = Array.from({length: p}, () => Array.from({length: q}, () => r() - 0.5));

  it('M = (WᵀW + μI)⁻¹Wᵀ with μ = β·trace(WᵀW)/q, as in float64', async () => {
    const beta = 0.1;
    const W = tf.tensor2d(Wv);
    await expectNoLeak(() => preimageOperator(W, beta).dispose());
    const M = preimageOperator(W, beta);
    const G = Array.from({length: q}, (_, i) => Array.from({length: q}, (_, j) =>
        Wv.reduce((s, row) => s + row[i] * row[j], 0)));
    const mu = beta * G.reduce((s, row, i) => s + row[i], 0) / q;
    const expected = gaussSolve(G.map((row, i) => row.map((v, j) => v + (i === j ? mu : 0))),
                                Array.from({length: q}, (_, i) => Wv.map(row => row[i])));
    const got = M.arraySync();
    expect(M.shape).toEqual([q, p]);
    expected.forEach((row, i) => row.forEach((v, j) => expect(got[i][j]).toBeCloseTo(v, 5)));
    tf.dispose([W, M]);
  });

  it('with β = 0 the new input reproduces the target field exactly (full column rank)', () => {
    const W = tf.tensor2d(Wv), b = tf.tensor1d([0.1, 0.2, -0.3, 0.4]);
    const a = tf.tensor2d([[1, 2, 3, 4, 5, 6, 7], [0, -1, 0, 1, 0, -1, 0]]);
    const hStar = tf.tensor2d([[1, -1, 0.5, 2], [0, 0, 0, 0]]);
    const M = preimageOperator(W, 0);
    const aStar = preimage(a, hStar, W, b, M);
    const h = tf.add(tf.matMul(aStar, W), b);
    const diff = tf.max(tf.abs(tf.sub(h, hStar))).dataSync()[0];
    expect(diff).toBeLessThan(1e-4);
    tf.dispose([W, b, a, hStar, M, aStar, h]);
  });

  it('a zero weight matrix gives a zero operator (no change to the input)', () => {
    const W = tf.zeros([3, 2]) as tf.Tensor2D;
    const M = preimageOperator(W, 0.1);
    expect(Array.from(M.dataSync())).toEqual([0, 0, 0, 0, 0, 0]);
    tf.dispose([W, M]);
  });
});
