/**
 * CIFAR-10 in its official binary layout: `cifar-10-batches-bin/` with
 * `data_batch_1..5.bin` and `test_batch.bin` (each optionally `.gz`), records
 * of 1 label byte + 1024 R + 1024 G + 1024 B bytes (32×32, row-major).
 * Get it from the official binary release (`cifar-10-binary.tar.gz`,
 * https://www.cs.toronto.edu/~kriz/cifar.html) and extract it into DIR.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import type {DatasetSplits, LabelledImages} from './datasets';

const RECORD = 1 + 3 * 1024;

/** Parses CIFAR-10 binary records into channels-last [N, 32, 32, 3] rows scaled to [0, 1]. */
export function parseCifarRecords(buffers: Array<{name: string, data: Uint8Array}>): LabelledImages {
  let count = 0;
  for (const {name, data} of buffers) {
    if (data.length === 0 || data.length % RECORD !== 0) {
      throw new Error(`${name}: ${data.length} bytes is not a whole number of CIFAR-10 ` +
                      `records (${RECORD} bytes each); the file is truncated or not CIFAR-10 binary`);
    }
    count += data.length / RECORD;
  }
  const x = new Float32Array(count * 3072);
  const labels = new Uint8Array(count);
  let row = 0;
  for (const {name, data} of buffers) {
    for (let r = 0; r < data.length / RECORD; r++, row++) {
      const o = r * RECORD;
      const label = data[o];
      if (label > 9) throw new Error(`${name}: record ${r} has label ${label}, not 0…9`);
      labels[row] = label;
      const out = row * 3072;
      for (let p = 0; p < 1024; p++) {
        x[out + 3 * p] = data[o + 1 + p] / 255;
        x[out + 3 * p + 1] = data[o + 1025 + p] / 255;
        x[out + 3 * p + 2] = data[o + 2049 + p] / 255;
      }
    }
  }
  return {x, labels, count, features: 3072, imageShape: [32, 32, 3], classes: 10};
}

function readBatch(dir: string, base: string): {name: string, data: Uint8Array} {
  const plain = path.join(dir, base);
  if (fs.existsSync(plain)) return {name: plain, data: fs.readFileSync(plain)};
  const gz = plain + '.gz';
  if (fs.existsSync(gz)) return {name: gz, data: zlib.gunzipSync(fs.readFileSync(gz))};
  throw new Error(`missing ${base} (or ${base}.gz) in ${dir}: extract the official binary release ` +
                  `(cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html) into DIR ` +
                  `and pass --data-dir DIR`);
}

/** Loads CIFAR-10 from `dir` (the folder holding `cifar-10-batches-bin/`, or that folder). */
export function loadCifar10(dir: string): DatasetSplits {
  const sub = path.join(dir, 'cifar-10-batches-bin');
  const root = fs.existsSync(sub) ? sub : dir;
  const train = [1, 2, 3, 4, 5].map(i => readBatch(root, `data_batch_${i}.bin`));
  return {name: 'cifar10', train: parseCifarRecords(train),
          test: parseCifarRecords([readBatch(root, 'test_batch.bin')])};
}
