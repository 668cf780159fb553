/**
 * A network of dense, convolution, pooling and flatten units as the engine
 * sees it (plain tensors, no tfjs-layers): what the ER sweep of a convnet
 * walks. Dense-only chains use the leaner `network.ts`.
 */
import * as tf from '@tensorflow/tfjs-core';
import {activate, ERActivation} from './activations';
import {ConvGeometry, convField, convOutput, extractPatches, foldOffsets, poolPreimage} from './conv';
import {ERInputError} from './errors';
import {field} from './network';
import {preimage} from './preimage';

/** A unit whose weights ER solves: dense (`a·W + b`) or 2-D convolution (on NHWC images). */
export interface SolvedUnit {
  kind: 'dense'|'conv2d';
  /** Names the layer in errors and reports. */
  name: string;
  /** [inputs, units] (dense) or [kh, kw, cin, filters] (conv2d). Owned by the caller. */
  kernel: tf.Tensor;
  bias: tf.Tensor1D|null;
  activation: ERActivation;
  /** False keeps the weights (targets still pass through). */
  trainable: boolean;
  /** conv2d only: strides and padding (kernel size comes from the kernel). */
  geometry?: ConvGeometry;
}

/** A unit without weights that targets pass through. */
export interface PassUnit {
  kind: 'maxPool'|'avgPool'|'flatten';
  name: string;
  /** Pooling window. */
  geometry?: ConvGeometry;
}

export type NetworkUnit = SolvedUnit|PassUnit;

/** New weights for a solved unit (same shapes as the unit's). */
export interface UnitWeights {
  kernel: tf.Tensor;
  bias: tf.Tensor1D|null;
}

export function isSolved(u: NetworkUnit): u is SolvedUnit {
  return u.kind === 'dense' || u.kind === 'conv2d';
}

/** Width of the regression rows of a solved unit (kh·kw·cin for a convolution). */
export function rowWidth(u: SolvedUnit): number {
  const s = u.kernel.shape as number[];
  return u.kind === 'dense' ? s[0]! : s[0]! * s[1]! * s[2]!;
}

/** Number of output units (dense) or filters (conv2d). */
export function unitWidth(u: SolvedUnit): number {
  return u.kernel.shape[u.kernel.rank - 1]!;
}

/** The kernel as the 2-D regression matrix (rows × units). */
export function kernelMatrix(u: SolvedUnit, kernel: tf.Tensor = u.kernel): tf.Tensor2D {
  return tf.reshape(kernel, [rowWidth(u), unitWidth(u)]);
}

/** The full geometry of a conv unit (kernel size from its kernel). */
export function convGeometry(u: SolvedUnit): ConvGeometry {
  const g = u.geometry ?? {strides: [1, 1], padding: 'valid'};
  return {kernelSize: [u.kernel.shape[0]!, u.kernel.shape[1]!], strides: g.strides, padding: g.padding};
}

/** A unit's regression rows from its input: `a` itself (dense) or its patches, [rows, width]. */
export function designRows(u: SolvedUnit, a: tf.Tensor): tf.Tensor2D {
  if (u.kind === 'dense') return a as tf.Tensor2D;
  return tf.reshape(extractPatches(a as tf.Tensor4D, convGeometry(u)), [-1, rowWidth(u)]);
}

/** A field (or field target) as regression rows [rows, units]. */
export function fieldRows(u: SolvedUnit, h: tf.Tensor): tf.Tensor2D {
  return tf.reshape(h, [-1, unitWidth(u)]);
}

/** The local field of a solved unit. */
export function unitField(u: SolvedUnit, a: tf.Tensor, w: UnitWeights = u): tf.Tensor {
  if (u.kind === 'dense') return field(a as tf.Tensor2D, w.kernel as tf.Tensor2D, w.bias);
  return convField(a as tf.Tensor4D, w.kernel as tf.Tensor4D, w.bias, convGeometry(u));
}

/** A pass-through unit's output. */
export function passForward(u: PassUnit, a: tf.Tensor): tf.Tensor {
  switch (u.kind) {
    case 'flatten': return tf.reshape(a, [a.shape[0], -1]);
    case 'maxPool': return tf.maxPool(a as tf.Tensor4D, u.geometry!.kernelSize, u.geometry!.strides, u.geometry!.padding);
    case 'avgPool': return tf.avgPool(a as tf.Tensor4D, u.geometry!.kernelSize, u.geometry!.strides, u.geometry!.padding);
  }
}

/**
 * Checks that units fit together on inputs of shape `inputShape` (without
 * the batch axis) and returns each unit's input shape and the network's
 * output shape; throws naming the unit.
 */
export function validateUnits(units: NetworkUnit[], inputShape: number[]):
    {inputs: number[][], output: number[]} {
  if (units.length === 0) throw new ERInputError('the network has no layers to train');
  const last = units[units.length - 1];
  if (!isSolved(last)) {
    throw new ERInputError(`${last.name}: the network must end in a dense or conv2d layer`);
  }
  const shapes: number[][] = [];
  let shape = inputShape;
  units.forEach((u, i) => {
    shapes.push(shape);
    const at = `${u.name} (input [${shape}])`;
    if (u.kind === 'dense') {
      if (shape.length !== 1 || shape[0] !== u.kernel.shape[0]) {
        throw new ERInputError(`${at}: a dense layer needs [${u.kernel.shape[0]}] features; flatten images first`);
      }
      shape = [u.kernel.shape[1]!];
    } else if (u.kind === 'conv2d') {
      if (shape.length !== 3 || shape[2] !== u.kernel.shape[2]) {
        throw new ERInputError(`${at}: a conv2d layer with kernel [${u.kernel.shape}] needs images ` +
                               `[height, width, ${u.kernel.shape[2]}]`);
      }
      const o = convOutput(shape[0], shape[1], convGeometry(u));
      shape = [o.height, o.width, u.kernel.shape[3]!];
    } else if (u.kind === 'flatten') {
      shape = [shape.reduce((a, b) => a * b, 1)];
    } else {
      if (shape.length !== 3) throw new ERInputError(`${at}: pooling needs images [height, width, channels]`);
      const o = convOutput(shape[0], shape[1], u.geometry!);
      shape = [o.height, o.width, shape[2]];
    }
    if (isSolved(u)) {
      if (u.bias != null && (u.bias.rank !== 1 || u.bias.shape[0] !== unitWidth(u))) {
        throw new ERInputError(`${u.name}: bias shape [${u.bias.shape}] does not match kernel [${u.kernel.shape}]`);
      }
      if (i < units.length - 1 && u.activation === 'softmax') {
        throw new ERInputError(`${u.name}: softmax is only supported on the output layer; use relu or tanh`);
      }
    }
  });
  return {inputs: shapes, output: shape};
}

/**
 * Forward pass keeping each unit's input (`inputs[i]`) and, for solved
 * units, field (`fields[i]`). `weights[i]` overrides unit i's weights.
 * Call inside `tf.tidy`.
 */
export function forwardUnits(units: NetworkUnit[], x: tf.Tensor, weights?: Array<UnitWeights|null>):
    {inputs: tf.Tensor[], fields: Array<tf.Tensor|null>} {
  const inputs: tf.Tensor[] = [];
  const fields: Array<tf.Tensor|null> = [];
  let a = x;
  units.forEach((u, i) => {
    inputs.push(a);
    if (isSolved(u)) {
      const h = unitField(u, a, weights?.[i] ?? u);
      fields.push(h);
      a = activate(u.activation, h);
    } else {
      fields.push(null);
      a = passForward(u, a);
    }
  });
  return {inputs, fields};
}

/**
 * The target of a unit's input, from the target of its output: the damped
 * least-squares pre-image for dense and conv units (`M` from
 * `preimageOperator` of the kernel matrix; a convolution's patch-wise changes
 * are folded back onto the image, overlaps averaged), the routing rule for
 * pooling, a reshape for flatten. For solved units `target` is a field target.
 */
export function unitPreimage(u: NetworkUnit, a: tf.Tensor, target: tf.Tensor, w: UnitWeights|null,
                             M: tf.Tensor2D|null): tf.Tensor {
  switch (u.kind) {
    case 'dense':
      return preimage(a as tf.Tensor2D, target as tf.Tensor2D, w!.kernel as tf.Tensor2D, w!.bias, M!);
    case 'conv2d': {
      // The patch-wise change is (h* − h)·M; kernel offset o's part of it is
      // (h* − h)·M[:, o-th block], computed per offset so that no strided
      // split of the patch axis is needed, then folded back (overlaps averaged).
      const g = convGeometry(u);
      const [n, height, width, c] = a.shape as [number, number, number, number];
      const rows = designRows(u, a);
      let h = tf.matMul(rows, kernelMatrix(u, w!.kernel));
      if (w!.bias) h = tf.add(h, w!.bias);
      const residual = tf.sub(fieldRows(u, target), h) as tf.Tensor2D;
      const o = convOutput(height, width, g);
      const f = unitWidth(u);
      const change = foldOffsets(k => tf.reshape(
          tf.matMul(residual, tf.slice(M!, [0, k * c], [f, c])), [n, o.height, o.width, c]) as tf.Tensor4D,
          n, [height, width, c], g);
      return tf.add(a, change);
    }
    case 'flatten': return tf.reshape(target, a.shape);
    case 'maxPool': return poolPreimage('max', a as tf.Tensor4D, target as tf.Tensor4D, u.geometry!);
    case 'avgPool': return poolPreimage('avg', a as tf.Tensor4D, target as tf.Tensor4D, u.geometry!);
  }
}
