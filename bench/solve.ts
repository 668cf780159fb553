/**
 * `npm run bench:solve`: the float64 SPD solve of src/engine/spd.ts against
 * ml-matrix's CholeskyDecomposition, on the same random SPD matrices.
 * Writes bench/results/solve.json and prints a Markdown table.
 */
import * as fs from 'fs';
import * as path from 'path';
import {CholeskyDecomposition, Matrix} from 'ml-matrix';
import {choleskyInPlace} from '../src/engine/spd';

function spd(n: number): Float64Array {
  const x = new Float64Array(n * n);
  for (let i = 0; i < x.length; i++) x[i] = Math.random() - 0.5;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += x[i * n + k] * x[j * n + k];
      a[i * n + j] = a[j * n + i] = s / n + (i === j ? 0.1 : 0);
    }
  }
  return a;
}

function median(v: number[]) {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const sizes = (process.env.SIZES ?? '500,1000,2000').split(',').map(Number);
const rows: Array<Record<string, number>> = [];
for (const n of sizes) {
  const a = spd(n);
  const ours: number[] = [], ml: number[] = [];
  const reps = n <= 1000 ? 3 : 1;
  for (let r = 0; r < reps; r++) {
    const f = new Float64Array(a);
    let t = performance.now();
    choleskyInPlace(f, n);
    ours.push((performance.now() - t) / 1000);
    const m = new Matrix(n, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m.set(i, j, a[i * n + j]);
    t = performance.now();
    new CholeskyDecomposition(m);
    ml.push((performance.now() - t) / 1000);
  }
  const flops = n ** 3 / 3;
  rows.push({n, ours_s: median(ours), ours_gflops: flops / median(ours) / 1e9,
             mlmatrix_s: median(ml), mlmatrix_gflops: flops / median(ml) / 1e9,
             speedup: median(ml) / median(ours)});
}
const out = path.join(__dirname, 'results');
fs.mkdirSync(out, {recursive: true});
fs.writeFileSync(path.join(out, 'solve.json'), JSON.stringify({date: new Date().toISOString(), rows}, null, 1));
console.log('| n | tfjs-er Cholesky s | GFLOP/s | ml-matrix s | GFLOP/s | speed-up |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.n} | ${r.ours_s.toFixed(3)} | ${r.ours_gflops.toFixed(2)} | ` +
              `${r.mlmatrix_s.toFixed(3)} | ${r.mlmatrix_gflops.toFixed(2)} | ${r.speedup.toFixed(1)}× |`);
}
