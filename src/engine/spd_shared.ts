/**
 * The Cholesky factorisation of {@link choleskyInPlace} shared by several
 * threads: each thread ("party") runs {@link choleskyPart} on the same
 * matrix in a SharedArrayBuffer, doing its tiles of rows of every block
 * column, and the parties meet at a barrier between the block's three steps.
 * Every entry is computed by the same arithmetic as in the one-thread
 * factorisation, so the factor is identical to it, bit for bit.
 */
import {CHOLESKY_BLOCK, factorDiagonalBlock, solvePanel, updatePanel} from './spd';

/** Slots of the control array (an Int32Array of {@link CONTROL_SLOTS} over a SharedArrayBuffer). */
const ARRIVED = 0, GENERATION = 1, SINGULAR = 2, ABORTED = 3;
/** Length of the control array. */
export const CONTROL_SLOTS = 4;
/** How long a party waits at a barrier before it checks whether the run was aborted. */
const WAIT_MS = 100;

/** Thrown by a party when the coordinator aborted the factorisation (another party failed). */
export class FactorAbortedError extends Error {}

/**
 * Party `part` of `parts` of the factorisation of the n×n row-major matrix
 * `a` (lower triangle; upper left untouched), synchronised through
 * `control` (zeroed before the first party starts). Returns false, in every
 * party, if the matrix is not positive definite. Blocks its thread
 * (Atomics.wait): call it in a worker, never on a browser's main thread.
 */
export function choleskyPart(a: Float64Array, n: number, part: number, parts: number, control: Int32Array): boolean {
  const meet = () => barrier(control, parts);
  for (let jb = 0; jb < n; jb += CHOLESKY_BLOCK) {
    const je = Math.min(jb + CHOLESKY_BLOCK, n);
    if (jb > 0) updatePanel(a, n, jb, je, part, parts);
    meet();
    if (part === 0 && !factorDiagonalBlock(a, n, jb, je)) Atomics.store(control, SINGULAR, 1);
    meet();
    if (Atomics.load(control, SINGULAR) === 1) return false;
    solvePanel(a, n, jb, je, part, parts);
    meet();
  }
  return true;
}

/** Makes every party waiting in {@link choleskyPart} throw {@link FactorAbortedError}. */
export function abortFactor(control: Int32Array): void {
  Atomics.store(control, ABORTED, 1);
  Atomics.notify(control, GENERATION);
}

/** Waits until `parties` threads have arrived (a generation-counting barrier). */
function barrier(control: Int32Array, parties: number): void {
  if (parties === 1) return;
  const generation = Atomics.load(control, GENERATION);
  if (Atomics.add(control, ARRIVED, 1) === parties - 1) {
    Atomics.store(control, ARRIVED, 0);
    Atomics.add(control, GENERATION, 1);
    Atomics.notify(control, GENERATION);
    return;
  }
  while (Atomics.load(control, GENERATION) === generation) {
    if (Atomics.load(control, ABORTED) === 1) throw new FactorAbortedError('the factorisation was aborted');
    Atomics.wait(control, GENERATION, generation, WAIT_MS);
  }
}
