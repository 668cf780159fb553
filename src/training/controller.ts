/**
 * Trains one compiled model's chain (dense, conv2d, pooling, flatten) with
 * ER: turns the model's rows into the chain's inputs and ER targets, holds
 * them on the optimizer's executor for the fit, runs each update there and
 * writes the new weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {BatchSource, orderedPredictions, rowRange, runSweep, specOf, SweepCache, SweepConfig, SweepReport,
        sweepSteps, UpdateSession} from '../engine/index';
import {ERExecutor, ExecutorRun} from '../executors/executor';
import {InProcessExecutor} from '../executors/in_process';
import {chainInputShape, chainUnits, extractChain, ModelChain, writeChainWeights} from './chain';
import {checkLossActivation, ERLossName, resolveLoss, targetTensor} from './losses';
import {EpochTrainer, snapshot, UpdateOutcome} from './trainer';

/**
 * Values in a conv chain's largest per-chunk tensor: big enough to amortise
 * dispatch, small enough that elementwise ops stay fast on wasm (where 128 MB
 * operands run several times slower per value; docs/performance.md).
 */
const CONV_CHUNK_VALUES = 8e6;

/** Training settings of a controller (from the optimizer's config). */
export interface ControllerConfig extends SweepConfig {
  verbose: boolean;
  /** Where the passes run (default: in this thread). */
  executor?: ERExecutor;
}

/** One model trained by one ER optimizer. Created when the model is compiled with `er()`. */
export class ERController implements EpochTrainer {
  lastReport: SweepReport|null = null;
  updates = 0;
  private readonly loss: ERLossName;
  private readonly executor: ERExecutor;
  private readonly cache = new SweepCache();
  private chain: ModelChain;
  private run: ExecutorRun|null = null;
  private prefix: tfl.LayersModel|null = null;
  private prefixStart: tfl.layers.Layer|null = null;
  private disposed = false;

  constructor(readonly model: tfl.LayersModel, private readonly config: ControllerConfig) {
    this.loss = resolveLoss(model.loss, model.name);
    this.chain = extractChain(model);
    const out = this.chain.solved[this.chain.solved.length - 1];
    checkLossActivation(this.loss, out.activation, `layer '${out.layer.name}'`);
    this.executor = config.executor ?? new InProcessExecutor();
  }

  async beginFit(x: tf.Tensor, y: tf.Tensor, options: {epochUpdates: boolean}): Promise<void> {
    this.checkLive();
    await this.openRun();
    if (options.epochUpdates) await this.run!.load(this.rowsOf(x, y), x.shape[0]);
  }

  async updateFitRows(_epoch: number, predictions: boolean): Promise<UpdateOutcome> {
    return this.update(predictions);
  }

  async beginBatches(): Promise<void> {
    this.checkLive();
    await this.openRun();
    await this.run!.clear();
  }

  async addBatch(x: tf.Tensor, y: tf.Tensor): Promise<void> {
    const [a, t] = this.chainRows(x, y);
    try {
      await this.run!.append(a, t);
    } finally {
      tf.dispose([a, t]);
    }
  }

  async updateBatches(_epoch: number, predictions: boolean): Promise<UpdateOutcome> {
    try {
      return await this.update(predictions);
    } finally {
      await this.run?.clear();
    }
  }

  async endFit(): Promise<void> {
    const run = this.run;
    this.run = null;
    await run?.close();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const run = this.run;
    this.run = null;
    void run?.close();
    this.cache.dispose();
    this.prefix = null;
  }

  private checkLive() {
    if (this.disposed) throw new Error('this ER optimizer was disposed');
  }

  private async openRun() {
    if (this.run != null) return;
    this.chain = extractChain(this.model);
    const units = chainUnits(this.chain);
    this.run = await this.executor.open(specOf(units, chainInputShape(this.chain)), {chunkRows: this.passChunk()});
  }

  /** One update on the run's rows; the new weights are written, with their undo. */
  private async update(predictions: boolean): Promise<UpdateOutcome> {
    this.checkLive();
    const chain = extractChain(this.model);
    this.chain = chain;
    const units = chainUnits(chain);
    const inputShape = chainInputShape(chain);
    const inner = await this.run!.session(units);
    // Between passes, let the page (or event loop) run: an in-process pass can take seconds.
    const session: UpdateSession = {
      set: r => inner.set(r),
      pass: async r => {
        await tf.nextFrame();
        return inner.pass(r);
      },
      ...(inner.factor ? {factor: r => inner.factor!(r)} : {}),
      end: () => inner.end(),
    };
    const steps = sweepSteps(units, this.config, {inputShape, cache: this.cache, predictions,
                                                  shards: this.executor.shards});
    const result = await runSweep(steps, session);
    const changed = chain.units.flatMap((u, i) => u.kind === 'solved' && result.weights[i] != null ?
        [u.solved.kernel, ...(u.solved.bias != null ? [u.solved.bias] : [])] : []);
    const undo = snapshot(changed);
    try {
      writeChainWeights(chain, result.weights);
    } finally {
      result.weights.forEach(w => w != null && tf.dispose([w.kernel, w.bias].filter(t => t != null) as tf.Tensor[]));
    }
    this.updates++;
    this.lastReport = result.report;
    if (this.config.verbose) for (const w of result.report.warnings) console.warn(`tfjs-er: ${w}`);
    const rows = result.report.rows;
    return {
      predictions: result.predictions != null ? orderedPredictions(result.predictions, rows) : null,
      undo: () => {
        undo();
        this.updates--;
        this.cache.dropOutput();
      },
      commit: () => undo.release(),
    };
  }

  /** The model's rows `x`, `y` as the chain's inputs and ER targets, chunk by chunk. */
  private rowsOf(x: tf.Tensor, y: tf.Tensor): BatchSource {
    const rows = x.shape[0], chunk = this.passChunk();
    const self = this;
    return function* () {
      for (let start = 0; start < rows; start += chunk) {
        const size = Math.min(chunk, rows - start);
        const xb = rowRange(x, start, size), yb = rowRange(y, start, size);
        let batch: [tf.Tensor, tf.Tensor];
        try {
          batch = self.chainRows(xb, yb);
        } finally {
          tf.dispose([xb, yb]);
        }
        try {
          yield batch;
        } finally {
          tf.dispose(batch);
        }
      }
    };
  }

  /** One batch of model inputs and targets as the chain's input and ER targets (new tensors). */
  private chainRows(x: tf.Tensor, y: tf.Tensor): [tf.Tensor, tf.Tensor] {
    const chain = this.chain;
    const out = chain.solved[chain.solved.length - 1];
    const prefix = this.prefixModel();
    return tf.tidy(() => {
      let a = prefix != null ? prefix.predict(x) as tf.Tensor : x;
      if (!chain.hasConv && a.rank !== 2) a = tf.reshape(a, [a.shape[0], -1]);
      const t = targetTensor(this.loss, y, this.outputShape(), `layer '${out.layer.name}'`);
      return [a === x ? tf.clone(a) : a, t] as [tf.Tensor, tf.Tensor];
    }) as [tf.Tensor, tf.Tensor];
  }

  /** The frozen layers before the chain, as a model (null when the chain starts at the model's input). */
  private prefixModel(): tfl.LayersModel|null {
    const chain = this.chain;
    if (chain.startIsModelInput) return null;
    if (this.prefix == null || this.prefixStart !== chain.start) {
      this.prefix = tfl.model({inputs: this.model.inputs, outputs: chain.startInput});
      this.prefixStart = chain.start;
    }
    return this.prefix;
  }

  /**
   * Rows per chunk of a pass: 1024 for dense chains; for conv chains, as many
   * images as keep the largest activation (or patch matrix) under
   * {@link CONV_CHUNK_VALUES} floats.
   */
  private passChunk(): number {
    if (!this.chain.hasConv) return 1024;
    let widest = 1;
    for (const l of this.model.layers) {
      const out = (Array.isArray(l.outputShape[0]) ? l.outputShape[0] : l.outputShape) as Array<number|null>;
      const size = out.slice(1).reduce((a: number, b) => a * (b ?? 1), 1);
      const kernel = l.weights[0]?.shape;
      const patches = kernel?.length === 4 ? size / kernel[3]! * kernel[0]! * kernel[1]! * kernel[2]! : 0;
      widest = Math.max(widest, size, patches);
    }
    return Math.max(1, Math.min(2048, Math.floor(CONV_CHUNK_VALUES / widest)));
  }

  /** One example's output shape (e.g. [10], or [H', W', filters] for a conv output). */
  private outputShape(): number[] {
    const out = this.model.outputs[0].shape.slice(1);
    if (out.some(d => d == null)) {
      throw new Error(`model '${this.model.name}': ER needs a fixed output shape, got [${this.model.outputs[0].shape}]`);
    }
    return out as number[];
  }
}
