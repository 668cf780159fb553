/**
 * `npm run bench -- --suite cluster`: one ER update over Redis worker
 * processes (BullMQ, loopback) against the in-process and thread-pool runs,
 * in one session, alternating. Starts its own redis-server and workers and
 * stops them. Per pass, the queue's overhead is the coordinator's wall time
 * minus the slowest worker's time on its job (queueing, serialisation,
 * Redis round-trips, waking up); a worker's first job also loads its shard,
 * reported apart.
 */
import {ChildProcess, spawn} from 'child_process';
import * as path from 'path';
import type {RedisPassReport} from 'tfjs-er/node';
import {TestRedis} from '../test/helpers/redis';
import {median, ROOT, runJson, table, writeResults} from './lib';

const ARCH = process.env.CLUSTER_ARCH ?? '784-1000-1000-10';
const MODE = 'erls';
// CLUSTER_ARCH (a smaller network) checks the suite quickly; the results it writes are then that network's
const REPEATS = Number(process.env.CLUSTER_REPEATS ?? 1);

interface ClusterRun {
  executor: string; train_seconds: number; test_error: number; passes: RedisPassReport[];
}

/** Spawns a child; resolves when a line of its output matches `ready`. */
function startChild(cmd: string, args: string[], ready: RegExp, what: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe']});
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start in 60 s:\n${out.slice(-2000)}`)), 60000);
    const onData = (d: Buffer) => {
      out += d;
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', e => reject(new Error(`${what}: ${e.message}`)));
    child.once('exit', code => reject(new Error(`${what} exited (${code}):\n${out.slice(-2000)}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode != null || child.signalCode != null) return;
  const gone = new Promise(r => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([gone, new Promise(r => setTimeout(r, 20000))]);
  if (child.exitCode == null && child.signalCode == null) child.kill('SIGKILL');
}

async function runUpdate(args: string[], label: string): Promise<ClusterRun> {
  console.error(`  ▶ ${label}`);
  const r = await runJson<ClusterRun>('update_run.ts', ['--arch', ARCH, '--mode', MODE, ...args], label);
  console.error(`    ✓ ${label}: ${r.train_seconds} s, test error ${r.test_error}%`);
  return r;
}

/** One update on `workers` Redis worker processes (started for it, stopped after). */
async function onRedis(url: string, workers: number, queue: string): Promise<ClusterRun> {
  const procs: ChildProcess[] = [];
  try {
    for (let i = 0; i < workers; i++) {
      procs.push(await startChild(process.execPath,
                                  ['--import', 'tsx', path.join(ROOT, 'src/node/cli.ts'), 'worker', '--redis', url,
                                   '--queue', queue, '--backend', 'wasm', '--quiet'],
                                  /serving queue/, `worker ${i + 1}`));
    }
    return await runUpdate(['--redis', url, '--queue', queue, '--shards', String(workers)],
                           `redis, ${workers} worker process(es)`);
  } finally {
    await Promise.all(procs.map(stop));
  }
}

export async function clusterSuite(): Promise<void> {
  const redis = await TestRedis.start();
  const url = redis.url;
  const runs: Record<string, ClusterRun[]> = {'in-process': [], 'threads ×2': [], 'redis ×1': [], 'redis ×2': []};
  try {
    for (let r = 0; r < REPEATS; r++) {
      runs['in-process'].push(await runUpdate(['--threads', '1'], 'in-process (1 thread)'));
      runs['redis ×1'].push(await onRedis(url, 1, `bench${r}a`));
      runs['threads ×2'].push(await runUpdate(['--threads', '2'], 'thread pool, 2 threads'));
      runs['redis ×2'].push(await onRedis(url, 2, `bench${r}b`));
    }
  } finally {
    await redis.stop();
  }
  const base = median(runs['in-process'].map(r => r.train_seconds));
  const rows = Object.entries(runs).map(([name, rs]) => {
    const t = median(rs.map(r => r.train_seconds));
    const passes = rs[0].passes;
    if (passes.length === 0) return [name, t.toFixed(1), (base / t).toFixed(2), '–', '–', '–', '–', rs[0].test_error];
    const overhead = rs.map(r => r.passes.reduce((s, p) => s + p.seconds - Math.max(...p.workerSeconds), 0));
    const load = rs.map(r => r.passes.reduce((s, p) => s + Math.max(...p.loadSeconds), 0));
    const o = median(overhead);
    return [name, t.toFixed(1), (base / t).toFixed(2), passes.length, (1000 * o / passes.length).toFixed(0),
            `${(100 * o / t).toFixed(1)} %`, median(load).toFixed(1), rs[0].test_error];
  });
  writeResults('cluster', 'npm run bench -- --suite cluster', runs,
               table(['executor', 'update s (median)', 'speedup vs in-process', 'passes',
                      'queue overhead ms / pass', 'overhead share of update', 'shard loading s', 'test error %'], rows),
               [`One ER update of ${ARCH} '${MODE}' on the 60k MNIST rows (data init, seed 0, wasm everywhere), ` +
                `${REPEATS} run(s) of each, alternating, one process per run; Redis ×N = N \`tfjs-er worker\` ` +
                'processes and the coordinator on this machine, over loopback (redis-server 7, no persistence). ' +
                'Queue overhead per pass = the coordinator\'s wall time for the pass minus the slowest worker\'s ' +
                'time on its job; shard loading (each worker reads MNIST and takes its shard on its first job) is ' +
                'counted apart. The weights are the in-process ones (the specs check it); test errors agree.']);
}
