// Node only: the tfjs-er CLI end to end on a small MNIST subset, and backend choice.
import {spawnSync} from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {useBackend} from '../src/node/backend';

const root = path.resolve(__dirname, '..');

describe('tfjs-er CLI (Node)', () => {
  it('train --json prints one final JSON line with the documented fields; threads and --save; --compare adam', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-er-cli-'));
    const args = ['--import', 'tsx', 'src/node/cli.ts', 'train', '--dataset', 'mnist', '--arch', '784-64-10',
                  '--train-size', '2000', '--backend', 'cpu', '--epochs', '2', '--seed', '3', '--json'];
    const r = spawnSync(process.execPath, [...args, '--save', dir, '--threads', '2'], {cwd: root, encoding: 'utf8'});
    expect(r.status).withContext(r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBe(1);  // progress goes to stderr with --json
    const out = JSON.parse(lines[0]);
    expect(out).toEqual(jasmine.objectContaining({dataset: 'mnist', backend: 'cpu', arch: '784-64-10', threads: 2,
                                                 train_rows: 2000, seed: 3}));
    for (const k of ['optimizer', 'epochs', 'train_seconds', 'test_accuracy', 'test_error', 'history']) {
      expect(out.er[k]).withContext(k).toBeDefined();
    }
    expect(out.er.epochs).toBe(2);
    expect(out.er.history.length).toBe(2);
    expect(out.er.test_accuracy).toBeGreaterThan(0.8);
    expect(out.er.test_error).toBeCloseTo(100 * (1 - out.er.test_accuracy), 1);
    expect(out.adam).toBeUndefined();
    expect(r.stderr).toContain('ER update on 2 worker threads (cpu)');
    const saved = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    expect(saved.modelTopology).toBeDefined();
    expect(fs.statSync(path.join(dir, 'weights.bin')).size).toBe((784 * 64 + 64 + 64 * 10 + 10) * 4);
    fs.rmSync(dir, {recursive: true, force: true});
    // one thread gives the same update; --compare adam trains the same network with Adam too
    const one = spawnSync(process.execPath, [...args, '--threads', '1', '--compare', 'adam'], {cwd: root, encoding: 'utf8'});
    expect(one.status).withContext(one.stderr).toBe(0);
    const single = JSON.parse(one.stdout.trim());
    expect(single.threads).toBe(1);
    expect(single.er.test_accuracy).toBe(out.er.test_accuracy);
    expect(single.adam.optimizer).toBe('adam(1e-3)');
    expect(single.adam.epochs).toBe(2);
    expect(single.adam.test_accuracy).toBeGreaterThan(0.5);
  });

  it('bad flags exit with a message and the usage', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/node/cli.ts', 'train', '--dataset', 'imagenet'],
                        {cwd: root, encoding: 'utf8'});
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--dataset must be one of mnist, fashion-mnist, cifar10, got 'imagenet'/);
    expect(r.stderr).toMatch(/usage: tfjs-er train/);
    const c = spawnSync(process.execPath, ['--import', 'tsx', 'src/node/cli.ts', 'train', '--forward-cache-mb=-1'],
                        {cwd: root, encoding: 'utf8'});
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/--forward-cache-mb must be a number of megabytes >= 0, got '-1'/);
  });

  it('--backend tensorflow without tfjs-node fails saying how to install it', async () => {
    await expectAsync(useBackend('tensorflow')).toBeRejectedWithError(/npm install @tensorflow\/tfjs-node/);
  });
});
