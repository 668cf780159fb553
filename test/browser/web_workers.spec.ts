/**
 * The Web Worker executor (Chromium): two workers give the in-process
 * weights for every kind of network and training call; a terminated worker
 * fails the fit with its name and the pass, weights unchanged, the pool
 * still usable; nothing leaks on either side.
 */
import * as tf from '@tensorflow/tfjs';
import {RemoteShard, SHARED_FACTOR_MIN} from '../../src/executors/remote';
import {er, ERExecutor, WebWorkerPool, webWorkerPool} from '../../src/index';
import {executorSpecData, expectSameWeightsOnEveryCall, interrupting} from '../helpers/executors';
import {expectUnchanged, relativeWeightDiff, smallConvnet, smallMlp, twins, wideTwins} from '../helpers/models';

const TFJS = '/base/node_modules/@tensorflow/tfjs/dist/tf.min.js';
const WASM_DIR = '/base/node_modules/@tensorflow/tfjs-backend-wasm/dist/';
const pool = (backend: 'cpu'|'wasm') => webWorkerPool({
  workers: 2, backend, workerUrl: '/base/dist/tfjs-er.worker.js',
  tfjsUrls: backend === 'wasm' ? [TFJS, `${WASM_DIR}tf-backend-wasm.min.js`] : [TFJS], wasmPaths: WASM_DIR,
});

function terminating(p: WebWorkerPool, at: number): ERExecutor {
  return interrupting(p, 'terminating', at, () => p.terminateWorker(0), false);
}

describe('webWorkerPool executor [page cpu, 2 workers]', () => {
  let workers: WebWorkerPool;
  let x: tf.Tensor2D, y: tf.Tensor2D, images: tf.Tensor4D, imageY: tf.Tensor2D;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    workers = pool('cpu');
    ({x, y, images, imageY} = executorSpecData());
  });
  afterAll(async () => {
    tf.dispose([x, y, images, imageY]);
    await workers.close();
  });

  const cases: Array<[string, () => tf.LayersModel, 'er'|'erls', boolean]> = [
    ['dense MLP', smallMlp, 'er', false], ['dense MLP', smallMlp, 'erls', false], ['convnet', smallConvnet, 'erls', true]];
  for (const [name, make, mode, conv] of cases) {
    it(`${name}, mode '${mode}': fit on 2 Web Workers gives the in-process weights`, async () => {
      const [xs, ys] = conv ? [images, imageY] : [x, y];
      const [local, remote] = twins(make);
      local.compile({optimizer: er({mode, searchRows: 200}), loss: 'categoricalCrossentropy'});
      remote.compile({optimizer: er({mode, searchRows: 200, executor: workers}), loss: 'categoricalCrossentropy'});
      await local.fit(xs, ys, {epochs: 2, batchSize: 50, verbose: 0});
      await remote.fit(xs, ys, {epochs: 2, batchSize: 50, verbose: 0});
      expect(relativeWeightDiff(local, remote)).toBeLessThan(1e-4);
      local.dispose();
      remote.dispose();
    }, 120000);
  }

  it('fitDataset, trainOnBatch and validationSplit on Web Workers give the in-process weights', async () => {
    await expectSameWeightsOnEveryCall(workers, x, y);
  }, 120000);

  it('a worker terminated mid-update fails the fit naming it and the pass; weights unchanged; pool usable', async () => {
    const [model, twin] = twins(smallMlp);
    model.compile({optimizer: er({executor: terminating(workers, 2)}), loss: 'categoricalCrossentropy'});
    const before = model.getWeights().map(w => w.clone());
    const count = tf.memory().numTensors;
    await expectAsync(model.fit(x, y, {epochs: 2, batchSize: 100, verbose: 0}))
        .toBeRejectedWithError(/web worker 1 of 2 was terminated.*during pass target \w+/);
    expect(tf.memory().numTensors).toBe(count);
    expectUnchanged(model.getWeights(), before);
    model.compile({optimizer: er({executor: workers}), loss: 'categoricalCrossentropy'});
    twin.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
    await model.fit(x, y, {epochs: 1, batchSize: 100, verbose: 0});
    await twin.fit(x, y, {epochs: 1, batchSize: 100, verbose: 0});
    expect(relativeWeightDiff(model, twin)).toBeLessThan(1e-4);
    tf.dispose(before);
    model.dispose();
    twin.dispose();
  }, 120000);

  it('on a cross-origin-isolated page the workers share the factorisation of a wide Gram: in-process weights', async () => {
    // karma.conf.js serves the page with COOP/COEP, as a user's page needs for SharedArrayBuffer
    expect((globalThis as {crossOriginIsolated?: boolean}).crossOriginIsolated).toBe(true);
    const {wide, local, remote} = wideTwins(x, SHARED_FACTOR_MIN + 10, workers);
    const requests = spyOn(RemoteShard.prototype, 'request').and.callThrough();
    await local.fit(wide, y, {epochs: 1, batchSize: 200, verbose: 0});
    await remote.fit(wide, y, {epochs: 1, batchSize: 200, verbose: 0});
    const shared = requests.calls.all().filter(c => (c.args[0] as {op: string}).op === 'factor');
    expect(shared.length).withContext('factor requests to the workers').toBeGreaterThanOrEqual(2);
    expect(relativeWeightDiff(local, remote)).toBeLessThan(1e-4);
    tf.dispose(wide);
    local.dispose();
    remote.dispose();
  }, 120000);

  it('leaks nothing in the page or the workers', async () => {
    const before = tf.memory().numTensors;
    const model = smallMlp();
    const opt = er({mode: 'erls', executor: workers});
    model.compile({optimizer: opt, loss: 'categoricalCrossentropy'});
    await model.fit(x, y, {epochs: 2, batchSize: 40, validationSplit: 0.2, verbose: 0});
    await model.trainOnBatch(x, y);
    model.dispose();
    opt.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(await workers.memory()).toEqual([0, 0]);
  }, 120000);

  it('wasm workers train to the page\'s cpu model up to float rounding', async () => {
    const wasm = pool('wasm');
    try {
      const [local, remote] = twins(smallMlp);
      local.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
      remote.compile({optimizer: er({executor: wasm}), loss: 'categoricalCrossentropy'});
      await local.fit(x, y, {epochs: 1, batchSize: 100, verbose: 0, shuffle: false});
      await remote.fit(x, y, {epochs: 1, batchSize: 100, verbose: 0, shuffle: false});
      // two backends round float32 differently, and the ridge solves amplify it in the weights
      // (measured up to 2.2e-3 relative); the predictions stay close
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(local.predict(x) as tf.Tensor, remote.predict(x) as tf.Tensor)))
                                   .dataSync()[0]);
      expect(relativeWeightDiff(local, remote)).toBeLessThan(1e-2);
      expect(diff).toBeLessThan(1e-3);
      local.dispose();
      remote.dispose();
    } finally {
      await wasm.close();
    }
  }, 120000);
});
