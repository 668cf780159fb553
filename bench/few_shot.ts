/**
 * Suite `few-shot`: ER vs Adam on small training sets (100, 1,000, 5,000 and
 * all examples, class-balanced, fixed seed) of MNIST, Fashion-MNIST and
 * CIFAR-10, same MLP, same backend. Both optimizers are tuned the same way:
 * two settings each (Adam lr 1e-3 and 3e-3; ER ridge α 1e-3 and 1e-1), the
 * epoch/update with the best accuracy on a held-out split of 1,000 training
 * rows (never trained on) is kept, early stopping on that split; the kept
 * model's test accuracy and the training seconds to reach it are reported.
 * Writes bench/results/few-shot.{json,md} and few-shot.svg (the plot).
 * Select data sets with ER_FEW_SHOT_DATASETS=mnist,fashion-mnist,cifar10.
 */
import * as fs from 'fs';
import * as path from 'path';
import {RESULTS, runCli, RunResult, table, writeResults} from './lib';
import {cifarDir} from './cifar_dir';

const SIZES = [100, 1000, 5000, 0];  // 0 = all
const VAL = 1000;

interface Cell {dataset: string; size: number; optimizer: 'er'|'adam'; setting: string; result: RunResult}

/** Epoch budget and patience by training-set size (Adam; ER needs few updates). */
function budget(size: number, optimizer: 'er'|'adam', dataset: string): {epochs: number, patience: number} {
  if (optimizer === 'er') return {epochs: 3, patience: 1};
  if (size === 100) return {epochs: 400, patience: 25};
  if (size === 1000) return {epochs: 200, patience: 15};
  if (size === 5000) return {epochs: 100, patience: 8};
  return dataset === 'cifar10' ? {epochs: 12, patience: 3} : {epochs: 30, patience: 4};
}

function archOf(dataset: string): string {
  return dataset === 'cifar10' ? '3072-1000-10' : '784-1000-10';
}

function best(r: RunResult): {test: number, val: number, seconds: number, epoch: number} {
  const b = r.best!;
  return {test: b.test_accuracy!, val: b.val_accuracy!, seconds: b.train_seconds, epoch: b.epoch};
}

export async function fewShotSuite(): Promise<void> {
  const datasets = (process.env.ER_FEW_SHOT_DATASETS ?? 'mnist,fashion-mnist,cifar10').split(',');
  const cells: Cell[] = [];
  const file = path.join(RESULTS, 'few-shot.json');
  // Keep cells of data sets not re-run this time.
  if (fs.existsSync(file)) {
    const old = JSON.parse(fs.readFileSync(file, 'utf8')).data as Cell[];
    cells.push(...old.filter(c => !datasets.includes(c.dataset)));
  }
  for (const dataset of datasets) {
    const extra = dataset === 'cifar10' ? ['--data-dir', cifarDir()] : [];
    for (const size of SIZES) {
      const settings: Array<{optimizer: 'er'|'adam', setting: string, args: string[]}> = [
        {optimizer: 'er', setting: 'α=1e-3', args: ['--optimizer', 'er', '--alpha', '0.001']},
        {optimizer: 'adam', setting: 'lr=1e-3', args: ['--optimizer', 'adam', '--lr', '0.001', '--wasm-transpose-fix']},
        {optimizer: 'er', setting: 'α=1e-1', args: ['--optimizer', 'er', '--alpha', '0.1']},
        {optimizer: 'adam', setting: 'lr=3e-3', args: ['--optimizer', 'adam', '--lr', '0.003', '--wasm-transpose-fix']},
      ];
      for (const s of settings) {
        const {epochs, patience} = budget(size, s.optimizer, dataset);
        const args = ['--dataset', dataset, ...extra, '--backend', 'wasm', '--arch', archOf(dataset),
                      '--seed', '1', '--val-size', String(VAL), '--patience', String(patience),
                      '--epochs', String(epochs), '--eval-each-epoch', ...s.args];
        if (size) args.push('--train-size', String(size));
        const label = `${dataset} n=${size || 'all'} ${s.optimizer} ${s.setting}`;
        cells.push({dataset, size, optimizer: s.optimizer, setting: s.setting, result: await runCli(args, label)});
      }
      report(cells);
    }
  }
  report(cells);
}

/** Per (dataset, size, optimizer): the setting with the best held-out accuracy. */
function pick(cells: Cell[], dataset: string, size: number, optimizer: string): Cell|undefined {
  return cells.filter(c => c.dataset === dataset && c.size === size && c.optimizer === optimizer)
      .sort((a, b) => best(b.result).val - best(a.result).val)[0];
}

function report(cells: Cell[]) {
  const datasets = [...new Set(cells.map(c => c.dataset))];
  const rows: Array<Array<string|number>> = [];
  for (const dataset of datasets) {
    for (const size of SIZES) {
      const er = pick(cells, dataset, size, 'er'), adam = pick(cells, dataset, size, 'adam');
      if (!er || !adam) continue;
      const be = best(er.result), ba = best(adam.result);
      const tuning = (o: string) => cells.filter(c => c.dataset === dataset && c.size === size && c.optimizer === o)
          .reduce((s, c) => s + c.result.train_seconds, 0);
      const winner = be.test > ba.test + 0.005 ? 'ER' : ba.test > be.test + 0.005 ? 'Adam' : 'tie (±0.5)';
      rows.push([dataset, size || `all (${er.result.train_rows})`,
                 `${(100 * be.test).toFixed(2)} (${er.setting}, ${be.epoch} upd.)`, be.seconds.toFixed(1),
                 `${(100 * ba.test).toFixed(2)} (${adam.setting}, ${ba.epoch} ep.)`, ba.seconds.toFixed(1),
                 winner, (ba.seconds / be.seconds).toFixed(2) + '×',
                 `${tuning('er').toFixed(0)} / ${tuning('adam').toFixed(0)}`]);
    }
  }
  writeResults('few-shot', 'npm run bench -- --suite few-shot', cells,
               table(['data set', 'training rows', 'ER test acc % (setting, updates)', 'ER s to best',
                      'Adam test acc % (setting, epochs)', 'Adam s to best', 'more accurate',
                      'ER speed-up to its best', 'all settings s (ER / Adam)'], rows),
               [`Same MLP for both (784-1000-10, CIFAR-10 3072-1000-10; ReLU; glorot init, seed 1), wasm backend. ` +
                `Training sets are class-balanced subsets (seed 1) of the training split minus a held-out split of ` +
                `${VAL} rows used to pick the epoch/update and setting and to stop early. Each optimizer gets two ` +
                `settings (Adam lr 1e-3 / 3e-3, batch 128, with the wasm matMul fix; ER α 1e-3 / 1e-1, ≤ 3 updates); ` +
                `the setting with the better held-out accuracy is shown, with its test accuracy (10k test set) and ` +
                `training seconds to its best epoch. "all settings s" is the tuning cost: training seconds of both ` +
                `settings. Plot: bench/results/few-shot.svg.`]);
  fs.writeFileSync(path.join(RESULTS, 'few-shot.svg'), plot(cells));
}

/** Test accuracy vs training-set size, one panel per data set, both optimizers. */
function plot(cells: Cell[]): string {
  const datasets = [...new Set(cells.map(c => c.dataset))];
  const W = 300, H = 230, m = {l: 44, r: 10, t: 26, b: 40};
  const xs = (i: number) => m.l + (i / (SIZES.length - 1)) * (W - m.l - m.r);
  const parts: string[] = [];
  datasets.forEach((dataset, p) => {
    const vals = SIZES.flatMap(size => ['er', 'adam'].map(o => pick(cells, dataset, size, o)))
        .filter(c => c != null).map(c => best(c!.result).test);
    const lo = Math.max(0, Math.floor(Math.min(...vals) * 10) / 10), hi = Math.min(1, Math.ceil(Math.max(...vals) * 10) / 10);
    const ys = (v: number) => m.t + (1 - (v - lo) / Math.max(hi - lo, 1e-6)) * (H - m.t - m.b);
    const g: string[] = [`<g transform="translate(${p * W},0)">`,
                         `<text x="${W / 2}" y="16" text-anchor="middle" font-weight="bold">${dataset}</text>`];
    for (let v = lo; v <= hi + 1e-9; v += 0.1) {
      g.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${ys(v)}" y2="${ys(v)}" stroke="#ddd"/>`,
             `<text x="${m.l - 4}" y="${ys(v) + 4}" text-anchor="end" font-size="10">${Math.round(v * 100)}%</text>`);
    }
    SIZES.forEach((size, i) => g.push(
        `<text x="${xs(i)}" y="${H - m.b + 14}" text-anchor="middle" font-size="10">${size || 'all'}</text>`));
    g.push(`<text x="${(W + m.l) / 2}" y="${H - 8}" text-anchor="middle" font-size="10">training examples</text>`);
    for (const [o, color] of [['er', '#d62728'], ['adam', '#1f77b4']]) {
      const pts = SIZES.map((size, i) => {
        const c = pick(cells, dataset, size, o);
        return c ? `${xs(i).toFixed(1)},${ys(best(c.result).test).toFixed(1)}` : null;
      }).filter(s => s != null);
      g.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>`,
             ...pts.map(pt => `<circle cx="${pt!.split(',')[0]}" cy="${pt!.split(',')[1]}" r="3" fill="${color}"/>`));
    }
    g.push('</g>');
    parts.push(...g);
  });
  const width = W * Math.max(datasets.length, 1);
  return [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H + 20}" font-family="sans-serif" font-size="12">`,
          `<rect width="100%" height="100%" fill="white"/>`, ...parts,
          `<g transform="translate(${width - 190},${H + 6})"><rect width="10" height="10" fill="#d62728"/>` +
          `<text x="14" y="9" font-size="11">ER (er())</text><rect x="90" width="10" height="10" fill="#1f77b4"/>` +
          `<text x="104" y="9" font-size="11">Adam</text></g>`, '</svg>', ''].join('\n');
}

