/**
 * Streaming statistics for a centred ridge regression `t ≈ a·W + b`. Each
 * batch's Gram `aᵀa` and cross product `aᵀt` are computed on the tfjs
 * backend in float32, on the batch's rows centred by their own column
 * means; the batch's moments are read back and merged into float64 moments
 * here (`moments.ts`). Memory is O(d² + d·k) whatever the number of rows,
 * and the result depends on the batches only, not on how they were grouped
 * or ordered: two shards of the same batches give the same statistics as one.
 *
 * The Gram uses an explicit `tf.transpose`, not `matMul`'s `transposeA`
 * (a scalar loop on wasm). Being symmetric, wide Grams (three panels' width
 * and up) compute only their lower triangle, as column panels
 * `G[i₀:d, i₀:i₁] = aᵀ[i₀:d, :]·a[:, i₀:i₁]` (see docs/performance.md).
 */
import * as tf from '@tensorflow/tfjs-core';
import {ERInputError} from '../errors';
import {columnSums} from '../reduce';
import {rowRange} from '../window';
import {CrossMoments, GramMoments, mergeCross, mirrorLower, RidgeMoments} from './moments';
import {momentsFromState, RidgeState, stateFromMoments, withConstantTargets} from './state';
import {refitLinear, RidgeSolution, RidgeSolveConfig, RidgeSystem, solveRidge} from './solve';

/**
 * Batches taller than this are shifted by the mean of their first
 * SHIFT_ROWS rows (enough to centre them well, cheap to gather) instead of
 * their own: `1ᵀa` packs the whole batch.
 */
const TALL_BATCH = 16384;
const SHIFT_ROWS = 256;

/** With an explicit panel width, narrower Grams than this many panels are one product. */
const MIN_PANELS = 3;

/**
 * Panels of the lower triangle for a d-wide Gram: none below 256, then
 * ~250-wide up to d = 1000 and ~500-wide above (docs/performance.md).
 */
function defaultPanels(d: number): number {
  if (d < 256) return 1;
  return d <= 1000 ? Math.ceil(d / 250) : Math.round(d / 500);
}

/**
 * Streaming accumulator of the statistics of a centred ridge regression.
 *
 * ```ts
 * const acc = new RidgeAccumulator(6, 3, 'demo');
 * for (const [a, t] of batches) acc.add(a, t);
 * const {W, b} = acc.solve({alpha: 1e-3});
 * acc.dispose();
 * ```
 */
export class RidgeAccumulator {
  /** Panel boundaries: panel p covers columns [bounds[p], bounds[p+1]). */
  private readonly bounds: number[];
  private readonly gramBlock: number|undefined;
  private gram: GramMoments|null = null;
  private cross: CrossMoments|null = null;
  /** The last solve's factorisation while the Gram is unchanged (null after new rows). */
  private system: RidgeSystem|null = null;

  /**
   * @param inDim width d of the inputs `a`.
   * @param outDim width k of the targets `t`.
   * @param label names the layer in error messages.
   * @param gramBlock width of the Gram's lower-triangle panels (default: by
   *     width, see `defaultPanels`; given, below three panels' width the Gram
   *     is one product).
   */
  constructor(readonly inDim: number, readonly outDim: number,
              readonly label = 'ridge', gramBlock?: number) {
    if (!(Number.isInteger(inDim) && inDim > 0 && Number.isInteger(outDim) && outDim > 0)) {
      throw new ERInputError(
          `${label}: RidgeAccumulator needs positive integer widths, got inDim=${inDim}, outDim=${outDim}`);
    }
    if (gramBlock != null && !(Number.isInteger(gramBlock) && gramBlock > 0)) {
      throw new ERInputError(`${label}: gramBlock must be a positive integer, got ${gramBlock}`);
    }
    this.gramBlock = gramBlock;
    const k = gramBlock != null ? (inDim >= MIN_PANELS * gramBlock ? Math.round(inDim / gramBlock) : 1) :
              defaultPanels(inDim);
    this.bounds = Array.from({length: k + 1}, (_, b) => Math.round(b * inDim / k));
  }

  /** Rows folded into the Gram so far. */
  get count(): number { return this.gram?.n ?? 0; }

  /** True once a Gram has been accumulated (it can be reused for new targets). */
  get hasGram(): boolean { return this.count > 0; }

  /** Folds a batch of inputs `a` (n×d) and targets `t` (n×k) into the sums. */
  add(a: tf.Tensor, t: tf.Tensor): void {
    this.checkA(a);
    this.checkT(a, t);
    this.fold(a, t, true);
  }

  /** Folds a batch of inputs into the Gram only. */
  addGram(a: tf.Tensor): void {
    this.checkA(a);
    this.fold(a, null, true);
  }

  /**
   * Folds a batch into the targets' statistics only; a Gram covering the same
   * rows must come from {@link addGram} (possibly in another pass) or a
   * cached factorisation.
   */
  addCross(a: tf.Tensor, t: tf.Tensor): void {
    this.checkA(a);
    this.checkT(a, t);
    this.fold(a, t, false);
  }

  /**
   * Adds one checked batch: its rows are shifted by their mean (so the
   * products are nearly centred), transposed once, multiplied, read back and
   * merged; the exact batch mean comes from the shifted sums (inner-axis
   * sums of the transposed rows; `tf.sum(·, 0)` would transpose again).
   */
  private fold(a: tf.Tensor, t: tf.Tensor|null, withGram: boolean) {
    const n = a.shape[0], d = this.inDim, k = this.outDim;
    const parts = tf.tidy(() => {
      let mu: tf.Tensor, act: tf.Tensor2D;
      if (n > TALL_BATCH) {
        // very tall batches: the mean of the first rows
        mu = tf.div(columnSums(rowRange(a, 0, SHIFT_ROWS)), SHIFT_ROWS);
        act = tf.transpose(tf.sub(a, mu)) as tf.Tensor2D;
      } else {
        // the batch's own mean, from inner-axis sums of the transposed rows (a ones-vector
        // product would make the backend pack all of `a` for one output row)
        const at = tf.transpose(a) as tf.Tensor2D;
        mu = tf.div(tf.sum(at, 1), n);
        act = tf.sub(at, tf.reshape(mu, [d, 1])) as tf.Tensor2D;
      }
      const out: tf.Tensor[] = [mu, tf.sum(act, 1)];
      let ac: tf.Tensor2D|null = null;
      if (withGram) {
        const g = this.gramPanels(act);
        out.push(...g.panels);
        ac = g.ac;
      }
      if (t != null) {
        const tt = tf.transpose(t) as tf.Tensor2D;
        // with the Gram's right operand `ac` on the right again, the wasm backend reuses its
        // packed copy (XNNPACK caches it by the right operand), instead of packing `t`
        out.push(ac != null ? tf.transpose(tf.matMul(tt, ac)) : tf.matMul(act, t as tf.Tensor2D),
                 tf.sum(tt, 1), tf.sum(tf.square(tt), 1));
      }
      return out;
    });
    try {
      const read = parts.map(p => p.dataSync() as Float32Array);
      const mu = read[0], sa = read[1];
      // exact column means of the batch: the float32 centring left Σ(a − μ) = sa, not 0
      const mean = new Float64Array(d);
      for (let i = 0; i < d; i++) mean[i] = mu[i] + sa[i] / n;
      if (withGram) {
        this.mergeBatchGram(n, mean, sa, read.slice(2, 2 + this.bounds.length - 1));
        this.system = null;
      }
      if (t != null) {
        const [x, st, sst] = read.slice(read.length - 3);
        const tMean = new Float64Array(k), tScatter = new Float64Array(k), cross = new Float64Array(d * k);
        for (let q = 0; q < k; q++) {
          tMean[q] = st[q] / n;
          tScatter[q] = sst[q] - st[q] * st[q] / n;
        }
        for (let i = 0; i < d; i++) {
          const sai = sa[i] / n;
          for (let q = 0; q < k; q++) cross[i * k + q] = x[i * k + q] - sai * st[q];
        }
        this.cross = mergeCross(this.cross, {n, mean, tMean, cross, tScatter});
      }
    } finally {
      tf.dispose(parts);
    }
  }

  /**
   * Merges one batch's Gram (its lower-triangle panels of Σ(a − μ)(a − μ)ᵀ,
   * with Σ(a − μ) = sa) into the float64 moments, over the lower triangle.
   */
  private mergeBatchGram(n: number, mean: Float64Array, sa: Float32Array, panels: Float32Array[]) {
    const d = this.inDim, b = this.bounds;
    let g = this.gram;
    const first = g == null || g.n === 0;
    if (first) g = this.gram = {n: 0, mean: new Float64Array(d), scatter: new Float64Array(d * d)};
    const total = g!.n + n, f = g!.n * n / total;
    const delta = new Float64Array(d);
    for (let i = 0; i < d; i++) delta[i] = mean[i] - g!.mean[i];
    const M = g!.scatter;
    for (let p = 0; p + 1 < b.length; p++) {
      const panel = panels[p], w = b[p + 1] - b[p], c0 = b[p];
      for (let i = c0; i < d; i++) {
        const src = (i - c0) * w, row = i * d, sai = sa[i] / n, fi = f * delta[i];
        const jEnd = Math.min(b[p + 1], i + 1);
        for (let j = c0; j < jEnd; j++) M[row + j] += panel[src + j - c0] - sai * sa[j] + fi * delta[j];
      }
    }
    for (let i = 0; i < d; i++) g!.mean[i] += delta[i] * n / total;
    g!.n = total;
  }

  /**
   * The lower-triangle column panels of `acᵀ·ac`, given `act = acᵀ` (call inside
   * tidy); `ac` when the Gram is one product with it on the right, else null.
   */
  private gramPanels(act: tf.Tensor2D): {panels: tf.Tensor2D[], ac: tf.Tensor2D|null} {
    const b = this.bounds, k = b.length - 1, d = this.inDim;
    if (k === 1) {
      const ac = tf.transpose(act) as tf.Tensor2D;
      return {panels: [tf.matMul(act, ac)], ac};
    }
    // Rows [i0, i1) of aᵀ.
    const rowsOf = (i0: number, i1: number): tf.Tensor2D => rowRange(act, i0, i1 - i0);
    const panels: tf.Tensor2D[] = [];
    for (let p = 0; p < k; p++) {
      const rows = p === 0 ? act : rowsOf(b[p], d);
      panels.push(tf.matMul(rows, tf.transpose(rowsOf(b[p], b[p + 1]))));
    }
    return {panels, ac: null};
  }

  /**
   * The statistics as float64 moments (copies): the Gram part when
   * `withGram` (and there is one), the targets' part when there is one.
   * The scatter is returned with both triangles filled.
   */
  moments(withGram = true): RidgeMoments {
    const d = this.inDim, k = this.outDim;
    const g = withGram && this.gram != null && this.gram.n > 0 ?
        {n: this.gram.n, mean: Float64Array.from(this.gram.mean), scatter: Float64Array.from(this.gram.scatter)} : null;
    if (g != null) mirrorLower(g.scatter, d);
    const c = this.cross != null && this.cross.n > 0 ?
        {n: this.cross.n, mean: Float64Array.from(this.cross.mean), tMean: Float64Array.from(this.cross.tMean),
         cross: Float64Array.from(this.cross.cross), tScatter: Float64Array.from(this.cross.tScatter)} : null;
    return {d, k, gram: g, cross: c};
  }

  /**
   * Hands the statistics over as moments without copying them (the scatter
   * with both triangles filled) and forgets them: what a map step returns.
   */
  takeMoments(withGram = true): RidgeMoments {
    const d = this.inDim, k = this.outDim;
    const g = withGram && this.gram != null && this.gram.n > 0 ? this.gram : null;
    if (g != null) mirrorLower(g.scatter, d);
    const c = this.cross != null && this.cross.n > 0 ? this.cross : null;
    this.reset();
    return {d, k, gram: g, cross: c};
  }

  /**
   * The statistics as a {@link RidgeState} (new tensors the caller owns),
   * centred at the inputs' mean. The Gram and the targets must cover the same rows.
   */
  exportState(): RidgeState {
    const n = this.count;
    if (n !== (this.cross?.n ?? 0)) {
      throw new ERInputError(
          `${this.label}: cannot export statistics whose Gram covers ${n} rows and targets ${this.cross?.n ?? 0}`);
    }
    return stateFromMoments(this.moments());
  }

  /**
   * An accumulator holding `state`'s statistics (copied; the state stays the
   * caller's), ready for more rows or a solve.
   */
  static fromState(state: RidgeState, label = 'ridge', gramBlock?: number): RidgeAccumulator {
    const m = momentsFromState(state, label);
    const acc = new RidgeAccumulator(m.d, m.k, label, gramBlock);
    acc.gram = m.gram;
    acc.cross = m.cross;
    return acc;
  }

  /**
   * Appends target columns to the statistics as if every row seen so far had
   * target `value` in each of them (e.g. −2, "not this class", for a class
   * added later), without revisiting a row. Returns a new accumulator; this
   * one is unchanged.
   */
  withExtraTargets(columns: number, value: number): RidgeAccumulator {
    if (!(Number.isInteger(columns) && columns >= 1)) {
      throw new ERInputError(`${this.label}: columns to append must be an integer >= 1, got ${columns}`);
    }
    const m = withConstantTargets(this.moments(), columns, value);
    const acc = new RidgeAccumulator(this.inDim, this.outDim + columns, this.label, this.gramBlock);
    acc.gram = m.gram;
    acc.cross = m.cross;
    return acc;
  }

  /** Forgets the targets, keeping the Gram for new targets. */
  resetCross(): void {
    this.cross = null;
  }

  /** Forgets everything. */
  reset(): void {
    this.gram = null;
    this.cross = null;
    this.system = null;
  }

  /** Releases the statistics (they live in host memory; nothing is left on the backend). */
  dispose(): void {
    this.reset();
  }

  /**
   * Solves the ridge regression. A second solve on an unchanged Gram (only
   * the targets were reset and refilled) reuses the factorisation when α and
   * centring are the same.
   */
  solve(config: RidgeSolveConfig = {}): RidgeSolution {
    const kept = this.system;
    const reusable = kept != null && config.alpha !== 'auto' && kept.alpha === (config.alpha ?? 1e-3) &&
        kept.centred === (config.fitIntercept ?? true) && kept.n === this.count;
    const m = this.moments(!reusable);
    if (reusable && m.cross != null && m.cross.n !== this.count) {
      throw new ERInputError(`${this.label}: the Gram covers ${this.count} rows but the targets cover ` +
                             `${m.cross.n}; feed the same rows to addGram and addCross`);
    }
    if (m.cross == null || (m.gram == null && !reusable)) {
      throw new ERInputError(`${this.label}: no rows were accumulated (empty data); pass at least one batch ` +
                             `with one row before solving`);
    }
    const {solution, system} = solveRidge(m, config, this.label, reusable ? kept : null);
    this.system = system;
    return solution;
  }

  /**
   * Ridge refit of the fields of an unchanged linear map `h = a·W0 + b0` on
   * the same Gram and ridge as the last {@link solve} (see `refitLinear`).
   */
  refitLinear(W0: Float64Array, b0: Float64Array, k: number): {W: Float64Array, b: Float64Array} {
    if (this.system == null) throw new Error(`${this.label}: refitLinear needs a previous solve()`);
    return refitLinear(this.system, W0, b0, k);
  }

  private checkA(a: tf.Tensor) {
    if (a.rank !== 2 || a.shape[1] !== this.inDim) {
      throw new ERInputError(`${this.label}: inputs must have shape [rows, ${this.inDim}], got [${a.shape}]`);
    }
    if (a.shape[0] === 0) throw new ERInputError(`${this.label}: empty batch (0 rows); skip it instead`);
  }

  private checkT(a: tf.Tensor, t: tf.Tensor) {
    if (t.rank !== 2 || t.shape[1] !== this.outDim || t.shape[0] !== a.shape[0]) {
      throw new ERInputError(
          `${this.label}: targets must have shape [${a.shape[0]}, ${this.outDim}] to match the inputs, ` +
          `got [${t.shape}]`);
    }
  }
}
