// Node only: the tfjs-er CLI end to end on a small MNIST subset, and backend choice.
import {spawnSync} from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {useBackend} from '../src/node/backend';

const root = path.resolve(__dirname, '..');

describe('tfjs-er CLI (Node)', () => {
  it('train --json prints one final JSON line with the documented fields, and --save writes the model', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-er-cli-'));
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/node/cli.ts', 'train', '--dataset', 'mnist',
                                           '--optimizer', 'er', '--arch', '784-64-10', '--train-size', '2000',
                                           '--backend', 'cpu', '--epochs', '2', '--seed', '3', '--json', '--save', dir,
                                           '--threads', '2'],
                        {cwd: root, encoding: 'utf8'});
    expect(r.status).withContext(r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBe(1);  // progress goes to stderr with --json
    const out = JSON.parse(lines[0]);
    for (const k of ['dataset', 'optimizer', 'backend', 'arch', 'epochs', 'batch_size', 'seed', 'train_seconds',
                     'test_error', 'test_accuracy', 'peak_rss_mb']) {
      expect(out[k]).withContext(k).toBeDefined();
    }
    expect(out).toEqual(jasmine.objectContaining({dataset: 'mnist', backend: 'cpu', arch: '784-64-10', epochs: 2, seed: 3}));
    // memory: the runtime before data < the peak of training ≤ the process peak (Linux)
    expect(out.baseline_rss_mb).toBeGreaterThan(0);
    expect(out.train_peak_rss_mb).toBeGreaterThan(out.baseline_rss_mb);
    expect(out.train_peak_rss_mb).toBeLessThanOrEqual(out.peak_rss_mb);
    expect(out.test_accuracy).toBeGreaterThan(0.8);
    expect(out.test_error).toBeCloseTo(100 * (1 - out.test_accuracy), 1);
    // the update ran on 2 worker threads (the default on this 2-core machine is every core; given here)
    expect(out.threads).toBe(2);
    expect(r.stderr).toContain('ER update on 2 worker threads (cpu)');
    const one = spawnSync(process.execPath, ['--import', 'tsx', 'src/node/cli.ts', 'train', '--dataset', 'mnist',
                                             '--optimizer', 'er', '--arch', '784-64-10', '--train-size', '2000',
                                             '--backend', 'cpu', '--epochs', '2', '--seed', '3', '--json',
                                             '--threads', '1'], {cwd: root, encoding: 'utf8'});
    expect(one.status).withContext(one.stderr).toBe(0);
    const single = JSON.parse(one.stdout.trim());
    expect(single.threads).toBe(1);
    expect(single.test_accuracy).toBe(out.test_accuracy);  // the same update on one thread or two
    const saved = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    expect(saved.modelTopology).toBeDefined();
    expect(fs.statSync(path.join(dir, 'weights.bin')).size).toBe((784 * 64 + 64 + 64 * 10 + 10) * 4);
    fs.rmSync(dir, {recursive: true, force: true});
  });

  it('bad flags exit with a message and the usage', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/node/cli.ts', 'train', '--dataset', 'imagenet'],
                        {cwd: root, encoding: 'utf8'});
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--dataset must be one of mnist, fashion-mnist, cifar10, got 'imagenet'/);
    expect(r.stderr).toMatch(/usage: tfjs-er train/);
  });

  it('--backend tensorflow without tfjs-node fails saying how to install it', async () => {
    await expectAsync(useBackend('tensorflow')).toBeRejectedWithError(/npm install @tensorflow\/tfjs-node/);
  });
});
