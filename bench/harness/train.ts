/**
 * One benchmark training run (a child process of every suite, see
 * `harness/cli.ts`): load a data set, build the network (ER layers for er(),
 * stock layers for Adam), train epoch by epoch, evaluate, and report what the
 * suites compare — seconds, test accuracy per epoch, time to a target
 * accuracy, held-out early stopping, resident memory, ER's per-update reports.
 */
import * as tf from '@tensorflow/tfjs';
import {er, ExpectationReflection, initializeFromData, SweepReport} from 'tfjs-er';
import {ArchStep, BackendChoice, balancedSubset, buildConvnet, buildMlp, ConvFactory, DatasetName, defaultThreads,
        fileSaveHandler, holdOut, LabelledImages, loadDataset, parseArch, parseConvArch, ThreadPool, threadPool,
        useBackend} from 'tfjs-er/node';
import {peakRssMb, restartPeakRss, rssMb} from './memory';
import {installWasmTransposeFix} from './wasm_matmul_fix';

/** Options of one run (CLI flags). */
export interface TrainOptions {
  dataset: DatasetName;
  /** Folder with the data (CIFAR-10: the one holding cifar-10-batches-bin/). */
  dataDir?: string;
  optimizer: 'er'|'adam';
  /** ER mode. */
  mode?: 'er'|'erls';
  /** ER ridge α (default 1e-3), or 'auto' (GCV). */
  alpha?: number|'auto';
  /** Adam learning rate (default 1e-3). */
  lr?: number;
  /** e.g. "784-1000-10" (the first and last numbers must match the data). */
  arch?: string;
  /** Hidden activation (default relu). */
  activation?: 'relu'|'tanh'|'sigmoid';
  epochs: number;
  /** Default: 2000 for ER (batch size only affects speed), 128 for Adam. */
  batchSize?: number;
  backend: BackendChoice;
  seed: number;
  /** 'glorot' (tfjs default) or 'data' (the ER reference's data-scaled init; ER only). */
  init?: 'glorot'|'data';
  /** Train on a class-balanced subset of this many rows. */
  trainSize?: number;
  /** Stop as soon as the test accuracy reaches this (evaluated after every epoch). */
  targetAccuracy?: number;
  /** Evaluate on the test set after every epoch (excluded from the training time). */
  evalEachEpoch?: boolean;
  /** Re-register wasm matMul to avoid the slow transposed path (Adam's strong baseline). */
  wasmTransposeFix?: boolean;
  /** Save the trained model (model.json + weights.bin) here. */
  save?: string;
  /**
   * Hold out this many class-balanced training rows (never trained on) to
   * pick the best epoch and stop early; the training subset is drawn from the rest.
   */
  valSize?: number;
  /** Early stopping: stop after this many epochs without a better held-out accuracy (needs valSize). */
  patience?: number;
  /**
   * ER: worker threads for the update's passes (1: in this thread). Default:
   * every core (`os.availableParallelism()`), or 1 on the tensorflow backend
   * (tfjs-node cannot run in threads).
   */
  threads?: number;
  /** ER 'erls': how a step is judged (default 'refit'). */
  stepSearch?: 'refit'|'held';
}

/** Per-epoch record. */
export interface EpochRecord {
  epoch: number;
  /** Cumulative training seconds (evaluation excluded). */
  train_seconds: number;
  loss: number;
  test_accuracy?: number;
  /** Accuracy on the held-out split (with valSize). */
  val_accuracy?: number;
}

/** The summary the CLI prints with --json. */
export interface TrainResult {
  dataset: string;
  optimizer: string;
  backend: string;
  arch: string;
  epochs: number;
  batch_size: number;
  seed: number;
  train_seconds: number;
  test_error: number;
  test_accuracy: number;
  peak_rss_mb: number;
  /** Resident MB once the backend was ready, before any data: the runtime's own share of the peak. */
  baseline_rss_mb?: number;
  /** Peak resident MB while training and evaluating (data loading excluded); null where the OS cannot tell. */
  train_peak_rss_mb?: number|null;
  history: EpochRecord[];
  /** Training seconds when targetAccuracy was first reached (null if never). */
  seconds_to_target?: number|null;
  /** With valSize: the epoch with the best held-out accuracy (the model early stopping keeps). */
  best?: EpochRecord;
  /** Training rows (after any subset and hold-out). */
  train_rows?: number;
  /** ER: worker threads the passes ran on (1: in the main thread). */
  threads?: number;
  /** ER: what each update did (passes and their seconds, γ, ridge), in order. */
  er_reports?: SweepReport[];
}

/** Hooks for progress display. */
export interface TrainHooks {
  /** Where ER's passes run: `threads` worker threads (1: this thread) on `backend`. */
  onExecutor?(threads: number, backend: string): void;
  onEpochBegin?(epoch: number, batches: number, batchSize: number): void;
  onBatchEnd?(batchesDone: number): void;
  onEpochEnd?(record: EpochRecord): void;
}

function toTensors(set: LabelledImages, images = false): {x: tf.Tensor, y: tf.Tensor2D} {
  return tf.tidy(() => ({
    x: images ? tf.tensor(set.x, [set.count, ...set.imageShape]) : tf.tensor2d(set.x, [set.count, set.features]),
    y: tf.oneHot(tf.tensor1d(set.labels, 'int32'), set.classes).toFloat() as tf.Tensor2D,
  }));
}

/**
 * A 'same' K×K convolution written as patches (a frozen conv2d with an
 * identity kernel) followed by a dense layer on each position's patch: the
 * same function and the same trainable parameters (the dense kernel is the
 * conv kernel reshaped, initialised with the same values). The Adam baseline
 * needs this on wasm: tfjs 4.22's wasm backend has no Conv2DBackpropFilter
 * kernel, so backprop cannot train a stock conv2d there.
 */
const convAsPatchesAndDense: ConvFactory = ({first, filters, kernel: k, channels, activation, init}) => {
  const p = k * k * channels;
  const patches = tf.layers.conv2d({...first, filters: p, kernelSize: k, padding: 'same', useBias: false,
                                    trainable: false, kernelInitializer: tf.initializers.zeros()});
  const dense = tf.layers.dense({units: filters, activation: activation as 'relu'});
  // Once the layers are built: the identity kernel, and the conv kernel's initial values.
  const assign = () => tf.tidy(() => {
    patches.setWeights([tf.reshape(tf.eye(p), [k, k, channels, p])]);
    dense.setWeights([tf.reshape(init.apply([k, k, channels, filters]), [p, filters]), tf.zeros([filters])]);
  });
  return {layers: [patches, dense], assign};
};

/** The run's network: ER layers for er(), stock layers (conv as patches + dense) for Adam. */
function buildModel(steps: ArchStep[]|null, dims: number[], imageShape: number[], optimizer: 'er'|'adam',
                    activation: string, seed: number): tf.Sequential {
  if (steps == null) return buildMlp(dims, activation, seed, optimizer === 'er' ? undefined : tf.layers.dense);
  return optimizer === 'er' ? buildConvnet(steps, imageShape, activation, seed) :
                              buildConvnet(steps, imageShape, activation, seed, convAsPatchesAndDense, tf.layers.dense);
}

/**
 * Loads the data set, splits and subsets it, and makes the tensors. The
 * loader's arrays are not referenced once this returns, so they can be
 * garbage-collected while training runs on the tensors.
 */
function prepareData(opts: TrainOptions) {
  const data = loadDataset(opts.dataset, opts.dataDir);
  let pool = data.train, valSet: LabelledImages|null = null;
  if (opts.valSize) {
    const split = holdOut(data.train, opts.valSize, opts.seed + 7919);
    pool = split.rest;
    valSet = split.held;
  }
  const trainSet = opts.trainSize ? balancedSubset(pool, opts.trainSize, opts.seed) : pool;
  const convSteps = parseConvArch(opts.arch, trainSet.features, trainSet.classes);
  const dims = convSteps ? [] : parseArch(opts.arch, trainSet.features, trainSet.classes);
  const images = convSteps != null;
  const {x, y} = toTensors(trainSet, images);
  return {x, y, test: toTensors(data.test, images), val: valSet ? toTensors(valSet, images) : null,
          convSteps, dims, imageShape: trainSet.imageShape, trainRows: trainSet.count};
}

/** Runs one training and returns its summary. */
export async function train(opts: TrainOptions, hooks: TrainHooks = {}): Promise<TrainResult> {
  const backend = await useBackend(opts.backend);
  const baselineRss = rssMb();
  if (opts.wasmTransposeFix) {
    if (backend !== 'wasm') throw new Error('--wasm-transpose-fix applies to the wasm backend only');
    installWasmTransposeFix();
  }
  if (!opts.valSize && opts.patience != null) throw new Error('--patience needs a held-out split: add --val-size N');
  const {x, y, test, val, convSteps, dims, imageShape, trainRows} = prepareData(opts);
  const batchSize = opts.batchSize ?? (opts.optimizer === 'er' ? 2000 : 128);
  const model = buildModel(convSteps, dims, imageShape, opts.optimizer, opts.activation ?? 'relu', opts.seed);
  if (opts.init === 'data') {
    if (opts.optimizer !== 'er') throw new Error('--init data is the ER reference initialisation: use it with --optimizer er');
    const sample = tf.slice(x, 0, Math.min(10000, x.shape[0]));
    initializeFromData(model, sample, {seed: opts.seed});
    sample.dispose();
  }
  const threads = opts.optimizer !== 'er' ? 1 : defaultThreads(opts.threads, backend);
  const pool: ThreadPool|null = threads > 1 ? threadPool({threads, backend: backend as 'wasm'|'cpu'}) : null;
  hooks.onExecutor?.(threads, backend);
  try {
    const optimizer = opts.optimizer === 'er' ?
        er({mode: opts.mode ?? 'er', alpha: opts.alpha ?? 1e-3, verbose: false, executor: pool ?? undefined,
            stepSearch: opts.stepSearch ?? 'refit'}) :
        tf.train.adam(opts.lr ?? 1e-3);
    model.compile({optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy']});

    const loadPeak = peakRssMb();
    const peakRestarted = restartPeakRss();
    const history: EpochRecord[] = [];
    const reports: SweepReport[] = [];
    const batches = Math.ceil(x.shape[0] / batchSize);
    let trainSeconds = 0;
    let secondsToTarget: number|null = null;
    let best: EpochRecord|undefined;
    const evaluate = async (set = test) => {
      const outs = model.evaluate(set.x, set.y, {batchSize: 2000}) as tf.Scalar[];
      const v = (await outs[1].data())[0];
      tf.dispose(outs);
      return v;
    };
    for (let epoch = 1; epoch <= opts.epochs; epoch++) {
      hooks.onEpochBegin?.(epoch, batches, batchSize);
      const t0 = Date.now();
      const h = await model.fit(x, y, {
        epochs: 1, batchSize, verbose: 0, shuffle: true,
        callbacks: {onBatchEnd: async (b) => hooks.onBatchEnd?.(b + 1)},
      });
      trainSeconds += (Date.now() - t0) / 1000;
      if (optimizer instanceof ExpectationReflection && optimizer.lastReport != null) reports.push(optimizer.lastReport);
      const record: EpochRecord = {epoch, train_seconds: Number(trainSeconds.toFixed(2)),
                                   loss: Number((h.history.loss[0] as number).toFixed(5))};
      if (opts.evalEachEpoch || opts.targetAccuracy != null || epoch === opts.epochs) {
        record.test_accuracy = Number((await evaluate()).toFixed(4));
      }
      if (val) record.val_accuracy = Number((await evaluate(val)).toFixed(4));
      history.push(record);
      hooks.onEpochEnd?.(record);
      if (opts.targetAccuracy != null && record.test_accuracy! >= opts.targetAccuracy) {
        secondsToTarget = trainSeconds;
        break;
      }
      if (val && (best == null || record.val_accuracy! > best.val_accuracy!)) best = record;
      if (val && opts.patience != null && epoch - best!.epoch >= opts.patience) break;
    }
    const last = history[history.length - 1];
    const accuracy = last.test_accuracy ?? await evaluate();
    if (opts.save) await model.save(fileSaveHandler(opts.save));
    tf.dispose([x, y, test.x, test.y, val?.x, val?.y].filter(t => t != null) as tf.Tensor[]);
    model.dispose();
    optimizer.dispose();
    const result: TrainResult = {
      dataset: opts.dataset, optimizer: opts.optimizer === 'er' ? `er(${opts.mode ?? 'er'}${opts.alpha != null ? `, alpha ${opts.alpha}` : ''})` : `adam(${opts.lr ?? 1e-3})`,
      backend, arch: convSteps ? opts.arch! : dims.join('-'), epochs: history.length, batch_size: batchSize, seed: opts.seed,
      train_seconds: Number(trainSeconds.toFixed(2)), test_error: Number((100 * (1 - accuracy)).toFixed(2)),
      test_accuracy: Number(accuracy.toFixed(4)),
      peak_rss_mb: Math.max(loadPeak, peakRssMb()), baseline_rss_mb: baselineRss,
      train_peak_rss_mb: peakRestarted ? peakRssMb() : null, history,
    };
    if (opts.targetAccuracy != null) result.seconds_to_target = secondsToTarget;
    if (best) result.best = best;
    result.train_rows = trainRows;
    result.threads = threads;
    if (reports.length > 0) result.er_reports = reports;
    return result;
  } finally {
    await pool?.close();
  }
}
