/**
 * Generalised cross-validation for `alpha: 'auto'`: the α of the grid whose
 * ridge fit has the smallest GCV score, computed from the statistics alone.
 */
import {solveShifted, TridiagonalForm} from '../tridiagonal';

/** The α grid of `alpha: 'auto'` (log-spaced, 1e-4 … 10). */
export const AUTO_ALPHAS: ReadonlyArray<number> = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1, 3, 10];

/**
 * The α of {@link AUTO_ALPHAS} with the smallest generalised cross-validation
 * score `GCV = (RSS/n) / (1 − (df + 1)/n)²` (df = tr C(C + λI)⁻¹, +1 for the
 * intercept), for the centred covariance `C = Q T Qᵀ` (d×d, given reduced to
 * tridiagonal form), the rotated cross-covariance `B = Qᵀ R` (d×k) and the
 * total target variance `sst`, all per row. With `Z = (T + λI)⁻¹ B`:
 * RSS/n = sst − tr(ZᵀB) − λ‖Z‖² and df = d − λ·tr (T + λI)⁻¹, O(d·k) per α.
 * An α at which `C + λI` is not numerically positive definite is skipped;
 * null when none is.
 */
export function gcvAlpha(form: TridiagonalForm, B: Float64Array, k: number, n: number, trace: number,
                         sst: number): number|null {
  const d = form.n;
  let best: number|null = null, bestScore = Infinity;
  for (const a of AUTO_ALPHAS) {
    const lambda = a * trace / d;
    const r = solveShifted(form, lambda, B, k);
    if (r == null) continue;
    let zb = 0, zz = 0;
    for (let i = 0; i < d * k; i++) {
      zb += r.x[i] * B[i];
      zz += r.x[i] * r.x[i];
    }
    const rss = sst - zb - lambda * zz;
    const df = d - lambda * r.traceInverse + 1;
    const denom = 1 - df / n;
    const score = denom > 1e-9 ? Math.max(rss, 0) / (denom * denom) : Infinity;
    if (score < bestScore || best == null) {
      bestScore = score;
      best = a;
    }
  }
  return best;
}
