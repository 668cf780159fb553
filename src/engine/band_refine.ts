/**
 * Solves `(C + λI) X = R` in float64 by conjugate gradients preconditioned
 * with the float32 band form of C (`C ≈ Q B Qᵀ`, see band.ts): the
 * preconditioner `Q (B + λI)⁻¹ Qᵀ` is C's own inverse up to float32
 * rounding, so a few iterations reach the float64 solution, at O(d²·k) each
 * instead of the Cholesky's d³/3. Used by `alpha: 'auto'`, which has the band
 * form already from scoring its grid.
 */
import {BandForm, bandCholesky, solveBandFactored} from './band';

/** Iterations before giving up (the caller then factors). */
const MAX_ITERATIONS = 8;
/** Normwise backward error at which a column has converged (`‖r‖ ≤ tol·(‖A‖·‖x‖ + ‖r₀‖)`). */
const TOLERANCE = 1e-14;

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
  // S = Vᵀ x, two reflectors × one vector at a time (contiguous rows).
  for (let q = 0; q < k; q++) {
    const xq = q * n + o;
    let a = 0;
    for (; a + 1 < c; a += 2) {
      const v0 = a * m, v1 = v0 + m;
      let s0 = 0, s1 = 0;
      for (let i = 0; i < m; i++) {
        const x = X[xq + i];
        s0 += V[v0 + i] * x;
        s1 += V[v1 + i] * x;
      }
      S[a * k + q] = s0;
      S[(a + 1) * k + q] = s1;
    }
    if (a < c) {
      const v0 = a * m;
      let s0 = 0;
      for (let i = 0; i < m; i++) s0 += V[v0 + i] * X[xq + i];
      S[a * k + q] = s0;
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
  // x −= V U, four reflectors at a time.
  for (let q = 0; q < k; q++) {
    const xq = q * n + o;
    let a = 0;
    for (; a + 3 < c; a += 4) {
      const v0 = a * m, v1 = v0 + m, v2 = v1 + m, v3 = v2 + m;
      const u0 = U[a * k + q], u1 = U[(a + 1) * k + q], u2 = U[(a + 2) * k + q], u3 = U[(a + 3) * k + q];
      for (let i = 0; i < m; i++) X[xq + i] -= u0 * V[v0 + i] + u1 * V[v1 + i] + u2 * V[v2 + i] + u3 * V[v3 + i];
    }
    for (; a < c; a++) {
      const v0 = a * m, u0 = U[a * k + q];
      for (let i = 0; i < m; i++) X[xq + i] -= u0 * V[v0 + i];
    }
  }
}

/** `Y = (C + λI) P` for the symmetric d×d row-major C and P k×d (one vector per row); Y k×d. */
export function shiftedProduct(C: Float64Array, d: number, lambda: number, P: Float64Array, k: number,
                               Y: Float64Array): void {
  let q = 0;
  for (; q + 3 < k; q += 4) {
    const p0 = q * d, p1 = p0 + d, p2 = p1 + d, p3 = p2 + d;
    for (let i = 0; i < d; i++) {
      const ci = i * d;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let j = 0; j < d; j++) {
        const c = C[ci + j];
        s0 += c * P[p0 + j];
        s1 += c * P[p1 + j];
        s2 += c * P[p2 + j];
        s3 += c * P[p3 + j];
      }
      Y[p0 + i] = s0 + lambda * P[p0 + i];
      Y[p1 + i] = s1 + lambda * P[p1 + i];
      Y[p2 + i] = s2 + lambda * P[p2 + i];
      Y[p3 + i] = s3 + lambda * P[p3 + i];
    }
  }
  for (; q < k; q++) {
    const p0 = q * d;
    for (let i = 0; i < d; i++) {
      const ci = i * d;
      let s0 = 0, s1 = 0;
      let j = 0;
      for (; j + 1 < d; j += 2) {
        s0 += C[ci + j] * P[p0 + j];
        s1 += C[ci + j + 1] * P[p0 + j + 1];
      }
      if (j < d) s0 += C[ci + j] * P[p0 + j];
      Y[p0 + i] = s0 + s1 + lambda * P[p0 + i];
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
 * and saves one pass for the start. Null when `B + λI` is not positive
 * definite or the iteration does not converge; the caller then factors.
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
  const b = new Float64Array(k * d);
  for (let i = 0; i < d; i++) for (let q = 0; q < k; q++) b[q * d + i] = R[i * k + q];
  // x₀ = M⁻¹ R.
  const x = new Float64Array(k * d);
  if (rotatedR != null) {
    for (let i = 0; i < d; i++) for (let q = 0; q < k; q++) x[q * d + i] = rotatedR[i * k + q];
    precondition(x, true);
  } else {
    x.set(b);
    precondition(x, false);
  }
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
    if (done) return {x: rowsToColumns(x, d, k), iterations: it};
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

/** k×d (one vector per row) to d×k row-major. */
function rowsToColumns(v: Float64Array, d: number, k: number): Float64Array {
  const out = new Float64Array(d * k);
  for (let i = 0; i < d; i++) for (let q = 0; q < k; q++) out[i * k + q] = v[q * d + i];
  return out;
}
