/** Ridge regression from streamed, mergeable statistics. */
export {disposeRidgeState, RidgeAccumulator, RidgeState} from './accumulator';
export {AUTO_ALPHAS, gcvAlpha} from './gcv';
export {allFinite, mergeShardStats, RidgeMoments, RidgeShardStats} from './moments';
export {checkSolveConfig, refitLinear, RidgeSolution, RidgeSolveConfig, RidgeSystem, solveRidge} from './solve';
