/**
 * How ER sees a training step without backprop: during `minimize`, a capture
 * session is active; the first layer of the trained chain reports its input
 * and the (wrapped) loss function reports the true targets. Outside training,
 * an ER layer that is called (predict, evaluate, validation) first lets its
 * controller apply any pending update.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Marks layer classes that report their calls to ER (set on ERDense's prototype). */
export const ER_LAYER_MARK = '__tfjsErLayer';

/** True if `layer` reports its calls to ER. */
export function isERLayer(layer: object): boolean {
  return (layer as Record<string, unknown>)[ER_LAYER_MARK] === true;
}

/** What an ER layer tells its controller outside a training step. */
export interface CaptureListener {
  /** Applies an update whose statistics are complete but not yet solved. */
  flushPending(): void;
}

/** What one training step saw. Tensors are kept clones, owned by the session. */
export class CaptureSession {
  input: tf.Tensor|null = null;
  targets: tf.Tensor|null = null;
  /** The input of `top`, as the step's own forward pass computed it. */
  topInput: tf.Tensor|null = null;

  /**
   * @param chainStart the layer whose input is recorded.
   * @param top another layer whose input is recorded (null: none), so ER
   *     need not recompute it.
   */
  constructor(readonly chainStart: object, readonly top: object|null = null) {}

  /** Releases whatever was recorded and not taken. */
  dispose(): void {
    tf.dispose([this.input, this.targets, this.topInput].filter(t => t != null) as tf.Tensor[]);
    this.input = this.targets = this.topInput = null;
  }
}

let active: CaptureSession|null = null;
const listeners = new WeakMap<object, CaptureListener>();

/** Runs `fn` with `session` active (not re-entrant). */
export function withCaptureSession<T>(session: CaptureSession, fn: () => T): T {
  if (active != null) throw new Error('tfjs-er: nested training steps are not supported');
  active = session;
  try {
    return fn();
  } finally {
    active = null;
  }
}

/** Registers (or with null, removes) the controller of an ER layer. */
export function setCaptureListener(layer: object, listener: CaptureListener|null): void {
  if (listener == null) listeners.delete(layer);
  else listeners.set(layer, listener);
}

/** The controller an ER layer reports to, if any. */
export function captureListenerOf(layer: object): CaptureListener|undefined {
  return listeners.get(layer);
}

/** Called by ER layers at the start of `call()`. */
export function observeLayerCall(layer: object, inputs: tf.Tensor|tf.Tensor[],
                                 kwargs: {[key: string]: unknown}|undefined): void {
  const training = kwargs != null && kwargs['training'] === true;
  if (training) {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (active != null && active.chainStart === layer && active.input == null) {
      active.input = tf.keep(tf.clone(x));
    }
    if (active != null && active.top === layer && active.topInput == null) {
      active.topInput = tf.keep(tf.clone(x));
    }
  } else if (active == null) {
    listeners.get(layer)?.flushPending();
  }
}

/** Called by the wrapped loss function with the batch's true targets. */
export function observeTargets(yTrue: tf.Tensor): void {
  if (active != null && active.targets == null) active.targets = tf.keep(tf.clone(yTrue));
}
