import * as tf from '@tensorflow/tfjs';
import {bandReduce} from '../src/engine/band';
import {applyBandQ, applyBandQt, refinesOnBand, solveOnBand} from '../src/engine/band_refine';
import {solveSPD} from '../src/engine/index';
import {RidgeSystem, solveWithSystem} from '../src/engine/ridge/solve';
import {describeBackends} from './helpers/backends';
import {lcg, maxAbs, randomGram} from './helpers/linalg';

const maxOf = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe('band refinement: when it is used', () => {
  it('refines only where a few targets make it cheaper than a Cholesky', () => {
    expect(refinesOnBand(1280, 10)).toBe(true);
    expect(refinesOnBand(1280, 1000)).toBe(false);
  });
});

describeBackends('band refinement (alpha auto)', () => {
  // 9: one full block and a short one; 40: several blocks
  for (const n of [9, 40]) {
    it(`solves (C + λI) X = R to float64 precision with the float32 band form as preconditioner (n ${n})`, () => {
      const k = 3, w = 8, r = lcg(n);
      const C = randomGram(n, n + 5, n + 7, 0.01);
      const R = Float64Array.from({length: n * k}, () => r() - 0.5);
      const before = tf.memory().numTensors;
      const form = bandReduce(C, n, R, k, w, true);
      expect(tf.memory().numTensors).withContext('tensors left').toBe(before);
      // Q is orthogonal to float32 precision, and Qᵀ R is what the reduction rotated alongside.
      const X = Float64Array.from({length: k * n}, () => r() - 0.5), Y = new Float64Array(X);
      applyBandQt(form, Y, k);
      applyBandQ(form, Y, k);
      expect(maxAbs(X, Y)).toBeLessThan(1e-5);
      const Rt = new Float64Array(k * n);
      for (let i = 0; i < n; i++) for (let q = 0; q < k; q++) Rt[q * n + i] = R[i * k + q];
      applyBandQt(form, Rt, k);
      for (let i = 0; i < n; i++) {
        for (let q = 0; q < k; q++) expect(Math.abs(Rt[q * n + i] - form.rotated[i * k + q])).toBeLessThan(1e-5);
      }
      const Cbefore = new Float64Array(C);
      for (const lambda of [1e-4, 1e-2, 1]) {
        const want = solveSPD(new Float64Array(C), n, R, k, lambda).x;
        for (const start of [form.rotated, null]) {
          const got = solveOnBand(C, n, R, k, lambda, form, start);
          expect(got).withContext(`λ ${lambda}`).not.toBeNull();
          expect(maxAbs(got!.x, want) / maxOf(want)).withContext(`λ ${lambda}`).toBeLessThan(1e-10);
        }
      }
      expect(maxAbs(C, Cbefore)).withContext('C modified').toBe(0);
      // B + λI indefinite: no solution (the caller factors instead).
      expect(solveOnBand(C, n, R, k, -10, form)).toBeNull();
      const bare = bandReduce(C, n, R, k, w);
      expect(() => solveOnBand(C, n, R, k, 0.1, bare)).toThrowError(/reflectors/);
    });
  }

  it('a saved band system whose refinement fails factors C once and solves by the factor from then on', () => {
    const n = 24, k = 2, w = 8, shift = 0.05, r = lcg(3);
    const C = randomGram(n, 9, n + 4, 0.01);
    const R = Float64Array.from({length: n * k}, () => r() - 0.5);
    // The form of −C: B + shift·I is indefinite, so the refinement gives up.
    const form = bandReduce(C.map(v => -v), n, R, k, w, true);
    const system: RidgeSystem = {d: n, n: 100, mean: new Float64Array(n), centred: true, alpha: 0.1, lambda: shift,
                                 shift, factor: null, tridiagonal: null, band: {gram: C, form}, warnings: []};
    const want = solveSPD(new Float64Array(C), n, R, k, shift).x;
    for (let round = 0; round < 2; round++) {
      const b = new Float64Array(R);
      solveWithSystem(system, b, k);
      expect(maxAbs(b, want) / maxOf(want)).toBeLessThan(1e-10);
      expect(system.band).toBeNull();
      expect(system.factor).not.toBeNull();
    }
  });
});
