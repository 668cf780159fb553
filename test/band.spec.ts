import * as tf from '@tensorflow/tfjs';
import {BAND_MIN_ROWS_PER_COLUMN, BAND_MIN_WIDTH, bandReduce, bandScoring, BandForm, solveBandShifted, useBandScoring} from '../src/engine/band';
import {applyQt, solveShifted, tridiagonalizeInPlace} from '../src/engine/tridiagonal';
import {AUTO_ALPHAS, bestAlpha, gcvScores, solveSPD} from '../src/engine/index';
import {RidgeSystem} from '../src/engine/ridge/solve';
import {describeBackends} from './helpers/backends';
import {accumulatorOn} from './helpers/data';
import {lcg, maxAbs, randomGram} from './helpers/linalg';

const norm = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0));

/** `(A + λI)⁻¹ R` and `tr (A + λI)⁻¹` by dense float64 Cholesky solves. */
function denseShifted(A: Float64Array, n: number, R: Float64Array, k: number, lambda: number) {
  const x = solveSPD(new Float64Array(A), n, new Float64Array(R), k, lambda).x;
  let traceInverse = 0;
  for (let j = 0; j < n; j++) {
    const e = new Float64Array(n);
    e[j] = 1;
    traceInverse += solveSPD(new Float64Array(A), n, e, 1, lambda).x[j];
  }
  return {x, traceInverse};
}

/** Rᵀ X (k×k): invariant under the rotation (Qᵀ R)ᵀ (Qᵀ X). */
function crossProduct(R: ArrayLike<number>, X: ArrayLike<number>, n: number, k: number): Float64Array {
  const out = new Float64Array(k * k);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < k; p++) for (let q = 0; q < k; q++) out[p * k + q] += R[i * k + p] * X[i * k + q];
  }
  return out;
}

/** Rows X (n×d) and targets Y (n×k) of a noisy linear model on `active` inputs, float32. */
function linearData(n: number, d: number, k: number, active: number, noise: number, seed: number) {
  const r = lcg(seed);
  const X = Float32Array.from({length: n * d}, () => r() - 0.5);
  const Y = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let q = 0; q < k; q++) {
      let s = 0;
      for (let j = 0; j < active; j++) s += X[i * d + (j * (q + 2)) % d];
      Y[i * k + q] = s + noise * (r() - 0.5);
    }
  }
  return {X, Y};
}

/** The centred moments per row in float64: C (upper triangle and diagonal), R = cov(x, y), sst, trace C. */
function centredMoments(X: Float32Array, Y: Float32Array, n: number, d: number, k: number) {
  const mean = new Float64Array(d), tMean = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) mean[j] += X[i * d + j] / n;
    for (let q = 0; q < k; q++) tMean[q] += Y[i * k + q] / n;
  }
  const C = new Float64Array(d * d), R = new Float64Array(d * k), row = new Float64Array(d);
  let sst = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = X[i * d + j] - mean[j];
    for (let a = 0; a < d; a++) {
      const va = row[a] / n;
      for (let b = a; b < d; b++) C[a * d + b] += va * row[b];
      for (let q = 0; q < k; q++) R[a * k + q] += va * (Y[i * k + q] - tMean[q]);
    }
    for (let q = 0; q < k; q++) sst += (Y[i * k + q] - tMean[q]) ** 2 / n;
  }
  let trace = 0;
  for (let a = 0; a < d; a++) trace += C[a * d + a];
  return {C, R, sst, trace};
}

/** The GCV scores of every α on the float64 tridiagonal form of C (consumed; only its upper triangle is read). */
function exactScores(C: Float64Array, R: Float64Array, d: number, k: number, n: number, trace: number, sst: number) {
  const tri = tridiagonalizeInPlace(C, d);
  const B = new Float64Array(R);
  applyQt(tri, B, k);
  return gcvScores(l => solveShifted(tri, l, B, k), d, B, k, n, trace, sst);
}

describe('banded solves (alpha auto)', () => {
  for (const [n, w] of [[41, 6], [5, 8], [12, 1]]) {
    it(`solves (B + λI) X = R and gives tr (B + λI)⁻¹ as the dense solve does (n ${n}, half-bandwidth ${w})`, () => {
      const k = 3, bw = w + 1, r = lcg(n + w);
      const band = new Float64Array(n * bw), dense = new Float64Array(n * n);
      for (let i = 0; i < n; i++) {
        for (let t = 0; t <= Math.min(w, i); t++) {
          const v = t === 0 ? 1 + r() : r() - 0.5;
          band[i * bw + t] = v;
          dense[i * n + i - t] = dense[(i - t) * n + i] = v;
        }
      }
      const R = Float64Array.from({length: n * k}, () => r() - 0.5);
      const form: BandForm = {n, w, band, rotated: R};
      const lambda = w + 1;  // the band's eigenvalues lie within ±(w + 2): B + λI may be indefinite below this
      const got = solveBandShifted(form, lambda + 2, R, k)!;
      const want = denseShifted(dense, n, R, k, lambda + 2);
      expect(maxAbs(got.x, want.x)).toBeLessThan(1e-12);
      expect(Math.abs(got.traceInverse - want.traceInverse)).toBeLessThan(1e-12);
      expect(solveBandShifted(form, -(lambda + 3), R, k)).withContext('negative definite').toBeNull();
    });
  }
});

describeBackends('band reduction (alpha auto)', () => {
  // 1 and 8: one block; 9 and 23: blocks with a short last one; 40: several full blocks
  for (const n of [1, 8, 9, 23, 40]) {
    it(`reduces a ${n}×${n} Gram on the backend: the shifted solves match float64 to float32 precision`, () => {
      const k = 2, w = 8, lambda = 0.02;
      const A = randomGram(n, n + 7, n + 3, 0.01);
      const R = Float64Array.from({length: n * k}, (_, i) => Math.sin(i + 1));
      const before = tf.memory().numTensors;
      const form = bandReduce(A, n, R, k, w);
      expect(tf.memory().numTensors).withContext('tensors left').toBe(before);
      expect(norm(form.rotated)).toBeCloseTo(norm(R), 5);  // Qᵀ is orthogonal
      const got = solveBandShifted(form, lambda, form.rotated, k)!;
      const want = denseShifted(A, n, R, k, lambda);
      const cross = crossProduct(form.rotated, got.x, n, k), crossWant = crossProduct(R, want.x, n, k);
      expect(maxAbs(cross, crossWant) / norm(crossWant)).toBeLessThan(1e-4);
      expect(Math.abs(norm(got.x) - norm(want.x)) / norm(want.x)).toBeLessThan(1e-4);
      expect(Math.abs(got.traceInverse - want.traceInverse) / want.traceInverse).toBeLessThan(1e-4);
    });
  }

  it('gives the GCV scores of the float64 tridiagonal form, and its choice of α', () => {
    const d = 90, k = 3, n = 400;
    const {X, Y} = linearData(n, d, k, 12, 1.5, 4);
    const {C, R, sst, trace} = centredMoments(X, Y, n, d, k);
    for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) C[a * d + b] = C[b * d + a];
    const form = bandReduce(C, d, R, k, 16);
    const band = gcvScores(l => solveBandShifted(form, l, form.rotated, k), d, form.rotated, k, n, trace, sst);
    const exact = exactScores(C, R, d, k, n, trace, sst);
    for (let i = 0; i < AUTO_ALPHAS.length; i++) {
      expect(Math.abs(band[i] - exact[i]) / exact[i]).withContext(`α ${AUTO_ALPHAS[i]}`).toBeLessThan(1e-4);
    }
    expect(bestAlpha(band)).toBe(bestAlpha(exact));
  });
});

describeBackends(`alpha 'auto' at d ≥ ${BAND_MIN_WIDTH}`, backend => {
  it("picks the α of the exact GCV scores and solves there exactly as that fixed α does; nothing leaks", () => {
    const d = BAND_MIN_WIDTH, k = 2, n = 1200;
    const {X, Y} = linearData(n, d, k, 40, 2, 21);
    const before = tf.memory().numTensors;
    const fit = () => accumulatorOn(X, Y, n, d, k, 'band-spec');
    const auto = fit();
    const sa = auto.solve({alpha: 'auto'});
    const fixedFit = fit();
    const fixed = fixedFit.solve({alpha: sa.alpha});
    expect(maxAbs(sa.W, fixed.W)).toBeLessThan(1e-9);
    expect(maxAbs(sa.b, fixed.b)).toBeLessThan(1e-9);
    const saved = (auto as unknown as {system: RidgeSystem}).system;
    expect(saved.band != null).withContext('solved by refinement on the band form').toBe(backend !== 'cpu');
    // A refit of an unchanged map on the saved system (refined on the band form) equals the Cholesky's.
    const r = lcg(5);
    const W0 = Float64Array.from({length: d * k}, () => r() - 0.5), b0 = Float64Array.from({length: k}, () => r());
    const viaBand = auto.refitLinear(W0, b0, k), viaCholesky = fixedFit.refitLinear(W0, b0, k);
    expect(maxAbs(viaBand.W, viaCholesky.W)).toBeLessThan(1e-9);
    expect(maxAbs(viaBand.b, viaCholesky.b)).toBeLessThan(1e-9);
    auto.dispose();
    fixedFit.dispose();
    expect(tf.memory().numTensors - before).withContext('tensor leak').toBe(0);
    expect(useBandScoring(d, n)).toBe(backend !== 'cpu');

    // The exact scores, from the float64 moments of the same rows.
    const {C, R, sst, trace} = centredMoments(X, Y, n, d, k);
    const exact = exactScores(C, R, d, k, n, trace, sst);
    expect(sa.alpha).toBe(bestAlpha(exact)!);
  });

  it('scores a Gram of fewer than 2 rows per column on the float64 tridiagonal form, as with the band form off', () => {
    const d = BAND_MIN_WIDTH, k = 2, n = Math.floor(d / 2);
    const {X, Y} = linearData(n, d, k, 10, 1, 8);
    expect(useBandScoring(d, n)).toBe(false);
    expect(useBandScoring(d, BAND_MIN_ROWS_PER_COLUMN * d)).toBe(backend !== 'cpu');
    const auto = accumulatorOn(X, Y, n, d, k, 'band-spec');
    const sa = auto.solve({alpha: 'auto'});
    const saved = (auto as unknown as {system: RidgeSystem}).system;
    expect(saved.tridiagonal).withContext('scored on the tridiagonal form').not.toBeNull();
    // Its near-exact fits at small α have a residual below the float32 statistics' rounding: floored, they
    // do not win on noise, and the choice is that of the exact float64 moments.
    const {C, R, sst, trace} = centredMoments(X, Y, n, d, k);
    expect(sa.alpha).toBe(bestAlpha(exactScores(C, R, d, k, n, trace, sst))!);
    const shipped = bandScoring.minWidth;
    bandScoring.minWidth = Infinity;
    const off = accumulatorOn(X, Y, n, d, k, 'band-spec');
    try {
      const so = off.solve({alpha: 'auto'});
      expect(sa.alpha).toBe(so.alpha);
      expect(maxAbs(sa.W, so.W)).toBe(0);
    } finally {
      bandScoring.minWidth = shipped;
      off.dispose();
      auto.dispose();
    }
  });
});
