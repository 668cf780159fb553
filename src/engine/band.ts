/**
 * Blocked reduction of a symmetric matrix to band form, `A ≈ Q B Qᵀ` with B of
 * half-bandwidth `w`, in float32 on the tfjs backend, and solves with `B + λI`
 * in float64 in O(n·w²) for any λ.
 *
 * Used by `alpha: 'auto'` to score the GCV grid: nearly every flop of the
 * reduction is in two matrix products per block of `w` columns (`A·V` and one
 * rank-2w update), which a fast backend (wasm, webgl, tensorflow) runs several
 * times faster than float64 JavaScript. Float32 perturbs the eigenvalues by
 * about ε₃₂·‖A‖: good for comparing GCV scores, not for the solution, which
 * the caller solves at the chosen α in float64.
 */
import * as tf from '@tensorflow/tfjs-core';
import {ShiftedSolve} from './tridiagonal';
import {subMatrix} from './window';

/** `A ≈ Q B Qᵀ` with B banded, and `Qᵀ R` for the right-hand sides R given. */
export interface BandForm {
  n: number;
  /** Half-bandwidth. */
  w: number;
  /** B's lower band: `band[i·(w+1) + t] = B[i][i−t]`, t = 0 … w. */
  band: Float64Array;
  /** `Qᵀ R`, n×k row-major. */
  rotated: Float64Array;
  /** Q's blocks of reflectors in order (kept when asked for): block b acts on rows `offset …` n−1. */
  reflectors?: Array<{offset: number} & Reflectors>;
}

/** The half-bandwidth (columns per block). */
export const BAND_WIDTH = 16;

/** The narrowest matrix reduced on the backend by default; below it the float64 tridiagonal reduction is faster (docs/performance.md). */
export const BAND_MIN_WIDTH = 576;

/** Where `alpha: 'auto'` scores on the band form; benchmarks and specs move the threshold to compare the two forms. */
export const bandScoring = {
  /** The narrowest Gram scored on the band form (Infinity: never). */
  minWidth: BAND_MIN_WIDTH,
};

/** Rows per column a Gram needs to be scored on the band form (see {@link useBandScoring}). */
export const BAND_MIN_ROWS_PER_COLUMN = 2;

/**
 * Whether an n×n Gram of `rows` rows is scored on the band form: n ≥
 * `bandScoring.minWidth`, at least {@link BAND_MIN_ROWS_PER_COLUMN}·n rows,
 * and a backend whose float32 products are fast (wasm, tensorflow, webgpu, or
 * webgl with float32 textures). The cpu backend's products are slower than the
 * float64 reduction in JavaScript. With fewer rows the Gram is singular or
 * nearly so, and float32 rounding turns its zero eigenvalues into noise of
 * about the smallest ridges of the grid, which moves their scores.
 */
export function useBandScoring(n: number, rows: number): boolean {
  if (n < bandScoring.minWidth || rows < BAND_MIN_ROWS_PER_COLUMN * n) return false;
  const backend = tf.getBackend();
  if (backend === 'wasm' || backend === 'tensorflow' || backend === 'webgpu') return true;
  return backend === 'webgl' && tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED');
}

/**
 * Reduces the symmetric n×n row-major `a` (float64, not modified) to band
 * form on the active tfjs backend, rotating the n×k `rhs` alongside; with
 * `keepReflectors` the form keeps Q's reflectors (for the refinement of
 * band_refine.ts). Every tensor it makes is disposed, also when it throws.
 */
export function bandReduce(a: Float64Array, n: number, rhs: Float64Array, k: number, w = BAND_WIDTH,
                           keepReflectors = false): BandForm {
  const bw = w + 1;
  const band = new Float64Array(n * bw), rotated = new Float64Array(n * k);
  const reflectors: Array<{offset: number} & Reflectors>|undefined = keepReflectors ? [] : undefined;
  let cur = tf.tensor2d(Float32Array.from(a), [n, n]), r: tf.Tensor2D;
  try {
    r = tf.tensor2d(Float32Array.from(rhs), [n, k]);
  } catch (e) {
    cur.dispose();
    throw e;
  }
  try {
    for (let j = 0; j < n; j += w) {
      const s = n - j, cols = Math.min(w, s), m = s - cols;
      if (m === 0) {
        // The last block is all band.
        const P = cur.dataSync() as Float32Array;
        for (let c = 0; c < cols; c++) {
          for (let q = c; q < cols; q++) band[(j + q) * bw + (q - c)] = P[c * s + q];
        }
        rotated.set(r.dataSync(), j * k);
        break;
      }
      // The block's first `cols` rows: by symmetry, its first columns, column-major.
      const top = subMatrix(cur, 0, 0, cols, s);
      let P: Float32Array;
      try {
        P = top.dataSync() as Float32Array;
      } finally {
        top.dispose();
      }
      for (let c = 0; c < cols; c++) {
        for (let q = c; q < cols; q++) band[(j + q) * bw + (q - c)] = P[c * s + q];
      }
      const panel = new Float64Array(m * cols);  // column-major
      for (let c = 0; c < cols; c++) {
        for (let q = 0; q < m; q++) panel[c * m + q] = P[c * s + cols + q];
      }
      const block = householderQR(panel, m, cols);
      if (reflectors != null && block.count > 0) reflectors.push({offset: j + cols, ...block});
      // Below the diagonal block: B[j+cols+q][j+c] = R[q][c], q ≤ c.
      for (let c = 0; c < cols; c++) {
        for (let q = 0; q <= Math.min(c, m - 1); q++) band[(j + cols + q) * bw + (cols + q - c)] = panel[c * m + q];
      }
      const A: tf.Tensor2D = cur, R: tf.Tensor2D = r;
      const next: {a: tf.Tensor2D, r: tf.Tensor2D} = tf.tidy(() => {
        const rTop = subMatrix(R, 0, 0, cols, k);
        rotated.set(rTop.dataSync(), j * k);
        const a22 = subMatrix(A, cols, cols, m, m), r2 = subMatrix(R, cols, 0, m, k);
        return block.count === 0 ? {a: a22, r: r2} : twoSided(a22, r2, block, m);
      });
      A.dispose();
      R.dispose();
      cur = next.a;
      r = next.r;
    }
  } finally {
    cur.dispose();
    r.dispose();
  }
  return {n, w, band, rotated, reflectors};
}

/** `Hᵀ A H` and `Hᵀ R` for `H = I − V T Vᵀ` and symmetric A. */
function twoSided(A: tf.Tensor2D, R: tf.Tensor2D, block: Reflectors, m: number): {a: tf.Tensor2D, r: tf.Tensor2D} {
  const {count} = block;
  const Vt = tf.tensor2d(block.V, [count, m]);
  const V = tf.transpose(Vt) as tf.Tensor2D;
  const T = tf.tensor2d(block.T, [count, count]);
  const Tt = tf.transpose(T) as tf.Tensor2D;
  // Y = A V T; M = Tᵀ Vᵀ Y; W = Y − ½ V M; Hᵀ A H = A − W Vᵀ − V Wᵀ.
  const Y = tf.matMul(tf.matMul(A, V), T);
  const M = tf.matMul(Tt, tf.matMul(Vt, Y));
  const W = tf.sub(Y, tf.mul(tf.matMul(V, M), 0.5)) as tf.Tensor2D;
  const left = tf.concat([W, V], 1) as tf.Tensor2D;
  const right = tf.concat([Vt, tf.transpose(W)], 0) as tf.Tensor2D;
  const r = tf.sub(R, tf.matMul(V, tf.matMul(Tt, tf.matMul(Vt, R)))) as tf.Tensor2D;
  return {a: tf.sub(A, tf.matMul(left, right)), r};
}

/** A block of Householder reflectors `H = I − V T Vᵀ` (float32, for the backend). */
interface Reflectors {
  count: number;
  /** Vᵀ, count×m row-major (V, m×count, is unit lower trapezoidal). */
  V: Float32Array;
  /** T, count×count row-major, upper triangular. */
  T: Float32Array;
}

/**
 * Householder QR of the m×c column-major `p` (overwritten: its upper triangle
 * becomes R), in float64, with the compact-WY T (LAPACK's dgeqrt). Each
 * reflector is applied to four columns at a time (independent sums).
 */
export function householderQR(p: Float64Array, m: number, c: number): Reflectors {
  const count = Math.max(0, Math.min(c, m - 1));
  // V column-major (count columns of length m), unit lower trapezoidal.
  const V = new Float64Array(m * count), tau = new Float64Array(count);
  for (let q = 0; q < count; q++) {
    const pq = q * m;
    let norm2 = 0;
    for (let i = q + 1; i < m; i++) norm2 += p[pq + i] * p[pq + i];
    const alpha = p[pq + q];
    V[pq + q] = 1;
    if (norm2 === 0) continue;  // nothing below the diagonal: no reflection (τ 0)
    const norm = Math.sqrt(norm2 + alpha * alpha);
    const beta = alpha >= 0 ? -norm : norm;
    const scale = 1 / (alpha - beta);
    for (let i = q + 1; i < m; i++) {
      V[pq + i] = p[pq + i] * scale;
      p[pq + i] = 0;
    }
    const t = (beta - alpha) / beta;
    tau[q] = t;
    p[pq + q] = beta;
    // The remaining columns: p_cc −= τ (vᵀ p_cc) v.
    let cc = q + 1;
    for (; cc + 3 < c; cc += 4) {
      const c0 = cc * m, c1 = c0 + m, c2 = c1 + m, c3 = c2 + m;
      let s0 = p[c0 + q], s1 = p[c1 + q], s2 = p[c2 + q], s3 = p[c3 + q];
      for (let i = q + 1; i < m; i++) {
        const v = V[pq + i];
        s0 += v * p[c0 + i];
        s1 += v * p[c1 + i];
        s2 += v * p[c2 + i];
        s3 += v * p[c3 + i];
      }
      s0 *= t; s1 *= t; s2 *= t; s3 *= t;
      p[c0 + q] -= s0; p[c1 + q] -= s1; p[c2 + q] -= s2; p[c3 + q] -= s3;
      for (let i = q + 1; i < m; i++) {
        const v = V[pq + i];
        p[c0 + i] -= s0 * v;
        p[c1 + i] -= s1 * v;
        p[c2 + i] -= s2 * v;
        p[c3 + i] -= s3 * v;
      }
    }
    for (; cc < c; cc++) {
      const c0 = cc * m;
      let s0 = p[c0 + q];
      for (let i = q + 1; i < m; i++) s0 += V[pq + i] * p[c0 + i];
      s0 *= t;
      p[c0 + q] -= s0;
      for (let i = q + 1; i < m; i++) p[c0 + i] -= s0 * V[pq + i];
    }
  }
  // T[q][q] = τ_q, T[0:q, q] = −τ_q T[0:q, 0:q] G[0:q, q] with G = VᵀV.
  const G = new Float64Array(count * count);
  for (let a = 0; a < count; a++) {
    const va = a * m;
    for (let b = a + 1; b < count; b++) {
      const vb = b * m;
      let s0 = 0, s1 = 0, i = b;  // v_b is zero above row b
      for (; i + 1 < m; i += 2) {
        s0 += V[va + i] * V[vb + i];
        s1 += V[va + i + 1] * V[vb + i + 1];
      }
      if (i < m) s0 += V[va + i] * V[vb + i];
      G[a * count + b] = s0 + s1;
    }
  }
  const T = new Float64Array(count * count);
  for (let q = 0; q < count; q++) {
    for (let i = 0; i < q; i++) {
      let acc = 0;
      for (let l = i; l < q; l++) acc += T[i * count + l] * G[l * count + q];
      T[i * count + q] = -tau[q] * acc;
    }
    T[q * count + q] = tau[q];
  }
  return {count, V: Float32Array.from(V), T: Float32Array.from(T)};
}

/**
 * The banded Cholesky factor of `B + λI`, in the band's layout
 * (`L[i·(w+1) + t] = L[i][i−t]`); null when `B + λI` is not numerically
 * positive definite (a pivot below `pivotTol` of its diagonal).
 */
export function bandCholesky(form: BandForm, lambda: number, pivotTol = 1e-10): Float64Array|null {
  const {n, w, band} = form;
  const bw = w + 1;
  // L[i][i−t] in the band's layout.
  const L = new Float64Array(n * bw);
  for (let i = 0; i < n; i++) {
    const lo = Math.max(0, i - w), ri = i * bw + i;
    for (let j = lo; j <= i; j++) {
      const rj = j * bw + j;
      // s = B[i][j] − Σ_{lo ≤ q < j} L[i][q] L[j][q]; L[x][q] = L[x·bw + x − q].
      let s0 = band[ri - j] + (i === j ? lambda : 0), s1 = 0;
      let q = lo;
      for (; q + 1 < j; q += 2) {
        s0 -= L[ri - q] * L[rj - q];
        s1 -= L[ri - q - 1] * L[rj - q - 1];
      }
      if (q < j) s0 -= L[ri - q] * L[rj - q];
      const s = s0 + s1;
      if (i === j) {
        const aii = band[i * bw] + lambda;
        if (!(s > pivotTol * Math.abs(aii)) || !Number.isFinite(s)) return null;
        L[i * bw] = Math.sqrt(s);
      } else {
        L[ri - j] = s / L[j * bw];
      }
    }
  }
  return L;
}

/** The transpose of the rows×cols row-major `a`, as a new array. */
export function transposed(a: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j];
  return out;
}

/** `X ← (L Lᵀ)⁻¹ X` for the banded factor L of {@link bandCholesky}; X is k×n, one right-hand side per row. */
export function solveBandFactored(L: Float64Array, n: number, w: number, X: Float64Array, k: number): void {
  const bw = w + 1;
  for (let q = 0; q < k; q++) {
    const o = q * n;
    for (let i = 0; i < n; i++) {
      const ri = i * bw + i;
      let s0 = X[o + i], s1 = 0, j = Math.max(0, i - w);
      for (; j + 1 < i; j += 2) {
        s0 -= L[ri - j] * X[o + j];
        s1 -= L[ri - j - 1] * X[o + j + 1];
      }
      if (j < i) s0 -= L[ri - j] * X[o + j];
      X[o + i] = (s0 + s1) / L[i * bw];
    }
    for (let i = n - 1; i >= 0; i--) {
      const v = X[o + i] / L[i * bw], ri = i * bw + i;
      X[o + i] = v;
      for (let j = Math.max(0, i - w); j < i; j++) X[o + j] -= L[ri - j] * v;
    }
  }
}

/**
 * Solves `(B + λI) X = R` by the banded Cholesky factor of `B + λI`
 * (O(n·w²)), and gives `tr (B + λI)⁻¹` from the same factor by the selected
 * inversion of the band (Takahashi's recurrence, O(n·w²)). Null when B + λI is
 * not numerically positive definite (a pivot below `pivotTol` of its diagonal).
 */
export function solveBandShifted(form: BandForm, lambda: number, rhs: Float64Array, k: number,
                                 pivotTol = 1e-10): ShiftedSolve|null {
  const {n, w} = form;
  const bw = w + 1;
  const L = bandCholesky(form, lambda, pivotTol);
  if (L == null) return null;
  // Substitutions on the right-hand sides as rows (each contiguous).
  const cols = transposed(rhs, n, k);
  solveBandFactored(L, n, w, cols, k);
  const x = transposed(cols, k, n);
  // Z = (L Lᵀ)⁻¹ on the band, rows from the last: for i ≤ j ≤ i+w,
  // Z[i][j] = (δij/Lii − Σ_{q>i} L[q][i] Z[q][j]) / Lii, kept as the upper
  // band U[i·(w+1) + t] = Z[i][i+t]. The sums over q are one symmetric
  // product of the window Z[i+1 … i+w][i+1 … i+w] with L's column i, read
  // from the window's upper band rows.
  const U = new Float64Array(n * bw), li = new Float64Array(bw), acc = new Float64Array(bw);
  let traceInverse = 0;
  for (let i = n - 1; i >= 0; i--) {
    const hi = Math.min(n - 1, i + w), lii = L[i * bw], span = hi - i;
    for (let t = 1; t <= span; t++) li[t] = L[(i + t) * bw + t];
    acc.fill(0, 0, span + 1);
    for (let a = 1; a <= span; a++) {
      const row = (i + a) * bw, la = li[a];
      let own = la * U[row];
      for (let t = 1; t <= span - a; t++) {
        const z = U[row + t];
        acc[a + t] += la * z;
        own += li[a + t] * z;
      }
      acc[a] += own;
    }
    const ui = i * bw;
    let diag = 1 / lii;
    for (let t = 1; t <= span; t++) {
      const z = -acc[t] / lii;
      U[ui + t] = z;
      diag -= li[t] * z;
    }
    U[ui] = diag / lii;
    traceInverse += U[ui];
  }
  return {x, traceInverse};
}
