/**
 * A 2-D convolution as ER sees it: a linear map on image patches. Its field at
 * each output position is `patch · W + b`, with `W` the kernel reshaped to
 * (kh·kw·cin) × filters, so its ER solve is a ridge regression of the
 * reflected field on the patch matrix (one row per image and position), and
 * its pre-image maps patch-wise input changes back onto the image, averaging
 * where patches overlap.
 *
 * Patches are gathered by a convolution with an identity kernel when the
 * input has few channels (≤ 8, where it is faster than slicing), else with
 * strided slices, one per kernel offset (the identity convolution costs
 * (kh·kw·cin)² multiply-adds per position). Layout is channels-last (NHWC),
 * dilation 1.
 */
import * as tf from '@tensorflow/tfjs-core';
import {ERInputError} from './errors';
import {sliceWindow} from './window';

/** Inputs with at most this many channels are cut into patches by an identity convolution. */
const IDENTITY_CONV_MAX_CHANNELS = 8;

/** Kernel size, strides and padding of a convolution or pooling window. */
export interface ConvGeometry {
  kernelSize: [number, number];
  strides: [number, number];
  padding: 'same'|'valid';
}

/** Output size and the padding before/after along one axis (TensorFlow's SAME/VALID rules). */
function axis(size: number, k: number, s: number, padding: 'same'|'valid'): {out: number, before: number, after: number} {
  if (padding === 'valid') {
    const out = Math.floor((size - k) / s) + 1;
    return {out, before: 0, after: 0};
  }
  const out = Math.ceil(size / s);
  const total = Math.max(0, (out - 1) * s + k - size);
  const before = Math.floor(total / 2);
  return {out, before, after: total - before};
}

/** The output height and width, and the padding, of `g` applied to an H×W input. */
export function convOutput(height: number, width: number, g: ConvGeometry):
    {height: number, width: number, pad: [[number, number], [number, number]]} {
  const r = axis(height, g.kernelSize[0], g.strides[0], g.padding);
  const c = axis(width, g.kernelSize[1], g.strides[1], g.padding);
  if (r.out < 1 || c.out < 1) {
    throw new ERInputError(
        `a ${g.kernelSize.join('×')} window with '${g.padding}' padding does not fit a ` +
        `${height}×${width} input; use 'same' padding or a smaller kernel`);
  }
  return {height: r.out, width: c.out, pad: [[r.before, r.after], [c.before, c.after]]};
}

/**
 * The patches of `x` `[n, H, W, c]`: `[n, H', W', kh·kw·c]`, ordered (row offset,
 * column offset, channel) — the order of a conv kernel `[kh, kw, c, f]`
 * reshaped to (kh·kw·c) × f.
 */
export function extractPatches(x: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, height, width, c] = x.shape;
    const {height: ho, width: wo, pad} = convOutput(height, width, g);
    const [kh0, kw0] = g.kernelSize;
    if (c <= IDENTITY_CONV_MAX_CHANNELS) {
      const p = kh0 * kw0 * c;
      const eye = tf.reshape(tf.eye(p), [kh0, kw0, c, p]) as tf.Tensor4D;
      return tf.conv2d(x, eye, g.strides, g.padding);
    }
    const padded = pad.some(p => p[0] || p[1]) ? tf.pad(x, [[0, 0], pad[0], pad[1], [0, 0]]) : x;
    const [kh, kw] = g.kernelSize, [sh, sw] = g.strides;
    const pieces: tf.Tensor4D[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        pieces.push(sh === 1 && sw === 1 ?
            sliceWindow(padded, [0, i, j, 0], [n, ho, wo, c]) :
            tf.stridedSlice(padded, [0, i, j, 0], [n, i + (ho - 1) * sh + 1, j + (wo - 1) * sw + 1, c],
                            [1, sh, sw, 1]) as tf.Tensor4D);
      }
    }
    return pieces.length === 1 ? tf.clone(pieces[0]) : tf.concat(pieces, 3);
  });
}

/**
 * The patches of `x` [n, H, W, c] as regression rows [n·H'·W', c·kh·kw],
 * ordered (channel, row offset, column offset): one depthwise convolution
 * with one-hot kernels ({@link patchKernel}; kh·kw multiply-adds per value;
 * faster than offset slices and a concat, or an identity convolution, which
 * costs (kh·kw·c)² per position). The kernel rows of the regression follow
 * the same order (see `units.ts`, `kernelMatrix`).
 */
export function patchRows(x: tf.Tensor4D, g: ConvGeometry, kernel?: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    const c = x.shape[3], k = g.kernelSize[0] * g.kernelSize[1];
    convOutput(x.shape[1], x.shape[2], g);  // checks that the window fits
    const oneHot = kernel ?? patchKernel(g, c);
    return tf.reshape(tf.depthwiseConv2d(x, oneHot, g.strides, g.padding), [-1, c * k]) as tf.Tensor2D;
  });
}

/**
 * The one-hot depthwise kernel [kh, kw, c, kh·kw] that {@link patchRows} cuts
 * patches with; pass it in when cutting many blocks of one layer's input.
 */
export function patchKernel(g: ConvGeometry, channels: number): tf.Tensor4D {
  const [kh, kw] = g.kernelSize, k = kh * kw;
  return tf.tidy(() => tf.tile(tf.reshape(tf.eye(k), [kh, kw, 1, k]), [1, 1, channels, 1]) as tf.Tensor4D);
}

/** Places one kernel offset's values [n, H', W', c] back on the padded input grid. */
function scatterOffset(piece: tf.Tensor4D, i: number, j: number, g: ConvGeometry,
                       paddedH: number, paddedW: number): tf.Tensor4D {
  const [n, ho, wo, c] = piece.shape;
  const [sh, sw] = g.strides;
  let spread = piece;
  // Insert stride−1 zeros after every row, then every column (rank ≤ 4 only:
  // webgl cannot pad 6-D tensors): [n, H'·sh, W'·sw, c].
  if (sh > 1) {
    const rows = tf.pad(tf.reshape(spread, [n, ho, 1, wo * c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0]]);
    spread = tf.reshape(rows, [n, ho * sh, wo, c]);
  }
  if (sw > 1) {
    const h = spread.shape[1];
    const cols = tf.pad(tf.reshape(spread, [n * h, wo, 1, c]), [[0, 0], [0, 0], [0, sw - 1], [0, 0]]);
    spread = tf.reshape(cols, [n, h, wo * sw, c]);
  }
  const h = Math.min(spread.shape[1], paddedH - i), w = Math.min(spread.shape[2], paddedW - j);
  const cut = sliceWindow(spread, [0, 0, 0, 0], [n, h, w, c]);
  return tf.pad(cut, [[0, 0], [i, paddedH - i - h], [j, paddedW - j - w], [0, 0]]);
}

/**
 * Folds per-offset values back onto the image: `piece(o)` gives kernel
 * offset o's values [n, H', W', c]; each input pixel gets the mean over the
 * patches covering it (pixels no patch covers get 0). Returns [n, H, W, c].
 */
export function foldOffsets(piece: (offset: number) => tf.Tensor4D, n: number,
                            inputShape: [number, number, number], g: ConvGeometry): tf.Tensor4D {
  return tf.tidy(() => {
    const [height, width, c] = inputShape;
    const {height: ho, width: wo, pad} = convOutput(height, width, g);
    const [kh, kw] = g.kernelSize;
    const ph = height + pad[0][0] + pad[0][1], pw = width + pad[1][0] + pad[1][1];
    const ones = tf.ones([1, ho, wo, 1]) as tf.Tensor4D;
    let sum: tf.Tensor4D|null = null, count: tf.Tensor4D|null = null;
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const v = piece(i * kw + j);
        if (v.shape[0] !== n || v.shape[1] !== ho || v.shape[2] !== wo || v.shape[3] !== c) {
          throw new ERInputError(`foldOffsets: offset values of shape [${v.shape}], expected [${n}, ${ho}, ${wo}, ${c}]`);
        }
        const s = scatterOffset(v, i, j, g, ph, pw);
        const k = scatterOffset(ones, i, j, g, ph, pw);
        sum = sum ? tf.add(sum, s) as tf.Tensor4D : s;
        count = count ? tf.add(count, k) as tf.Tensor4D : k;
      }
    }
    // 1/count on the small [1, H, W, 1] grid (0 where no patch covers): a broadcast divNoNan
    // is much slower on wasm (its Equal kernel broadcasts slowly)
    const inv = tf.where(tf.greater(count!, 0), tf.reciprocal(tf.maximum(count!, 1)), tf.zerosLike(count!));
    const mean = tf.mul(sum!, inv) as tf.Tensor4D;
    return sliceWindow(mean, [0, pad[0][0], pad[1][0], 0], [n, height, width, c]);
  });
}

/**
 * The fold of patch-wise changes `(R·M)` for a stride-1 convolution, as one
 * forward convolution: `Σ_o shift_o(R · M_o)` is the full correlation of the
 * residual `R` [n, H', W', f] with the flipped kernel `M_o` ([f, c] per
 * offset o), so it runs at the backend's conv speed (rather than a product,
 * a pad and an add per offset); then each pixel is divided by
 * the number of patches covering it. `M` is [f, c·kh·kw], columns ordered
 * (channel, offset) as in `patchRows`. Returns [n, H, W, c].
 */
export function foldStride1(residual: tf.Tensor4D, M: tf.Tensor2D, inputShape: [number, number, number],
                            g: ConvGeometry): tf.Tensor4D {
  if (g.strides[0] !== 1 || g.strides[1] !== 1) throw new Error('foldStride1 needs strides [1, 1]');
  return tf.tidy(() => {
    const [height, width, c] = inputShape;
    const [kh, kw] = g.kernelSize, f = residual.shape[3];
    const {height: ho, width: wo, pad} = convOutput(height, width, g);
    // K'[a, b, f, c] = M_(kh−1−a, kw−1−b)[f, c]
    const flipped = tf.reverse(tf.transpose(tf.reshape(M, [f, c, kh, kw]), [2, 3, 0, 1]), [0, 1]) as tf.Tensor4D;
    const top = kh - 1 - pad[0][0], left = kw - 1 - pad[1][0];
    const rp = tf.pad(residual, [[0, 0], [top, height + kh - 1 - top - ho], [left, width + kw - 1 - left - wo], [0, 0]]);
    const sum = tf.conv2d(rp as tf.Tensor4D, flipped, 1, 'valid');
    return tf.mul(sum, coverage(height, width, g)) as tf.Tensor4D;
  });
}

/** 1 / (number of patches covering each pixel), 0 where none do: [1, H, W, 1]. */
function coverage(height: number, width: number, g: ConvGeometry): tf.Tensor4D {
  return tf.tidy(() => {
    const {height: ho, width: wo, pad} = convOutput(height, width, g);
    const [kh, kw] = g.kernelSize;
    const ph = height + pad[0][0] + pad[0][1], pw = width + pad[1][0] + pad[1][1];
    const ones = tf.ones([1, ho, wo, 1]) as tf.Tensor4D;
    let count: tf.Tensor4D|null = null;
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const k = scatterOffset(ones, i, j, g, ph, pw);
        count = count ? tf.add(count, k) as tf.Tensor4D : k;
      }
    }
    const inner = sliceWindow(count!, [0, pad[0][0], pad[1][0], 0], [1, height, width, 1]);
    return tf.where(tf.greater(inner, 0), tf.reciprocal(tf.maximum(inner, 1)), tf.zerosLike(inner)) as tf.Tensor4D;
  });
}

/**
 * The inverse of {@link extractPatches} for changes: each input pixel gets
 * the mean of the changes the patches covering it propose (pixels no patch
 * covers get 0). `patches` is [n, H', W', kh·kw·c]; returns [n, H, W, c].
 */
export function foldPatches(patches: tf.Tensor4D, inputShape: [number, number, number], g: ConvGeometry):
    tf.Tensor4D {
  const [n, ho, wo, p] = patches.shape;
  const [kh, kw] = g.kernelSize, c = inputShape[2];
  if (p !== kh * kw * c) {
    throw new ERInputError(
        `foldPatches: patches of shape [${patches.shape}] do not match a ${kh}×${kw} window on [${inputShape}]`);
  }
  return foldOffsets(o => sliceWindow(patches, [0, 0, 0, o * c], [n, ho, wo, c]), n, inputShape, g);
}

/** The convolution's local field `conv(x, W) + b`, as the tfjs layer computes it. */
export function convField(x: tf.Tensor4D, kernel: tf.Tensor4D, bias: tf.Tensor1D|null, g: ConvGeometry):
    tf.Tensor4D {
  return tf.tidy(() => {
    const h = tf.conv2d(x, kernel, g.strides, g.padding);
    return bias ? tf.add(h, bias) : h;
  });
}

/**
 * How a pooling layer passes a target down: the change wanted at each
 * pooled output goes to the input(s) that produced it.
 * - max: the whole change goes to the window's arg-max; other inputs keep
 *   their value. With non-overlapping windows ('valid', strides = pool
 *   size) every input that attains the maximum moves (ties, e.g. all-zero
 *   ReLU windows, move together, so the window max moves by the change);
 *   otherwise tfjs's arg-max is used, and an input that is the arg-max of
 *   several windows gets the mean of their changes.
 * - avg: every input of the window moves by the window's change, so the
 *   window mean moves by exactly that (inputs in several windows get the
 *   weighted mean of their changes).
 * Returns the target of the pooling input, `x + routed change`.
 */
export function poolPreimage(kind: 'max'|'avg', x: tf.Tensor4D, outTarget: tf.Tensor4D, g: ConvGeometry):
    tf.Tensor4D {
  return tf.tidy(() => {
    const pool = (t: tf.Tensor4D) => kind === 'max' ? tf.maxPool(t, g.kernelSize, g.strides, g.padding) :
                                                      tf.avgPool(t, g.kernelSize, g.strides, g.padding);
    const out = pool(x);
    const change = tf.sub(outTarget, out) as tf.Tensor4D;
    const [kh, kw] = g.kernelSize;
    if (g.padding === 'valid' && g.strides[0] === kh && g.strides[1] === kw) {
      // Non-overlapping windows: each input belongs to one window at most.
      const [, height, width] = x.shape;
      const up = (t: tf.Tensor4D) => {
        const [, ho, wo] = t.shape;
        // nearest-neighbour resizing by exact integer factors repeats each value kh×kw times
        const tiled = tf.image.resizeNearestNeighbor(t, [ho * kh, wo * kw]);
        // rows/columns past the last full window belong to none
        if (height === ho * kh && width === wo * kw) return tiled as tf.Tensor4D;
        return tf.pad(tiled, [[0, 0], [0, height - ho * kh], [0, width - wo * kw], [0, 0]]) as tf.Tensor4D;
      };
      const moved = up(change);
      if (kind === 'avg') return tf.add(x, moved) as tf.Tensor4D;
      // max: every input that attains its window's maximum moves (then the max moves by the change).
      // The window max is never below an input, so 1 − step(max − x) is 1 exactly at the maxima
      // (arithmetic: faster on wasm than equal/logicalAnd/where).
      const atMax = tf.sub(1, tf.step(tf.sub(up(out), x)));
      return tf.add(x, tf.mul(moved, atMax)) as tf.Tensor4D;
    }
    // General windows: ∂/∂x of Σ pool(x)·v spreads v over each window by the
    // pooling's own rule (arg-max for max, 1/window for avg); dividing by the
    // spread of ones turns it into the (weighted) mean change per input.
    const spread = (v: tf.Tensor4D) => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(pool(t as tf.Tensor4D), v)))(x);
    const moved = spread(change), weight = spread(tf.onesLike(change) as tf.Tensor4D);
    return tf.add(x, tf.divNoNan(moved, weight)) as tf.Tensor4D;
  });
}
