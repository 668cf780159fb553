/** Executor helpers shared by the Node thread-pool and browser Web Worker specs. */
import * as tf from '@tensorflow/tfjs';
import {UpdateSession} from '../../src/engine/index';
import {er, ERExecutor, ExecutorRun} from '../../src/index';
import {toyClassification} from './data';
import {expectSameWeights, smallMlp, twins} from './models';

/**
 * `executor`, with `interrupt()` called as an update asks for its pass number
 * `at`: before the request goes out (`first`) or just after.
 */
export function interrupting(executor: ERExecutor, name: string, at: number, interrupt: () => void,
                             first: boolean): ERExecutor {
  return {
    name, shards: executor.shards, close: () => executor.close(),
    open: async (spec, options) => {
      const run = await executor.open(spec, options);
      const wrapped: ExecutorRun = {
        get rows() { return run.rows; },
        load: (s, r) => run.load(s, r), append: (x, y) => run.append(x, y), clear: () => run.clear(),
        close: () => run.close(),
        session: async units => {
          const s = await run.session(units);
          let passes = 0;
          return {set: r => s.set(r), end: () => s.end(), pass: r => {
            const last = ++passes === at;
            if (last && first) interrupt();
            const answer = s.pass(r);
            if (last && !first) interrupt();
            return answer;
          }} as UpdateSession;
        },
      };
      return wrapped;
    },
  };
}

/**
 * Trains twin small MLPs with `fitDataset`, `trainOnBatch` and
 * `validationSplit`, one in-process and one on `executor`, and expects the
 * same weights after each.
 */
export async function expectSameWeightsOnEveryCall(executor: ERExecutor, x: tf.Tensor2D, y: tf.Tensor2D):
    Promise<void> {
  const ds = () => tf.data.generator(function* () {
    for (let s = 0; s < x.shape[0]; s += 75) yield {xs: tf.slice(x, s, 75), ys: tf.slice(y, s, 75)};
  });
  const runs: Array<[string, (m: tf.LayersModel) => Promise<unknown>]> = [
    ['fitDataset', m => m.fitDataset(ds(), {epochs: 2, verbose: 0})],
    ['trainOnBatch', async m => { await m.trainOnBatch(x, y); await m.trainOnBatch(x, y); }],
    ['validationSplit', m => m.fit(x, y, {epochs: 2, batchSize: 64, validationSplit: 0.3, verbose: 0})],
  ];
  for (const [what, train] of runs) {
    const [local, remote] = twins(smallMlp);
    local.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
    remote.compile({optimizer: er({executor}), loss: 'categoricalCrossentropy'});
    await train(local);
    await train(remote);
    expectSameWeights(local, remote, what);
    local.dispose();
    remote.dispose();
  }
}

/** The executor specs' data: 600 rows of the toy 3-class problem, and 120 6×6 images with a 2-class label. */
export function executorSpecData(): {x: tf.Tensor2D, y: tf.Tensor2D, images: tf.Tensor4D, imageY: tf.Tensor2D} {
  const {x, y, labels} = toyClassification(600, 21);
  labels.dispose();
  const images = tf.randomUniform([120, 6, 6, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
  const imageY = tf.tidy(() => tf.oneHot(tf.cast(tf.greater(tf.mean(images, [1, 2, 3]), 0.5), 'int32'), 2).toFloat()) as tf.Tensor2D;
  return {x, y, images, imageY};
}
