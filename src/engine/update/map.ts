/**
 * The map step of an ER update: one pass of a {@link PassPlan} over one
 * shard's rows, on the tfjs backend of wherever the shard lives (this
 * thread, a worker thread, a Web Worker, a worker process). It returns only
 * additive statistics ({@link PassStats}); the shard keeps, between the
 * passes of one update, the weights the coordinator sent and the reflected
 * output targets the refresh pass reuses.
 */
import * as tf from '@tensorflow/tfjs-core';
import {activate} from '../activations';
import {ERInputError} from '../errors';
import {columnSums} from '../reduce';
import {reflectHidden, reflectOutput} from '../reflect';
import {RidgeAccumulator} from '../ridge/accumulator';
import {designRows, fieldRows, forwardUnits, isSolved, NetworkUnit, passForward, rowWidth, SolvedUnit,
        unitField, unitPreimage, unitWidth, UnitWeights, validateUnits, weightsAt} from '../units';
import {ObservedStats, PassPlan, PassStats, PredictionPieces} from './plan';

/** One chunk of a shard's rows: inputs, targets (as the output layer needs them) and the first row's index. */
export interface ShardChunk {
  x: tf.Tensor;
  y: tf.Tensor;
  /** Index of the chunk's first row in the whole data (the split of rows into shards is the caller's). */
  offset: number;
}

/**
 * A shard's rows, chunk by chunk; walked once per pass, the same chunks in
 * the same order each time. Chunks belong to the source (the runner keeps
 * none of them).
 */
export type ShardData = () => Iterable<ShardChunk>;

/**
 * The weight slots of a shard, set by the coordinator between passes:
 * `next` (solved weights, by unit), `operator` (pre-image operators, by
 * unit), `w0` (the step search's γ = 0 weights, by unit), `readout` (the
 * refit-aware search's output-unit read-out for the j-th γ of its plan).
 */
export type WeightSlot = 'next'|'operator'|'w0'|'readout';

/**
 * Runs the passes of one update on one shard. Holds references to the
 * weights it was given (it never disposes them) and owns the targets it keeps.
 */
export class ShardRunner {
  private readonly out: number;
  private readonly outShape: number[];
  private readonly inShape: number[];
  /** Solved weights of this update so far (null: unchanged). */
  readonly next: Array<UnitWeights|null>;
  /** Pre-image operators of solved units, from their new weights. */
  readonly operators: Array<tf.Tensor2D|null>;
  /** The step search's γ = 0 weights of the blended units. */
  readonly w0: Array<UnitWeights|null>;
  /** The refit-aware search's read-outs, by position in its plan's γ list. */
  readonly readout: Array<UnitWeights|null> = [];
  /** The lowest blended unit's fields under w0 and their change under next, by first row (search rows only). */
  private readonly lowFields = new Map<number, {base: tf.Tensor, delta: tf.Tensor}>();
  /** Reflected output targets of the first target pass, by chunk offset. */
  private readonly kept = new Map<number, tf.Tensor>();

  /** @param units the network with the weights the update starts from (not copied). */
  constructor(readonly units: NetworkUnit[], inputShape: number[]) {
    const shapes = validateUnits(units, inputShape);
    this.inShape = inputShape.slice();
    this.outShape = shapes.output;
    this.out = units.length - 1;
    this.next = units.map(() => null);
    this.operators = units.map(() => null);
    this.w0 = units.map(() => null);
  }

  /** Sets a weight slot of unit `i` (null clears it). The runner does not own the tensors. */
  set(slot: WeightSlot, i: number, value: UnitWeights|tf.Tensor2D|null): void {
    if (slot === 'operator') this.operators[i] = value as tf.Tensor2D|null;
    else this[slot][i] = value as UnitWeights|null;
  }

  /** The weights of a blended unit at step γ, `w0 + γ·delta` (call inside tidy). */
  private blendedAt(i: number, delta: UnitWeights, gamma: number): UnitWeights {
    const w0 = this.w0[i]!;
    return {kernel: tf.add(w0.kernel, tf.mul(delta.kernel, gamma)),
            bias: w0.bias != null ? tf.add(w0.bias, tf.mul(delta.bias!, gamma)) as tf.Tensor1D : null};
  }

  /** `next − w0` of each blended unit (null elsewhere); the caller disposes them. */
  private blendDeltas(blended: Set<number>): Array<UnitWeights|null> {
    return this.units.map((_, i) => !blended.has(i) ? null : tf.tidy(() => ({
      kernel: tf.sub(this.next[i]!.kernel, this.w0[i]!.kernel),
      bias: this.next[i]!.bias != null ? tf.sub(this.next[i]!.bias!, this.w0[i]!.bias!) as tf.Tensor1D : null,
    }) as unknown as tf.TensorContainer) as unknown as UnitWeights|null);
  }

  /**
   * For the rows of a chunk with global index i mod `stride` = `phase`: the
   * lowest blended unit's field under w0, its change under next (the field is
   * linear in γ) and the reflected output targets under the starting weights,
   * computed once per update and kept for the later search passes.
   */
  private searchRows(c: ShardChunk, stride: number, phase: number, low: number):
      {base: tf.Tensor, delta: tf.Tensor, target: tf.Tensor, n: number}|null {
    const n = c.x.shape[0];
    const first = (phase - c.offset % stride + stride) % stride;
    if (first >= n) return null;
    const key = c.offset * stride + phase;
    let f = this.lowFields.get(key);
    let t = this.kept.get(-1 - key);
    if (f == null || t == null) {
      this.checkChunk(c);
      const out = tf.tidy(() => {
        const idx = tf.range(first, n, stride, 'int32');
        const x = stride === 1 ? c.x : tf.gather(c.x, idx), y = stride === 1 ? c.y : tf.gather(c.y, idx);
        const {inputs, fields} = forwardUnits(this.units, x);
        const lowUnit = this.units[low] as SolvedUnit;
        const base = unitField(lowUnit, inputs[low], this.w0[low]!);
        return {base, delta: tf.sub(unitField(lowUnit, inputs[low], this.next[low]!), base),
                target: reflectOutput(this.outUnit.activation, fields[this.out]!, y)};
      });
      if (f != null) tf.dispose([f.base, f.delta]);
      t?.dispose();
      f = {base: out.base, delta: out.delta};
      t = out.target;
      this.lowFields.set(key, f);
      this.kept.set(-1 - key, t);
    }
    return {base: f.base, delta: f.delta, target: t, n: t.shape[0]};
  }

  /** The output unit's input under the blended weights of step γ (call inside tidy). */
  private featuresAt(gamma: number, base: tf.Tensor, delta: tf.Tensor, low: number, blended: Set<number>,
                     deltas: Array<UnitWeights|null>): tf.Tensor {
    const {units, out} = this;
    let a = activate((units[low] as SolvedUnit).activation, tf.add(base, tf.mul(delta, gamma)));
    for (let i = low + 1; i < out; i++) {
      const u = units[i];
      if (!isSolved(u)) {
        a = passForward(u, a);
        continue;
      }
      const w = blended.has(i) ? this.blendedAt(i, deltas[i]!, gamma) : weightsAt(units, i, this.next);
      a = activate(u.activation, unitField(u, a, w));
    }
    return a;
  }

  /** Refit-aware search, step 1: per γ, the output unit's statistics on its rows. */
  private searchFitPass(plan: Extract<PassPlan, {kind: 'searchFit'}>, data: ShardData): PassStats {
    const blended = new Set(plan.blended), deltas = this.blendDeltas(blended);
    const accs = plan.gammas.map(() => this.accumulatorFor(this.out));
    let rows = 0;
    try {
      for (const c of data()) {
        const r = this.searchRows(c, plan.stride, plan.phase, plan.low);
        if (r == null) continue;
        plan.gammas.forEach((g, j) => tf.tidy(() =>
            accumulate(accs[j], this.outUnit, this.featuresAt(g, r.base, r.delta, plan.low, blended, deltas), r.target,
                       'full')));
        rows += r.n;
      }
      return {rows, fits: accs.map(acc => acc.takeMoments(true))};
    } finally {
      accs.forEach(acc => acc.dispose());
      deltas.forEach(d => { if (d != null) tf.dispose([d.kernel, d.bias].filter(t => t != null) as tf.Tensor[]); });
    }
  }

  /** Refit-aware search, step 2: per γ, the misfit of its read-out (slot 'readout') on its rows. */
  private searchScorePass(plan: Extract<PassPlan, {kind: 'searchScore'}>, data: ShardData): PassStats {
    const blended = new Set(plan.blended), deltas = this.blendDeltas(blended);
    const sums = new Float64Array(plan.gammas.length);
    let count = 0, rows = 0;
    try {
      for (const c of data()) {
        const r = this.searchRows(c, plan.stride, plan.phase, plan.low);
        if (r == null) continue;
        const v = tf.tidy(() => tf.stack(plan.gammas.map((g, j) => tf.tidy(() => {
          const h = unitField(this.outUnit, this.featuresAt(g, r.base, r.delta, plan.low, blended, deltas),
                              this.readout[j]!);
          return tf.sum(tf.square(tf.sub(h, r.target)));
        }))));
        v.dataSync().forEach((m, j) => { sums[j] += m; });
        v.dispose();
        count += r.target.size;
        rows += r.n;
      }
      return {rows, misfit: {sums, count}};
    } finally {
      deltas.forEach(d => { if (d != null) tf.dispose([d.kernel, d.bias].filter(t => t != null) as tf.Tensor[]); });
    }
  }

  /** Runs one pass over `data`. */
  run(plan: PassPlan, data: ShardData): PassStats {
    switch (plan.kind) {
      case 'first': return this.firstPass(plan, data);
      case 'rebuild': return this.outputPass(plan.unit, data, 'full', false);
      case 'target': return this.targetPass(plan, data);
      case 'refresh': return this.outputPass(plan.unit, data, 'full', true);
      case 'search': return this.searchPass(plan, data);
      case 'searchFit': return this.searchFitPass(plan, data);
      case 'searchScore': return this.searchScorePass(plan, data);
      default: throw new Error(`unknown pass '${(plan as {kind: string}).kind}'`);
    }
  }

  /** Releases the kept targets and search fields. */
  dispose(): void {
    for (const t of this.kept.values()) t.dispose();
    this.kept.clear();
    for (const f of this.lowFields.values()) tf.dispose([f.base, f.delta]);
    this.lowFields.clear();
  }

  private get outUnit(): SolvedUnit {
    return this.units[this.out] as SolvedUnit;
  }

  private checkChunk(c: ShardChunk) {
    const {x, y} = c, want = this.inShape, out = this.outUnit;
    if (x.rank !== want.length + 1 || !x.shape.slice(1).every((d, i) => d === want[i])) {
      throw new ERInputError(`${this.units[0].name}: inputs must have shape [rows, ${want}], got [${x.shape}]`);
    }
    if (x.shape[0] === 0) throw new ERInputError('empty batch (0 rows) in the inputs');
    if (y.rank !== this.outShape.length + 1 || y.shape[0] !== x.shape[0] ||
        !y.shape.slice(1).every((d, i) => d === this.outShape[i])) {
      throw new ERInputError(
          `${out.name}: targets must have shape [${x.shape[0]}, ${this.outShape}] to match the inputs ` +
          `and the output, got [${y.shape}]`);
    }
  }

  private accumulatorFor(i: number): RidgeAccumulator {
    const u = this.units[i] as SolvedUnit;
    return new RidgeAccumulator(rowWidth(u), unitWidth(u), u.name);
  }

  private firstPass(plan: Extract<PassPlan, {kind: 'first'}>, data: ShardData): PassStats {
    const out = this.outUnit;
    const acc = plan.unit != null ? this.accumulatorFor(plan.unit) : null;
    let finite: tf.Tensor|null = null, yMin: tf.Tensor|null = null, yMax: tf.Tensor|null = null;
    let xMax: tf.Tensor|null = null;
    let sums: tf.Tensor|null = null, sumSq: tf.Tensor|null = null;
    const pieces: PredictionPieces['pieces'] = [];
    let rows = 0;
    try {
      for (const c of data()) {
        this.checkChunk(c);
        const {x, y} = c;
        const prediction = tf.tidy((): tf.Tensor|undefined => {
          const {inputs, fields} = forwardUnits(this.units, x);
          const h = fields[this.out]!;
          if (acc != null) accumulate(acc, out, inputs[this.out], reflectOutput(out.activation, h, y), plan.part);
          const ok = tf.logicalAnd(tf.all(tf.isFinite(x)), tf.all(tf.isFinite(y)));
          finite = keepFold(finite, ok, tf.logicalAnd);
          yMin = keepFold(yMin, tf.min(y), tf.minimum);
          yMax = keepFold(yMax, tf.max(y), tf.maximum);
          xMax = keepFold(xMax, tf.max(tf.abs(x)), tf.maximum);
          if (plan.fingerprint) {
            const flat = tf.reshape(x, [x.shape[0], -1]);
            sums = keepFold(sums, columnSums(flat), tf.add);
            sumSq = keepFold(sumSq, tf.sum(tf.square(flat)), tf.add);
          }
          return plan.predictions ? tf.reshape(activate(out.activation, h), [x.shape[0], -1]) : undefined;
        }) as tf.Tensor|undefined;
        if (prediction != null) {
          pieces.push({offset: c.offset, values: prediction.dataSync() as Float32Array});
          prediction.dispose();
        }
        rows += x.shape[0];
      }
      const stats: PassStats = {rows};
      if (rows > 0) {
        const [ok, lo, hi, big] = [finite!, yMin!, yMax!, xMax!].map(t => (t as tf.Tensor).dataSync()[0]);
        stats.observed = {finite: ok === 1, yMin: lo, yMax: hi, xAbsMax: big} as ObservedStats;
        if (plan.fingerprint) {
          stats.fingerprint = {rows, sums: Float64Array.from((sums as unknown as tf.Tensor).dataSync()),
                               sumSq: (sumSq as unknown as tf.Tensor).dataSync()[0]};
        }
      }
      if (acc != null) stats.ridge = acc.takeMoments(plan.part === 'full');
      if (plan.predictions) {
        const size = this.outShape.reduce((a, b) => a * b, 1);
        stats.predictions = {width: size, pieces};
      }
      return stats;
    } finally {
      acc?.dispose();
      tf.dispose([finite, yMin, yMax, xMax, sums, sumSq].filter(t => t != null) as unknown as tf.Tensor[]);
    }
  }

  /** The output unit's statistics: of the current features (rebuild) or of the new ones (refresh). */
  private outputPass(unit: number, data: ShardData, part: 'full', refresh: boolean): PassStats {
    const out = this.outUnit;
    const acc = this.accumulatorFor(unit);
    let rows = 0;
    try {
      for (const c of data()) {
        this.checkChunk(c);
        tf.tidy(() => {
          const kept = refresh ? this.kept.get(c.offset) : undefined;
          const target = kept != null && kept.shape[0] === c.x.shape[0] ? kept :
              reflectOutput(out.activation, forwardUnits(this.units, c.x).fields[this.out]!, c.y);
          const a = forwardUnits(this.units, c.x, refresh ? this.next : undefined).inputs[this.out];
          accumulate(acc, out, a, target, part);
        });
        rows += c.x.shape[0];
      }
      return {rows, ridge: acc.takeMoments(true)};
    } finally {
      acc.dispose();
    }
  }

  private targetPass(plan: Extract<PassPlan, {kind: 'target'}>, data: ShardData): PassStats {
    const k = plan.unit, u = this.units[k] as SolvedUnit, out = this.outUnit;
    const acc = this.accumulatorFor(k);
    let rows = 0;
    try {
      for (const c of data()) {
        this.checkChunk(c);
        tf.tidy(() => {
          const {inputs, fields} = forwardUnits(this.units, c.x);
          const tOut = reflectOutput(out.activation, fields[this.out]!, c.y);
          if (plan.keepTargets) {
            this.kept.get(c.offset)?.dispose();
            this.kept.set(c.offset, tf.keep(tOut));
          }
          accumulate(acc, u, inputs[k], this.targetDownTo(k, inputs, fields, tOut), plan.part);
        });
        rows += c.x.shape[0];
      }
      return {rows, ridge: acc.takeMoments(plan.part === 'full')};
    } finally {
      acc.dispose();
    }
  }

  /** Field target of solved unit k, carried from the reflected output target through the new weights above. */
  private targetDownTo(k: number, inputs: tf.Tensor[], fields: Array<tf.Tensor|null>, tOut: tf.Tensor): tf.Tensor {
    let t = tOut;
    for (let j = this.out; j > k; j--) {
      const u = this.units[j];
      const below = unitPreimage(u, inputs[j], t, isSolved(u) ? weightsAt(this.units, j, this.next) : null,
                                 this.operators[j]);
      const prev = this.units[j - 1];
      t = isSolved(prev) ? reflectHidden(prev.activation, fields[j - 1]!, below) : below;
    }
    return t;
  }

  /**
   * The misfit of the output field against the reflected output targets for
   * each γ, on the rows with index < `plan.rows`. The blended units'
   * weights are `w0 + γ(next − w0)`; the lowest one's field is linear in γ,
   * so it is computed twice per chunk, not once per γ.
   */
  private searchPass(plan: Extract<PassPlan, {kind: 'search'}>, data: ShardData): PassStats {
    const {units, out} = this;
    const outAct = this.outUnit.activation;
    const low = plan.low, blended = new Set(plan.blended);
    const deltas = units.map((_, i) => !blended.has(i) ? null : tf.tidy(() => ({
      kernel: tf.sub(this.next[i]!.kernel, this.w0[i]!.kernel),
      bias: this.next[i]!.bias != null ? tf.sub(this.next[i]!.bias!, this.w0[i]!.bias!) as tf.Tensor1D : null,
    }) as unknown as tf.TensorContainer) as unknown as UnitWeights|null);
    const sums = new Float64Array(plan.gammas.length);
    let count = 0, rows = 0;
    try {
      for (const c of data()) {
        const take = Math.min(c.x.shape[0], plan.rows - c.offset);
        if (take <= 0) continue;
        this.checkChunk(c);
        const v = tf.tidy(() => {
          const x = take < c.x.shape[0] ? tf.slice(c.x, 0, take) : c.x;
          const y = take < c.y.shape[0] ? tf.slice(c.y, 0, take) : c.y;
          const {inputs, fields} = forwardUnits(units, x);
          const target = reflectOutput(outAct, fields[out]!, y);
          const lowUnit = units[low] as SolvedUnit;
          const base = unitField(lowUnit, inputs[low], this.w0[low]!);
          const dh = tf.sub(unitField(lowUnit, inputs[low], this.next[low]!), base);
          return tf.stack(plan.gammas.map(g => tf.tidy(() => {
            let h = tf.add(base, tf.mul(dh, g));
            let a = low < out ? activate(lowUnit.activation, h) : h;
            for (let i = low + 1; i <= out; i++) {
              const u = units[i];
              if (!isSolved(u)) {
                a = passForward(u, a);
                continue;
              }
              const w = blended.has(i) ? {
                kernel: tf.add(this.w0[i]!.kernel, tf.mul(deltas[i]!.kernel, g)),
                bias: this.w0[i]!.bias != null ? tf.add(this.w0[i]!.bias!, tf.mul(deltas[i]!.bias!, g)) as tf.Tensor1D : null,
              } : weightsAt(units, i, this.next);
              h = unitField(u, a, w);
              if (i < out) a = activate(u.activation, h);
            }
            return tf.sum(tf.square(tf.sub(h, target)));
          })));
        });
        const s = v.dataSync();
        v.dispose();
        s.forEach((m, j) => { sums[j] += m; });
        count += take * (c.y.size / c.y.shape[0]);
        rows += take;
      }
      return {rows, misfit: {sums, count}};
    } finally {
      deltas.forEach(d => { if (d != null) tf.dispose([d.kernel, d.bias].filter(t => t != null) as tf.Tensor[]); });
    }
  }
}

/**
 * Rows per product when a convolution's patch rows are accumulated: a fresh
 * operand is packed by XNNPACK at every product, and measured on wasm
 * (288-wide patches) a Gram over 4096 rows ran at 12 GFLOP/s against 8 over
 * 110k rows, so a chunk's images are taken a few at a time.
 */
const CONV_BLOCK_ROWS = 4096;

/**
 * Folds unit `u`'s regression rows (from its input `a`) and field targets
 * `t` into `acc`: the whole chunk for a dense unit; for a convolution, a few
 * images at a time (see {@link CONV_BLOCK_ROWS}), sliced from one read-back
 * of the chunk (the wasm backend's slice copies its whole source).
 */
function accumulate(acc: RidgeAccumulator, u: SolvedUnit, a: tf.Tensor, t: tf.Tensor, part: 'full'|'cross') {
  const add = (rows: tf.Tensor2D, targets: tf.Tensor2D) => part === 'full' ? acc.add(rows, targets) : acc.addCross(rows, targets);
  const n = a.shape[0];
  const positions = u.kind === 'conv2d' ? t.size / (n * unitWidth(u)) : 1;
  const per = Math.max(1, Math.floor(CONV_BLOCK_ROWS / positions));
  if (u.kind === 'dense' || per >= n) {
    tf.tidy(() => add(designRows(u, a), fieldRows(u, t)));
    return;
  }
  const av = a.dataSync() as Float32Array, tv = t.dataSync() as Float32Array;
  const aImage = a.size / n, tImage = t.size / n;
  for (let s = 0; s < n; s += per) {
    const m = Math.min(per, n - s);
    tf.tidy(() => {
      const ab = tf.tensor(av.subarray(s * aImage, (s + m) * aImage), [m, ...a.shape.slice(1)]);
      const tb = tf.tensor(tv.subarray(s * tImage, (s + m) * tImage), [m, ...t.shape.slice(1)]);
      add(designRows(u, ab), fieldRows(u, tb));
    });
  }
}

/** `op(acc, v)` (or `v` when `acc` is null), kept; `acc` is disposed. Safe inside a tidy. */
function keepFold(acc: tf.Tensor|null, v: tf.Tensor, op: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): tf.Tensor {
  const next = tf.keep(acc == null ? v : op(acc, v));
  acc?.dispose();
  return next;
}
