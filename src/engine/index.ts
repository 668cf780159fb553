/** The ER engine: pure math on tfjs tensors plus float64 solves. */
export {activate, ERActivation, toERActivation} from './activations';
export {ERInputError, ERNumericalError} from './errors';
export {dataScaledInit, DenseState, DenseWeights, field, forwardChain, validateChain} from './network';
export {preimage, preimageOperator} from './preimage';
export {fieldRatio, reflectHidden, reflectOutput, targetRange} from './reflect';
export {AUTO_ALPHAS, disposeRidgeState, RidgeAccumulator, RidgeSolution, RidgeSolveConfig, RidgeState} from './ridge';
export {choleskyInPlace, choleskySolveInPlace, solveSPD, solveSPDInPlace, SPDSolveResult, symmetrize} from './spd';
export {tensorBatches} from './batches';
export {BatchSource, ERMode, ERSweep, erSweep, SweepCache, SweepConfig, SweepReport, SweepResult} from './sweep';
export {ConvGeometry, convField, convOutput, extractPatches, foldOffsets, foldPatches, poolPreimage} from './conv';
export {forwardUnits, NetworkUnit, PassUnit, SolvedUnit, unitPreimage, UnitWeights, validateUnits} from './units';
export {NetworkSweep, NetworkSweepResult, UnitBatchSource} from './network_sweep';
