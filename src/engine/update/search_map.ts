/**
 * The map side of the `'erls'` step search (see `sweep.ts`): for each step
 * γ, the hidden units blended as `w0 + γ(next − w0)`, and the additive
 * statistics that judge it — the output field's misfit with the output unit
 * held (`search`), or the statistics of a read-out on subsample A
 * (`searchFit`) and its misfit on subsample B (`searchScore`). What it
 * computes once per update (the lowest blended field and its change, the
 * reflected targets of the search rows) it keeps until the update ends, up
 * to {@link StepSearchMap.keepValues} values per shard; past that it keeps the
 * field's input, or only the targets, and recomputes the rest at each pass
 * (the same values: a convnet's fields of 10,000 CIFAR-10 images would be
 * 5 GB, more than a wasm heap holds).
 */
import * as tf from '@tensorflow/tfjs-core';
import {activate} from '../activations';
import {reflectOutput} from '../reflect';
import {forwardUnits, isSolved, NetworkUnit, passForward, SolvedUnit, unitField, UnitWeights, weightsAt} from '../units';
import {gatherRows, rowRange} from '../window';
import {accumulate} from './accumulate';
import type {ShardChunk, ShardData, ShardRunner} from './map';
import {PassPlan, PassStats} from './plan';


/** What the search keeps of one piece of a chunk (the rows it searches on). */
interface SearchPiece {
  /** Reflected output targets under the starting weights (always kept). */
  target: tf.Tensor;
  /** The lowest blended unit's field under w0 and its change under next, if kept. */
  base?: tf.Tensor;
  delta?: tf.Tensor;
  /** Else that unit's input, if kept (else recomputed from the chunk's rows). */
  input?: tf.Tensor;
}

/** Unit k's input for rows `x` under the units' own weights (the forward through units 0..k−1). */
function inputTo(units: NetworkUnit[], x: tf.Tensor, k: number): tf.Tensor {
  let a = x;
  for (let i = 0; i < k; i++) {
    const u = units[i];
    a = isSolved(u) ? activate(u.activation, unitField(u, a)) : passForward(u, a);
  }
  return a;
}

/** The step search's passes on one shard. */
export class StepSearchMap {
  /**
   * Values (float32) a shard keeps for the search's rows between its passes,
   * at most: 2²⁶ (256 MB). What is not kept is recomputed, to the same values.
   */
  static keepValues = 2 ** 26;
  /** The refit-aware search's read-outs, by position in its plan's γ list. */
  readonly readout: Array<UnitWeights|null> = [];
  /** Per search piece, what is kept of it (see {@link SearchPiece}). */
  private readonly pieces = new Map<number, SearchPiece>();
  /** Values kept in `pieces`. */
  private keptValues = 0;

  constructor(private readonly r: ShardRunner) {}

  /** Releases what the search kept. */
  dispose(): void {
    for (const p of this.pieces.values()) tf.dispose([p.target, p.base, p.delta, p.input].filter(t => t != null) as tf.Tensor[]);
    this.pieces.clear();
    this.keptValues = 0;
    this.readout.length = 0;
  }

  /** The weights of a blended unit at step γ, `w0 + γ·delta` (call inside tidy). */
  private blendedAt(i: number, delta: UnitWeights, gamma: number): UnitWeights {
    const w0 = this.r.w0[i]!;
    return {kernel: tf.add(w0.kernel, tf.mul(delta.kernel, gamma)),
            bias: w0.bias != null ? tf.add(w0.bias, tf.mul(delta.bias!, gamma)) as tf.Tensor1D : null};
  }

  /** `next − w0` of each blended unit (null elsewhere); the caller disposes them. */
  private blendDeltas(blended: Set<number>): Array<UnitWeights|null> {
    return this.r.units.map((_, i) => !blended.has(i) ? null : tf.tidy(() => ({
      kernel: tf.sub(this.r.next[i]!.kernel, this.r.w0[i]!.kernel),
      bias: this.r.next[i]!.bias != null ? tf.sub(this.r.next[i]!.bias!, this.r.w0[i]!.bias!) as tf.Tensor1D : null,
    }) as unknown as tf.TensorContainer) as unknown as UnitWeights|null);
  }

  /**
   * For the rows of a chunk with global index i mod `stride` = `phase`: the
   * lowest blended unit's field under w0, its change under next (the field is
   * linear in γ) and the reflected output targets under the starting weights,
   * computed at the first search pass and kept for the later ones within the
   * budget (see the module comment). `release()` frees what was not kept.
   */
  private searchRows(c: ShardChunk, stride: number, phase: number, low: number):
      {base: tf.Tensor, delta: tf.Tensor, target: tf.Tensor, n: number, release: () => void}|null {
    const n = c.x.shape[0];
    const first = (phase - c.offset % stride + stride) % stride;
    if (first >= n) return null;
    const key = c.offset * stride + phase;
    const kept = this.pieces.get(key);
    if (kept?.base != null && kept.delta != null) {
      return {base: kept.base, delta: kept.delta, target: kept.target, n: kept.target.shape[0], release: () => undefined};
    }
    if (kept == null) this.r.checkChunk(c);
    const lowUnit = this.r.units[low] as SolvedUnit;
    const out = tf.tidy(() => {
      const rows = () => {
        const idx = tf.range(first, n, stride, 'int32');
        return stride === 1 ? [c.x, c.y] : [gatherRows(c.x, idx), gatherRows(c.y, idx)];
      };
      let input = kept?.input, target = kept?.target;
      if (target == null) {
        const [x, y] = rows();
        const {inputs, fields} = forwardUnits(this.r.units, x);
        input = inputs[low];
        target = reflectOutput(this.r.outUnit.activation, fields[this.r.out]!, y);
      } else if (input == null) {
        input = inputTo(this.r.units, rows()[0], low);
      }
      const base = unitField(lowUnit, input, this.r.w0[low]!);
      return {input, target, base, delta: tf.sub(unitField(lowUnit, input, this.r.next[low]!), base)};
    });
    // keep, within the budget: the targets (always), then the fields, else the fields' input
    const piece: SearchPiece = kept ?? {target: out.target};
    if (kept == null) {
      this.keptValues += out.target.size;
      if (this.fits(out.base.size + out.delta.size)) {
        piece.base = out.base;
        piece.delta = out.delta;
      } else if (out.input !== c.x && this.fits(out.input.size)) {
        piece.input = out.input;
      }
      this.pieces.set(key, piece);
    }
    const loose = [out.base, out.delta, out.input].filter(t => t !== piece.base && t !== piece.delta &&
                                                          t !== piece.input && t !== c.x);
    return {base: out.base, delta: out.delta, target: piece.target, n: piece.target.shape[0],
            release: () => tf.dispose(loose)};
  }

  /** Counts `values` more against the budget if they fit in it. */
  private fits(values: number): boolean {
    if (this.keptValues + values > StepSearchMap.keepValues) return false;
    this.keptValues += values;
    return true;
  }

  /** The output unit's input under the blended weights of step γ (call inside tidy). */
  private featuresAt(gamma: number, base: tf.Tensor, delta: tf.Tensor, low: number, blended: Set<number>,
                     deltas: Array<UnitWeights|null>): tf.Tensor {
    const {units, out} = this.r;
    let a = activate((units[low] as SolvedUnit).activation, tf.add(base, tf.mul(delta, gamma)));
    for (let i = low + 1; i < out; i++) {
      const u = units[i];
      if (!isSolved(u)) {
        a = passForward(u, a);
        continue;
      }
      const w = blended.has(i) ? this.blendedAt(i, deltas[i]!, gamma) : weightsAt(units, i, this.r.next);
      a = activate(u.activation, unitField(u, a, w));
    }
    return a;
  }

  /** Refit-aware search, step 1: per γ, the output unit's statistics on its rows. */
  *fitPass(plan: Extract<PassPlan, {kind: 'searchFit'}>, data: ShardData): Generator<void, PassStats> {
    const blended = new Set(plan.blended), deltas = this.blendDeltas(blended);
    const accs = plan.gammas.map(() => this.r.accumulatorFor(this.r.out));
    let rows = 0;
    try {
      for (const c of data()) {
        const r = this.searchRows(c, plan.stride, plan.phase, plan.low);
        if (r == null) continue;
        try {
          plan.gammas.forEach((g, j) => tf.tidy(() =>
              accumulate(accs[j], this.r.outUnit, this.featuresAt(g, r.base, r.delta, plan.low, blended, deltas),
                         r.target, 'full')));
        } finally {
          r.release();
        }
        rows += r.n;
        yield;
      }
      return {rows, fits: accs.map(acc => acc.takeMoments(true))};
    } finally {
      accs.forEach(acc => acc.dispose());
      deltas.forEach(d => { if (d != null) tf.dispose([d.kernel, d.bias].filter(t => t != null) as tf.Tensor[]); });
    }
  }

  /** Refit-aware search, step 2: per γ, the misfit of its read-out (slot 'readout') on its rows. */
  *scorePass(plan: Extract<PassPlan, {kind: 'searchScore'}>, data: ShardData): Generator<void, PassStats> {
    const blended = new Set(plan.blended), deltas = this.blendDeltas(blended);
    const sums = new Float64Array(plan.gammas.length);
    let count = 0, rows = 0;
    try {
      for (const c of data()) {
        const r = this.searchRows(c, plan.stride, plan.phase, plan.low);
        if (r == null) continue;
        let v: tf.Tensor;
        try {
          v = tf.tidy(() => tf.stack(plan.gammas.map((g, j) => tf.tidy(() => {
            const h = unitField(this.r.outUnit, this.featuresAt(g, r.base, r.delta, plan.low, blended, deltas),
                                this.readout[j]!);
            return tf.sum(tf.square(tf.sub(h, r.target)));
          }))));
        } finally {
          r.release();
        }
        v.dataSync().forEach((m, j) => { sums[j] += m; });
        v.dispose();
        count += r.target.size;
        rows += r.n;
        yield;
      }
      return {rows, misfit: {sums, count}};
    } finally {
      deltas.forEach(d => { if (d != null) tf.dispose([d.kernel, d.bias].filter(t => t != null) as tf.Tensor[]); });
    }
  }

  /**
   * The misfit of the output field against the reflected output targets for
   * each γ, on the rows with index < `plan.rows`. The blended units'
   * weights are `w0 + γ(next − w0)`; the lowest one's field is linear in γ,
   * so it is computed twice per chunk, not once per γ.
   */
  *heldPass(plan: Extract<PassPlan, {kind: 'search'}>, data: ShardData): Generator<void, PassStats> {
    const {units, out} = this.r;
    const outAct = this.r.outUnit.activation;
    const low = plan.low, blended = new Set(plan.blended);
    const deltas = units.map((_, i) => !blended.has(i) ? null : tf.tidy(() => ({
      kernel: tf.sub(this.r.next[i]!.kernel, this.r.w0[i]!.kernel),
      bias: this.r.next[i]!.bias != null ? tf.sub(this.r.next[i]!.bias!, this.r.w0[i]!.bias!) as tf.Tensor1D : null,
    }) as unknown as tf.TensorContainer) as unknown as UnitWeights|null);
    const sums = new Float64Array(plan.gammas.length);
    let count = 0, rows = 0;
    try {
      for (const c of data()) {
        const take = Math.min(c.x.shape[0], plan.rows - c.offset);
        if (take <= 0) continue;
        this.r.checkChunk(c);
        const v = tf.tidy(() => {
          const x = take < c.x.shape[0] ? rowRange(c.x, 0, take) : c.x;
          const y = take < c.y.shape[0] ? rowRange(c.y, 0, take) : c.y;
          const {inputs, fields} = forwardUnits(units, x);
          const target = reflectOutput(outAct, fields[out]!, y);
          const lowUnit = units[low] as SolvedUnit;
          const base = unitField(lowUnit, inputs[low], this.r.w0[low]!);
          const dh = tf.sub(unitField(lowUnit, inputs[low], this.r.next[low]!), base);
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
                kernel: tf.add(this.r.w0[i]!.kernel, tf.mul(deltas[i]!.kernel, g)),
                bias: this.r.w0[i]!.bias != null ? tf.add(this.r.w0[i]!.bias!, tf.mul(deltas[i]!.bias!, g)) as tf.Tensor1D : null,
              } : weightsAt(units, i, this.r.next);
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
        yield;
      }
      return {rows, misfit: {sums, count}};
    } finally {
      deltas.forEach(d => { if (d != null) tf.dispose([d.kernel, d.bias].filter(t => t != null) as tf.Tensor[]); });
    }
  }
}
