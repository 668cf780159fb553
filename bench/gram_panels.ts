/**
 * `npm run bench:gram-panels` (~1 min): the Gram `aᵀa` of one 2000×1000 batch
 * on wasm as panels built from public tfjs ops only, against a plain matMul of
 * the same size, as must-do GFLOP/s (n·d(d+1)). The batch is shifted and
 * transposed, read back once, cut into k row blocks of `aᵀ` (tensors made from
 * subarrays: wasm's `slice` reads its whole source back each time), each block
 * transposed once; panel p stacks the products of blocks q ≥ p with block p.
 * The shipped Gram at this width is the full product (see src/engine/ridge.ts).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {medianSeconds} from './cost';
import {table, writeResults} from './lib';

function panels(as: tf.Tensor2D, ast: tf.Tensor2D, k: number): tf.Tensor[] {
  const [n, d] = as.shape;
  const host = ast.dataSync() as Float32Array;
  const b = Array.from({length: k + 1}, (_, i) => Math.round(i * d / k));
  const rows = b.slice(0, -1).map((i0, q) => tf.tensor2d(host.subarray(i0 * n, b[q + 1] * n), [b[q + 1] - i0, n]));
  const cols = rows.map(r => tf.transpose(r));
  return cols.map((c, p) => {
    const blocks = rows.slice(p).map(r => tf.matMul(r, c));
    return blocks.length === 1 ? blocks[0] : tf.concat(blocks, 0);
  });
}

async function main() {
  await tf.setBackend('wasm');
  const n = 2000, d = 1000;
  const a = tf.tidy(() => tf.relu(tf.randomNormal([n, d], 0, 1, 'float32', 3))) as tf.Tensor2D;
  const shift = tf.tidy(() => tf.mean(a, 0));
  const x = tf.randomNormal([n, d], 0, 1, 'float32', 4), w = tf.randomNormal([d, d], 0, 1, 'float32', 5);
  const plain = medianSeconds(() => tf.matMul(x, w));
  const mustFlops = n * d * (d + 1) / 1e9, plainRate = 2 * n * d * d / 1e9 / plain;
  const gram = (k: number) => () => tf.tidy(() => {
    const as = tf.sub(a, shift) as tf.Tensor2D, ast = tf.transpose(as) as tf.Tensor2D;
    return k === 1 ? tf.matMul(ast, as) : panels(as, ast, k);
  });
  const rows: Array<Array<string|number>> = [];
  const data: unknown[] = [];
  for (const k of [1, 8, 12, 16, 20]) {
    const s = medianSeconds(gram(k));
    const rate = mustFlops / s;
    data.push({panels: k, seconds: s, must_do_gflops: rate, share_of_plain: rate / plainRate});
    rows.push([k === 1 ? '1 (full product, shipped)' : k, (1e3 * s).toFixed(1), rate.toFixed(1), `${(100 * rate / plainRate).toFixed(0)} %`]);
  }
  tf.dispose([a, shift, x, w]);
  writeResults('gram-panels', 'npm run bench:gram-panels', {n, d, plain_seconds: plain, plain_gflops: plainRate, runs: data},
               table(['panels', 'ms per batch (shift + transpose + products)', 'must-do GFLOP/s', 'vs plain matMul'], rows),
               [`One 2000×1000 batch (relu of random normals), medians of 7; plain matMul 2000×1000·1000×1000: ` +
                `${plainRate.toFixed(1)} GFLOP/s. Panels use public tfjs ops only (one read-back, row blocks from its ` +
                'subarrays, per-block transposes, one concat per panel).']);
}

main().catch(e => { console.error(e); process.exit(1); });
