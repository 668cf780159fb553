/**
 * Dense symmetric positive-definite solves in float64 (row-major Float64Array).
 *
 * tfjs has no Cholesky or linear solve, so the small d×d systems of ER are
 * solved here, on the CPU, in double precision. The factorisation is a
 * left-looking blocked Cholesky whose bulk (the update of each block column by
 * the columns already factored) runs as 4×2-register-tiled dot products of
 * contiguous rows; see `bench/solve.ts` for the measurement against ml-matrix.
 */

import {ERNumericalError} from './errors';

const BLOCK = 48;
/** Relative pivot threshold below which a matrix counts as singular. */
const PIVOT_TOL = 1e-10;

/**
 * In-place Cholesky `A = L Lᵀ` of the n×n row-major matrix `a` (only the lower
 * triangle is read; L overwrites it, the strict upper triangle is zeroed
 * unless `zeroUpper` is false, when it is left untouched). Returns false
 * (leaving the lower triangle partly overwritten) if A is not positive
 * definite, i.e. a pivot falls below 1e-10 of its diagonal entry (the Grams
 * come from float32 sums, so anything smaller is rounding noise).
 */
export function choleskyInPlace(a: Float64Array, n: number, zeroUpper = true): boolean {
  for (let jb = 0; jb < n; jb += BLOCK) {
    const je = Math.min(jb + BLOCK, n);
    if (jb > 0) updatePanel(a, n, jb, je, 0, 1);
    if (!factorDiagonalBlock(a, n, jb, je)) return false;
    solvePanel(a, n, jb, je, 0, 1);
  }
  if (zeroUpper) for (let i = 0; i < n; i++) a.fill(0, i * n + i + 1, (i + 1) * n);
  return true;
}

/** Columns per block of {@link choleskyInPlace} (and of the shared factorisation). */
export const CHOLESKY_BLOCK = BLOCK;

/**
 * Step 1 of block column [jb, je), for the rows of part `part` of `parts`
 * (tiles of 4 rows from jb, dealt in turn): A[i][j] -= dot(L[i][0:jb],
 * L[j][0:jb]) for i >= jb, j in [jb, min(je, i+1)). Tiles of 4 rows × 2
 * columns: 8 accumulators fed by 6 loads per k (a 2×2 tile needs 4 loads for
 * 4), which V8 keeps in registers (docs/performance.md).
 */
export function updatePanel(a: Float64Array, n: number, jb: number, je: number, part: number, parts: number): void {
  const kEnd = jb;
  let i = jb + 4 * part;
  for (; i + 3 < n; i += 4 * parts) {
    const r0 = i * n, r1 = r0 + n, r2 = r1 + n, r3 = r2 + n;
    const jMax = Math.min(je, i + 4);  // row i+3 needs j <= i+3
    for (let j = jb; j < jMax; j += 2) {
      const c0 = j * n;
      const pair = j + 1 < jMax;
      const c1 = pair ? c0 + n : c0;
      let s00 = 0, s01 = 0, s10 = 0, s11 = 0, s20 = 0, s21 = 0, s30 = 0, s31 = 0;
      for (let k = 0; k < kEnd; k++) {
        const y0 = a[c0 + k], y1 = a[c1 + k];
        const x0 = a[r0 + k], x1 = a[r1 + k], x2 = a[r2 + k], x3 = a[r3 + k];
        s00 += x0 * y0; s01 += x0 * y1; s10 += x1 * y0; s11 += x1 * y1;
        s20 += x2 * y0; s21 += x2 * y1; s30 += x3 * y0; s31 += x3 * y1;
      }
      // only the lower triangle (j <= row) is updated
      if (j <= i) a[r0 + j] -= s00;
      if (j <= i + 1) a[r1 + j] -= s10;
      if (j <= i + 2) a[r2 + j] -= s20;
      a[r3 + j] -= s30;
      if (pair) {
        const j1 = j + 1;
        if (j1 <= i) a[r0 + j1] -= s01;
        if (j1 <= i + 1) a[r1 + j1] -= s11;
        if (j1 <= i + 2) a[r2 + j1] -= s21;
        a[r3 + j1] -= s31;
      }
    }
  }
  // the last rows (fewer than 4) form the next tile: i < n only if it is this part's
  for (; i < n; i++) {
    const r0 = i * n;
    const jMax = Math.min(je, i + 1);
    for (let j = jb; j < jMax; j++) {
      const c0 = j * n;
      let s = 0;
      for (let k = 0; k < kEnd; k++) s += a[r0 + k] * a[c0 + k];
      a[r0 + j] -= s;
    }
  }
}

/**
 * Step 2: factors the diagonal block [jb, je) (already updated by step 1) in
 * place. False if a pivot falls below 1e-10 of its diagonal entry (the Grams
 * come from float32 sums, so anything smaller is rounding noise) or is not finite.
 */
export function factorDiagonalBlock(a: Float64Array, n: number, jb: number, je: number): boolean {
  for (let j = jb; j < je; j++) {
    const rj = j * n;
    const ajj = a[rj + j];
    let d = ajj;
    for (let k = jb; k < j; k++) d -= a[rj + k] * a[rj + k];
    if (!(d > PIVOT_TOL * ajj) || !Number.isFinite(d)) return false;
    const ljj = Math.sqrt(d);
    a[rj + j] = ljj;
    const inv = 1 / ljj;
    for (let i = j + 1; i < je; i++) {
      const ri = i * n;
      let s = a[ri + j];
      for (let k = jb; k < j; k++) s -= a[ri + k] * a[rj + k];
      a[ri + j] = s * inv;
    }
  }
  return true;
}

/**
 * Step 3: the block column's rows below the diagonal block, for the rows of
 * part `part` of `parts` (the tiles of {@link updatePanel}): row i solves
 * against the factored diagonal block, L[i][jb:je] = A[i][jb:je] L_jj⁻ᵀ.
 */
export function solvePanel(a: Float64Array, n: number, jb: number, je: number, part: number, parts: number): void {
  const inv = new Float64Array(je - jb);
  for (let j = jb; j < je; j++) inv[j - jb] = 1 / a[j * n + j];
  for (let i = je; i < n; i++) {
    if (parts > 1 && ((i - jb) >> 2) % parts !== part) continue;
    const ri = i * n;
    for (let j = jb; j < je; j++) {
      const rj = j * n;
      let s = a[ri + j];
      for (let k = jb; k < j; k++) s -= a[ri + k] * a[rj + k];
      a[ri + j] = s * inv[j - jb];
    }
  }
}

/**
 * Solves `L Lᵀ X = B` in place for B (n×m row-major) given the Cholesky factor
 * L from {@link choleskyInPlace}. On return B holds X. Each row of B is
 * updated by four solved rows at a time (one load and store of the target per
 * four multiply-adds instead of per one).
 */
export function choleskySolveInPlace(l: Float64Array, n: number, b: Float64Array,
                                     m: number): void {
  // Forward: L Y = B, row by row: B[i] -= Σ_{k<i} L[i][k] B[k], then / L[i][i].
  for (let i = 0; i < n; i++) {
    const ri = i * m, li = i * n;
    let k = 0;
    for (; k + 3 < i; k += 4) {
      combine4(b, ri, k * m, m, l[li + k], l[li + k + 1], l[li + k + 2], l[li + k + 3]);
    }
    for (; k < i; k++) axpy(b, ri, k * m, m, l[li + k]);
    const inv = 1 / l[li + i];
    for (let q = 0; q < m; q++) b[ri + q] *= inv;
  }
  // Backward: Lᵀ X = Y: B[i] -= Σ_{k>i} L[k][i] B[k], then / L[i][i].
  for (let i = n - 1; i >= 0; i--) {
    const ri = i * m;
    let k = i + 1;
    for (; k + 3 < n; k += 4) {
      combine4(b, ri, k * m, m, l[k * n + i], l[(k + 1) * n + i], l[(k + 2) * n + i], l[(k + 3) * n + i]);
    }
    for (; k < n; k++) axpy(b, ri, k * m, m, l[k * n + i]);
    const inv = 1 / l[i * n + i];
    for (let q = 0; q < m; q++) b[ri + q] *= inv;
  }
}

/** B[ri + q] -= c0·B[r0 + q] + c1·B[r0 + m + q] + c2·B[r0 + 2m + q] + c3·B[r0 + 3m + q]. */
function combine4(b: Float64Array, ri: number, r0: number, m: number,
                  c0: number, c1: number, c2: number, c3: number): void {
  if (c0 === 0 && c1 === 0 && c2 === 0 && c3 === 0) return;
  const r1 = r0 + m, r2 = r1 + m, r3 = r2 + m;
  for (let q = 0; q < m; q++) {
    b[ri + q] -= c0 * b[r0 + q] + c1 * b[r1 + q] + c2 * b[r2 + q] + c3 * b[r3 + q];
  }
}

/** B[ri + q] -= c·B[rk + q]. */
function axpy(b: Float64Array, ri: number, rk: number, m: number, c: number): void {
  if (c === 0) return;
  for (let q = 0; q < m; q++) b[ri + q] -= c * b[rk + q];
}

/** Copies the lower triangle onto the upper one: A ← (A + Aᵀ)/2. */
export function symmetrize(a: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const v = 0.5 * (a[i * n + j] + a[j * n + i]);
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
  }
}

/** How many times a singular system's ridge is raised before giving up. */
export const MAX_RIDGE_RAISES = 12;

/** The next ridge to try after `shift` failed: ×10, from 1e-10 × the mean diagonal if it was ~0. */
export function raisedShift(shift: number, meanDiag: number): number {
  return Math.max(shift * 10, 1e-10 * meanDiag);
}

/** Result of {@link solveSPD}. */
export interface SPDSolveResult {
  /** The solution X (n×m, row-major). */
  x: Float64Array;
  /** The Cholesky factor of the matrix actually solved (with the shift added). */
  factor: Float64Array;
  /** The diagonal shift finally used (the requested one, raised if needed). */
  shift: number;
  /** How many times the shift had to be raised to reach positive definiteness. */
  raises: number;
}

/**
 * Solves `(A + shift·I) X = B` for symmetric A (n×n) and B (n×m). If the matrix
 * is not numerically positive definite the shift is raised (×10, starting from
 * 1e-10 × the mean diagonal if it was ~0) until it is, up to 12 times; the
 * number of raises is returned so callers can report it. A and B are not modified.
 */
export function solveSPD(a: Float64Array, n: number, b: Float64Array, m: number,
                         shift: number): SPDSolveResult {
  return solveSPDInPlace(new Float64Array(a), n, b, m, shift);
}

/**
 * A solve's request to factor `matrix` (n×n row-major, lower triangle) in
 * place by {@link choleskyInPlace} (strict upper triangle untouched); the
 * answer is whether it was positive definite. Whoever runs the solve may do
 * it on several threads (see `spd_shared.ts`).
 */
export interface FactorRequest {
  kind: 'factor';
  matrix: Float64Array;
  n: number;
}

/** A solve written as steps that ask for their factorisations (answered true or false). */
export type FactorSteps<T> = Generator<FactorRequest, T, unknown>;

/** Answers a {@link FactorRequest} in this thread. */
export function factorRequest(request: FactorRequest): boolean {
  return choleskyInPlace(request.matrix, request.n, false);
}

/** Runs `steps`, factoring every matrix in this thread. */
export function factorHere<T>(steps: FactorSteps<T>): T {
  let r = steps.next();
  while (!r.done) r = steps.next(factorRequest(r.value));
  return r.value;
}

/**
 * {@link solveSPD} without the copy of A: A (exactly symmetric) becomes the
 * factor, so a d×d system needs one d² array instead of two (128 MB less at
 * d = 4000). The factor's strict upper triangle keeps A's values (the solves
 * read only the lower one); after a failed attempt the lower triangle is
 * restored from it. B is not modified.
 */
export function solveSPDInPlace(a: Float64Array, n: number, b: Float64Array, m: number,
                                shift: number): SPDSolveResult {
  return factorHere(solveSPDSteps(a, n, b, m, shift));
}

/** {@link solveSPDInPlace} as steps: the factorisations are asked for (see {@link FactorRequest}). */
export function* solveSPDSteps(a: Float64Array, n: number, b: Float64Array, m: number,
                               shift: number): FactorSteps<SPDSolveResult> {
  const diag = new Float64Array(n);
  let meanDiag = 0;
  for (let i = 0; i < n; i++) {
    diag[i] = a[i * n + i];
    meanDiag += Math.abs(diag[i]);
  }
  meanDiag = meanDiag / Math.max(n, 1) || 1;
  let s = shift;
  for (let raises = 0; raises <= MAX_RIDGE_RAISES; raises++) {
    if (raises > 0) {
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < i; j++) a[i * n + j] = a[j * n + i];
      }
    }
    for (let i = 0; i < n; i++) a[i * n + i] = diag[i] + s;
    if ((yield {kind: 'factor', matrix: a, n}) === true) {
      const x = new Float64Array(b);
      choleskySolveInPlace(a, n, x, m);
      return {x, factor: a, shift: s, raises};
    }
    s = raisedShift(s, meanDiag);
  }
  throw new ERNumericalError(
      `solveSPD: the ${n}×${n} system stayed indefinite after raising the ` +
      `ridge to ${s}; the statistics are not finite or not a covariance`);
}
