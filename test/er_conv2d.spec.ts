import * as tf from '@tensorflow/tfjs';
import {attachER, er, ERConv2D, ERInputError, erLayers} from '../src/index';
import {describeBackends, expectNoLeak} from './helpers/backends';
import {maxDiff} from './helpers/data';
import {maxRelErr, ridgeReference} from './helpers/linalg';
import {outputsWithSameWeights, saveAndLoad} from './helpers/models';
import {explicitPatches} from './helpers/patches';

/** 8×8 images of a horizontal (class 0) or vertical (class 1) bar at a random place, plus noise. */
function bars(n: number, seed: number): {x: tf.Tensor4D, y: tf.Tensor2D} {
  let s = seed;
  const rand = () => (s = (s * 1664525 + 1013904223) >>> 0) / 4294967296;
  const px = new Float32Array(n * 64), labels: number[] = [];
  for (let e = 0; e < n; e++) {
    const c = e % 2, pos = 1 + Math.floor(rand() * 6), from = Math.floor(rand() * 3), len = 4 + Math.floor(rand() * 2);
    for (let i = 0; i < 64; i++) px[e * 64 + i] = 0.2 * rand();
    for (let k = from; k < from + len; k++) px[e * 64 + (c === 0 ? pos * 8 + k : k * 8 + pos)] += 1;
    labels.push(c);
  }
  return tf.tidy(() => ({x: tf.tensor4d(px, [n, 8, 8, 1]),
                         y: tf.oneHot(tf.tensor1d(labels, 'int32'), 2).toFloat() as tf.Tensor2D}));
}

describeBackends('ERConv2D', () => {
  it('erLayers.conv2d takes tf.layers.conv2d args, computes the same, round-trips its config as ERConv2D', () => {
    const layer = erLayers.conv2d({filters: 3, kernelSize: [3, 2], strides: 2, padding: 'same', activation: 'relu',
                                   name: 'my_conv'});
    expect(layer).toEqual(jasmine.any(ERConv2D));
    expect(layer.getClassName()).toBe('ERConv2D');
    const cfg = layer.getConfig();
    const copy = tf.serialization.SerializationMap.getMap().classNameMap['ERConv2D'][1](ERConv2D as any, cfg);
    expect(copy).toEqual(jasmine.any(ERConv2D));
    expect((copy as tf.layers.Layer).getConfig()).toEqual(jasmine.objectContaining(
        {filters: 3, kernelSize: [3, 2], strides: [2, 2], padding: 'same', activation: 'relu', name: 'my_conv'}));
    const stock = tf.layers.conv2d({filters: 3, kernelSize: [3, 2], strides: 2, padding: 'same', activation: 'relu'});
    const inp = tf.randomNormal([2, 5, 6, 2], 0, 1, 'float32', 3);
    const [a, b] = outputsWithSameWeights(layer, stock, inp);
    expect(maxDiff(a, b)).toBe(0);
    tf.dispose([inp, a, b]);
  });

  for (const [padding, strides] of [['same', 1], ['valid', 1], ['same', 2], ['valid', 2]] as Array<['same'|'valid', number]>) {
    it(`fit with er(): a linear conv layer (padding ${padding}, stride ${strides}) is the float64 ridge on its patches`, async () => {
      const x = tf.randomNormal([6, 7, 7, 2], 0.3, 1, 'float32', 11) as tf.Tensor4D;
      const model = tf.sequential({layers: [erLayers.conv2d({inputShape: [7, 7, 2], filters: 3, kernelSize: 3, strides,
                                                            padding, name: 'conv'})]});
      const wTrue = tf.randomNormal([3, 3, 2, 3], 0, 1, 'float32', 12) as tf.Tensor4D;
      const y = tf.tidy(() => tf.add(tf.conv2d(x, wTrue, strides, padding),
                                     tf.randomNormal(model.outputs[0].shape.map(d => d ?? 6) as number[], 0, 0.2, 'float32', 13)));
      model.compile({optimizer: er(), loss: 'meanSquaredError'});
      await model.fit(x, y, {epochs: 1, batchSize: 4, verbose: 0});
      const ref = ridgeReference(explicitPatches(x.arraySync(), {kernelSize: [3, 3], strides: [strides, strides], padding}),
                                 tf.tidy(() => tf.reshape(y, [-1, 3]).arraySync() as number[][]), 1e-3);
      const [kernel, bias] = model.getLayer('conv').getWeights();
      const W = tf.tidy(() => tf.reshape(kernel, [18, 3]).arraySync() as number[][]);
      expect(maxRelErr(W, ref.W)).toBeLessThan(1e-3);
      expect(maxRelErr([Array.from(bias.dataSync())], [ref.b])).toBeLessThan(1e-3);
      tf.dispose([x, wTrue, y]);
      model.dispose();
    });
  }

  it('a convnet (conv relu → max pool → flatten → dense softmax) learns bars with er(), leak-free', async () => {
    const train = bars(200, 7), test = bars(100, 99);
    const model = tf.sequential({layers: [
      erLayers.conv2d({inputShape: [8, 8, 1], filters: 6, kernelSize: 3, padding: 'same', activation: 'relu',
                       kernelInitializer: tf.initializers.glorotNormal({seed: 4})}),
      tf.layers.maxPooling2d({poolSize: 2}),
      tf.layers.flatten(),
      erLayers.dense({units: 2, activation: 'softmax'}),
    ]});
    const opt = er();
    model.compile({optimizer: opt, loss: 'categoricalCrossentropy', metrics: ['accuracy']});
    await model.fit(train.x, train.y, {epochs: 1, batchSize: 64, verbose: 0});  // warm-up (optimizer state)
    const kernelBefore = model.layers[0].getWeights()[0].clone();
    await expectNoLeak(() => model.fit(train.x, train.y, {epochs: 2, batchSize: 64, verbose: 0}).then(() => undefined));
    expect(opt.lastReport!.passes).toBe(3);  // output, conv, refresh
    expect(maxDiff(model.layers[0].getWeights()[0], kernelBefore)).toBeGreaterThan(0);  // the conv was solved too
    const [, acc] = model.evaluate(test.x, test.y) as tf.Scalar[];
    expect(acc.dataSync()[0]).toBeGreaterThan(0.9);
    tf.dispose([train.x, train.y, test.x, test.y, acc, kernelBefore]);
    model.dispose();
  });

  it('two conv layers with average pooling: the lower conv gets targets through the upper one', async () => {
    const train = bars(160, 3);
    const model = tf.sequential({layers: [
      erLayers.conv2d({inputShape: [8, 8, 1], filters: 4, kernelSize: 3, activation: 'relu', name: 'c1',
                       kernelInitializer: tf.initializers.glorotNormal({seed: 8})}),
      erLayers.conv2d({filters: 4, kernelSize: 2, strides: 2, activation: 'tanh', name: 'c2',
                       kernelInitializer: tf.initializers.glorotNormal({seed: 9})}),
      tf.layers.averagePooling2d({poolSize: 3}),
      tf.layers.flatten(),
      erLayers.dense({units: 2, activation: 'softmax'}),
    ]});
    const opt = er();
    model.compile({optimizer: opt, loss: 'categoricalCrossentropy', metrics: ['accuracy']});
    const before = model.getLayer('c1').getWeights()[0].clone();
    const h = await model.fit(train.x, train.y, {epochs: 2, batchSize: 80, verbose: 0});
    expect(opt.lastReport!.passes).toBe(4);
    expect(maxDiff(model.getLayer('c1').getWeights()[0], before)).toBeGreaterThan(0);
    expect(h.history.acc[1] as number).toBeGreaterThan(0.8);
    tf.dispose([train.x, train.y, before]);
    model.dispose();
  });

  it('attachER converts stock conv2d layers; the model saves and loads as ERConv2D', async () => {
    const train = bars(100, 5);
    const model = tf.sequential({layers: [
      tf.layers.conv2d({inputShape: [8, 8, 1], filters: 4, kernelSize: 3, activation: 'relu'}),
      tf.layers.maxPooling2d({poolSize: 2}),
      tf.layers.dropout({rate: 0.1}),
      tf.layers.flatten(),
      tf.layers.dense({units: 2, activation: 'softmax'}),
    ]});
    attachER(model).compile({optimizer: er(), loss: 'categoricalCrossentropy'});
    expect(model.layers[0]).toEqual(jasmine.any(ERConv2D));
    await model.fit(train.x, train.y, {epochs: 1, batchSize: 50, verbose: 0});
    const {artifacts, loaded} = await saveAndLoad(model);
    expect(JSON.stringify(artifacts.modelTopology)).toContain('"class_name":"ERConv2D"');
    expect(loaded.layers[0]).toEqual(jasmine.any(ERConv2D));
    const p1 = model.predict(train.x) as tf.Tensor, p2 = loaded.predict(train.x) as tf.Tensor;
    expect(maxDiff(p1, p2)).toBeLessThan(1e-5);
    tf.dispose([train.x, train.y, p1, p2]);
  });

  it('unsupported conv settings and layers get errors naming the layer and what to do', () => {
    const dilated = tf.sequential({layers: [
      tf.layers.conv2d({inputShape: [8, 8, 1], filters: 2, kernelSize: 3, dilationRate: 2, name: 'dil'}),
      tf.layers.flatten(), tf.layers.dense({units: 2, activation: 'softmax'})]});
    expect(() => attachER(dilated)).toThrowMatching(
        e => e instanceof ERInputError && /layer 'dil' \(Conv2D\).*dilationRate 1/.test(e.message));
    const bn = tf.sequential({layers: [
      erLayers.conv2d({inputShape: [8, 8, 1], filters: 2, kernelSize: 3}),
      tf.layers.batchNormalization({name: 'bn', trainable: false}),
      tf.layers.flatten(), erLayers.dense({units: 2, activation: 'softmax'})]});
    expect(() => bn.compile({optimizer: er(), loss: 'categoricalCrossentropy'})).toThrowMatching(
        e => e instanceof ERInputError && /layer 'bn' \(BatchNormalization\) sits between trainable layers/.test(e.message));
    [dilated, bn].forEach(m => m.dispose());
  });

  it("mode 'erls' reaches convnets: the step search picks γ from the grid, at least as good as plain ER", async () => {
    const train = bars(160, 21);
    const run = async (mode: 'er'|'erls') => {
      const model = tf.sequential({layers: [
        erLayers.conv2d({inputShape: [8, 8, 1], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu',
                         kernelInitializer: tf.initializers.glorotNormal({seed: 12})}),
        tf.layers.maxPooling2d({poolSize: 2}), tf.layers.flatten(),
        erLayers.dense({units: 2, activation: 'softmax'})]});
      const opt = er({mode, searchRows: 100});
      model.compile({optimizer: opt, loss: 'categoricalCrossentropy', metrics: ['accuracy']});
      await model.fit(train.x, train.y, {epochs: 2, batchSize: 80, verbose: 0});
      const [loss] = model.evaluate(train.x, train.y) as tf.Scalar[];
      const out = {gamma: opt.lastReport!.gamma, passes: opt.lastReport!.passes, loss: loss.dataSync()[0],
                   tried: Object.keys(opt.lastReport!.stepScores ?? {}).length};
      tf.dispose(loss);
      model.dispose();
      return out;
    };
    const plain = await run('er'), searched = await run('erls');
    expect([0, 1, 2, 4, 8, 16, 32, 64, 128, 256]).toContain(searched.gamma);
    // the search: fit and score passes for a coarse grid of 4 steps, then for up to 2 neighbours
    expect([plain.passes + 2, plain.passes + 4]).toContain(searched.passes);
    expect(searched.tried).toBeGreaterThanOrEqual(4);
    expect(searched.loss).toBeLessThanOrEqual(plain.loss * 1.05);
    tf.dispose([train.x, train.y]);
  });
});
