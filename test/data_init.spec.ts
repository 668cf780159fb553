import * as tf from '@tensorflow/tfjs';
import {erLayers, initializeFromData} from '../src/index';
import {describeBackends, expectNoLeak} from './helpers/backends';
import {toyClassification} from './helpers/data';

function mlp(): tf.Sequential {
  return tf.sequential({layers: [
    erLayers.dense({inputShape: [4], units: 12, activation: 'relu'}),
    erLayers.dense({units: 9, activation: 'relu'}),
    erLayers.dense({units: 3, activation: 'softmax'}),
  ]});
}

/** The values of every weight of `model`, in layer order. */
function weightValues(model: tf.LayersModel): Promise<number[][]> {
  return Promise.all(model.getWeights().map(t => t.data().then(d => Array.from(d))));
}

async function weightsAfterInit(x: tf.Tensor2D, seed: number): Promise<number[][]> {
  const model = mlp();
  await expectNoLeak(() => initializeFromData(model, x, {seed}));
  const w = await weightValues(model);
  model.dispose();
  return w;
}

describeBackends('initializeFromData (the ER reference initialisation)', () => {
  let x: tf.Tensor2D;
  beforeAll(() => {
    const data = toyClassification(120, 4);
    x = data.x;
    tf.dispose([data.y, data.labels]);
  });
  afterAll(() => x.dispose());

  it('is reproducible: the same seed gives the same weights, seed 0 included', async () => {
    // tfjs's random ops read a seed of 0 as "no seed" (Math.random): the
    // first layer's kernel used to differ from run to run with the default seed.
    for (const seed of [0, 5]) {
      const a = await weightsAfterInit(x, seed), b = await weightsAfterInit(x, seed);
      expect(b).withContext(`seed ${seed}`).toEqual(a);
    }
  });

  it('gives different hidden weights for different seeds, and a zero output layer', async () => {
    const [a, b] = [await weightsAfterInit(x, 0), await weightsAfterInit(x, 1)];
    for (const i of [0, 1, 2, 3]) {  // kernels and biases of the two hidden layers
      expect(a[i]).withContext(`weight ${i}`).not.toEqual(b[i]);
    }
    expect(a[4].every(v => v === 0) && a[5].every(v => v === 0)).toBe(true);
  });

  it('rejects a seed that is not a non-negative integer, leaving the weights alone', async () => {
    const model = mlp();
    const before = await weightValues(model);
    for (const seed of [-1, 1.5, NaN]) {
      await expectNoLeak(() => expect(() => initializeFromData(model, x, {seed}))
          .toThrowError(new RegExp(`seed must be a non-negative integer, got ${seed}`)));
    }
    const after = await weightValues(model);
    expect(after).toEqual(before);
    model.dispose();
  });
});
