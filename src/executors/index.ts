/**
 * Building blocks for executors that run shards elsewhere (the thread pool,
 * the Web Worker pool and the Redis executor are made of these): the shard
 * protocol, its coordinator side (`RemoteRun`, `RemoteShard`) and its shard
 * side (`serveShard`).
 * @packageDocumentation
 */
export {ERExecutor, ExecutorRun, RunOptions} from './executor';
export {inProcess, InProcessExecutor} from './in_process';
export {buffersOf, errorFromWire, errorToWire, fromWire, ShardEnvelope, ShardPort, ShardReply, ShardRequest, toWire,
        WireChunk, WireTensor, WireWeights, weightsToWire} from './protocol';
export {RemoteRun, RemoteShard} from './remote';
export {backendAbortError, isBackendAbort, serveShard, ShardUpdate} from './shard_server';
export {shardBounds} from './shards';
