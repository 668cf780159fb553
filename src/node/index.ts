/**
 * tfjs-er's Node-only entry (`tfjs-er/node`): data loaders, backend choice,
 * file save/load, the training runner behind the CLI. Never in the browser bundle.
 */
export {BackendChoice, loadTensorflowBinding, useBackend} from './backend';
export {loadCifar10, parseCifarRecords} from './cifar';
export {balancedSubset, DatasetSplits, head, LabelledImages, loadFashionMnist, loadIdxDataset, loadIdxPair, loadMnist} from './datasets';
export {fileLoadHandler, fileSaveHandler} from './fs_io';
export {IdxData, parseIdx, readIdx} from './idx';
export {buildMlp, DatasetName, EpochRecord, loadDataset, parseArch, train, TrainHooks, TrainOptions, TrainResult} from './train';
export {installWasmTransposeFix} from './wasm_matmul_fix';
export {ThreadPool, threadPool, ThreadPoolOptions} from './thread_pool';
