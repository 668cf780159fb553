/** One ER update as map → reduce → solve, and the drivers that run it. */
import * as tf from '@tensorflow/tfjs-core';
import {ERInputError} from '../errors';
import {DenseState, NetworkUnit, toUnits} from '../units';
import {SweepCache} from './cache';
import {localSession, runSweepSync} from './drivers';
import {ShardData} from './map';
import {SweepConfig, SweepResult, sweepSteps} from './sweep';

export {sameData, SweepCache, weightsFingerprint} from './cache';
export {localSession, runSweep, runSweepSync, SweepSteps, UpdateSession} from './drivers';
export {ShardChunk, ShardData, ShardRunner, WeightSlot} from './map';
export {DataFingerprint, MergedPass, mergePasses, ObservedStats, orderedPredictions, PassPlan, PassStats,
        PredictionPieces, StatsPart} from './plan';
export {checkSweepConfig, ERMode, SweepConfig, SweepReport, SweepRequest, SweepResult, SweepRun, sweepSteps} from './sweep';

/**
 * Batches of inputs and observed targets; the iterable may be walked several
 * times and must give the same batches in the same order each time.
 */
export type BatchSource = () => Iterable<[tf.Tensor, tf.Tensor]>;

/** A {@link BatchSource} as one shard's data: each batch tagged with the index of its first row. */
export function shardOf(source: BatchSource): ShardData {
  return function* () {
    let offset = 0;
    for (const [x, y] of source()) {
      yield {x, y, offset};
      offset += x.shape[0];
    }
  };
}

/** Options of {@link erSweep} beyond the update's own. */
export interface ERSweepOptions {
  /** One example's input shape; default: the first batch's (or the first dense kernel's input width). */
  inputShape?: number[];
  /** Return the network's outputs under the starting weights (first pass). */
  predictions?: boolean;
}

/**
 * Runs one ER update of `layers` (dense states or network units) on the
 * batches of `source`, in this thread. Does not change the layers: returns
 * new weights (null where unchanged), which the caller owns.
 *
 * ```ts
 * const {weights, report} = erSweep(layers, tensorBatches(x, y, 1024), {alpha: 1e-3});
 * ```
 */
export function erSweep(layers: Array<DenseState|NetworkUnit>, source: BatchSource, config: SweepConfig = {},
                        cache?: SweepCache, options: ERSweepOptions = {}): SweepResult {
  const units = toUnits(layers);
  let inputShape = options.inputShape;
  if (inputShape == null) {
    const u = units[0];
    if (u.kind === 'dense') inputShape = [u.kernel.shape[0]];
    else {
      for (const [x] of source()) {
        inputShape = x.shape.slice(1);
        break;
      }
      if (inputShape == null) throw new ERInputError('the data gave no rows; pass at least one non-empty batch');
    }
  }
  const steps = sweepSteps(units, config, {inputShape, cache, predictions: options.predictions});
  return runSweepSync(steps, localSession(units, inputShape, shardOf(source)));
}
