#!/usr/bin/env node
/**
 * The tfjs-er command line (Node only).
 *
 *   tfjs-er train --dataset mnist|fashion-mnist|cifar10 [options]   train with ER (see USAGE)
 *   tfjs-er worker --redis redis://HOST:PORT [options]              serve a Redis queue's map jobs
 */
import {parseArgs} from 'util';
import {BackendChoice, useBackend} from './backend';
import {DatasetName} from './datasets';
import {flagReaders, trainFlags, usageFail} from './flags';
import {formatDuration, Progress} from './progress';
import {DEFAULT_QUEUE} from './redis_executor';
import {serveRedisWorker} from './redis_worker';
import {train, TrainOptions, TrainResult} from './train';

const USAGE = `usage: tfjs-er train --dataset mnist|fashion-mnist|cifar10 [--data-dir DIR] [options]
  --arch 784-1000-10        the network: layer sizes, or a convnet such as 3072-c32k5-p8-10
                            (cN[kK] conv, pN/aN max/avg pooling, numbers dense; last = classes)
  --epochs N                ER updates, one per epoch (default 1)
  --mode er|erls            plain ER, or ER with the automatic step (default er)
  --threads N               worker threads for each update (default: every core; 1 on tensorflow)
  --executor redis://HOST:PORT   run each update's passes on \`tfjs-er worker\` processes instead
  --queue NAME              their queue (default ${DEFAULT_QUEUE})   --shards N   (default: one per worker)
  --backend auto|wasm|cpu|tensorflow   (default auto: tfjs-node if installed, else wasm)
  --init glorot|data        initialisation (default glorot; data = the ER reference's)
  --alpha A|auto            ridge (default 0.001)   --step-search refit|held   (erls; default refit)
  --activation relu|tanh|sigmoid   hidden units (default relu)
  --batch-size B            rows per chunk of a pass (default 2000; speed only)
  --forward-cache-mb MB     memory each update keeps between its passes (default 512; 0: none; speed only)
  --train-size N            train on a class-balanced subset of N rows
  --seed S  --save DIR  --json
  --compare adam            also train the same network with tfjs's Adam (lr 1e-3, batch 128)

usage: tfjs-er worker --redis redis://HOST:PORT [options]     (run as many as you like, on any machines)
  --queue NAME              the coordinator's queue (default ${DEFAULT_QUEUE})
  --backend auto|wasm|cpu|tensorflow   (default auto)
  --data-dir DIR            where this machine keeps the data set (CIFAR-10's binary release)
  --lock-seconds S          a dead worker's job moves on after about S seconds (default 30)
  --quiet                   no line per job`;

const fail: (message: string) => never = usageFail(USAGE);

const flags = flagReaders(fail);
const {oneOf, int} = flags;

/** What `tfjs-er worker` runs. */
export interface WorkerCommand {
  redis: string;
  queue: string;
  backend: BackendChoice;
  dataDir?: string;
  lockSeconds?: number;
  quiet: boolean;
}

/** Parses `tfjs-er worker …` (exits with the usage on error). */
export function parseWorkerCli(argv: string[]): WorkerCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: {'redis': {type: 'string'}, 'queue': {type: 'string'}, 'backend': {type: 'string'},
                'data-dir': {type: 'string'}, 'lock-seconds': {type: 'string'}, 'quiet': {type: 'boolean'}},
    });
  } catch (e) {
    fail((e as Error).message);
  }
  const v = parsed.values;
  if (v.redis == null) fail('worker needs --redis redis://HOST:PORT');
  const lock = v['lock-seconds'] == null ? undefined : Number(v['lock-seconds']);
  if (lock != null && !(lock > 0 && Number.isFinite(lock))) fail(`--lock-seconds must be a positive number, got '${v['lock-seconds']}'`);
  return {redis: v.redis, queue: v.queue ?? DEFAULT_QUEUE,
          backend: oneOf<BackendChoice>('backend', v.backend, ['auto', 'wasm', 'cpu', 'tensorflow'], 'auto'),
          dataDir: v['data-dir'], lockSeconds: lock, quiet: Boolean(v.quiet)};
}

/** Parses `tfjs-er train …` into training options (exits with the usage on error). */
export function parseCli(argv: string[]): {options: TrainOptions, json: boolean} {
  const v = trainFlags(argv, {
    'dataset': {type: 'string'}, 'data-dir': {type: 'string'}, 'arch': {type: 'string'},
    'activation': {type: 'string'}, 'epochs': {type: 'string'}, 'batch-size': {type: 'string'},
    'backend': {type: 'string'}, 'seed': {type: 'string'}, 'save': {type: 'string'}, 'json': {type: 'boolean'},
    'mode': {type: 'string'}, 'init': {type: 'string'}, 'alpha': {type: 'string'}, 'threads': {type: 'string'},
    'step-search': {type: 'string'}, 'train-size': {type: 'string'}, 'compare': {type: 'string'},
    'executor': {type: 'string'}, 'queue': {type: 'string'}, 'shards': {type: 'string'}, 'help': {type: 'boolean'},
    'forward-cache-mb': {type: 'string'},
  }, USAGE, fail);
  const alpha = flags.alpha(v.alpha);
  const seed = flags.seed(v.seed);
  if (v.compare != null && v.compare !== 'adam') fail(`--compare takes 'adam', got '${v.compare}'`);
  if (v.executor != null && !v.executor.startsWith('redis://')) {
    fail(`--executor takes a Redis URL redis://HOST:PORT, got '${v.executor}'`);
  }
  if (v.executor != null && v.threads != null) fail('--threads and --executor exclude each other');
  if (v.executor == null && (v.queue != null || v.shards != null)) fail('--queue and --shards go with --executor redis://…');
  const options: TrainOptions = {
    dataset: oneOf<DatasetName>('dataset', v.dataset, ['mnist', 'fashion-mnist', 'cifar10'], 'mnist'),
    dataDir: v['data-dir'],
    arch: v.arch,
    activation: oneOf<'relu'|'tanh'|'sigmoid'>('activation', v.activation, ['relu', 'tanh', 'sigmoid'], 'relu'),
    mode: oneOf<'er'|'erls'>('mode', v.mode, ['er', 'erls'], 'er'),
    stepSearch: oneOf<'refit'|'held'>('step-search', v['step-search'], ['refit', 'held'], 'refit'),
    init: oneOf<'glorot'|'data'>('init', v.init, ['glorot', 'data'], 'glorot'),
    alpha,
    epochs: int('epochs', v.epochs, 1)!,
    batchSize: int('batch-size', v['batch-size']),
    forwardCacheMB: flags.nonNegative('forward-cache-mb', v['forward-cache-mb'], 'megabytes'),
    backend: oneOf<'auto'|'wasm'|'cpu'|'tensorflow'>('backend', v.backend, ['auto', 'wasm', 'cpu', 'tensorflow'], 'auto'),
    threads: int('threads', v.threads),
    seed,
    trainSize: int('train-size', v['train-size']),
    save: v.save,
    compareAdam: v.compare === 'adam',
    redis: v.executor != null ? {url: v.executor, queue: v.queue ?? DEFAULT_QUEUE, shards: int('shards', v.shards)} :
                                undefined,
  };
  return {options, json: Boolean(v.json)};
}

function summary(r: TrainResult): string[] {
  const line = (s: TrainResult['er']) => `  ${s.optimizer.padEnd(12)} test accuracy ${(100 * s.test_accuracy).toFixed(2)} % ` +
      `(error ${s.test_error.toFixed(2)} %) after ${s.epochs} epoch(s), ${s.train_seconds.toFixed(1)} s training`;
  return [`${r.dataset} ${r.arch} on ${r.backend}, ${r.train_rows} training rows:`, line(r.er), ...(r.adam ? [line(r.adam)] : [])];
}

/** Runs `tfjs-er worker` until SIGTERM or SIGINT. */
async function worker(cmd: WorkerCommand) {
  const backend = await useBackend(cmd.backend);
  const handle = serveRedisWorker({
    connection: cmd.redis, queue: cmd.queue, dataDir: cmd.dataDir, lockSeconds: cmd.lockSeconds,
    onJob: cmd.quiet ? undefined : e => {
      if (e.phase === 'start') return;
      const what = `update ${e.update} pass ${e.pass} (${e.plan}) shard ${e.shard + 1}/${e.shards}`;
      console.log(e.phase === 'done' ? `${what}: ${e.seconds!.toFixed(2)} s` : `${what} failed: ${e.error}`);
    },
    onBroken: e => {
      console.error(`tfjs-er worker: ${e.message}; exiting (start it again, with more memory or smaller batches)`);
      process.exit(1);
    },
  });
  await handle.ready();
  console.log(`tfjs-er worker (${backend}) serving queue '${cmd.queue}' on ${cmd.redis}; SIGTERM or Ctrl-C stops it`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    handle.close().then(() => process.exit(0), e => {
      console.error(`tfjs-er worker: ${(e as Error).message}`);
      process.exit(1);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv[0] === 'worker') return worker(parseWorkerCli(argv));
  const {options, json} = parseCli(argv);
  // With --json, stdout carries only the final JSON line; progress goes to stderr.
  const progress = json ? new Progress(process.stderr, Boolean(process.stderr.isTTY)) : new Progress();
  const log = json ? console.error : console.log;
  const result = await train(options, {
    onExecutor: (where, backend) => log(`ER update on ${where} (${backend})`),
    onEpochBegin: (label, epoch, batches, batchSize) => progress.beginEpoch(epoch, options.epochs, batches, batchSize, label),
    onBatchEnd: done => progress.batch(done),
    onEpochEnd: (label, r) => progress.endEpoch(
        `${label} epoch ${r.epoch}: test accuracy ${(100 * r.test_accuracy).toFixed(2)}%, ` +
        `${formatDuration(r.train_seconds)} training`),
  });
  if (json) console.log(JSON.stringify(result));
  else {
    for (const l of summary(result)) console.log(l);
    if (options.save) console.log(`saved to ${options.save}/model.json`);
  }
}

if (require.main === module) {
  main().catch(e => {
    console.error(`tfjs-er: ${(e as Error).message}`);
    process.exit(1);
  });
}
