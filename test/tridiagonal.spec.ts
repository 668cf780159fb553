import {applyQ, applyQt, solveShifted, tridiagonalizeInPlace} from '../src/engine/tridiagonal';
import {AUTO_ALPHAS, solveSPD} from '../src/engine/index';
import {describeBackends} from './helpers/backends';
import {accumulatorOn} from './helpers/data';
import {lcg, maxAbs} from './helpers/linalg';

function randomSymmetric(n: number, seed: number): Float64Array {
  const r = lcg(seed);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) A[i * n + j] = A[j * n + i] = r() - 0.5;
  }
  return A;
}

/** Q T Qᵀ rebuilt densely from the form (Q applied to the columns of T, then to the rows). */
function rebuild(A: Float64Array, n: number) {
  const form = tridiagonalizeInPlace(new Float64Array(A), n);
  const T = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    T[i * n + i] = form.diag[i];
    if (i < n - 1) T[i * n + i + 1] = T[(i + 1) * n + i] = form.off[i];
  }
  applyQ(form, T, n);  // Q T
  const QT = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) QT[j * n + i] = T[i * n + j];
  applyQ(form, QT, n);  // Q (Q T)ᵀ = Q T Qᵀ (T symmetric)
  return {form, QTQ: QT};
}


describe('tridiagonal reduction (alpha auto)', () => {
  // 1–3: trivial forms; 4–9 and 37: every remainder of the 4-row sweep
  for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 37, 64]) {
    it(`reduces a random symmetric ${n}×${n} matrix: Q T Qᵀ = A to 1e-12, Qᵀ Q = I`, () => {
      const A = randomSymmetric(n, n + 1);
      const {form, QTQ} = rebuild(A, n);
      expect(maxAbs(QTQ, A)).toBeLessThan(1e-12);
      const B = randomSymmetric(n, 99).slice(0, n * 3);
      const x = new Float64Array(B);
      applyQt(form, x, 3);
      applyQ(form, x, 3);
      expect(maxAbs(x, B)).toBeLessThan(1e-12);
    });
  }

  it('keeps a matrix that is already tridiagonal, or diagonal (no reflections)', () => {
    const n = 6;
    const A = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      A[i * n + i] = i + 1;
      if (i < n - 1) A[i * n + i + 1] = A[(i + 1) * n + i] = 0.5;
    }
    const {form, QTQ} = rebuild(A, n);
    expect(maxAbs(QTQ, A)).toBeLessThan(1e-14);
    expect(Array.from(form.tau)).toEqual(new Array(n).fill(0));
    const D = new Float64Array(n * n);
    for (let i = 0; i < n; i++) D[i * n + i] = 2 - i;
    expect(maxAbs(rebuild(D, n).QTQ, D)).toBe(0);
  });

  it('solves (T + λI) X = B and gives tr (T + λI)⁻¹, as the dense solve does', () => {
    const n = 23, k = 4;
    const A = randomSymmetric(n, 5);
    const form = tridiagonalizeInPlace(new Float64Array(A), n);
    const T = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      T[i * n + i] = form.diag[i];
      if (i < n - 1) T[i * n + i + 1] = T[(i + 1) * n + i] = form.off[i];
    }
    const B = randomSymmetric(n, 6).slice(0, n * k);
    const lambda = 3;  // the random matrix's eigenvalues lie in about ±2.5
    const r = solveShifted(form, lambda, B, k)!;
    const dense = solveSPD(T, n, B, k, lambda);
    expect(maxAbs(r.x, dense.x)).toBeLessThan(1e-10);
    let trace = 0;
    for (let j = 0; j < n; j++) {
      const e = new Float64Array(n);
      e[j] = 1;
      trace += solveSPD(T, n, e, 1, lambda).x[j];
    }
    expect(Math.abs(r.traceInverse - trace)).toBeLessThan(1e-10);
    expect(solveShifted(form, -3, B, k)).toBeNull();  // indefinite: refused, not solved
  });
});

describeBackends("alpha 'auto' on the tridiagonal form", () => {
  it("alpha 'auto' solves at the chosen α exactly as a fixed α does, and later solves reuse the form", () => {
    const d = 40, k = 3, n = 300;
    const r = lcg(11);
    const X = Float32Array.from({length: n * d}, () => r() - 0.5);
    const Y = new Float32Array(n * k);
    for (let i = 0; i < n; i++) {
      for (let q = 0; q < k; q++) {
        let s = 0;
        for (let j = 0; j < 5; j++) s += X[i * d + j * (q + 1)];
        Y[i * k + q] = s + 0.5 * (r() - 0.5);
      }
    }
    const fit = () => accumulatorOn(X, Y, n, d, k, 'auto-spec');
    const auto = fit();
    const sa = auto.solve({alpha: 'auto'});
    expect(AUTO_ALPHAS).toContain(sa.alpha);
    const fixed = fit().solve({alpha: sa.alpha});
    expect(maxAbs(sa.W, fixed.W)).toBeLessThan(1e-9);
    expect(maxAbs(sa.b, fixed.b)).toBeLessThan(1e-9);
    // the refit of an unchanged map on the saved system, on both kinds of system
    const W0 = Float64Array.from({length: d * k}, () => r() - 0.5), b0 = new Float64Array(k);
    const viaForm = auto.refitLinear(W0, b0, k);
    const chol = fit();
    chol.solve({alpha: sa.alpha});
    const viaCholesky = chol.refitLinear(W0, b0, k);
    expect(maxAbs(viaForm.W, viaCholesky.W)).toBeLessThan(1e-9);
    expect(maxAbs(viaForm.b, viaCholesky.b)).toBeLessThan(1e-9);
    auto.dispose();
    chol.dispose();
  });
});
