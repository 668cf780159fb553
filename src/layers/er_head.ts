/**
 * `ERHead`: a dense classifier layer (softmax or sigmoid) whose ER training
 * statistics live in the layer itself, as non-trainable weights. It is what
 * `erHead()` puts on a frozen feature extractor: trained by one ER solve,
 * updated by adding examples (of old or new classes) without revisiting the
 * old ones, and saved and loaded with its statistics by `model.save` /
 * `tf.loadLayersModel`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {ERInputError} from '../engine/errors';
import {RidgeState} from '../engine/ridge';
import {ER_HEAD_MARK, StatsHead} from '../training/head_controller';

type Kwargs = {[key: string]: unknown};
type LayerArgs = ConstructorParameters<typeof tfl.layers.Layer>[0];

/** Arguments of {@link ERHead}. */
export interface ERHeadLayerArgs extends NonNullable<LayerArgs> {
  /** Number of classes (output units), an integer ≥ 1. */
  classes: number;
  /** Output activation: 'softmax' (default, one class per example) or 'sigmoid' (multi-label). */
  activation?: 'softmax'|'sigmoid';
  /** Optional class names, one per class; saved with the model. */
  labels?: string[];
  /**
   * The ridge of the head's solve: a dimensionless α (λ = α·trace(cov a)/d),
   * or 'auto' (default): chosen on every solve by generalised
   * cross-validation from the stored statistics.
   */
  alpha?: number|'auto';
}

/** The head's statistics weights, in the order they are created. */
const STAT_NAMES = ['er_gram', 'er_sum_a', 'er_cross', 'er_sum_t', 'er_shift', 'er_count', 'er_sum_tt'] as const;

/** A dense ER head that stores its own ridge statistics (see the module comment). */
export class ERHead extends tfl.layers.Layer implements StatsHead {
  // @nocollapse
  static className = 'ERHead';
  readonly classes: number;
  readonly activation: 'softmax'|'sigmoid';
  readonly labels: string[]|null;
  readonly alpha: number|'auto';
  private kernel: tfl.LayerVariable|null = null;
  private bias: tfl.LayerVariable|null = null;
  private stats: tfl.LayerVariable[] = [];

  constructor(args: ERHeadLayerArgs) {
    super(args);
    if (args == null || !(Number.isInteger(args.classes) && args.classes >= 1)) {
      throw new ERInputError(
          `ERHead${args?.name ? ` '${args.name}'` : ''}: classes must be an integer >= 1, ` +
          `got ${args?.classes}`);
    }
    const act = args.activation ?? 'softmax';
    if (act !== 'softmax' && act !== 'sigmoid') {
      throw new ERInputError(
          `ERHead '${this.name}': activation must be 'softmax' or 'sigmoid', got '${act as string}'`);
    }
    if (args.labels != null && args.labels.length !== args.classes) {
      throw new ERInputError(
          `ERHead '${this.name}': ${args.labels.length} labels given for ${args.classes} classes; ` +
          `give one label per class`);
    }
    const alpha = args.alpha ?? 'auto';
    if (alpha !== 'auto' && !(typeof alpha === 'number' && Number.isFinite(alpha) && alpha >= 0)) {
      throw new ERInputError(`ERHead '${this.name}': alpha must be 'auto' or a finite number >= 0, got ${alpha}`);
    }
    this.alpha = alpha;
    this.classes = args.classes;
    this.activation = act;
    this.labels = args.labels ? [...args.labels] : null;
  }

  build(inputShape: tfl.Shape|tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const d = shape[shape.length - 1];
    if (shape.length !== 2 || d == null) {
      throw new ERInputError(
          `ERHead '${this.name}': expects features of shape [batch, features], got ` +
          `[${shape.map(s => s ?? 'null')}]; put a flatten layer before it (erHead does)`);
    }
    const k = this.classes;
    const zeros = tfl.initializers.zeros();
    this.kernel = this.addWeight('kernel', [d, k], 'float32', zeros, undefined, true);
    this.bias = this.addWeight('bias', [k], 'float32', zeros, undefined, true);
    const shapes: Record<typeof STAT_NAMES[number], number[]> = {
      er_gram: [d, d], er_sum_a: [d], er_cross: [d, k], er_sum_t: [k], er_shift: [d], er_count: [1],
      er_sum_tt: [k],
    };
    this.stats = STAT_NAMES.map(n => this.addWeight(n, shapes[n], 'float32', zeros, undefined, false));
    this.built = true;
  }

  computeOutputShape(inputShape: tfl.Shape|tfl.Shape[]): tfl.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    return [...shape.slice(0, -1), this.classes];
  }

  call(inputs: tf.Tensor|tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const h = tf.add(tf.matMul(x as tf.Tensor2D, this.kernel!.read() as tf.Tensor2D), this.bias!.read());
      return this.activation === 'softmax' ? tf.softmax(h) : tf.sigmoid(h);
    });
  }

  /** Rows the head's statistics cover (examples it was trained on). */
  get exampleCount(): number {
    this.assertBuilt();
    return Math.round(this.stats[5].read().dataSync()[0]);
  }

  /** The stored statistics (new tensors the caller owns). */
  readStatistics(): RidgeState {
    this.assertBuilt();
    const [gram, sumA, cross, sumT, shift] = this.stats.slice(0, 5).map(v => tf.clone(v.read()));
    return {gram: gram as tf.Tensor2D, sumA: sumA as tf.Tensor1D, cross: cross as tf.Tensor2D,
            sumT: sumT as tf.Tensor1D, sumSqT: tf.clone(this.stats[6].read()) as tf.Tensor1D,
            shift: shift as tf.Tensor1D, count: this.exampleCount};
  }

  /** Stores statistics (copied; shapes must match the layer). */
  writeStatistics(state: RidgeState): void {
    this.assertBuilt();
    const values: Array<tf.Tensor|null> = [state.gram, state.sumA, state.cross, state.sumT, state.shift, null,
                                           state.sumSqT];
    values.forEach((t, i) => {
      if (t != null && !tf.util.arraysEqual(t.shape, this.stats[i].shape as number[])) {
        throw new ERInputError(
            `ERHead '${this.name}': statistics '${STAT_NAMES[i]}' of shape [${t.shape}] do not ` +
            `fit the layer's [${this.stats[i].shape}]`);
      }
    });
    tf.tidy(() => {
      values.forEach((t, i) => { if (t != null) this.stats[i].write(tf.clone(t)); });
      this.stats[5].write(tf.tensor1d([state.count]));
    });
  }

  /** Sets kernel (d×k, row-major float64) and bias (k). */
  writeSolution(W: Float64Array, b: Float64Array): void {
    this.assertBuilt();
    const [d, k] = this.kernel!.shape as number[];
    if (W.length !== d * k || b.length !== k) {
      throw new ERInputError(`ERHead '${this.name}': solution of the wrong size for [${d}, ${k}]`);
    }
    tf.tidy(() => {
      this.kernel!.write(tf.tensor2d(Float32Array.from(W), [d, k]));
      this.bias!.write(tf.tensor1d(Float32Array.from(b)));
    });
  }

  /** Forgets every example: statistics, kernel and bias back to zero. */
  resetStatistics(): void {
    this.assertBuilt();
    tf.tidy(() => {
      for (const v of [this.kernel!, this.bias!, ...this.stats]) v.write(tf.zeros(v.shape as number[]));
    });
  }

  getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = {classes: this.classes, activation: this.activation,
                                                 alpha: this.alpha};
    if (this.labels != null) config.labels = [...this.labels];
    return {...config, ...super.getConfig()};
  }

  private assertBuilt() {
    if (!this.built || this.kernel == null) {
      throw new ERInputError(`ERHead '${this.name}' is not built yet; apply it to features first`);
    }
  }
}
Object.defineProperty(ERHead.prototype, ER_HEAD_MARK, {value: true});
tf.serialization.registerClass(ERHead);
