/**
 * The Redis executor (Node): BullMQ jobs on a private redis-server, done by
 * worker processes. The same weights as in-process (rows shipped, a module
 * source, the CLI's data sets), and the faults it must survive: a worker
 * killed or stalled mid-pass, every worker gone, Redis unreachable or
 * restarted, a worker of another version or with other data. Nothing leaks
 * in the coordinator; workers exit cleanly on SIGTERM.
 */
import {spawnSync} from 'child_process';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import {er, ERInputError} from '../src/index';
import {redisExecutor, RedisExecutorOptions} from '../src/node/index';
import {maxDiff, toyClassification} from './helpers/data';
import {freePort, TestRedis, TestWorker, until, WorkerLine} from './helpers/redis';
import {CLASSES, FEATURES, toyRows} from './helpers/redis_shards';
import {expectSameWeights, expectUnchanged, smallConvnet, smallMlp, twins} from './helpers/models';

const root = path.resolve(__dirname, '..');

/** Trains `make()` in-process and on `executor` from the same weights; returns both models. */
async function compare(make: () => tf.LayersModel, options: RedisExecutorOptions, x: tf.Tensor, y: tf.Tensor,
                       mode: 'er'|'erls', epochs = 2): Promise<[tf.LayersModel, tf.LayersModel]> {
  const [local, remote] = twins(make);
  local.compile({optimizer: er({mode, searchRows: 200}), loss: 'categoricalCrossentropy'});
  const ex = redisExecutor(options);
  try {
    remote.compile({optimizer: er({mode, searchRows: 200, executor: ex}), loss: 'categoricalCrossentropy'});
    await local.fit(x, y, {epochs, batchSize: 100, verbose: 0});
    const before = tf.memory().numTensors;
    await remote.fit(x, y, {epochs, batchSize: 100, verbose: 0});
    expect(tf.memory().numTensors).withContext('coordinator tensors').toBe(before);
  } finally {
    await ex.close();
  }
  return [local, remote];
}

const isJob = (update: number, pass: number) => (l: WorkerLine) =>
    l.phase === 'start' && l.update === update && l.pass === pass;

/** Calls `act` once, on the first of `workers` to print a line passing `test`, as soon as it is read. */
function onFirst<T>(workers: TestWorker[], test: (l: WorkerLine) => boolean,
                    act: (w: TestWorker, l: WorkerLine) => T): Promise<{worker: TestWorker, line: WorkerLine, result: T}> {
  let fired = false;
  return new Promise(resolve => workers.forEach(w => void w.next(test).then(line => {
    if (fired) return;
    fired = true;
    resolve({worker: w, line, result: act(w, line)});
  })));
}

describe('redisExecutor (Node, BullMQ on a private redis-server)', () => {
  let redis: TestRedis;
  let workers: TestWorker[] = [];
  let backend: string|undefined;
  let x: tf.Tensor2D, y: tf.Tensor2D;

  const start = async (queue: string, n: number, opts: Parameters<typeof TestWorker.start>[2] = {}) => {
    const started = await Promise.all(Array.from({length: n}, () => TestWorker.start(redis.url, queue, opts)));
    workers.push(...started);
    return started;
  };
  // two workers on queue 'main', shared by the specs that need nothing special
  let main: TestWorker[]|null = null;
  const mainWorkers = async () => main ??= await start('main', 2);

  beforeAll(async () => {
    backend = tf.getBackend();
    await tf.setBackend('cpu');
    redis = await TestRedis.start();
    ({x, y} = toyClassification(600, 21));
  });
  afterAll(async () => {
    workers.forEach(w => w.kill('SIGKILL'));
    await Promise.all(workers.map(w => w.exited));
    await redis.stop();
    tf.dispose([x, y]);
    if (backend) await tf.setBackend(backend);
  });

  it('rows shipped through Redis: 2 workers give the in-process weights (MLP er and erls, convnet erls); ' +
     'trainOnBatch and fitDataset too', async () => {
    const [a, b] = await mainWorkers();
    const images = tf.randomUniform([120, 6, 6, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
    const imageY = tf.tidy(() => tf.oneHot(tf.cast(tf.greater(tf.mean(images, [1, 2, 3]), 0.5), 'int32'), 2).toFloat());
    const cases: Array<[string, () => tf.LayersModel, 'er'|'erls', tf.Tensor, tf.Tensor]> = [
      ['MLP', () => smallMlp(), 'er', x, y], ['MLP', () => smallMlp(), 'erls', x, y], ['convnet', smallConvnet, 'erls', images, imageY]];
    for (const [name, make, mode, xs, ys] of cases) {
      const [local, remote] = await compare(make, {connection: redis.url, queue: 'main'}, xs, ys, mode);
      expectSameWeights(local, remote, `${name} ${mode}`);
      local.dispose();
      remote.dispose();
    }
    expect(a.done().length).toBeGreaterThan(0);
    expect(b.done().length).toBeGreaterThan(0);
    // appended batches (one update per batch, and per epoch of a dataset) travel through Redis the same way
    const ds = () => tf.data.generator(function* () {
      for (let s = 0; s < 600; s += 150) yield {xs: tf.slice(x, s, 150), ys: tf.slice(y, s, 150)};
    });
    const runs: Array<[string, (m: tf.LayersModel) => Promise<unknown>]> = [
      ['fitDataset', m => m.fitDataset(ds(), {epochs: 2, verbose: 0})],
      ['trainOnBatch', async m => { await m.trainOnBatch(x, y); await m.trainOnBatch(x, y); }],
    ];
    for (const [what, train] of runs) {
      const [local, remote] = twins(() => smallMlp());
      const ex = redisExecutor({connection: redis.url, queue: 'main'});
      local.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
      remote.compile({optimizer: er({executor: ex}), loss: 'categoricalCrossentropy'});
      await train(local);
      const before = tf.memory().numTensors;
      await train(remote);
      expect(tf.memory().numTensors).withContext(`${what}: coordinator tensors`).toBe(before);
      expectSameWeights(local, remote, what);
      await ex.close();
      local.dispose();
      remote.dispose();
    }
    tf.dispose([images, imageY]);
  });

  it('rows by reference: each worker loads its shard from a module (loadShard); the same weights; a worker ' +
     'whose module gives other rows is refused, naming the shard and both fingerprints', async () => {
    const data = toyRows(0, 3000);
    const xs = tf.tensor2d(data.x, data.xShape as [number, number]), ys = tf.tensor2d(data.y, data.yShape as [number, number]);
    const source = {kind: 'module' as const, path: path.join(root, 'test/helpers/redis_shards.ts')};
    await start('module', 2);
    const make = () => smallMlp(FEATURES, [32], CLASSES);
    const [local, remote] = await compare(make, {connection: redis.url, queue: 'module', source}, xs, ys, 'erls');
    expectSameWeights(local, remote, 'module source');
    local.dispose();
    remote.dispose();
    // a worker with shifted data
    await start('shifted', 1, {env: {ER_TEST_SHARD_SHIFT: '0.5'}});
    const model = make();
    const ex = redisExecutor({connection: redis.url, queue: 'shifted', source});
    model.compile({optimizer: er({executor: ex}), loss: 'categoricalCrossentropy'});
    const before = model.getWeights().map(w => w.clone());
    const tensors = tf.memory().numTensors;
    const t0 = Date.now();
    await expectAsync(model.fit(xs, ys, {epochs: 1, batchSize: 100, verbose: 0})).toBeRejectedWithError(
        /shard 1 of 1 \(rows 0…2999\) on this worker is not the coordinator's: its module source gave 3000 rows, Σx .* the coordinator has 3000 rows/);
    expect(Date.now() - t0).withContext('refused at once, not retried').toBeLessThan(10000);
    expect(tf.memory().numTensors).toBe(tensors);
    expectUnchanged(model.getWeights(), before);
    await ex.close();
    tf.dispose([xs, ys, ...before]);
    model.dispose();
  });

  it('a coordinator of another tfjs-er version is refused by the workers with a clear error', async () => {
    const model = smallMlp();
    await mainWorkers();
    const ex = redisExecutor({connection: redis.url, queue: 'main', protocolVersion: '0.0.0-other'});
    model.compile({optimizer: er({executor: ex}), loss: 'categoricalCrossentropy'});
    const before = model.getWeights().map(w => w.clone());
    await expectAsync(model.fit(x, y, {epochs: 1, batchSize: 100, verbose: 0})).toBeRejectedWithError(
        /refused a job from a tfjs-er 0\.0\.0-other coordinator: run the same tfjs-er version/);
    expectUnchanged(model.getWeights(), before);
    await ex.close();
    tf.dispose(before);
    model.dispose();
  });

  it('a NaN in one worker\'s shard: the fit rejects with ERInputError, weights unchanged; clean data then trains',
     async () => {
    await mainWorkers();
    const model = smallMlp();
    const ex = redisExecutor({connection: redis.url, queue: 'main'});
    model.compile({optimizer: er({executor: ex}), loss: 'categoricalCrossentropy'});
    const before = model.getWeights().map(w => w.clone());
    const bad = tf.tidy(() => tf.concat([x.slice(0, 599), tf.tensor2d([[NaN, 0, 0, 0]])]));
    for (const shuffle of [false, true]) {
      await expectAsync(model.fit(bad, y, {epochs: 1, batchSize: 100, verbose: 0, shuffle}))
          .toBeRejectedWithError(ERInputError, /NaN or Infinity.*Weights were not changed/);
      expectUnchanged(model.getWeights(), before);
    }
    await model.fit(x, y, {epochs: 1, batchSize: 100, verbose: 0});
    expect(maxDiff(model.getWeights()[0], before[0])).toBeGreaterThan(0);
    await ex.close();
    tf.dispose([bad, ...before]);
    model.dispose();
  });

  describe('faults mid-pass (short job locks)', () => {
    // seconds a job's lock lasts: longer than any stretch a worker's event loop is busy
    const LOCK = 3;
    // big enough that a pass takes a while on the cpu backend
    let bx: tf.Tensor2D, by: tf.Tensor2D;
    const make = () => smallMlp(64, [192, 96], 3);
    beforeAll(() => {
      bx = tf.randomNormal([6000, 64], 0, 1, 'float32', 7) as tf.Tensor2D;
      by = tf.tidy(() => tf.oneHot(tf.argMax(tf.matMul(bx, tf.randomNormal([64, 3], 0, 1, 'float32', 8)), 1), 3)
                       .toFloat()) as tf.Tensor2D;
    });
    afterAll(() => tf.dispose([bx, by]));

    it('a worker SIGKILLed in the middle of a pass: another worker takes its job over; the update equals ' +
       'the in-process one', async () => {
      const [a, b] = await start('kill', 2, {lockSeconds: LOCK});
      const killed = onFirst([a, b], isJob(1, 3), w => w.kill('SIGKILL'));
      const [local, remote] = await compare(make, {connection: redis.url, queue: 'kill'}, bx, by, 'er', 1);
      const {worker: victim, line} = await killed;
      const survivor = victim === a ? b : a;
      expect(await victim.exited).toBeNull();  // killed by the signal
      expect(victim.done().some(l => l.update === 1 && l.pass === 3)).toBe(false);
      expect(survivor.done().filter(l => l.update === 1 && l.pass === 3).map(l => l.shard)).toContain(line.shard);
      expectSameWeights(local, remote, 'after the takeover');
      local.dispose();
      remote.dispose();
    });

    it('a worker stalled mid-pass (SIGSTOP) loses its job to another; its late answer, once it resumes, ' +
       'changes nothing', async () => {
      const [a, b] = await start('stall', 2, {lockSeconds: LOCK});
      const stalled = onFirst([a, b], isJob(1, 2), w => w.kill('SIGSTOP'));
      const [local, remote] = await compare(make, {connection: redis.url, queue: 'stall'}, bx, by, 'er', 1);
      const victim = (await stalled).worker;
      victim.kill('SIGCONT');
      // its first try finishes late: the stored statistics stay the survivor's; training goes on exactly
      await until('the stalled worker to finish its late try', () => victim.lines.some(l =>
          (l.phase === 'done' || l.phase === 'failed') && l.update === 1 && l.pass === 2), 30000);
      expectSameWeights(local, remote, 'after the stall');
      const ex = redisExecutor({connection: redis.url, queue: 'stall'});
      remote.compile({optimizer: er({executor: ex}), loss: 'categoricalCrossentropy'});
      local.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
      await local.fit(bx, by, {epochs: 1, batchSize: 100, verbose: 0});
      await remote.fit(bx, by, {epochs: 1, batchSize: 100, verbose: 0});
      expectSameWeights(local, remote, 'the next fit');
      await ex.close();
      local.dispose();
      remote.dispose();
    });

    it('every worker gone: the fit rejects after workerTimeout with a clear error; weights unchanged; ' +
       'nothing leaked', async () => {
      const [w] = await start('gone', 1, {lockSeconds: LOCK});
      void w.next(isJob(1, 2)).then(() => w.kill('SIGKILL'));
      const model = make();
      const ex = redisExecutor({connection: redis.url, queue: 'gone', workerTimeout: 2});
      model.compile({optimizer: er({executor: ex}), loss: 'categoricalCrossentropy'});
      const before = model.getWeights().map(w => w.clone());
      const tensors = tf.memory().numTensors;
      await expectAsync(model.fit(bx, by, {epochs: 1, batchSize: 100, verbose: 0})).toBeRejectedWithError(
          /no worker has served the queue for workerTimeout = 2 s during pass target \w+ of update 1; start workers/);
      expect(tf.memory().numTensors).toBe(tensors);
      expectUnchanged(model.getWeights(), before);
      await ex.close();
      tf.dispose(before);
      model.dispose();
    });
  });

  it('Redis unreachable, or restarted mid-update: clear errors, weights unchanged, and the next fit works', async () => {
    // nothing listens on this port
    const model = smallMlp();
    const nowhere = redisExecutor({connection: `redis://127.0.0.1:${await freePort()}`, queue: 'x'});
    model.compile({optimizer: er({executor: nowhere}), loss: 'categoricalCrossentropy'});
    const before = model.getWeights().map(w => w.clone());
    const tensors = tf.memory().numTensors;
    await expectAsync(model.fit(x, y, {epochs: 1, batchSize: 100, verbose: 0}))
        .toBeRejectedWithError(/Redis is unreachable while starting a fit .*start it or check the URL/);
    expect(tf.memory().numTensors).toBe(tensors);
    expectUnchanged(model.getWeights(), before);
    await nowhere.close();
    // a restart between two passes of an update loses the queue and the update's weights
    const own = await TestRedis.start();
    const ws = await Promise.all([TestWorker.start(own.url, 'r'), TestWorker.start(own.url, 'r')]);
    workers.push(...ws);
    try {
      const ex = redisExecutor({connection: own.url, queue: 'r', shards: 2, workerTimeout: 5});
      model.compile({optimizer: er({executor: ex}), loss: 'categoricalCrossentropy'});
      const restarted = onFirst(ws, isJob(1, 2), () => own.restart());
      await expectAsync(model.fit(x, y, {epochs: 1, batchSize: 100, verbose: 0})).toBeRejectedWithError(
          /connection to Redis was lost during pass \w+.*Weights were not changed|Redis no longer holds this fit's data/);
      await (await restarted).result;
      expect(tf.memory().numTensors).toBe(tensors);
      expectUnchanged(model.getWeights(), before);
      // the workers reconnect to the new server; the next fit is the in-process one
      const twin = smallMlp();
      twin.setWeights(model.getWeights());
      twin.compile({optimizer: er(), loss: 'categoricalCrossentropy'});
      await until('the workers to reconnect', async () => (await ex.workers().catch(() => 0)) === 2, 30000);
      await model.fit(x, y, {epochs: 1, batchSize: 100, verbose: 0});
      await twin.fit(x, y, {epochs: 1, batchSize: 100, verbose: 0});
      expectSameWeights(twin, model, 'after the restart');
      twin.dispose();
      await ex.close();
    } finally {
      ws.forEach(w => w.kill('SIGKILL'));
      await own.stop();
    }
    tf.dispose(before);
    model.dispose();
  });

  it('the CLI: `tfjs-er worker` processes and `train --executor redis://…` give the one-thread result; ' +
     'workers exit 0 on SIGTERM', async () => {
    const ws = await start('cli', 2, {cli: true});
    const args = ['--import', 'tsx', 'src/node/cli.ts', 'train', '--dataset', 'mnist', '--arch', '784-32-10',
                  '--train-size', '2000', '--backend', 'cpu', '--epochs', '2', '--json'];
    const viaRedis = spawnSync(process.execPath, [...args, '--executor', redis.url, '--queue', 'cli'],
                               {cwd: root, encoding: 'utf8', timeout: 300000});
    expect(viaRedis.status).withContext(viaRedis.stderr).toBe(0);
    const one = spawnSync(process.execPath, [...args, '--threads', '1'], {cwd: root, encoding: 'utf8', timeout: 300000});
    expect(one.status).withContext(one.stderr).toBe(0);
    const r = JSON.parse(viaRedis.stdout.trim()), o = JSON.parse(one.stdout.trim());
    expect(r.executor).toBe(`redis 127.0.0.1:${redis.port} queue 'cli'`);
    expect(viaRedis.stderr).toContain(`ER update on redis 127.0.0.1:${redis.port} queue 'cli' (cpu)`);
    r.er.history.forEach((h: {test_accuracy: number}, i: number) =>
        expect(Math.abs(h.test_accuracy - o.er.history[i].test_accuracy)).withContext(`epoch ${i + 1}`).toBeLessThan(0.002));
    // each worker loaded its own shard of the data set (no rows through Redis) and did its jobs
    await until('each CLI worker\'s job lines', () => ws.every(w => w.done().length > 0), 10000);
    ws.forEach(w => w.kill('SIGTERM'));
    expect(await Promise.all(ws.map(w => w.exited))).toEqual([0, 0]);
  });

  it('library workers exit 0 on SIGTERM with no tensor left, after serving a fit', async () => {
    const live = await start('term', 2);
    const model = smallMlp();
    const ex = redisExecutor({connection: redis.url, queue: 'term'});
    model.compile({optimizer: er({executor: ex}), loss: 'categoricalCrossentropy'});
    await model.fit(x, y, {epochs: 2, batchSize: 100, verbose: 0});
    await ex.close();
    model.dispose();
    live.forEach(w => expect(w.done().length).toBeGreaterThan(0));
    live.forEach(w => w.kill('SIGTERM'));
    expect(await Promise.all(live.map(w => w.exited))).toEqual(live.map(() => 0));
    for (const w of live) {
      expect(w.lines[w.lines.length - 1]).withContext(w.stderr).toEqual(jasmine.objectContaining({phase: 'closed', tensors: 0}));
    }
  });
});
