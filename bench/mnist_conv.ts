/**
 * `npm run bench -- --suite mnist-conv`: a small convnet on MNIST (60k
 * training images, the 10k test set), ER `'erls'` for 5 updates on every
 * core against Adam on the same network, test error after every update /
 * epoch. Target: ≤ 1.5 % test error within 5 updates.
 */
import {ADAM_CONV_NOTE, runCli, RunResult, table, writeResults} from './lib';

/** The network (override with ER_MNIST_CONVNET). */
const CONVNET = process.env.ER_MNIST_CONVNET ?? '784-c32k5-p2-10';
const UPDATES = 5;
const ADAM_EPOCHS = Number(process.env.ER_MNIST_CONV_ADAM_EPOCHS ?? 5);

export async function mnistConvSuite(): Promise<void> {
  const configs: Array<{label: string, args: string[]}> = [
    {label: `ER erls ${CONVNET} (${UPDATES} updates)`,
     args: ['--optimizer', 'er', '--mode', 'erls', '--epochs', String(UPDATES), '--batch-size', '500']},
    {label: `Adam (wasm fix) ${CONVNET} (${ADAM_EPOCHS} epochs)`,
     args: ['--optimizer', 'adam', '--epochs', String(ADAM_EPOCHS), '--wasm-transpose-fix']},
  ];
  const results: Array<{label: string, result: RunResult}> = [];
  for (const c of configs) {
    results.push({label: c.label, result: await runCli(
        ['--dataset', 'mnist', '--backend', 'wasm', '--arch', CONVNET, '--seed', '0', '--eval-each-epoch', ...c.args],
        c.label)});
  }
  const rows = results.map(({label, result}) => {
    const history = result.history!;
    const best = history.reduce((b, h) => h.test_accuracy! > b.test_accuracy! ? h : b);
    const err = (a: number) => (100 * (1 - a)).toFixed(2);
    return [label, history.map(h => err(h.test_accuracy!)).join(' / '),
            history.map(h => h.train_seconds.toFixed(0)).join(' / '), err(best.test_accuracy!),
            1 - best.test_accuracy! <= 0.015 ? '**yes**' : 'no', result.peak_rss_mb ?? ''];
  });
  writeResults('mnist-conv', 'npm run bench -- --suite mnist-conv', results,
               table(['run (wasm backend, 60k training images)', 'test error % after each update / epoch',
                      'cumulative train s', 'best %', '≤ 1.5 % (target)?', 'peak RSS MB'], rows),
               [`Convnet ${CONVNET} (conv 5×5, 'same', ReLU → max-pool → flatten → dense softmax), glorot init ` +
                '(seed 0), pixels/255. ER: mode erls, pass chunks of 500 images, the update on every core ' +
                `(threadPool, one thread per core). ${ADAM_CONV_NOTE} Evaluation after every update / epoch is ` +
                'excluded from the training time.']);
}
