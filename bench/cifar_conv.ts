/**
 * `npm run bench -- --suite cifar10-conv`: a small convnet on CIFAR-10, ER
 * (plain and 'erls') against Adam with the wasm fix, test accuracy after
 * every update / epoch. CIFAR_CONV_RUNS (comma-separated parts of run
 * labels) reruns only those runs; the others keep their results from the
 * previous results file (dated in the notes).
 */
import * as fs from 'fs';
import * as path from 'path';
import {cifarDir} from './cifar_dir';
import {ADAM_CONV_NOTE, RESULTS, runCli, RunResult, table, writeResults} from './lib';

/** The convnet (see README): conv 5×5 'same' ReLU, max-pool 8, softmax. */
const ARCH = process.env.ER_CIFAR_CONVNET ?? '3072-c64k5-p8-10';

interface Run {
  label: string;
  result: RunResult;
  /** When the run was made (ISO), for runs kept from an earlier results file. */
  date?: string;
}

export async function cifarConvSuite(): Promise<void> {
  const dir = cifarDir();
  const configs: Array<{label: string, args: string[]}> = [
    {label: `ER ${ARCH} (3 updates)`, args: ['--optimizer', 'er', '--epochs', '3', '--batch-size', '500']},
    {label: `ER erls ${ARCH} (8 updates)`,
     args: ['--optimizer', 'er', '--mode', 'erls', '--epochs', '8', '--batch-size', '500']},
    {label: `Adam (wasm fix) ${ARCH} (4 epochs)`, args: ['--optimizer', 'adam', '--epochs', '4', '--wasm-transpose-fix']},
  ];
  const only = process.env.CIFAR_CONV_RUNS?.split(',').map(x => x.trim()).filter(x => x.length > 0);
  const file = path.join(RESULTS, 'cifar10-conv.json');
  const previous = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) as {date: string, data: Run[]} : null;
  const results: Run[] = [];
  for (const c of configs) {
    if (only != null && !only.some(o => c.label.includes(o))) {
      const old = previous?.data.find(r => r.label === c.label);
      if (old == null) throw new Error(`cifar10-conv: no earlier run of '${c.label}' to keep; rerun it`);
      results.push({...old, date: old.date ?? previous!.date});
      continue;
    }
    results.push({label: c.label, date: new Date().toISOString(), result: await runCli(
        ['--dataset', 'cifar10', '--data-dir', dir, '--backend', 'wasm', '--arch', ARCH, '--seed', '1',
         '--eval-each-epoch', ...c.args], c.label)});
  }
  const rows = results.map(({label, result, date}) => {
    const best = result.history!.reduce((b, h) => h.test_accuracy! > b.test_accuracy! ? h : b);
    const per = result.history!.map(h => (100 * h.test_accuracy!).toFixed(2)).join(' / ');
    return [label, per, (100 * best.test_accuracy!).toFixed(2), best.train_seconds.toFixed(0),
            best.test_accuracy! >= 0.6 ? '**yes**' : 'no', best.test_accuracy! >= 0.5665 ? 'yes' : 'no',
            date != null ? date.slice(0, 16).replace('T', ' ') : '—'];
  });
  writeResults('cifar10-conv', 'npm run bench -- --suite cifar10-conv', results,
               table(['run (wasm backend, 50k training images)', 'test acc % after each update / epoch', 'best %',
                      'train s to best', '≥ 60 % (target)?', '≥ 56.65 % (paper MLP)?', 'ran (UTC)'], rows),
               [`Convnet ${ARCH}: conv 5×5, 64 filters, 'same', ReLU → max-pool 8×8 → flatten (1024) → ` +
                'dense softmax; glorot init (seed 1), pixels/255. ER: batch 500, the CLI\'s threads (every core); ' +
                'the conv layer is solved as a ridge regression of its reflected field on 5×5×3 patches (a 75×75 ' +
                'Gram, the bias by centring), the output layer on the 1024 pooled features; \'erls\' adds the ' +
                'automatic step along the ER direction of the conv layer. Train times of runs made on different ' +
                `days are from different code (see "ran"). ${ADAM_CONV_NOTE}`]);
}
