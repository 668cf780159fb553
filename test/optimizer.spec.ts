import * as tf from '@tensorflow/tfjs';
import {AUTO_ALPHAS, DenseState, erSweep, tensorBatches} from '../src/engine/index';
import {er, ERInputError, erLayers, ExpectationReflection} from '../src/index';
import {describeBackends} from './helpers/backends';
import {maxDiff, relDiff, toyClassification} from './helpers/data';
import {StepSearchMap} from '../src/engine/update/search_map';
import {expectUnchanged, saveAndLoad, smallConvnet, smallMlp} from './helpers/models';

type Act = 'relu'|'tanh'|'softmax'|'sigmoid'|'linear';

function mlp(hidden: number[], out: number, outAct: Act, seed = 0): tf.Sequential {
  const layers: tf.layers.Layer[] = [];
  hidden.forEach((u, i) => layers.push(erLayers.dense({
    inputShape: i === 0 ? [4] : undefined, units: u, activation: 'relu'})));
  layers.push(erLayers.dense({inputShape: hidden.length ? undefined : [4], units: out, activation: outAct}));
  const model = tf.sequential({layers});
  // deterministic weights (seeded initialisers are not reproducible across calls)
  tf.tidy(() => model.setWeights(model.getWeights().map((w, i) =>
      tf.randomNormal(w.shape, 0, w.rank === 2 ? 1 / Math.sqrt(w.shape[0]) : 0.1, 'float32', seed * 31 + i + 1))));
  return model;
}

/** The model's dense layers as engine layers (copies of the current weights). */
function statesOf(model: tf.LayersModel): DenseState[] {
  return model.layers.map(l => {
    const [k, b] = l.getWeights().map(w => w.clone());
    return {name: l.name, kernel: k as tf.Tensor2D, bias: b as tf.Tensor1D,
            activation: (l.getConfig() as any).activation, trainable: l.trainable};
  });
}

function weightsOf(model: tf.LayersModel): tf.Tensor[] {
  return model.getWeights().map(w => w.clone());
}

describeBackends('er() optimizer with compile/fit', () => {
  let x: tf.Tensor2D, y: tf.Tensor2D, labels: tf.Tensor1D;
  beforeAll(() => ({x, y, labels} = toyClassification(240, 3)));
  afterAll(() => tf.dispose([x, y, labels]));

  it('one epoch of fit equals the engine\'s one-shot full-batch update, for every batch size', async () => {
    const reference = mlp([16], 3, 'softmax');
    const states = statesOf(reference);
    const {weights} = erSweep(states, tensorBatches(x, y, 240));
    const expected = weights.flatMap(w => [w!.kernel, w!.bias!]);
    for (const batchSize of [240, 60, 24, 8]) {
      const model = mlp([16], 3, 'softmax');
      model.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
      await model.fit(x, y, {epochs: 1, batchSize, verbose: 0});
      model.getWeights().forEach((w, i) =>
          expect(relDiff(w, expected[i])).withContext(`batch ${batchSize}, weight ${i}`).toBeLessThan(1e-3));
      model.dispose();
    }
    tf.dispose([...expected, ...states.flatMap(s => [s.kernel, s.bias!])]);
    reference.dispose();
  });

  it('History holds loss and metrics per epoch; validation reflects the updated weights', async () => {
    const model = mlp([32], 3, 'softmax');
    model.compile({optimizer: er(), loss: 'categoricalCrossentropy', metrics: ['accuracy']});
    const xv = x.slice([0, 0], [60, 4]), yv = y.slice([0, 0], [60, 3]);
    const epochEnds: number[] = [];
    const h = await model.fit(x, y, {
      epochs: 3, batchSize: 48, validationData: [xv, yv], shuffle: true, verbose: 0,
      callbacks: {onEpochEnd: async (_e, logs) => { epochEnds.push(logs!.val_loss as number); }},
    });
    expect(Object.keys(h.history).sort()).toEqual(['acc', 'loss', 'val_acc', 'val_loss']);
    expect(h.history.loss.length).toBe(3);
    expect(epochEnds.length).toBe(3);
    // epoch 1's training loss is measured before the first update: the glorot net is poor
    expect(h.history.acc[0] as number).toBeLessThan(h.history.val_acc[0] as number);
    // validation after the last epoch equals evaluate() on the final weights
    const [vl, va] = model.evaluate(xv, yv) as tf.Scalar[];
    expect(h.history.val_loss[2] as number).toBeCloseTo(vl.dataSync()[0], 4);
    expect(h.history.val_acc[2] as number).toBeCloseTo(va.dataSync()[0], 4);
    expect(va.dataSync()[0]).toBeGreaterThan(0.8);
    tf.dispose([vl, va, xv, yv]);
    model.dispose();
  });

  it('validationSplit works and reports validation metrics', async () => {
    const model = mlp([16], 3, 'softmax');
    model.compile({optimizer: er(), loss: 'categoricalCrossentropy', metrics: ['accuracy']});
    const h = await model.fit(x, y, {epochs: 2, batchSize: 64, validationSplit: 0.25, verbose: 0});
    expect(h.history.val_acc.length).toBe(2);
    expect(h.history.val_acc[1] as number).toBeGreaterThan(0.7);
    model.dispose();
  });

  it('fitDataset (with and without batchesPerEpoch) gives the same update as fit', async () => {
    const ref = mlp([16], 3, 'softmax', 5);
    ref.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
    await ref.fit(x, y, {epochs: 1, batchSize: 40, shuffle: false, verbose: 0});
    for (const batchesPerEpoch of [6, undefined]) {
      const model = mlp([16], 3, 'softmax', 5);
      const opt = er();
      model.compile({optimizer: opt, loss: 'categoricalCrossentropy', metrics: ['accuracy']});
      const ds = tf.data.zip({xs: tf.data.array(x.unstack()), ys: tf.data.array(y.unstack())}).batch(40);
      const h = await model.fitDataset(ds as any, {epochs: 1, batchesPerEpoch, verbose: 0});
      expect(h.history.loss.length).toBe(1);
      expect(opt.updates).toBe(1);
      model.getWeights().forEach((w, i) => expect(relDiff(w, ref.getWeights()[i])).toBeLessThan(1e-3));
      model.dispose();
    }
    ref.dispose();
  });

  it('fitDataset without a known length still validates on the updated weights', async () => {
    const model = mlp([16], 3, 'softmax', 6);
    model.compile({optimizer: er(), loss: 'categoricalCrossentropy', metrics: ['accuracy']});
    const ds = tf.data.zip({xs: tf.data.array(x.unstack()), ys: tf.data.array(y.unstack())}).batch(40);
    const vds = tf.data.zip({xs: tf.data.array(x.unstack()), ys: tf.data.array(y.unstack())}).batch(120);
    const h = await model.fitDataset(ds.filter(() => true) as any,
                                     {epochs: 1, validationData: vds as any, verbose: 0});
    const [, acc] = model.evaluate(x, y) as tf.Scalar[];
    expect(h.history.val_acc[0] as number).toBeCloseTo(acc.dataSync()[0], 4);
    acc.dispose();
    model.dispose();
  });

  it('trainOnBatch applies one full update per call; evaluate and predict work', async () => {
    const model = mlp([16], 3, 'softmax', 7);
    const opt = er();
    model.compile({optimizer: opt, loss: 'categoricalCrossentropy', metrics: ['accuracy']});
    const before = weightsOf(model);
    const out = await model.trainOnBatch(x, y) as number[];
    expect(out.length).toBe(2);
    expect(opt.updates).toBe(1);
    expect(maxDiff(model.getWeights()[0], before[0])).toBeGreaterThan(0);
    // the same as a 1-epoch full-batch fit from the same start
    const twin = mlp([16], 3, 'softmax', 7);
    twin.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
    await twin.fit(x, y, {epochs: 1, batchSize: 240, verbose: 0});
    model.getWeights().forEach((w, i) => expect(relDiff(w, twin.getWeights()[i])).toBeLessThan(1e-3));
    const p = model.predict(x) as tf.Tensor;
    expect(p.shape).toEqual([240, 3]);
    const [, acc] = model.evaluate(x, y) as tf.Scalar[];
    expect(acc.dataSync()[0]).toBeGreaterThan(0.8);
    tf.dispose([...before, p, acc]);
    model.dispose();
    twin.dispose();
  });

  it("update: 'batch' applies an update after every batch", async () => {
    const model = mlp([16], 3, 'softmax', 8);
    const opt = er({update: 'batch'});
    model.compile({optimizer: opt, loss: 'categoricalCrossentropy', metrics: ['accuracy']});
    const seen: number[] = [];
    await model.fit(x, y, {epochs: 1, batchSize: 80, verbose: 0,
                           callbacks: {onBatchEnd: async () => { seen.push(opt.updates); }}});
    expect(seen).toEqual([1, 2, 3]);
    model.dispose();
  });

  const targetCases: Array<{loss: string, act: Act, y: () => tf.Tensor}> = [
    {loss: 'categoricalCrossentropy', act: 'softmax', y: () => y},
    {loss: 'sparseCategoricalCrossentropy', act: 'softmax', y: () => tf.cast(labels, 'float32')},
    {loss: 'binaryCrossentropy', act: 'sigmoid', y: () => y},
    {loss: 'meanSquaredError', act: 'linear', y: () => tf.sub(tf.mul(y, 2), 1)},
    {loss: 'meanSquaredError', act: 'tanh', y: () => tf.mul(tf.sub(tf.mul(y, 2), 1), 0.8)},
  ];
  for (const c of targetCases) {
    it(`${c.loss} with a ${c.act} output: ER uses the true targets exactly`, async () => {
      const yTrue = c.y();
      const model = mlp([8], 3, c.act, 11);
      const states = statesOf(model);
      const engineY = c.loss === 'sparseCategoricalCrossentropy' ? y : yTrue as tf.Tensor2D;
      const {weights} = erSweep(states, tensorBatches(x, engineY, 240));
      model.compile({optimizer: er(), loss: c.loss});
      await model.fit(x, yTrue, {epochs: 1, batchSize: 120, verbose: 0});
      const expected = weights.flatMap(w => [w!.kernel, w!.bias!]);
      model.getWeights().forEach((w, i) => expect(relDiff(w, expected[i])).toBeLessThan(1e-3));
      tf.dispose([...expected, ...states.flatMap(s => [s.kernel, s.bias!])]);
      if (yTrue !== y) yTrue.dispose();
      model.dispose();
    });
  }

  it('other optimizers are left alone: Adam still trains by backprop with tfjs-er imported', async () => {
    const model = tf.sequential({layers: [tf.layers.dense({inputShape: [4], units: 3, activation: 'softmax'})]});
    model.compile({optimizer: tf.train.adam(0.05), loss: 'categoricalCrossentropy'});
    const h = await model.fit(x, y, {epochs: 3, batchSize: 60, verbose: 0});
    expect(h.history.loss[2] as number).toBeLessThan(h.history.loss[0] as number);
    model.dispose();
  });

  it('other losses fail at compile with a message listing the supported ones', () => {
    const model = mlp([8], 3, 'softmax');
    for (const loss of ['meanAbsoluteError', 'hinge']) {
      expect(() => model.compile({optimizer: er(), loss}))
          .toThrowError(/cannot train with loss .*categoricalCrossentropy, sparseCategoricalCrossentropy, binaryCrossentropy, meanSquaredError/);
    }
    expect(() => model.compile({optimizer: er(), loss: (a: tf.Tensor, b: tf.Tensor) => tf.sub(a, b)}))
        .toThrowError(/custom function/);
    expect(() => model.compile({optimizer: er(), loss: 'binaryCrossentropy'})).not.toThrow();
    const lin = mlp([8], 3, 'linear');
    expect(() => lin.compile({optimizer: er(), loss: 'categoricalCrossentropy'}))
        .toThrowError(/a 'linear' output cannot be trained with categoricalCrossentropy/);
    model.dispose();
    lin.dispose();
  });

  it('frozen layers keep their weights; ER trains the rest', async () => {
    const model = mlp([16], 3, 'softmax', 12);
    model.layers[0].trainable = false;
    model.compile({optimizer: er(), loss: 'categoricalCrossentropy', metrics: ['accuracy']});
    const before = model.layers.map(l => l.getWeights().map(w => w.clone()));
    const h = await model.fit(x, y, {epochs: 2, batchSize: 60, verbose: 0});
    const after = model.layers.map(l => l.getWeights());
    expect(maxDiff(after[0][0], before[0][0])).toBe(0);
    expect(maxDiff(after[0][1], before[0][1])).toBe(0);
    expect(maxDiff(after[1][0], before[1][0])).toBeGreaterThan(0);
    expect(h.history.acc[1] as number).toBeGreaterThan(0.6);
    tf.dispose(before.flat());
    model.dispose();
  });

  it('save with includeOptimizer, load, continue: same predictions as an uninterrupted run', async () => {
    const straight = mlp([16], 3, 'softmax', 13);
    straight.compile({optimizer: er({mode: 'erls'}), loss: 'categoricalCrossentropy'});
    await straight.fit(x, y, {epochs: 2, batchSize: 60, shuffle: false, verbose: 0});

    const first = mlp([16], 3, 'softmax', 13);
    first.compile({optimizer: er({mode: 'erls'}), loss: 'categoricalCrossentropy'});
    await first.fit(x, y, {epochs: 1, batchSize: 60, shuffle: false, verbose: 0});
    const {loaded} = await saveAndLoad(first, {includeOptimizer: true});
    expect(loaded.layers.map(l => l.getClassName())).toEqual(['ERDense', 'ERDense']);
    expect(loaded.optimizer).toEqual(jasmine.any(ExpectationReflection));
    const opt = loaded.optimizer as ExpectationReflection;
    expect(opt.config.mode).toBe('erls');
    expect(opt.updates).toBe(1);
    expect(opt.iterations).toBe(1);  // ER's steps are its updates
    await loaded.fit(x, y, {epochs: 1, batchSize: 60, shuffle: false, verbose: 0});
    expect(opt.updates).toBe(2);
    const p1 = straight.predict(x) as tf.Tensor, p2 = loaded.predict(x) as tf.Tensor;
    expect(maxDiff(p1, p2)).toBeLessThan(1e-4);
    tf.dispose([p1, p2]);
    [straight, first, loaded].forEach(m => {
      m.dispose();
      m.optimizer.dispose();
    });
  });

  it("erls keeps the search rows' fields within its budget; what it recomputes gives the same weights", async () => {
    const {x, y} = toyClassification(600, 21);
    const images = tf.randomUniform([300, 6, 6, 1], 0, 1, 'float32', 5);
    const imageY = tf.tidy(() => tf.oneHot(tf.cast(tf.greater(tf.mean(images, [1, 2, 3]), 0.5), 'int32'), 2).toFloat());
    const initial = StepSearchMap.keepValues;
    try {
      for (const [name, make, xs, ys] of [['MLP', smallMlp, x, y], ['convnet', smallConvnet, images, imageY]] as const) {
        // everything kept; the fields' inputs only (a budget below the fields); only the targets
        const budgets = [initial, 20000, 0];
        const before = tf.memory().numTensors;
        const models = budgets.map(() => make());
        models.slice(1).forEach(m => m.setWeights(models[0].getWeights()));
        const optimizers = budgets.map(() => er({mode: 'erls', searchRows: 200}));
        for (const [i, m] of models.entries()) {
          StepSearchMap.keepValues = budgets[i];
          m.compile({optimizer: optimizers[i], loss: 'categoricalCrossentropy'});
          await m.fit(xs, ys, {epochs: 2, batchSize: 100, verbose: 0});
          expect(optimizers[i].lastReport!.stepScores).withContext(name).toBeDefined();
        }
        for (const m of models.slice(1)) expectUnchanged(m.getWeights(), models[0].getWeights(), `${name} weight`);
        models.forEach(m => m.dispose());
        optimizers.forEach(o => o.dispose());
        expect(tf.memory().numTensors - before).withContext(`${name}: tensors left`).toBe(0);
      }
    } finally {
      StepSearchMap.keepValues = initial;
      tf.dispose([x, y, images, imageY]);
    }
  });

  it('leaks no tensor: fit 3 epochs (with validation), then dispose model and optimizer', async () => {
    const xv = x.slice([0, 0], [30, 4]), yv = y.slice([0, 0], [30, 3]);
    for (const mode of ['er', 'erls'] as const) {
      const before = tf.memory().numTensors;
      const model = mlp([16, 8], 3, 'softmax');
      const opt = er({mode});
      model.compile({optimizer: opt, loss: 'categoricalCrossentropy', metrics: ['accuracy']});
      await model.fit(x, y, {epochs: 3, batchSize: 50, validationData: [xv, yv], verbose: 0});
      model.dispose();
      opt.dispose();
      expect(tf.memory().numTensors - before).withContext(mode).toBe(0);
    }
    tf.dispose([xv, yv]);
  });

  it('between epochs only the declared statistics stay alive', async () => {
    const model = mlp([16], 3, 'softmax');
    const opt = er();
    model.compile({optimizer: opt, loss: 'categoricalCrossentropy'});
    const counts: number[] = [];
    await model.fit(x, y, {epochs: 4, batchSize: 40, verbose: 0, callbacks: {
      onEpochEnd: async () => { counts.push(tf.memory().numTensors); }}});
    // the cached input Gram (gram, column sums, shift) appears after epoch 1, then nothing grows
    expect(counts[2]).toBe(counts[1]);
    expect(counts[3]).toBe(counts[1]);
    model.dispose();
    opt.dispose();
  });

  it('fit keeps nothing of size N: the extra passes re-read the training tensors', async () => {
    const model = mlp([16, 8], 3, 'softmax', 14);
    model.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
    const counts: number[] = [];
    await model.fit(x, y, {epochs: 2, batchSize: 20, verbose: 0, callbacks: {
      onBatchEnd: async () => { counts.push(tf.memory().numTensors); }}});
    // 12 batches per epoch; within an epoch the live tensor count must not grow
    const first = counts.slice(1, 11), second = counts.slice(13, 23);
    expect(new Set(first).size).withContext(`${first}`).toBe(1);
    expect(new Set(second).size).withContext(`${second}`).toBe(1);
    model.dispose();
  });

  it('with validationSplit the update uses exactly the training rows', async () => {
    const model = mlp([16], 3, 'softmax', 15);
    const states = statesOf(model);
    const xt = x.slice([0, 0], [180, 4]) as tf.Tensor2D, yt = y.slice([0, 0], [180, 3]) as tf.Tensor2D;
    const {weights} = erSweep(states, tensorBatches(xt, yt, 180));
    model.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
    await model.fit(x, y, {epochs: 1, batchSize: 30, validationSplit: 0.25, verbose: 0});
    const expected = weights.flatMap(w => [w!.kernel, w!.bias!]);
    model.getWeights().forEach((w, i) => expect(relDiff(w, expected[i])).toBeLessThan(1e-3));
    tf.dispose([...expected, ...states.flatMap(s => [s.kernel, s.bias!]), xt, yt]);
    model.dispose();
  });

  it('bad input never corrupts weights: NaN batch, wrong target width', async () => {
    const model = mlp([8], 3, 'softmax');
    model.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
    const before = weightsOf(model);
    const rows = x.arraySync();
    rows[17][2] = NaN;
    const xnan = tf.tensor2d(rows);
    await expectAsync(model.fit(xnan, y, {epochs: 1, batchSize: 60, verbose: 0}))
        .toBeRejectedWithError(/NaN or Infinity.*Weights were not changed/);
    expectUnchanged(model.getWeights(), before);
    const y4 = tf.zeros([240, 4]);
    await expectAsync(model.fit(x, y4, {epochs: 1, batchSize: 60, verbose: 0})).toBeRejected();
    expectUnchanged(model.getWeights(), before);
    // and the model still trains afterwards
    await model.fit(x, y, {epochs: 1, batchSize: 60, verbose: 0});
    expect(maxDiff(model.getWeights()[0], before[0])).toBeGreaterThan(0);
    tf.dispose([...before, xnan, y4]);
    model.dispose();
  });

  it('unknown activations and learning-rate options get clear errors', () => {
    const model = tf.sequential({layers: [
      erLayers.dense({inputShape: [4], units: 8, activation: 'elu'}),
      erLayers.dense({units: 3, activation: 'softmax'})]});
    expect(() => model.compile({optimizer: er(), loss: 'categoricalCrossentropy'}))
        .toThrowMatching(e => e instanceof ERInputError && /layer 'dense_\d+'|elu/.test(e.message) &&
                                /activation 'elu' has no Expectation Reflection rule/.test(e.message));
    expect(() => er({learningRate: 0.1} as any)).toThrowError(/unknown option 'learningRate' \(ER has no learning rate/);
    expect(() => er({alpha: -1})).toThrowError(/alpha must be a finite number >= 0/);
    expect(() => er({update: 'sometimes' as any})).toThrowError(/update must be 'epoch' or 'batch'/);
    model.dispose();
  });

  it('serialises its config (no learning rate) and restores it', () => {
    const opt = er({alpha: 1e-2, mode: 'erls', update: 'batch'});
    const cfg = opt.getConfig();
    expect(cfg).toEqual(jasmine.objectContaining({alpha: 1e-2, beta: 0.1, mode: 'erls', update: 'batch'}));
    expect(Object.keys(cfg).some(k => /learning/i.test(k))).toBeFalse();
    const copy = ExpectationReflection.fromConfig(ExpectationReflection, cfg);
    expect(copy.getConfig()).toEqual(cfg);
    expect(opt.getClassName()).toBe('ExpectationReflection');
    expect(tf.train.adam(1e-3) instanceof ExpectationReflection).toBeFalse();
    expect(opt instanceof ExpectationReflection).toBeTrue();
    expect(() => opt.applyGradients()).toThrowError(/does not apply gradients/);
  });

  it("er({alpha: 'auto'}) picks each layer's ridge by GCV and reports it", async () => {
    const {x, y} = toyClassification(120, 41);
    const model = tf.sequential({layers: [
      erLayers.dense({inputShape: [4], units: 40, activation: 'relu', kernelInitializer: tf.initializers.glorotNormal({seed: 2})}),
      erLayers.dense({units: 3, activation: 'softmax'})]});
    const opt = er({alpha: 'auto'});
    model.compile({optimizer: opt, loss: 'categoricalCrossentropy', metrics: ['accuracy']});
    const h = await model.fit(x, y, {epochs: 2, batchSize: 60, verbose: 0});
    const alphas = Object.values(opt.lastReport!.alphas);
    expect(alphas.length).toBe(2);
    for (const a of alphas) expect(AUTO_ALPHAS).toContain(a);
    expect(h.history.acc[1] as number).toBeGreaterThan(0.7);
    expect(() => er({alpha: 'big' as any})).toThrowMatching(e => e instanceof ERInputError && /alpha/.test(e.message));
    tf.dispose([x, y]);
    model.dispose();
  });
});
