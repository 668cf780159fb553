import {choleskyInPlace, solveSPD, solveSPDInPlace} from '../src/engine/index';
import {lcg, randomGram} from './helpers/linalg';

function residual(A: Float64Array, n: number, X: Float64Array, B: Float64Array, m: number) {
  let e = 0;
  for (let i = 0; i < n; i++) {
    for (let q = 0; q < m; q++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += A[i * n + k] * X[k * m + q];
      e = Math.max(e, Math.abs(s - B[i * m + q]));
    }
  }
  return e;
}

describe('SPD solve (float64 Cholesky)', () => {
  // block edges (48) and every remainder of the 4-row tiles
  for (const n of [1, 2, 3, 5, 47, 48, 49, 97, 98, 99, 130, 150]) {
    it(`solves a random ${n}×${n} system to 1e-10 (block edges included)`, () => {
      const A = randomGram(n, n);
      const r = lcg(7);
      const B = Float64Array.from({length: n * 3}, () => r());
      const {x, raises} = solveSPD(A, n, B, 3, 0);
      expect(raises).toBe(0);
      expect(residual(A, n, x, B, 3)).toBeLessThan(1e-10);
    });
  }

  it('solves many right-hand sides at once, with zero entries in the factor', () => {
    // n not a multiple of 4 (the row groups of the substitution); a block-diagonal
    // matrix gives exact zeros in L, which the substitution skips
    const n = 131, m = 37;
    const A = randomGram(n, 11);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if ((i < 60) !== (j < 60)) A[i * n + j] = 0;
    const r = lcg(5);
    const B = Float64Array.from({length: n * m}, () => r() - 0.5);
    const {x} = solveSPD(A, n, B, m, 0);
    expect(residual(A, n, x, B, m)).toBeLessThan(1e-10);
  });

  it('factor times its transpose gives back the matrix', () => {
    const n = 100;
    const A = randomGram(n, 3);
    const L = new Float64Array(A);
    expect(choleskyInPlace(L, n)).toBeTrue();
    let e = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += L[i * n + k] * L[j * n + k];
        e = Math.max(e, Math.abs(s - A[i * n + j]));
      }
    }
    expect(e).toBeLessThan(1e-12);
  });

  it('reports a non-positive-definite matrix, and solveSPD recovers by raising the ridge', () => {
    const n = 3;
    // rank-1: singular
    const A = Float64Array.from([1, 2, 3, 2, 4, 6, 3, 6, 9]);
    expect(choleskyInPlace(new Float64Array(A), n)).toBeFalse();
    const B = Float64Array.from([1, 2, 3]);
    const r = solveSPD(A, n, B, 1, 0);
    expect(r.raises).toBeGreaterThan(0);
    expect(r.shift).toBeGreaterThan(0);
    for (const v of r.x) expect(Number.isFinite(v)).toBeTrue();
    // the regularised solution points along the range of A: x ∝ (1,2,3)
    expect(r.x[1] / r.x[0]).toBeCloseTo(2, 6);
  });

  it('solveSPDInPlace: the same solution without a copy, also after raising the ridge', () => {
    for (const [A, n] of [[randomGram(49, 3), 49], [Float64Array.from([1, 2, 3, 2, 4, 6, 3, 6, 9]), 3]] as Array<[Float64Array, number]>) {
      const B = Float64Array.from({length: n * 2}, (_, i) => Math.sin(i + 1));
      const ref = solveSPD(A, n, B, 2, 0);
      const work = new Float64Array(A);
      const r = solveSPDInPlace(work, n, B, 2, 0);
      expect(r.factor).toBe(work);  // the matrix became the factor
      expect(r.raises).toBe(ref.raises);
      expect(r.shift).toBe(ref.shift);
      r.x.forEach((v, i) => expect(v).toBeCloseTo(ref.x[i], 10));
      // the strict upper triangle still holds A
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) expect(work[i * n + j]).toBe(A[i * n + j]);
    }
  });

  it('refuses a matrix that is not finite', () => {
    const A = Float64Array.from([NaN, 0, 0, 1]);
    expect(() => solveSPD(A, 2, Float64Array.from([1, 1]), 1, 0)).toThrowError(/indefinite/);
  });
});
