/**
 * tfjs-er: Expectation Reflection training for TensorFlow.js.
 *
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import {er, erLayers, attachER} from 'tfjs-er';
 * ```
 * @packageDocumentation
 */
import * as erLayers from './layers/index';

export * from './engine/index';
export {attachER} from './attach';
export {erHead, ERHeadConfig, extendERHead, ExtendERHeadConfig} from './head';
export {ERHead, ERHeadLayerArgs} from './layers/er_head';
export {initializeFromData} from './data_init';
export {ERConfig, er, ERUpdateSchedule, ExpectationReflection} from './optimizer/expectation_reflection';
export {ERDense, ERDenseLayerArgs} from './layers/er_dense';
export {ERConv2D, ERConv2DLayerArgs} from './layers/er_conv2d';
export {ERLossName, SUPPORTED_LOSSES} from './training/losses';
export {ERExecutor, ExecutorRun, RunOptions} from './executors/executor';
export {RemoteRun, RemoteShard} from './executors/remote';
export {ShardPort} from './executors/protocol';
export {serveShard} from './executors/shard_server';
export {WebWorkerPool, webWorkerPool, WebWorkerPoolOptions} from './executors/web_workers';
export {inProcess, InProcessExecutor} from './executors/in_process';
export {erLayers};
export {version} from './version';
