/** Ridge regression from streamed, mergeable statistics. */
export {RidgeAccumulator} from './accumulator';
export {disposeRidgeState, momentsFromState, RidgeState, stateFromMoments, withConstantTargets} from './state';
export {AUTO_ALPHAS, bestAlpha, gcvScores} from './gcv';
export {allFinite, CrossMoments, emptyMoments, GramMoments, mergeCross, mergeGram, mergeMoments, RidgeMoments} from './moments';
export {checkSolveConfig, refitLinear, RidgeSolution, RidgeSolveConfig, RidgeSystem, solveRidge} from './solve';
