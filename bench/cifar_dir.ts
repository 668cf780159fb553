/**
 * The CIFAR-10 folder the benchmarks use: the official binary layout
 * (`cifar-10-batches-bin/`), which is not on npm and is never committed.
 *
 * In order: `$CIFAR10_DIR` (a folder where the official release
 * `cifar-10-binary.tar.gz` from https://www.cs.toronto.edu/~kriz/cifar.html
 * was extracted); `.cache/cifar10` (git-ignored); else, on the maintainers'
 * machines only, `.cache/cifar10` is built once by the workspace's builder
 * script when `$ER_CIFAR_BUILDER` (or `../shared/data/make-cifar10-bin.sh`)
 * exists. Otherwise the error says how to get the data.
 */
import {execFileSync} from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import {ROOT} from './lib';

const has = (dir: string) => fs.existsSync(path.join(dir, 'cifar-10-batches-bin', 'test_batch.bin')) ||
                             fs.existsSync(path.join(dir, 'test_batch.bin'));

export function cifarDir(): string {
  if (process.env.CIFAR10_DIR) {
    if (!has(process.env.CIFAR10_DIR)) throw new Error(`CIFAR10_DIR=${process.env.CIFAR10_DIR} holds no test_batch.bin`);
    return process.env.CIFAR10_DIR;
  }
  const dir = path.join(ROOT, '.cache', 'cifar10');
  if (has(dir)) return dir;
  const builder = process.env.ER_CIFAR_BUILDER ?? path.resolve(ROOT, '..', 'shared', 'data', 'make-cifar10-bin.sh');
  if (!fs.existsSync(builder)) {
    throw new Error('CIFAR-10 is not on npm: download cifar-10-binary.tar.gz from ' +
                    'https://www.cs.toronto.edu/~kriz/cifar.html, extract it into .cache/cifar10 ' +
                    '(or anywhere, and set CIFAR10_DIR to that folder), then rerun');
  }
  console.error(`  building CIFAR-10 into ${dir} with ${builder}`);
  execFileSync('bash', [builder, dir], {stdio: 'inherit'});
  return dir;
}
