/**
 * The coordinator side of the `'erls'` step search: which steps γ to try,
 * the passes that score them (see `search_map.ts` for the map side), and
 * the choice. The hidden units move to `W(γ) = W⁰ + γ(W^ER − W⁰)`.
 */
import * as tf from '@tensorflow/tfjs-core';
import {mergeMoments, RidgeMoments} from '../ridge/moments';
import {disposeWeights, UnitWeights} from '../units';
import {MergedPass, PassPlan} from './plan';
import type {SweepReply, SweepRequest} from './sweep';

/** The steps γ the search may choose. */
export const GAMMAS = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256];

/**
 * The refit-aware search's first grid (×4 apart), then the best one's
 * neighbours in GAMMAS: six steps tried in all, rather than the full grid's ten.
 */
const COARSE_GAMMAS = [1, 4, 16, 64];

/** What the search needs from the sweep. */
export interface StepSearchContext {
  /** Runs a pass (and times it). */
  pass(plan: PassPlan): Generator<SweepRequest, MergedPass, SweepReply>;
  /** Solves the output unit's read-out from merged statistics (new tensors the search disposes). */
  readout(m: RidgeMoments): UnitWeights;
}

/**
 * Chooses γ for the blended units `hidden` (the lowest is `low`) on a data
 * set of `rows` rows. 'held': the output field's misfit with the output unit
 * held, on the first `searchRows` rows, over the whole grid. 'refit': each
 * γ's read-out solved on subsample A (rows i mod s = 0) and scored on B
 * (rows i mod s = 1), ~searchRows each and spread over all the rows (so a
 * class-sorted data set gives both every class); the coarse grid, then the
 * best one's neighbours. Returns γ and, for 'refit', every score.
 */
export function* chooseStep(rule: 'refit'|'held', rows: number, searchRows: number, low: number, hidden: number[],
                            ctx: StepSearchContext):
    Generator<SweepRequest, {gamma: number, scores?: Record<string, number>}, SweepReply> {
  if (rule === 'held') {
    const p = yield* ctx.pass({kind: 'search', rows: searchRows, gammas: GAMMAS, low, blended: hidden});
    return {gamma: bestGamma(GAMMAS, p.misfit!.sums, p.misfit!.count)};
  }
  if (rows < 2) return {gamma: 1};
  const stride = Math.max(2, Math.floor(rows / searchRows));
  const scores = new Map<number, number>();
  function* tryGammas(gammas: number[]): Generator<SweepRequest, void, SweepReply> {
    const fit = yield* ctx.pass({kind: 'searchFit', stride, phase: 0, gammas, low, blended: hidden});
    const readouts: UnitWeights[] = [];
    try {
      gammas.forEach((_, j) => readouts.push(ctx.readout(mergeMoments(fit.fits[j], 'step search read-out'))));
      for (let j = 0; j < gammas.length; j++) yield {kind: 'set', slot: 'readout', unit: j, value: readouts[j]};
      const score = yield* ctx.pass({kind: 'searchScore', stride, phase: 1, gammas, low, blended: hidden});
      gammas.forEach((g, j) => scores.set(g, score.misfit!.sums[j] / score.misfit!.count));
      for (let j = 0; j < gammas.length; j++) yield {kind: 'set', slot: 'readout', unit: j, value: null};
    } finally {
      readouts.forEach(disposeWeights);
    }
  }
  yield* tryGammas(COARSE_GAMMAS);
  const coarse = bestOf(scores);
  const around = (coarse === 1 ? [0, 2] : [coarse / 2, coarse * 2]).filter(g => GAMMAS.includes(g) && !scores.has(g));
  if (around.length > 0) yield* tryGammas(around);
  return {gamma: bestOf(scores),
          scores: Object.fromEntries([...scores].sort((p, q) => p[0] - q[0]).map(([g, v]) => [String(g), v]))};
}

/** The γ with the least mean misfit (the first one on ties). */
function bestGamma(gammas: number[], sums: Float64Array, count: number): number {
  let best = Infinity, g = 1;
  gammas.forEach((gamma, j) => {
    const v = sums[j] / count;
    if (v < best) {
      best = v;
      g = gamma;
    }
  });
  return g;
}

/** The γ with the least score (the smallest γ on ties). */
function bestOf(scores: Map<number, number>): number {
  let best = Infinity, g = 1;
  for (const [gamma, v] of [...scores].sort((p, q) => p[0] - q[0])) {
    if (v < best) {
      best = v;
      g = gamma;
    }
  }
  return g;
}

/** `w0 + γ(w − w0)` as new tensors. */
export function blend(w0: UnitWeights, w: UnitWeights, gamma: number): UnitWeights {
  return tf.tidy(() => ({
    kernel: tf.add(w0.kernel, tf.mul(tf.sub(w.kernel, w0.kernel), gamma)),
    bias: w.bias != null ? tf.add(w0.bias!, tf.mul(tf.sub(w.bias, w0.bias!), gamma)) as tf.Tensor1D : null,
  }) as unknown as tf.TensorContainer) as unknown as UnitWeights;
}
