/**
 * Training state after failures and misuse: a rejected call leaves the
 * model as it was and fully usable, bad targets are refused before any
 * weight changes, and nothing leaks (tensors counted with the model and
 * optimizer disposed).
 */
import * as tf from '@tensorflow/tfjs';
import {solveSPD} from '../src/engine/index';
import {er, ERHead, erHead, ERInputError, erLayers, ERNumericalError, ExpectationReflection} from '../src/index';
import {describeBackends} from './helpers/backends';
import {maxDiff, toyClassification} from './helpers/data';
import {expectUnchanged, saveAndLoad} from './helpers/models';

function mlp(seed: number, classes = 3): tf.Sequential {
  const model = tf.sequential({layers: [
    erLayers.dense({inputShape: [4], units: 16, activation: 'relu'}),
    erLayers.dense({units: classes, activation: 'softmax'})]});
  tf.tidy(() => model.setWeights(model.getWeights().map((w, i) =>
      tf.randomNormal(w.shape, 0, w.rank === 2 ? 0.5 : 0.1, 'float32', seed * 31 + i + 1))));
  return model;
}

function convnet(seed: number): tf.Sequential {
  return tf.sequential({layers: [
    erLayers.conv2d({inputShape: [6, 6, 1], filters: 3, kernelSize: 3, padding: 'same', activation: 'relu',
                     kernelInitializer: tf.initializers.glorotNormal({seed})}),
    tf.layers.maxPooling2d({poolSize: 2}), tf.layers.flatten(),
    erLayers.dense({units: 2, activation: 'softmax'})]});
}

function headOnBase(seed: number) {
  const base = tf.sequential({layers: [
    tf.layers.dense({inputShape: [4], units: 8, activation: 'relu', name: 'features',
                     kernelInitializer: tf.initializers.randomNormal({seed, stddev: 0.7})}),
    tf.layers.dense({units: 3, activation: 'softmax'})]});
  return {base, model: erHead(base, {classes: 3, alpha: 1e-3})};
}

function snapshot(model: tf.LayersModel): tf.Tensor[] {
  return model.getWeights().map(w => w.clone());
}

function expectWeights(model: tf.LayersModel, expected: tf.Tensor[], what: string) {
  const now = model.getWeights();
  expect(now.length).toBe(expected.length);
  now.forEach((w, i) => expect(maxDiff(w, expected[i])).withContext(`${what}, weight ${i}`).toBe(0));
}

function failingCallback(atEpoch: number, hook: 'onBatchEnd'|'onEpochEnd' = 'onBatchEnd') {
  let epoch = -1;
  return {
    onEpochBegin: async (e: number) => { epoch = e; },
    [hook]: async () => { if (epoch === atEpoch) throw new Error('callback failed on purpose'); },
  };
}

/** Batches of rows of `x`, `y` made as the dataset is read (whoever reads them disposes them). */
function dataset(x: tf.Tensor, y: tf.Tensor, batch: number) {
  return tf.data.generator(function* () {
    for (let s = 0; s < x.shape[0]; s += batch) {
      const n = Math.min(batch, x.shape[0] - s);
      yield {xs: tf.slice(x, s, n), ys: tf.slice(y, s, n)};
    }
  });
}

describeBackends('state after failures', () => {
  let x: tf.Tensor2D, y: tf.Tensor2D, labels: tf.Tensor1D;
  let images: tf.Tensor4D, imageY: tf.Tensor2D;
  beforeAll(() => {
    ({x, y, labels} = toyClassification(240, 9));
    images = tf.randomUniform([40, 6, 6, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
    imageY = tf.tidy(() => tf.oneHot(tf.cast(tf.greater(tf.mean(images, [1, 2, 3]), 0.5), 'int32'), 2).toFloat()) as tf.Tensor2D;
  });
  afterAll(() => tf.dispose([x, y, labels, images, imageY]));

  for (const hook of ['onBatchEnd', 'onEpochEnd'] as const) {
    it(`a fit rejected in epoch 2 (${hook} throws) leaves the weights of epoch 1; the model trains on as if untouched`,
       async () => {
      const model = mlp(1), twin = mlp(1);
      const opt = er();
      model.compile({optimizer: opt, loss: 'categoricalCrossentropy'});
      twin.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
      await twin.fit(x, y, {epochs: 1, batchSize: 60, verbose: 0});
      const afterOne = snapshot(twin);
      await expectAsync(model.fit(x, y, {epochs: 3, batchSize: 60, verbose: 0, callbacks: failingCallback(1, hook)}))
          .toBeRejectedWithError(/callback failed on purpose/);
      expectWeights(model, afterOne, 'after the failed fit');
      expect(opt.updates).toBe(1);
      // predict does not change anything; a new fit continues exactly like the twin
      tf.dispose(model.predict(x) as tf.Tensor);
      expectWeights(model, afterOne, 'after predict');
      await model.fit(x, y, {epochs: 1, batchSize: 60, verbose: 0});
      await twin.fit(x, y, {epochs: 1, batchSize: 60, verbose: 0});
      expectWeights(model, twin.getWeights(), 'next fit');
      // and trainOnBatch still updates
      const before = snapshot(model);
      await model.trainOnBatch(x, y);
      expect(maxDiff(model.getWeights()[0], before[0])).toBeGreaterThan(0);
      tf.dispose([...afterOne, ...before]);
      model.dispose();
      twin.dispose();
    });
  }

  it('a rejected fitDataset leaves the weights of its last complete epoch', async () => {
    const model = mlp(2), twin = mlp(2);
    model.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
    twin.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
    await twin.fitDataset(dataset(x, y, 60), {epochs: 1, verbose: 0});
    await expectAsync(model.fitDataset(dataset(x, y, 60), {epochs: 2, verbose: 0, callbacks: failingCallback(1)}))
        .toBeRejectedWithError(/on purpose/);
    expectWeights(model, twin.getWeights(), 'after the failed fitDataset');
    model.dispose();
    twin.dispose();
  });

  it('an erHead fit rejected by a callback adds no examples; the next fit adds its own', async () => {
    const {model} = headOnBase(3);
    const head = model.getLayer('er_head') as ERHead;
    await expectAsync(model.fit(x, y, {epochs: 1, batchSize: 60, verbose: 0, callbacks: failingCallback(0)}))
        .toBeRejectedWithError(/on purpose/);
    expect(head.exampleCount).toBe(0);
    expect(tf.max(tf.abs(head.getWeights()[0])).dataSync()[0]).toBe(0);
    await model.fit(x, y, {epochs: 1, batchSize: 60, verbose: 0});
    expect(head.exampleCount).toBe(240);
    model.dispose();
  });

  it('sparse labels out of range (10 or −1 of 10 classes) are refused, naming the value and range', async () => {
    const model = mlp(4, 10);
    model.compile({optimizer: er(), loss: 'sparseCategoricalCrossentropy'});
    const before = snapshot(model);
    for (const bad of [10, -1, 2.5]) {
      const l = tf.tidy(() => tf.concat([tf.cast(labels.slice(0, 239), 'float32'), tf.tensor1d([bad])]));
      await expectAsync(model.fit(x, l, {epochs: 1, batchSize: 60, verbose: 0})).toBeRejectedWithError(
          ERInputError, new RegExp(`sparse class label ${bad === -1 ? '-1' : bad}.*0…9.*Weights were not changed`));
      await expectAsync(model.trainOnBatch(x, l)).toBeRejectedWithError(ERInputError, /0…9/);
      expectWeights(model, before, `label ${bad}`);
      l.dispose();
    }
    tf.dispose(before);
    model.dispose();
  });

  it('an erHead refuses targets outside [0, 1] and sparse labels beyond its classes; statistics untouched', async () => {
    const {model} = headOnBase(5);
    await model.fit(x, y, {epochs: 1, batchSize: 60, verbose: 0});
    const head = model.getLayer('er_head') as ERHead;
    const before = head.getWeights().map(w => w.clone());
    const scaled = tf.mul(y, 5), shifted = tf.sub(y, 1);
    for (const bad of [scaled, shifted]) {
      await expectAsync(model.fit(x, bad, {epochs: 1, batchSize: 60, verbose: 0})).toBeRejectedWithError(
          ERInputError, /targets lie in \[-?\d+, \d+\] but a classifier head needs them in \[0, 1\]/);
    }
    expectUnchanged(head.getWeights(), before, 'head weight');
    const two = erHead(headOnBase(6).base, {classes: 2, loss: 'sparseCategoricalCrossentropy'});
    const seven = tf.fill([240], 7);
    await expectAsync(two.fit(x, seven, {epochs: 1, verbose: 0}))
        .toBeRejectedWithError(ERInputError, /sparse class label 7 .*0…1/);
    expect((two.getLayer('er_head') as ERHead).exampleCount).toBe(0);
    tf.dispose([...before, scaled, shifted, seven]);
    model.dispose();
    two.dispose();
  });

  it('a second fit while one runs is rejected and does not touch the running one', async () => {
    const model = mlp(7), twin = mlp(7);
    model.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
    twin.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
    const running = model.fit(x, y, {epochs: 2, batchSize: 60, verbose: 0});
    await expectAsync(model.fit(x, y, {epochs: 1, verbose: 0})).toBeRejectedWithError(/another fit\(\) call is ongoing/);
    await running;
    await twin.fit(x, y, {epochs: 2, batchSize: 60, verbose: 0});
    expectWeights(model, twin.getWeights(), 'the running fit');
    model.dispose();
    twin.dispose();
  });

  it('an error inside the loss leaves nothing pending: weights unchanged, the next call trains normally', async () => {
    const model = mlp(8), twin = mlp(8);
    model.compile({optimizer: er(), loss: 'categoricalCrossentropy', metrics: ['accuracy']});
    twin.compile({optimizer: er(), loss: 'categoricalCrossentropy', metrics: ['accuracy']});
    // the compiled loss throws on the second batch of the epoch's report
    const inner = (model as any).model ?? model;  // a Sequential compiles its inner LayersModel
    const lossFn = inner.lossFunctions[0];
    let calls = 0;
    inner.lossFunctions = [(a: tf.Tensor, b: tf.Tensor) => {
      if (++calls === 2) throw new Error('loss failed on purpose');
      return lossFn(a, b);
    }];
    const before = snapshot(model);
    const leak = tf.memory().numTensors;
    await expectAsync(model.fit(x, y, {epochs: 1, batchSize: 60, verbose: 0})).toBeRejectedWithError(/on purpose/);
    expect(tf.memory().numTensors).toBe(leak);
    expectWeights(model, before, 'after the failing loss');
    tf.dispose(model.predict(x) as tf.Tensor);
    await model.fit(x, y, {epochs: 1, batchSize: 60, verbose: 0});
    await twin.fit(x, y, {epochs: 1, batchSize: 60, verbose: 0});
    expectWeights(model, twin.getWeights(), 'the next fit');
    tf.dispose(before);
    model.dispose();
    twin.dispose();
  });

  it('predict and evaluate from callbacks mid-epoch do not change what fit computes', async () => {
    const quiet = mlp(9), noisy = mlp(9);
    const optQuiet = er(), optNoisy = er();
    quiet.compile({optimizer: optQuiet, loss: 'categoricalCrossentropy', metrics: ['accuracy']});
    noisy.compile({optimizer: optNoisy, loss: 'categoricalCrossentropy', metrics: ['accuracy']});
    const peek = async () => {
      tf.dispose(noisy.predict(x) as tf.Tensor);
      tf.dispose(noisy.evaluate(x, y) as tf.Scalar[]);
    };
    const hq = await quiet.fit(x, y, {epochs: 3, batchSize: 48, verbose: 0});
    const hn = await noisy.fit(x, y, {epochs: 3, batchSize: 48, verbose: 0,
                                      callbacks: {onEpochBegin: peek, onBatchBegin: peek, onBatchEnd: peek}});
    expect(optNoisy.updates).toBe(3);
    expect(optQuiet.updates).toBe(3);
    expectWeights(noisy, quiet.getWeights(), 'with callbacks that predict');
    expect(hn.history.loss).toEqual(hq.history.loss);
    quiet.dispose();
    noisy.dispose();
  });

  it('fit losses and metrics are those of the weights each epoch started from (as evaluate gives them)', async () => {
    const model = mlp(10);
    model.compile({optimizer: er(), loss: 'categoricalCrossentropy', metrics: ['accuracy']});
    const expected: number[][] = [];
    const h = await model.fit(x, y, {epochs: 2, batchSize: 48, verbose: 0, callbacks: {
      onEpochBegin: async () => {
        const outs = model.evaluate(x, y, {batchSize: 48}) as tf.Scalar[];
        expected.push(outs.map(o => o.dataSync()[0]));
        tf.dispose(outs);
      }}});
    [0, 1].forEach(e => {
      expect(h.history.loss[e] as number).toBeCloseTo(expected[e][0], 5);
      expect(h.history.acc[e] as number).toBeCloseTo(expected[e][1], 5);
    });
    model.dispose();
  });

  it('leaks nothing: fit, trainOnBatch ×10 and fitDataset for dense, conv and head models, disposed after', async () => {
    let base: tf.LayersModel|null = null;
    const cases: Array<[string, () => tf.LayersModel, tf.Tensor, tf.Tensor]> = [
      ['dense', () => mlp(11), x, y],
      ['conv', () => convnet(12), images, imageY],
      ['head', () => {
        const h = headOnBase(13);
        base = h.base;
        return h.model;
      }, x, y],
    ];
    for (const [name, make, xs, ys] of cases) {
      for (const how of ['fit', 'trainOnBatch', 'fitDataset'] as const) {
        const before = tf.memory().numTensors;
        const model = make();
        const opt = name === 'head' ? model.optimizer : er();
        if (name !== 'head') model.compile({optimizer: opt, loss: 'categoricalCrossentropy', metrics: ['accuracy']});
        if (how === 'fit') await model.fit(xs, ys, {epochs: 2, batchSize: 20, validationSplit: 0.25, verbose: 0});
        if (how === 'trainOnBatch') for (let k = 0; k < 10; k++) await model.trainOnBatch(xs, ys);
        if (how === 'fitDataset') await model.fitDataset(dataset(xs, ys, 20), {epochs: 2, verbose: 0});
        model.dispose();
        // the head model shares all of the base but its old output layer
        (base as tf.LayersModel|null)?.layers[1].dispose();
        base = null;
        opt.dispose();
        expect(tf.memory().numTensors - before).withContext(`${name} ${how}`).toBe(0);
      }
    }
  });

  it('save with includeOptimizer ×3 and recompile ×3 leak nothing once model and optimizers are disposed', async () => {
    const before = tf.memory().numTensors;
    const model = mlp(14);
    const opts: ExpectationReflection[] = [];
    for (let k = 0; k < 3; k++) {
      const opt = er();
      opts.push(opt);
      model.compile({optimizer: opt, loss: 'categoricalCrossentropy'});
      await model.fit(x, y, {epochs: 1, batchSize: 60, verbose: 0});
    }
    // only the last optimizer trains the model now
    expect(opts.map(o => o.updates)).toEqual([1, 1, 1]);
    for (let k = 0; k < 3; k++) {
      const {loaded} = await saveAndLoad(model, {includeOptimizer: true});
      loaded.dispose();
      loaded.optimizer.dispose();
    }
    model.dispose();
    opts.forEach(o => o.dispose());
    expect(tf.memory().numTensors - before).toBe(0);
  });

  it('a failed update (NaN rows) in trainOnBatch and fitDataset leaks nothing and changes nothing', async () => {
    const model = mlp(15);
    model.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
    const before = snapshot(model);
    const bad = tf.tidy(() => tf.concat([x.slice(0, 239), tf.tensor2d([[NaN, 0, 0, 0]])]));
    const count = tf.memory().numTensors;
    await expectAsync(model.trainOnBatch(bad, y)).toBeRejectedWithError(/NaN or Infinity/);
    await expectAsync(model.fitDataset(dataset(bad, y, 60), {epochs: 1, verbose: 0})).toBeRejectedWithError(/NaN/);
    expect(tf.memory().numTensors).toBe(count);
    expectWeights(model, before, 'after failed updates');
    tf.dispose([...before, bad]);
    model.dispose();
  });

  it('huge inputs are reported as too large, not as NaN; solver failures are ERNumericalError', async () => {
    const model = mlp(16);
    model.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
    const huge = tf.mul(x, 1e30);
    await expectAsync(model.fit(huge, y, {epochs: 1, verbose: 0})).toBeRejectedWithError(
        ERInputError, /inputs reach \|x\| = [0-9.e+]+.*overflow.*scale the inputs/);
    huge.dispose();
    model.dispose();
    expect(() => solveSPD(new Float64Array([NaN]), 1, new Float64Array([1]), 1, 0))
        .toThrowMatching(e => e instanceof ERNumericalError && /stayed indefinite/.test(e.message));
  });

  it('options must be of the right type: searchRows an integer, verbose and refresh booleans', () => {
    expect(() => er({searchRows: 1.5})).toThrowMatching(
        e => e instanceof ERInputError && /searchRows must be a finite integer >= 1, got 1.5/.test(e.message));
    expect(() => er({verbose: 'no' as any})).toThrowError(ERInputError, /verbose must be true or false, got "no"/);
    expect(() => er({refresh: 'no' as any})).toThrowError(ERInputError, /refresh must be true or false/);
  });
});
