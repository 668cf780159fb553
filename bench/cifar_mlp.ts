/** `cifar10-mlp`: a CIFAR-10 MLP, ER against Adam, against the paper's 56.65 %. */
import {cifarDir} from './cifar_dir';
import {runCli, RunResult, table, writeResults} from './lib';

export async function cifarMlpSuite() {
  const dir = cifarDir();
  const configs: Array<{label: string, args: string[]}> = [
    {label: 'ER erls 3072-2000-10 (2 updates)', args: ['--optimizer', 'er', '--mode', 'erls', '--arch', '3072-2000-10', '--init', 'data', '--epochs', '2']},
    {label: 'Adam (wasm fix) 3072-1000-10 (5 epochs)', args: ['--optimizer', 'adam', '--arch', '3072-1000-10', '--epochs', '5', '--wasm-transpose-fix']},
  ];
  const results: Array<{label: string, result: RunResult}> = [];
  for (const c of configs) {
    results.push({label: c.label, result: await runCli(
        ['--dataset', 'cifar10', '--data-dir', dir, '--backend', 'wasm', '--eval-each-epoch', ...c.args], c.label)});
  }
  const rows = results.map(({label, result}) => {
    const best = result.history!.reduce((b, h) => h.test_accuracy! > b.test_accuracy! ? h : b);
    return [label, (100 * best.test_accuracy!).toFixed(2), `${best.epoch}`, best.train_seconds.toFixed(1),
            (100 * result.test_accuracy).toFixed(2), result.train_seconds.toFixed(1),
            best.test_accuracy! >= 0.5665 ? 'yes' : 'no'];
  });
  writeResults('cifar10-mlp', 'npm run bench -- --suite cifar10-mlp', results,
               table(['run (wasm backend)', 'best test acc %', 'at epoch', 'train s to best', 'final acc %',
                      'train s total', '≥ 56.65 % (paper)?'], rows),
               ['CIFAR-10 (see bench/cifar_dir.ts for where it comes from), pixels/255, flattened ' +
                '(3072 inputs); test accuracy on the 10k test set after every epoch.']);
}
