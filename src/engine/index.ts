/**
 * The ER engine (`import {engine} from 'tfjs-er'`): pure math on tfjs
 * tensors, float64 solves, and the update as map → reduce → solve.
 *
 * ```ts
 * const {weights, report} = engine.erSweep(layers, engine.tensorBatches(xs, ys, 2000));
 * ```
 * @packageDocumentation
 */
export {activate, ERActivation, toERActivation} from './activations';
export {ERInputError, ERNumericalError} from './errors';
export {dataScaledInit} from './init';
export {preimage, preimageOperator} from './preimage';
export {fieldRatio, reflectHidden, reflectOutput, targetRange} from './reflect';
export * from './ridge/index';
export {choleskyInPlace, choleskySolveInPlace, FactorRequest, factorRequest, solveSPD, solveSPDInPlace, SPDSolveResult, symmetrize} from './spd';
export {abortFactor, choleskyPart, CONTROL_SLOTS, FactorAbortedError} from './spd_shared';
export {tensorBatches} from './batches';
export {gatherRows, rowRange, sliceWindow, subMatrix} from './window';
export {columnSums} from './reduce';
export {ConvGeometry, convField, convOutput, extractPatches, foldOffsets, foldPatches, foldStride1, patchRows, poolPreimage} from './conv';
export {DenseState, DenseWeights, designRows, disposeWeights, field, fieldRows, forwardUnits, isSolved, NetworkSpec,
        NetworkUnit, PassUnit, rowWidth, SolvedUnit, SolvedUnitSpec, specOf, toUnits, unitPreimage, unitsOf,
        unitWidth, UnitWeights, validateUnits} from './units';
export * from './update/index';
