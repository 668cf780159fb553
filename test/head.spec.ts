import * as tf from '@tensorflow/tfjs';
import {RidgeAccumulator} from '../src/engine/index';
import {er, ERHead, erHead, ERInputError, extendERHead} from '../src/index';
import {describeBackends, expectNoLeak} from './helpers/backends';
import {maxDiff, toyClassification} from './helpers/data';
import {maxRelErr, ridgeReference} from './helpers/linalg';
import {expectUnchanged, saveAndLoad} from './helpers/models';

/** A small frozen "feature extractor": 4 → 8 (relu) → 3 (softmax), seeded. */
function makeBase(seed = 3): tf.Sequential {
  return tf.sequential({layers: [
    tf.layers.dense({inputShape: [4], units: 8, activation: 'relu', name: 'features',
                     kernelInitializer: tf.initializers.randomNormal({seed, stddev: 0.7}),
                     biasInitializer: tf.initializers.constant({value: 0.1})}),
    tf.layers.dense({units: 3, activation: 'softmax', name: 'old_output'}),
  ]});
}

/** A small frozen convnet on 6×6×1 images: conv 'conv' (3×3, `filters`, ReLU) → flatten → 2-way softmax. */
function convBase(filters: number): tf.Sequential {
  return tf.sequential({layers: [
    tf.layers.conv2d({inputShape: [6, 6, 1], filters, kernelSize: 3, activation: 'relu',
                      kernelInitializer: tf.initializers.randomNormal({seed: 9}), name: 'conv'}),
    tf.layers.flatten(),
    tf.layers.dense({units: 2, activation: 'softmax'}),
  ]});
}

function headWeights(model: tf.LayersModel): tf.Tensor[] {
  return (model.getLayer('er_head') as ERHead).getWeights().slice(0, 2);
}

function rowsOfClass(labels: tf.Tensor1D, classes: number[]): number[] {
  const l = labels.dataSync();
  return Array.from(l).map((c, i) => [c, i]).filter(([c]) => classes.includes(c)).map(([, i]) => i);
}

describeBackends('erHead', () => {
  let x: tf.Tensor2D, y: tf.Tensor2D, labels: tf.Tensor1D;
  beforeAll(() => ({x, y, labels} = toyClassification(240, 5)));
  afterAll(() => tf.dispose([x, y, labels]));

  it('one fit solves the head exactly: float64 ridge of ±2 targets on the frozen features', async () => {
    const base = makeBase();
    const baseWeights = base.layers.flatMap(l => l.getWeights().map(w => w.clone()));
    const model = erHead(base, {classes: 3, alpha: 1e-3});
    expect(model.getLayer('er_head')).toEqual(jasmine.any(ERHead));
    await model.fit(x, y, {epochs: 1, batchSize: 64, verbose: 0});
    const feats = tf.tidy(() => (tf.model({inputs: base.inputs, outputs: base.getLayer('features').output as tf.SymbolicTensor})
                                     .predict(x) as tf.Tensor2D));
    const X = feats.arraySync() as number[][];
    const T = (y.arraySync() as number[][]).map(r => r.map(v => 4 * v - 2));
    const ref = ridgeReference(X, T, 1e-3);
    const [W, b] = headWeights(model);
    expect(maxRelErr(W.arraySync() as number[][], ref.W)).toBeLessThan(2e-3);
    expect(maxRelErr([b.arraySync() as number[]], [ref.b])).toBeLessThan(2e-3);
    expect((model.getLayer('er_head') as ERHead).exampleCount).toBe(240);
    // the base stayed frozen and unchanged
    base.layers.flatMap(l => l.getWeights()).forEach((w, i) => expect(maxDiff(w, baseWeights[i])).toBe(0));
    expect(base.getLayer('features').trainable).toBe(false);
    const [, acc] = model.evaluate(x, y) as tf.Scalar[];
    expect(acc.dataSync()[0]).toBeGreaterThan(0.6);
    tf.dispose([feats, acc, ...baseWeights]);
    model.dispose();
  });

  it('statistics are additive: two fits equal one fit on all rows; more epochs add nothing', async () => {
    const base = makeBase();
    const once = erHead(base, {classes: 3});
    await once.fit(x, y, {epochs: 1, batchSize: 50, verbose: 0});
    const twice = erHead(base, {classes: 3, name: 'er_head'});
    const [x1, x2] = tf.split(x, [100, 140]);
    const [y1, y2] = tf.split(y, [100, 140]);
    await twice.fit(x1, y1, {epochs: 3, batchSize: 32, verbose: 0});
    expect((twice.getLayer('er_head') as ERHead).exampleCount).toBe(100);
    await twice.fit(x2, y2, {epochs: 2, batchSize: 32, verbose: 0});
    expect((twice.getLayer('er_head') as ERHead).exampleCount).toBe(240);
    const a = headWeights(once), b = headWeights(twice);
    expect(maxDiff(a[0], b[0])).toBeLessThan(2e-3 * (1 + tf.max(tf.abs(a[0])).dataSync()[0]));
    expect(maxDiff(a[1], b[1])).toBeLessThan(2e-3 * (1 + tf.max(tf.abs(a[1])).dataSync()[0]));
    tf.dispose([x1, x2, y1, y2]);
  });

  it('extendERHead adds a class from its examples alone and matches a head trained on everything', async () => {
    const base = makeBase();
    const old = rowsOfClass(labels, [0, 1]);
    const fresh = rowsOfClass(labels, [2]);
    const two = erHead(base, {classes: 2, labels: ['zero', 'one']});
    const xOld = tf.gather(x, old), yOld = tf.tidy(() => tf.gather(y, old).slice([0, 0], [-1, 2]));
    await two.fit(xOld, yOld, {epochs: 1, batchSize: 40, verbose: 0});
    const three = extendERHead(two, {classes: 3});
    expect((three.getLayer('er_head') as ERHead).labels).toEqual(['zero', 'one', 'class 2']);
    expect((three.getLayer('er_head') as ERHead).exampleCount).toBe(old.length);
    const xNew = tf.gather(x, fresh), yNew = tf.gather(y, fresh);
    await three.fit(xNew, yNew, {epochs: 1, batchSize: 40, verbose: 0});
    // the same examples in one go
    const all = erHead(base, {classes: 3});
    const order = [...old, ...fresh];
    const xa = tf.gather(x, order), ya = tf.gather(y, order);
    await all.fit(xa, ya, {epochs: 1, batchSize: 40, verbose: 0});
    const a = headWeights(three), b = headWeights(all);
    expect(maxDiff(a[0], b[0])).toBeLessThan(2e-3 * (1 + tf.max(tf.abs(b[0])).dataSync()[0]));
    expect(maxDiff(a[1], b[1])).toBeLessThan(2e-3 * (1 + tf.max(tf.abs(b[1])).dataSync()[0]));
    // the old model is unchanged and still predicts 2 classes
    expect((two.predict(xOld) as tf.Tensor).shape).toEqual([old.length, 2]);
    tf.dispose([xOld, yOld, xNew, yNew, xa, ya]);
  });

  it('saves and loads with its statistics; training continues as if uninterrupted', async () => {
    const base = makeBase();
    const [x1, x2] = tf.split(x, [120, 120]);
    const [y1, y2] = tf.split(y, [120, 120]);
    const model = erHead(base, {classes: 3, labels: ['a', 'b', 'c']});
    await model.fit(x1, y1, {epochs: 1, batchSize: 60, verbose: 0});
    const {loaded} = await saveAndLoad(model);
    const head = loaded.getLayer('er_head') as ERHead;
    expect(head).toEqual(jasmine.any(ERHead));
    expect(head.labels).toEqual(['a', 'b', 'c']);
    expect(head.exampleCount).toBe(120);
    const p1 = model.predict(x2) as tf.Tensor, p2 = loaded.predict(x2) as tf.Tensor;
    expect(maxDiff(p1, p2)).toBeLessThan(1e-5);
    loaded.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
    await loaded.fit(x2, y2, {epochs: 1, batchSize: 60, verbose: 0});
    await model.fit(x2, y2, {epochs: 1, batchSize: 60, verbose: 0});
    const a = headWeights(model), b = (loaded.getLayer('er_head') as ERHead).getWeights().slice(0, 2);
    expect(maxDiff(a[0], b[0])).toBeLessThan(1e-4 * (1 + tf.max(tf.abs(a[0])).dataSync()[0]));
    tf.dispose([x1, x2, y1, y2, p1, p2]);
  });

  it('trainOnBatch adds each batch and re-solves; leaves no tensor behind', async () => {
    const base = makeBase();
    const model = erHead(base, {classes: 3, loss: 'sparseCategoricalCrossentropy'});
    const [x1, x2] = tf.split(x, [120, 120]);
    const [l1, l2] = tf.tidy(() => tf.split(tf.cast(labels, 'float32'), [120, 120]));
    await model.trainOnBatch(x1, l1);  // warm-up (creates the optimizer's iteration counter)
    await expectNoLeak(async () => {
      const r = await model.trainOnBatch(x2, l2);
      expect((model.getLayer('er_head') as ERHead).exampleCount).toBe(240);
      expect((model.optimizer as any).updates).toBe(2);
      return r;
    });
    const acc = new RidgeAccumulator(8, 3);  // ensure nothing else of ER stays alive either
    acc.dispose();
    tf.dispose([x1, x2, l1, l2]);
  });

  it('bad input gets clear errors that name the option, layer or shape', async () => {
    const base = makeBase();
    expect(() => erHead(base, {classes: 0})).toThrowMatching(
        e => e instanceof ERInputError && /classes must be an integer/.test(e.message));
    expect(() => erHead(base, {classes: 2, labels: ['a']})).toThrowMatching(
        e => e instanceof ERInputError && /1 labels given for 2 classes/.test(e.message));
    expect(() => erHead(base, {classes: 2, layer: 'nope'})).toThrowMatching(
        e => e instanceof ERInputError && /no layer "nope".*'features'/.test(e.message));
    expect(() => erHead(base, {classes: 2, loss: 'meanSquaredError' as any})).toThrowMatching(
        e => e instanceof ERInputError && /classifier.*meanSquaredError/.test(e.message));
    const model = erHead(base, {classes: 3});
    const before = headWeights(model).map(w => w.clone());
    await expectAsync(model.fit(x, tf.zeros([240, 2]), {epochs: 1, verbose: 0})).toBeRejected();
    expectUnchanged(headWeights(model), before);
    base.layers[0].trainable = true;
    expect(() => model.compile({optimizer: er(), loss: 'categoricalCrossentropy'})).toThrowMatching(
        e => e instanceof ERInputError && /layer 'features'.*trainable.*head 'er_head'/.test(e.message));
    expect(() => extendERHead(model, {classes: 2})).toThrowMatching(
        e => e instanceof ERInputError && /has 3 classes/.test(e.message));
    expect(() => extendERHead(base, {classes: 5})).toThrowMatching(
        e => e instanceof ERInputError && /does not end in an ER head/.test(e.message));
    tf.dispose(before);
  });

  it('features of rank > 2 (a conv feature map) are flattened; a named or indexed layer can be chosen', async () => {
    const base = convBase(2);
    const byName = erHead(base, {classes: 2, layer: 'conv'});
    const byIndex = erHead(base, {classes: 2, layer: 0, name: 'head2'});
    const xi = tf.randomUniform([30, 6, 6, 1], 0, 1, 'float32', 4);
    const yi = tf.tidy(() => tf.oneHot(tf.cast(tf.greater(tf.mean(xi, [1, 2, 3]), 0.5), 'int32'), 2));
    await byName.fit(xi, yi, {epochs: 1, verbose: 0});
    await byIndex.fit(xi, yi, {epochs: 1, verbose: 0});
    const p1 = byName.predict(xi) as tf.Tensor, p2 = byIndex.predict(xi) as tf.Tensor;
    expect(p1.shape).toEqual([30, 2]);
    expect(maxDiff(p1, p2)).toBeLessThan(1e-4);
    tf.dispose([xi, yi, p1, p2]);
  });
  it("pooling 'average' / 'max': the head solves on the feature map's global pooling, and saves and loads", async () => {
    const base = convBase(3);
    const xi = tf.randomUniform([40, 6, 6, 1], 0, 1, 'float32', 4);
    const yi = tf.tidy(() => tf.oneHot(tf.cast(tf.greater(tf.mean(xi, [1, 2, 3]), 0.5), 'int32'), 2));
    const T = (yi.arraySync() as number[][]).map(r => r.map(v => 4 * v - 2));
    const maps = tf.model({inputs: base.inputs, outputs: base.getLayer('conv').output as tf.SymbolicTensor}).predict(xi) as tf.Tensor4D;
    for (const pooling of ['average', 'max'] as const) {
      const model = erHead(base, {classes: 2, layer: 'conv', pooling, alpha: 1e-3});
      expect(model.getLayer('er_head_pooling').outputShape).toEqual([null, 3]);
      await model.fit(xi, yi, {epochs: 1, verbose: 0});
      const pooled = tf.tidy(() => pooling === 'average' ? tf.mean(maps, [1, 2]) : tf.max(maps, [1, 2]));
      const ref = ridgeReference(pooled.arraySync() as number[][], T, 1e-3);
      const [W] = headWeights(model);
      expect(W.shape).toEqual([3, 2]);
      expect(maxRelErr(W.arraySync() as number[][], ref.W)).withContext(pooling).toBeLessThan(5e-3);
      const {loaded} = await saveAndLoad(model);
      const p1 = model.predict(xi) as tf.Tensor, p2 = loaded.predict(xi) as tf.Tensor;
      expect(maxDiff(p1, p2)).withContext(pooling).toBeLessThan(1e-6);
      tf.dispose([pooled, p1, p2]);
      loaded.dispose();
    }
    // a sequence [t, c] pools over t; rank 5 is refused with the way out
    const seq = tf.sequential({layers: [tf.layers.dense({inputShape: [6, 4], units: 5, name: 'seq'}),
                                        tf.layers.flatten(), tf.layers.dense({units: 2})]});
    expect(erHead(seq, {classes: 2, layer: 'seq', pooling: 'max'}).getLayer('er_head_pooling').outputShape)
        .toEqual([null, 5]);
    const vol = tf.sequential({layers: [tf.layers.dense({inputShape: [2, 3, 4, 2], units: 3, name: 'vol'}),
                                        tf.layers.flatten(), tf.layers.dense({units: 2})]});
    expect(() => erHead(vol, {classes: 2, layer: 'vol', pooling: 'average'})).toThrowMatching(
        e => e instanceof ERInputError && /rank 3 or 4 .* these have rank 5: use pooling 'flatten'/.test(e.message));
    const before = tf.memory().numTensors;
    expect(() => erHead(base, {classes: 2, layer: 'conv', pooling: 'mean' as 'average'})).toThrowMatching(
        e => e instanceof ERInputError && /pooling must be 'flatten', 'average' or 'max', got "mean"/.test(e.message));
    expect(() => erHead(base, {classes: 2, pooling: 'sum' as 'max'})).toThrowMatching(
        e => e instanceof ERInputError && /pooling must be/.test(e.message));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([xi, yi, maps]);
    seq.dispose();
    vol.dispose();
  });
  it('projection: a frozen seeded random ReLU layer before the head; the head solves on its outputs', async () => {
    const base = makeBase();
    const model = erHead(base, {classes: 3, alpha: 1e-3, projection: {units: 16, seed: 7}});
    const proj = model.getLayer('er_head_projection');
    expect(proj.trainable).toBe(false);
    expect(proj.getWeights().map(w => w.shape)).toEqual([[8, 16]]);
    // the same seed draws the same matrix; another seed another one
    const again = erHead(makeBase(), {classes: 3, projection: {units: 16, seed: 7}});
    const other = erHead(makeBase(), {classes: 3, projection: {units: 16, seed: 8}});
    expect(maxDiff(again.getLayer('er_head_projection').getWeights()[0], proj.getWeights()[0])).toBe(0);
    expect(maxDiff(other.getLayer('er_head_projection').getWeights()[0], proj.getWeights()[0])).toBeGreaterThan(0.01);
    const before = proj.getWeights()[0].clone();
    await model.fit(x, y, {epochs: 1, batchSize: 64, verbose: 0});
    expect(maxDiff(proj.getWeights()[0], before)).toBe(0);
    // the head is the ridge of ±2 targets on relu(features · R)
    const feats = tf.tidy(() => tf.relu(tf.matMul(
        tf.model({inputs: base.inputs, outputs: base.getLayer('features').output as tf.SymbolicTensor}).predict(x) as tf.Tensor2D,
        before as tf.Tensor2D)));
    const T = (y.arraySync() as number[][]).map(r => r.map(v => 4 * v - 2));
    const ref = ridgeReference(feats.arraySync() as number[][], T, 1e-3);
    const [W] = headWeights(model);
    expect(maxRelErr(W.arraySync() as number[][], ref.W)).toBeLessThan(5e-3);
    // it saves and loads with the model, and extending keeps it
    const {loaded} = await saveAndLoad(model);
    expect(maxDiff(loaded.getLayer('er_head_projection').getWeights()[0], before)).toBe(0);
    const p1 = model.predict(x) as tf.Tensor, p2 = loaded.predict(x) as tf.Tensor;
    expect(maxDiff(p1, p2)).toBeLessThan(1e-5);
    const grown = extendERHead(model, {classes: 4});
    expect(grown.getLayer('er_head_projection')).toBe(proj);
    expect(() => erHead(makeBase(), {classes: 3, projection: {units: 0}})).toThrowError(ERInputError, /projection.units/);
    expect(() => erHead(makeBase(), {classes: 3, projection: {units: 4, seed: NaN}})).toThrowError(ERInputError, /projection.seed/);
    tf.dispose([before, feats, p1, p2]);
    [again, other, loaded, grown].forEach(m => m.getLayer('er_head').dispose());
  });
});
