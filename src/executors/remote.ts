/**
 * The coordinator side of the remote executors: shards served elsewhere
 * (`shard_server.ts`) behind a {@link ShardPort}. A run splits the rows
 * over its shards (contiguous ranges of a loaded source; each appended
 * batch split evenly), broadcasts weights, runs every pass on all shards at
 * once and rebuilds their errors with the shard and the pass named.
 */
import * as tf from '@tensorflow/tfjs-core';
import {abortFactor, BatchSource, CONTROL_SLOTS, FactorRequest, factorRequest, isSolved, NetworkSpec, NetworkUnit, PassStats,
        SweepRequest, UpdateSession, UnitWeights} from '../engine/index';
import {ExecutorRun, RunOptions} from './executor';
import {buffersOf, errorFromWire, ShardPort, ShardReply, ShardRequest, toWire, WireChunk, weightsToWire} from './protocol';
import {shardBounds} from './shards';

/** One shard behind a port; `lifetime` rejects if the shard's thread or worker dies. */
export class RemoteShard {
  private next = 1;
  private readonly pending = new Map<number, {resolve: (v: unknown) => void, reject: (e: Error) => void, what: string}>();
  private dead: Error|null = null;

  constructor(readonly name: string, private readonly port: ShardPort, lifetime: Promise<unknown>) {
    port.onMessage(m => {
      const reply = m as ShardReply;
      const p = this.pending.get(reply.id);
      if (p == null) return;
      this.pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.result);
      else p.reject(errorFromWire(reply.error, `${this.name}, ${p.what}`));
    });
    lifetime.then(() => this.fail(new Error(`${this.name} ended`)),
                  (e: unknown) => this.fail(new Error(`${this.name} died: ${e instanceof Error ? e.message : e}`)));
  }

  /** True once the shard is gone. */
  get gone(): boolean {
    return this.dead != null;
  }

  /** Sends a request; `what` names it in errors (e.g. "pass target dense_1"). */
  request<T>(request: ShardRequest, what: string, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.dead != null) return Promise.reject(new Error(`${this.dead.message} (before ${what})`));
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, {resolve: resolve as (v: unknown) => void, reject, what});
      try {
        this.port.post({id, request}, transfer);
      } catch (e) {
        this.pending.delete(id);
        reject(e as Error);
      }
    });
  }

  /** Stops listening (the run is over). */
  dispose(): void {
    this.port.close();
  }

  /** Marks the shard gone: every pending and later request fails with `reason`. */
  fail(reason: Error): void {
    if (this.dead != null) return;
    this.dead = reason;
    for (const [, p] of this.pending) p.reject(new Error(`${reason.message} during ${p.what}`));
    this.pending.clear();
  }
}

/** How a remote executor makes its shards for one run. */
export type ShardFactory = (count: number) => Promise<RemoteShard[]>;

/** A human name of a pass plan, for errors. */
function passName(req: Extract<SweepRequest, {kind: 'pass'}>, units: NetworkUnit[]): string {
  const p = req.plan;
  return p.kind === 'target' ? `pass target ${units[p.unit].name}` : `pass ${p.kind}`;
}

/** Grams at least this wide are factored by the shards together when they share memory; smaller ones here. */
export const SHARED_FACTOR_MIN = 768;

/** A run on remote shards (see the module comment). */
export class RemoteRun implements ExecutorRun {
  rows = 0;
  /** Chunks appended so far (the next one goes to shard `dealt % shards`). */
  private dealt = 0;

  /**
   * @param sharedMemory the shards can work on a SharedArrayBuffer (threads
   *     of this process): the solves' factorisations are then shared by them.
   */
  constructor(private readonly shards: RemoteShard[], private readonly options: RunOptions,
              private readonly sharedMemory = false) {}

  /** Opens a run on every shard. */
  static async open(spec: NetworkSpec, shards: RemoteShard[], options: RunOptions,
                    sharedMemory = false): Promise<RemoteRun> {
    await Promise.all(shards.map((s, i) => s.request({op: 'open', spec, shard: i, shards: shards.length}, 'open')));
    return new RemoteRun(shards, options, sharedMemory);
  }

  async load(source: BatchSource, rows: number): Promise<void> {
    await this.clear();
    const n = this.shards.length, c = this.options.chunkRows;
    const bounds = shardBounds(rows, c, n);
    const sent: Array<Promise<unknown>> = [];
    let start = 0;
    for (const [x, y] of source()) {
      const size = x.shape[0];
      for (let i = 0; i < n; i++) {
        const lo = Math.max(start, bounds[i]), hi = Math.min(start + size, bounds[i + 1]);
        if (lo < hi) sent.push(this.send(i, [piece(x, y, lo - start, hi - start, lo)]));
      }
      start += size;
    }
    await Promise.all(sent);
    if (start !== rows) throw new Error(`the data gave ${start} rows, ${rows} expected`);
    this.rows = rows;
  }

  async append(x: tf.Tensor, y: tf.Tensor): Promise<void> {
    const size = x.shape[0], c = this.options.chunkRows;
    const sent: Array<Promise<unknown>> = [];
    for (let lo = 0; lo < size; lo += c) {
      const hi = Math.min(size, lo + c);
      sent.push(this.send(this.dealt++ % this.shards.length, [piece(x, y, lo, hi, this.rows + lo)]));
    }
    await Promise.all(sent);
    this.rows += size;
  }

  async clear(): Promise<void> {
    await Promise.all(this.shards.map(s => s.request({op: 'clear'}, 'clear')));
    this.rows = 0;
    this.dealt = 0;
  }

  async session(units: NetworkUnit[]): Promise<UpdateSession> {
    const weights = units.map(u => isSolved(u) ? weightsToWire(u) : null);
    await this.broadcast({op: 'begin', weights}, 'begin update');
    return {
      set: async req => void await this.broadcast({op: 'set', slot: req.slot, unit: req.unit, value: req.value == null ? null :
          req.value instanceof tf.Tensor ? toWire(req.value) : weightsToWire(req.value as UnitWeights)},
          req.slot === 'readout' ? `set step read-out ${req.unit}` : `set ${req.slot} of ${units[req.unit].name}`),
      pass: req => Promise.all(this.shards.map(s => s.request<PassStats>({op: 'pass', plan: req.plan},
                                                                       passName(req, units)))),
      factor: req => this.factor(req),
      end: async () => {
        // ends the update on live shards; a dead one has nothing left to end
        await Promise.all(this.shards.filter(s => !s.gone).map(s => s.request({op: 'end'}, 'end update')
            .catch(() => undefined)));
      },
    };
  }

  /**
   * Factors a solve's Gram: on every shard's thread at once over shared
   * memory (engine `choleskyPart`; the same factor, bit for bit), else here.
   * If a shard fails the others are released and the call rejects.
   */
  async factor(req: FactorRequest): Promise<boolean> {
    const {matrix, n} = req, parts = this.shards.length;
    if (!this.sharedMemory || parts < 2 || n < SHARED_FACTOR_MIN) return factorRequest(req);
    const shared = new Float64Array(new SharedArrayBuffer(n * n * 8));
    shared.set(matrix.subarray(0, n * n));
    const control = new SharedArrayBuffer(CONTROL_SLOTS * 4);
    let answers: boolean[];
    try {
      answers = await Promise.all(this.shards.map((s, part) => s.request<boolean>(
          {op: 'factor', matrix: shared.buffer as SharedArrayBuffer, n, part, parts, control},
          `factorisation of a ${n}×${n} Gram`)));
    } catch (e) {
      abortFactor(new Int32Array(control));
      throw e;
    }
    matrix.set(shared);
    return answers.every(ok => ok === true);
  }

  /** Live tensors on each shard. */
  memory(): Promise<number[]> {
    return Promise.all(this.shards.map(s => s.request<{numTensors: number}>({op: 'memory'}, 'memory')
        .then(r => r.numTensors)));
  }

  async close(): Promise<void> {
    await Promise.all(this.shards.filter(s => !s.gone).map(s => s.request({op: 'close'}, 'close')
        .catch(() => undefined)));
    this.shards.forEach(s => s.dispose());
    this.rows = 0;
  }

  private send(shard: number, chunks: WireChunk[]): Promise<unknown> {
    return this.shards[shard].request({op: 'rows', chunks}, 'load rows', buffersOf(chunks));
  }

  private broadcast(request: ShardRequest, what: string): Promise<unknown[]> {
    return Promise.all(this.shards.map(s => s.request(request, what)));
  }
}

/** Rows [lo, hi) of a batch as a wire chunk (copied), tagged with its global offset. */
function piece(x: tf.Tensor, y: tf.Tensor, lo: number, hi: number, offset: number): WireChunk {
  const cut = (t: tf.Tensor) => {
    const per = t.size / t.shape[0];
    const v = t.dataSync();
    const data = v instanceof Float32Array ? v.slice(lo * per, hi * per) : Float32Array.from(v.subarray(lo * per, hi * per));
    return {data, shape: [hi - lo, ...t.shape.slice(1)]};
  };
  return {x: cut(x), y: cut(y), offset};
}
