import * as tf from '@tensorflow/tfjs';
import {fieldRatio, reflectHidden, reflectOutput} from '../src/engine/index';
import {describeBackends, expectNoLeak} from './helpers/backends';

function close(actual: ArrayLike<number>, expected: number[], tol = 1e-5) {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs(actual[i] - expected[i]))
        .withContext(`index ${i}: ${actual[i]} vs ${expected[i]}`)
        .toBeLessThanOrEqual(tol * Math.max(1, Math.abs(expected[i])));
  }
}

describeBackends('reflection rules', () => {
  it('g(u) = u/tanh(u) is finite everywhere, 1 at 0 and |u| for large u', async () => {
    const u = [0, 1e-6, -5e-4, 0.5, -2, 20, -40];
    const g = await expectNoLeak(() => {
      const t = tf.tensor1d(u);
      const r = fieldRatio(t);
      const v = r.dataSync();
      tf.dispose([t, r]);
      return v;
    });
    close(g, u.map(x => Math.abs(x) < 1e-3 ? 1 + x * x / 3 : x / Math.tanh(x)));
  });

  it('classification output: h* = y1·2g(h/2); 2·y1 at h = 0; exact ratio elsewhere', () => {
    const h = tf.tensor2d([[0, 0], [1.5, -3], [10, -0.2]]);
    const y = tf.tensor2d([[1, 0], [0, 1], [1, 1]]);
    const r = reflectOutput('softmax', h, y).arraySync() as number[][];
    const hv = h.arraySync(), yv = y.arraySync();
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 2; j++) {
        const y1 = 2 * yv[i][j] - 1, hh = hv[i][j];
        const expected = hh === 0 ? 2 * y1 : hh * y1 / Math.tanh(hh / 2);
        expect(r[i][j]).toBeCloseTo(expected, 4);
      }
    }
    // sigmoid shares the rule
    expect(reflectOutput('sigmoid', h, y).arraySync()).toEqual(r);
    tf.dispose([h, y]);
  });

  it('linear output reflects to the target; tanh output to y·g(h)', () => {
    const h = tf.tensor2d([[0.3, -1]]);
    const y = tf.tensor2d([[0.5, -0.25]]);
    close(reflectOutput('linear', h, y).dataSync(), [0.5, -0.25]);
    close(reflectOutput('tanh', h, y).dataSync(),
          [0.5 * 0.3 / Math.tanh(0.3), -0.25 * -1 / Math.tanh(-1)]);
    tf.dispose([h, y]);
  });

  it('relu hidden: active units take a*, inactive units keep their field', () => {
    const h = tf.tensor2d([[2, -1, 0]]);
    const a = tf.tensor2d([[5, 7, 9]]);
    close(reflectHidden('relu', h, a).dataSync(), [5, -1, 0]);
    close(reflectHidden('tanh', h, a).dataSync(),
          [5 * 2 / Math.tanh(2), 7 * -1 / Math.tanh(-1), 9]);
    close(reflectHidden('linear', h, a).dataSync(), [5, 7, 9]);
    tf.dispose([h, a]);
  });

  it('sigmoid hidden: a*·h(1+e^-h), clipped to ±30, 0 at h = 0', () => {
    const h = tf.tensor2d([[0, 1, -10]]);
    const a = tf.tensor2d([[0.5, 0.7, 0.9]]);
    close(reflectHidden('sigmoid', h, a).dataSync(), [0, 0.7 * (1 + Math.exp(-1)), -30]);
    tf.dispose([h, a]);
  });

  it('rejects softmax as a hidden activation with a clear message', () => {
    const h = tf.tensor2d([[1]]);
    expect(() => reflectHidden('softmax', h, h)).toThrowError(/hidden ER layer/);
    h.dispose();
  });
});
