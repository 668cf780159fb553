/**
 * Benchmark plumbing: every training run is a child process of the CLI
 * (`src/node/cli.ts train … --json`), so runs do not share memory or JIT state
 * and peak RSS is per run. Results are JSON plus a Markdown table.
 */
import {spawn} from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..');
export const RESULTS = path.join(ROOT, 'bench', 'results');

/** What the CLI prints with --json (plus history with --eval-each-epoch). */
export interface RunResult {
  dataset: string; optimizer: string; backend: string; arch: string; epochs: number;
  batch_size: number; seed: number; train_seconds: number; test_error: number;
  test_accuracy: number; peak_rss_mb: number; baseline_rss_mb?: number; train_peak_rss_mb?: number|null; seconds_to_target?: number|null;
  history?: Array<{epoch: number, train_seconds: number, loss: number, test_accuracy?: number, val_accuracy?: number}>;
  best?: {epoch: number, train_seconds: number, loss: number, test_accuracy?: number, val_accuracy?: number};
  train_rows?: number;
  wall_seconds: number; loadavg_before: number; loadavg_after: number;
}

/**
 * Runs the TypeScript file `script` (under bench/) with `args` in a fresh
 * process, in the checkout `root` (default this one); returns its last line's JSON.
 */
export function runJson<T>(script: string, args: string[], label: string, root = ROOT): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'bench', script), ...args],
                        {cwd: root, stdio: ['ignore', 'pipe', 'pipe']});
    let out = '', err = '';
    child.stdout.on('data', d => out += d);
    child.stderr.on('data', d => err += d);
    child.on('close', code => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) {
        reject(new Error(`${label} failed (exit ${code}):\n${err.slice(-2000)}`));
        return;
      }
      resolve(JSON.parse(line) as T);
    });
  });
}

/** Runs the CLI with `args` in a fresh process; returns its JSON line. */
export function runCli(args: string[], label: string): Promise<RunResult> {
  const load = os.loadavg()[0];
  const t0 = Date.now();
  console.error(`  ▶ ${label}: tfjs-er train ${args.join(' ')}`);
  return runJson<RunResult>('harness/cli.ts', ['train', ...args, '--json'], label).then(r => {
    r.wall_seconds = (Date.now() - t0) / 1000;
    r.loadavg_before = Number(load.toFixed(2));
    r.loadavg_after = Number(os.loadavg()[0].toFixed(2));
    console.error(`    ✓ ${label}: test error ${r.test_error}% in ${r.train_seconds} s (peak RSS ${r.peak_rss_mb} MB)`);
    return r;
  });
}

/** The machine, for the tables. */
export function machine(): Record<string, unknown> {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length,
    memory_gb: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.arch()}`,
  };
}

/** Writes results/<name>.json and results/<name>.md. */
export function writeResults(name: string, command: string, data: unknown, table: string, notes: string[] = []): void {
  fs.mkdirSync(RESULTS, {recursive: true});
  const date = new Date().toISOString();
  fs.writeFileSync(path.join(RESULTS, `${name}.json`),
                   JSON.stringify({name, date, command, machine: machine(), data}, null, 1) + '\n');
  const m = machine();
  const md = [table, '',
              `Reproduce: \`${command}\` — ran ${date.slice(0, 16).replace('T', ' ')} UTC on ${m.cpu} ` +
              `(${m.cores} cores, ${m.memory_gb} GB), Node ${m.node}, tfjs 4.22 wasm backend (single-threaded).`,
              ...notes].join('\n');
  fs.writeFileSync(path.join(RESULTS, `${name}.md`), md + '\n');
  console.log(`\n${md}\n`);
}

/** A Markdown table. */
/** How the conv suites' Adam baseline trains a convnet on wasm (a sentence for their notes). */
export const ADAM_CONV_NOTE = 'Adam: lr 1e-3, batch 128, with the wasm matMul fix; tfjs 4.22\'s wasm backend has no ' +
    'Conv2DBackpropFilter kernel, so backprop cannot train a stock conv2d there: the Adam model writes the same ' +
    'convolution as patches (a frozen identity conv2d) + a dense layer on each patch (same function, same parameters ' +
    'and initial values).';

export function table(header: string[], rows: Array<Array<string|number>>): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`,
          ...rows.map(r => `| ${r.join(' | ')} |`)].join('\n');
}

export function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function errAfter(r: RunResult, epoch: number): string {
  const h = r.history?.find(e => e.epoch === epoch);
  return h?.test_accuracy != null ? (100 * (1 - h.test_accuracy)).toFixed(2) : '–';
}
