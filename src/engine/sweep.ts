/**
 * One Expectation Reflection update ("sweep") of a chain of dense layers,
 * streamed over batches.
 *
 * 1. Pass A: forward with the current weights; reflect the output field
 *    against the targets; accumulate every trainable layer's input Gram and
 *    the output layer's cross statistics. Solve the output layer.
 * 2. For each lower trainable layer, top-down, one pass: forward with the old
 *    weights, propagate the reflected output target down through the NEW
 *    weights above (pre-image, then the hidden reflection rule), accumulate the
 *    cross statistics, solve.
 * 3. mode 'erls': for the hidden layers, search the step γ along the ER
 *    direction in weight space (`W(γ) = W⁰ + γ(W^ER − W⁰)`, γ ∈ {0,1,2,…,256})
 *    by the output-field misfit on the first `searchRows` rows, output held.
 * 4. Refresh: one more pass re-solves the output layer on the new hidden
 *    features against the same reflected targets.
 *
 * So an update makes (number of trainable hidden layers + 2) passes over the
 * data, and holds only the statistics (O(Σ d²)) plus one batch at a time.
 * The input Gram never changes between updates on the same data: pass a
 * {@link SweepCache} to keep it.
 */
import * as tf from '@tensorflow/tfjs-core';
import {ERInputError} from './errors';
import {DenseState, DenseWeights, forwardChain, tidyWeights, validateChain} from './network';
import {preimage, preimageOperator} from './preimage';
import {reflectHidden, reflectOutput, targetRange} from './reflect';
import {RidgeAccumulator, RidgeSolution} from './ridge';

/** Batches of inputs and observed targets; the iterable may be walked several times. */
export type BatchSource = () => Iterable<[tf.Tensor2D, tf.Tensor2D]>;

/** Update mode: plain ER, or ER with the automatic step search. */
export type ERMode = 'er'|'erls';

/** Options of one sweep. */
export interface SweepConfig {
  /** Dimensionless ridge α: λ = α·trace(cov a)/d. Default 1e-3. */
  alpha?: number;
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
 * State kept between sweeps over the same data: the Gram of the chain's
 * input, which no update changes. The caller owns it and must `dispose()` it,
 * and must drop it when the data change.
 */
export class SweepCache {
  inputGram: RidgeAccumulator|null = null;
  dispose(): void {
    this.inputGram?.dispose();
    this.inputGram = null;
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
  /** The ridge λ used per solved layer (after any raise), by layer name. */
  lambdas: Record<string, number>;
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
 * Runs one ER update of `layers` on the batches of `source`. Does not change
 * the layers: returns new weights, so that on any error nothing is corrupted.
 *
 * ```ts
 * const {weights} = erSweep(layers, () => batches, {alpha: 1e-3});
 * ```
 */
export function erSweep(layers: DenseState[], source: BatchSource,
                        config: SweepConfig = {}, cache?: SweepCache): SweepResult {
  validateChain(layers);
  const alpha = config.alpha ?? 1e-3;
  const beta = config.beta ?? 0.1;
  const mode = config.mode ?? 'er';
  const refresh = config.refresh ?? true;
  const searchRows = config.searchRows ?? 10000;
  checkOption('alpha', alpha, 0);
  checkOption('beta', beta, 0);
  if (mode !== 'er' && mode !== 'erls') {
    throw new ERInputError(`mode must be 'er' or 'erls', got '${mode}'`);
  }
  const L = layers.length, out = L - 1;
  const lowest = layers.findIndex(l => l.trainable);
  if (lowest < 0) {
    throw new ERInputError('no trainable layer: every layer has trainable = false');
  }
  const t0 = now();
  const seconds = {gram: 0, solve: 0, target: 0, search: 0, total: 0};
  const warnings: string[] = [];
  const lambdas: Record<string, number> = {};
  const outAct = layers[out].activation;
  const inDim = layers[0].kernel.shape[0], outDim = layers[out].kernel.shape[1];

  const accs: Array<RidgeAccumulator|null> = layers.map(
      (l, i) => i >= lowest && l.trainable ?
          new RidgeAccumulator(l.kernel.shape[0], l.kernel.shape[1], l.name) : null);
  const reuseInput = lowest === 0 && accs[0] != null && cache?.inputGram?.hasGram === true &&
      cache.inputGram.inDim === inDim && cache.inputGram.outDim === layers[0].kernel.shape[1];
  if (reuseInput) {
    accs[0]!.dispose();
    cache!.inputGram!.resetCross();
    accs[0] = cache!.inputGram;
  }
  const newWeights: Array<DenseWeights|null> = layers.map(() => null);
  const operators: Array<tf.Tensor2D|null> = layers.map(() => null);
  let sampleX: tf.Tensor2D|null = null, sampleY: tf.Tensor2D|null = null;
  let passes = 0, rows = 0;
  const solveInto = (i: number) => {
    const ts = now();
    const sol = accs[i]!.solve({alpha, fitIntercept: layers[i].bias != null});
    seconds.solve += now() - ts;
    lambdas[layers[i].name] = sol.lambdaUsed;
    warnings.push(...sol.warnings);
    disposeWeights(newWeights[i]);
    newWeights[i] = toWeights(sol, layers[i].bias != null);
    return sol;
  };
  const weightsOf = (i: number): DenseWeights => newWeights[i] ?? layers[i];
  /** The reflected target field of layer k, from the top, through the new weights above. */
  const targetsDownTo = (k: number, inputs: tf.Tensor2D[], fields: tf.Tensor2D[],
                         y: tf.Tensor2D): tf.Tensor2D => {
    let t = reflectOutput(outAct, fields[out], y) as tf.Tensor2D;
    for (let j = out; j > k; j--) {
      const w = weightsOf(j);
      const aStar = preimage(inputs[j], t, w.kernel, w.bias, operators[j]!);
      t = reflectHidden(layers[j - 1].activation, fields[j - 1], aStar) as tf.Tensor2D;
    }
    return t;
  };

  try {
    // ---- Pass A: Grams of all trainable inputs, output cross statistics.
    let finite: tf.Tensor|null = null, yMin: tf.Tensor|null = null, yMax: tf.Tensor|null = null;
    const sampleParts: Array<[tf.Tensor2D, tf.Tensor2D]> = [];
    let sampled = 0;
    const ta = now();
    for (const [x, y] of source()) {
      checkBatch(x, y, inDim, outDim, layers[out].name);
      rows += x.shape[0];
      tf.tidy(() => {
        const {inputs, fields} = forwardChain(layers, x);
        for (let i = lowest; i < L; i++) {
          if (accs[i] != null && !(i === 0 && reuseInput)) accs[i]!.addGram(inputs[i]);
        }
        if (accs[out] != null) {
          accs[out]!.addCross(inputs[out], reflectOutput(outAct, fields[out], y) as tf.Tensor2D);
        }
        const ok = tf.logicalAnd(tf.all(tf.isFinite(x)), tf.all(tf.isFinite(y)));
        const lo = tf.min(y), hi = tf.max(y);
        const next = [finite ? tf.logicalAnd(finite, ok) : ok,
                      yMin ? tf.minimum(yMin, lo) : lo, yMax ? tf.maximum(yMax, hi) : hi];
        tf.dispose([finite, yMin, yMax] as tf.Tensor[]);
        [finite, yMin, yMax] = next.map(t => tf.keep(t));
      });
      if (mode === 'erls' && sampled < searchRows) {
        const take = Math.min(searchRows - sampled, x.shape[0]);
        sampleParts.push(tf.tidy(() => [tf.slice(x, [0, 0], [take, -1]), tf.slice(y, [0, 0], [take, -1])]));
        sampled += take;
      }
    }
    passes++;
    if (rows === 0) {
      throw new ERInputError('the data source gave no rows; pass at least one non-empty batch');
    }
    const flags = [finite!, yMin!, yMax!].map(t => t.dataSync()[0]);
    tf.dispose([finite!, yMin!, yMax!]);
    if (sampleParts.length > 0) {
      sampleX = tf.concat(sampleParts.map(p => p[0]));
      sampleY = tf.concat(sampleParts.map(p => p[1]));
      tf.dispose(sampleParts.flat());
    }
    if (flags[0] !== 1) {
      throw new ERInputError(
          'the inputs or targets contain NaN or Infinity; clean the data. ' +
          'Weights were not changed.');
    }
    const [lo, hi] = targetRange(outAct);
    if (flags[1] < lo || flags[2] > hi) {
      throw new ERInputError(
          `${layers[out].name}: targets lie in [${flags[1]}, ${flags[2]}] but a ` +
          `${outAct} output needs them in [${lo}, ${hi}] (one-hot or probabilities ` +
          `for softmax/sigmoid); rescale them or use a linear output`);
    }
    seconds.gram += now() - ta;
    if (reuseInput) accs[0]!.resetCross();
    else if (accs[0] != null && cache != null) {
      cache.inputGram?.dispose();
      cache.inputGram = accs[0];
    }

    // ---- Output layer, then the hidden layers top-down.
    if (accs[out] != null) solveInto(out);
    const refits: Array<{W: Float64Array, b: Float64Array}|null> = layers.map(() => null);
    for (let k = out - 1; k >= lowest; k--) {
      const wk1 = weightsOf(k + 1);
      operators[k + 1] = preimageOperator(wk1.kernel, beta);
      if (accs[k] == null) continue;  // frozen: its target is recomputed when needed
      const tt = now();
      for (const [x, y] of source()) {
        tf.tidy(() => {
          const {inputs, fields} = forwardChain(layers, x);
          accs[k]!.addCross(inputs[k], targetsDownTo(k, inputs, fields, y));
        });
      }
      passes++;
      seconds.target += now() - tt;
      solveInto(k);
      if (mode === 'erls') {
        const oldW = Float64Array.from(layers[k].kernel.dataSync());
        const oldB = layers[k].bias ? Float64Array.from(layers[k].bias!.dataSync()) :
                                      new Float64Array(layers[k].kernel.shape[1]);
        const r = accs[k]!.refitLinear(oldW, oldB, layers[k].kernel.shape[1]);
        if (layers[k].bias == null) r.b.fill(0);
        refits[k] = r;
      }
    }

    // ---- Automatic step along the ER direction (hidden layers only).
    let gamma = 1;
    const hidden = refits.map((r, i) => r != null && i < out ? i : -1).filter(i => i >= 0);
    if (mode === 'erls' && hidden.length > 0 && sampleX != null) {
      const ts = now();
      gamma = searchStep(layers, newWeights, refits, hidden, sampleX, sampleY!, outAct);
      for (const i of hidden) {
        const w = tidyWeights(() => blend(refits[i]!, newWeights[i]!, gamma, layers[i]));
        disposeWeights(newWeights[i]);
        newWeights[i] = w;
      }
      seconds.search += now() - ts;
    }

    // ---- Refresh the output layer on the new hidden features.
    const hiddenChanged = newWeights.some((w, i) => w != null && i < out);
    if (refresh && accs[out] != null && hiddenChanged) {
      const tr = now();
      const acc = new RidgeAccumulator(
          layers[out].kernel.shape[0], layers[out].kernel.shape[1], layers[out].name);
      try {
        for (const [x, y] of source()) {
          tf.tidy(() => {
            const old = forwardChain(layers, x);
            const target = reflectOutput(outAct, old.fields[out], y) as tf.Tensor2D;
            acc.add(forwardChain(layers, x, newWeights).inputs[out], target);
          });
        }
        passes++;
        seconds.gram += now() - tr;
        accs[out]!.dispose();
        accs[out] = acc;
      } catch (e) {
        acc.dispose();
        throw e;
      }
      solveInto(out);
    }
    seconds.total = now() - t0;
    return {weights: newWeights,
            report: {rows, passes, gamma, lambdas, seconds, warnings}};
  } catch (e) {
    newWeights.forEach(disposeWeights);
    throw e;
  } finally {
    accs.forEach((a, i) => {
      if (a != null && !(i === 0 && cache != null && cache.inputGram === a)) a.dispose();
    });
    tf.dispose(operators.filter(o => o != null) as tf.Tensor[]);
    tf.dispose([sampleX, sampleY].filter(t => t != null) as tf.Tensor[]);
  }
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

/** Picks γ minimising the mean squared misfit of the output field on the sample. */
function searchStep(layers: DenseState[], er: Array<DenseWeights|null>,
                    refits: Array<{W: Float64Array, b: Float64Array}|null>, hidden: number[],
                    x: tf.Tensor2D, y: tf.Tensor2D, outAct: DenseState['activation']): number {
  const out = layers.length - 1;
  let best = Infinity, bestGamma = 1;
  const target = tf.tidy(() => {
    const {fields} = forwardChain(layers, x);
    return reflectOutput(outAct, fields[out], y);
  });
  for (const g of GAMMAS) {
    const J = tf.tidy(() => {
      const w = layers.map((l, i) => hidden.includes(i) ? blend(refits[i]!, er[i]!, g, l) :
                                                          er[i] ?? null);
      const {fields} = forwardChain(layers, x, w);
      return tf.mean(tf.square(tf.sub(fields[out], target)));
    });
    const v = J.dataSync()[0];
    J.dispose();
    if (v < best) {
      best = v;
      bestGamma = g;
    }
  }
  target.dispose();
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

function checkOption(name: string, v: number, min: number) {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    throw new ERInputError(`option ${name} must be a finite number >= ${min}, got ${v}`);
  }
}

function now(): number {
  return (typeof performance !== 'undefined' ? performance.now() : Date.now()) / 1000;
}

