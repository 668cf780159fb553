import * as tf from '@tensorflow/tfjs';
import {dataScaledInit, DenseState, erSweep, tensorBatches} from '../src/engine/index';
import {describeBackends} from './helpers/backends';
import {readCsv} from './helpers/fixtures';

/** One ER update of a 2-32-2 net on the rings fixture, on the current backend. */
function oneUpdate(xs: number[][], labels: number[]): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor2d(xs);
    const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 2).toFloat() as tf.Tensor2D;
    const layers: DenseState[] = [
      {name: 'h', kernel: tf.zeros([2, 32]), bias: tf.zeros([32]), activation: 'relu', trainable: true},
      {name: 'o', kernel: tf.zeros([32, 2]), bias: tf.zeros([2]), activation: 'softmax', trainable: true},
    ] as DenseState[];
    // the same initial weights on every backend: drawn from fixed arrays
    const init = dataScaledInit(layers, x, 3);
    init.forEach((w, i) => Object.assign(layers[i], {kernel: w.kernel, bias: w.bias}));
    const {weights} = erSweep(layers, tensorBatches(x, y, 250));
    return weights.flatMap(w => [w!.kernel.dataSync() as Float32Array, w!.bias!.dataSync() as Float32Array]);
  });
}

describeBackends('backend parity', backend => {
  it(`one ER update on ${backend} equals the cpu backend's (float32 tolerance)`, async () => {
    const {rows} = await readCsv('rings.csv');
    const xs = rows.map(r => r.slice(0, 2)), labels = rows.map(r => r[2]);
    // initial weights are random draws: fix them by drawing on cpu and passing arrays
    await tf.setBackend('cpu');
    const onCpu = oneUpdate(xs, labels);
    await tf.setBackend(backend);
    const here = oneUpdate(xs, labels);
    expect(here.length).toBe(onCpu.length);
    here.forEach((arr, i) => {
      let scale = 0, diff = 0;
      arr.forEach((v, j) => {
        scale = Math.max(scale, Math.abs(onCpu[i][j]));
        diff = Math.max(diff, Math.abs(v - onCpu[i][j]));
      });
      expect(diff / scale).withContext(`tensor ${i}`).toBeLessThan(2e-3);
    });
  });
});
