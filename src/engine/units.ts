/**
 * The one model of a network the engine trains: a chain of units — dense
 * and 2-D convolution units whose weights ER solves, and max/average pooling
 * and flatten units that targets pass through — on plain tensors (no
 * tfjs-layers). A unit's structure is plain data ({@link NetworkSpec}), so a
 * worker can rebuild the network from it and the weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import {activate, ERActivation} from './activations';
import {ConvGeometry, convField, convOutput, foldOffsets, foldStride1, patchRows, poolPreimage} from './conv';
import {ERInputError} from './errors';
import {preimage} from './preimage';
import {subMatrix} from './window';

/** A unit whose weights ER solves: dense (`a·W + b`) or 2-D convolution (on NHWC images). */
export interface SolvedUnit {
  kind: 'dense'|'conv2d';
  /** Names the layer in errors and reports. */
  name: string;
  /** [inputs, units] (dense) or [kh, kw, cin, filters] (conv2d). Owned by the caller; never changed. */
  kernel: tf.Tensor;
  /** [units], or null for a unit without bias. */
  bias: tf.Tensor1D|null;
  activation: ERActivation;
  /** False keeps the weights (targets still pass through). */
  trainable: boolean;
  /** conv2d only: strides and padding (the kernel size comes from the kernel). */
  geometry?: {strides: [number, number], padding: 'same'|'valid', kernelSize?: [number, number]};
}

/** A unit without weights that targets pass through. */
export interface PassUnit {
  kind: 'maxPool'|'avgPool'|'flatten';
  name: string;
  /** Pooling window. */
  geometry?: ConvGeometry;
}

/** One unit of a network. */
export type NetworkUnit = SolvedUnit|PassUnit;

/** A dense layer of a chain: a {@link SolvedUnit} whose kind may be left out. */
export type DenseState = Omit<SolvedUnit, 'kind'|'geometry'> & {kind?: 'dense'};

/** New weights of a solved unit (same shapes as the unit's). */
export interface UnitWeights {
  kernel: tf.Tensor;
  bias: tf.Tensor1D|null;
}

/** A dense unit's weights (the dense case of {@link UnitWeights}). */
export interface DenseWeights {
  kernel: tf.Tensor2D;
  bias: tf.Tensor1D|null;
}

/** The structure of a solved unit, without its weights. */
export interface SolvedUnitSpec {
  kind: 'dense'|'conv2d';
  name: string;
  kernelShape: number[];
  hasBias: boolean;
  activation: ERActivation;
  trainable: boolean;
  geometry?: SolvedUnit['geometry'];
}

/** The structure of a network (plain data), with one example's input shape. */
export interface NetworkSpec {
  units: Array<SolvedUnitSpec|PassUnit>;
  inputShape: number[];
}

/** True for the units ER solves (dense, conv2d): those with weights. */
export function isSolved(u: NetworkUnit): u is SolvedUnit {
  return u.kind === 'dense' || u.kind === 'conv2d';
}

/** Units from dense states or units (a dense state's kind defaults to 'dense'). */
export function toUnits(layers: Array<DenseState|NetworkUnit>): NetworkUnit[] {
  return layers.map(l => l.kind == null ? {...l, kind: 'dense'} as SolvedUnit : l as NetworkUnit);
}

/** The structure of `units` (no tensors). */
export function specOf(units: NetworkUnit[], inputShape: number[]): NetworkSpec {
  return {
    inputShape: inputShape.slice(),
    units: units.map(u => isSolved(u) ?
        {kind: u.kind, name: u.name, kernelShape: u.kernel.shape.slice(), hasBias: u.bias != null,
         activation: u.activation, trainable: u.trainable, geometry: u.geometry} :
        {...u}),
  };
}

/** Units with the given weights (one entry per unit, null for pass units). */
export function unitsOf(spec: NetworkSpec, weights: Array<UnitWeights|null>): NetworkUnit[] {
  return spec.units.map((u, i) => {
    if (u.kind === 'dense' || u.kind === 'conv2d') {
      const s = u as SolvedUnitSpec;
      const w = weights[i];
      if (w == null) throw new Error(`unit ${s.name}: no weights given`);
      return {kind: s.kind, name: s.name, kernel: w.kernel, bias: w.bias, activation: s.activation,
              trainable: s.trainable, geometry: s.geometry};
    }
    return {...(u as PassUnit)};
  });
}

/** Width of the regression rows of a solved unit (kh·kw·cin for a convolution). */
export function rowWidth(u: SolvedUnit|SolvedUnitSpec): number {
  const s = 'kernel' in u ? u.kernel.shape : u.kernelShape;
  return u.kind === 'dense' ? s[0]! : s[0]! * s[1]! * s[2]!;
}

/** Number of output units (dense) or filters (conv2d). */
export function unitWidth(u: SolvedUnit|SolvedUnitSpec): number {
  const s = 'kernel' in u ? u.kernel.shape : u.kernelShape;
  return s[s.length - 1]!;
}

/**
 * The kernel as the 2-D regression matrix (rows × units), rows in the order
 * of {@link designRows}: a dense kernel as it is; a conv kernel
 * [kh, kw, cin, f] with rows ordered (channel, row offset, column offset).
 */
export function kernelMatrix(u: SolvedUnit|SolvedUnitSpec, kernel: tf.Tensor = (u as SolvedUnit).kernel): tf.Tensor2D {
  return tf.tidy(() => u.kind === 'dense' ? tf.reshape(kernel, kernel.shape as [number, number]) :
      tf.reshape(tf.transpose(kernel, [2, 0, 1, 3]), [rowWidth(u), unitWidth(u)]));
}

/** The unit's kernel from its regression matrix (the inverse of {@link kernelMatrix}). */
export function kernelFromMatrix(u: SolvedUnit, matrix: tf.Tensor2D): tf.Tensor {
  if (u.kind === 'dense') return tf.clone(matrix);
  const [kh, kw, cin, f] = u.kernel.shape as number[];
  return tf.tidy(() => tf.transpose(tf.reshape(matrix, [cin, kh, kw, f]), [1, 2, 0, 3]));
}

/** The full geometry of a conv unit (kernel size from its kernel). */
export function convGeometry(u: SolvedUnit): ConvGeometry {
  const g = u.geometry ?? {strides: [1, 1] as [number, number], padding: 'valid' as const};
  return {kernelSize: [u.kernel.shape[0]!, u.kernel.shape[1]!], strides: g.strides, padding: g.padding};
}

/** Field of a dense layer: `a·W + b`. */
export function field(a: tf.Tensor2D, W: tf.Tensor2D, b: tf.Tensor1D|null): tf.Tensor2D {
  const h = tf.matMul(a, W) as tf.Tensor2D;
  return b == null ? h : tf.add(h, b) as tf.Tensor2D;
}

/**
 * A unit's regression rows from its input: `a` itself (dense) or its patches
 * (see `patchRows`; `patchKernel` from `patchKernel(convGeometry(u), cin)`), [rows, width].
 */
export function designRows(u: SolvedUnit, a: tf.Tensor, patchKernel?: tf.Tensor4D): tf.Tensor2D {
  if (u.kind === 'dense') return a as tf.Tensor2D;
  return patchRows(a as tf.Tensor4D, convGeometry(u), patchKernel);
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
    if (isSolved(u) && u.kernel.rank !== (u.kind === 'dense' ? 2 : 4)) {
      throw new ERInputError(`${u.name}: a ${u.kind} kernel must be ${u.kind === 'dense' ? '2' : '4'}-D, ` +
                             `got shape [${u.kernel.shape}]`);
    }
    if (u.kind === 'dense') {
      if (shape.length !== 1 || shape[0] !== u.kernel.shape[0]) {
        const prev = i > 0 ? units[i - 1] : null;
        throw new ERInputError(prev != null && isSolved(prev) && prev.kind === 'dense' ?
            `${u.name}: expects ${u.kernel.shape[0]} inputs but ${prev.name} gives ${shape[0]}` :
            `${at}: a dense layer needs [${u.kernel.shape[0]}] features; flatten images first`);
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
      const o = convOutput(shape[0], shape[1], (u as PassUnit).geometry!);
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

/** The weights of unit `i`: `over[i]` when given, else the unit's own. */
export function weightsAt(units: NetworkUnit[], i: number, over?: ArrayLike<UnitWeights|null>): UnitWeights {
  return over?.[i] ?? (units[i] as SolvedUnit);
}

/**
 * Forward pass keeping each unit's input (`inputs[i]`) and, for solved
 * units, field (`fields[i]`). `weights[i]` overrides unit i's weights.
 * Call inside `tf.tidy`.
 */
export function forwardUnits(units: NetworkUnit[], x: tf.Tensor, weights?: ArrayLike<UnitWeights|null>):
    {inputs: tf.Tensor[], fields: Array<tf.Tensor|null>} {
  const inputs: tf.Tensor[] = [];
  const fields: Array<tf.Tensor|null> = [];
  let a = x;
  units.forEach((u, i) => {
    inputs.push(a);
    if (isSolved(u)) {
      const h = unitField(u, a, weightsAt(units, i, weights));
      fields.push(h);
      if (i < units.length - 1) a = activate(u.activation, h);
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
      const h = unitField(u, a, w!);
      if (g.strides[0] === 1 && g.strides[1] === 1) {
        return tf.add(a, foldStride1(tf.sub(target, h) as tf.Tensor4D, M!, [height, width, c], g));
      }
      const residual = fieldRows(u, tf.sub(target, h)) as tf.Tensor2D;
      const o = convOutput(height, width, g);
      const f = unitWidth(u), k = g.kernelSize[0] * g.kernelSize[1];
      // M's columns are ordered (channel, offset): per offset, its [f, c] block
      const byOffset = tf.reshape(tf.transpose(tf.reshape(M!, [f, c, k]), [2, 0, 1]), [k * f, c]);
      const change = foldOffsets(j => tf.reshape(
          tf.matMul(residual, subMatrix(byOffset as tf.Tensor2D, j * f, 0, f, c)), [n, o.height, o.width, c]) as tf.Tensor4D,
          n, [height, width, c], g);
      return tf.add(a, change);
    }
    case 'flatten': return tf.reshape(target, a.shape);
    case 'maxPool': return poolPreimage('max', a as tf.Tensor4D, target as tf.Tensor4D, u.geometry!);
    case 'avgPool': return poolPreimage('avg', a as tf.Tensor4D, target as tf.Tensor4D, u.geometry!);
  }
}

/** `tf.tidy` for a function returning {@link UnitWeights} (bias may be null). */
export function tidyWeights<W extends UnitWeights>(fn: () => W): W {
  return tf.tidy(() => fn() as unknown as tf.TensorContainer) as unknown as W;
}

/** Disposes a unit's weights (if any). */
export function disposeWeights(w: UnitWeights|null|undefined): void {
  if (w == null) return;
  w.kernel.dispose();
  w.bias?.dispose();
}
