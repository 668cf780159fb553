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
import {forwardUnits, isSolved, NetworkUnit, rowWidth, SolvedUnit, unitPreimage, unitWidth, UnitWeights,
        validateUnits, weightsAt} from '../units';
import {accumulate} from './accumulate';
import {ForwardCache} from './forward_cache';
import {ObservedStats, PassPlan, PassStats, PredictionPieces} from './plan';
import {StepSearchMap} from './search_map';

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
  /** Index of the output unit. */
  readonly out: number;
  private readonly outShape: number[];
  private readonly inShape: number[];
  /** Solved weights of this update so far (null: unchanged). */
  readonly next: Array<UnitWeights|null>;
  /** Pre-image operators of solved units, from their new weights. */
  readonly operators: Array<tf.Tensor2D|null>;
  /** The step search's γ = 0 weights of the blended units. */
  readonly w0: Array<UnitWeights|null>;
  /** Reflected output targets of the first target pass, by chunk offset. */
  private readonly kept = new Map<number, tf.Tensor>();
  /** The first pass's forwards and the targets carried down, kept for the target passes. */
  private readonly forward: ForwardCache;
  /** The step search's passes and what they keep between them. */
  private readonly search = new StepSearchMap(this);

  /** @param units the network with the weights the update starts from (not copied). */
  constructor(readonly units: NetworkUnit[], inputShape: number[]) {
    const shapes = validateUnits(units, inputShape);
    this.inShape = inputShape.slice();
    this.outShape = shapes.output;
    this.out = units.length - 1;
    this.next = units.map(() => null);
    this.operators = units.map(() => null);
    this.w0 = units.map(() => null);
    this.forward = new ForwardCache(units);
  }

  /** Sets a weight slot of unit `i` (null clears it). The runner does not own the tensors. */
  set(slot: WeightSlot, i: number, value: UnitWeights|tf.Tensor2D|null): void {
    if (slot === 'operator') this.operators[i] = value as tf.Tensor2D|null;
    else if (slot === 'readout') this.search.readout[i] = value as UnitWeights|null;
    else this[slot][i] = value as UnitWeights|null;
  }

  /** The current value of a weight slot (what `set` last put there). */
  slot(slot: WeightSlot, i: number): UnitWeights|tf.Tensor2D|null {
    if (slot === 'operator') return this.operators[i];
    return slot === 'readout' ? this.search.readout[i] ?? null : this[slot][i];
  }

  /** Runs one pass over `data`. */
  run(plan: PassPlan, data: ShardData): PassStats {
    const steps = this.steps(plan, data);
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
    }
  }

  /**
   * Runs one pass over `data`, awaiting `pause()` after each chunk (so a
   * worker process can serve its event loop — a job queue's lock renewals —
   * during a long pass).
   */
  async runAsync(plan: PassPlan, data: ShardData, pause: () => Promise<void>): Promise<PassStats> {
    const steps = this.steps(plan, data);
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
      await pause();
    }
  }

  /** One pass as a generator that yields after each chunk. */
  private steps(plan: PassPlan, data: ShardData): Generator<void, PassStats> {
    // the kept forwards serve the target passes only: later passes run on new weights
    if (plan.kind !== 'target' && plan.kind !== 'rebuild') this.forward.clear();
    switch (plan.kind) {
      case 'first': return this.firstPass(plan, data);
      case 'rebuild': return this.outputPass(plan.unit, data, 'full', false);
      case 'target': return this.targetPass(plan, data);
      case 'refresh': return this.outputPass(plan.unit, data, 'full', true);
      case 'search': return this.search.heldPass(plan, data);
      case 'searchFit': return this.search.fitPass(plan, data);
      case 'searchScore': return this.search.scorePass(plan, data);
      default: throw new Error(`unknown pass '${(plan as {kind: string}).kind}'`);
    }
  }

  /** Releases the kept targets, forwards and search fields. */
  dispose(): void {
    this.forward.clear();
    for (const t of this.kept.values()) t.dispose();
    this.kept.clear();
    this.search.dispose();
  }

  /** The output unit. */
  get outUnit(): SolvedUnit {
    return this.units[this.out] as SolvedUnit;
  }

  /** Throws (naming the unit and shape) unless a chunk fits the network's input and output. */
  checkChunk(c: ShardChunk): void {
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

  /** A fresh accumulator for unit i's regression. */
  accumulatorFor(i: number): RidgeAccumulator {
    const u = this.units[i] as SolvedUnit;
    return new RidgeAccumulator(rowWidth(u), unitWidth(u), u.name);
  }

  private *firstPass(plan: Extract<PassPlan, {kind: 'first'}>, data: ShardData): Generator<void, PassStats> {
    const out = this.outUnit;
    const acc = plan.unit != null ? this.accumulatorFor(plan.unit) : null;
    let finite: tf.Tensor|null = null, yMin: tf.Tensor|null = null, yMax: tf.Tensor|null = null;
    let xMax: tf.Tensor|null = null;
    let sums: tf.Tensor|null = null, sumSq: tf.Tensor|null = null;
    const pieces: PredictionPieces['pieces'] = [];
    let rows = 0;
    this.forward.reset(plan.cacheBytes ?? 0);
    try {
      for (const c of data()) {
        this.checkChunk(c);
        const {x, y} = c;
        const prediction = tf.tidy((): tf.Tensor|undefined => {
          const {inputs, fields} = forwardUnits(this.units, x);
          this.forward.fill(c.offset, x.shape[0], inputs, fields);
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
        yield;
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
  private *outputPass(unit: number, data: ShardData, part: 'full', refresh: boolean): Generator<void, PassStats> {
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
        yield;
      }
      return {rows, ridge: acc.takeMoments(true)};
    } finally {
      acc.dispose();
    }
  }

  private *targetPass(plan: Extract<PassPlan, {kind: 'target'}>, data: ShardData): Generator<void, PassStats> {
    const k = plan.unit, u = this.units[k] as SolvedUnit, out = this.outUnit;
    const acc = this.accumulatorFor(k);
    let rows = 0;
    try {
      for (const c of data()) {
        this.checkChunk(c);
        // a kept chunk whose target has not yet passed unit k (else: computed afresh)
        const found = this.forward.get(c.offset, c.x.shape[0]);
        const e = found != null && found.from > k ? found : null;
        tf.tidy(() => {
          let input: (j: number) => tf.Tensor, fields: Array<tf.Tensor|null>;
          if (e != null) {
            input = j => this.forward.input(e, j, c.x);
            fields = e.fields;
          } else {
            const f = forwardUnits(this.units, c.x);
            input = j => f.inputs[j];
            fields = f.fields;
          }
          const carried = e?.target ?? null;
          const tOut = carried != null && !plan.keepTargets ? null :
              reflectOutput(out.activation, fields[this.out]!, c.y);
          if (plan.keepTargets) {
            this.kept.get(c.offset)?.dispose();
            this.kept.set(c.offset, tf.keep(tOut!));
          }
          const t = carried != null ? this.targetDownTo(k, input, fields, carried, e!.from) :
              this.targetDownTo(k, input, fields, tOut!, this.out);
          accumulate(acc, u, input(k), t, plan.part);
          if (e != null) this.forward.carry(e, t, k);
        });
        rows += c.x.shape[0];
        yield;
      }
      return {rows, ridge: acc.takeMoments(plan.part === 'full')};
    } finally {
      acc.dispose();
    }
  }

  /**
   * Field target of solved unit k, carried from `t` (the target of unit
   * `from`'s output: the reflected output target when `from` is the output
   * unit) through the new weights of units `from` … k + 1.
   */
  private targetDownTo(k: number, input: (j: number) => tf.Tensor, fields: Array<tf.Tensor|null>, t: tf.Tensor,
                       from: number): tf.Tensor {
    for (let j = from; j > k; j--) {
      const u = this.units[j];
      const below = unitPreimage(u, input(j), t, isSolved(u) ? weightsAt(this.units, j, this.next) : null,
                                 this.operators[j]);
      const prev = this.units[j - 1];
      t = isSolved(prev) ? reflectHidden(prev.activation, fields[j - 1]!, below) : below;
    }
    return t;
  }
}

/** `op(acc, v)` (or `v` when `acc` is null), kept; `acc` is disposed. Safe inside a tidy. */
function keepFold(acc: tf.Tensor|null, v: tf.Tensor, op: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): tf.Tensor {
  const next = tf.keep(acc == null ? v : op(acc, v));
  acc?.dispose();
  return next;
}
