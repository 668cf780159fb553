/**
 * The centred ridge solve from merged moments, in float64:
 * `W = (C + λI)⁻¹ R`, `b = t̄ − āW`, with `C = cov(a)`, `R = cov(a, t)` and
 * `λ = α·trace(C)/d`. What solves `C + λI` again is kept as a
 * {@link RidgeSystem} so new targets on the same Gram (a cached Gram, the
 * step search's refits) need no new factorisation: the Cholesky factor for a
 * fixed α; for `alpha: 'auto'` the band form that scored the grid with C
 * (solves by refinement), or the tridiagonal form that scored it in float64.
 */
import {BAND_WIDTH, BandForm, bandReduce, solveBandShifted, useBandScoring} from '../band';
import {refinesOnBand, solveOnBand} from '../band_refine';
import {ERInputError, ERNumericalError} from '../errors';
import {choleskyInPlace, choleskySolveInPlace, factorHere, FactorSteps, MAX_RIDGE_RAISES, raisedShift, solveSPDSteps} from '../spd';
import {applyQ, applyQt, solveShifted, tridiagonalizeInPlace, TridiagonalForm} from '../tridiagonal';
import {AUTO_ALPHAS, bestAlpha, gcvScores} from './gcv';
import {allFinite, mirrorLower, RidgeMoments} from './moments';

export {AUTO_ALPHAS} from './gcv';

/** Options of a ridge solve. */
export interface RidgeSolveConfig {
  /**
   * Dimensionless ridge: `λ = alpha · trace(cov a) / d`. Default 1e-3.
   * 'auto' picks it from {@link AUTO_ALPHAS} by generalised cross-validation
   * (GCV), computed from the statistics alone (centred fits only).
   */
  alpha?: number|'auto';
  /** Fit an unpenalised intercept by centring (default true). */
  fitIntercept?: boolean;
}

/** A solved ridge regression, in float64. */
export interface RidgeSolution {
  /** Weights, d×k row-major. */
  W: Float64Array;
  /** Intercept, length k (zeros when `fitIntercept` is false). */
  b: Float64Array;
  /** Input width d. */
  inDim: number;
  /** Output width k. */
  outDim: number;
  /** The ridge λ that was requested. */
  lambda: number;
  /** The ridge λ finally used (raised if the system was not positive definite). */
  lambdaUsed: number;
  /** The dimensionless α used (the chosen one with alpha 'auto'). */
  alpha: number;
  /** Rows the statistics cover. */
  count: number;
  /** Human-readable notes (e.g. the ridge was raised); empty when all went well. */
  warnings: string[];
}

/** A factored Gram: what later solves on the same inputs reuse. */
export interface RidgeSystem {
  d: number;
  /** Rows the Gram covers. */
  n: number;
  /** Column means of the inputs. */
  mean: Float64Array;
  centred: boolean;
  /** The α it was factored for. */
  alpha: number;
  /** The ridge requested. */
  lambda: number;
  /** The ridge finally used (raised if the system was not positive definite). */
  shift: number;
  /** Cholesky factor (lower triangle) of the (centred) second moment plus `shift`·I; else null. */
  factor: Float64Array|null;
  /** The second moment as `Q T Qᵀ` (the `alpha: 'auto'` solves in float64); else null. */
  tridiagonal: TridiagonalForm|null;
  /**
   * The second moment C (symmetric, float64) with its float32 band form
   * (`alpha: 'auto'` on a fast backend): solves refine on C preconditioned
   * by the band form; else null.
   */
  band: {gram: Float64Array, form: BandForm}|null;
  /** Notes of the factorisation, repeated by every solve that reuses it. */
  warnings: string[];
}

/** Checks and normalises a solve's options; throws naming `label`. */
export function checkSolveConfig(config: RidgeSolveConfig, label: string): {alpha: number|'auto', centred: boolean} {
  const alpha = config.alpha ?? 1e-3;
  const centred = config.fitIntercept ?? true;
  if (alpha === 'auto') {
    if (!centred) throw new ERInputError(`${label}: alpha 'auto' needs a centred fit (fitIntercept true)`);
  } else if (typeof alpha !== 'number' || !(alpha >= 0) || !Number.isFinite(alpha)) {
    throw new ERInputError(`${label}: alpha must be a finite number >= 0, got ${alpha}`);
  }
  return {alpha, centred};
}

/**
 * Solves the ridge regression of `m`. Uses `reuse` (a factorisation of the
 * same Gram, for the same α and centring) when given and it applies; else
 * factors `m.scatter`, which is consumed (it becomes the factor). Returns the
 * solution and the system for later reuse.
 */
export function solveRidge(m: RidgeMoments, config: RidgeSolveConfig, label: string,
                           reuse: RidgeSystem|null = null): {solution: RidgeSolution, system: RidgeSystem} {
  return factorHere(solveRidgeSteps(m, config, label, reuse));
}

/** {@link solveRidge} as steps that ask for their factorisation (see `FactorRequest` in spd.ts). */
export function* solveRidgeSteps(m: RidgeMoments, config: RidgeSolveConfig, label: string,
                                 reuse: RidgeSystem|null = null):
    FactorSteps<{solution: RidgeSolution, system: RidgeSystem}> {
  const {alpha: requested, centred} = checkSolveConfig(config, label);
  const {d, k} = m;
  const cross = m.cross, gram = m.gram;
  if (cross == null || cross.n === 0 || (gram != null && gram.n === 0)) {
    throw new ERInputError(`${label}: no rows were accumulated (empty data); pass at least one batch ` +
                           `with one row before solving`);
  }
  const n = cross.n;
  if (gram != null && gram.n !== n) {
    throw new ERInputError(`${label}: the Gram covers ${gram.n} rows but the targets cover ${n}; ` +
                           `feed the same rows to addGram and addCross`);
  }
  const mean = gram?.mean ?? cross.mean;
  if ((gram != null && !allFinite(gram.scatter)) || !allFinite(mean)) {
    throw new ERNumericalError(
        `${label}: the inputs contain NaN or Infinity (their Gram is not finite); clean the data or ` +
        `the layer below. Weights were not changed.`);
  }
  if (!allFinite(cross.cross) || !allFinite(cross.tMean)) {
    throw new ERNumericalError(`${label}: the targets contain NaN or Infinity; check the labels ` +
                               `(and the layer above). Weights were not changed.`);
  }
  // Right-hand side per row: cov(a, t) (centred) or E[a tᵀ] (uncentred).
  const X = new Float64Array(d * k);
  for (let i = 0; i < d; i++) {
    for (let q = 0; q < k; q++) X[i * k + q] = cross.cross[i * k + q] / n + (centred ? 0 : mean[i] * cross.tMean[q]);
  }
  let system: RidgeSystem;
  let W: Float64Array;
  const fits = reuse != null && requested !== 'auto' && reuse.alpha === requested && reuse.centred === centred &&
      reuse.d === d && reuse.n === n;
  if (fits) {
    system = reuse!;
    W = X;
    solveWithSystem(system, W, k);
  } else {
    if (gram == null) throw new Error(`${label}: solve needs the Gram (none computed, none reused)`);
    const C = gram.scatter;
    m.gram = null;  // consumed: becomes the factor
    mirrorLower(C, d);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) C[i * d + j] = C[i * d + j] / n + (centred ? 0 : mean[i] * mean[j]);
    }
    let trace = 0;
    for (let i = 0; i < d; i++) trace += C[i * d + i];
    const warnings: string[] = [];
    const auto = requested === 'auto' && trace > 0;
    let sst = 0;
    if (auto) for (let q = 0; q < k; q++) sst += cross.tScatter[q] / n;
    // 'auto' scores its grid on a float32 band form where the backend multiplies fast (and there are enough
    // rows), then solves at the winner by conjugate gradients preconditioned with that form when that is
    // cheaper than a Cholesky (few targets), keeping C for later solves; else by the Cholesky, like a fixed α.
    // Elsewhere the float64 tridiagonal form scores the grid and gives the solution.
    const refine = refinesOnBand(d, k);
    const scored = auto && useBandScoring(d, n) ? scoreOnBand(C, X, d, k, n, trace, sst, refine) : null;
    const chosen = scored?.alpha ?? null;
    const bandLambda = chosen != null ? chosen * trace / d : 0;
    const refined = scored != null && refine ?
        solveOnBand(C, d, X, k, bandLambda, scored.form, scored.form.rotated, trace) : null;
    if (refined != null) {
      W = refined.x;
      system = {d, n, mean: Float64Array.from(mean), centred, alpha: chosen!, lambda: bandLambda, shift: bandLambda,
                factor: null, tridiagonal: null, band: {gram: C, form: scored!.form}, warnings};
    } else if (auto && chosen == null) {
      const r = solveAuto(C, X, d, k, n, trace, sst);
      if (r.raises > 0) {
        warnings.push(`${label}: the ${d}×${d} Gram was singular at every α of 'auto'; the ridge was raised to ` +
                      `${r.shift.toPrecision(3)} (${r.raises}×) to solve. Pass a larger fixed alpha to silence this.`);
      }
      W = r.x;
      system = {d, n, mean: Float64Array.from(mean), centred, alpha: r.alpha, lambda: r.lambda, shift: r.shift,
                factor: null, tridiagonal: r.form, band: null, warnings};
    } else {
      const alpha = requested === 'auto' ? chosen ?? 1e-3 : requested;
      let lambda = alpha * trace / d;
      if (!(trace > 0)) {
        warnings.push(`${label}: the inputs are constant (zero variance); weights set to zero, bias to the target mean`);
        lambda = 1;
      }
      const r = yield* solveSPDSteps(C, d, X, k, lambda);
      if (r.raises > 0) {
        warnings.push(`${label}: the ${d}×${d} Gram was singular at ridge ${lambda.toPrecision(3)}` +
                      `${auto ? ` (α ${alpha}, chosen by 'auto')` : ''}; raised to ` +
                      `${r.shift.toPrecision(3)} (${r.raises}×) to solve. Raise alpha to silence this.`);
      }
      W = r.x;
      system = {d, n, mean: Float64Array.from(mean), centred, alpha, lambda, shift: r.shift, factor: r.factor,
                tridiagonal: null, band: null, warnings};
    }
  }
  const b = new Float64Array(k);
  if (centred) {
    for (let q = 0; q < k; q++) {
      let s = cross.tMean[q];
      for (let i = 0; i < d; i++) s -= mean[i] * W[i * k + q];
      b[q] = s;
    }
  }
  return {
    solution: {W, b, inDim: d, outDim: k, lambda: system.lambda, lambdaUsed: system.shift, alpha: system.alpha,
               count: n, warnings: system.warnings.slice()},
    system,
  };
}

/**
 * Ridge refit of the fields of an unchanged linear map `h = a·W0 + b0` on the
 * Gram and ridge of `system`: because cov(a, h) = C·W0,
 * `W = (C + λI)⁻¹ C W0 = W0 − λ (C + λI)⁻¹ W0`, with no pass over the data.
 * Used by the automatic step search (`mode: 'erls'`).
 */
export function refitLinear(system: RidgeSystem, W0: Float64Array, b0: Float64Array, k: number):
    {W: Float64Array, b: Float64Array} {
  const d = system.d;
  const x = new Float64Array(W0);
  solveWithSystem(system, x, k);
  const W = new Float64Array(d * k);
  for (let i = 0; i < W.length; i++) W[i] = W0[i] - system.shift * x[i];
  const b = new Float64Array(k);
  for (let q = 0; q < k; q++) {
    let s = b0[q];
    if (system.centred) {
      for (let i = 0; i < d; i++) s += system.mean[i] * (W0[i * k + q] - W[i * k + q]);
    }
    b[q] = s;
  }
  return {W, b};
}

/** B ← (C + shift·I)⁻¹ B (d×k) with the system's factorisation, whichever it is. */
export function solveWithSystem(system: RidgeSystem, b: Float64Array, k: number): void {
  if (system.tridiagonal != null) {
    const form = system.tridiagonal;
    applyQt(form, b, k);
    const r = solveShifted(form, system.shift, b, k, 0);
    if (r == null) throw new ERNumericalError(`ridge: the saved ${system.d}×${system.d} system is no longer positive definite`);
    b.set(r.x);
    applyQ(form, b, k);
  } else if (system.band != null) {
    const {gram, form} = system.band;
    const r = solveOnBand(gram, system.d, b, k, system.shift, form);
    if (r != null) {
      b.set(r.x);
      return;
    }
    // Refinement failed for these targets: factor C + shift·I once and solve by it from now on.
    const f = new Float64Array(gram);
    for (let i = 0; i < system.d; i++) f[i * system.d + i] += system.shift;
    if (!choleskyInPlace(f, system.d)) {
      throw new ERNumericalError(`ridge: the saved ${system.d}×${system.d} system is no longer positive definite`);
    }
    system.factor = f;
    system.band = null;
    choleskySolveInPlace(f, system.d, b, k);
  } else {
    choleskySolveInPlace(system.factor!, system.d, b, k);
  }
}

/**
 * The α of the grid with the best GCV score on the float32 band form of C
 * (C and X are not modified), with the form (and its reflectors when `keep`);
 * the largest α when no α gives a positive-definite system there (the solve
 * then raises the ridge if it must).
 */
function scoreOnBand(C: Float64Array, X: Float64Array, d: number, k: number, n: number, trace: number,
                     sst: number, keep: boolean): {alpha: number, form: BandForm} {
  const form = bandReduce(C, d, X, k, BAND_WIDTH, keep);
  const scores = gcvScores(lambda => solveBandShifted(form, lambda, form.rotated, k), d, form.rotated, k, n, trace, sst);
  return {alpha: bestAlpha(scores) ?? AUTO_ALPHAS[AUTO_ALPHAS.length - 1], form};
}

/**
 * `alpha: 'auto'`: reduces C (consumed) to `Q T Qᵀ` once, scores every α of
 * the grid by GCV on the tridiagonal form, and solves at the winner, raising
 * the ridge (by {@link raisedShift}, as {@link solveSPDInPlace} does) only if no α of the grid
 * gives a positive-definite system.
 */
function solveAuto(C: Float64Array, X: Float64Array, d: number, k: number, n: number, trace: number, sst: number):
    {x: Float64Array, form: TridiagonalForm, alpha: number, lambda: number, shift: number, raises: number} {
  const form = tridiagonalizeInPlace(C, d);
  const B = X;  // rotated in place: Qᵀ R
  applyQt(form, B, k);
  const chosen = bestAlpha(gcvScores(lambda => solveShifted(form, lambda, B, k), d, B, k, n, trace, sst));
  const alpha = chosen ?? AUTO_ALPHAS[AUTO_ALPHAS.length - 1];
  const lambda = alpha * trace / d;
  let shift = lambda;
  for (let raises = 0; raises <= MAX_RIDGE_RAISES; raises++) {
    const r = solveShifted(form, shift, B, k);
    if (r != null) {
      applyQ(form, r.x, k);
      return {x: r.x, form, alpha, lambda, shift, raises};
    }
    shift = raisedShift(shift, trace / d);
  }
  throw new ERNumericalError(`ridge 'auto': the ${d}×${d} system stayed indefinite after raising the ridge to ` +
                             `${shift}; the statistics are not finite or not a covariance`);
}
