/**
 * What one shard keeps of each chunk between the passes of one update: the
 * forward under the starting weights (the first pass computes it; every
 * target pass would compute it again) and the target carried down so far.
 * Each target pass then carries the target one unit further instead of from
 * the output down, so an update of a deep network does one forward and one
 * pre-image per unit instead of one per pass. The values are those the
 * passes would recompute (the same ops on the same tensors), so the update
 * is the same with or without the cache; chunks beyond the byte budget are
 * recomputed.
 */
import * as tf from '@tensorflow/tfjs-core';
import {activate} from '../activations';
import {isSolved, NetworkUnit, SolvedUnit} from '../units';

/** One chunk's kept forward and carried target. */
export interface ForwardEntry {
  rows: number;
  /** Inputs of the units (index ≥ 1) that are not the activation of the solved unit below (null there: recomputed). */
  inputs: Array<tf.Tensor|null>;
  /** Fields of the solved units under the starting weights. */
  fields: Array<tf.Tensor|null>;
  /** The target carried down so far: the output's reflected target until the first target pass. */
  target: tf.Tensor|null;
  /** The next unit the target goes through (the output unit before any target pass). */
  from: number;
}

/** The kept forwards of one shard's chunks, by chunk offset, within a byte budget. */
export class ForwardCache {
  private readonly entries = new Map<number, ForwardEntry>();
  private left = 0;

  constructor(private readonly units: NetworkUnit[]) {}

  /** Drops every entry and sets the budget for the next fills. */
  reset(bytes: number): void {
    this.clear();
    this.left = bytes;
  }

  /**
   * Keeps a chunk's forward (`inputs`, `fields` from `forwardUnits`) if it
   * fits the budget, with room for the largest target it will carry. Call
   * inside the tidy that made the tensors; returns whether it was kept.
   */
  fill(offset: number, rows: number, inputs: tf.Tensor[], fields: Array<tf.Tensor|null>): boolean {
    if (this.left <= 0 || this.entries.has(offset)) return false;
    // null: recomputed from the field below, or the chunk's own input (which the source owns)
    const keptInputs = inputs.map((a, j) => j === 0 || isSolved(this.units[j - 1]) || a === inputs[0] ? null : a);
    const seen = new Set<unknown>();
    let bytes = 0, largest = 0;
    for (const t of [...keptInputs, ...fields]) {
      if (t == null) continue;
      largest = Math.max(largest, t.size * 4);
      if (seen.has(t.dataId)) continue;
      seen.add(t.dataId);
      bytes += t.size * 4;
    }
    for (const a of inputs) largest = Math.max(largest, a.size * 4);
    bytes += largest;
    if (bytes > this.left) return false;
    this.left -= bytes;
    for (const t of [...keptInputs, ...fields]) if (t != null) tf.keep(t);
    this.entries.set(offset, {rows, inputs: keptInputs, fields: fields.slice(), target: null,
                              from: this.units.length - 1});
    return true;
  }

  /** The entry of the chunk at `offset` with `rows` rows, if kept. */
  get(offset: number, rows: number): ForwardEntry|null {
    const e = this.entries.get(offset);
    return e != null && e.rows === rows ? e : null;
  }

  /**
   * Unit j's input under the starting weights (`x` for the first unit; the
   * activation of a solved unit's kept field is recomputed, inside a tidy).
   */
  input(e: ForwardEntry, j: number, x: tf.Tensor): tf.Tensor {
    const kept = e.inputs[j];
    if (kept != null) return kept;
    if (j === 0 || !isSolved(this.units[j - 1])) return x;
    return activate((this.units[j - 1] as SolvedUnit).activation, e.fields[j - 1]!);
  }

  /** Replaces the carried target (kept; the previous one is released). */
  carry(e: ForwardEntry, target: tf.Tensor, from: number): void {
    if (e.target !== target) {
      tf.keep(target);
      if (e.target != null && !this.isKept(e, e.target)) e.target.dispose();
    }
    e.target = target;
    e.from = from;
  }

  /** Releases every entry (the budget is spent until the next {@link reset}). */
  clear(): void {
    const all = new Set<tf.Tensor>();
    for (const e of this.entries.values()) {
      for (const t of [...e.inputs, ...e.fields, e.target]) if (t != null) all.add(t);
    }
    all.forEach(t => t.dispose());
    this.entries.clear();
    this.left = 0;
  }

  private isKept(e: ForwardEntry, t: tf.Tensor): boolean {
    return e.inputs.includes(t) || e.fields.includes(t);
  }
}
