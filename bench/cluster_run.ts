/**
 * One run of the cluster suite (spawned by bench/cluster.ts, one process per
 * run): one ER update of the CLI's training on the given executor, with every
 * pass's timings when it runs on Redis workers. Prints one JSON line.
 *
 *   tsx bench/cluster_run.ts --arch A --mode M --threads N | --redis URL --shards S
 */
import {parseArgs} from 'util';
import {RedisPassReport} from 'tfjs-er/node';
import {train} from '../src/node/train';

async function main() {
  const {values: v} = parseArgs({options: {
    arch: {type: 'string'}, mode: {type: 'string'}, threads: {type: 'string'}, redis: {type: 'string'},
    shards: {type: 'string'}, queue: {type: 'string'}, epochs: {type: 'string'},
  }});
  const passes: RedisPassReport[] = [];
  const result = await train({
    dataset: 'mnist', arch: v.arch, mode: v.mode as 'er'|'erls', init: 'data', epochs: Number(v.epochs ?? 1),
    backend: 'wasm', seed: 0, threads: v.threads ? Number(v.threads) : undefined,
    redis: v.redis ? {url: v.redis, queue: v.queue ?? 'bench', shards: Number(v.shards)} : undefined,
  }, {onPass: p => passes.push(p)});
  console.log(JSON.stringify({executor: result.executor, train_seconds: result.er.train_seconds,
                              test_error: result.er.test_error, passes}));
}

main().catch(e => {
  console.error(`cluster run: ${(e as Error).stack}`);
  process.exit(1);
});
