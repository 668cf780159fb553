// erHead on a real pretrained backbone: the MobileNetV2 that the nsfwjs package ships
// (bench/backbone.ts), at 96×96 for speed. Node only (it reads the package's files).
import * as tf from '@tensorflow/tfjs';
import {loadMobileNetV2} from '../bench/backbone';
import {er, ERHead, erHead, extendERHead} from '../src/index';
import {describeBackends} from './helpers/backends';
import {saveAndLoad} from './helpers/models';

const SIZE = 96;

/** Synthetic photos of three "objects" (red discs, blue stripes, green triangles), [n, 96, 96, 3] in [0, 1]. */
function objects(kind: number, seeds: number[]): tf.Tensor4D {
  const data = new Float32Array(seeds.length * SIZE * SIZE * 3);
  seeds.forEach((seed, i) => {
    let s = seed * 7919 + 17 + kind * 104729;
    const r = () => (s = (s * 16807) % 2147483647) / 2147483647;
    const bg = [0.85 + 0.1 * r(), 0.85 + 0.1 * r(), 0.8 + 0.15 * r()];
    const fg = kind === 0 ? [0.75 + 0.2 * r(), 0.1 * r(), 0.1 * r()] : kind === 1 ? [0.1 * r(), 0.2 * r(), 0.7 + 0.25 * r()] :
               [0.1 * r(), 0.6 + 0.3 * r(), 0.15 * r()];
    const cx = 30 + 36 * r(), cy = 30 + 36 * r(), size = 15 + 12 * r(), w = 5 + 5 * r(), off = 10 * r();
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const inside = kind === 0 ? (x - cx) ** 2 + (y - cy) ** 2 < size ** 2 :
                       kind === 1 ? Math.floor((y + off) / w) % 2 === 0 :
                       y > cy - size && y < cy + size && Math.abs(x - cx) < (y - (cy - size)) / 2;
        const c = inside ? fg : bg, o = ((i * SIZE + y) * SIZE + x) * 3;
        data[o] = c[0];
        data[o + 1] = c[1];
        data[o + 2] = c[2];
      }
    }
  });
  return tf.tensor4d(data, [seeds.length, SIZE, SIZE, 3]);
}

const oneHot = (labels: number[], classes: number) =>
    tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), classes).toFloat());

function predicted(model: tf.LayersModel, x: tf.Tensor): number[] {
  const best = tf.tidy(() => tf.argMax(model.predict(x) as tf.Tensor, 1));
  const out = Array.from(best.dataSync());
  best.dispose();
  return out;
}

describeBackends('erHead on MobileNetV2 (nsfwjs)', backend => {
  it('teaches 2 objects, saves and loads with its statistics, adds a 3rd after loading: equal to the joint solve', async () => {
    const before = tf.memory().numTensors;
    const backbone = await loadMobileNetV2({size: SIZE});
    const train = [0, 1, 2].map(k => objects(k, [1, 2, 3, 4]));
    const held = [0, 1, 2].map(k => objects(k, [11, 12]));
    // α fixed: with 12 examples of 1280 features GCV picks the smallest α, where the head nearly
    // interpolates and float32 statistics pin its weights only to ~10 % (its predictions to ~1e-3)
    const alpha = 0.01;
    const two = erHead(backbone, {classes: 2, layer: 'flatten_1', labels: ['disc', 'stripes'], alpha});
    const x01 = tf.concat([train[0], train[1]]), y01 = oneHot([0, 0, 0, 0, 1, 1, 1, 1], 2);
    await two.fit(x01, y01, {epochs: 1, batchSize: 8, verbose: 0});
    const h01 = tf.concat([held[0], held[1]]);
    expect(predicted(two, h01)).toEqual([0, 0, 1, 1]);

    // save (backbone + head + statistics) and load; extend the loaded model with the 3rd object alone
    const {loaded} = await saveAndLoad(two);
    expect((loaded.getLayer('er_head') as ERHead).exampleCount).toBe(8);
    loaded.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
    const three = extendERHead(loaded, {classes: 3, labels: ['disc', 'stripes', 'triangle']});
    const y2 = oneHot([2, 2, 2, 2], 3);
    await three.fit(train[2], y2, {epochs: 1, batchSize: 8, verbose: 0});
    const hAll = tf.concat(held);
    expect(predicted(three, hAll)).toEqual([0, 0, 1, 1, 2, 2]);

    // the same as one solve on all 12 examples
    const joint = erHead(backbone, {classes: 3, layer: 'flatten_1', alpha});
    const xAll = tf.concat(train), yAll = oneHot([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2], 3);
    await joint.fit(xAll, yAll, {epochs: 1, batchSize: 12, verbose: 0});
    const hi = three.getLayer('er_head') as ERHead, hj = joint.getLayer('er_head') as ERHead;
    expect(hi.exampleCount).toBe(12);
    const pi = three.predict(hAll) as tf.Tensor, pj = joint.predict(hAll) as tf.Tensor;
    const gap = tf.tidy(() => tf.max(tf.abs(tf.sub(pi, pj))).dataSync()[0]);
    expect(gap).withContext(`${backend}: probabilities, incremental vs joint`).toBeLessThan(1e-4);
    const [wi, wj] = [hi.getWeights()[0], hj.getWeights()[0]];
    const rel = tf.tidy(() => tf.max(tf.abs(tf.sub(wi, wj))).dataSync()[0] / tf.max(tf.abs(wj)).dataSync()[0]);
    expect(rel).withContext(`${backend}: weights, incremental vs joint (float32 statistics)`).toBeLessThan(5e-3);
    tf.dispose([pi, pj]);

    tf.dispose([...train, ...held, x01, y01, h01, y2, hAll, xAll, yAll]);
    for (const m of [two, loaded, three, joint]) m.optimizer?.dispose();
    loaded.dispose();
    (three.getLayer('er_head') as ERHead).dispose();
    (joint.getLayer('er_head') as ERHead).dispose();
    two.dispose();  // the backbone and the first head
    expect(tf.memory().numTensors - before).withContext('tensors left').toBe(0);
  });
});
