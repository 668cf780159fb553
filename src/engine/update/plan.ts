/**
 * The passes of one ER update as plain data: what a shard is asked to do
 * (a {@link PassPlan}) and what it answers (its additive {@link PassStats}),
 * plus the reduce that adds the answers of many shards. Both sides are
 * serialisable, so a pass can run in this thread, a worker or another process.
 */
import {RidgeMoments} from '../ridge/moments';

/** Which sums of a unit's ridge regression a pass accumulates. */
export type StatsPart = 'full'|'cross';

/**
 * One pass over a shard's rows.
 * - `first`: forward with the current weights, reflect the output field,
 *   accumulate the output unit's statistics (`unit` null: output frozen),
 *   and observe the data (rows, finiteness, target range); keep the forward
 *   of as many chunks as `cacheBytes` allows for the target passes.
 * - `rebuild`: the output unit's full statistics again (its cached Gram did not apply).
 * - `target`: carry the reflected output target down to `unit` through the
 *   new weights above (from where the last target pass left it, for kept
 *   chunks) and accumulate that unit's statistics.
 * - `refresh`: the output unit's statistics on the new features, against
 *   the targets kept by the first `target` pass (recomputed if missing).
 * - `search`: the misfit of the `'erls'` step search for every γ, output held.
 * - `searchFit` / `searchScore`: the refit-aware step search (see `sweep.ts`).
 */
export type PassPlan =
    {kind: 'first', unit: number|null, part: StatsPart, fingerprint: boolean, predictions: boolean,
     /** Bytes of this shard's forwards to keep for the target passes (see `forward_cache.ts`); default 0. */
     cacheBytes?: number}|
    {kind: 'rebuild', unit: number}|
    {kind: 'target', unit: number, part: StatsPart, keepTargets: boolean}|
    {kind: 'refresh', unit: number}|
    {kind: 'search', rows: number, gammas: number[], low: number, blended: number[]}|
    /**
     * Refit-aware search, step 1: the output unit's statistics on the features of W(γ), over the
     * rows i with i mod stride = phase.
     */
    {kind: 'searchFit', stride: number, phase: number, gammas: number[], low: number, blended: number[]}|
    /** Refit-aware search, step 2: the misfit of each γ's read-out (slot 'readout' j) on such rows. */
    {kind: 'searchScore', stride: number, phase: number, gammas: number[], low: number, blended: number[]};

/** Rows, finiteness and target range seen by a first pass. */
export interface ObservedStats {
  finite: boolean;
  yMin: number;
  yMax: number;
  /** max |x| over the inputs. */
  xAbsMax: number;
}

/** Column sums and the sum of squares of the network's inputs: tells whether two passes saw the same data. */
export interface DataFingerprint {
  rows: number;
  sums: Float64Array;
  sumSq: number;
}

/** Per-row outputs of the network under the current weights, with where each piece of rows starts. */
export interface PredictionPieces {
  /** Values per row (flattened output). */
  width: number;
  pieces: Array<{offset: number, values: Float32Array}>;
}

/** What one shard answers for one pass (every part additive over shards). */
export interface PassStats {
  /** Rows the pass walked. */
  rows: number;
  /** The unit's ridge statistics (first, rebuild, target, refresh). */
  ridge?: RidgeMoments;
  observed?: ObservedStats;
  fingerprint?: DataFingerprint;
  predictions?: PredictionPieces;
  /** search, searchScore: Σ squared misfit per γ, and the number of target values summed. */
  misfit?: {sums: Float64Array, count: number};
  /** searchFit: the output unit's statistics per γ. */
  fits?: RidgeMoments[];
}

/** The shards' answers to one pass, added up (ridge statistics are merged by the sweep). */
export interface MergedPass {
  rows: number;
  ridge: RidgeMoments[];
  observed: ObservedStats|null;
  fingerprint: DataFingerprint|null;
  predictions: PredictionPieces|null;
  misfit: {sums: Float64Array, count: number}|null;
  /** searchFit: per γ, every shard's statistics. */
  fits: RidgeMoments[][];
}

/** Adds the answers of several shards to one pass. */
export function mergePasses(parts: PassStats[]): MergedPass {
  const out: MergedPass = {rows: 0, ridge: [], observed: null, fingerprint: null, predictions: null, misfit: null,
                           fits: []};
  for (const p of parts) {
    out.rows += p.rows;
    if (p.ridge) out.ridge.push(p.ridge);
    if (p.observed) {
      const o = out.observed;
      out.observed = o == null ? {...p.observed} :
          {finite: o.finite && p.observed.finite, yMin: Math.min(o.yMin, p.observed.yMin),
           yMax: Math.max(o.yMax, p.observed.yMax), xAbsMax: Math.max(o.xAbsMax, p.observed.xAbsMax)};
    }
    if (p.fingerprint) {
      const f = out.fingerprint;
      if (f == null) {
        out.fingerprint = {rows: p.fingerprint.rows, sums: Float64Array.from(p.fingerprint.sums),
                           sumSq: p.fingerprint.sumSq};
      } else {
        f.rows += p.fingerprint.rows;
        f.sumSq += p.fingerprint.sumSq;
        p.fingerprint.sums.forEach((v, i) => { f.sums[i] += v; });
      }
    }
    if (p.predictions) {
      if (out.predictions == null) out.predictions = {width: p.predictions.width, pieces: []};
      out.predictions.pieces.push(...p.predictions.pieces);
    }
    if (p.fits) p.fits.forEach((m, j) => (out.fits[j] ??= []).push(m));
    if (p.misfit) {
      const m = out.misfit;
      if (m == null) out.misfit = {sums: Float64Array.from(p.misfit.sums), count: p.misfit.count};
      else {
        m.count += p.misfit.count;
        p.misfit.sums.forEach((v, i) => { m.sums[i] += v; });
      }
    }
  }
  return out;
}

/** The predictions of a merged pass as one row-ordered array of `rows × width` values. */
export function orderedPredictions(p: PredictionPieces, rows: number): Float32Array {
  const out = new Float32Array(rows * p.width);
  for (const piece of p.pieces) out.set(piece.values, piece.offset * p.width);
  return out;
}
