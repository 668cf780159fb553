/**
 * One CLI training run: load a data set, build the network with ER layers,
 * train it with `er()` epoch by epoch (on worker threads by default),
 * evaluate on the test set after every update, and optionally train the
 * same network with tfjs's Adam for comparison.
 */
import * as tf from '@tensorflow/tfjs';
import * as os from 'os';
import {er, ERMode, initializeFromData, SweepReport} from 'tfjs-er';
import {BackendChoice, useBackend} from './backend';
import {balancedSubset, DatasetName, LabelledImages, loadDataset} from './datasets';
import {fileSaveHandler} from './fs_io';
import {buildConvnet, buildMlp, parseArch, parseConvArch} from './models';
import {redisExecutor, RedisPassReport} from './redis_executor';
import {ThreadPool, threadPool} from './thread_pool';

/** Options of one run (the CLI's flags). */
export interface TrainOptions {
  dataset: DatasetName;
  /** CIFAR-10: the folder where its official binary release was extracted. */
  dataDir?: string;
  /** e.g. "784-1000-10" or "3072-c32k5-p8-10" (the first and last numbers must match the data). */
  arch?: string;
  /** Hidden activation (default relu). */
  activation?: 'relu'|'tanh'|'sigmoid';
  /** ER mode (default 'er'). */
  mode?: ERMode;
  /** 'erls': how a step is judged (default 'refit'). */
  stepSearch?: 'refit'|'held';
  /** 'glorot' (tfjs's default) or 'data' (the ER reference's data-scaled initialisation). */
  init?: 'glorot'|'data';
  /** ER ridge α (default 1e-3), or 'auto' (GCV). */
  alpha?: number|'auto';
  /** Megabytes of forwards each ER update keeps for its later passes (default: er()'s). */
  forwardCacheMB?: number;
  /** ER updates (one per epoch). */
  epochs: number;
  /** Rows per chunk of ER's passes (default 2000; it changes speed only). */
  batchSize?: number;
  backend: BackendChoice;
  /** Worker threads for ER's passes (default every core; 1 on the tensorflow backend). */
  threads?: number;
  seed: number;
  /** Train on a class-balanced subset of this many rows. */
  trainSize?: number;
  /** Save the ER model (model.json + weights.bin) to this folder. */
  save?: string;
  /** Also train the same network with tfjs's Adam (lr 1e-3, batch 128) for comparison. */
  compareAdam?: boolean;
  /**
   * Run ER's passes on `tfjs-er worker` processes through this Redis queue
   * (each worker loads its shard of the same data set itself).
   */
  redis?: {url: string, queue: string, shards?: number};
}

/** One optimizer's run. */
export interface RunSummary {
  optimizer: string;
  epochs: number;
  /** Training wall seconds (evaluation excluded). */
  train_seconds: number;
  test_accuracy: number;
  /** Test error, %. */
  test_error: number;
  /** Test accuracy after every epoch, with the training seconds so far. */
  history: Array<{epoch: number, train_seconds: number, test_accuracy: number}>;
}

/** What the CLI prints with --json. */
export interface TrainResult {
  dataset: string;
  backend: string;
  arch: string;
  /** Worker threads ER's passes ran on (1: the main thread, or Redis workers). */
  threads: number;
  /** Where ER's passes ran: 'in-process', 'threads ×N' or the Redis queue. */
  executor: string;
  /** Seconds the worker threads took to start (load tfjs and the backend), before the first update; 0 without. */
  threads_start_seconds: number;
  train_rows: number;
  seed: number;
  er: RunSummary;
  adam?: RunSummary;
}

/** Progress hooks. */
export interface TrainHooks {
  /** Where ER's passes run ('1 thread', '2 worker threads', a Redis queue). */
  onExecutor?(where: string, backend: string): void;
  /** An epoch of `optimizer` starts: `batches` batches of `batchSize` rows. */
  onEpochBegin?(optimizer: string, epoch: number, batches: number, batchSize: number): void;
  /** A batch ended (`batchesDone` so far in this epoch). */
  onBatchEnd?(batchesDone: number): void;
  /** An epoch ended, with its test accuracy. */
  onEpochEnd?(optimizer: string, record: RunSummary['history'][number]): void;
  /** Each pass's timings, when ER runs on Redis workers. */
  onPass?(report: RedisPassReport): void;
  /** ER's last update of an epoch: its passes, reduce and solve seconds (see {@link SweepReport}). */
  onUpdate?(report: SweepReport): void;
}

function tensors(set: LabelledImages, images: boolean): {x: tf.Tensor, y: tf.Tensor2D} {
  return tf.tidy(() => ({
    x: images ? tf.tensor(set.x, [set.count, ...set.imageShape]) : tf.tensor2d(set.x, [set.count, set.features]),
    y: tf.oneHot(tf.tensor1d(set.labels, 'int32'), set.classes).toFloat() as tf.Tensor2D,
  }));
}

/** Threads for ER on `backend`: the requested count, else every core (1 on tfjs-node, which cannot run in threads). */
export function defaultThreads(requested: number|undefined, backend: string): number {
  if (backend === 'tensorflow') {
    if (requested != null && requested > 1) {
      throw new Error('--threads: tfjs-node (the tensorflow backend) cannot run in more than one thread ' +
                      '(tfjs issue #8388); use --threads 1, or --backend wasm');
    }
    return 1;
  }
  return requested ?? (os.availableParallelism?.() ?? os.cpus().length);
}

/** Trains `model` epoch by epoch, evaluating on the test set after each. */
async function fitEpochs(label: string, model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor2D,
                         test: {x: tf.Tensor, y: tf.Tensor2D}, epochs: number, batchSize: number,
                         hooks: TrainHooks): Promise<RunSummary> {
  const history: RunSummary['history'] = [];
  const batches = Math.ceil(x.shape[0] / batchSize);
  let seconds = 0;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    hooks.onEpochBegin?.(label, epoch, batches, batchSize);
    const t0 = Date.now();
    await model.fit(x, y, {epochs: 1, batchSize, verbose: 0, shuffle: true,
                           callbacks: {onBatchEnd: async b => hooks.onBatchEnd?.(b + 1)}});
    seconds += (Date.now() - t0) / 1000;
    const [, acc] = model.evaluate(test.x, test.y, {batchSize: 2000}) as tf.Scalar[];
    const record = {epoch, train_seconds: Number(seconds.toFixed(2)), test_accuracy: Number((await acc.data())[0].toFixed(4))};
    tf.dispose(acc);
    history.push(record);
    hooks.onEpochEnd?.(label, record);
  }
  const last = history[history.length - 1];
  return {optimizer: label, epochs, train_seconds: last.train_seconds, test_accuracy: last.test_accuracy,
          test_error: Number((100 * (1 - last.test_accuracy)).toFixed(2)), history};
}

/** Runs one training (see the module comment) and returns its summary. */
export async function train(opts: TrainOptions, hooks: TrainHooks = {}): Promise<TrainResult> {
  const backend = await useBackend(opts.backend);
  const data = loadDataset(opts.dataset, opts.dataDir);
  const set = opts.trainSize ? balancedSubset(data.train, opts.trainSize, opts.seed) : data.train;
  const steps = parseConvArch(opts.arch, set.features, set.classes);
  const dims = steps ? [] : parseArch(opts.arch, set.features, set.classes);
  const images = steps != null;
  const {x, y} = tensors(set, images);
  const test = tensors(data.test, images);
  const activation = opts.activation ?? 'relu';
  const threads = opts.redis ? 1 : defaultThreads(opts.threads, backend);
  const pool = opts.redis ?
      redisExecutor({connection: opts.redis.url, queue: opts.redis.queue, shards: opts.redis.shards,
                     source: {kind: 'dataset', name: opts.dataset, dataDir: opts.dataDir, trainSize: opts.trainSize,
                              seed: opts.seed, images}, onPass: hooks.onPass}) :
      threads > 1 ? threadPool({threads, backend: backend as 'wasm'|'cpu'}) : null;
  hooks.onExecutor?.(opts.redis ? pool!.name : threads > 1 ? `${threads} worker threads` : '1 thread', backend);
  try {
    // thread start-up is paid once per pool, not per update: wait for it before timing the updates
    let threadsStart = 0;
    if (pool instanceof ThreadPool) {
      const started = Date.now();
      await pool.ready();
      threadsStart = (Date.now() - started) / 1000;
    }
    const model = steps ? buildConvnet(steps, set.imageShape, activation, opts.seed) :
                          buildMlp(dims, activation, opts.seed);
    if (opts.init === 'data') {
      const sample = tf.slice(x, 0, Math.min(10000, x.shape[0]));
      try {
        initializeFromData(model, sample, {seed: opts.seed});
      } finally {
        sample.dispose();
      }
    }
    const optimizer = er({mode: opts.mode ?? 'er', stepSearch: opts.stepSearch ?? 'refit', alpha: opts.alpha ?? 1e-3,
                          verbose: false, executor: pool ?? undefined,
                          ...(opts.forwardCacheMB != null ? {forwardCacheMB: opts.forwardCacheMB} : {})});
    model.compile({optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy']});
    const erHooks: TrainHooks = {...hooks, onEpochEnd: (label, record) => {
      const report = optimizer.lastReport;
      if (report != null) hooks.onUpdate?.(report);
      hooks.onEpochEnd?.(label, record);
    }};
    const erRun = await fitEpochs(`er(${opts.mode ?? 'er'})`, model, x, y, test, opts.epochs, opts.batchSize ?? 2000,
                                  erHooks);
    if (opts.save) await model.save(fileSaveHandler(opts.save));
    model.dispose();
    optimizer.dispose();
    const result: TrainResult = {dataset: opts.dataset, backend, arch: opts.arch ?? dims.join('-'), threads,
                                 executor: pool?.name ?? 'in-process', threads_start_seconds: Number(threadsStart.toFixed(2)),
                                 train_rows: set.count, seed: opts.seed, er: erRun};
    if (opts.compareAdam) {
      if (steps && backend === 'wasm') {
        throw new Error('--compare adam: tfjs 4.22\'s wasm backend cannot train conv2d layers by backprop (it has ' +
                        'no Conv2DBackpropFilter kernel); compare on --backend cpu, or on an MLP');
      }
      const adamModel = steps ? buildConvnet(steps, set.imageShape, activation, opts.seed, convStock, tf.layers.dense) :
                                buildMlp(dims, activation, opts.seed, tf.layers.dense);
      const adam = tf.train.adam(1e-3);
      adamModel.compile({optimizer: adam, loss: 'categoricalCrossentropy', metrics: ['accuracy']});
      result.adam = await fitEpochs('adam(1e-3)', adamModel, x, y, test, opts.epochs, 128, hooks);
      adamModel.dispose();
      adam.dispose();
    }
    return result;
  } finally {
    tf.dispose([x, y, test.x, test.y]);
    await pool?.close();
  }
}

/** A stock tfjs conv layer, for the comparison. */
const convStock: Parameters<typeof buildConvnet>[4] = ({first, filters, kernel, activation, init}) => ({
  layers: [tf.layers.conv2d({...first, filters, kernelSize: kernel, padding: 'same', activation: activation as 'relu',
                             kernelInitializer: init})],
});
