/**
 * One ER training run for the cluster and parallel suites (spawned by them,
 * one process per run): the CLI's training on the given executor, with every
 * pass's timings when it runs on Redis workers and the process's peak
 * resident memory (threads included), and each update's passes / reduce /
 * solve seconds. Prints one JSON line.
 *
 *   tsx bench/update_run.ts --arch A --mode M [--dataset D] [--train-size N] [--epochs E]
 *                           [--data-dir DIR] [--init data|glorot] [--threads N | --redis URL --shards S --queue Q]
 *                           [--count-flops]  (in-process: also the products' flops, see harness/flops.ts)
 */
import * as fs from 'fs';
import {parseArgs} from 'util';
import {SweepReport} from 'tfjs-er';
import {RedisPassReport} from 'tfjs-er/node';
import {train} from '../src/node/train';
import {countProductFlops} from './harness/flops';

/** Peak resident memory of this process in MB (Linux), else null. */
function peakRssMb(): number|null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

async function main() {
  const {values: v} = parseArgs({options: {
    arch: {type: 'string'}, mode: {type: 'string'}, threads: {type: 'string'}, redis: {type: 'string'},
    shards: {type: 'string'}, queue: {type: 'string'}, epochs: {type: 'string'}, dataset: {type: 'string'}, 'data-dir': {type: 'string'},
    'train-size': {type: 'string'}, 'batch-size': {type: 'string'}, init: {type: 'string'},
    'count-flops': {type: 'boolean'}, 'forward-cache-mb': {type: 'string'},
  }});
  if (v['count-flops'] && v.threads !== '1') throw new Error('--count-flops needs --threads 1 (workers have their own engines)');
  const stopCounting = v['count-flops'] ? countProductFlops() : null;
  const passes: RedisPassReport[] = [];
  const updates: Array<Pick<SweepReport, 'seconds'|'passSeconds'>> = [];
  const result = await train({
    dataset: (v.dataset ?? 'mnist') as 'mnist', dataDir: v['data-dir'], arch: v.arch, mode: v.mode as 'er'|'erls',
    init: (v.init ?? 'data') as 'data'|'glorot',
    epochs: Number(v.epochs ?? 1), backend: 'wasm', seed: 0, threads: v.threads ? Number(v.threads) : undefined,
    trainSize: v['train-size'] ? Number(v['train-size']) : undefined,
    batchSize: v['batch-size'] ? Number(v['batch-size']) : undefined,
    redis: v.redis ? {url: v.redis, queue: v.queue ?? 'bench', shards: Number(v.shards)} : undefined,
    forwardCacheMB: v['forward-cache-mb'] != null ? Number(v['forward-cache-mb']) : undefined,
  }, {onPass: p => passes.push(p), onUpdate: r => updates.push({seconds: r.seconds, passSeconds: r.passSeconds})});
  const flops = stopCounting?.() ?? null;
  console.log(JSON.stringify({executor: result.executor, threads_start_seconds: result.threads_start_seconds,
                              train_rows: result.train_rows,
                              train_seconds: result.er.train_seconds, test_error: result.er.test_error,
                              history: result.er.history, peak_rss_mb: peakRssMb(), passes, updates, flops}));
}

main().catch(e => {
  console.error(`update run: ${(e as Error).stack}`);
  process.exit(1);
});
