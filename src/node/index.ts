/**
 * tfjs-er's Node-only entry (`tfjs-er/node`): the worker-thread and Redis executors, data
 * loaders, backend choice, file save/load and the CLI's training run. Never
 * in the browser bundle.
 */
export {BackendChoice, loadTensorflowBinding, useBackend} from './backend';
export {loadCifar10, parseCifarRecords} from './cifar';
export {balancedSubset, DatasetName, DatasetSplits, head, holdOut, LabelledImages, loadDataset, loadFashionMnist,
        loadIdxDataset, loadIdxPair, loadMnist} from './datasets';
export {fileLoadHandler, fileSaveHandler} from './fs_io';
export {IdxData, parseIdx, readIdx} from './idx';
export {ArchStep, buildConvnet, buildMlp, ConvFactory, DenseFactory, erConv, parseArch, parseConvArch} from './models';
export {ThreadPool, threadPool, ThreadPoolOptions} from './thread_pool';
export {defaultThreads, RunSummary, train, TrainHooks, TrainOptions, TrainResult} from './train';
export {DEFAULT_QUEUE, RedisExecutor, redisExecutor, RedisExecutorOptions, redisOptions, RedisPassReport} from './redis_executor';
export {ChunkBlob, LoadedShard, MapJobData, ShardPrint, ShardRequestInfo, ShardSource} from './redis_jobs';
export {RedisWorkerEvent, RedisWorkerHandle, RedisWorkerOptions, serveRedisWorker} from './redis_worker';
