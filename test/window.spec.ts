import * as tf from '@tensorflow/tfjs';
import {gatherRows, rowRange, sliceWindow, subMatrix} from '../src/engine/index';
import {describeBackends, expectNoLeak} from './helpers/backends';
import {lcg} from './helpers/linalg';

/** Every value of `a` equals `b`'s, with the same shape and dtype. */
function expectSame(a: tf.Tensor, b: tf.Tensor) {
  expect(a.shape).toEqual(b.shape);
  expect(a.dtype).toBe(b.dtype);
  expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
}

describeBackends('sliceWindow, rowRange, subMatrix, gatherRows', () => {
  it('give tf.slice\'s values for windows on every axis of ranks 1 to 5, float32, int32 and bool', async () => {
    const r = lcg(7);
    const shapes = [[11], [6, 9], [4, 5, 7], [3, 6, 5, 8], [2, 3, 4, 3, 5]];
    await expectNoLeak(() => {
      for (const shape of shapes) {
        const size = shape.reduce((p, s) => p * s, 1);
        const vals = Float32Array.from({length: size}, () => r() * 10 - 5);
        const xs = [tf.tensor(vals, shape), tf.tensor(Int32Array.from(vals, v => Math.round(v)), shape, 'int32'),
                    tf.tensor(Uint8Array.from(vals, v => (v > 0 ? 1 : 0)), shape, 'bool')];
        for (let trial = 0; trial < 12; trial++) {
          const begin = shape.map(s => Math.floor(r() * s));
          // whole trailing axes in some trials: the contiguous-run case
          const whole = trial % 3 === 0 ? Math.floor(r() * shape.length) : shape.length;
          const b = begin.map((v, a) => (a >= whole ? 0 : v));
          const sz = shape.map((s, a) => (a >= whole ? s : 1 + Math.floor(r() * (s - b[a]))));
          for (const x of xs) {
            tf.tidy(() => expectSame(sliceWindow(x, b, sz), tf.slice(x, b, sz)));
          }
        }
        tf.dispose(xs);
      }
    });
  });

  it('take −1 as "to the end", and give empty windows', () => {
    const x = tf.range(0, 24).reshape([4, 6]);
    tf.tidy(() => expectSame(sliceWindow(x, [1, 2], [-1, -1]), tf.slice(x, [1, 2], [3, 4])));
    tf.tidy(() => expect(sliceWindow(x, [2, 0], [0, 6]).shape).toEqual([0, 6]));
    x.dispose();
  });

  it('cut rows and blocks as tf.slice does, also from a large matrix', async () => {
    const x = tf.randomNormal([1500, 1200], 0, 1, 'float32', 3) as tf.Tensor2D;
    await expectNoLeak(() => tf.tidy(() => {
      expectSame(rowRange(x, 700, 800), tf.slice(x, [700, 0], [800, 1200]));
      expectSame(subMatrix(x, 32, 32, 1468, 1168), tf.slice(x, [32, 32], [1468, 1168]));
      const four = tf.reshape(x, [10, 150, 30, 40]);
      expectSame(rowRange(four, 3, 5), tf.slice(four, [3, 0, 0, 0], [5, 150, 30, 40]));
    }));
    x.dispose();
  });

  it('gather rows in any order, with repeats, as tf.gather does', async () => {
    const x = tf.randomNormal([50, 3, 4], 0, 1, 'float32', 5);
    const idx = tf.tensor1d([49, 0, 7, 7, 23, 1], 'int32');
    await expectNoLeak(() => tf.tidy(() => {
      expectSame(gatherRows(x, idx), tf.gather(x, idx));
      const ints = tf.cast(tf.mul(x, 100), 'int32');
      expectSame(gatherRows(ints, idx), tf.gather(ints, idx));
    }));
    tf.dispose([x, idx]);
  });

  it('reject windows and indices outside the tensor, naming the axis, and leave nothing behind', async () => {
    const x = tf.zeros([4, 5]);
    await expectNoLeak(() => {
      expect(() => sliceWindow(x, [0, 3], [4, 3])).toThrowError(/axis 1: \[3, 6\) is outside \[0, 5\)/);
      expect(() => sliceWindow(x, [0], [4])).toThrowError(/one entry per axis/);
      expect(() => rowRange(x, 3, 2)).toThrowError(/axis 0: \[3, 5\) is outside \[0, 4\)/);
      const bad = tf.tensor1d([1, 4], 'int32');
      expect(() => gatherRows(x, bad)).toThrowError(/index 4 \(at 1\) is outside \[0, 4\) rows/);
      bad.dispose();
    });
    x.dispose();
  });
});
