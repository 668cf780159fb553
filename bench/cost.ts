/**
 * Cost of one ER update on MNIST (60k rows, wasm), phase by phase, against
 * the backend's own plain matMul GFLOP/s measured in the same process.
 * Gram flops are counted as those it must do: N·d(d+1) (aᵀa is symmetric),
 * next to the full-product equivalent 2·N·d².
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {dataScaledInit, DenseState, erSweep, preimage, preimageOperator, reflectOutput, RidgeAccumulator, tensorBatches} from '../src/engine/index';
import {loadMnist} from '../src/node/datasets';
import {median, table, writeResults} from './lib';

function timed<T>(f: () => T): [T, number] {
  const t = performance.now();
  const r = f();
  return [r, (performance.now() - t) / 1000];
}

function matmulRate(m: number, k: number, n: number): number {
  const a = tf.randomNormal([m, k]), b = tf.randomNormal([k, n]);
  tf.matMul(a, b).dispose();
  const reps = 3;
  const [, s] = timed(() => {
    for (let i = 0; i < reps; i++) {
      const c = tf.matMul(a, b);
      c.dataSync();
      c.dispose();
    }
  });
  tf.dispose([a, b]);
  return 2 * m * k * n * reps / s / 1e9;
}

/** Median of `reps` timed runs of `f` after a warm-up (each ends with a read-back), in seconds. */
export function medianSeconds(f: () => tf.Tensor|tf.Tensor[], reps = 7): number {
  tf.dispose(f());
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const [r, s] = timed(() => { const r = f(); (Array.isArray(r) ? r : [r]).forEach(t => t.dataSync()); return r; });
    tf.dispose(r);
    times.push(s);
  }
  return median(times);
}

/**
 * What any Gram built from tfjs ops pays per batch besides its products:
 * the shift by the column means, the transpose (`aᵀa` without the slow
 * `transposeA` flag needs both layouts), and, for a panelled (symmetric)
 * Gram, one strided copy that makes column blocks of `a` contiguous (a
 * reshape to [n, k, d/k] and a transpose to [k, n, d/k]; on wasm the cheapest
 * such copy with public ops we found — `slice`/`split` read the whole source
 * back to JS each time). Medians in seconds.
 */
function gramOverheads(n: number, d: number, blocks: number): {shift: number, transpose: number, blockedCopy: number} {
  const a = tf.tidy(() => tf.relu(tf.randomNormal([n, d], 0, 1, 'float32', 1))) as tf.Tensor2D;
  const mean = tf.tidy(() => tf.mean(a, 0));
  const out = {
    shift: medianSeconds(() => tf.sub(a, mean)),
    transpose: medianSeconds(() => tf.transpose(a)),
    blockedCopy: medianSeconds(() => tf.tidy(() => tf.transpose(tf.reshape(a, [n, blocks, d / blocks]), [1, 0, 2]))),
  };
  tf.dispose([a, mean]);
  return out;
}

export async function costSuite(): Promise<void> {
  await tf.setBackend('wasm');
  const {train} = loadMnist();
  const N = train.count, B = 2000, K = 10;
  const x = tf.tensor2d(train.x, [N, 784]);
  const y = tf.oneHot(tf.tensor1d(train.labels, 'int32'), K).toFloat() as tf.Tensor2D;
  const rows: Array<Array<string|number>> = [];
  const data: unknown[] = [];
  for (const H of [1000, 4000]) {
    const peak = matmulRate(B, 784, H);
    const peakSquare = matmulRate(B, H, Math.min(H, 1000));
    const layers: DenseState[] = [
      {name: 'hidden', kernel: tf.zeros([784, H]) as tf.Tensor2D, bias: tf.zeros([H]) as tf.Tensor1D, activation: 'relu', trainable: true},
      {name: 'out', kernel: tf.zeros([H, K]) as tf.Tensor2D, bias: tf.zeros([K]) as tf.Tensor1D, activation: 'softmax', trainable: true},
    ];
    const sample = tf.slice(x, [0, 0], [10000, -1]) as tf.Tensor2D;
    dataScaledInit(layers, sample, 0).forEach((w, i) => { tf.dispose([layers[i].kernel, layers[i].bias!]); Object.assign(layers[i], w); });
    sample.dispose();
    const batches = tensorBatches(x, y, B);
    // forward over N
    const [, tForward] = timed(() => { for (const [xb] of batches()) tf.tidy(() => tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(xb, layers[0].kernel), layers[0].bias!)), layers[1].kernel), layers[1].bias!).dataSync()); });
    // Gram of the hidden features (features computed outside the timer)
    const acc = new RidgeAccumulator(H, K, 'out');
    let tGram = 0, tCross = 0;
    for (const [xb, yb] of batches()) {
      const [a, t] = tf.tidy(() => {
        const a = tf.relu(tf.add(tf.matMul(xb, layers[0].kernel), layers[0].bias!)) as tf.Tensor2D;
        const t = reflectOutput('softmax', tf.add(tf.matMul(a, layers[1].kernel), layers[1].bias!), yb) as tf.Tensor2D;
        a.dataSync();
        return [a, t];
      });
      tGram += timed(() => { acc.addGram(a); (acc as any).gram[0].dataSync(); })[1];
      tCross += timed(() => { acc.addCross(a, t); (acc as any).cross.dataSync(); })[1];
      tf.dispose([a, t]);
    }
    const [sol, tSolveOut] = timed(() => acc.solve());
    acc.dispose();
    // hidden layer solve: 784×784 system with H right-hand sides
    const accIn = new RidgeAccumulator(784, H, 'hidden');
    for (const [xb] of batches()) tf.tidy(() => accIn.add(xb, tf.relu(tf.add(tf.matMul(xb, layers[0].kernel), layers[0].bias!)) as tf.Tensor2D));
    const [, tSolveIn] = timed(() => accIn.solve());
    accIn.dispose();
    // pre-image over N
    const W = tf.tensor2d(Float32Array.from(sol.W), [H, K]), b = tf.tensor1d(Float32Array.from(sol.b));
    const [, tPre] = timed(() => {
      const M = preimageOperator(W, 0.1);
      for (const [xb, yb] of batches()) tf.tidy(() => {
        const a = tf.relu(tf.add(tf.matMul(xb, layers[0].kernel), layers[0].bias!)) as tf.Tensor2D;
        preimage(a, reflectOutput('softmax', tf.zeros([a.shape[0], K]), yb) as tf.Tensor2D, W, b, M).dataSync();
      });
      M.dispose();
    });
    tf.dispose([W, b]);
    // a whole update, as the library runs it
    const [r, tUpdate] = timed(() => erSweep(layers, batches));
    // The best any panelled Gram could do on this backend: its products doing
    // exactly the must-do flops at the plain square matMul rate (infinitely many
    // perfectly efficient panels), plus the per-batch shift, transpose and one
    // blocked copy; as a share of that plain rate.
    const over = gramOverheads(B, H, 8);
    const mustBatch = B * H * (H + 1) / 1e9 / peakSquare;
    const ceiling = mustBatch / (mustBatch + over.shift + over.transpose + over.blockedCopy);
    r.weights.forEach(w => tf.dispose([w!.kernel, w!.bias!]));
    const gramMust = N * H * (H + 1) / 1e9, gramFull = 2 * N * H * H / 1e9;
    const fwdFlops = 2 * N * (784 * H + H * K) / 1e9;
    const solveFlops = (H ** 3 / 3 + 2 * H * H * K + 784 ** 3 / 3 + 2 * 784 * 784 * H) / 1e9;
    const entry = {H, N, plain_matmul_gflops: {forward_shape: peak, square_shape: peakSquare},
                   seconds: {forward: tForward, gram: tGram, cross_output: tCross, solve_output: tSolveOut,
                             solve_hidden: tSolveIn, preimage_pass: tPre, full_update: tUpdate},
                   gram_batch_overheads_seconds: {batch: B, ...over, must_do_products_at_plain_rate: mustBatch},
                   gram_one_thread_ceiling: ceiling,
                   update_report: r.report};
    data.push(entry);
    const solveShare = (tSolveOut + tSolveIn) / tUpdate;
    rows.push([`784-${H}-10`, `${peak.toFixed(1)} / ${peakSquare.toFixed(1)}`,
               `${tForward.toFixed(1)} s (${(fwdFlops / tForward).toFixed(1)})`,
               `${tGram.toFixed(1)} s (${(gramMust / tGram).toFixed(1)} must-do; ${(gramFull / tGram).toFixed(1)} full-eq.)`,
               `${(100 * gramMust / tGram / peakSquare).toFixed(0)} %`,
               `${(100 * ceiling).toFixed(0)} % (${(1e3 * mustBatch).toFixed(0)} + ${(1e3 * over.shift).toFixed(1)} + ` +
                   `${(1e3 * over.transpose).toFixed(1)} + ${(1e3 * over.blockedCopy).toFixed(1)} ms)`,
               `${(tSolveOut + tSolveIn).toFixed(1)} s (${(solveFlops / (tSolveOut + tSolveIn)).toFixed(2)})`,
               `${tPre.toFixed(1)} s`, `${tUpdate.toFixed(1)} s`, `${(100 * solveShare).toFixed(0)} %`]);
    layers.forEach(l => tf.dispose([l.kernel, l.bias!]));
  }
  tf.dispose([x, y]);
  writeResults('cost', 'npm run bench -- --suite cost', data,
               table(['network', 'plain matMul GFLOP/s (2000×784·784×H / 2000×H·H×1000)', 'forward over N (GFLOP/s)',
                      'hidden Gram over N (GFLOP/s)', 'Gram vs plain matMul',
                      'ceiling of any panelled Gram (products + shift + transpose + blocked copy, per batch)', 'solves (GFLOP/s, float64)',
                      'pre-image pass', 'one full update', 'solve share of update'], rows),
               ['Phases timed separately on 60k MNIST rows, batch 2000 (each ends with a read-back). "must-do" ' +
                'counts N·d(d+1) flops for the symmetric Gram (its upper triangle); "full-eq." counts 2·N·d². The ' +
                'full update is erSweep (3 passes: output statistics, hidden targets, output refresh) and ' +
                'includes forward passes and the elementwise work. The ceiling bounds any Gram built from tfjs ops that ' +
                'shifts and transposes each batch (both layouts are needed without the slow transposeA flag): its ' +
                'products do only the must-do flops at the plain square matMul rate (a perfectly efficient symmetric ' +
                'product, which k panels approach as (k+1)/2k of the full one), plus the measured per-batch shift, ' +
                'transpose and one strided copy making column blocks contiguous (reshape + 3-D transpose, 8 blocks; ' +
                'medians of 7, batch 2000, relu of random normals); it ignores per-op dispatch and block slicing, so ' +
                'real panels land below it.']);
}

if (require.main === module) costSuite().catch(e => { console.error(e); process.exit(1); });
