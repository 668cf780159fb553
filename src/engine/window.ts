/**
 * Slices and row gathers that cost their output, not their source. On the
 * wasm backend `slice` first copies the whole source out of the heap
 * (`readSync`) and `gather` indexes element by element (about 17M values/s
 * here), so cutting a batch of rows out of a training set, or one offset out
 * of a batch of patches, costs far more than the copy itself
 * (docs/performance.md). On wasm, two small kernels copy contiguous runs
 * inside the heap; other backends use `tf.slice` and `tf.gather`.
 */
import * as tf from '@tensorflow/tfjs-core';

const SLICE_KERNEL = 'TfjsErSliceWindow';
const GATHER_KERNEL = 'TfjsErGatherRows';

/** The wasm backend's heap accessors these kernels use (the ones its own Slice kernel uses). */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array|Int32Array|Uint8Array;
}

/** Runs shorter than this are copied element by element (cheaper than a subarray and a set). */
const SHORT_RUN = 16;

function copyRun(dst: Float32Array|Int32Array|Uint8Array, at: number, src: Float32Array|Int32Array|Uint8Array,
                 from: number, len: number): void {
  if (len < SHORT_RUN) {
    for (let i = 0; i < len; i++) dst[at + i] = src[from + i];
  } else {
    dst.set(src.subarray(from, from + len), at);
  }
}

function sliceKernel({inputs, attrs, backend}: {inputs: tf.NamedTensorInfoMap, attrs?: tf.NamedAttrMap,
                                                   backend: unknown}): tf.TensorInfo {
  const x = inputs.x as tf.TensorInfo;
  const begin = attrs!.begin as number[], size = attrs!.size as number[];
  const heap = backend as WasmHeapBackend;
  const out = heap.makeOutput(size, x.dtype);
  // Views taken after the allocation: it may grow (and move) the heap.
  const src = heap.typedArrayFromHeap(x), dst = heap.typedArrayFromHeap(out);
  const shape = x.shape, rank = shape.length;
  const strides = new Array<number>(rank);
  strides[rank - 1] = 1;
  for (let a = rank - 2; a >= 0; a--) strides[a] = strides[a + 1] * shape[a + 1];
  // The innermost axis q below which the window spans whole axes: each run is contiguous.
  let q = rank - 1;
  while (q > 0 && begin[q] === 0 && size[q] === shape[q]) q--;
  const run = size[q] * strides[q];
  const index = new Array<number>(q).fill(0);
  let base = begin[q] * strides[q];
  for (let a = 0; a < q; a++) base += begin[a] * strides[a];
  const runs = dst.length / run;
  for (let r = 0, from = base; r < runs; r++) {
    copyRun(dst, r * run, src, from, run);
    // Next outer index (an odometer over axes q−1 … 0).
    for (let a = q - 1; a >= 0; a--) {
      if (++index[a] < size[a]) {
        from += strides[a];
        break;
      }
      index[a] = 0;
      from -= (size[a] - 1) * strides[a];
    }
  }
  return out;
}

function gatherKernel({inputs, backend}: {inputs: tf.NamedTensorInfoMap, backend: unknown}): tf.TensorInfo {
  const x = inputs.x as tf.TensorInfo, indices = inputs.indices as tf.TensorInfo;
  const heap = backend as WasmHeapBackend;
  const out = heap.makeOutput([indices.shape[0], ...x.shape.slice(1)], x.dtype);
  const src = heap.typedArrayFromHeap(x), dst = heap.typedArrayFromHeap(out);
  const idx = heap.typedArrayFromHeap(indices) as Int32Array;
  const row = x.shape.slice(1).reduce((p, s) => p * s, 1);
  for (let i = 0; i < idx.length; i++) copyRun(dst, i * row, src, idx[i] * row, row);
  return out;
}

let registered = false;

function registerKernels(): void {
  if (registered) return;
  registered = true;
  if (tf.getKernel(SLICE_KERNEL, 'wasm') == null) {
    tf.registerKernel({kernelName: SLICE_KERNEL, backendName: 'wasm', kernelFunc: sliceKernel as tf.KernelFunc});
  }
  if (tf.getKernel(GATHER_KERNEL, 'wasm') == null) {
    tf.registerKernel({kernelName: GATHER_KERNEL, backendName: 'wasm', kernelFunc: gatherKernel as tf.KernelFunc});
  }
}

/** Whether the heap kernels serve x on the active backend. */
function onHeap(x: tf.Tensor): boolean {
  return tf.getBackend() === 'wasm' && (x.dtype === 'float32' || x.dtype === 'int32' || x.dtype === 'bool');
}

/**
 * `tf.slice(x, begin, size)` with every axis given (a size of −1 runs to the
 * end of its axis).
 */
export function sliceWindow<T extends tf.Tensor>(x: T, begin: number[], size: number[]): T {
  const shape = x.shape;
  if (begin.length !== shape.length || size.length !== shape.length) {
    throw new Error(`sliceWindow: begin [${begin}] and size [${size}] must have one entry per axis of [${shape}]`);
  }
  const sz = size.map((s, a) => (s === -1 ? shape[a] - begin[a] : s));
  sz.forEach((s, a) => {
    if (!(Number.isInteger(begin[a]) && Number.isInteger(s) && begin[a] >= 0 && s >= 0 && begin[a] + s <= shape[a])) {
      throw new Error(`sliceWindow: axis ${a}: [${begin[a]}, ${begin[a] + s}) is outside [0, ${shape[a]}) of a ` +
                      `tensor of shape [${shape}]`);
    }
  });
  if (!onHeap(x) || x.rank === 0 || sz.some(s => s === 0)) return tf.slice(x, begin, sz);
  registerKernels();
  return tf.engine().runKernel(SLICE_KERNEL, {x}, {begin, size: sz}) as T;
}

/** Rows `[start, start + size)` of `x` (any rank ≥ 1), as a new tensor. */
export function rowRange<T extends tf.Tensor>(x: T, start: number, size: number): T {
  return sliceWindow(x, [start, ...x.shape.slice(1).map(() => 0)], [size, ...x.shape.slice(1)]);
}

/** The block `[row, row + rows) × [col, col + cols)` of the matrix `x`, as a new tensor. */
export function subMatrix(x: tf.Tensor2D, row: number, col: number, rows: number, cols: number): tf.Tensor2D {
  return sliceWindow(x, [row, col], [rows, cols]);
}

/** `tf.gather(x, indices, 0)`: the rows of `x` (any rank ≥ 1) at the int32 `indices` (rank 1), in order. */
export function gatherRows<T extends tf.Tensor>(x: T, indices: tf.Tensor1D): T {
  if (indices.rank !== 1 || indices.dtype !== 'int32') {
    throw new Error(`gatherRows: indices must be a rank-1 int32 tensor, got rank ${indices.rank} ${indices.dtype}`);
  }
  const n = x.shape[0];
  const idx = indices.dataSync();
  for (let i = 0; i < idx.length; i++) {
    if (!(idx[i] >= 0 && idx[i] < n)) {
      throw new Error(`gatherRows: index ${idx[i]} (at ${i}) is outside [0, ${n}) rows`);
    }
  }
  if (!onHeap(x) || indices.size === 0) return tf.gather(x, indices, 0);
  registerKernels();
  return tf.engine().runKernel(GATHER_KERNEL, {x, indices}) as T;
}
