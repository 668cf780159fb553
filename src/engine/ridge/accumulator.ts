/**
 * Streaming sums for a centred ridge regression `t ≈ a·W + b`, on the tfjs
 * backend: `add(a, t)` folds one batch into float32 sums — the Gram `aᵀa`,
 * the cross product `aᵀt`, column sums and a count — so memory is
 * O(d² + d·k) whatever the number of rows. Rows are shifted by a fixed vector
 * (the first batch's column means) before they are multiplied, so the Gram is
 * nearly centred and the float64 centring done later does not cancel.
 * `exportStats()` reads the sums back as plain arrays (a map step's output);
 * `solve()` merges and solves them in float64 (`solve.ts`).
 *
 * The Gram uses an explicit `tf.transpose`, not `matMul`'s `transposeA`
 * (10–60× slower on wasm). Being symmetric, wide Grams (three panels' width
 * and up) accumulate only their lower triangle, as column panels
 * `G[i₀:d, i₀:i₁] = aᵀ[i₀:d, :]·a[:, i₀:i₁]`; see docs/performance.md.
 */
import * as tf from '@tensorflow/tfjs-core';
import {ERInputError} from '../errors';
import {columnSums} from '../reduce';
import {mergeShardStats, RidgeMoments, RidgeShardStats} from './moments';
import {refitLinear, RidgeSolution, RidgeSolveConfig, RidgeSystem, solveRidge} from './solve';

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

/**
 * Backends whose `slice` copies the whole source tensor to JS before taking
 * the slice (tfjs-backend-wasm 4.22: Slice calls `readSync` on the source):
 * there the Gram panels read a batch back once instead of slicing it 2k − 1
 * times.
 */
const WHOLE_COPY_SLICE = new Set(['wasm']);

/** Target width of one Gram panel. */
const GRAM_BLOCK = 500;
/** Narrower Grams are one full product: panels save little there and their temporaries cost memory. */
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
  /** Σ (a − shift) over the Gram's rows. */
  private sumA: tf.Tensor1D|null = null;
  /** Σ (a − shift) over the cross product's rows (they may be only those). */
  private sumAX: tf.Tensor1D|null = null;
  private sumT: tf.Tensor1D|null = null;
  private sumSqT: tf.Tensor1D|null = null;
  private shift: tf.Tensor1D|null = null;
  private gramCount = 0;
  private crossCount = 0;
  /** The last solve's factorisation while the Gram is unchanged (null after new rows). */
  private system: RidgeSystem|null = null;

  /**
   * @param inDim width d of the inputs `a`.
   * @param outDim width k of the targets `t`.
   * @param label names the layer in error messages.
   * @param gramBlock target width of the Gram's panels (default 500; below
   *     three panels' width the Gram is one product).
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
      const next: Partial<Record<'gram'|'sumA'|'sumAX'|'cross'|'sumT'|'sumSqT', tf.Tensor|tf.Tensor[]>> = {};
      const rowSums = tf.sum(ast, 1);
      if (withGram) {
        const batch = this.gramPanels(as, ast);
        next.gram = this.gram ? batch.map((g, i) => tf.add(this.gram![i], g)) : batch;
        next.sumA = plus(this.sumA, rowSums);
      }
      if (t != null) {
        next.sumAX = plus(this.sumAX, withGram ? tf.clone(rowSums) : rowSums);
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
      tf.dispose([this.cross, this.sumAX, this.sumT, this.sumSqT].filter(x => x != null) as tf.Tensor[]);
      this.sumAX = tf.keep(sums.sumAX as tf.Tensor1D);
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
    acc.sumAX = tf.keep(tf.clone(state.sumA));
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
    tf.dispose([this.cross, this.sumAX, this.sumT, this.sumSqT].filter(x => x != null) as tf.Tensor[]);
    this.cross = null;
    this.sumAX = null;
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

  /**
   * The sums as plain arrays (synchronous read-back): the Gram part when
   * `withGram` (and there is one), the targets' part when there is one.
   */
  exportStats(withGram = true): RidgeShardStats {
    const gram = withGram && this.gramCount > 0;
    const cross = this.crossCount > 0;
    if (gram && cross && this.gramCount !== this.crossCount) {
      throw new ERInputError(
          `${this.label}: the Gram covers ${this.gramCount} rows but the targets ` +
          `cover ${this.crossCount}; feed the same rows to addGram and addCross`);
    }
    const rows = gram ? this.gramCount : this.crossCount;
    const d = this.inDim, k = this.outDim;
    if (rows === 0) {
      return {rows: 0, d, k, shift: new Float32Array(d), sumA: new Float32Array(d), gram: null,
              cross: null, sumT: null, sumSqT: null};
    }
    const read = (t: tf.Tensor) => t.dataSync() as Float32Array;
    return {
      rows, d, k: cross ? k : 0, shift: Float32Array.from(read(this.shift!)),
      sumA: Float32Array.from(read(gram ? this.sumA! : this.sumAX!)),
      gram: gram ? this.readGram() : null,
      cross: cross ? Float32Array.from(read(this.cross!)) : null,
      sumT: cross ? Float32Array.from(read(this.sumT!)) : null,
      sumSqT: cross ? Float32Array.from(read(this.sumSqT!)) : null,
    };
  }

  /** The merged float64 moments of the sums (one shard). */
  moments(withGram = true): RidgeMoments {
    return mergeShardStats([this.exportStats(withGram)], this.label);
  }

  /**
   * Solves the ridge regression from the sums (synchronous read-back). A
   * second solve on an unchanged Gram (only the targets were reset and
   * refilled) reuses the factorisation when α and centring are the same.
   */
  solve(config: RidgeSolveConfig = {}): RidgeSolution {
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
    const kept = this.system;
    const reusable = kept != null && config.alpha !== 'auto' && kept.alpha === (config.alpha ?? 1e-3) &&
        kept.centred === (config.fitIntercept ?? true);
    const {solution, system} = solveRidge(this.moments(!reusable), config, this.label, reusable ? kept : null);
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

  /** The full d×d shifted Gram (float32), assembled from its panels. */
  private readGram(): Float32Array {
    const d = this.inDim, b = this.bounds;
    const G = new Float32Array(d * d);
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
    this.system = null;
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

/** `sum + batch`, or `batch` for the first batch (call inside tidy). */
function plus(sum: tf.Tensor|null, batch: tf.Tensor): tf.Tensor {
  return sum != null ? tf.add(sum, batch) : batch;
}
