/**
 * Binds an ER optimizer to one compiled model: reads the targets from the
 * model's loss, sees the chain's input through the ER layers, streams each
 * batch into the current update, and applies the update at the end of the
 * epoch (or after each batch).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {rowRange} from '../engine/batches';
import {ERInputError} from '../engine/errors';
import {NetworkSweep, NetworkSweepResult} from '../engine/network_sweep';
import {BatchSource, ERSweep, SweepCache, SweepConfig, SweepReport, SweepResult} from '../engine/sweep';
import {CaptureListener, CaptureSession, setCaptureListener} from './capture';
import {chainStates, chainUnits, extractChain, ModelChain} from './chain';
import {checkLossActivation, ERLossName, resolveLoss, targetTensor} from './losses';
import {FitLifecycle, FitParams, setController, TrainingController, unsetController, wrapLossForTargets} from './registry';

/** When updates are applied. */
export type ERUpdateSchedule = 'epoch'|'batch';

/** Training settings the controller needs (from the optimizer's config). */
export interface ControllerConfig extends SweepConfig {
  update: ERUpdateSchedule;
  verbose: boolean;
}


/**
 * One model trained by one ER optimizer. Created when the model is compiled
 * with `er()`; the optimizer forwards `minimize` here.
 */
export class ERController extends FitLifecycle implements CaptureListener, TrainingController {
  /** The report of the last applied update. */
  lastReport: SweepReport|null = null;
  /** Updates applied so far. */
  updates = 0;
  private readonly loss: ERLossName;
  private chain: ModelChain;
  private sweep: ERSweep|NetworkSweep|null = null;
  private epochData: Array<[tf.Tensor, tf.Tensor]> = [];
  private readonly cache = new SweepCache();
  /** The tensors of the running fit() (not copied), when ER can walk them again. */
  private fitData: {x: tf.Tensor, y: tf.Tensor, rows: number}|null = null;
  /** This update's extra passes walk fitData instead of cached batches. */
  private passesOverFitData = false;
  private prefix: tfl.LayersModel|null = null;
  private disposed = false;

  constructor(readonly model: tfl.LayersModel, private readonly config: ControllerConfig) {
    super();
    this.loss = resolveLoss(model.loss, model.name);
    this.chain = extractChain(model);
    const out = this.chain.solved[this.chain.solved.length - 1];
    checkLossActivation(this.loss, out.activation, `layer '${out.layer.name}'`);
    wrapLossForTargets(model);
    this.listen(this.chain);
    setController(model, this);
  }

  /** One training step: the loss value, and this batch folded into the update. */
  minimize(f: () => tf.Scalar, returnCost: boolean): tf.Scalar|null {
    if (this.disposed) throw new Error('this ER optimizer was disposed');
    if (this.sweep == null) this.begin();
    // A dense chain without training-time noise: the step's own forward pass
    // gives the output layer's input, so the update's first pass need not redo it.
    const {solved, hasConv, noisy} = this.chain;
    const top = !hasConv && !noisy && solved.length > 1 ? solved[solved.length - 1].layer : null;
    return this.trainingStep(new CaptureSession(this.chain.start, top), f, returnCost,
                             session => this.addBatch(session), () => this.abandon(),
                             epochDone => this.config.update === 'batch' || !this.fitting || epochDone);
  }

  /** Applies the update whose first pass is complete. Safe to call any time. */
  flushPending(): void {
    const sweep = this.sweep;
    if (sweep == null) return;
    this.sweep = null;
    const data = this.epochData;
    this.epochData = [];
    this.batchInEpoch = 0;
    try {
      const source = this.passesOverFitData && this.fitData != null ?
          this.fitSource() : data.length ? () => data as Array<[tf.Tensor2D, tf.Tensor2D]> : undefined;
      const {weights, report} = this.finishSweep(sweep, source);
      tf.tidy(() => {
        weights.forEach((w, i) => {
          if (w == null) return;
          const d = this.chain.solved[i];
          d.kernel.write(w.kernel);
          if (d.bias != null && w.bias != null) d.bias.write(w.bias);
        });
      });
      weights.forEach(w => tf.dispose([w?.kernel, w?.bias].filter(t => t != null) as tf.Tensor[]));
      this.updates++;
      this.lastReport = report;
      if (this.config.verbose) {
        for (const w of report.warnings) console.warn(`tfjs-er: ${w}`);
      }
    } finally {
      tf.dispose(data.flat());
    }
  }

  /**
   * Set by the fit() hook: the training tensors of the running call. With
   * them, the extra passes of an update read the data again from the user's
   * tensors, so nothing of size N is kept; without (fitDataset), the epoch's
   * batches are kept until the update is solved.
   */
  setFitData(x: unknown, y: unknown, args: {validationSplit?: number, validationData?: unknown}|undefined): void {
    const one = (v: unknown) => Array.isArray(v) && v.length === 1 ? v[0] : v;
    const xs = one(x), ys = one(y);
    if (!(xs instanceof tf.Tensor) || !(ys instanceof tf.Tensor) || xs.shape[0] !== ys.shape[0]) {
      this.fitData = null;
      return;
    }
    const n = xs.shape[0];
    const split = args?.validationData == null && args?.validationSplit != null &&
        args.validationSplit > 0 && args.validationSplit < 1 ? args.validationSplit : 0;
    this.fitData = {x: xs, y: ys, rows: split ? Math.floor(n * (1 - split)) : n};
  }

  /** Called by the fit() hook when fit returns. */
  clearFitData(): void {
    this.fitData = null;
  }

  /** Called when fit/fitDataset starts: drops any half-done update. */
  beginFit(params: FitParams): void {
    this.abandon();
    super.beginFit(params);
  }

  /** Releases all state (statistics, cached batches) and unbinds the layers. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.abandon();
    this.cache.dispose();
    for (const d of this.chain.solved) setCaptureListener(d.layer, null);
    setCaptureListener(this.chain.start, null);
    unsetController(this.model, this);
  }

  private begin() {
    const chain = extractChain(this.model);
    if (!chain.capturing) {
      throw new ERInputError(
          `layer '${chain.start.name}' (${chain.start.getClassName()}) is a stock tfjs ` +
          `layer: call attachER(model) before training with er(), or build the model ` +
          `with erLayers.dense`);
    }
    this.listen(chain);
    if (chain.start !== this.chain.start) this.prefix = null;
    this.chain = chain;
    this.passesOverFitData = this.fitData != null && this.fitting && this.config.update === 'epoch';
    if (chain.hasConv) {
      const shape = chain.startInput.shape.slice(1);
      if (shape.some(d => d == null)) {
        throw new ERInputError(
            `layer '${chain.start.name}': ER needs a fixed input shape, got [${chain.startInput.shape}]; ` +
            `give the model an inputShape without null dimensions`);
      }
      this.sweep = new NetworkSweep(chainUnits(chain), shape as number[], this.config);
    } else {
      this.sweep = new ERSweep(chainStates(chain), this.config, this.cache);
    }
  }

  /** Finishes either sweep; weights come back per solved layer. */
  private finishSweep(sweep: ERSweep|NetworkSweep, source: BatchSource|undefined): SweepResult {
    if (sweep instanceof ERSweep) return sweep.finish(source);
    const r: NetworkSweepResult = sweep.finish(source);
    const units = this.chain.units;
    return {weights: r.weights.filter((_, i) => units[i].kind === 'solved') as SweepResult['weights'],
            report: r.report};
  }

  /** The extra passes' data, read again from the running fit's tensors in row order. */
  private fitSource(): BatchSource {
    const {x, y, rows} = this.fitData!;
    const chain = this.chain;
    if (!chain.startIsModelInput && this.prefix == null) {
      this.prefix = tfl.model({inputs: this.model.inputs, outputs: chain.startInput});
    }
    const prefix = chain.startIsModelInput ? null : this.prefix;
    const out = chain.solved[chain.solved.length - 1];
    const outShape = this.outputShape();
    const loss = this.loss;
    const flat = !chain.hasConv;
    const chunk = this.passChunk();
    return function* () {
      for (let start = 0; start < rows; start += chunk) {
        const size = Math.min(chunk, rows - start);
        const batch = tf.tidy(() => {
          const xb = rowRange(x, start, size);
          const a = prefix ? prefix.predict(xb) as tf.Tensor : xb;
          return [flat ? tf.reshape(a, [size, -1]) : a,
                  targetTensor(loss, rowRange(y, start, size), outShape, `layer '${out.layer.name}'`)];
        }) as [tf.Tensor2D, tf.Tensor2D];
        try {
          yield batch;
        } finally {
          tf.dispose(batch);
        }
      }
    };
  }

  private addBatch(session: CaptureSession) {
    const start = this.chain.start;
    if (session.input == null) {
      throw new ERInputError(
          `the training step never reached layer '${start.name}', the first layer ER trains`);
    }
    if (session.targets == null) {
      throw new ERInputError(
          `the training step did not compute the loss, so ER saw no targets`);
    }
    const x = session.input;
    if (x.rank !== 2 && !this.chain.hasConv) {
      throw new ERInputError(
          `layer '${start.name}' receives inputs of shape [${x.shape}]; ER trains dense ` +
          `layers on 2-D inputs [rows, features]: put a Flatten layer before it`);
    }
    const out = this.chain.solved[this.chain.solved.length - 1];
    const y = tf.keep(targetTensor(this.loss, session.targets, this.outputShape(), `layer '${out.layer.name}'`));
    try {
      const sweep = this.sweep!;
      if (sweep instanceof ERSweep) sweep.addBatch(x as tf.Tensor2D, y as tf.Tensor2D, session.topInput as tf.Tensor2D|null);
      else sweep.addBatch(x, y);
    } catch (e) {
      y.dispose();
      throw e;
    }
    if (this.sweep!.needsMorePasses && !this.passesOverFitData) {
      this.epochData.push([x, y]);
      session.input = null;  // ownership moves to epochData
    } else {
      y.dispose();
    }
  }

  /** Drops a half-done update (after an error, or when a new fit starts). */
  private abandon() {
    this.sweep?.dispose();
    this.sweep = null;
    tf.dispose(this.epochData.flat());
    this.epochData = [];
    this.batchInEpoch = 0;
  }

  private listen(chain: ModelChain) {
    setCaptureListener(chain.start, this);
    for (const d of chain.solved) setCaptureListener(d.layer, this);
  }

  /**
   * Rows per chunk when the extra passes re-read the fit data: 1024 for dense
   * chains (half of 2048 halves the pass's working set: peak RSS 668 vs 707 MB
   * on 15k MNIST rows, measured); for conv chains, as many images as keep the
   * largest activation (or patch matrix) of a chunk under ~32M floats.
   */
  private passChunk(): number {
    if (!this.chain.hasConv) return 1024;
    let widest = 1;
    for (const l of this.model.layers) {
      const out = (Array.isArray(l.outputShape[0]) ? l.outputShape[0] : l.outputShape) as Array<number|null>;
      const size = out.slice(1).reduce((a: number, b) => a * (b ?? 1), 1);
      const kernel = l.weights[0]?.shape;
      // a conv layer's input is expanded into patches: positions × kh·kw·cin
      const patches = kernel?.length === 4 ? size / kernel[3]! * kernel[0]! * kernel[1]! * kernel[2]! : 0;
      widest = Math.max(widest, size, patches);
    }
    return Math.max(1, Math.min(2048, Math.floor(32e6 / widest)));
  }

  /** One example's output shape (e.g. [10], or [H', W', filters] for a conv output). */
  private outputShape(): number[] {
    const out = this.model.outputs[0].shape.slice(1);
    if (out.some(d => d == null)) {
      throw new ERInputError(`model '${this.model.name}': ER needs a fixed output shape, got [${this.model.outputs[0].shape}]`);
    }
    return out as number[];
  }
}
