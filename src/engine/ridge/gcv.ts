/**
 * Generalised cross-validation for `alpha: 'auto'`: the α of the grid whose
 * ridge fit has the smallest GCV score, computed from the statistics alone.
 */
import {solveSPD} from '../spd';

/** The α grid of `alpha: 'auto'` (log-spaced, 1e-4 … 10). */
export const AUTO_ALPHAS: ReadonlyArray<number> = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1, 3, 10];

/**
 * The α of {@link AUTO_ALPHAS} with the smallest generalised cross-validation
 * score `GCV = (RSS/n) / (1 − (df + 1)/n)²` (df = tr C(C + λI)⁻¹, +1 for the
 * intercept), from the centred covariance `C` (d×d), cross-covariance `R`
 * (d×k) and total target variance `sst`, all per row. RSS/n =
 * sst − 2·tr(WᵀR) + tr(WᵀCW) needs no pass over the data.
 */
export function gcvAlpha(C: Float64Array, R: Float64Array, d: number, k: number, n: number, trace: number,
                         sst: number): number {
  let best = AUTO_ALPHAS[AUTO_ALPHAS.length - 1], bestScore = Infinity;
  const cw = new Float64Array(d * k);
  for (const a of AUTO_ALPHAS) {
    const r = solveSPD(C, d, R, k, a * trace / d);
    const W = r.x;
    cw.fill(0);
    for (let i = 0; i < d; i++) {
      const ci = i * d;
      for (let j = 0; j < d; j++) {
        const c = C[ci + j];
        if (c === 0) continue;
        for (let q = 0; q < k; q++) cw[i * k + q] += c * W[j * k + q];
      }
    }
    let rss = sst;
    for (let i = 0; i < d * k; i++) rss += W[i] * (cw[i] - 2 * R[i]);
    const df = d - r.shift * inverseTrace(r.factor, d) + 1;
    const denom = 1 - df / n;
    const score = denom > 1e-9 ? Math.max(rss, 0) / (denom * denom) : Infinity;
    if (score < bestScore) {
      bestScore = score;
      best = a;
    }
  }
  return best;
}

/** tr(A⁻¹) from the Cholesky factor L of A (row-major lower): Σ (L⁻¹)ᵢⱼ². */
function inverseTrace(L: Float64Array, n: number): number {
  let total = 0;
  const z = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    z.fill(0, j);
    for (let i = j; i < n; i++) {
      let s = i === j ? 1 : 0;
      const li = i * n;
      for (let m = j; m < i; m++) s -= L[li + m] * z[m];
      z[i] = s / L[li + i];
      total += z[i] * z[i];
    }
  }
  return total;
}
