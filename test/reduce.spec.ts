import * as tf from '@tensorflow/tfjs';
import {columnSums} from '../src/engine/reduce';
import {describeBackends, expectNoLeak} from './helpers/backends';
import {lcg} from './helpers/linalg';

describeBackends('columnSums (1ᵀ·a)', () => {
  it('equals the per-column sums, for float and int inputs, without leaks', async () => {
    const r = lcg(5);
    const rows = Array.from({length: 37}, () => Array.from({length: 6}, () => 10 * (r() - 0.5)));
    const a = tf.tensor2d(rows);
    const expected = rows[0].map((_, j) => rows.reduce((s, row) => s + row[j], 0));
    await expectNoLeak(() => columnSums(a).dispose());
    const got = await columnSums(a).array();
    expect(got.length).toBe(6);
    got.forEach((v, j) => expect(v).toBeCloseTo(expected[j], 3));
    const ints = tf.tensor2d([[1, 2], [3, 4], [5, 6]], [3, 2], 'int32');
    expect(await columnSums(ints).array()).toEqual([9, 12]);
    tf.dispose([a, ints]);
  });

  it('rejects tensors that are not 2-D, naming the shape', () => {
    const v = tf.tensor1d([1, 2, 3]);
    expect(() => columnSums(v)).toThrowError(/2-D tensor, got shape \[3\]/);
    v.dispose();
  });
});
