/**
 * One Expectation Reflection update ("sweep") of a chain of dense layers,
 * streamed over batches.
 *
 * 1. First pass: forward with the current weights (or take the output
 *    layer's input from the caller, e.g. a fit step's own forward pass);
 *    reflect the output field against the targets; accumulate the output
 *    layer's Gram and cross statistics (and check the data). Solve the
 *    output layer.
 * 2. For each lower trainable layer, top-down, one pass: forward with the old
 *    weights, propagate the reflected output target down through the NEW
 *    weights above (pre-image, then the hidden reflection rule), accumulate
 *    that layer's Gram and cross statistics, solve.
 * 3. mode 'erls': for the hidden layers, search the step γ along the ER
 *    direction in weight space (`W(γ) = W⁰ + γ(W^ER − W⁰)`, γ ∈ {0,1,2,…,256})
 *    by the output-field misfit on the first `searchRows` rows, output held.
 * 4. Refresh: one more pass re-solves the output layer on the new hidden
 *    features against the same reflected targets (kept from step 2, N×k
 *    floats, so this pass runs only the new forward).
 *
 * So an update makes (number of trainable hidden layers + 2) passes over the
 * data, and holds only the statistics (O(Σ d²)) plus one batch at a time.
 * The input Gram never changes between updates on the same data: pass a
 * {@link SweepCache} to keep it.
 */
import * as tf from '@tensorflow/tfjs-core';
import {ERInputError} from './errors';
import {activate} from './activations';
import {checkOption, foldKept, now, ObservedData} from './observed';
import {DenseState, DenseWeights, field, forwardChain, tidyWeights, validateChain} from './network';
import {preimage, preimageOperator} from './preimage';
import {columnSums} from './reduce';
import {reflectHidden, reflectOutput} from './reflect';
import {RidgeAccumulator, RidgeSolution} from './ridge';

/**
 * Batches of inputs and observed targets; the iterable may be walked several
 * times and must give the same batches in the same order each time.
 */
export type BatchSource = () => Iterable<[tf.Tensor2D, tf.Tensor2D]>;

/** Update mode: plain ER, or ER with the automatic step search. */
export type ERMode = 'er'|'erls';

/** Options of one sweep. */
export interface SweepConfig {
  /**
   * Dimensionless ridge α: λ = α·trace(cov a)/d. Default 1e-3. 'auto' picks
   * it per solve by generalised cross-validation (see `RidgeAccumulator.solve`).
   */
  alpha?: number|'auto';
  /** Pre-image damping β: μ = β·trace(WᵀW)/q. Default 0.1. */
  beta?: number;
  /** 'er' (default) or 'erls' (automatic step search on the hidden layers). */
  mode?: ERMode;
  /** Re-solve the output layer on the new hidden features. Default true. */
  refresh?: boolean;
  /** Rows used by the 'erls' step search. Default 10000. */
  searchRows?: number;
}

/**
 * State kept between sweeps: the Gram of the chain's input, which no update
 * changes while the data stay the same. Each sweep checks a fingerprint of
 * the data (row count, column sums, sum of squares) and rebuilds the Gram
 * when it differs. The caller owns the cache and must `dispose()` it.
 */
export class SweepCache {
  /** The input statistics (Gram of the first layer's input). */
  inputGram: RidgeAccumulator|null = null;
  /** Row count, column sums and sum of squares of the data the Gram covers. */
  fingerprint: Float64Array|null = null;
  /**
   * The output layer's Gram after the last refresh: the features it covers
   * are unchanged until the hidden weights change, so the next update reuses
   * it (checked by the data fingerprint and a fingerprint of the hidden weights).
   */
  outputGram: RidgeAccumulator|null = null;
  /** Data fingerprint and hidden-weights fingerprint of {@link outputGram}. */
  outputKey: {data: Float64Array, weights: Float64Array}|null = null;

  /** Releases the cached Grams. */
  dispose(): void {
    this.inputGram?.dispose();
    this.inputGram = null;
    this.fingerprint = null;
    this.dropOutput();
  }

  /** Forgets the output layer's Gram. */
  dropOutput(): void {
    this.outputGram?.dispose();
    this.outputGram = null;
    this.outputKey = null;
  }
}

/** What a sweep did. */
export interface SweepReport {
  /** Rows per pass. */
  rows: number;
  /** Passes made over the data. */
  passes: number;
  /** The step chosen by 'erls' (1 for plain ER). */
  gamma: number;
  /** True when the cached input Gram was reused. */
  inputGramReused: boolean;
  /** True when the output layer's Gram from the last refresh was reused. */
  outputGramReused: boolean;
  /**
   * First-pass batches whose output-layer input came with the batch (a
   * training step's own forward pass), so the chain below was not re-run.
   */
  topBatches: number;
  /** The ridge λ used per solved layer (after any raise), by layer name. */
  lambdas: Record<string, number>;
  /** The dimensionless α used per solved layer (the chosen one with alpha 'auto'), by layer name. */
  alphas: Record<string, number>;
  /** Seconds per phase (on asynchronous backends, approximate). */
  seconds: {gram: number, solve: number, target: number, search: number, total: number};
  /** Notes on recovered numerical trouble (e.g. singular Gram, ridge raised). */
  warnings: string[];
}

/** New weights (trainable layers only, by index) and the report. */
export interface SweepResult {
  /** `weights[l]` is null for frozen layers. The caller owns (and disposes) them. */
  weights: Array<DenseWeights|null>;
  report: SweepReport;
}

const GAMMAS = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256];

/**
 * One ER update, fed batch by batch. The first pass is streamed through
 * {@link addBatch} (so it can ride along with a training loop); the remaining
 * passes, if the chain has trainable hidden layers, walk the `source` given to
 * {@link finish}. Nothing is changed in the layers: `finish` returns new
 * weights, so on any error the model stays as it was.
 *
 * ```ts
 * const sweep = new ERSweep(layers, {alpha: 1e-3});
 * for (const [x, y] of batches) sweep.addBatch(x, y);
 * const {weights, report} = sweep.finish(() => batches);
 * ```
 */
export class ERSweep {
  private readonly alpha: number|'auto';
  private readonly beta: number;
  private readonly mode: ERMode;
  private readonly refresh: boolean;
  private readonly searchRows: number;
  private readonly out: number;
  private readonly lowest: number;
  private readonly inDim: number;
  private readonly outDim: number;
  private readonly trackInput: boolean;
  /** The output Gram comes from the cache (its cross is accumulated fresh). */
  private reuseOut = false;
  private readonly t0 = now();
  private readonly seconds = {gram: 0, solve: 0, target: 0, search: 0, total: 0};
  private outAcc: RidgeAccumulator|null = null;
  private readonly observed = new ObservedData();
  private colSum: tf.Tensor|null = null;
  private sumSq: tf.Tensor|null = null;
  private sample: Array<[tf.Tensor2D, tf.Tensor2D]> = [];
  private sampled = 0;
  /** First-pass batches whose output-layer input came from the caller. */
  private topBatches = 0;
  private done = false;

  constructor(private readonly layers: DenseState[], config: SweepConfig = {},
              private readonly cache?: SweepCache) {
    validateChain(layers);
    this.alpha = config.alpha ?? 1e-3;
    this.beta = config.beta ?? 0.1;
    this.mode = config.mode ?? 'er';
    this.refresh = config.refresh ?? true;
    this.searchRows = config.searchRows ?? 10000;
    if (this.alpha !== 'auto') checkOption('alpha', this.alpha, 0);
    checkOption('beta', this.beta, 0);
    checkOption('searchRows', this.searchRows, 1);
    if (this.mode !== 'er' && this.mode !== 'erls') {
      throw new ERInputError(`option mode must be 'er' or 'erls', got '${this.mode}'`);
    }
    this.out = layers.length - 1;
    this.lowest = layers.findIndex(l => l.trainable);
    if (this.lowest < 0) {
      throw new ERInputError('no trainable layer: every layer has trainable = false');
    }
    this.inDim = layers[0].kernel.shape[0];
    this.outDim = layers[this.out].kernel.shape[1];
    this.trackInput = cache != null && this.out > 0;
    const c = cache?.outputGram;
    if (c != null && cache!.outputKey != null && this.needsMorePasses && this.refresh &&
        layers[this.out].trainable && c.inDim === layers[this.out].kernel.shape[0] &&
        c.outDim === this.outDim &&
        sameValues(cache!.outputKey.weights, hiddenFingerprint(layers.slice(0, this.out)))) {
      c.resetCross();
      this.outAcc = c;
      this.reuseOut = true;
    } else {
      cache?.dropOutput();
    }
  }

  /** True when {@link finish} needs the data again (trainable hidden layers). */
  get needsMorePasses(): boolean {
    return this.lowest < this.out;
  }

  /** Rows seen by the first pass so far. */
  get rowCount(): number {
    return this.observed.rows;
  }

  /**
   * First pass, one batch: forward with the current weights, reflect the
   * output, accumulate the output layer's statistics. Shapes are checked
   * now; values (NaN, target range) when the update finishes.
   *
   * @param top optional: the output layer's input for these rows under the
   *     current weights, when the caller already computed it (a training
   *     step's own forward pass); then only the output layer's field is
   *     computed here. Ignored unless it has the right shape.
   */
  addBatch(x: tf.Tensor2D, y: tf.Tensor2D, top?: tf.Tensor2D|null): void {
    if (this.done) throw new Error('this ERSweep has finished; start a new one');
    const {layers, out} = this;
    checkBatch(x, y, this.inDim, this.outDim, layers[out].name);
    const ta = now();
    if (layers[out].trainable && this.outAcc == null) {
      this.outAcc = new RidgeAccumulator(
          layers[out].kernel.shape[0], this.outDim, layers[out].name);
    }
    const useTop = top != null && out > 0 && top.rank === 2 && top.shape[0] === x.shape[0] &&
        top.shape[1] === layers[out].kernel.shape[0];
    if (useTop) this.topBatches++;
    tf.tidy(() => {
      if (this.outAcc != null) {
        const a = useTop ? top! : forwardChain(layers, x).inputs[out];
        const h = field(a, layers[out].kernel, layers[out].bias);
        const t = reflectOutput(layers[out].activation, h, y) as tf.Tensor2D;
        if (this.reuseOut) this.outAcc.addCross(a, t);
        else this.outAcc.add(a, t);
      }
      if (this.trackInput) {
        this.colSum = foldKept(this.colSum, columnSums(x), tf.add);
        this.sumSq = foldKept(this.sumSq, tf.sum(tf.square(x)), tf.add);
      }
    });
    this.observed.add(x, y);
    if (this.mode === 'erls' && this.needsMorePasses && this.sampled < this.searchRows) {
      const take = Math.min(this.searchRows - this.sampled, x.shape[0]);
      // keep: addBatch may run inside a caller's tidy (a fit step)
      this.sample.push([tf.keep(tf.slice(x, [0, 0], [take, -1])),
                        tf.keep(tf.slice(y, [0, 0], [take, -1]))]);
      this.sampled += take;
    }
    this.seconds.gram += now() - ta;
  }

  /**
   * Completes the update: checks the data, solves the output layer, then
   * (with trainable hidden layers) walks `source` once per hidden layer and
   * once more to refresh the output. `source` must give the same rows as the
   * first pass. Releases all internal state, also on error.
   */
  finish(source?: BatchSource): SweepResult {
    if (this.done) throw new Error('this ERSweep has finished; start a new one');
    this.done = true;
    const {layers, out, lowest, alpha, beta, mode} = this;
    const warnings: string[] = [];
    const lambdas: Record<string, number> = {};
    const alphas: Record<string, number> = {};
    const newWeights: Array<DenseWeights|null> = layers.map(() => null);
    const accs: Array<RidgeAccumulator|null> = layers.map(() => null);
    const operators: Array<tf.Tensor2D|null> = layers.map(() => null);
    let passes = 1, inputGramReused = false, outputGramReused = false;
    const weightsOf = (i: number): DenseWeights => newWeights[i] ?? layers[i];
    const solveInto = (i: number, acc: RidgeAccumulator) => {
      const ts = now();
      const sol = acc.solve({alpha, fitIntercept: layers[i].bias != null});
      this.seconds.solve += now() - ts;
      lambdas[layers[i].name] = sol.lambdaUsed;
      alphas[layers[i].name] = sol.alpha;
      warnings.push(...sol.warnings);
      disposeWeights(newWeights[i]);
      newWeights[i] = toWeights(sol, layers[i].bias != null);
    };
    /**
     * Reflected target field of layer k, from the reflected output target `t`
     * down through the new weights above.
     */
    const targetsDownTo = (k: number, inputs: tf.Tensor2D[], fields: tf.Tensor2D[],
                           t: tf.Tensor2D): tf.Tensor2D => {
      for (let j = out; j > k; j--) {
        const w = weightsOf(j);
        const aStar = preimage(inputs[j], t, w.kernel, w.bias, operators[j]!);
        t = reflectHidden(layers[j - 1].activation, fields[j - 1], aStar) as tf.Tensor2D;
      }
      return t;
    };
    // The reflected output targets of each batch of `source`, kept by the
    // first hidden pass for the refresh pass (same batches, same order).
    const keptTargets: tf.Tensor2D[] = [];
    let keepTargets = this.refresh && layers[out].trainable;
    try {
      this.checkFirstPass();
      if (this.needsMorePasses && source == null) {
        throw new ERInputError(
            'this network has trainable hidden layers: finish() needs the data again ' +
            '(pass a BatchSource)');
      }
      if (this.reuseOut && !sameFingerprint(this.cache!.outputKey!.data, this.currentFingerprint())) {
        // New data: the cached output Gram does not apply; one extra pass rebuilds it.
        this.cache!.dropOutput();
        this.outAcc = new RidgeAccumulator(layers[out].kernel.shape[0], this.outDim, layers[out].name);
        const tg = now();
        for (const [x, y] of source!()) {
          tf.tidy(() => {
            const {inputs, fields} = forwardChain(layers, x);
            this.outAcc!.add(inputs[out], reflectOutput(layers[out].activation, fields[out], y) as tf.Tensor2D);
          });
        }
        passes++;
        this.seconds.gram += now() - tg;
      } else {
        outputGramReused = this.reuseOut;
      }
      if (this.outAcc != null) solveInto(out, this.outAcc);
      const cachedInput = this.takeCachedInput();
      const refits: Array<{W: Float64Array, b: Float64Array}|null> = layers.map(() => null);
      for (let k = out - 1; k >= lowest; k--) {
        operators[k + 1] = preimageOperator(weightsOf(k + 1).kernel, beta);
        if (!layers[k].trainable) continue;  // frozen: targets pass through it
        const reuse = k === 0 && cachedInput != null;
        const acc = reuse ? cachedInput! :
            new RidgeAccumulator(layers[k].kernel.shape[0], layers[k].kernel.shape[1], layers[k].name);
        accs[k] = acc;
        inputGramReused = inputGramReused || reuse;
        const tt = now();
        for (const [x, y] of source!()) {
          tf.tidy(() => {
            const {inputs, fields} = forwardChain(layers, x);
            const tOut = reflectOutput(layers[out].activation, fields[out], y) as tf.Tensor2D;
            if (keepTargets) keptTargets.push(tf.keep(tOut));
            const t = targetsDownTo(k, inputs, fields, tOut);
            if (reuse) acc.addCross(inputs[k], t);
            else acc.add(inputs[k], t);
          });
        }
        keepTargets = false;
        passes++;
        this.seconds.target += now() - tt;
        solveInto(k, acc);
        if (mode === 'erls') {
          const oldW = Float64Array.from(layers[k].kernel.dataSync());
          const oldB = layers[k].bias ? Float64Array.from(layers[k].bias!.dataSync()) :
                                        new Float64Array(layers[k].kernel.shape[1]);
          const r = acc.refitLinear(oldW, oldB, layers[k].kernel.shape[1]);
          if (layers[k].bias == null) r.b.fill(0);
          refits[k] = r;
        }
        if (k === 0) this.storeCachedInput(acc);
      }

      // Automatic step along the ER direction (hidden layers only).
      let gamma = 1;
      const hidden = refits.map((r, i) => r != null ? i : -1).filter(i => i >= 0);
      if (mode === 'erls' && hidden.length > 0 && this.sample.length > 0) {
        const ts = now();
        gamma = searchStep(layers, newWeights, refits, hidden, this.sample);
        for (const i of hidden) {
          const w = tidyWeights(() => blend(refits[i]!, newWeights[i]!, gamma, layers[i]));
          disposeWeights(newWeights[i]);
          newWeights[i] = w;
        }
        this.seconds.search += now() - ts;
      }

      // Refresh the output layer on the new hidden features.
      const hiddenChanged = newWeights.some((w, i) => w != null && i < out);
      if (this.refresh && layers[out].trainable && hiddenChanged) {
        const tr = now();
        const acc = new RidgeAccumulator(layers[out].kernel.shape[0], this.outDim, layers[out].name);
        accs[out] = acc;
        let batch = 0;
        for (const [x, y] of source!()) {
          const kept = keptTargets[batch++];
          tf.tidy(() => {
            // the kept target if the source gave the same batch again, else recomputed
            const target = kept != null && kept.shape[0] === x.shape[0] ? kept :
                reflectOutput(layers[out].activation, forwardChain(layers, x).fields[out], y) as tf.Tensor2D;
            acc.add(forwardChain(layers, x, newWeights).inputs[out], target);
          });
        }
        passes++;
        this.seconds.gram += now() - tr;
        solveInto(out, acc);
        if (this.cache != null) {
          // The new features stay as they are until the next update: keep their Gram.
          this.cache.dropOutput();
          acc.resetCross();
          this.cache.outputGram = acc;
          this.cache.outputKey = {
            data: this.currentFingerprint(),
            weights: hiddenFingerprint(layers.slice(0, out).map((l, i) => ({...l, ...weightsOf(i)}))),
          };
        }
      }
      this.seconds.total = now() - this.t0;
      return {
        weights: newWeights,
        report: {rows: this.observed.rows, passes, gamma, inputGramReused, outputGramReused,
                 topBatches: this.topBatches, lambdas, alphas,
                 seconds: {...this.seconds}, warnings},
      };
    } catch (e) {
      newWeights.forEach(disposeWeights);
      throw e;
    } finally {
      accs.forEach(a => {
        if (a != null && a !== this.cache?.inputGram && a !== this.cache?.outputGram) a.dispose();
      });
      tf.dispose(operators.filter(o => o != null) as tf.Tensor[]);
      tf.dispose(keptTargets);
      this.release();
    }
  }

  /** Abandons the update, releasing its tensors. */
  dispose(): void {
    this.done = true;
    this.release();
  }

  private release() {
    if (this.outAcc !== this.cache?.outputGram) this.outAcc?.dispose();
    this.outAcc = null;
    this.observed.dispose();
    tf.dispose([this.colSum, this.sumSq].filter(t => t != null) as tf.Tensor[]);
    this.colSum = this.sumSq = null;
    tf.dispose(this.sample.flat());
    this.sample = [];
  }

  private checkFirstPass() {
    this.observed.check(this.layers[this.out].activation, this.layers[this.out].name);
  }

  /** The cached input Gram if it covers the same data as this pass, else null. */
  private takeCachedInput(): RidgeAccumulator|null {
    const cache = this.cache;
    if (!this.trackInput || cache == null) return null;
    const fp = this.currentFingerprint();
    const acc = cache.inputGram;
    if (acc != null && cache.fingerprint != null && acc.inDim === this.inDim &&
        acc.outDim === this.layers[0].kernel.shape[1] && sameFingerprint(cache.fingerprint, fp)) {
      acc.resetCross();
      return acc;
    }
    cache.dispose();
    cache.fingerprint = fp;
    return null;
  }

  private storeCachedInput(acc: RidgeAccumulator) {
    const cache = this.cache;
    if (!this.trackInput || cache == null || cache.inputGram === acc) return;
    cache.inputGram?.dispose();
    cache.inputGram = acc;
    if (cache.fingerprint == null) cache.fingerprint = this.currentFingerprint();
  }

  private currentFingerprint(): Float64Array {
    const cs = this.colSum!.dataSync();
    const fp = new Float64Array(cs.length + 2);
    fp[0] = this.observed.rows;
    fp[1] = this.sumSq!.dataSync()[0];
    fp.set(cs, 2);
    return fp;
  }
}

/** Sums and sums of squares of each layer's kernel and bias (detects changed weights). */
function hiddenFingerprint(layers: Array<{kernel: tf.Tensor, bias: tf.Tensor|null}>): Float64Array {
  if (layers.length === 0) return new Float64Array(0);
  const t = tf.tidy(() => tf.stack(layers.flatMap(l => {
    const b = l.bias ?? tf.zeros([1]);
    return [tf.sum(l.kernel), tf.sum(tf.square(l.kernel)), tf.sum(b), tf.sum(tf.square(b))];
  })));
  const v = Float64Array.from(t.dataSync());
  t.dispose();
  return v;
}

function sameValues(a: Float64Array, b: Float64Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Float32 sums of the same rows in another order (fit shuffles every epoch)
 * differ: measured on MNIST (60k rows, batches of 2000), by up to 1e-5 of
 * the largest column sum between two shuffles. A tolerance of 1e-5 then
 * missed the cache at random (2 of 6 updates rebuilt the input Gram).
 */
const FINGERPRINT_TOLERANCE = 1e-4;

/** Data fingerprints [rows, Σx², Σx per column] equal up to summation-order rounding. */
function sameFingerprint(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length || a[0] !== b[0]) return false;
  let scale = 0;
  for (let i = 2; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i]));
  if (Math.abs(a[1] - b[1]) > FINGERPRINT_TOLERANCE * Math.abs(a[1])) return false;
  for (let i = 2; i < a.length; i++) {
    if (Math.abs(a[i] - b[i]) > FINGERPRINT_TOLERANCE * scale + 1e-6) return false;
  }
  return true;
}

/**
 * Runs one ER update of `layers` on the batches of `source` (see
 * {@link ERSweep}). Does not change the layers: returns new weights.
 *
 * ```ts
 * const {weights} = erSweep(layers, tensorBatches(x, y, 1024), {alpha: 1e-3});
 * ```
 */
export function erSweep(layers: DenseState[], source: BatchSource,
                        config: SweepConfig = {}, cache?: SweepCache): SweepResult {
  const sweep = new ERSweep(layers, config, cache);
  try {
    for (const [x, y] of source()) sweep.addBatch(x, y);
  } catch (e) {
    sweep.dispose();
    throw e;
  }
  return sweep.finish(source);
}

/** W⁰ + γ(W^ER − W⁰) as tensors. */
function blend(refit: {W: Float64Array, b: Float64Array}, er: DenseWeights, gamma: number,
               layer: DenseState): DenseWeights {
  const w0 = tf.tensor2d(Float32Array.from(refit.W), layer.kernel.shape);
  const kernel = tf.add(w0, tf.mul(tf.sub(er.kernel, w0), gamma)) as tf.Tensor2D;
  let bias: tf.Tensor1D|null = null;
  if (er.bias != null) {
    const b0 = tf.tensor1d(Float32Array.from(refit.b));
    bias = tf.add(b0, tf.mul(tf.sub(er.bias, b0), gamma)) as tf.Tensor1D;
  }
  return {kernel, bias};
}

/**
 * Picks γ minimising the mean squared misfit of the output field on the sample.
 * The lowest blended layer's field is linear in γ — `h(γ) = h⁰ + γ(h^ER − h⁰)` —
 * so it is computed twice per piece, not once per γ; only the layers above are
 * re-run. The sample is walked piece by piece (the batches it was kept in), so
 * the working memory is that of one batch, not of all sample rows at once.
 */
function searchStep(layers: DenseState[], er: Array<DenseWeights|null>,
                    refits: Array<{W: Float64Array, b: Float64Array}|null>, hidden: number[],
                    sample: Array<[tf.Tensor2D, tf.Tensor2D]>): number {
  const out = layers.length - 1;
  const outAct = layers[out].activation;
  const low = Math.min(...hidden);
  // W⁰ and W^ER − W⁰ of each blended layer, once.
  const w0s = layers.map((l, i) => !hidden.includes(i) ? null :
      tidyWeights(() => blend(refits[i]!, er[i]!, 0, l)));
  const deltas = layers.map((_, i) => w0s[i] == null ? null : tidyWeights(() => ({
    kernel: tf.sub(er[i]!.kernel, w0s[i]!.kernel) as tf.Tensor2D,
    bias: er[i]!.bias != null ? tf.sub(er[i]!.bias!, w0s[i]!.bias!) as tf.Tensor1D : null,
  })));
  const misfit = new Float64Array(GAMMAS.length);
  let count = 0;
  try {
    for (const [x, y] of sample) {
      const sums = tf.tidy(() => {
        const {inputs, fields} = forwardChain(layers, x);
        const target = reflectOutput(outAct, fields[out], y);
        const base = field(inputs[low], w0s[low]!.kernel, w0s[low]!.bias);
        const dh = tf.sub(field(inputs[low], er[low]!.kernel, er[low]!.bias), base);
        return tf.stack(GAMMAS.map(g => tf.tidy(() => {
          let a = activate(layers[low].activation, tf.add(base, tf.mul(dh, g))) as tf.Tensor2D;
          let h = a;
          for (let i = low + 1; i <= out; i++) {
            const w = w0s[i] != null ? {
              kernel: tf.add(w0s[i]!.kernel, tf.mul(deltas[i]!.kernel, g)) as tf.Tensor2D,
              bias: w0s[i]!.bias != null ? tf.add(w0s[i]!.bias!, tf.mul(deltas[i]!.bias!, g)) as tf.Tensor1D : null,
            } : er[i] ?? layers[i];
            h = field(a, w.kernel, w.bias);
            if (i < out) a = activate(layers[i].activation, h) as tf.Tensor2D;
          }
          return tf.sum(tf.square(tf.sub(h, target)));
        })));
      });
      const v = sums.dataSync();
      sums.dispose();
      v.forEach((s, j) => { misfit[j] += s; });
      count += y.size;
    }
  } finally {
    [...w0s, ...deltas].forEach(disposeWeights);
  }
  let best = Infinity, bestGamma = 1;
  GAMMAS.forEach((g, j) => {
    const v = misfit[j] / count;
    if (v < best) {
      best = v;
      bestGamma = g;
    }
  });
  return bestGamma;
}

function toWeights(sol: RidgeSolution, hasBias: boolean): DenseWeights {
  return {
    kernel: tf.tensor2d(Float32Array.from(sol.W), [sol.inDim, sol.outDim]),
    bias: hasBias ? tf.tensor1d(Float32Array.from(sol.b)) : null,
  };
}

function disposeWeights(w: DenseWeights|null|undefined) {
  if (w == null) return;
  w.kernel.dispose();
  w.bias?.dispose();
}

function checkBatch(x: tf.Tensor, y: tf.Tensor, inDim: number, outDim: number,
                    outName: string) {
  if (x.rank !== 2 || x.shape[1] !== inDim) {
    throw new ERInputError(`inputs must have shape [rows, ${inDim}], got [${x.shape}]`);
  }
  if (x.shape[0] === 0) throw new ERInputError('empty batch (0 rows) in the inputs');
  if (y.rank !== 2 || y.shape[1] !== outDim || y.shape[0] !== x.shape[0]) {
    throw new ERInputError(
        `${outName}: targets must have shape [${x.shape[0]}, ${outDim}] to match the ` +
        `inputs and the output width, got [${y.shape}]`);
  }
}
