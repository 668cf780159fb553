import * as tf from '@tensorflow/tfjs';
import {AUTO_ALPHAS, disposeRidgeState, ERInputError, ERNumericalError, RidgeAccumulator} from '../src/engine/index';
import {describeBackends, expectNoLeak} from './helpers/backends';
import {readCsv, readReferenceJson} from './helpers/fixtures';
import {gaussSolve, lcg, maxRelErr, ridgeReference} from './helpers/linalg';

function toMatrix(W: Float64Array, k: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < W.length / k; i++) out.push(Array.from(W.slice(i * k, (i + 1) * k)));
  return out;
}

function accumulate(X: number[][], T: number[][], chunk: number, label = 'test'):
    RidgeAccumulator {
  const acc = new RidgeAccumulator(X[0].length, T[0].length, label);
  for (let s = 0; s < X.length; s += chunk) {
    tf.tidy(() => acc.add(tf.tensor2d(X.slice(s, s + chunk)), tf.tensor2d(T.slice(s, s + chunk))));
  }
  return acc;
}

describeBackends('RidgeAccumulator', () => {
  let X: number[][], T: number[][];
  beforeAll(async () => {
    const {rows} = await readCsv('linear.csv');
    X = rows.map(r => r.slice(0, 6));
    T = rows.map(r => r.slice(6));
  });

  it('identity activation: one update equals the float64 closed-form ridge (rel err ≤ 1e-4)', () => {
    const acc = accumulate(X, T, X.length);
    const sol = acc.solve({alpha: 1e-3});
    acc.dispose();
    const ref = ridgeReference(X, T, 1e-3);
    expect(maxRelErr(toMatrix(sol.W, 3), ref.W)).toBeLessThan(1e-4);
    expect(maxRelErr([Array.from(sol.b)], [ref.b])).toBeLessThan(1e-4);
  });

  it('matches the NumPy reference weights of reference.json → linear', async () => {
    const ref = (await readReferenceJson()).linear;
    const acc = accumulate(X, T, 64);
    const sol = acc.solve({alpha: ref.alpha});
    acc.dispose();
    expect(maxRelErr(toMatrix(sol.W, 3), ref.W)).toBeLessThan(1e-4);
    expect(maxRelErr([Array.from(sol.b)], [ref.b])).toBeLessThan(1e-4);
  });

  it('streaming in chunks of 1, 7 and N rows gives the one-shot result', () => {
    const n = 120;  // chunk 1 is slow on some backends: use a prefix
    const Xs = X.slice(0, n), Ts = T.slice(0, n);
    const sols = [n, 7, 1].map(c => {
      const acc = accumulate(Xs, Ts, c);
      const s = acc.solve({alpha: 1e-3});
      acc.dispose();
      return s;
    });
    for (const s of sols.slice(1)) {
      expect(maxRelErr(toMatrix(s.W, 3), toMatrix(sols[0].W, 3))).toBeLessThan(1e-4);
      expect(maxRelErr([Array.from(s.b)], [Array.from(sols[0].b)])).toBeLessThan(1e-4);
      expect(s.count).toBe(n);
    }
  });

  it('bias is unpenalised: shifting inputs and targets by constants leaves W unchanged', () => {
    const shifted = X.map(r => r.map((v, j) => v + 100 * (j + 1)));
    const Tsh = T.map(r => r.map(v => v - 50));
    const a = accumulate(X, T, 100), b = accumulate(shifted, Tsh, 100);
    const sa = a.solve(), sb = b.solve();
    a.dispose();
    b.dispose();
    expect(maxRelErr(toMatrix(sb.W, 3), toMatrix(sa.W, 3))).toBeLessThan(1e-3);
    // b' = b − 50 − Σ_j 100(j+1)·W_j
    for (let q = 0; q < 3; q++) {
      let expected = sa.b[q] - 50;
      for (let j = 0; j < 6; j++) expected -= 100 * (j + 1) * sa.W[j * 3 + q];
      expect(sb.b[q]).toBeCloseTo(expected, 2);
    }
  });

  it('fitIntercept: false solves the uncentred ridge', () => {
    const acc = accumulate(X, T, 50);
    const sol = acc.solve({alpha: 0, fitIntercept: false});
    acc.dispose();
    // closed form: W = (XᵀX)⁻¹XᵀT — the reference with a zero column mean trick:
    // append nothing; compare normal equations residual instead.
    for (let i = 0; i < 6; i++) {
      for (let q = 0; q < 3; q++) {
        let lhs = 0, rhs = 0;
        for (let r = 0; r < X.length; r++) {
          let pred = 0;
          for (let j = 0; j < 6; j++) pred += X[r][j] * sol.W[j * 3 + q];
          lhs += X[r][i] * pred;
          rhs += X[r][i] * T[r][q];
        }
        expect(Math.abs(lhs - rhs) / Math.max(1, Math.abs(rhs))).toBeLessThan(1e-4);
      }
    }
    expect(Array.from(sol.b)).toEqual([0, 0, 0]);
  });

  it('separate Gram and cross passes equal add()', () => {
    const acc = new RidgeAccumulator(6, 3, 'split');
    tf.tidy(() => acc.addGram(tf.tensor2d(X)));
    tf.tidy(() => acc.addCross(tf.tensor2d(X), tf.tensor2d(T)));
    const s1 = acc.solve();
    acc.resetCross();
    expect(acc.hasGram).toBeTrue();
    tf.tidy(() => acc.addCross(tf.tensor2d(X), tf.tensor2d(T)));
    const s2 = acc.solve();
    acc.dispose();
    const ref = ridgeReference(X, T, 1e-3);
    expect(maxRelErr(toMatrix(s1.W, 3), ref.W)).toBeLessThan(1e-4);
    expect(maxRelErr(toMatrix(s2.W, 3), ref.W)).toBeLessThan(1e-4);
  });

  it('re-solving one Gram for new targets reuses its factor; new rows, another α or centring refactor', () => {
    const T2 = T.map(([a, b, c]) => [b - c, 2 * a, Math.tanh(c)]);
    const half = X.length >> 1;
    const acc = new RidgeAccumulator(6, 3, 'resolve');
    tf.tidy(() => acc.add(tf.tensor2d(X.slice(0, half)), tf.tensor2d(T.slice(0, half))));
    acc.solve();
    const check = (alpha: number, rows: number, targets: number[][]) => {
      acc.resetCross();
      tf.tidy(() => acc.addCross(tf.tensor2d(X.slice(0, rows)), tf.tensor2d(targets.slice(0, rows))));
      const sol = acc.solve({alpha});
      const ref = ridgeReference(X.slice(0, rows), targets.slice(0, rows), alpha);
      expect(maxRelErr(toMatrix(sol.W, 3), ref.W)).toBeLessThan(1e-4);
      expect(maxRelErr([Array.from(sol.b)], [ref.b])).toBeLessThan(1e-4);
    };
    check(1e-3, half, T2);   // same Gram, same α: the kept factor
    check(1e-1, half, T2);   // another α
    check(1e-3, half, T);    // back to the first α
    tf.tidy(() => acc.addGram(tf.tensor2d(X.slice(half))));
    check(1e-3, X.length, T2);  // new rows: the Gram changed
    // an uncentred solve after centred ones factors its own matrix
    const fresh = new RidgeAccumulator(6, 3, 'fresh');
    tf.tidy(() => fresh.add(tf.tensor2d(X), tf.tensor2d(T2)));
    const u1 = acc.solve({fitIntercept: false}), u2 = fresh.solve({fitIntercept: false});
    expect(maxRelErr(toMatrix(u1.W, 3), toMatrix(u2.W, 3))).toBeLessThan(1e-5);
    [acc, fresh].forEach(a => a.dispose());
  });

  it('leaks no tensor over add/solve/dispose', async () => {
    await expectNoLeak(() => {
      const acc = accumulate(X, T, 33);
      acc.solve();
      acc.resetCross();
      acc.dispose();
    });
  });

  it('rejects bad shapes, empty batches and mismatched rows with clear errors', () => {
    const acc = new RidgeAccumulator(6, 3, 'dense_7');
    tf.tidy(() => {
      expect(() => acc.add(tf.zeros([4, 5]), tf.zeros([4, 3])))
          .toThrowMatching(e => e instanceof ERInputError && /dense_7.*\[rows, 6\].*\[4,5\]/.test(e.message));
      expect(() => acc.add(tf.zeros([4, 6]), tf.zeros([4, 2])))
          .toThrowMatching(e => /dense_7: targets must have shape \[4, 3\]/.test(e.message));
      expect(() => acc.add(tf.zeros([4, 6]), tf.zeros([3, 3]))).toThrowError(/targets/);
      expect(() => acc.add(tf.zeros([0, 6]), tf.zeros([0, 3]))).toThrowError(/empty batch/);
    });
    expect(() => acc.solve()).toThrowError(/no rows/);
    tf.tidy(() => acc.addGram(tf.ones([3, 6])));
    tf.tidy(() => acc.addCross(tf.ones([2, 6]), tf.ones([2, 3])));
    expect(() => acc.solve()).toThrowError(/Gram covers 3 rows but the targets cover 2/);
    acc.dispose();
    expect(() => new RidgeAccumulator(0, 3)).toThrowError(/positive integer/);
  });

  it('NaN or Infinity in inputs or targets: a clear error naming which', () => {
    const acc = new RidgeAccumulator(2, 1, 'out');
    tf.tidy(() => acc.add(tf.tensor2d([[1, NaN], [0, 1]]), tf.tensor2d([[1], [0]])));
    expect(() => acc.solve()).toThrowMatching(
        e => e instanceof ERNumericalError && /out: the inputs contain NaN/.test(e.message));
    acc.dispose();
    const acc2 = new RidgeAccumulator(2, 1, 'out');
    tf.tidy(() => acc2.add(tf.tensor2d([[1, 2], [0, 1]]), tf.tensor2d([[Infinity], [0]])));
    expect(() => acc2.solve()).toThrowError(/out: the targets contain NaN or Infinity/);
    acc2.dispose();
  });

  it('a singular Gram (duplicated column, alpha = 0) is recovered and reported', () => {
    const r = lcg(11);
    const rows = Array.from({length: 50}, () => {
      const u = r(), v = r();
      return [u, v, u];  // column 2 = column 0
    });
    const t = rows.map(([u, v]) => [2 * u - v]);
    const acc = new RidgeAccumulator(3, 1, 'dup');
    tf.tidy(() => acc.add(tf.tensor2d(rows), tf.tensor2d(t)));
    const sol = acc.solve({alpha: 0});
    acc.dispose();
    expect(sol.lambdaUsed).toBeGreaterThan(0);
    expect(sol.warnings.join(' ')).toMatch(/dup: the 3×3 Gram was singular/);
    // the two copies share the weight of u
    expect(sol.W[0] + sol.W[2]).toBeCloseTo(2, 3);
    expect(sol.W[1]).toBeCloseTo(-1, 3);
  });

  it('constant inputs give zero weights and the target mean as bias, with a warning', () => {
    const acc = new RidgeAccumulator(2, 1, 'flat');
    tf.tidy(() => acc.add(tf.ones([10, 2]), tf.tensor2d(Array.from({length: 10}, (_, i) => [i]))));
    const sol = acc.solve();
    acc.dispose();
    expect(Array.from(sol.W)).toEqual([0, 0]);
    expect(sol.b[0]).toBeCloseTo(4.5, 5);
    expect(sol.warnings.join(' ')).toMatch(/constant/);
  });

  it('refitLinear gives the ridge fit of an unchanged linear field', () => {
    const r = lcg(5);
    const W0 = Float64Array.from({length: 18}, () => r() - 0.5);
    const b0 = Float64Array.from([0.1, -0.2, 0.3]);
    const H = X.map(row => [0, 1, 2].map(q => b0[q] + row.reduce((s, v, j) => s + v * W0[j * 3 + q], 0)));
    const acc = accumulate(X, H, 400);
    const direct = acc.solve({alpha: 1e-2});
    const refit = acc.refitLinear(W0, b0, 3);
    acc.dispose();
    expect(maxRelErr(toMatrix(refit.W, 3), toMatrix(direct.W, 3))).toBeLessThan(1e-4);
    expect(maxRelErr([Array.from(refit.b)], [Array.from(direct.b)])).toBeLessThan(1e-4);
  });
});

describeBackends('RidgeAccumulator, wide inputs (blocked Gram)', () => {
  it('a 2600-wide Gram accumulated in 3×3 blocks gives the ridge solution of the full one', () => {
    // 3 blocks; compare against the float64 normal equations residual on a small row count.
    const d = 2600, n = 40, k = 2;
    const r = lcg(99);
    const X = Array.from({length: n}, () => Array.from({length: d}, () => r() - 0.5));
    const T = X.map(row => [row[0] + 2 * row[1500] - row[2599], row[7]]);
    const acc = new RidgeAccumulator(d, k, 'wide');
    tf.tidy(() => acc.add(tf.tensor2d(X.slice(0, 25)), tf.tensor2d(T.slice(0, 25))));
    tf.tidy(() => acc.add(tf.tensor2d(X.slice(25)), tf.tensor2d(T.slice(25))));
    const sol = acc.solve({alpha: 1e-2});
    acc.dispose();
    // Check the normal equations (C + λI) W = cov(X, T) in float64.
    const mx = Array.from({length: d}, (_, j) => X.reduce((s, row) => s + row[j], 0) / n);
    const mt = [0, 1].map(q => T.reduce((s, row) => s + row[q], 0) / n);
    const Xc = X.map(row => row.map((v, j) => v - mx[j]));
    let trace = 0;
    for (let j = 0; j < d; j++) for (let i = 0; i < n; i++) trace += Xc[i][j] * Xc[i][j] / n;
    const lam = 1e-2 * trace / d;
    let worst = 0;
    for (const q of [0, 1]) {
      const XcW = Xc.map(row => row.reduce((s, v, j) => s + v * sol.W[j * k + q], 0));
      for (const j of [0, 1, 1299, 1300, 1500, 2599]) {
        let lhs = lam * sol.W[j * k + q], rhs = 0;
        for (let i = 0; i < n; i++) {
          lhs += Xc[i][j] * XcW[i] / n;
          rhs += Xc[i][j] * (T[i][q] - mt[q]) / n;
        }
        worst = Math.max(worst, Math.abs(lhs - rhs) / Math.max(1e-3, Math.abs(rhs)));
      }
    }
    expect(worst).toBeLessThan(1e-3);
  });

  it('exportState / fromState round-trip a panelled Gram (3 panels); withExtraTargets appends "never" columns', () => {
    const d = 75, n = 40, block = 25;
    const a = tf.randomNormal([n, d], 0.3, 1, 'float32', 11) as tf.Tensor2D;
    const t = tf.randomNormal([n, 2], 0, 1, 'float32', 12) as tf.Tensor2D;
    const acc = new RidgeAccumulator(d, 2, 'blocked', block);
    acc.add(a, t);
    const state = acc.exportState();
    expect(state.gram.shape).toEqual([d, d]);
    expect(state.count).toBe(n);
    const copy = RidgeAccumulator.fromState(state, 'copy', block);
    const s1 = acc.solve({alpha: 1e-2}), s2 = copy.solve({alpha: 1e-2});
    expect(maxRelErr(toMatrix(s2.W, 2), toMatrix(s1.W, 2))).toBeLessThan(1e-6);
    // a third column whose target was -2 for every row, without the rows
    const grown = acc.withExtraTargets(1, -2);
    const direct = new RidgeAccumulator(d, 3, 'direct', 1000);
    tf.tidy(() => direct.add(a, tf.concat([t, tf.fill([n, 1], -2)], 1)));
    // the panels assemble into the same (shifted) Gram as one full product
    const single = direct.exportState();
    expect(maxRelErr(state.gram.arraySync(), single.gram.arraySync())).toBeLessThan(1e-5);
    disposeRidgeState(single);
    const g = grown.solve({alpha: 1e-2}), r = direct.solve({alpha: 1e-2});
    expect(maxRelErr(toMatrix(g.W, 3), toMatrix(r.W, 3))).toBeLessThan(1e-4);
    expect(maxRelErr([Array.from(g.b)], [Array.from(r.b)])).toBeLessThan(1e-4);
    expect(() => RidgeAccumulator.fromState({...state, sumA: state.sumT}, 'bad')).toThrowMatching(
        e => e instanceof ERInputError && /bad: stored statistics 'sumA' have shape \[2\], expected \[75\]/.test(e.message));
    [acc, copy, grown, direct].forEach(x => x.dispose());
    tf.dispose(a);
    tf.dispose(t);
    disposeRidgeState(state);
  });

  it("alpha 'auto' picks the grid α with the smallest GCV score, as computed from explicit hat matrices", () => {
    const n = 24, d = 10, k = 2;
    const rand = lcg(5);
    const X = Array.from({length: n}, () => Array.from({length: d}, () => rand() * 2 - 1));
    // few informative directions plus noise: a small-n problem where the ridge matters
    const T = X.map(r => [r[0] + 0.5 * r[1] + 0.8 * (rand() - 0.5), -r[2] + 0.8 * (rand() - 0.5)]);
    const acc = new RidgeAccumulator(d, k, 'auto');
    tf.tidy(() => acc.add(tf.tensor2d(X), tf.tensor2d(T)));
    const sol = acc.solve({alpha: 'auto'});
    acc.dispose();
    // brute force: centred data, H = Xc (XcᵀXc + nλI)⁻¹ Xcᵀ
    const mx = X[0].map((_, j) => X.reduce((s, r) => s + r[j], 0) / n);
    const Xc = X.map(r => r.map((v, j) => v - mx[j]));
    const trace = Xc.reduce((s, r) => s + r.reduce((u, v) => u + v * v, 0), 0) / n;
    const scores = AUTO_ALPHAS.map(alpha => {
      const lam = alpha * trace / d;
      const A = Array.from({length: d}, (_, i) => Array.from({length: d}, (_, j) =>
          Xc.reduce((s, r) => s + r[i] * r[j], 0) + (i === j ? n * lam : 0)));
      const XcT = Array.from({length: d}, (_, i) => Xc.map(r => r[i]));
      const AinvXt = gaussSolve(A, XcT);                  // d×n
      let df = 1;                                          // + intercept
      for (let r = 0; r < n; r++) for (let i = 0; i < d; i++) df += Xc[r][i] * AinvXt[i][r];
      const ref = ridgeReference(X, T, alpha);
      let rss = 0;
      X.forEach((r, q) => ref.b.forEach((b, c) => {
        const p = b + r.reduce((s, v, i) => s + v * ref.W[i][c], 0);
        rss += (T[q][c] - p) ** 2;
      }));
      return (rss / n) / (1 - df / n) ** 2;
    });
    const best = AUTO_ALPHAS[scores.indexOf(Math.min(...scores))];
    expect(sol.alpha).toBe(best);
    expect(best).not.toBe(AUTO_ALPHAS[0]);  // the problem is built so that some ridge helps
  });
});
