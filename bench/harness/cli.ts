/**
 * The benchmarks' training command (spawned by `bench/lib.ts`, one process
 * per run): the options of `harness/train.ts` as flags, one JSON line out.
 *
 *   tfjs-er train --dataset mnist|fashion-mnist|cifar10 [--data-dir DIR]
 *                 --optimizer er|adam [--arch 784-1000-10] [--activation relu]
 *                 [--epochs N] [--batch-size B] [--backend auto|wasm|cpu|tensorflow]
 *                 [--seed S] [--save DIR] [--json] [--threads N]
 */
import {DatasetName} from 'tfjs-er/node';
import {flagReaders, trainFlags, usageFail} from '../../src/node/flags';
import {train, TrainOptions} from './train';

const USAGE = `usage: tfjs-er train --dataset mnist|fashion-mnist|cifar10 [--data-dir DIR]
                     --optimizer er|adam [--arch 784-1000-10] [--activation relu|tanh|sigmoid]
                     [--epochs N] [--batch-size B] [--backend auto|wasm|cpu|tensorflow]
                     [--seed S] [--save DIR] [--json]
  ER options:   --mode er|erls (default er)  --init glorot|data (default glorot)  --alpha A|auto (ridge, default 0.001)
                --threads N (worker threads for the update; default: every core, 1 on tensorflow)
                --step-search refit|held (how erls judges a step; default refit)
  Adam options: --lr RATE (default 0.001)  --wasm-transpose-fix
  Other:        --train-size N (class-balanced subset)  --target-accuracy A (stop when reached)
                --val-size N (hold out N training rows; reports the best epoch on them)
                --patience P (early stopping: stop after P epochs without a better held-out accuracy)
                --eval-each-epoch (test accuracy after every epoch; with --json, adds "history")`;

const fail: (message: string) => never = usageFail(USAGE);

const flags = flagReaders(fail);
const {oneOf, int} = flags;

/** Parses the command line into training options (exits with usage on error). */
export function parseCli(argv: string[]): {options: TrainOptions, json: boolean} {
  const v = trainFlags(argv, {
    'dataset': {type: 'string'}, 'data-dir': {type: 'string'}, 'optimizer': {type: 'string'},
    'arch': {type: 'string'}, 'activation': {type: 'string'}, 'epochs': {type: 'string'},
    'batch-size': {type: 'string'}, 'backend': {type: 'string'}, 'seed': {type: 'string'},
    'save': {type: 'string'}, 'json': {type: 'boolean'}, 'mode': {type: 'string'},
    'init': {type: 'string'}, 'lr': {type: 'string'}, 'wasm-transpose-fix': {type: 'boolean'},
    'train-size': {type: 'string'}, 'target-accuracy': {type: 'string'}, 'help': {type: 'boolean'},
    'eval-each-epoch': {type: 'boolean'}, 'val-size': {type: 'string'}, 'alpha': {type: 'string'}, 'patience': {type: 'string'},
    'threads': {type: 'string'}, 'step-search': {type: 'string'},
  }, USAGE, fail);
  const lr = v.lr == null ? undefined : Number(v.lr);
  if (lr != null && !(lr > 0)) fail(`--lr must be a positive number, got '${v.lr}'`);
  const alpha = flags.alpha(v.alpha);
  const target = v['target-accuracy'] == null ? undefined : Number(v['target-accuracy']);
  if (target != null && !(target > 0 && target <= 1)) fail(`--target-accuracy must be in (0, 1]`);
  const seed = flags.seed(v.seed);
  const options: TrainOptions = {
    dataset: oneOf<DatasetName>('dataset', v.dataset, ['mnist', 'fashion-mnist', 'cifar10'], 'mnist'),
    dataDir: v['data-dir'],
    optimizer: oneOf<'er'|'adam'>('optimizer', v.optimizer, ['er', 'adam'], 'er'),
    mode: oneOf<'er'|'erls'>('mode', v.mode, ['er', 'erls'], 'er'),
    init: oneOf<'glorot'|'data'>('init', v.init, ['glorot', 'data'], 'glorot'),
    lr,
    alpha,
    arch: v.arch,
    activation: oneOf<'relu'|'tanh'|'sigmoid'>('activation', v.activation, ['relu', 'tanh', 'sigmoid'], 'relu'),
    epochs: int('epochs', v.epochs, 1)!,
    batchSize: int('batch-size', v['batch-size']),
    backend: oneOf<'auto'|'wasm'|'cpu'|'tensorflow'>('backend', v.backend, ['auto', 'wasm', 'cpu', 'tensorflow'], 'auto'),
    seed,
    save: v.save,
    wasmTransposeFix: v['wasm-transpose-fix'],
    trainSize: int('train-size', v['train-size']),
    targetAccuracy: target,
    evalEachEpoch: v['eval-each-epoch'],
    valSize: int('val-size', v['val-size']),
    patience: int('patience', v.patience),
    threads: int('threads', v.threads),
    stepSearch: oneOf<'refit'|'held'>('step-search', v['step-search'], ['refit', 'held'], 'refit'),
  };
  if (options.patience != null && options.valSize == null) fail('--patience needs --val-size N (a held-out split)');
  return {options, json: Boolean(v.json)};
}

async function main() {
  const {options} = parseCli(process.argv.slice(2));
  const result = await train(options, {
    onEpochEnd: r => console.error(`epoch ${r.epoch}: loss ${r.loss.toFixed(4)}` +
        (r.test_accuracy != null ? `, test accuracy ${(100 * r.test_accuracy).toFixed(2)}%` : '') +
        `, ${r.train_seconds.toFixed(1)} s training`),
  });
  const {history, ...summary} = result;
  console.log(JSON.stringify(options.evalEachEpoch ? {...summary, history} : summary));
}

main().catch(e => {
  console.error(`bench run: ${(e as Error).message}`);
  process.exit(1);
});
