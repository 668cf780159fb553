/**
 * One Expectation Reflection update ("sweep") of a network of units, written
 * as map → reduce → solve: the coordinator (this generator) asks for passes
 * over the data (see `plan.ts`), merges the shards' statistics, solves each
 * layer in float64 and sends the new weights back for the next pass.
 *
 * 1. `first`: forward with the current weights, reflect the output field,
 *    accumulate the output unit's statistics, observe the data. Solve the
 *    output unit.
 * 2. `target`, per lower trainable unit, top-down: carry the reflected output
 *    target down through the new weights above (pre-image, hidden reflection
 *    rule; pooling routes it, flatten reshapes it); accumulate; solve. Shards
 *    keep the first pass's forward and the carried target of as many chunks
 *    as `forwardCacheMB` allows, so each target pass carries those one unit
 *    further instead of from the output.
 * 3. mode 'erls': the step γ along the ER direction of the hidden units,
 *    `W(γ) = W⁰ + γ(W^ER − W⁰)` (W⁰: the refit of their unchanged fields).
 *    Each γ is judged by the read-out the refresh would give it: on a
 *    subsample A a ridge read-out of the features of W(γ) is solved against
 *    the update's reflected output targets, and scored by its misfit on a
 *    disjoint subsample B (every s-th row and the rows after them, ~searchRows
 *    each; `searchFit`, `searchScore`; the coarse grid {1, 4, 16, 64}, then
 *    the best one's neighbours). `stepSearch: 'held'` is the earlier rule:
 *    the misfit with the output unit held at its first solve (`search`).
 * 4. `refresh`: re-solve the output unit on the new features.
 *
 * The generator yields requests ({@link SweepRequest}) and receives each
 * pass's merged answer; a driver (`drivers.ts`) runs the passes in this
 * thread or on an executor's shards. It never changes the units: it returns
 * new weights, so on any error the model stays as it was.
 */
import * as tf from '@tensorflow/tfjs-core';
import {ERInputError} from '../errors';
import {preimageOperator} from '../preimage';
import {targetRange} from '../reflect';
import {mergeMoments, RidgeMoments} from '../ridge/moments';
import {refitLinear, RidgeSolution, RidgeSystem, solveRidge, solveRidgeSteps} from '../ridge/solve';
import {FactorRequest} from '../spd';
import {disposeWeights, isSolved, kernelFromMatrix, kernelMatrix, NetworkUnit, rowWidth, SolvedUnit, unitWidth,
        UnitWeights, validateUnits} from '../units';
import {sameData, sameWeights, SweepCache, weightsFingerprint} from './cache';
import {WeightSlot} from './map';
import {MergedPass, PassPlan, PredictionPieces} from './plan';
import {blend, chooseStep} from './step_search';

/** Update mode: plain ER, or ER with the automatic step search. */
export type ERMode = 'er'|'erls';

/** Options of one update. */
export interface SweepConfig {
  /**
   * Dimensionless ridge α: λ = α·trace(cov a)/d. Default 1e-3. 'auto' picks
   * it per solve by generalised cross-validation.
   */
  alpha?: number|'auto';
  /** Pre-image damping β: μ = β·trace(WᵀW)/q. Default 0.1. */
  beta?: number;
  /** 'er' (default) or 'erls' (automatic step search on the hidden units). */
  mode?: ERMode;
  /** Re-solve the output unit on the new hidden features. Default true. */
  refresh?: boolean;
  /** Rows used by the 'erls' step search (each of its two subsamples). Default 10000. */
  searchRows?: number;
  /**
   * How 'erls' judges a step: 'refit' (default) by the read-out the refresh
   * would solve for it, on held-out rows; 'held' by the output field with
   * the output unit held (the rule of tfjs-er 0.1).
   */
  stepSearch?: 'refit'|'held';
  /**
   * Megabytes of the first pass's forwards (and of the targets carried down)
   * the update keeps for its target passes, over all shards (split evenly),
   * when it has two or more target passes; chunks beyond it are recomputed,
   * with the same result. 0 turns it off. Default 512.
   */
  forwardCacheMB?: number;
}

/** What an update did. */
export interface SweepReport {
  /** Rows per pass. */
  rows: number;
  /** Passes made over the data. */
  passes: number;
  /** The step chosen by 'erls' (1 for plain ER). */
  gamma: number;
  /** True when the cached input Gram was reused. */
  inputGramReused: boolean;
  /** True when the output unit's Gram from the last refresh was reused. */
  outputGramReused: boolean;
  /** The ridge λ used per solved layer (after any raise), by layer name. */
  lambdas: Record<string, number>;
  /** The dimensionless α used per solved layer (the chosen one with alpha 'auto'), by layer name. */
  alphas: Record<string, number>;
  /**
   * Wall seconds: in passes (the map steps, wherever they ran), merging the
   * shards' statistics, solving on the coordinator, and in all.
   */
  seconds: {passes: number, reduce: number, solve: number, total: number};
  /** Wall seconds of each pass, in order. */
  passSeconds: Array<{pass: string, seconds: number}>;
  /** Notes on recovered numerical trouble (e.g. singular Gram, ridge raised). */
  warnings: string[];
  /** 'erls': the mean misfit of every step tried, by γ. */
  stepScores?: Record<string, number>;
}

/** New weights (per unit; null where unchanged or weightless), the report, and the first pass's predictions. */
export interface SweepResult {
  /** The caller owns (and disposes) the tensors. */
  weights: Array<UnitWeights|null>;
  report: SweepReport;
  /** The network's outputs under the starting weights, when asked for. */
  predictions: PredictionPieces|null;
}

/** A request of the sweep to its driver. */
export type SweepRequest =
    /** Make `value` unit `unit`'s weights in `slot` on every shard (null clears it). */
    {kind: 'set', slot: WeightSlot, unit: number, value: UnitWeights|tf.Tensor2D|null}|
    /** Run a pass on every shard; the driver answers with the merged result. */
    {kind: 'pass', plan: PassPlan}|
    /** Factor a Gram in place (on the coordinator, or shared with the shards' threads); answered true if positive definite. */
    FactorRequest;

/** A driver's answer to a {@link SweepRequest}: the merged pass, or whether a factorisation succeeded. */
export type SweepReply = MergedPass|boolean|undefined;

/** Options of {@link sweepSteps} beyond the algorithm's. */
export interface SweepRun {
  /** One example's input shape (e.g. [784] or [32, 32, 3]). */
  inputShape: number[];
  /** Between updates on the same data (the caller owns it). */
  cache?: SweepCache;
  /** Ask the first pass for the outputs under the starting weights (for the loss and metrics). */
  predictions?: boolean;
  /** Shards the passes run on (the forward cache is split among them). Default 1. */
  shards?: number;
}

/** Validates an update's options (throws naming the option). */
export function checkSweepConfig(config: SweepConfig): Required<SweepConfig> {
  const c = {alpha: config.alpha ?? 1e-3, beta: config.beta ?? 0.1, mode: config.mode ?? 'er',
             refresh: config.refresh ?? true, searchRows: config.searchRows ?? 10000,
             stepSearch: config.stepSearch ?? 'refit', forwardCacheMB: config.forwardCacheMB ?? 512};
  const num = (name: string, v: unknown, min: number, integer = false) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
      throw new ERInputError(`option ${name} must be a finite ${integer ? 'integer' : 'number'} >= ${min}, got ${v}`);
    }
  };
  if (c.alpha !== 'auto') num('alpha', c.alpha, 0);
  num('beta', c.beta, 0);
  num('searchRows', c.searchRows, 1, true);
  num('forwardCacheMB', c.forwardCacheMB, 0);
  if (c.mode !== 'er' && c.mode !== 'erls') throw new ERInputError(`option mode must be 'er' or 'erls', got '${c.mode}'`);
  if (typeof c.refresh !== 'boolean') throw new ERInputError(`option refresh must be true or false, got ${c.refresh}`);
  if (c.stepSearch !== 'refit' && c.stepSearch !== 'held') {
    throw new ERInputError(`option stepSearch must be 'refit' or 'held', got '${c.stepSearch}'`);
  }
  return c as Required<SweepConfig>;
}

/**
 * The update as a sequence of requests. `units` hold the starting weights
 * (not changed, not copied). See the module comment.
 */
export function* sweepSteps(units: NetworkUnit[], config: SweepConfig, run: SweepRun):
    Generator<SweepRequest, SweepResult, SweepReply> {
  const t0 = now();
  const {alpha, beta, mode, refresh, searchRows, stepSearch, forwardCacheMB} = checkSweepConfig(config);
  const cacheBytes = Math.floor(forwardCacheMB * 2 ** 20 / Math.max(1, run.shards ?? 1));
  validateUnits(units, run.inputShape);
  const out = units.length - 1;
  const outUnit = units[out] as SolvedUnit;
  const lowest = units.findIndex(u => isSolved(u) && u.trainable);
  if (lowest < 0) throw new ERInputError('no trainable layer: every layer has trainable = false');
  const firstSolved = units.findIndex(isSolved);
  const cache = alpha === 'auto' ? undefined : run.cache;
  const seconds = {passes: 0, reduce: 0, solve: 0, total: 0};
  const passSeconds: SweepReport['passSeconds'] = [];
  const warnings: string[] = [];
  const lambdas: Record<string, number> = {};
  const alphas: Record<string, number> = {};
  const next: Array<UnitWeights|null> = units.map(() => null);
  const operators: Array<tf.Tensor2D|null> = units.map(() => null);
  const w0s: Array<UnitWeights|null> = units.map(() => null);
  const needsMore = lowest < out;
  // the kept forwards pay when two or more target passes reuse them (with one, keeping cost about what it saved)
  const keepsForward = units.slice(0, out).filter(u => isSolved(u) && u.trainable).length >= 2;
  let inputGramReused = false, outputGramReused = false, gamma = 1;
  let stepScores: Record<string, number>|undefined;

  function* pass(plan: PassPlan): Generator<SweepRequest, MergedPass, SweepReply> {
    const tp = now();
    const merged = (yield {kind: 'pass', plan}) as MergedPass;
    const s = now() - tp;
    seconds.passes += s;
    passSeconds.push({pass: plan.kind === 'target' ? `target ${units[plan.unit].name}` : plan.kind, seconds: s});
    return merged;
  }
  function* setNext(i: number, w: UnitWeights): Generator<SweepRequest, void, SweepReply> {
    disposeWeights(next[i]);
    next[i] = w;
    yield {kind: 'set', slot: 'next', unit: i, value: w};
  }
  const moments = (p: MergedPass, i: number): RidgeMoments => {
    const tr = now();
    const m = mergeMoments(p.ridge, (units[i] as SolvedUnit).name);
    seconds.reduce += now() - tr;
    return m;
  };
  function* solve(i: number, m: RidgeMoments, reuse: RidgeSystem|null):
      Generator<SweepRequest, {sol: RidgeSolution, system: RidgeSystem}, SweepReply> {
    const u = units[i] as SolvedUnit;
    const ts = now();
    const {solution, system} = yield* solveRidgeSteps(m, {alpha, fitIntercept: u.bias != null}, u.name, reuse);
    seconds.solve += now() - ts;
    lambdas[u.name] = solution.lambdaUsed;
    alphas[u.name] = solution.alpha;
    warnings.push(...solution.warnings);
    return {sol: solution, system};
  }

  try {
    // The output unit's cached Gram applies if the hidden weights are those it was computed with.
    const hiddenPrint = cache != null && needsMore && refresh ? weightsFingerprint(units.slice(0, out).map(
        u => isSolved(u) ? u : null)) : null;
    const cachedOut = cache?.output;
    let reuseOut = cachedOut != null && hiddenPrint != null && outUnit.trainable && cachedOut.unit === out &&
        sameWeights(cachedOut.weights, hiddenPrint);
    if (!reuseOut) cache?.dropOutput();
    const first = yield* pass({kind: 'first', unit: outUnit.trainable ? out : null, part: reuseOut ? 'cross' : 'full',
                               fingerprint: cache != null, predictions: run.predictions === true,
                               cacheBytes: keepsForward ? cacheBytes : 0});
    checkObserved(first, outUnit);
    const data = first.fingerprint;
    let outMoments: RidgeMoments|null = outUnit.trainable ? moments(first, out) : null;
    if (reuseOut && (data == null || !sameData(cachedOut!.data, data))) {
      // New data: the cached output Gram does not apply; one extra pass rebuilds it.
      cache!.dropOutput();
      reuseOut = false;
      outMoments = moments(yield* pass({kind: 'rebuild', unit: out}), out);
    }
    if (outMoments != null) {
      const {sol} = yield* solve(out, outMoments, reuseOut ? cachedOut!.system : null);
      outputGramReused = reuseOut;
      yield* setNext(out, toWeights(outUnit, sol));
    }

    // The cached input Gram applies to the first solved unit if the data are the same.
    const cachedIn = cache?.input;
    const reuseIn = cachedIn != null && data != null && cachedIn.unit === firstSolved && sameData(cachedIn.data, data);
    if (!reuseIn && cache != null) cache.input = null;
    const refits: Array<{W: Float64Array, b: Float64Array}|null> = units.map(() => null);
    let keepTargets = refresh && outUnit.trainable;
    for (let k = out - 1; k >= lowest; k--) {
      const above = units[k + 1];
      if (isSolved(above)) {
        const M = tf.tidy(() => preimageOperator(kernelMatrix(above, (next[k + 1] ?? above).kernel), beta));
        operators[k + 1]?.dispose();
        operators[k + 1] = M;
        yield {kind: 'set', slot: 'operator', unit: k + 1, value: M};
      }
      const u = units[k];
      if (!isSolved(u) || !u.trainable) continue;  // frozen or weightless: targets pass through
      const reuse = k === firstSolved && reuseIn;
      const p = yield* pass({kind: 'target', unit: k, part: reuse ? 'cross' : 'full', keepTargets});
      keepTargets = false;
      inputGramReused = inputGramReused || reuse;
      const {sol, system} = yield* solve(k, moments(p, k), reuse ? cachedIn!.system : null);
      yield* setNext(k, toWeights(u, sol));
      if (mode === 'erls') {
        const km = kernelMatrix(u);
        const oldW = Float64Array.from(km.dataSync());
        km.dispose();
        const oldB = u.bias ? Float64Array.from(u.bias.dataSync()) : new Float64Array(sol.outDim);
        const r = refitLinear(system, oldW, oldB, sol.outDim);
        if (u.bias == null) r.b.fill(0);
        refits[k] = r;
      }
      if (k === firstSolved && cache != null && data != null) {
        cache.input = {unit: k, system, data, weights: new Float64Array(0)};
      }
    }

    // Automatic step along the ER direction (hidden units only).
    const hidden = refits.map((r, i) => r != null ? i : -1).filter(i => i >= 0);
    if (mode === 'erls' && hidden.length > 0) {
      for (const i of hidden) {
        w0s[i] = toWeights(units[i] as SolvedUnit, {W: refits[i]!.W, b: refits[i]!.b});
        yield {kind: 'set', slot: 'w0', unit: i, value: w0s[i]};
      }
      const chosen = yield* chooseStep(stepSearch, first.rows, searchRows, Math.min(...hidden), hidden, {
        pass,
        readout: m => {
          const ts = now();
          const {solution} = solveRidge(m, {alpha, fitIntercept: outUnit.bias != null}, `${outUnit.name} (step search)`);
          seconds.solve += now() - ts;
          return toWeights(outUnit, solution);
        },
      });
      gamma = chosen.gamma;
      stepScores = chosen.scores;
      for (const i of hidden) {
        const w = blend(w0s[i]!, next[i]!, gamma);
        yield* setNext(i, w);
        yield {kind: 'set', slot: 'w0', unit: i, value: null};
        disposeWeights(w0s[i]);
        w0s[i] = null;
      }
    }

    // Refresh the output unit on the new hidden features.
    const hiddenChanged = next.some((w, i) => w != null && i < out);
    if (refresh && outUnit.trainable && hiddenChanged) {
      const p = yield* pass({kind: 'refresh', unit: out});
      const {sol, system} = yield* solve(out, moments(p, out), null);
      yield* setNext(out, toWeights(outUnit, sol));
      if (cache != null && data != null) {
        cache.output = {unit: out, system, data, weights: weightsFingerprint(units.slice(0, out).map(
            (u, i) => isSolved(u) ? next[i] ?? u : null))};
      }
    }
    seconds.total = now() - t0;
    const result: SweepResult = {
      weights: next.slice(),
      report: {rows: first.rows, passes: passSeconds.length, gamma, inputGramReused, outputGramReused, lambdas,
               alphas, seconds, passSeconds, warnings, ...(stepScores ? {stepScores} : {})},
      predictions: first.predictions,
    };
    next.fill(null);  // ownership moves to the caller
    return result;
  } finally {
    next.forEach(disposeWeights);
    w0s.forEach(disposeWeights);
    tf.dispose(operators.filter(m => m != null) as tf.Tensor[]);
  }
}

/** Throws (weights unchanged) unless some rows were seen, all finite, with targets in the output's range. */
function checkObserved(p: MergedPass, outUnit: SolvedUnit) {
  const o = p.observed;
  if (p.rows === 0 || o == null) {
    throw new ERInputError('the data gave no rows; pass at least one non-empty batch');
  }
  if (!o.finite) {
    throw new ERInputError('the inputs or targets contain NaN or Infinity; clean the data. Weights were not changed.');
  }
  // float32 sums of squares overflow past ~3.4e38
  if (o.xAbsMax * o.xAbsMax * p.rows >= 1e38) {
    throw new ERInputError(
        `the inputs reach |x| = ${o.xAbsMax.toPrecision(3)}: the float32 statistics of such values overflow; ` +
        `scale the inputs (e.g. to [0, 1] or unit variance). Weights were not changed.`);
  }
  const [min, max] = targetRange(outUnit.activation);
  if (o.yMin < min || o.yMax > max) {
    throw new ERInputError(
        `${outUnit.name}: targets lie in [${o.yMin}, ${o.yMax}] but a ${outUnit.activation} ` +
        `output needs them in [${min}, ${max}] (one-hot or probabilities for softmax/sigmoid); ` +
        `rescale them or use a linear output. Weights were not changed.`);
  }
}

/** New weights of `u` from a float64 solution (rows in the order of the unit's regression). */
export function toWeights(u: SolvedUnit, sol: {W: Float64Array, b: Float64Array}): UnitWeights {
  const matrix = tf.tensor2d(Float32Array.from(sol.W), [rowWidth(u), unitWidth(u)]);
  const kernel = kernelFromMatrix(u, matrix);
  matrix.dispose();
  return {kernel, bias: u.bias != null ? tf.tensor1d(Float32Array.from(sol.b)) : null};
}

/** Seconds, for the report's timings. */
export function now(): number {
  return (typeof performance !== 'undefined' ? performance.now() : Date.now()) / 1000;
}
