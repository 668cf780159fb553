/**
 * The shard side of the remote executors: answers a coordinator's requests
 * (see `protocol.ts`) with the engine's map step (`ShardRunner`), on the
 * tfjs backend of the thread it runs in. It owns every tensor it creates
 * and releases them when the update or the run ends.
 */
import * as tf from '@tensorflow/tfjs-core';
import {choleskyPart, NetworkSpec, ShardChunk, ShardRunner, unitsOf, UnitWeights, WeightSlot} from '../engine/index';
import {buffersOf, errorToWire, fromWire, ShardEnvelope, ShardPort, ShardRequest, WireTensor,
        WireWeights} from './protocol';

/**
 * One update's state on a shard: the runner over the starting weights and
 * the slots set since, owning every tensor made from the wire.
 */
export class ShardUpdate {
  readonly runner: ShardRunner;
  private readonly owned: tf.Tensor[];

  constructor(spec: NetworkSpec, wire: Array<WireWeights|null>) {
    const weights = wire.map(w => w != null ? weightsFromWire(w) : null);
    this.owned = weights.flatMap(w => w == null ? [] : [w.kernel, ...(w.bias ? [w.bias] : [])]);
    try {
      this.runner = new ShardRunner(unitsOf(spec, weights), spec.inputShape);
    } catch (e) {
      tf.dispose(this.owned);
      throw e;
    }
  }

  /** Sets a weight slot from its wire form (null clears it), releasing what it replaces. */
  set(slot: WeightSlot, unit: number, value: WireWeights|WireTensor|null): void {
    const t = value == null ? null : 'kernel' in value ? weightsFromWire(value as WireWeights) :
        fromWire(value as WireTensor) as tf.Tensor2D;
    const old = this.runner.slot(slot, unit);
    this.runner.set(slot, unit, t);
    if (old != null) this.release(old);
    if (t != null) this.owned.push(...('kernel' in t ? [t.kernel, ...(t.bias ? [t.bias] : [])] : [t]));
  }

  /** Releases the runner's kept tensors and every weight tensor. */
  dispose(): void {
    this.runner.dispose();
    tf.dispose(this.owned);
    this.owned.length = 0;
  }

  private release(value: UnitWeights|tf.Tensor) {
    const ts = value instanceof tf.Tensor ? [value] : [value.kernel, ...(value.bias ? [value.bias] : [])];
    for (const t of ts) {
      const i = this.owned.indexOf(t);
      if (i >= 0) {
        this.owned.splice(i, 1);
        t.dispose();
      }
    }
  }
}

function weightsFromWire(w: WireWeights): UnitWeights {
  return {kernel: fromWire(w.kernel), bias: w.bias != null ? fromWire(w.bias) as tf.Tensor1D : null};
}

/**
 * True for an abort of the backend's WebAssembly module (emscripten's
 * `Aborted(…)`, most often its heap is full): the module cannot be used
 * again, so the thread or worker that holds it must end.
 */
export function isBackendAbort(e: unknown): boolean {
  return e instanceof Error && /^Aborted\(/.test(e.message);
}

/** The error to report for a backend abort `e`: what it most often means and what to shrink, then `ending`. */
export function backendAbortError(e: Error, ending: string): Error {
  return new Error(
      `${e.message.split('.')[0]}: the ${tf.getBackend()} backend aborted, most often because its heap ` +
      `(at most 4 GB in each thread or process) is full; give each pass less to hold (a smaller batchSize, a ` +
      `smaller searchRows with mode 'erls') or use more threads or workers. ${ending}`);
}

/**
 * Serves one shard over `port` until the coordinator closes the run; then
 * calls `done`. After a backend abort (see {@link isBackendAbort}) it answers
 * with the reason, stops serving and calls `broken`: the caller ends its
 * thread or worker, so the pool starts a fresh one.
 */
export function serveShard(port: ShardPort, done: () => void, broken: () => void = done): void {
  let spec: NetworkSpec|null = null;
  let chunks: ShardChunk[] = [];
  let update: ShardUpdate|null = null;

  const endUpdate = () => {
    update?.dispose();
    update = null;
  };
  const clearRows = () => {
    tf.dispose(chunks.flatMap(c => [c.x, c.y]));
    chunks = [];
  };
  const handle = (req: ShardRequest): unknown => {
    switch (req.op) {
      case 'open':
        endUpdate();
        clearRows();
        spec = req.spec;
        return undefined;
      case 'rows':
        for (const c of req.chunks) chunks.push({x: fromWire(c.x), y: fromWire(c.y), offset: c.offset});
        return {rows: chunks.reduce((a, c) => a + c.x.shape[0], 0)};
      case 'clear':
        clearRows();
        return undefined;
      case 'begin': {
        if (spec == null) throw new Error('the shard has no run: open one first');
        endUpdate();
        update = new ShardUpdate(spec, req.weights);
        return undefined;
      }
      case 'set':
        requireUpdate().set(req.slot, req.unit, req.value);
        return undefined;
      case 'pass':
        return requireUpdate().runner.run(req.plan, () => chunks);
      case 'end':
        endUpdate();
        return undefined;
      case 'factor':
        return choleskyPart(new Float64Array(req.matrix), req.n, req.part, req.parts, new Int32Array(req.control));
      case 'memory':
        return {numTensors: tf.memory().numTensors};
      case 'close':
        endUpdate();
        clearRows();
        spec = null;
        return undefined;
      default:
        throw new Error(`unknown request '${(req as {op: string}).op}'`);
    }
  };
  const requireUpdate = (): ShardUpdate => {
    if (update == null) throw new Error('no update in progress on this shard');
    return update;
  };
  port.onMessage(message => {
    const {id, request} = message as ShardEnvelope;
    try {
      const result = handle(request);
      port.post({id, ok: true, result}, buffersOf(result));
    } catch (e) {
      if (isBackendAbort(e)) {
        port.post({id, ok: false, error: errorToWire(backendAbortError(
            e as Error, 'This thread is ended; the pool starts a new one.'))});
        try {
          endUpdate();
          clearRows();
        } catch {
          // an aborted backend may refuse even this; the thread is ending anyway
        }
        port.close();
        broken();
        return;
      }
      port.post({id, ok: false, error: errorToWire(e)});
    }
    if (request.op === 'close') {
      port.close();
      done();
    }
  });
}
