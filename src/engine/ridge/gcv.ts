/**
 * Generalised cross-validation for `alpha: 'auto'`: the α of the grid whose
 * ridge fit has the smallest GCV score, computed from the statistics alone.
 */

import {ShiftedSolve} from '../tridiagonal';

/**
 * The smallest residual sum of squares a GCV score uses, relative to the
 * total: RSS comes from float32 statistics by cancellation (`sst − tr(ZᵀB) −
 * λ‖Z‖²`), which carries it to about 1e-7·sst, so below 100× that its
 * rounding error passes 1 % (and can make it zero or negative). A near-exact
 * fit of fewer rows than columns then scores by its tiny denominator instead
 * of winning on rounding noise.
 */
export const GCV_RSS_FLOOR = 1e-5;

/** The α grid of `alpha: 'auto'` (log-spaced, 1e-4 … 10). */
export const AUTO_ALPHAS: ReadonlyArray<number> = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1, 3, 10];

/**
 * Solves `(S + λI) Z = B` for the covariance S in a rotated form (`C = Q S Qᵀ`,
 * B = Qᵀ R), with `tr (S + λI)⁻¹`; null when S + λI is not numerically
 * positive definite.
 */
export type ShiftedSolver = (lambda: number) => ShiftedSolve|null;

/**
 * The GCV score `(RSS/n) / (1 − (df + 1)/n)²` of every α of {@link AUTO_ALPHAS}
 * (df = tr C(C + λI)⁻¹, +1 for the intercept), for the d×d centred covariance
 * C given by `solve`, the rotated cross-covariance `B = Qᵀ R` (d×k) and the
 * total target variance `sst`, all per row. With `Z = (S + λI)⁻¹ B`:
 * RSS/n = sst − tr(ZᵀB) − λ‖Z‖² (at least {@link GCV_RSS_FLOOR}·sst) and
 * df = d − λ·tr (S + λI)⁻¹. An α at which the system is not positive definite
 * scores NaN.
 */
export function gcvScores(solve: ShiftedSolver, d: number, B: Float64Array, k: number, n: number,
                          trace: number, sst: number): number[] {
  return AUTO_ALPHAS.map(a => {
    const lambda = a * trace / d;
    const r = solve(lambda);
    if (r == null) return NaN;
    let zb = 0, zz = 0;
    for (let i = 0; i < d * k; i++) {
      zb += r.x[i] * B[i];
      zz += r.x[i] * r.x[i];
    }
    const rss = Math.max(sst - zb - lambda * zz, GCV_RSS_FLOOR * sst);
    const df = d - lambda * r.traceInverse + 1;
    const denom = 1 - df / n;
    return denom > 1e-9 ? rss / (denom * denom) : Infinity;
  });
}

/** The α of {@link AUTO_ALPHAS} with the smallest score (the first on ties); null when none scored. */
export function bestAlpha(scores: number[]): number|null {
  let best: number|null = null, bestScore = Infinity;
  scores.forEach((score, i) => {
    if (Number.isNaN(score)) return;
    if (score < bestScore || best == null) {
      bestScore = score;
      best = AUTO_ALPHAS[i];
    }
  });
  return best;
}
