/**
 * The statistics of a ridge regression `t ≈ a·W + b` as plain arrays: what
 * one shard of rows produces (float32 sums of shifted rows, as the tfjs
 * backend computed them) and their exact merge in float64 into centred
 * moments (Chan's pairwise update), whatever the split of the rows.
 */
import {ERInputError} from '../errors';

/** One shard's sums for one layer (a map step's output). */
export interface RidgeShardStats {
  /** Rows the sums cover. */
  rows: number;
  /** Input width d. */
  d: number;
  /** Target width k (0: no targets in this pass). */
  k: number;
  /** The fixed shift subtracted from every row before summing, d. */
  shift: Float32Array;
  /** Σ (a − shift), d. */
  sumA: Float32Array;
  /** Σ (a − shift)(a − shift)ᵀ, d×d row-major, or null when the pass did not compute it. */
  gram: Float32Array|null;
  /** Σ (a − shift) tᵀ, d×k row-major (null: no targets). */
  cross: Float32Array|null;
  /** Σ t, k. */
  sumT: Float32Array|null;
  /** Σ t², k. */
  sumSqT: Float32Array|null;
}

/** Centred moments of many rows, in float64. Solving consumes `scatter` (it becomes the factor). */
export interface RidgeMoments {
  /** Rows covered. */
  n: number;
  d: number;
  k: number;
  /** Column means of the inputs, d. */
  mean: Float64Array;
  /** Σ (a − mean)(a − mean)ᵀ, d×d (null: not computed in this pass, e.g. a cached Gram). */
  scatter: Float64Array|null;
  /** Column means of the targets, k (null: no targets). */
  tMean: Float64Array|null;
  /** Σ (a − mean)(t − tMean)ᵀ, d×k. */
  crossScatter: Float64Array|null;
  /** Σ (t − tMean)², k. */
  tScatter: Float64Array|null;
}

/**
 * Merges shard statistics into centred moments. Every shard must carry
 * the same parts (Gram or not, targets or not); shards with no rows are
 * skipped. Order-independent up to float64 rounding.
 */
export function mergeShardStats(shards: RidgeShardStats[], label = 'ridge'): RidgeMoments {
  const parts = shards.filter(s => s.rows > 0);
  if (parts.length === 0) {
    throw new ERInputError(`${label}: no rows were accumulated (empty data); pass at least one row`);
  }
  const {d, k} = parts[0];
  const withGram = parts[0].gram != null, withT = parts[0].cross != null;
  for (const s of parts) {
    if (s.d !== d || s.k !== k || (s.gram != null) !== withGram || (s.cross != null) !== withT) {
      throw new Error(`${label}: shard statistics of different shapes or parts cannot be merged`);
    }
  }
  const n = parts.reduce((a, s) => a + s.rows, 0);
  const means = parts.map(s => {
    const m = new Float64Array(d);
    for (let i = 0; i < d; i++) m[i] = s.shift[i] + s.sumA[i] / s.rows;
    return m;
  });
  const mean = new Float64Array(d);
  parts.forEach((s, p) => { for (let i = 0; i < d; i++) mean[i] += s.rows * means[p][i]; });
  for (let i = 0; i < d; i++) mean[i] /= n;
  let scatter: Float64Array|null = null;
  if (withGram) {
    scatter = new Float64Array(d * d);
    parts.forEach((s, p) => {
      const g = s.gram!, sa = s.sumA, r = s.rows;
      const dm = new Float64Array(d);
      for (let i = 0; i < d; i++) dm[i] = means[p][i] - mean[i];
      // Σ(a−μ_s)(a−μ_s)ᵀ = G − Sa·Saᵀ/n_s, plus n_s (μ_s − μ)(μ_s − μ)ᵀ
      for (let i = 0; i < d; i++) {
        const row = i * d, sai = sa[i] / r, dmi = r * dm[i];
        for (let j = 0; j < d; j++) scatter![row + j] += g[row + j] - sai * sa[j] + dmi * dm[j];
      }
    });
    symmetrizeFrom(scatter, d);
  }
  let tMean: Float64Array|null = null, crossScatter: Float64Array|null = null, tScatter: Float64Array|null = null;
  if (withT) {
    const tMeans = parts.map(s => Float64Array.from(s.sumT!, v => v / s.rows));
    tMean = new Float64Array(k);
    parts.forEach((s, p) => { for (let q = 0; q < k; q++) tMean![q] += s.rows * tMeans[p][q]; });
    for (let q = 0; q < k; q++) tMean[q] /= n;
    crossScatter = new Float64Array(d * k);
    tScatter = new Float64Array(k);
    parts.forEach((s, p) => {
      const r = s.rows, x = s.cross!, sa = s.sumA, st = s.sumT!, ss = s.sumSqT!;
      for (let i = 0; i < d; i++) {
        const row = i * k, sai = sa[i] / r, dmi = r * (means[p][i] - mean[i]);
        for (let q = 0; q < k; q++) {
          crossScatter![row + q] += x[row + q] - sai * st[q] + dmi * (tMeans[p][q] - tMean![q]);
        }
      }
      for (let q = 0; q < k; q++) {
        const dt = tMeans[p][q] - tMean![q];
        tScatter![q] += ss[q] - st[q] * st[q] / r + r * dt * dt;
      }
    });
  }
  return {n, d, k, mean, scatter, tMean, crossScatter, tScatter};
}

/** Copies each entry pair (i, j), (j, i) to their mean, so the matrix is exactly symmetric. */
function symmetrizeFrom(a: Float64Array, d: number) {
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < i; j++) {
      const v = 0.5 * (a[i * d + j] + a[j * d + i]);
      a[i * d + j] = v;
      a[j * d + i] = v;
    }
  }
}

/** True when every entry is finite. */
export function allFinite(x: ArrayLike<number>|null): boolean {
  if (x == null) return true;
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return false;
  return true;
}
