import * as tf from '@tensorflow/tfjs';
import {attachER, er, ERDense, ERInputError, erLayers} from '../src/index';
import {describeBackends} from './helpers/backends';
import {maxDiff, toyClassification} from './helpers/data';
import {expectUnchanged, outputsWithSameWeights, saveAndLoad} from './helpers/models';

describeBackends('ERDense and attachER', () => {
  let x: tf.Tensor2D, y: tf.Tensor2D;
  beforeAll(() => ({x, y} = toyClassification(240, 21)));
  afterAll(() => tf.dispose([x, y]));

  it('erLayers.dense takes tf.layers.dense args; getConfig round-trips; registered as ERDense', () => {
    const layer = erLayers.dense({units: 7, activation: 'tanh', useBias: false, name: 'my_er_dense'});
    expect(layer).toEqual(jasmine.any(ERDense));
    expect(layer.getClassName()).toBe('ERDense');
    const cfg = layer.getConfig();
    expect(cfg).toEqual(jasmine.objectContaining({units: 7, activation: 'tanh', useBias: false,
                                                  name: 'my_er_dense'}));
    const copy = tf.serialization.SerializationMap.getMap().classNameMap['ERDense'][1](ERDense as any, cfg);
    expect(copy).toEqual(jasmine.any(ERDense));
    const copyCfg = (copy as tf.layers.Layer).getConfig();
    for (const k of ['units', 'activation', 'useBias', 'name', 'trainable']) expect(copyCfg[k]).toEqual(cfg[k]);
    expect((copyCfg.kernelInitializer as any).className).toBe((cfg.kernelInitializer as any).className);
    // same computation as a stock dense with the same weights
    const stock = tf.layers.dense({units: 7, activation: 'tanh', useBias: false});
    const inp = tf.randomNormal([3, 5]);
    const [a, b] = outputsWithSameWeights(layer, stock, inp);
    expect(maxDiff(a, b)).toBe(0);
    tf.dispose([inp, a, b]);
  });

  it('a stock tf.layers MLP (flatten, dropout, activation) trains with er() after attachER, weights kept', async () => {
    const model = tf.sequential({layers: [
      tf.layers.reshape({inputShape: [4], targetShape: [2, 2]}),
      tf.layers.flatten(),
      tf.layers.dense({units: 24}),
      tf.layers.activation({activation: 'relu'}),
      tf.layers.dropout({rate: 0.2}),
      tf.layers.dense({units: 3, activation: 'softmax'}),
    ]});
    const before = model.getWeights().map(w => w.clone());
    expect(attachER(model)).toBe(model);
    expectUnchanged(model.getWeights(), before);
    expect(model.layers.filter(l => l instanceof ERDense).length).toBe(2);
    model.compile({optimizer: er(), loss: 'categoricalCrossentropy', metrics: ['accuracy']});
    const h = await model.fit(x, y, {epochs: 2, batchSize: 60, verbose: 0});
    expect(h.history.acc.length).toBe(2);
    const [, acc] = model.evaluate(x, y) as tf.Scalar[];
    expect(acc.dataSync()[0]).toBeGreaterThan(0.8);
    acc.dispose();
    // the relu of the Activation layer was folded in: a 2-layer update has 3 passes
    expect((model.optimizer as any).lastReport.passes).toBe(3);
    tf.dispose(before);
    model.dispose();
  });

  it('a frozen stock feature extractor (any layer types) is passed through', async () => {
    const input = tf.input({shape: [4]});
    const a = tf.layers.dense({units: 12, activation: 'elu', trainable: false}).apply(input) as tf.SymbolicTensor;
    const b = tf.layers.batchNormalization({trainable: false}).apply(a) as tf.SymbolicTensor;
    const c = tf.layers.dense({units: 3, activation: 'softmax'}).apply(b) as tf.SymbolicTensor;
    const model = tf.model({inputs: input, outputs: c});
    const frozen = model.layers[1].getWeights().map(w => w.clone());
    attachER(model);
    model.compile({optimizer: er(), loss: 'categoricalCrossentropy', metrics: ['accuracy']});
    await model.fit(x, y, {epochs: 1, batchSize: 80, verbose: 0});
    model.layers[1].getWeights().forEach((w, i) => expect(maxDiff(w, frozen[i])).toBe(0));
    expect(model.layers[3]).toEqual(jasmine.any(ERDense));
    expect(model.layers[1]).not.toEqual(jasmine.any(ERDense));
    tf.dispose(frozen);
    model.dispose();
  });

  it('layers ER cannot train get an error naming the layer, its class and what is supported', () => {
    const lstm = tf.sequential({layers: [
      tf.layers.lstm({inputShape: [3, 4], units: 5}),
      tf.layers.dense({units: 2, activation: 'softmax'})]});
    expect(() => attachER(lstm)).toThrowMatching(e => e instanceof ERInputError &&
        /layer 'lstm_\w+' \(LSTM\): ER cannot train this layer type\. Supported in the trained part: Dense, ERDense/.test(e.message));
    const bn = tf.sequential({layers: [
      tf.layers.dense({inputShape: [4], units: 5}),
      tf.layers.batchNormalization({trainable: false}),
      tf.layers.dense({units: 2, activation: 'softmax'})]});
    expect(() => attachER(bn)).toThrowError(/\(BatchNormalization\) sits between trainable layers/);
    const branch = (() => {
      const i = tf.input({shape: [4]});
      const side = tf.layers.dense({units: 3}).apply(i) as tf.SymbolicTensor;
      const main = tf.layers.dense({units: 3}).apply(i) as tf.SymbolicTensor;
      const sum = tf.layers.add().apply([side, main]) as tf.SymbolicTensor;
      const out = tf.layers.dense({units: 2, activation: 'softmax'}).apply(sum) as tf.SymbolicTensor;
      return tf.model({inputs: i, outputs: out});
    })();
    expect(() => attachER(branch)).toThrowError(/has trainable weights but is not on the single path/);
    [lstm, bn, branch].forEach(m => m.dispose());
  });

  it('a stock model compiled with er() trains without attachER, to the same weights', async () => {
    const make = () => {
      const m = tf.sequential({layers: [tf.layers.dense({inputShape: [4], units: 8, activation: 'relu'}),
                                        tf.layers.dense({units: 3, activation: 'softmax'})]});
      tf.tidy(() => m.setWeights(m.getWeights().map((w, i) =>
          tf.randomNormal(w.shape, 0, 0.5, 'float32', 40 + i))));
      return m;
    };
    const stock = make(), attached = attachER(make());
    for (const m of [stock, attached]) {
      m.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
      await m.fit(x, y, {epochs: 2, batchSize: 60, verbose: 0});
    }
    expect(stock.layers[0]).not.toEqual(jasmine.any(ERDense));
    expect((stock.optimizer as any).updates).toBe(2);
    stock.getWeights().forEach((w, i) => expect(maxDiff(w, attached.getWeights()[i])).toBe(0));
    stock.dispose();
    attached.dispose();
  });

  it('an attached model saves as ERDense and loads back trainable by er()', async () => {
    const model = attachER(tf.sequential({layers: [
      tf.layers.dense({inputShape: [4], units: 8, activation: 'relu'}),
      tf.layers.dense({units: 3, activation: 'softmax'})]}));
    model.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
    await model.fit(x, y, {epochs: 1, batchSize: 120, verbose: 0});
    const {loaded} = await saveAndLoad(model);
    expect(loaded.layers.every(l => l instanceof ERDense)).toBeTrue();
    const p1 = model.predict(x) as tf.Tensor, p2 = loaded.predict(x) as tf.Tensor;
    expect(maxDiff(p1, p2)).toBe(0);
    loaded.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
    await loaded.fit(x, y, {epochs: 1, batchSize: 120, verbose: 0});
    tf.dispose([p1, p2]);
    model.dispose();
    loaded.dispose();
  });
});
