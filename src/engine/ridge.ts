/**
 * Streaming statistics for centred ridge regression `t ≈ a·W + b`.
 *
 * `add(a, t)` folds one batch into on-device float32 sums — the Gram `aᵀa`,
 * the cross product `aᵀt`, column sums and a count — so memory is
 * O(d² + d·k) whatever the number of rows. To keep float32 accurate, rows are
 * shifted by a fixed vector (the first batch's column means) before they are
 * multiplied: the shifted Gram is nearly centred, so the centring done later
 * in float64 does not cancel. `solve()` reads the sums back and solves the
 * d×d system in float64 (see `spd.ts`).
 *
 * The Gram uses an explicit `tf.transpose` rather than the `transposeA` flag
 * of `matMul`, which is 10–60× slower on the wasm backend. `aᵀa` is
 * symmetric, so only its lower triangle is accumulated, as column panels
 * `G[i₀:d, i₀:i₁] = aᵀ[i₀:d, :]·a[:, i₀:i₁]` (panels ~500 wide): k panels do
 * (k+1)/2k of the full product. Tall panels (many rows, few columns) keep
 * XNNPACK's matmul fast, because the narrow right operand is what it packs;
 * measured here on wasm, batch 2000, as must-do GFLOP/s (N·d(d+1) flops)
 * against a plain 2000×784·784×d matMul: d = 4000, 8 panels 23.0 vs 27.8
 * (82 %; the full product 34 %, upper-triangle row panels 63 %); d = 1000,
 * 2 panels 17.1 vs 30.4 (56 %; the full product 49 %). Panels are used from
 * three panels' width (d ≥ 1500) up: at d = 1000 two panels made the Gram
 * 17 % faster but raised the peak resident memory of a 784-1000-10 ER fit on
 * 60k MNIST rows by ~35 MB (their extra temporaries in the wasm heap). Tried
 * later at d = 1000: eight 125-wide panels from 36 row-block products
 * (P_q·P_pᵀ, q ≥ p, blocks copied heap to heap) reached 69 % (the products
 * alone run at full matMul speed; shift, transpose and copies are the rest),
 * the fit's time −9 to −16 %, but its measured peak up 25–40 MB again (same
 * wasm heap size; a garbage collection landing differently): not adopted.
 * The `cost` bench bounds any such scheme: the must-do products at the plain
 * rate plus the shift, transpose and one strided block copy every batch pays
 * give 87 % at d = 1000; k panels do (k+1)/2k of the full product, 1/k more
 * than the must-do flops (8 panels: ≤ 79 % before any slicing), so 80 % would
 * need ~16 panels running at the plain rate with almost free slicing.
 * Measured with public ops (`bench/gram_panels.ts`: one read-back, row
 * blocks from its subarrays, per-block transposes, a concat per panel):
 * 8 / 12 / 16 / 20 panels 68 / 69 / 71 / 69 %, the full product 47 %.
 */
import * as tf from '@tensorflow/tfjs-core';
import {ERInputError, ERNumericalError} from './errors';
import {columnSums} from './reduce';
import {choleskySolveInPlace, solveSPD, solveSPDInPlace, symmetrize} from './spd';

/** Options of {@link RidgeAccumulator.solve}. */
export interface RidgeSolveConfig {
  /**
   * Dimensionless ridge: `λ = alpha · trace(cov a) / d`. Default 1e-3.
   * 'auto' picks it from {@link AUTO_ALPHAS} by generalised cross-validation
   * (GCV), computed from the statistics alone (centred fits only).
   */
  alpha?: number|'auto';
  /** Fit an unpenalised intercept by centring (default true). */
  fitIntercept?: boolean;
}

/** A solved ridge regression, in float64. */
export interface RidgeSolution {
  /** Weights, d×k row-major. */
  W: Float64Array;
  /** Intercept, length k (zeros when `fitIntercept` is false). */
  b: Float64Array;
  /** Input width d. */
  inDim: number;
  /** Output width k. */
  outDim: number;
  /** The ridge λ that was requested. */
  lambda: number;
  /** The ridge λ finally used (raised if the system was not positive definite). */
  lambdaUsed: number;
  /** The dimensionless α used (the chosen one with alpha 'auto'). */
  alpha: number;
  /** Rows the statistics cover. */
  count: number;
  /** Human-readable notes (e.g. the ridge was raised); empty when all went well. */
  warnings: string[];
}

/**
 * The sums a {@link RidgeAccumulator} holds, as plain tensors (full Gram), so
 * they can be stored (e.g. as a layer's non-trainable weights) and restored:
 * the statistics are additive, so new rows can be folded in later without the
 * old ones. Tensors of an exported state belong to the caller.
 */
export interface RidgeState {
  /** Gram of the shifted inputs, Σ (a − shift)ᵀ(a − shift), d×d. */
  gram: tf.Tensor2D;
  /** Column sums of the shifted inputs, d. */
  sumA: tf.Tensor1D;
  /** Cross product Σ (a − shift)ᵀ t, d×k. */
  cross: tf.Tensor2D;
  /** Column sums of the targets, k. */
  sumT: tf.Tensor1D;
  /** Column sums of the squared targets, k (for the automatic ridge). */
  sumSqT: tf.Tensor1D;
  /** The fixed shift (the first batch's column means), d. */
  shift: tf.Tensor1D;
  /** Rows covered (0: the other fields are ignored). */
  count: number;
}

/** Disposes the tensors of a {@link RidgeState}. */
export function disposeRidgeState(state: RidgeState): void {
  tf.dispose([state.gram, state.sumA, state.cross, state.sumT, state.sumSqT, state.shift]);
}

/** What a solve keeps of its factorisation, for re-solves and refits on the same Gram. */
interface Factored {
  /** Cholesky factor (lower triangle) of the covariance plus `shift`·I. */
  factor: Float64Array;
  /** Column means of the inputs. */
  mean: Float64Array;
  centred: boolean;
  /** The ridge requested. */
  lambda: number;
  /** The ridge finally used (raised if the system was not positive definite). */
  shift: number;
  /** The α it was factored for; null after an automatic (GCV) choice, redone for new targets. */
  alpha: number|null;
  /** Notes of the factorisation, repeated by every solve that reuses it. */
  warnings: string[];
}

/** The α grid of `alpha: 'auto'` (log-spaced, 1e-4 … 10). */
export const AUTO_ALPHAS: ReadonlyArray<number> = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1, 3, 10];

/**
 * Backends whose `slice` copies the whole source tensor to JS before taking
 * the slice (tfjs-backend-wasm 4.22: Slice calls `readSync` on the source).
 * The Gram panels read a batch back once instead of slicing it 2k − 1 times:
 * measured on the ER fit of 784-1000-10 (60k MNIST, batch 2000), the slices'
 * transient copies raised the peak resident memory by 37 MB.
 */
const WHOLE_COPY_SLICE = new Set(['wasm']);

/** Target width of one Gram panel (see the module comment). */
const GRAM_BLOCK = 500;
/**
 * Narrower Grams are one full product: panels save little there and their
 * extra temporaries cost memory (see the module comment).
 */
const MIN_PANELS = 3;

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
  /** Lower-triangle column panels of the shifted Gram: panel p = G[bounds[p]:d, bounds[p]:bounds[p+1]]. */
  private gram: tf.Tensor2D[]|null = null;
  /** Panel boundaries: panel p covers columns [bounds[p], bounds[p+1]). */
  private readonly bounds: number[];
  /** Target width of one Gram panel. */
  private readonly gramBlock: number;
  private cross: tf.Tensor2D|null = null;
  private sumA: tf.Tensor1D|null = null;
  private sumT: tf.Tensor1D|null = null;
  private sumSqT: tf.Tensor1D|null = null;
  private shift: tf.Tensor1D|null = null;
  private gramCount = 0;
  private crossCount = 0;
  /** The last solve's factorisation while the Gram is unchanged (null after new rows). */
  private factored: Factored|null = null;

  /**
   * @param inDim width d of the inputs `a`.
   * @param outDim width k of the targets `t`.
   * @param label names the layer in error messages.
   * @param gramBlock target width of the Gram's panels (default 500; below
   *     three panels' width the Gram is one product; see the module comment).
   */
  constructor(readonly inDim: number, readonly outDim: number,
              readonly label = 'ridge', gramBlock = GRAM_BLOCK) {
    if (!(Number.isInteger(inDim) && inDim > 0 && Number.isInteger(outDim) && outDim > 0)) {
      throw new ERInputError(
          `${label}: RidgeAccumulator needs positive integer widths, got ` +
          `inDim=${inDim}, outDim=${outDim}`);
    }
    if (!(Number.isInteger(gramBlock) && gramBlock > 0)) {
      throw new ERInputError(`${label}: gramBlock must be a positive integer, got ${gramBlock}`);
    }
    this.gramBlock = gramBlock;
    const k = inDim >= MIN_PANELS * gramBlock ? Math.round(inDim / gramBlock) : 1;
    this.bounds = Array.from({length: k + 1}, (_, b) => Math.round(b * inDim / k));
  }

  /** Rows folded into the Gram so far. */
  get count(): number { return this.gramCount; }

  /** True once a Gram has been accumulated (it can be reused for new targets). */
  get hasGram(): boolean { return this.gramCount > 0; }

  /** Folds a batch of inputs `a` (n×d) and targets `t` (n×k) into the sums. */
  add(a: tf.Tensor, t: tf.Tensor): void {
    this.checkA(a);
    this.checkT(a, t);
    this.fold(a, t, true);
  }

  /** Folds a batch of inputs into the Gram and column sums only. */
  addGram(a: tf.Tensor): void {
    this.checkA(a);
    this.fold(a, null, true);
  }

  /**
   * Folds a batch into the cross product `aᵀt` and target sums only; the Gram
   * must cover the same rows (from {@link addGram}, possibly in another pass).
   */
  addCross(a: tf.Tensor, t: tf.Tensor): void {
    this.checkA(a);
    this.checkT(a, t);
    this.fold(a, t, false);
  }

  /**
   * Adds one checked batch: the Gram panels and column sums (`withGram`),
   * the cross product and target sums (`t`). The batch is shifted and
   * transposed once for both. Column sums are inner-axis sums of `aᵀ` and
   * matrix products `1ᵀt` (see `reduce.ts`), not `tf.sum(·, 0)`, which
   * transposes the whole batch first.
   */
  private fold(a: tf.Tensor, t: tf.Tensor|null, withGram: boolean) {
    this.ensureShift(a);
    const sums = tf.tidy(() => {
      const as = tf.sub(a, this.shift!) as tf.Tensor2D;
      const ast = tf.transpose(as) as tf.Tensor2D;
      const next: Partial<Record<'gram'|'sumA'|'cross'|'sumT'|'sumSqT', tf.Tensor|tf.Tensor[]>> = {};
      if (withGram) {
        const batch = this.gramPanels(as, ast);
        next.gram = this.gram ? batch.map((g, i) => tf.add(this.gram![i], g)) : batch;
        next.sumA = plus(this.sumA, tf.sum(ast, 1));
      }
      if (t != null) {
        next.cross = plus(this.cross, tf.matMul(ast, t as tf.Tensor2D));
        next.sumT = plus(this.sumT, columnSums(t));
        next.sumSqT = plus(this.sumSqT, columnSums(tf.square(t)));
      }
      return next;
    });
    if (sums.gram != null) {
      tf.dispose([...(this.gram ?? []), this.sumA].filter(x => x != null) as tf.Tensor[]);
      this.gram = (sums.gram as tf.Tensor2D[]).map(g => tf.keep(g));
      this.sumA = tf.keep(sums.sumA as tf.Tensor1D);
      this.gramCount += a.shape[0];
      this.invalidate();
    }
    if (t != null) {
      tf.dispose([this.cross, this.sumT, this.sumSqT].filter(x => x != null) as tf.Tensor[]);
      this.cross = tf.keep(sums.cross as tf.Tensor2D);
      this.sumT = tf.keep(sums.sumT as tf.Tensor1D);
      this.sumSqT = tf.keep(sums.sumSqT as tf.Tensor1D);
      this.crossCount += a.shape[0];
    }
  }

  /** The lower-triangle column panels of `asᵀ·as`, given `as` and `ast = asᵀ` (call inside tidy). */
  private gramPanels(as: tf.Tensor2D, ast: tf.Tensor2D): tf.Tensor2D[] {
    const b = this.bounds, k = b.length - 1, n = as.shape[0], d = this.inDim;
    if (k === 1) return [tf.matMul(ast, as)];
    // Rows [i0, i1) of aᵀ. The wasm backend's slice copies its whole source
    // to JS each time (2k − 1 copies of the batch per call); there one
    // read-back serves every panel (see WHOLE_COPY_SLICE).
    const host = WHOLE_COPY_SLICE.has(tf.getBackend()) ? ast.dataSync() as Float32Array : null;
    const rowsOf = (i0: number, i1: number): tf.Tensor2D => host != null ?
        tf.tensor2d(host.subarray(i0 * n, i1 * n), [i1 - i0, n]) : tf.slice(ast, [i0, 0], [i1 - i0, n]);
    const out: tf.Tensor2D[] = [];
    for (let p = 0; p < k; p++) {
      const rows = p === 0 ? ast : rowsOf(b[p], d);
      const cols = host != null ? tf.transpose(rowsOf(b[p], b[p + 1])) :
                                  tf.slice(as, [0, b[p]], [n, b[p + 1] - b[p]]);
      out.push(tf.matMul(rows, cols));
    }
    return out;
  }

  /**
   * The sums as a {@link RidgeState} (new tensors the caller owns). The Gram
   * and the targets must cover the same rows.
   */
  exportState(): RidgeState {
    if (this.gramCount !== this.crossCount) {
      throw new ERInputError(
          `${this.label}: cannot export statistics whose Gram covers ${this.gramCount} rows ` +
          `and targets ${this.crossCount}`);
    }
    const d = this.inDim, k = this.outDim;
    if (this.gramCount === 0) {
      return tf.tidy(() => ({
        gram: tf.zeros([d, d]) as tf.Tensor2D, sumA: tf.zeros([d]) as tf.Tensor1D,
        cross: tf.zeros([d, k]) as tf.Tensor2D, sumT: tf.zeros([k]) as tf.Tensor1D,
        sumSqT: tf.zeros([k]) as tf.Tensor1D,
        shift: tf.zeros([d]) as tf.Tensor1D, count: 0,
      }));
    }
    return tf.tidy(() => ({
      gram: this.fullGram(), sumA: tf.clone(this.sumA!), cross: tf.clone(this.cross!),
      sumT: tf.clone(this.sumT!), sumSqT: tf.clone(this.sumSqT!), shift: tf.clone(this.shift!),
      count: this.gramCount,
    }));
  }

  /**
   * An accumulator holding `state`'s sums (copied; the state stays the
   * caller's), ready for more rows or a solve.
   */
  static fromState(state: RidgeState, label = 'ridge', gramBlock = GRAM_BLOCK): RidgeAccumulator {
    const [d, k] = state.cross.shape;
    const acc = new RidgeAccumulator(d, k, label, gramBlock);
    const shapes: Array<[string, tf.Tensor, number[]]> = [
      ['gram', state.gram, [d, d]], ['sumA', state.sumA, [d]], ['sumT', state.sumT, [k]],
      ['sumSqT', state.sumSqT, [k]],
      ['shift', state.shift, [d]]];
    for (const [name, t, shape] of shapes) {
      if (!tf.util.arraysEqual(t.shape, shape)) {
        throw new ERInputError(
            `${label}: stored statistics '${name}' have shape [${t.shape}], expected [${shape}]`);
      }
    }
    if (!(Number.isInteger(state.count) && state.count >= 0)) {
      throw new ERInputError(`${label}: stored row count must be an integer >= 0, got ${state.count}`);
    }
    if (state.count === 0) return acc;
    const b = acc.bounds;
    acc.gram = b.slice(0, -1).map((start, p) =>
        tf.keep(tf.slice(state.gram, [start, start], [d - start, b[p + 1] - start])));
    acc.sumA = tf.keep(tf.clone(state.sumA));
    acc.cross = tf.keep(tf.clone(state.cross));
    acc.sumT = tf.keep(tf.clone(state.sumT));
    acc.sumSqT = tf.keep(tf.clone(state.sumSqT));
    acc.shift = tf.keep(tf.clone(state.shift));
    acc.gramCount = acc.crossCount = state.count;
    return acc;
  }

  /** The full shifted Gram on the device, from its lower-triangle panels (call inside tidy). */
  private fullGram(): tf.Tensor2D {
    const b = this.bounds;
    if (b.length === 2) return tf.clone(this.gram![0]);
    // Panels padded with zero rows above, side by side: the lower triangle
    // plus the full diagonal blocks; keep its lower triangle L, then L + strict(L)ᵀ.
    const lower = tf.linalg.bandPart(
        tf.concat(this.gram!.map((g, p) => tf.pad(g, [[b[p], 0], [0, 0]])), 1), -1, 0) as tf.Tensor2D;
    const strict = tf.sub(lower, tf.linalg.bandPart(lower, 0, 0));
    return tf.add(lower, tf.transpose(strict)) as tf.Tensor2D;
  }

  /**
   * Appends target columns to the statistics as if every row seen so far had
   * target `value` in each of them (e.g. −2, "not this class", for a class
   * added later): `Σ (a − shift)ᵀ·value` and `N·value` are known from the
   * sums, so no row is revisited. Returns a new accumulator; this one is unchanged.
   */
  withExtraTargets(columns: number, value: number): RidgeAccumulator {
    if (!(Number.isInteger(columns) && columns >= 1)) {
      throw new ERInputError(`${this.label}: columns to append must be an integer >= 1, got ${columns}`);
    }
    const acc = new RidgeAccumulator(this.inDim, this.outDim + columns, this.label, this.gramBlock);
    if (this.gramCount === 0 && this.crossCount === 0) return acc;
    const state = this.exportState();
    try {
      const grown = tf.tidy(() => ({
        ...state,
        cross: tf.concat([state.cross, tf.tile(tf.reshape(tf.mul(state.sumA, value), [-1, 1]), [1, columns])], 1) as tf.Tensor2D,
        sumT: tf.concat([state.sumT, tf.fill([columns], value * state.count)]) as tf.Tensor1D,
        sumSqT: tf.concat([state.sumSqT, tf.fill([columns], value * value * state.count)]) as tf.Tensor1D,
      }));
      try {
        return RidgeAccumulator.fromState(grown, this.label, this.gramBlock);
      } finally {
        tf.dispose([grown.cross, grown.sumT, grown.sumSqT]);
      }
    } finally {
      disposeRidgeState(state);
    }
  }

  /** Forgets the targets (cross product), keeping the Gram for new targets. */
  resetCross(): void {
    tf.dispose([this.cross, this.sumT, this.sumSqT].filter(x => x != null) as tf.Tensor[]);
    this.cross = null;
    this.sumT = null;
    this.sumSqT = null;
    this.crossCount = 0;
  }

  /** Forgets everything. */
  reset(): void {
    this.resetCross();
    tf.dispose([...(this.gram ?? []), this.sumA, this.shift].filter(t => t != null) as tf.Tensor[]);
    this.gram = null;
    this.sumA = this.shift = null;
    this.gramCount = 0;
    this.invalidate();
  }

  /** Releases all tensors. */
  dispose(): void { this.reset(); }

  /** Solves the ridge regression from the sums (synchronous read-back). */
  solve(config: RidgeSolveConfig = {}): RidgeSolution {
    const auto = config.alpha === 'auto';
    let alpha = auto ? 1e-3 : (config.alpha as number|undefined) ?? 1e-3;
    const centred = config.fitIntercept ?? true;
    if (auto && !centred) {
      throw new ERInputError(`${this.label}: alpha 'auto' needs a centred fit (fitIntercept true)`);
    }
    if (!(alpha >= 0) || !Number.isFinite(alpha)) {
      throw new ERInputError(`${this.label}: alpha must be a finite number >= 0, got ${alpha}`);
    }
    if (this.gramCount === 0 || this.crossCount === 0) {
      throw new ERInputError(
          `${this.label}: no rows were accumulated (empty data); pass at least one batch ` +
          `with one row before solving`);
    }
    if (this.gramCount !== this.crossCount) {
      throw new ERInputError(
          `${this.label}: the Gram covers ${this.gramCount} rows but the targets ` +
          `cover ${this.crossCount}; feed the same rows to addGram and addCross`);
    }
    const d = this.inDim, k = this.outDim, n = this.gramCount;
    // Same Gram (no rows added since the last solve) and ridge: only the
    // targets changed, so the factor of the last solve still applies.
    const kept = this.factored;
    const reuse = !auto && kept != null && kept.alpha === alpha && kept.centred === centred;
    const G = reuse ? null : this.readGram();
    const X = Float64Array.from(this.cross!.dataSync());
    const sa = this.sumA!.dataSync(), st = this.sumT!.dataSync();
    const shift = this.shift!.dataSync();
    if (G != null && (!allFinite(G) || !allFinite(sa))) {
      throw new ERNumericalError(
          `${this.label}: the inputs contain NaN or Infinity (their Gram is not ` +
          `finite); clean the data or the layer below. Weights were not changed.`);
    }
    if (!allFinite(X) || !allFinite(st)) {
      throw new ERNumericalError(
          `${this.label}: the targets contain NaN or Infinity; check the labels ` +
          `(and the layer above). Weights were not changed.`);
    }
    const m = new Float64Array(d);  // mean of shifted inputs
    for (let i = 0; i < d; i++) m[i] = sa[i] / n;
    const tbar = new Float64Array(k);
    for (let q = 0; q < k; q++) tbar[q] = st[q] / n;
    // rhs: Σ aᵀt/n centred (or uncentred, un-shifted)
    for (let i = 0; i < d; i++) {
      for (let q = 0; q < k; q++) {
        let v = X[i * k + q] / n;
        if (centred) v -= m[i] * tbar[q];
        else v += shift[i] * tbar[q];
        X[i * k + q] = v;
      }
    }
    let W: Float64Array, f: Factored;
    if (G == null) {
      f = kept!;
      W = X;
      choleskySolveInPlace(f.factor, d, W, k);
    } else {
      const warnings: string[] = [];
      // C = G/n − m mᵀ (centred) or (Σ aaᵀ)/n (uncentred)
      for (let i = 0; i < d; i++) {
        for (let j = 0; j < d; j++) {
          let v = G[i * d + j] / n;
          if (centred) v -= m[i] * m[j];
          else v += m[i] * shift[j] + shift[i] * m[j] + shift[i] * shift[j];
          G[i * d + j] = v;
        }
      }
      symmetrize(G, d);
      let trace = 0;
      for (let i = 0; i < d; i++) trace += G[i * d + i];
      if (auto && trace > 0) {
        const ss = this.sumSqT!.dataSync();
        let sst = 0;  // Σ_q var(t_q)
        for (let q = 0; q < k; q++) sst += ss[q] / n - tbar[q] * tbar[q];
        alpha = gcvAlpha(G, X, d, k, n, trace, sst);
      }
      let lambda = alpha * trace / d;
      if (!(trace > 0)) {
        warnings.push(`${this.label}: the inputs are constant (zero variance); ` +
                      `weights set to zero, bias to the target mean`);
        lambda = 1;
      }
      const r = solveSPDInPlace(G, d, X, k, lambda);  // G is ours: it becomes the factor
      if (r.raises > 0) {
        warnings.push(
            `${this.label}: the ${d}×${d} Gram was singular at ridge ${lambda.toPrecision(3)}; ` +
            `raised to ${r.shift.toPrecision(3)} (${r.raises}×) to solve. Raise alpha to ` +
            `silence this.`);
      }
      W = r.x;
      const mean = new Float64Array(d);
      for (let i = 0; i < d; i++) mean[i] = shift[i] + m[i];
      f = {factor: r.factor, mean, centred, shift: r.shift, lambda, alpha: auto ? null : alpha, warnings};
      this.factored = f;
    }
    const b = new Float64Array(k);
    if (centred) {
      for (let q = 0; q < k; q++) {
        let s = tbar[q];
        for (let i = 0; i < d; i++) s -= (shift[i] + m[i]) * W[i * k + q];
        b[q] = s;
      }
    }
    return {W, b, inDim: d, outDim: k, lambda: f.lambda, lambdaUsed: f.shift, alpha, count: n,
            warnings: f.warnings.slice()};
  }

  /**
   * Ridge refit of the fields of an unchanged linear map `h = a·W0 + b0` on
   * the same Gram and ridge as the last {@link solve}: because cov(a, h) = C·W0,
   * `W = (C + λI)⁻¹ C W0 = W0 − λ (C + λI)⁻¹ W0`, with no pass over the data.
   * Used by the automatic step search (`mode: 'erls'`).
   */
  refitLinear(W0: Float64Array, b0: Float64Array, k: number):
      {W: Float64Array, b: Float64Array} {
    const f = this.factored;
    if (f == null) throw new Error(`${this.label}: refitLinear needs a previous solve()`);
    const d = this.inDim;
    const x = new Float64Array(W0);
    choleskySolveInPlace(f.factor, d, x, k);
    const W = new Float64Array(d * k);
    for (let i = 0; i < W.length; i++) W[i] = W0[i] - f.shift * x[i];
    const b = new Float64Array(k);
    for (let q = 0; q < k; q++) {
      let s = b0[q];
      if (f.centred) {
        for (let i = 0; i < d; i++) s += f.mean[i] * (W0[i * k + q] - W[i * k + q]);
      }
      b[q] = s;
    }
    return {W, b};
  }

  /** The full d×d shifted Gram in float64, assembled from its panels. */
  private readGram(): Float64Array {
    const d = this.inDim, b = this.bounds;
    const G = new Float64Array(d * d);
    for (let p = 0; p + 1 < b.length; p++) {
      const panel = this.gram![p].dataSync();
      const w = b[p + 1] - b[p];
      for (let r = b[p]; r < d; r++) {
        const src = (r - b[p]) * w;
        for (let c = 0; c < w; c++) {
          const v = panel[src + c];
          G[r * d + b[p] + c] = v;
          G[(b[p] + c) * d + r] = v;
        }
      }
    }
    return G;
  }

  private invalidate() {
    this.factored = null;
  }

  private ensureShift(a: tf.Tensor) {
    if (this.shift == null) {
      this.shift = tf.keep(tf.tidy(() => tf.mean(a, 0) as tf.Tensor1D));
    }
  }

  private checkA(a: tf.Tensor) {
    if (a.rank !== 2 || a.shape[1] !== this.inDim) {
      throw new ERInputError(
          `${this.label}: inputs must have shape [rows, ${this.inDim}], got ` +
          `[${a.shape}]`);
    }
    if (a.shape[0] === 0) {
      throw new ERInputError(`${this.label}: empty batch (0 rows); skip it instead`);
    }
  }

  private checkT(a: tf.Tensor, t: tf.Tensor) {
    if (t.rank !== 2 || t.shape[1] !== this.outDim || t.shape[0] !== a.shape[0]) {
      throw new ERInputError(
          `${this.label}: targets must have shape [${a.shape[0]}, ${this.outDim}] ` +
          `to match the inputs, got [${t.shape}]`);
    }
  }
}

/**
 * The α of {@link AUTO_ALPHAS} with the smallest generalised cross-validation
 * score `GCV = (RSS/n) / (1 − (df + 1)/n)²` (df = tr C(C + λI)⁻¹, +1 for the
 * intercept), from the centred covariance `C` (d×d), cross-covariance `R`
 * (d×k) and total target variance `sst`, all per row. RSS/n =
 * sst − 2·tr(WᵀR) + tr(WᵀCW) needs no pass over the data.
 */
function gcvAlpha(C: Float64Array, R: Float64Array, d: number, k: number, n: number, trace: number,
                  sst: number): number {
  let best = AUTO_ALPHAS[AUTO_ALPHAS.length - 1], bestScore = Infinity;
  const cw = new Float64Array(d * k);
  for (const a of AUTO_ALPHAS) {
    const r = solveSPD(C, d, R, k, a * trace / d);
    const W = r.x;
    // C·W
    cw.fill(0);
    for (let i = 0; i < d; i++) {
      const ci = i * d;
      for (let j = 0; j < d; j++) {
        const c = C[ci + j];
        if (c === 0) continue;
        for (let q = 0; q < k; q++) cw[i * k + q] += c * W[j * k + q];
      }
    }
    let rss = sst;
    for (let i = 0; i < d * k; i++) rss += W[i] * (cw[i] - 2 * R[i]);
    const df = d - r.shift * inverseTrace(r.factor, d) + 1;
    const denom = 1 - df / n;
    const score = denom > 1e-9 ? Math.max(rss, 0) / (denom * denom) : Infinity;
    if (score < bestScore) {
      bestScore = score;
      best = a;
    }
  }
  return best;
}

/** tr(A⁻¹) from the Cholesky factor L of A (row-major lower): Σ (L⁻¹)ᵢⱼ². */
function inverseTrace(L: Float64Array, n: number): number {
  let total = 0;
  const z = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    // L z = e_j; z_i = 0 for i < j
    z.fill(0, j);
    for (let i = j; i < n; i++) {
      let s = i === j ? 1 : 0;
      const li = i * n;
      for (let m = j; m < i; m++) s -= L[li + m] * z[m];
      z[i] = s / L[li + i];
      total += z[i] * z[i];
    }
  }
  return total;
}

/** `sum + batch`, or `batch` for the first batch (call inside tidy). */
function plus(sum: tf.Tensor|null, batch: tf.Tensor): tf.Tensor {
  return sum != null ? tf.add(sum, batch) : batch;
}

function allFinite(x: ArrayLike<number>): boolean {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return false;
  return true;
}
