/**
 * Solves `(C + λI) X = R` in float64 by conjugate gradients preconditioned
 * with the float32 band form of C (`C ≈ Q B Qᵀ`, see band.ts): the
 * preconditioner `Q (B + λI)⁻¹ Qᵀ` is C's own inverse up to float32
 * rounding, so a few iterations reach the float64 solution, at O(d²·k) each
 * instead of the Cholesky's d³/3. Used by `alpha: 'auto'`, which has the band
 * form already from scoring its grid.
 */
import {BandForm, bandCholesky, solveBandFactored, transposed} from './band';

/** Iterations before giving up (the caller then factors). */
const MAX_ITERATIONS = 8;
/**
 * Normwise backward error at which a target has converged, `‖r‖ ≤ tol·((tr C + λ)·‖x‖ + ‖R‖)`
 * (tr C bounds ‖C‖₂): far below the float32 rounding of the statistics themselves (~1e-7).
 */
const TOLERANCE = 1e-12;

/** Whether refinement on the band form beats a Cholesky for d×d systems with k right-hand sides. */
export function refinesOnBand(d: number, k: number): boolean {
  // About 16·d²·k flops (three products with C, two preconditioner passes) against d³/3.
  return k * 48 <= d;
}

/** `X ← Qᵀ X` (k×n, one vector per row) for the form's reflectors. */
export function applyBandQt(form: BandForm, X: Float64Array, k: number): void {
  const blocks = reflectorsOf(form);
  for (let b = 0; b < blocks.length; b++) applyBlock(blocks[b], form.n, X, k, true);
}

/** `X ← Q X` (k×n, one vector per row) for the form's reflectors. */
export function applyBandQ(form: BandForm, X: Float64Array, k: number): void {
  const blocks = reflectorsOf(form);
  for (let b = blocks.length - 1; b >= 0; b--) applyBlock(blocks[b], form.n, X, k, false);
}

function reflectorsOf(form: BandForm): NonNullable<BandForm['reflectors']> {
  if (form.reflectors == null) throw new Error('band form: reduced without its reflectors (pass keepReflectors)');
  return form.reflectors;
}

/** `x ← (I − V T' Vᵀ) x` on rows offset … n−1 of every vector, T' = Tᵀ (transposed) or T. */
function applyBlock(block: NonNullable<BandForm['reflectors']>[number], n: number, X: Float64Array, k: number,
                    transposed: boolean): void {
  const {offset: o, count: c, V, T} = block;
  const m = n - o;
  const S = new Float64Array(c * k);
  // S = Vᵀ x, two reflectors × two vectors at a time (contiguous rows).
  for (let q = 0; q < k; q += 2) {
    const x0 = q * n + o, two = q + 1 < k, x1 = two ? x0 + n : x0;
    for (let a = 0; a < c; a += 2) {
      const v0 = a * m, pair = a + 1 < c, v1 = pair ? v0 + m : v0;
      let s00 = 0, s01 = 0, s10 = 0, s11 = 0;
      for (let i = 0; i < m; i++) {
        const y0 = X[x0 + i], y1 = X[x1 + i], w0 = V[v0 + i], w1 = V[v1 + i];
        s00 += w0 * y0; s01 += w0 * y1; s10 += w1 * y0; s11 += w1 * y1;
      }
      S[a * k + q] = s00;
      if (two) S[a * k + q + 1] = s01;
      if (pair) {
        S[(a + 1) * k + q] = s10;
        if (two) S[(a + 1) * k + q + 1] = s11;
      }
    }
  }
  // S ← Tᵀ S or T S (T upper triangular, c×c).
  const U = new Float64Array(c * k);
  for (let a = 0; a < c; a++) {
    for (let q = 0; q < k; q++) {
      let s = 0;
      if (transposed) {
        for (let b = 0; b <= a; b++) s += T[b * c + a] * S[b * k + q];
      } else {
        for (let b = a; b < c; b++) s += T[a * c + b] * S[b * k + q];
      }
      U[a * k + q] = s;
    }
  }
  // x −= V U, four reflectors × two vectors at a time.
  for (let q = 0; q < k; q += 2) {
    const x0 = q * n + o, two = q + 1 < k, x1 = x0 + n, q1 = two ? q + 1 : q;
    let a = 0;
    for (; a + 3 < c; a += 4) {
      const v0 = a * m, v1 = v0 + m, v2 = v1 + m, v3 = v2 + m, ua = a * k;
      const u00 = U[ua + q], u10 = U[ua + k + q], u20 = U[ua + 2 * k + q], u30 = U[ua + 3 * k + q];
      const u01 = U[ua + q1], u11 = U[ua + k + q1], u21 = U[ua + 2 * k + q1], u31 = U[ua + 3 * k + q1];
      if (two) {
        for (let i = 0; i < m; i++) {
          const w0 = V[v0 + i], w1 = V[v1 + i], w2 = V[v2 + i], w3 = V[v3 + i];
          X[x0 + i] -= u00 * w0 + u10 * w1 + u20 * w2 + u30 * w3;
          X[x1 + i] -= u01 * w0 + u11 * w1 + u21 * w2 + u31 * w3;
        }
      } else {
        for (let i = 0; i < m; i++) X[x0 + i] -= u00 * V[v0 + i] + u10 * V[v1 + i] + u20 * V[v2 + i] + u30 * V[v3 + i];
      }
    }
    for (; a < c; a++) {
      const v0 = a * m, u0 = U[a * k + q], u1 = U[a * k + q1];
      for (let i = 0; i < m; i++) X[x0 + i] -= u0 * V[v0 + i];
      if (two) for (let i = 0; i < m; i++) X[x1 + i] -= u1 * V[v0 + i];
    }
  }
}

/** `Y = (C + λI) P` for the symmetric d×d row-major C and P k×d (one vector per row); Y k×d. */
export function shiftedProduct(C: Float64Array, d: number, lambda: number, P: Float64Array, k: number,
                               Y: Float64Array): void {
  // Tiles of two rows of C × four vectors: 8 sums from 6 loads per column.
  for (let q = 0; q < k; q += 4) {
    const width = Math.min(4, k - q);
    const p0 = q * d, p1 = width > 1 ? p0 + d : p0, p2 = width > 2 ? p0 + 2 * d : p0, p3 = width > 3 ? p0 + 3 * d : p0;
    for (let i = 0; i < d; i += 2) {
      const c0 = i * d, pairRow = i + 1 < d, c1 = pairRow ? c0 + d : c0;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      for (let j = 0; j < d; j++) {
        const a0 = C[c0 + j], a1 = C[c1 + j];
        const y0 = P[p0 + j], y1 = P[p1 + j], y2 = P[p2 + j], y3 = P[p3 + j];
        s00 += a0 * y0; s01 += a0 * y1; s02 += a0 * y2; s03 += a0 * y3;
        s10 += a1 * y0; s11 += a1 * y1; s12 += a1 * y2; s13 += a1 * y3;
      }
      const sums = [s00, s01, s02, s03], sums1 = [s10, s11, s12, s13];
      for (let t = 0; t < width; t++) {
        const o = p0 + t * d;
        Y[o + i] = sums[t] + lambda * P[o + i];
        if (pairRow) Y[o + i + 1] = sums1[t] + lambda * P[o + i + 1];
      }
    }
  }
}

/** What {@link solveOnBand} reports besides the solution. */
export interface BandRefinement {
  /** The solution, d×k row-major. */
  x: Float64Array;
  /** Iterations taken. */
  iterations: number;
}

/**
 * Solves `(C + λI) X = R` (C symmetric d×d row-major, float64, not modified;
 * R d×k row-major, not modified) by conjugate gradients per column,
 * preconditioned with the band form of C (reduced with its reflectors).
 * `rotatedR`, when given, is `Qᵀ R` (n×k, as {@link bandReduce} rotates it)
 * and saves one pass for the start; `trace`, when given, is tr C (else
 * summed here). Null when `B + λI` is not positive definite or the iteration
 * does not converge; the caller then factors.
 */
export function solveOnBand(C: Float64Array, d: number, R: Float64Array, k: number, lambda: number,
                            form: BandForm, rotatedR: Float64Array|null = null, trace?: number): BandRefinement|null {
  if (form.n !== d) throw new Error(`band form: ${form.n}×${form.n}, system ${d}×${d}`);
  const L = bandCholesky(form, lambda);
  if (L == null) return null;
  const w = form.w;
  // M⁻¹ y = Q (B + λI)⁻¹ Qᵀ y, in place on k×d.
  const precondition = (y: Float64Array, rotated: boolean) => {
    if (!rotated) applyBandQt(form, y, k);
    solveBandFactored(L, d, w, y, k);
    applyBandQ(form, y, k);
  };
  let normA = lambda;
  if (trace != null) normA += trace;
  else for (let i = 0; i < d; i++) normA += C[i * d + i];  // ‖C‖₂ ≤ tr C for a covariance
  const b = transposed(R, d, k);
  // x₀ = M⁻¹ R.
  const x = rotatedR != null ? transposed(rotatedR, d, k) : new Float64Array(b);
  precondition(x, rotatedR != null);
  const r = new Float64Array(k * d), z = new Float64Array(k * d), p = new Float64Array(k * d);
  const Ap = new Float64Array(k * d);
  shiftedProduct(C, d, lambda, x, k, Ap);
  for (let i = 0; i < r.length; i++) r[i] = b[i] - Ap[i];
  const bNorm = new Float64Array(k), rz = new Float64Array(k);
  for (let q = 0; q < k; q++) bNorm[q] = norm(b, q * d, d);
  const converged = () => {
    for (let q = 0; q < k; q++) {
      const o = q * d;
      const rn = norm(r, o, d), xn = norm(x, o, d);
      if (!Number.isFinite(rn) || !Number.isFinite(xn)) return null;
      if (rn > TOLERANCE * (normA * xn + bNorm[q])) return false;
    }
    return true;
  };
  for (let it = 0; it <= MAX_ITERATIONS; it++) {
    const done = converged();
    if (done == null) return null;
    if (done) return {x: transposed(x, k, d), iterations: it};
    if (it === MAX_ITERATIONS) return null;
    z.set(r);
    precondition(z, false);
    for (let q = 0; q < k; q++) {
      const o = q * d;
      let s = 0;
      for (let i = 0; i < d; i++) s += r[o + i] * z[o + i];
      const beta = it === 0 || rz[q] === 0 ? 0 : s / rz[q];
      rz[q] = s;
      for (let i = 0; i < d; i++) p[o + i] = z[o + i] + beta * p[o + i];
    }
    shiftedProduct(C, d, lambda, p, k, Ap);
    for (let q = 0; q < k; q++) {
      const o = q * d;
      let pap = 0;
      for (let i = 0; i < d; i++) pap += p[o + i] * Ap[o + i];
      if (rz[q] === 0) continue;  // this column's residual is exactly zero
      if (!(pap > 0)) return null;
      const step = rz[q] / pap;
      for (let i = 0; i < d; i++) {
        x[o + i] += step * p[o + i];
        r[o + i] -= step * Ap[o + i];
      }
    }
  }
  return null;
}

function norm(v: Float64Array, o: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i++) s += v[o + i] * v[o + i];
  return Math.sqrt(s);
}
