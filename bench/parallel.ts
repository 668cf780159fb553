/**
 * `npm run bench -- --suite parallel`: one ER update in-process against a
 * 2-thread pool (`threadPool`), same network and data, runs alternated, one
 * process per run, medians of PARALLEL_REPEATS (default 3). Also: rows per
 * second per thread, the process's peak memory (main thread and workers),
 * and a labelled projection to more threads fitted from the 1- and 2-thread
 * medians (Amdahl: T(n) = serial + parallel / n).
 */
import {median, runJson, table, writeResults} from './lib';

const REPEATS = Number(process.env.PARALLEL_REPEATS ?? 3);

interface UpdateRun {
  train_rows: number; train_seconds: number; test_error: number; peak_rss_mb: number|null;
}

const CASES = [
  {label: '784-1000-1000-10 erls, MNIST 60k', args: ['--arch', '784-1000-1000-10', '--mode', 'erls']},
  {label: '784-4000-10 er, MNIST 60k', args: ['--arch', '784-4000-10', '--mode', 'er']},
  {label: 'convnet 784-c32k5-p4-10 er, MNIST 10k', args: ['--arch', '784-c32k5-p4-10', '--mode', 'er',
                                                           '--train-size', '10000', '--batch-size', '500', '--init', 'glorot']},
];

async function runUpdate(args: string[], label: string): Promise<UpdateRun> {
  console.error(`  ▶ ${label}`);
  const r = await runJson<UpdateRun>('update_run.ts', args, label);
  console.error(`    ✓ ${label}: ${r.train_seconds} s, test error ${r.test_error}%, peak RSS ${r.peak_rss_mb} MB`);
  return r;
}

export async function parallelSuite(): Promise<void> {
  const data: Array<{case: string, threads: number, runs: UpdateRun[]}> = [];
  const rows: Array<Array<string|number>> = [];
  for (const c of CASES) {
    const one: UpdateRun[] = [], two: UpdateRun[] = [];
    for (let r = 0; r < REPEATS; r++) {
      // alternate which goes first
      const order: Array<[number, UpdateRun[]]> = r % 2 === 0 ? [[1, one], [2, two]] : [[2, two], [1, one]];
      for (const [threads, into] of order) {
        into.push(await runUpdate([...c.args, '--threads', String(threads)], `${c.label}, ${threads} thread(s)`));
      }
    }
    data.push({case: c.label, threads: 1, runs: one}, {case: c.label, threads: 2, runs: two});
    const t1 = median(one.map(r => r.train_seconds)), t2 = median(two.map(r => r.train_seconds));
    const parallel = 2 * (t1 - t2), serial = Math.max(0, t1 - parallel);
    const at = (n: number) => (t1 / (serial + parallel / n)).toFixed(1);
    const n = one[0].train_rows;
    rows.push([c.label, `${one.map(r => r.train_seconds).join(' / ')}`, `${two.map(r => r.train_seconds).join(' / ')}`,
               t1.toFixed(1), t2.toFixed(1), `**${(t1 / t2).toFixed(2)}×**`,
               `${(n / t1).toFixed(0)} / ${(n / t2 / 2).toFixed(0)}`,
               `${median(one.map(r => r.peak_rss_mb ?? 0))} / ${median(two.map(r => r.peak_rss_mb ?? 0))}`,
               `${one[0].test_error} / ${two[0].test_error}`, `${at(4)}× / ${at(8)}× / ${at(16)}×`]);
  }
  writeResults('parallel', 'npm run bench -- --suite parallel', data,
               table(['one ER update (wasm)', '1 thread s', '2 threads s', 'median 1', 'median 2', 'speed-up',
                      'rows / s per thread (1 / 2)', 'peak RSS MB (1 / 2)', 'test error % (1 / 2)',
                      'projection 4 / 8 / 16 threads (Amdahl fit, not measured)'], rows),
               [`One ER update of each network (seed 0; data init for the MLPs, glorot for the convnet), ${REPEATS} runs per thread count, alternating ` +
                'which goes first, each in a fresh process (the CLI\'s training; evaluation excluded). 1 thread = the ' +
                'in-process executor; 2 threads = threadPool({threads: 2}), each thread with its own tfjs + wasm and ' +
                'its shard of the rows. Peak RSS is the whole process (main thread and workers). The projection ' +
                'fits T(n) = serial + parallel/n to the two medians (the serial part: the float64 solves and the ' +
                'coordinator\'s merge); it is an extrapolation, not a measurement. Test errors agree: the weights ' +
                'are the in-process ones (the specs check it).']);
}
