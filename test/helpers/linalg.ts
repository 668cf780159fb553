/** Small float64 helpers for test oracles (independent of src/engine/spd.ts). */

/**
 * A random n×n symmetric positive (semi)definite matrix `X Xᵀ/columns + ridge·I`
 * (row-major), X n×columns uniform in [-0.5, 0.5) from `lcg(seed)`; with
 * columns < n and ridge 0 it is singular.
 */
export function randomGram(n: number, seed: number, columns = n, ridge = 0.1): Float64Array {
  const r = lcg(seed);
  const X = Float64Array.from({length: n * columns}, () => r() - 0.5);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < columns; k++) s += X[i * columns + k] * X[j * columns + k];
      A[i * n + j] = A[j * n + i] = s / columns + (i === j ? ridge : 0);
    }
  }
  return A;
}

/** Solves A x = B by Gaussian elimination with partial pivoting (A n×n, B n×m). */
export function gaussSolve(A: number[][], B: number[][]): number[][] {
  const n = A.length, m = B[0].length;
  const M = A.map((r, i) => [...r, ...B[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r][c] / M[c][c];
      for (let k = c; k < n + m; k++) M[r][k] -= f * M[c][k];
    }
  }
  return M.map((r, i) => r.slice(n).map(v => v / M[i][i]));
}

/** Centred ridge regression in float64: λ = α·trace(C)/p, bias unpenalised. */
export function ridgeReference(X: number[][], T: number[][], alpha: number):
    {W: number[][], b: number[]} {
  const n = X.length, p = X[0].length, k = T[0].length;
  const mx = Array.from({length: p}, (_, j) => X.reduce((s, r) => s + r[j], 0) / n);
  const mt = Array.from({length: k}, (_, j) => T.reduce((s, r) => s + r[j], 0) / n);
  const C = Array.from({length: p}, (_, i) => Array.from({length: p}, (_, j) =>
      X.reduce((s, r) => s + (r[i] - mx[i]) * (r[j] - mx[j]), 0) / n));
  const R = Array.from({length: p}, (_, i) => Array.from({length: k}, (_, j) =>
      X.reduce((s, r, q) => s + (r[i] - mx[i]) * (T[q][j] - mt[j]), 0) / n));
  const lam = alpha * C.reduce((s, r, i) => s + r[i], 0) / p;
  const W = gaussSolve(C.map((r, i) => r.map((v, j) => v + (i === j ? lam : 0))), R);
  const b = mt.map((m, j) => m - mx.reduce((s, v, i) => s + v * W[i][j], 0));
  return {W, b};
}

/** Max |a − b| / max(1, |b|) over two matrices. */
export function maxRelErr(a: number[][], b: number[][]): number {
  let e = 0;
  a.forEach((r, i) => r.forEach((v, j) => {
    e = Math.max(e, Math.abs(v - b[i][j]) / Math.max(1, Math.abs(b[i][j])));
  }));
  return e;
}

/** Deterministic uniform [0,1) generator (LCG), for test data. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** The largest absolute difference between two arrays of the same length. */
export function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]));
  return e;
}
