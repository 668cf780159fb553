/**
 * tfjs-er: Expectation Reflection training for TensorFlow.js.
 *
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import {er, erLayers, attachER, erHead} from 'tfjs-er';
 * ```
 *
 * The engine (the update's math, ridge statistics, float64 solves) is the
 * `engine` namespace; executor building blocks are `executors`.
 * @packageDocumentation
 */
import * as engine from './engine/index';
import * as executors from './executors/index';
import * as erLayers from './layers/index';

export {engine, erLayers, executors};
export {ERConfig, er, ERUpdateSchedule, ExpectationReflection} from './optimizer/expectation_reflection';
export {attachER} from './attach';
export {erHead, ERHeadConfig, ERHeadProjection, extendERHead, ExtendERHeadConfig} from './head';
export {ERHead, ERHeadLayerArgs} from './layers/er_head';
export {ERDense, ERDenseLayerArgs} from './layers/er_dense';
export {ERConv2D, ERConv2DLayerArgs} from './layers/er_conv2d';
export {initializeFromData} from './data_init';
export {ERLossName, SUPPORTED_LOSSES} from './training/losses';
export {ERInputError, ERMode, ERNumericalError, SweepReport} from './engine/index';
export {ERExecutor, ExecutorRun, RunOptions} from './executors/executor';
export {inProcess, InProcessExecutor} from './executors/in_process';
export {WebWorkerPool, webWorkerPool, WebWorkerPoolOptions} from './executors/web_workers';
export {version} from './version';
