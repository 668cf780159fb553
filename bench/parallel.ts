/**
 * `npm run bench -- --suite parallel`: one ER update in-process against a
 * 2-thread pool (`threadPool`), same network and data, runs alternated, one
 * process per run, medians of PARALLEL_REPEATS (default 3). Also: rows per
 * second per thread, the process's peak memory (main thread and workers),
 * for the convnet the products' effective GFLOP/s (flops counted in one more
 * in-process run, harness/flops.ts), and a labelled projection to more
 * threads fitted from the 1- and 2-thread medians (Amdahl: T(n) = serial +
 * parallel / n). The tfjs-examples convnet is also run, in turn with the
 * others, on the code of {@link CONV_BASELINE} (a git worktree under
 * .cache/), to measure how much faster its conv passes have become.
 */
import {execFileSync} from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import {cifarDir} from './cifar_dir';
import {median, RESULTS, ROOT, runJson, table, writeResults} from './lib';

const REPEATS = Number(process.env.PARALLEL_REPEATS ?? 3);

/**
 * The code the conv-pass speed is measured against: the commit on which the
 * parallel-update issue measured the tfjs-examples convnet (before the conv
 * passes were reworked). PARALLEL_BASELINE overrides it.
 */
const CONV_BASELINE = process.env.PARALLEL_BASELINE ?? 'cce435f';

interface UpdateRun {
  train_rows: number; train_seconds: number; test_error: number; peak_rss_mb: number|null; flops?: number|null;
  /** Absent in runs made before the CLI waited for the threads. */
  threads_start_seconds?: number;
  /** Each update's passes / reduce / solve seconds; absent in runs made before they were reported. */
  updates?: Array<{seconds: {passes: number, reduce: number, solve: number, total: number}}>;
}

/**
 * script: the runner under bench/ (default update_run.ts, the CLI's training).
 * countFlops: also count the products' flops (one more in-process run).
 * pairs: also run two in-process updates at once (separate processes), the
 * machine's own limit for two copies of this work on its two cores.
 * baseline: also run it in-process on the code of {@link CONV_BASELINE}.
 */
const CASES: Array<{label: string, args: string[]|(() => string[]), script?: string, countFlops?: boolean,
                    pairs?: boolean, baseline?: boolean}> = [
  {label: '784-1000-1000-10 erls, MNIST 60k', args: ['--arch', '784-1000-1000-10', '--mode', 'erls']},
  {label: '784-4000-10 er, MNIST 60k', args: ['--arch', '784-4000-10', '--mode', 'er']},
  {label: 'convnet 784-c32k5-p4-10 er, MNIST 10k', args: ['--arch', '784-c32k5-p4-10', '--mode', 'er',
                                                           '--train-size', '10000', '--batch-size', '500', '--init', 'glorot'],
   countFlops: true, pairs: true},
  {label: 'CIFAR-10 convnet 3072-c64k5-p8-10 er, 10k', args: () => [
    '--dataset', 'cifar10', '--data-dir', cifarDir(), '--arch', '3072-c64k5-p8-10', '--mode', 'er',
    '--train-size', '10000', '--batch-size', '500', '--init', 'glorot'], countFlops: true},
  {label: 'tfjs-examples mnist-node convnet (attachER), MNIST 2k', script: 'stock_convnet_run.ts',
   args: ['--train-size', '2000'], countFlops: true, baseline: true},
];

async function runUpdate(args: string[], label: string, script = 'update_run.ts', root = ROOT): Promise<UpdateRun> {
  console.error(`  ▶ ${label}`);
  const r = await runJson<UpdateRun>(script, args, label, root);
  console.error(`    ✓ ${label}: ${r.train_seconds} s, test error ${r.test_error}%, peak RSS ${r.peak_rss_mb} MB`);
  return r;
}

/** One case's runs, as stored in bench/results/parallel.json. */
interface CaseRuns {
  case: string; threads: number; runs: UpdateRun[]; flops: number|null;
  /** When the runs were made (ISO; older files have it only for the whole file). */
  date?: string;
  /** Two in-process updates started at once, per repeat (cases with `pairs`). */
  pairs?: UpdateRun[][];
  /** In-process runs on the code of `commit` (cases with `baseline`), and that code's products' flops. */
  baseline?: {commit: string, runs: UpdateRun[], flops: number|null};
}

/**
 * A checkout of `commit` under .cache/ sharing this one's node_modules, with
 * this checkout's `script` and flop counter copied in; its path.
 */
function baselineCheckout(commit: string, script: string): string {
  const dir = path.join(ROOT, '.cache', `baseline-${commit}`);
  if (!fs.existsSync(dir)) {
    execFileSync('git', ['worktree', 'add', '--detach', '--force', dir, commit], {cwd: ROOT, stdio: 'ignore'});
  }
  const modules = path.join(dir, 'node_modules');
  if (!fs.existsSync(modules)) fs.symlinkSync(path.join(ROOT, 'node_modules'), modules);
  for (const f of [script, path.join('harness', 'flops.ts')]) {
    fs.mkdirSync(path.dirname(path.join(dir, 'bench', f)), {recursive: true});
    fs.copyFileSync(path.join(ROOT, 'bench', f), path.join(dir, 'bench', f));
  }
  return dir;
}

/** The note on a case's baseline runs: their times, per row, the products' rate, and the speed-up. */
function baselineNote(label: string, one: UpdateRun[], flops: number|null, base: CaseRuns['baseline']): string {
  if (base == null) return '';
  const t = median(base.runs.map(r => r.train_seconds)), t1 = median(one.map(r => r.train_seconds));
  const n = one[0].train_rows;
  const rate = (f: number|null, s: number) => f != null ? `, products ${(f / s / 1e9).toFixed(2)} GFLOP/s` : '';
  return `${label}, the same update in-process on the code of commit ${base.commit} (alternated with the runs above): ` +
         `${base.runs.map(r => r.train_seconds).join(' / ')} s, median ${t.toFixed(1)} s = ` +
         `${(1000 * t / n).toFixed(1)} ms per training row${rate(base.flops, t)}, test error ${base.runs[0].test_error} %; ` +
         `now ${(1000 * t1 / n).toFixed(1)} ms per row${rate(flops, t1)}: **${(t / t1).toFixed(2)}× faster per thread**.`;
}

/** The ceiling two cores give two copies of the work: 2 × one run alone / the median of the pairs' runs. */
function pairCeiling(one: UpdateRun[], pairs: UpdateRun[][]|undefined): string {
  if (pairs == null || pairs.length === 0) return '—';
  const together = median(pairs.flat().map(r => r.train_seconds));
  return `${together.toFixed(1)} s → **${(2 * median(one.map(r => r.train_seconds)) / together).toFixed(2)}×**`;
}

/** The table row of one case from its 1- and 2-thread runs. */
function caseRow(label: string, one: UpdateRun[], two: UpdateRun[], flops: number|null,
                 pairs?: UpdateRun[][]): Array<string|number> {
  const t1 = median(one.map(r => r.train_seconds)), t2 = median(two.map(r => r.train_seconds));
  const parallel = 2 * (t1 - t2), serial = Math.max(0, t1 - parallel);
  const at = (n: number) => (t1 / (serial + parallel / n)).toFixed(1);
  const n = one[0].train_rows;
  const solve = (runs: UpdateRun[]) => runs.every(r => r.updates?.length) ?
      median(runs.map(r => r.updates!.reduce((a, u) => a + u.seconds.solve, 0))).toFixed(1) : '—';
  return [label, `${one.map(r => r.train_seconds).join(' / ')}`, `${two.map(r => r.train_seconds).join(' / ')}`,
          t1.toFixed(1), t2.toFixed(1), `**${(t1 / t2).toFixed(2)}×**`, pairCeiling(one, pairs),
          `${(n / t1).toFixed(0)} / ${(n / t2 / 2).toFixed(0)}`,
          flops != null ? `${(flops / t1 / 1e9).toFixed(2)} / ${(flops / t2 / 2 / 1e9).toFixed(2)}` : '—',
          `${median(one.map(r => r.peak_rss_mb ?? 0))} / ${median(two.map(r => r.peak_rss_mb ?? 0))}`,
          `${solve(one)} / ${solve(two)}`,
          `${one[0].test_error} / ${two[0].test_error}`, `${at(4)}× / ${at(8)}× / ${at(16)}×`];
}

/**
 * PARALLEL_CASES (comma-separated parts of case labels) reruns only those
 * cases; the others keep their runs from the previous results file (dated in the notes).
 */
export async function parallelSuite(): Promise<void> {
  const only = process.env.PARALLEL_CASES?.split(',').map(x => x.trim()).filter(x => x.length > 0);
  const file = path.join(RESULTS, 'parallel.json');
  const previous = fs.existsSync(file) ?
      JSON.parse(fs.readFileSync(file, 'utf8')) as {date: string, data: CaseRuns[]} : null;
  const kept: string[] = [];
  const starts: number[] = [];
  const startUp = () => starts.length > 0 ? `median ${median(starts).toFixed(2)} s over the ${starts.length} 2-thread runs` :
                                            'not measured in these runs';
  const data: CaseRuns[] = [];
  const rows: Array<Array<string|number>> = [];
  const baselines: string[] = [];
  for (const c of CASES) {
    if (only != null && !only.some(o => c.label.includes(o))) {
      const old = previous?.data.filter(d => d.case === c.label) ?? [];
      const one = old.find(d => d.threads === 1), two = old.find(d => d.threads === 2);
      if (one == null || two == null) throw new Error(`parallel: no earlier runs of '${c.label}' to keep; rerun it`);
      const date = one.date ?? previous!.date;
      data.push({...one, date}, {...two, date});
      rows.push(caseRow(c.label, one.runs, two.runs, one.flops ?? null, one.pairs));
      if (one.baseline) baselines.push(baselineNote(c.label, one.runs, one.flops ?? null, one.baseline));
      const withStartUp = two.runs.some(r => r.threads_start_seconds == null);
      starts.push(...two.runs.flatMap(r => r.threads_start_seconds != null ? [r.threads_start_seconds] : []));
      kept.push(`${c.label} (runs of ${date.slice(0, 16).replace('T', ' ')} UTC` +
                `${withStartUp ? '; its 2-thread times include the threads\' start-up' : ''})`);
      continue;
    }
    const script = c.script ?? 'update_run.ts';
    const args = typeof c.args === 'function' ? c.args() : c.args;
    const baseRoot = c.baseline ? baselineCheckout(CONV_BASELINE, script) : null;
    const one: UpdateRun[] = [], two: UpdateRun[] = [], pairs: UpdateRun[][] = [], base: UpdateRun[] = [];
    for (let r = 0; r < REPEATS; r++) {
      // alternate which goes first
      const order: Array<[number, UpdateRun[]]> = r % 2 === 0 ? [[1, one], [2, two]] : [[2, two], [1, one]];
      if (baseRoot != null && r % 2 === 1) {
        base.push(await runUpdate([...args, '--threads', '1'], `${c.label}, code of ${CONV_BASELINE}`, script, baseRoot));
      }
      for (const [threads, into] of order) {
        into.push(await runUpdate([...args, '--threads', String(threads)], `${c.label}, ${threads} thread(s)`, script));
      }
      if (baseRoot != null && r % 2 === 0) {
        base.push(await runUpdate([...args, '--threads', '1'], `${c.label}, code of ${CONV_BASELINE}`, script, baseRoot));
      }
      if (c.pairs) {
        pairs.push(await Promise.all([1, 2].map(k => runUpdate([...args, '--threads', '1'],
                                                               `${c.label}, in-process ${k} of 2 at once`, script))));
      }
    }
    // the products' flops, from one more in-process run (its time is not used: counting slows it)
    const countIn = async (root: string, label: string) => c.countFlops ?
        (await runUpdate([...args, '--threads', '1', '--count-flops'], label, script, root)).flops ?? null : null;
    const flops = await countIn(ROOT, `${c.label}, counting flops`);
    const baseline = baseRoot != null ?
        {commit: CONV_BASELINE, runs: base, flops: await countIn(baseRoot, `${c.label}, code of ${CONV_BASELINE}, counting flops`)} :
        undefined;
    starts.push(...two.map(r => r.threads_start_seconds ?? 0));
    const date = new Date().toISOString();
    data.push({case: c.label, threads: 1, runs: one, flops, date, ...(c.pairs ? {pairs} : {}), ...(baseline ? {baseline} : {})},
              {case: c.label, threads: 2, runs: two, flops, date});
    rows.push(caseRow(c.label, one, two, flops, c.pairs ? pairs : undefined));
    if (baseline) baselines.push(baselineNote(c.label, one, flops, baseline));
  }
  writeResults('parallel', 'npm run bench -- --suite parallel', data,
               table(['one ER update (wasm)', '1 thread s', '2 threads s', 'median 1', 'median 2', 'speed-up',
                      'two in-process runs at once: median s → ceiling',
                      'rows / s per thread (1 / 2)', 'products GFLOP/s per thread (1 / 2)', 'peak RSS MB (1 / 2)',
                      'solves s (1 / 2)', 'test error % (1 / 2)',
                      'projection 4 / 8 / 16 threads (Amdahl fit, not measured)'], rows),
               [`One ER update of each network (seed 0; data init for the MLPs, glorot for the convnets), ${REPEATS} runs per thread count, alternating ` +
                'which goes first, each in a fresh process (the CLI\'s training; evaluation excluded). 1 thread = the ' +
                'in-process executor; 2 threads = threadPool({threads: 2}), each thread with its own tfjs + wasm and ' +
                'its shard of the rows; the threads\' start-up (loading tfjs and wasm, paid once per pool: ' +
                `${startUp()}) is excluded from the update's time. Peak RSS is the whole process (main thread and ` +
                'workers). The projection ' +
                'fits T(n) = serial + parallel/n to the two medians (the serial part: the coordinator\'s float64 solves and ' +
                'merge; with threads, the factorisations of Grams at least 768 wide are shared by the threads); it is an ' +
                'extrapolation, not a measurement. Solves s: the medians of the update\'s solve seconds (on the ' +
                'coordinator, factorisations shared on 2 threads). Test errors agree: the weights ' +
                'are the in-process ones (the specs check it). The CIFAR-10 convnet is that of the cifar10-conv suite (conv 5×5 ' +
                '64 same ReLU, max-pool 8, dense softmax) on a balanced 10,000 of its training images. The tfjs-examples mnist-node convnet: its model.js as ' +
                'stock layers (conv2d 3×3 valid 32, 32, max-pool 2, conv2d 64, 64, max-pool 2, flatten, dropout 0.25, ' +
                'dense 512 ReLU, dropout 0.5, dense 10 softmax; seeded glorot kernels), switched by attachER alone, ' +
                'er() defaults, batch 500, the first balanced 2000 MNIST training images. Products GFLOP/s (convnets): the flops of the update\'s ' +
                'matMul, conv2d and depthwise-conv2d kernels (2 per multiply-add, counted from their shapes in one ' +
                'more in-process run; elementwise ops not counted) over the median update time, per thread. Two ' +
                'in-process runs at once (convnet): after each repeat, two separate processes run the 1-thread update ' +
                'together; 2 × the 1-thread median / their median time is what this machine\'s two cores give two ' +
                'copies of the work (each slows the other), the ceiling for a 2-thread speed-up. Since 2026-12-04 ' +
                'er() keeps the first pass\'s forward for the target passes of updates with two or more of them ' +
                '(the forward cache, docs/performance.md): of these networks, 784-1000-1000-10 and the mnist-node ' +
                'convnet; runs before that date of those two are without it, the others\' update is unchanged by it. ' +
                'The machine\'s speed varies from day to day (the same old code ran 1.26× slower on 2026-12-04 than ' +
                'on 2026-12-03, docs/performance.md): compare runs of one date.',
                ...baselines,
                ...(kept.length > 0 ? [`Kept from the previous run (not rerun): ${kept.join('; ')}.`] : [])]);
}
