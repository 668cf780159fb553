/** `memory`: peak resident memory of an ER epoch against the training-set size (and Adam's). */
import {runCli, RunResult, table, writeResults} from './lib';

export async function memorySuite() {
  const runs: Array<[number, string]> = [[15000, 'er'], [30000, 'er'], [60000, 'er'], [60000, 'adam']];
  const results: Array<{n: number, opt: string, result: RunResult}> = [];
  for (const [n, opt] of runs) {
    {
      const args = ['--dataset', 'mnist', '--optimizer', opt, '--arch', '784-1000-10', '--epochs', '1',
                    '--backend', 'wasm', '--train-size', String(n)];
      if (opt === 'adam') args.push('--wasm-transpose-fix');
      results.push({n, opt, result: await runCli(args, `${opt} N=${n}`)});
    }
  }
  // data = the training and test tensors (float32 pixels and one-hot labels; the CLI lets the
  // loader's arrays go once the tensors exist); model = weights; statistics = the Grams of the
  // input (784²) and hidden (1000²) layers (ER) or the two moment estimates (Adam).
  const model = (784 * 1000 + 1000 + 1000 * 10 + 10) * 4 / 2 ** 20;
  const stats = (784 * 784 + 1000 * 1000) * 4 / 2 ** 20;
  const test = 10000 * (784 + 10) * 4 / 2 ** 20;
  const rows = results.map(({n, opt, result}) => {
    const data = n * (784 + 10) * 4 / 2 ** 20 + test;
    const base = data + model + (opt === 'er' ? stats : 2 * model);
    const used = result.train_peak_rss_mb! - result.baseline_rss_mb!;
    return [opt, n, result.peak_rss_mb, result.train_peak_rss_mb!, result.baseline_rss_mb!, used, base.toFixed(0),
            (used / base).toFixed(2), (result.train_peak_rss_mb! / base).toFixed(2)];
  });
  writeResults('memory', 'npm run bench -- --suite memory', results,
               table(['optimizer', 'training rows N', 'process peak RSS MB (with loading)', 'training peak RSS MB',
                      'runtime MB (before data)', 'training peak − runtime MB', 'data + model + stats MB',
                      'ratio (training peak − runtime)', 'ratio (training peak)'], rows),
               ['One epoch of 784-1000-10 on MNIST subsets (wasm, batch 2000 for ER, 128 for Adam with the wasm ' +
                'matMul fix). "runtime" = the process\'s resident memory once Node, tfjs and the wasm backend are ' +
                'up, before any data (the same for any N); "data" = the training and test tensors (float32 pixels ' +
                'and one-hot labels); "stats" = ER\'s Grams (784² + 1000² floats), Adam\'s two moment estimates. ' +
                '"training peak" = the peak resident memory from the first fit to the last evaluation (the CLI ' +
                'restarts the kernel\'s peak counter after loading, Linux /proc/self/clear_refs); the process peak ' +
                'also covers loading (file, float32 arrays and tensors at once). Both include the wasm heap, which ' +
                'never shrinks.']);
}
