/**
 * `npm run bench` — ER vs Adam, side by side, each run in its own process,
 * alternating optimizers. Suites (all by default, or `-- --suite a,b`):
 *   mnist-paper   ER test error after 1/2/3/5 updates vs the NumPy reference
 *   time-to-acc   wall seconds to 97.12% MNIST test accuracy: ER vs Adam (stock, wasm fix), per network
 *   time-to-acc-repeats  its closest pair (784-1000-1000-10, ER erls vs stock Adam), seeds 0/1/2, medians
 *   wide-one-update  784-8000-10: one ER update vs stock Adam (seeds 0/1/2) and Adam with the wasm fix
 *   cifar10-mlp   CIFAR-10 MLP: ER vs Adam, against the paper's 56.65%
 *   cost          one ER update broken down (in-process; see bench/cost.ts)
 *   memory        peak RSS of an ER epoch vs training-set size (and Adam's)
 *   few-shot      100 / 1k / 5k / all examples of MNIST, Fashion-MNIST, CIFAR-10: ER vs tuned Adam
 *   heads         erHead vs an Adam-trained head on frozen features, 1–100 examples of new classes
 *   cifar10-conv  a small convnet on CIFAR-10: ER (conv layer solved on patches) vs Adam
 *   mnist-conv    a small convnet on MNIST: ER erls (5 updates, every core) vs Adam, against ≤ 1.5 % (not in 'all')
 *   cluster       one ER update on Redis worker processes vs in-process and threads (not in 'all')
 *   parallel      one ER update in-process vs 2 worker threads, medians of 3 (not in 'all')
 *   step-rule     'erls' with the held vs the refit-aware step, 5 updates (not in 'all')
 *   time-to-acc-deep  time-to-acc on 784-1000-1000-10 only (not in 'all')
 *   transfer      heads on MobileNetV2 features of CIFAR-10: erHead vs Teachable Machine, ml5, kNN (few-shot, class-incremental)
 *   long-run      20 updates of 784-1000-1000-10 erls toward the ≤ 2.0 % goal (not in 'all')
 *   transfer-probe  the backbone's input size, preprocessing and layer, by erHead accuracy (not in 'all')
 * Writes bench/results/<suite>.json and .md; `npm run bench:docs` collects the
 * tables into docs/benchmarks.md. Full run: about four and a half hours on the 2-core machine.
 */
import {execFileSync} from 'child_process';
import * as path from 'path';
import {ROOT} from './lib';
import {cifarConvSuite} from './cifar_conv';
import {cifarMlpSuite} from './cifar_mlp';
import {costSuite} from './cost';
import {clusterSuite} from './cluster';
import {parallelSuite} from './parallel';
import {fewShotSuite} from './few_shot';
import {headsSuite} from './heads';
import {memorySuite} from './memory';
import {mnistConvSuite} from './mnist_conv';
import {longRunSuite, mnistPaperSuite, stepRuleSuite} from './mnist_paper';
import {timeToAccuracyDeepSuite, timeToAccuracyRepeatsSuite, timeToAccuracySuite, wideOneUpdateSuite} from './time_to_acc';
import {transferProbe, transferSuite} from './transfer';

const argv = process.argv.slice(2);
const suiteArg = argv.indexOf('--suite') >= 0 ? argv[argv.indexOf('--suite') + 1] : 'all';
const selected = suiteArg === 'all' ? ['mnist-paper', 'time-to-acc', 'cifar10-mlp', 'cost', 'memory', 'few-shot', 'heads', 'cifar10-conv', 'time-to-acc-repeats', 'wide-one-update', 'transfer'] : suiteArg.split(',');

async function main() {
  const suites: Record<string, () => Promise<void>> = {
    'mnist-paper': mnistPaperSuite, 'time-to-acc': () => timeToAccuracySuite(), 'time-to-acc-deep': timeToAccuracyDeepSuite,
    'time-to-acc-repeats': timeToAccuracyRepeatsSuite, 'cifar10-mlp': cifarMlpSuite, 'cost': costSuite, 'memory': memorySuite,
    'few-shot': fewShotSuite, 'heads': headsSuite, 'cifar10-conv': cifarConvSuite, 'mnist-conv': mnistConvSuite,
    'wide-one-update': wideOneUpdateSuite, 'cluster': clusterSuite, 'parallel': parallelSuite, 'step-rule': stepRuleSuite,
    'transfer': transferSuite, 'transfer-probe': transferProbe, 'long-run': longRunSuite,
  };
  for (const s of selected) {
    if (!suites[s]) throw new Error(`unknown suite '${s}'; known: ${Object.keys(suites).join(', ')}`);
    console.error(`== ${s} ==`);
    await suites[s]();
  }
  // collect the tables into docs/benchmarks.md (the same as `npm run bench:docs`)
  execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'docs.ts')], {stdio: 'inherit'});
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
