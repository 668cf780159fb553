/**
 * The thread-pool executor (Node): the same weights as in-process for every
 * kind of network and training call, failures reported with the thread and
 * the pass, nothing leaked on either side, and every thread ended by close().
 */
import * as tf from '@tensorflow/tfjs';
import {choleskyInPlace, ShardRunner, specOf} from '../src/engine/index';
import {serveShard, weightsToWire} from '../src/executors/index';
import {RemoteRun, SHARED_FACTOR_MIN} from '../src/executors/remote';
import {er, ERExecutor, ERInputError} from '../src/index';
import {ThreadPool, threadPool} from '../src/node/index';
import {describeBackends} from './helpers/backends';
import {randomGram} from './helpers/linalg';
import {executorSpecData, expectSameWeightsOnEveryCall, interrupting} from './helpers/executors';
import {expectSameWeights, expectUnchanged, smallConvnet, smallMlp, twins, wideTwins} from './helpers/models';

type Make = () => tf.LayersModel;

/** An executor that terminates one of the pool's threads as it asks for pass number `at` of an update. */
function killing(pool: ThreadPool, at: number): ERExecutor {
  // terminate first: the request then reaches a thread that is going away
  return interrupting(pool, 'killing', at, () => void pool.threads[0].terminate(), true);
}

describeBackends('threadPool executor', backend => {
  let pool: ThreadPool;
  let x: tf.Tensor2D, y: tf.Tensor2D;
  let images: tf.Tensor4D, imageY: tf.Tensor2D;
  beforeAll(() => {
    pool = threadPool({threads: 2, backend: backend === 'wasm' ? 'wasm' : 'cpu'});
    ({x, y, images, imageY} = executorSpecData());
  });
  afterAll(async () => {
    tf.dispose([x, y, images, imageY]);
    await pool.close();
  });

  const cases: Array<[string, Make, 'er'|'erls', () => [tf.Tensor, tf.Tensor]]> = [
    ['dense MLP', smallMlp, 'er', () => [x, y]],
    ['dense MLP', smallMlp, 'erls', () => [x, y]],
    ['convnet', smallConvnet, 'erls', () => [images, imageY]],
  ];
  for (const [name, make, mode, data] of cases) {
    it(`${name}, mode '${mode}': fit on 2 threads gives the in-process weights`, async () => {
      const [xs, ys] = data();
      const [local, threaded] = twins(make);
      local.compile({optimizer: er({mode, searchRows: 200}), loss: 'categoricalCrossentropy', metrics: ['accuracy']});
      const opt = er({mode, searchRows: 200, executor: pool});
      threaded.compile({optimizer: opt, loss: 'categoricalCrossentropy', metrics: ['accuracy']});
      const h1 = await local.fit(xs, ys, {epochs: 3, batchSize: 50, verbose: 0});
      const h2 = await threaded.fit(xs, ys, {epochs: 3, batchSize: 50, verbose: 0});
      expectSameWeights(local, threaded, name);
      (h1.history.loss as number[]).forEach((l, e) => expect(h2.history.loss[e] as number).toBeCloseTo(l, 5));
      expect(opt.updates).toBe(3);
      local.dispose();
      threaded.dispose();
    });
  }

  it('fitDataset, trainOnBatch and validationSplit on threads give the in-process weights', async () => {
    await expectSameWeightsOnEveryCall(pool, x, y);
  });

  it('a thread killed mid-update rejects the fit naming the thread and the pass; weights unchanged; pool usable',
     async () => {
    const [model, twin] = twins(smallMlp);
    model.compile({optimizer: er({executor: killing(pool, 2)}), loss: 'categoricalCrossentropy'});
    const before = model.getWeights().map(w => w.clone());
    const tensors = tf.memory().numTensors;
    await expectAsync(model.fit(x, y, {epochs: 2, batchSize: 100, verbose: 0}))
        .toBeRejectedWithError(/thread \d of 2 died: worker exited.*during pass target \w+/);
    expect(tf.memory().numTensors).toBe(tensors);
    expectUnchanged(model.getWeights(), before);
    // the pool replaced the thread: training on it works and matches in-process
    model.compile({optimizer: er({executor: pool}), loss: 'categoricalCrossentropy'});
    twin.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
    await model.fit(x, y, {epochs: 1, batchSize: 100, verbose: 0});
    await twin.fit(x, y, {epochs: 1, batchSize: 100, verbose: 0});
    expectSameWeights(model, twin, 'after the failure');
    tf.dispose(before);
    model.dispose();
    twin.dispose();
  });

  it('bad data on a thread: the shard\'s error comes back as ERInputError, naming the thread and the pass', async () => {
    const model = smallMlp();
    model.compile({optimizer: er({executor: pool}), loss: 'categoricalCrossentropy'});
    const bad = tf.tidy(() => tf.concat([x.slice(0, 599), tf.tensor2d([[NaN, 0, 0, 0]])]));
    await expectAsync(model.fit(bad, y, {epochs: 1, batchSize: 100, verbose: 0}))
        .toBeRejectedWithError(ERInputError, /NaN or Infinity/);
    bad.dispose();
    model.dispose();
  });

  it('the threads share the solves\' factorisations: the same factor bit for bit; a singular Gram is refused alike', async () => {
    const run = await pool.open({units: [], inputShape: []}, {chunkRows: 1}) as RemoteRun;
    try {
      // odd sizes: partial 48-column blocks and every remainder of the 4-row tiles
      for (const n of [SHARED_FACTOR_MIN, SHARED_FACTOR_MIN + 1, SHARED_FACTOR_MIN + 42, SHARED_FACTOR_MIN + 99]) {
        const here = randomGram(n, n, 40, 0.01);  // rank 40 + ridge: a hard, ill-conditioned Gram
        const upper = here.slice();
        const shared = here.slice();
        expect(choleskyInPlace(here, n, false)).toBe(true);
        expect(await run.factor({kind: 'factor', matrix: shared, n})).toBe(true);
        let diff = 0;
        for (let i = 0; i < n * n; i++) diff = Math.max(diff, Math.abs(here[i] - shared[i]));
        expect(diff).withContext(`n = ${n}`).toBe(0);
        // the strict upper triangle (what a retry restores from) is untouched
        for (let i = 0; i < n; i += 97) expect(shared[i * n + n - 1]).toBe(upper[i * n + n - 1]);
      }
      const n = SHARED_FACTOR_MIN + 5;
      const singular = randomGram(n, 3, 40, 0);
      expect(choleskyInPlace(singular.slice(), n, false)).toBe(false);
      expect(await run.factor({kind: 'factor', matrix: singular, n})).toBe(false);
    } finally {
      await run.close();
    }
  });

  it('a fit whose Gram is factored by the threads gives the in-process weights', async () => {
    const features = SHARED_FACTOR_MIN + 10;  // the first layer's Gram (features wide) is shared
    const {wide, local, remote: threaded} = wideTwins(x, features, pool);
    const factor = spyOn(RemoteRun.prototype, 'factor').and.callThrough();
    await local.fit(wide, y, {epochs: 2, batchSize: 200, verbose: 0});
    await threaded.fit(wide, y, {epochs: 2, batchSize: 200, verbose: 0});
    expect(factor.calls.all().some(c => c.args[0].n === features)).toBe(true);
    expectSameWeights(local, threaded, 'shared factorisation');
    tf.dispose(wide);
    local.dispose();
    threaded.dispose();
  });

  it('a thread killed during a shared factorisation rejects naming it, releases the other thread; pool usable', async () => {
    const n = SHARED_FACTOR_MIN + 50;
    const run = await pool.open({units: [], inputShape: []}, {chunkRows: 1}) as RemoteRun;
    try {
      void pool.threads[0].terminate();
      await expectAsync(run.factor({kind: 'factor', matrix: randomGram(n, 1, 40, 0.01), n}))
          .toBeRejectedWithError(new RegExp(`thread \\d of 2 (died|ended).*factorisation of a ${n}×${n} Gram`));
    } finally {
      await run.close();
    }
    // both threads take part again (a thread still waiting would hang this)
    const again = await pool.open({units: [], inputShape: []}, {chunkRows: 1}) as RemoteRun;
    try {
      const a = randomGram(n, 1, 40, 0.01), b = a.slice();
      choleskyInPlace(a, n, false);
      expect(await again.factor({kind: 'factor', matrix: b, n})).toBe(true);
      expect(b[(n - 1) * n + n - 2]).toBe(a[(n - 1) * n + n - 2]);
    } finally {
      await again.close();
    }
  });

  it('a backend abort on a shard is answered with the reason; the shard stops serving and says it is broken', () => {
    const unit = {kind: 'dense' as const, name: 'out', kernel: tf.zeros([4, 3]), bias: tf.zeros([3]) as tf.Tensor1D,
                  activation: 'softmax' as const, trainable: true};
    const sent: Array<{id: number, ok: boolean, error?: {message: string}}> = [];
    let handler: (m: unknown) => void = () => undefined;
    let closed = false, done = false, broken = false;
    const tensors = tf.memory().numTensors;
    serveShard({post: m => sent.push(m as typeof sent[number]), onMessage: h => handler = h, close: () => closed = true},
               () => done = true, () => broken = true);
    spyOn(ShardRunner.prototype, 'run').and.throwError(new Error('Aborted(). Build with -sASSERTIONS for more info.'));
    handler({id: 1, request: {op: 'open', spec: specOf([unit], [4]), shard: 0, shards: 1}});
    handler({id: 2, request: {op: 'begin', weights: [weightsToWire(unit)]}});
    handler({id: 3, request: {op: 'pass', plan: {kind: 'refresh', unit: 0}}});
    expect(sent.map(m => m.ok)).toEqual([true, true, false]);
    expect(sent[2].error!.message).toMatch(/^Aborted\(\): the \w+ backend aborted, most often because its heap .* is full; .*This thread is ended/);
    expect([closed, broken, done]).toEqual([true, true, false]);
    expect(tf.memory().numTensors).withContext('the shard released its weights').toBe(tensors);
    tf.dispose([unit.kernel, unit.bias]);
  });

  it('leaks nothing in the coordinator or the threads', async () => {
    const before = tf.memory().numTensors;
    for (const make of [smallMlp, smallConvnet]) {
      const model = make();
      const opt = er({mode: 'erls', executor: pool});
      model.compile({optimizer: opt, loss: 'categoricalCrossentropy'});
      const [xs, ys] = make === smallMlp ? [x, y] : [images, imageY];
      await model.fit(xs, ys, {epochs: 2, batchSize: 40, validationSplit: 0.2, verbose: 0});
      await model.trainOnBatch(xs, ys);
      model.dispose();
      opt.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(await pool.memory()).toEqual([0, 0]);
  });

  it('ready() waits for every thread; close() ends them; a closed pool says so; tfjs-node is refused with the reason', async () => {
    const own = threadPool({threads: 2, backend: 'cpu'});
    expect(own.shards).toBe(2);
    await own.ready();
    expect(await own.memory()).toEqual([0, 0]);
    const model = smallMlp();
    model.compile({optimizer: er({executor: own}), loss: 'categoricalCrossentropy'});
    await model.fit(x, y, {epochs: 1, batchSize: 100, verbose: 0});
    const threads = own.threads.slice();
    expect(threads.length).toBe(2);
    const exits = threads.map(t => new Promise(resolve => t.once('exit', resolve)));
    await own.close();
    await Promise.all(exits);
    await expectAsync(model.fit(x, y, {epochs: 1, verbose: 0})).toBeRejectedWithError(/the pool is closed/);
    await expectAsync(own.ready()).toBeRejectedWithError(/the pool is closed/);
    model.dispose();
    expect(() => threadPool({backend: 'tensorflow'})).toThrowMatching(
        e => e instanceof ERInputError && /cannot be loaded in more than one worker thread.*#8388/.test(e.message));
    expect(() => threadPool({threads: 0})).toThrowError(ERInputError, /threads must be an integer >= 1/);
  });
});
