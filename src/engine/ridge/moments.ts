/**
 * The statistics of a ridge regression `t ≈ a·W + b` as centred moments in
 * float64 — row count, means, scatter `Σ(a − ā)(a − ā)ᵀ`, cross scatter
 * `Σ(a − ā)(t − t̄)ᵀ` — and their exact merge (Chan's pairwise update).
 * Moments of any split of the rows merge to those of all the rows, up to
 * float64 rounding, whatever the order: this is what makes an ER update a
 * map-reduce. Plain arrays only (they cross threads and processes).
 */
import {ERInputError} from '../errors';

/** The inputs' part: what a Gram gives. */
export interface GramMoments {
  n: number;
  /** Column means of the inputs, d. */
  mean: Float64Array;
  /** Σ (a − mean)(a − mean)ᵀ, d×d row-major; only the lower triangle (j ≤ i) is kept up to date. */
  scatter: Float64Array;
}

/** The targets' part: what a cross product gives. */
export interface CrossMoments {
  n: number;
  /** Column means of the inputs over these rows, d. */
  mean: Float64Array;
  /** Column means of the targets, k. */
  tMean: Float64Array;
  /** Σ (a − mean)(t − tMean)ᵀ, d×k row-major. */
  cross: Float64Array;
  /** Σ (t − tMean)², k. */
  tScatter: Float64Array;
}

/** A ridge regression's moments: the Gram part, the targets' part, or both (over the same rows). */
export interface RidgeMoments {
  d: number;
  k: number;
  gram: GramMoments|null;
  cross: CrossMoments|null;
}

/** Zero-row moments of width d (and k). */
export function emptyMoments(d: number, k: number): RidgeMoments {
  return {d, k, gram: null, cross: null};
}

/** Adds `part` into `into` in place and returns it; with `into` null, returns `part` itself (adopted). */
export function mergeGram(into: GramMoments|null, part: GramMoments|null): GramMoments|null {
  if (part == null || part.n === 0) return into;
  if (into == null || into.n === 0) return part;
  const d = into.mean.length, n = into.n + part.n, f = into.n * part.n / n;
  const delta = new Float64Array(d);
  for (let i = 0; i < d; i++) delta[i] = part.mean[i] - into.mean[i];
  const M = into.scatter, P = part.scatter;
  for (let i = 0; i < d; i++) {
    const row = i * d, fi = f * delta[i];
    for (let j = 0; j <= i; j++) M[row + j] += P[row + j] + fi * delta[j];
  }
  for (let i = 0; i < d; i++) into.mean[i] += delta[i] * part.n / n;
  into.n = n;
  return into;
}

/** Adds `part` into `into` in place and returns it; with `into` null, returns `part` itself (adopted). */
export function mergeCross(into: CrossMoments|null, part: CrossMoments|null): CrossMoments|null {
  if (part == null || part.n === 0) return into;
  if (into == null || into.n === 0) return part;
  const d = into.mean.length, k = into.tMean.length, n = into.n + part.n, f = into.n * part.n / n;
  const da = new Float64Array(d), dt = new Float64Array(k);
  for (let i = 0; i < d; i++) da[i] = part.mean[i] - into.mean[i];
  for (let q = 0; q < k; q++) dt[q] = part.tMean[q] - into.tMean[q];
  for (let i = 0; i < d; i++) {
    const row = i * k, fi = f * da[i];
    for (let q = 0; q < k; q++) into.cross[row + q] += part.cross[row + q] + fi * dt[q];
  }
  for (let q = 0; q < k; q++) into.tScatter[q] += part.tScatter[q] + f * dt[q] * dt[q];
  for (let i = 0; i < d; i++) into.mean[i] += da[i] * part.n / n;
  for (let q = 0; q < k; q++) into.tMean[q] += dt[q] * part.n / n;
  into.n = n;
  return into;
}

/**
 * Merges the moments of several shards (each covering its own rows).
 * Consumes its inputs (the first one's arrays become the result's). Every
 * shard must have the same widths.
 */
export function mergeMoments(parts: RidgeMoments[], label = 'ridge'): RidgeMoments {
  if (parts.length === 0) throw new Error(`${label}: no statistics to merge`);
  const {d, k} = parts[0];
  let gram: GramMoments|null = null, cross: CrossMoments|null = null;
  for (const p of parts) {
    if (p.d !== d || p.k !== k) throw new Error(`${label}: statistics of different widths cannot be merged`);
    gram = mergeGram(gram, p.gram);
    cross = mergeCross(cross, p.cross);
  }
  const rows = gram?.n ?? cross?.n ?? 0;
  if (gram != null) mirrorLower(gram.scatter, d);
  if (rows === 0) {
    throw new ERInputError(`${label}: no rows were accumulated (empty data); pass at least one row`);
  }
  return {d, k, gram, cross};
}

/** Copies the lower triangle of a d×d row-major matrix onto its upper triangle. */
export function mirrorLower(a: Float64Array, d: number): void {
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < i; j++) a[j * d + i] = a[i * d + j];
  }
}

/** True when every entry is finite. */
export function allFinite(x: ArrayLike<number>|null|undefined): boolean {
  if (x == null) return true;
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return false;
  return true;
}
