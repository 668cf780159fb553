/**
 * Householder reduction of a symmetric matrix to tridiagonal form,
 * `A = Q T Qᵀ`, and solves with `T + λI` for any λ in O(n) per column.
 *
 * Used by `alpha: 'auto'`: one reduction (4n³/3 flops) gives the ridge fit,
 * its residual and its degrees of freedom for every λ of the grid, where a
 * Cholesky per λ would cost n³/3 each plus n³/3 for the trace of the inverse.
 * Rows of the row-major matrix are used as columns (A is symmetric), so every
 * inner loop runs over contiguous memory.
 */

/** `A = Q T Qᵀ`: T's two diagonals and Q as Householder reflectors. */
export interface TridiagonalForm {
  n: number;
  /** T's diagonal. */
  diag: Float64Array;
  /** T's off-diagonal: `off[i] = T[i][i+1]` (the last entry is unused). */
  off: Float64Array;
  /** Reflector i's vector in row i, columns i+1 … n−1 (its first entry is 1). */
  vectors: Float64Array;
  /** Reflector i is `I − tau[i]·v vᵀ` (0: no reflection). */
  tau: Float64Array;
}

/**
 * Reduces the symmetric n×n row-major `a` (only its upper triangle, j ≥ i, is
 * read) to `Qᵀ a Q = T`. `a` is overwritten: it becomes the reflectors'
 * storage. Each step updates the trailing block and, in the same sweep over
 * its rows, accumulates the next step's product `A v` (one pass over memory
 * per step instead of two).
 */
export function tridiagonalizeInPlace(a: Float64Array, n: number): TridiagonalForm {
  const diag = new Float64Array(n), off = new Float64Array(n), tau = new Float64Array(n);
  const p = new Float64Array(n), w = new Float64Array(n);
  if (n === 0) return {n, diag, off, vectors: a, tau};
  // The first reflector and its product A v are made before the loop; inside
  // it, step i's rank-2 update is fused with step i+1's product.
  let havePv = reflect(a, n, 0, diag, off, tau);
  if (havePv) symv(a, n, 0, p);
  for (let i = 0; i < n - 1; i++) {
    const ri = i * n, m0 = i + 1;
    const t = tau[i];
    if (t === 0) {
      // No reflection: the trailing block is unchanged.
      if (m0 < n - 1) {
        havePv = reflect(a, n, m0, diag, off, tau);
        if (havePv) symv(a, n, m0, p);
      }
      continue;
    }
    // w = t·A v − (t²/2)(vᵀA v) v, from p = A v.
    let pv = 0;
    for (let r = m0; r < n; r++) {
      p[r] *= t;
      pv += p[r] * a[ri + r];
    }
    const half = 0.5 * t * pv;
    for (let r = m0; r < n; r++) w[r] = p[r] - half * a[ri + r];
    // Row m0 first: the next reflector comes from it.
    {
      const rr = m0 * n, vr = a[ri + m0], wr = w[m0];
      for (let c = m0; c < n; c++) a[rr + c] -= vr * w[c] + wr * a[ri + c];
    }
    const next = m0;
    const nextHas = next < n - 1 ? reflect(a, n, next, diag, off, tau) : false;
    if (!nextHas) {
      // Plain update of the remaining rows.
      for (let r = m0 + 1; r < n; r++) {
        const rr = r * n, vr = a[ri + r], wr = w[r];
        for (let c = r; c < n; c++) a[rr + c] -= vr * w[c] + wr * a[ri + c];
      }
      continue;
    }
    // Fused: update rows r > m0 (A −= v wᵀ + w vᵀ) and accumulate p = A u for
    // the next reflector's vector u (row `next`, columns > next).
    p.fill(0, next + 1, n);
    fusedSweep(a, n, ri, w, next * n, p, next + 1);
  }
  diag[n - 1] = a[(n - 1) * n + n - 1];
  return {n, diag, off, vectors: a, tau};
}

/**
 * For rows r ≥ lo (upper triangle): `A[r][c] −= v_r w_c + w_r v_c` (v in row
 * offset `ri`), then `p += A u` (u in row offset `rn`) with the new values.
 * Four rows at a time, so each column's w, v, u and p are loaded once per
 * four rows (the loop is bound by memory operations, not flops).
 */
function fusedSweep(a: Float64Array, n: number, ri: number, w: Float64Array, rn: number, p: Float64Array,
                    lo: number): void {
  let r = lo;
  for (; r + 4 <= n; r += 4) {
    const o0 = r * n, o1 = o0 + n, o2 = o1 + n, o3 = o2 + n;
    const v0 = a[ri + r], v1 = a[ri + r + 1], v2 = a[ri + r + 2], v3 = a[ri + r + 3];
    const w0 = w[r], w1 = w[r + 1], w2 = w[r + 2], w3 = w[r + 3];
    const u0 = a[rn + r], u1 = a[rn + r + 1], u2 = a[rn + r + 2], u3 = a[rn + r + 3];
    // The 4×4 triangle on the diagonal, entry by entry.
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let j = 0; j < 4; j++) {
      const oj = o0 + j * n, rj = r + j, vj = a[ri + rj], wj = w[rj], uj = a[rn + rj];
      let sj = 0;
      for (let c = rj; c < r + 4; c++) {
        const x = a[oj + c] - vj * w[c] - wj * a[ri + c];
        a[oj + c] = x;
        sj += x * a[rn + c];
        if (c > rj) p[c] += x * uj;
      }
      if (j === 0) s0 = sj; else if (j === 1) s1 = sj; else if (j === 2) s2 = sj; else s3 = sj;
    }
    for (let c = r + 4; c < n; c++) {
      const wc = w[c], vc = a[ri + c], uc = a[rn + c];
      const x0 = a[o0 + c] - v0 * wc - w0 * vc;
      const x1 = a[o1 + c] - v1 * wc - w1 * vc;
      const x2 = a[o2 + c] - v2 * wc - w2 * vc;
      const x3 = a[o3 + c] - v3 * wc - w3 * vc;
      a[o0 + c] = x0;
      a[o1 + c] = x1;
      a[o2 + c] = x2;
      a[o3 + c] = x3;
      s0 += x0 * uc;
      s1 += x1 * uc;
      s2 += x2 * uc;
      s3 += x3 * uc;
      p[c] += x0 * u0 + x1 * u1 + x2 * u2 + x3 * u3;
    }
    p[r] += s0;
    p[r + 1] += s1;
    p[r + 2] += s2;
    p[r + 3] += s3;
  }
  for (; r < n; r++) {
    const rr = r * n, vr = a[ri + r], wr = w[r], ur = a[rn + r];
    let x = a[rr + r] - 2 * vr * wr;
    a[rr + r] = x;
    let s = x * ur;
    for (let c = r + 1; c < n; c++) {
      x = a[rr + c] - vr * w[c] - wr * a[ri + c];
      a[rr + c] = x;
      s += x * a[rn + c];
      p[c] += x * ur;
    }
    p[r] += s;
  }
}

/**
 * Makes reflector i from row i (columns > i): records T's entries, stores the
 * vector in place. Returns whether it reflects (false when the row is already
 * reduced; then the vector is e₁ and tau 0).
 */
function reflect(a: Float64Array, n: number, i: number, diag: Float64Array, off: Float64Array,
                 tau: Float64Array): boolean {
  const ri = i * n, m0 = i + 1;
  diag[i] = a[ri + i];
  if (m0 >= n) return false;
  let tail = 0;
  for (let c = m0 + 1; c < n; c++) tail += a[ri + c] * a[ri + c];
  const alpha = a[ri + m0];
  if (tail === 0) {
    off[i] = alpha;
    tau[i] = 0;
    a[ri + m0] = 1;
    return false;
  }
  const beta = (alpha >= 0 ? -1 : 1) * Math.sqrt(alpha * alpha + tail);
  tau[i] = (beta - alpha) / beta;
  off[i] = beta;
  const scale = 1 / (alpha - beta);
  a[ri + m0] = 1;
  for (let c = m0 + 1; c < n; c++) a[ri + c] *= scale;
  return true;
}

/** p = A v over the trailing block (rows/columns > i, upper triangle) for reflector i's v. */
function symv(a: Float64Array, n: number, i: number, p: Float64Array): void {
  const ri = i * n;
  p.fill(0, i + 1, n);
  for (let r = i + 1; r < n; r++) {
    const rr = r * n, vr = a[ri + r];
    let s = a[rr + r] * vr;
    for (let c = r + 1; c < n; c++) {
      const x = a[rr + c];
      s += x * a[ri + c];
      p[c] += x * vr;
    }
    p[r] += s;
  }
}

/** B ← Qᵀ B for B n×k row-major (B is overwritten). */
export function applyQt(form: TridiagonalForm, b: Float64Array, k: number): void {
  for (let i = 0; i < form.n - 1; i++) reflectRows(form, i, b, k);
}

/** B ← Q B for B n×k row-major (B is overwritten). */
export function applyQ(form: TridiagonalForm, b: Float64Array, k: number): void {
  for (let i = form.n - 2; i >= 0; i--) reflectRows(form, i, b, k);
}

/** B ← (I − τ v vᵀ) B with reflector i. */
function reflectRows(form: TridiagonalForm, i: number, b: Float64Array, k: number): void {
  const t = form.tau[i];
  if (t === 0) return;
  const {n, vectors: a} = form;
  const ri = i * n;
  const s = new Float64Array(k);
  for (let r = i + 1; r < n; r++) {
    const vr = a[ri + r], br = r * k;
    for (let q = 0; q < k; q++) s[q] += vr * b[br + q];
  }
  for (let q = 0; q < k; q++) s[q] *= t;
  for (let r = i + 1; r < n; r++) {
    const vr = a[ri + r], br = r * k;
    for (let q = 0; q < k; q++) b[br + q] -= vr * s[q];
  }
}

/** A shifted solve (tridiagonal or banded form): the solution and the trace of the inverse. */
export interface ShiftedSolve {
  /** `(T + λI)⁻¹ B`, n×k row-major. */
  x: Float64Array;
  /** `tr (T + λI)⁻¹`. */
  traceInverse: number;
}

/**
 * Solves `(T + λI) X = B` by the LDLᵀ factorisation of the tridiagonal T + λI
 * (O(n·k)), and gives `tr (T + λI)⁻¹` from the same factors in O(n)
 * (`S_ii = 1/D_i + l_i² S_{i+1,i+1}`). Returns null when T + λI is not
 * numerically positive definite (a pivot below `pivotTol` of its diagonal).
 */
export function solveShifted(form: TridiagonalForm, lambda: number, b: Float64Array, k: number,
                             pivotTol = 1e-10): ShiftedSolve|null {
  const {n, diag, off} = form;
  const D = new Float64Array(n), l = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const aii = diag[i] + lambda;
    const d = i === 0 ? aii : aii - l[i - 1] * off[i - 1];
    if (!(d > pivotTol * Math.abs(aii)) || !Number.isFinite(d)) return null;
    D[i] = d;
    if (i < n - 1) l[i] = off[i] / d;
  }
  const x = new Float64Array(b);
  for (let i = 1; i < n; i++) {
    const li = l[i - 1], r = i * k, rp = r - k;
    for (let q = 0; q < k; q++) x[r + q] -= li * x[rp + q];
  }
  for (let i = 0; i < n; i++) {
    const inv = 1 / D[i], r = i * k;
    for (let q = 0; q < k; q++) x[r + q] *= inv;
  }
  for (let i = n - 2; i >= 0; i--) {
    const li = l[i], r = i * k, rn = r + k;
    for (let q = 0; q < k; q++) x[r + q] -= li * x[rn + q];
  }
  let s = 1 / D[n - 1], traceInverse = s;
  for (let i = n - 2; i >= 0; i--) {
    s = 1 / D[i] + l[i] * l[i] * s;
    traceInverse += s;
  }
  return {x, traceInverse};
}
