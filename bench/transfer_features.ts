/**
 * One process of the `transfer` suite's feature extraction: CIFAR-10 images
 * (a slice of a split's per-class subset) through MobileNetV2, written as
 * float32 rows to `--out`. Prints a JSON line {rows, d, seconds, labels}.
 *   tsx bench/transfer_features.ts --split train|test --per-class N --size S --layer L
 *       --range unit|signed --part i --parts P --out FILE
 */
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {loadCifar10} from '../src/node/cifar';
import {extractFeatures, loadMobileNetV2} from './backbone';
import {cifarDir} from './cifar_dir';

const arg = (name: string, dflt?: string) => {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0 && dflt == null) throw new Error(`--${name} is required`);
  return i < 0 ? dflt! : process.argv[i + 1];
};

/** The first `perClass` rows of each class, in file order (the same rows for every run). */
export function perClassRows(labels: Uint8Array, perClass: number, classes = 10): number[] {
  const taken = new Array(classes).fill(0), rows: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    if (taken[labels[i]] < perClass) {
      taken[labels[i]]++;
      rows.push(i);
    }
  }
  return rows;
}

async function main() {
  const split = arg('split'), perClass = Number(arg('per-class')), size = Number(arg('size'));
  const layer = arg('layer', 'flatten_1'), range = arg('range', 'unit');
  const part = Number(arg('part', '0')), parts = Number(arg('parts', '1')), out = arg('out');
  await tf.setBackend('wasm');
  const data = loadCifar10(cifarDir());
  const set = split === 'train' ? data.train : data.test;
  const rows = perClassRows(set.labels, perClass);
  const mine = rows.filter((_, i) => i % parts === part);
  const images = new Float32Array(mine.length * 3072);
  mine.forEach((r, i) => {
    const src = set.x.subarray(r * 3072, (r + 1) * 3072);
    if (range === 'signed') for (let j = 0; j < 3072; j++) images[i * 3072 + j] = 2 * src[j] - 1;
    else images.set(src, i * 3072);
  });
  const backbone = await loadMobileNetV2({size, layer});
  const t0 = Date.now();
  const f = extractFeatures(backbone, images, mine.length, [32, 32, 3]);
  const seconds = (Date.now() - t0) / 1000;
  fs.writeFileSync(out, Buffer.from(f.buffer, f.byteOffset, f.byteLength));
  backbone.dispose();
  console.log(JSON.stringify({rows: mine.length, d: f.length / Math.max(mine.length, 1), seconds,
                              labels: mine.map(r => set.labels[r])}));
}

if (require.main === module) {
  main().catch(e => {
    console.error(e);
    process.exit(1);
  });
}
