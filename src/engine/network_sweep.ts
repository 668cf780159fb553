/**
 * One ER update of a network with convolution and pooling units (see
 * `units.ts`), streamed over batches — the same sweep as `ERSweep` for dense
 * chains (ER-ALGORITHM.md §3), generalised:
 *
 * 1. First pass (`addBatch`): forward, reflect the output field, accumulate
 *    the output unit's ridge statistics. Solve it.
 * 2. For each lower trainable unit, top-down, one pass: forward with the old
 *    weights; carry the reflected output target down — through the new
 *    weights of the solved units above (pre-image, then the hidden reflection
 *    rule), through pooling (routed to the arg-max / spread over the window)
 *    and flatten (reshaped) — and accumulate that unit's statistics: for a
 *    convolution, one regression row per image and output position (patch →
 *    filter field), so the Gram is (kh·kw·cin)² whatever the image count or
 *    size. Solve.
 * 3. Refresh: one more pass re-solves the output unit on the new features
 *    against the same reflected targets.
 *
 * Plain ER only (no 'erls' step search) and no Gram cache between updates.
 */
import * as tf from '@tensorflow/tfjs-core';
import {ERInputError} from './errors';
import {preimageOperator} from './preimage';
import {reflectHidden, reflectOutput} from './reflect';
import {RidgeAccumulator, RidgeSolution} from './ridge';
import {checkOption, now, ObservedData} from './observed';
import {SweepConfig, SweepReport} from './sweep';
import {designRows, fieldRows, forwardUnits, isSolved, kernelMatrix, NetworkUnit, rowWidth, SolvedUnit,
        unitPreimage, unitWidth, UnitWeights, validateUnits} from './units';

/** Batches of inputs (any rank) and targets (the output's shape); may be walked several times. */
export type UnitBatchSource = () => Iterable<[tf.Tensor, tf.Tensor]>;

/** New weights per unit (null: unchanged or no weights) and the report. */
export interface NetworkSweepResult {
  weights: Array<UnitWeights|null>;
  report: SweepReport;
}

/**
 * One ER update of a network of units, fed batch by batch.
 *
 * ```ts
 * const sweep = new NetworkSweep(units, [32, 32, 3], {alpha: 1e-3});
 * for (const [x, y] of batches) sweep.addBatch(x, y);
 * const {weights, report} = sweep.finish(() => batches);
 * ```
 */
export class NetworkSweep {
  private readonly alpha: number|'auto';
  private readonly beta: number;
  private readonly refresh: boolean;
  private readonly out: number;
  private readonly lowest: number;
  private readonly shapes: number[][];
  private readonly outShape: number[];
  private readonly t0 = now();
  private readonly seconds = {gram: 0, solve: 0, target: 0, search: 0, total: 0};
  private outAcc: RidgeAccumulator|null = null;
  private readonly observed = new ObservedData();
  private done = false;

  /**
   * @param units the network, input to output (the caller keeps the tensors).
   * @param inputShape one example's shape, e.g. [32, 32, 3] or [784].
   */
  constructor(private readonly units: NetworkUnit[], inputShape: number[], config: SweepConfig = {}) {
    const shapes = validateUnits(units, inputShape);
    this.shapes = shapes.inputs;
    this.outShape = shapes.output;
    this.alpha = config.alpha ?? 1e-3;
    this.beta = config.beta ?? 0.1;
    this.refresh = config.refresh ?? true;
    if ((config.mode ?? 'er') !== 'er') {
      throw new ERInputError(
          `mode '${config.mode}' (the automatic step search) is implemented for dense networks only; ` +
          `use er({mode: 'er'}) with conv2d layers`);
    }
    if (this.alpha !== 'auto') checkOption('alpha', this.alpha, 0);
    checkOption('beta', this.beta, 0);
    this.out = units.length - 1;
    this.lowest = units.findIndex(u => isSolved(u) && u.trainable);
    if (this.lowest < 0) throw new ERInputError('no trainable layer: every layer has trainable = false');
  }

  private get outUnit(): SolvedUnit {
    return this.units[this.out] as SolvedUnit;
  }

  /** True when {@link finish} needs the data again (trainable units below the output). */
  get needsMorePasses(): boolean {
    return this.lowest < this.out;
  }

  /** Rows (examples) seen by the first pass so far. */
  get rowCount(): number {
    return this.observed.rows;
  }

  /** First pass, one batch: forward, reflect the output, accumulate the output unit's statistics. */
  addBatch(x: tf.Tensor, y: tf.Tensor): void {
    if (this.done) throw new Error('this NetworkSweep has finished; start a new one');
    this.checkBatch(x, y);
    const ta = now();
    const o = this.outUnit;
    if (o.trainable && this.outAcc == null) {
      this.outAcc = new RidgeAccumulator(rowWidth(o), unitWidth(o), o.name);
    }
    tf.tidy(() => {
      const {inputs, fields} = forwardUnits(this.units, x);
      if (this.outAcc != null) {
        const t = reflectOutput(o.activation, fields[this.out]!, y);
        this.outAcc.add(designRows(o, inputs[this.out]), fieldRows(o, t));
      }
    });
    this.observed.add(x, y);
    this.seconds.gram += now() - ta;
  }

  /**
   * Completes the update (see the module comment); `source` must give the
   * same examples as the first pass. Releases all internal state, also on error.
   */
  finish(source?: UnitBatchSource): NetworkSweepResult {
    if (this.done) throw new Error('this NetworkSweep has finished; start a new one');
    this.done = true;
    const {units, out, lowest, alpha, beta} = this;
    const o = this.outUnit;
    const warnings: string[] = [];
    const lambdas: Record<string, number> = {};
    const alphas: Record<string, number> = {};
    const newWeights: Array<UnitWeights|null> = units.map(() => null);
    const operators: Array<tf.Tensor2D|null> = units.map(() => null);
    const accs: RidgeAccumulator[] = [];
    let passes = 1;
    const weightsOf = (i: number): UnitWeights => newWeights[i] ?? (units[i] as SolvedUnit);
    const solveInto = (i: number, acc: RidgeAccumulator) => {
      const u = units[i] as SolvedUnit;
      const ts = now();
      const sol = acc.solve({alpha, fitIntercept: u.bias != null});
      this.seconds.solve += now() - ts;
      lambdas[u.name] = sol.lambdaUsed;
      alphas[u.name] = sol.alpha;
      warnings.push(...sol.warnings);
      disposeWeights(newWeights[i]);
      newWeights[i] = toWeights(u, sol);
    };
    /** Field target of solved unit k, carried from the output through the new weights above. */
    const targetDownTo = (k: number, inputs: tf.Tensor[], fields: Array<tf.Tensor|null>, y: tf.Tensor) => {
      let t = reflectOutput(o.activation, fields[out]!, y);  // a field target of unit `out`
      for (let j = out; j > k; j--) {
        const u = units[j];
        const below = unitPreimage(u, inputs[j], t, isSolved(u) ? weightsOf(j) : null, operators[j]);
        // `below` is the target of unit j−1's output; a solved unit turns it into a field target.
        const prev = units[j - 1];
        t = isSolved(prev) ? reflectHidden(prev.activation, fields[j - 1]!, below) : below;
      }
      return t;
    };
    try {
      this.checkFirstPass();
      if (this.needsMorePasses && source == null) {
        throw new ERInputError('this network has trainable hidden layers: finish() needs the data again');
      }
      if (this.outAcc != null) solveInto(out, this.outAcc);
      for (let k = out - 1; k >= lowest; k--) {
        const above = units[k + 1];
        if (isSolved(above)) operators[k + 1] = preimageOperator(kernelMatrix(above, weightsOf(k + 1).kernel), beta);
        const u = units[k];
        if (!isSolved(u) || !u.trainable) continue;
        const acc = new RidgeAccumulator(rowWidth(u), unitWidth(u), u.name);
        accs.push(acc);
        const tt = now();
        for (const [x, y] of source!()) {
          tf.tidy(() => {
            const {inputs, fields} = forwardUnits(units, x);
            const t = targetDownTo(k, inputs, fields, y);
            acc.add(designRows(u, inputs[k]), fieldRows(u, t));
          });
        }
        passes++;
        this.seconds.target += now() - tt;
        solveInto(k, acc);
      }
      const hiddenChanged = newWeights.some((w, i) => w != null && i < out);
      if (this.refresh && o.trainable && hiddenChanged) {
        const tr = now();
        const acc = new RidgeAccumulator(rowWidth(o), unitWidth(o), o.name);
        accs.push(acc);
        for (const [x, y] of source!()) {
          tf.tidy(() => {
            const old = forwardUnits(units, x);
            const target = reflectOutput(o.activation, old.fields[out]!, y);
            acc.add(designRows(o, forwardUnits(units, x, newWeights).inputs[out]), fieldRows(o, target));
          });
        }
        passes++;
        this.seconds.gram += now() - tr;
        solveInto(out, acc);
      }
      this.seconds.total = now() - this.t0;
      return {
        weights: newWeights,
        report: {rows: this.observed.rows, passes, gamma: 1, inputGramReused: false, outputGramReused: false,
                 topBatches: 0, lambdas, alphas,
                 seconds: {...this.seconds}, warnings},
      };
    } catch (e) {
      newWeights.forEach(disposeWeights);
      throw e;
    } finally {
      accs.forEach(a => a.dispose());
      tf.dispose(operators.filter(m => m != null) as tf.Tensor[]);
      this.release();
    }
  }

  /** Abandons the update, releasing its tensors. */
  dispose(): void {
    this.done = true;
    this.release();
  }

  private release() {
    this.outAcc?.dispose();
    this.outAcc = null;
    this.observed.dispose();
  }

  private checkBatch(x: tf.Tensor, y: tf.Tensor) {
    const want = this.shapes[0];
    if (x.rank !== want.length + 1 || !x.shape.slice(1).every((d, i) => d === want[i])) {
      throw new ERInputError(
          `${this.units[0].name}: inputs must have shape [rows, ${want}], got [${x.shape}]`);
    }
    if (x.shape[0] === 0) throw new ERInputError('empty batch (0 rows) in the inputs');
    if (y.rank !== this.outShape.length + 1 || y.shape[0] !== x.shape[0] ||
        !y.shape.slice(1).every((d, i) => d === this.outShape[i])) {
      throw new ERInputError(
          `${this.outUnit.name}: targets must have shape [${x.shape[0]}, ${this.outShape}] to match ` +
          `the inputs and the output, got [${y.shape}]`);
    }
  }

  private checkFirstPass() {
    this.observed.check(this.outUnit.activation, this.outUnit.name);
  }
}

function toWeights(u: SolvedUnit, sol: RidgeSolution): UnitWeights {
  return {
    kernel: tf.tensor(Float32Array.from(sol.W), u.kernel.shape),
    bias: u.bias != null ? tf.tensor1d(Float32Array.from(sol.b)) : null,
  };
}

function disposeWeights(w: UnitWeights|null|undefined) {
  if (w == null) return;
  w.kernel.dispose();
  w.bias?.dispose();
}
