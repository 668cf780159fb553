// Node only (file system): the data loaders, on small files made here.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import {balancedSubset, holdOut, LabelledImages, loadFashionMnist} from '../src/node/datasets';
import {loadCifar10, parseCifarRecords} from '../src/node/cifar';
import {loadIdxDataset, loadIdxPair} from '../src/node/datasets';
import {parseIdx} from '../src/node/idx';
import {parseArch, parseConvArch} from '../src/node/models';
import {parseCli} from '../src/node/cli';

function idx(dims: number[], data: number[]): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data)]);
}

function cifarRecord(label: number, r: number, g: number, b: number): Buffer {
  const rec = Buffer.alloc(3073);
  rec[0] = label;
  rec.fill(r, 1, 1025);
  rec.fill(g, 1025, 2049);
  rec.fill(b, 2049, 3073);
  return rec;
}

describe('data loaders (Node)', () => {
  let dir: string;
  beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-er-data-')); });
  afterAll(() => fs.rmSync(dir, {recursive: true, force: true}));

  it('parses IDX images and labels and scales pixels to [0, 1]', () => {
    fs.writeFileSync(path.join(dir, 'imgs'), idx([2, 2, 2], [0, 255, 51, 102, 1, 2, 3, 4]));
    fs.writeFileSync(path.join(dir, 'labs.gz'), zlib.gzipSync(idx([2], [7, 3])));
    const set = loadIdxPair(path.join(dir, 'imgs'), path.join(dir, 'labs.gz'));
    expect(set.count).toBe(2);
    expect(set.features).toBe(4);
    expect(Array.from(set.labels)).toEqual([7, 3]);
    expect(set.x[1]).toBe(1);
    expect(set.x[2]).toBeCloseTo(0.2, 6);
  });

  it('rejects bad magic numbers, truncated files and mismatched counts, naming the file', () => {
    expect(() => parseIdx(Buffer.from([1, 2, 8, 1, 0, 0, 0, 1, 5]), 'x.idx')).toThrowError(/x.idx: bad magic number/);
    expect(() => parseIdx(idx([3], [1, 2]), 'short.idx')).toThrowError(/short.idx: header says 3 bytes.*truncated/);
    expect(() => parseIdx(Buffer.from([0, 0, 0x0d, 1, 0, 0, 0, 0]), 'f.idx')).toThrowError(/not unsigned byte/);
    fs.writeFileSync(path.join(dir, 'i3'), idx([3, 1, 1], [1, 2, 3]));
    fs.writeFileSync(path.join(dir, 'l2'), idx([2], [0, 1]));
    expect(() => loadIdxPair(path.join(dir, 'i3'), path.join(dir, 'l2'))).toThrowError(/3 images but .*l2 has 2 labels/);
    fs.writeFileSync(path.join(dir, 'l3'), idx([3], [0, 1, 12]));
    expect(() => loadIdxPair(path.join(dir, 'i3'), path.join(dir, 'l3'))).toThrowError(/label 12 at index 2/);
    expect(() => loadIdxDataset('mnist', path.join(dir, 'nowhere'))).toThrowError(/missing train-images-idx3-ubyte/);
  });

  it('parses CIFAR-10 binary records (plain and .gz) channels-last, and validates them', () => {
    const sub = path.join(dir, 'cifar', 'cifar-10-batches-bin');
    fs.mkdirSync(sub, {recursive: true});
    for (let i = 1; i <= 5; i++) {
      fs.writeFileSync(path.join(sub, `data_batch_${i}.bin`), Buffer.concat([cifarRecord(i, 255, 0, 51), cifarRecord(0, 0, 0, 0)]));
    }
    fs.writeFileSync(path.join(sub, 'test_batch.bin.gz'), zlib.gzipSync(cifarRecord(9, 0, 255, 0)));
    const data = loadCifar10(path.join(dir, 'cifar'));
    expect(data.train.count).toBe(10);
    expect(data.train.imageShape).toEqual([32, 32, 3]);
    expect(Array.from(data.train.labels.slice(0, 4))).toEqual([1, 0, 2, 0]);
    expect(Array.from(data.train.x.slice(0, 3)).map(v => +v.toFixed(3))).toEqual([1, 0, 0.2]);
    expect(data.test.labels[0]).toBe(9);
    expect(data.test.x[1]).toBe(1);
    expect(() => parseCifarRecords([{name: 'cut.bin', data: new Uint8Array(3000)}]))
        .toThrowError(/cut.bin: 3000 bytes is not a whole number of CIFAR-10 records/);
    const bad = cifarRecord(11, 0, 0, 0);
    expect(() => parseCifarRecords([{name: 'b.bin', data: bad}])).toThrowError(/record 0 has label 11/);
    expect(() => loadCifar10(path.join(dir, 'nothing'))).toThrowError(/cifar-10-binary.tar.gz/);
  });

  it('takes seeded class-balanced subsets', () => {
    const n = 100;
    const set = {x: Float32Array.from({length: n}, (_, i) => i), labels: Uint8Array.from({length: n}, (_, i) => i % 4),
                 count: n, features: 1, imageShape: [1, 1, 1] as [number, number, number], classes: 4};
    const a = balancedSubset(set, 10, 1), b = balancedSubset(set, 10, 1), c = balancedSubset(set, 10, 2);
    const counts = [0, 0, 0, 0];
    a.labels.forEach(l => counts[l]++);
    expect(counts).toEqual([3, 3, 2, 2]);
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    expect(a.count).toBe(10);
    expect(Array.from(a.x)).toEqual(Array.from(b.x));
    expect(Array.from(c.x)).not.toEqual(Array.from(a.x));  // another seed, other rows
    a.x.forEach((v, i) => expect(a.labels[i]).toBe(v % 4));
  });

  it('parses the CLI and the architecture, with clear errors', () => {
    const {options, json} = parseCli(['train', '--dataset', 'mnist', '--mode', 'erls', '--epochs', '3',
                                      '--batch-size', '64', '--backend', 'cpu', '--json', '--threads', '2',
                                      '--compare', 'adam', '--forward-cache-mb', '0']);
    expect(json).toBeTrue();
    expect(options).toEqual(jasmine.objectContaining({dataset: 'mnist', mode: 'erls', epochs: 3, batchSize: 64,
                                                      backend: 'cpu', threads: 2, seed: 0, compareAdam: true,
                                                      forwardCacheMB: 0}));
    expect(parseCli(['train']).options.forwardCacheMB).toBeUndefined();
    expect(parseArch('784-1000-10', 784, 10)).toEqual([784, 1000, 10]);
    expect(() => parseArch('784-100', 3072, 10)).toThrowError(/needs 3072 inputs and 10 outputs/);
    expect(() => parseArch('784-x-10', 784, 10)).toThrowError(/expected sizes joined by '-'/);
  });

  it('loads Fashion-MNIST from the fashion-mnist package: 60,000 / 10,000 rows, labels 0…9, pixels in [0, 1]', () => {
    const {train, test} = loadFashionMnist();
    expect([train.count, test.count]).toEqual([60000, 10000]);
    expect(train.x.length).toBe(60000 * 784);
    const counts = new Array(10).fill(0);
    for (const l of train.labels) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(6000));
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < test.x.length; i += 97) { lo = Math.min(lo, test.x[i]); hi = Math.max(hi, test.x[i]); }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    expect(hi).toBeGreaterThan(0.5);
  });

  it('holdOut splits off a class-balanced held-out set disjoint from the rest; parseConvArch reads convnets', () => {
    const n = 40;
    const x = new Float32Array(n * 2).map((_, i) => i);
    const labels = Uint8Array.from({length: n}, (_, i) => i % 4);
    const set: LabelledImages = {x, labels, count: n, features: 2, imageShape: [1, 2, 1], classes: 4};
    const {rest, held} = holdOut(set, 8, 3);
    expect([rest.count, held.count]).toEqual([32, 8]);
    expect(Array.from(held.labels).sort()).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
    const ids = (s: LabelledImages) => Array.from({length: s.count}, (_, r) => s.x[2 * r] / 2);
    const all = new Set([...ids(rest), ...ids(held)]);
    expect(all.size).toBe(40);
    expect(() => holdOut(set, 40)).toThrowError(/cannot hold out 40 of 40 rows/);
    expect(parseConvArch('3072-c32-p2-c64k5-a4-128-10', 3072, 10)).toEqual([
      {kind: 'conv', filters: 32, kernel: 3}, {kind: 'pool', size: 2, avg: false},
      {kind: 'conv', filters: 64, kernel: 5}, {kind: 'pool', size: 4, avg: true},
      {kind: 'dense', units: 128}, {kind: 'dense', units: 10}]);
    expect(parseConvArch('784-1000-10', 784, 10)).toBeNull();
    expect(() => parseConvArch('3072-c32-x2-10', 3072, 10)).toThrowError(/cannot read 'x2'/);
    expect(() => parseConvArch('3072-c32-p2-12', 3072, 10)).toThrowError(/must end with the 10 output units/);
  });
});
