/** The CIFAR-10 binary folder the benchmarks use, built once from shared/data. */
import {execFileSync} from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import {ROOT} from './lib';

/** `.cache/cifar10` (git-ignored), built by shared/data/make-cifar10-bin.sh if missing. */
export function cifarDir(): string {
  const dir = path.join(ROOT, '.cache', 'cifar10');
  if (!fs.existsSync(path.join(dir, 'cifar-10-batches-bin', 'test_batch.bin'))) {
    const script = process.env.ER_SHARED_DIR ? path.join(process.env.ER_SHARED_DIR, 'data', 'make-cifar10-bin.sh') :
                                               path.resolve(ROOT, '..', 'shared', 'data', 'make-cifar10-bin.sh');
    console.error(`  building CIFAR-10 with ${script}`);
    execFileSync('bash', [script, dir], {stdio: 'inherit'});
  }
  return dir;
}
