/**
 * The messages between a coordinator and a shard that lives elsewhere (a
 * worker thread, a Web Worker): plain data and typed arrays, so they
 * cross any `postMessage`; large arrays are transferred, not copied.
 */
import * as tf from '@tensorflow/tfjs-core';
import {ERInputError, ERNumericalError, NetworkSpec, PassPlan, PassStats, UnitWeights, WeightSlot} from '../engine/index';

/** A tensor as an array and a shape. */
export interface WireTensor {
  data: Float32Array;
  shape: number[];
}

/** A unit's weights on the wire. */
export interface WireWeights {
  kernel: WireTensor;
  bias: WireTensor|null;
}

/** Rows for a shard: inputs, targets, and the index of the first row in the whole data. */
export interface WireChunk {
  x: WireTensor;
  y: WireTensor;
  offset: number;
}

/** What a coordinator asks a shard. */
export type ShardRequest =
    /** Start a run for this network; the shard is number `shard` of `shards`. */
    {op: 'open', spec: NetworkSpec, shard: number, shards: number}|
    /** Add rows. */
    {op: 'rows', chunks: WireChunk[]}|
    /** Forget the rows. */
    {op: 'clear'}|
    /** Start an update from these weights (one entry per unit, null for weightless ones). */
    {op: 'begin', weights: Array<WireWeights|null>}|
    {op: 'set', slot: WeightSlot, unit: number, value: WireWeights|WireTensor|null}|
    {op: 'pass', plan: PassPlan}|
    /** End the update (drop its weights and kept targets). */
    {op: 'end'}|
    /**
     * Take part `part` of `parts` in factoring the n×n float64 matrix in
     * `matrix` in place, synchronised through `control` (engine
     * `choleskyPart`); answers whether it was positive definite. Needs
     * shared memory (worker threads; Web Workers of a cross-origin-isolated page).
     */
    {op: 'factor', matrix: SharedArrayBuffer, n: number, part: number, parts: number, control: SharedArrayBuffer}|
    /** Live tensors in the shard's tfjs (for leak checks and monitoring). */
    {op: 'memory'}|
    /** End the run. */
    {op: 'close'};

/** A request with its id. */
export interface ShardEnvelope {
  id: number;
  request: ShardRequest;
}

/** A shard's answer. */
export type ShardReply = {id: number, ok: true, result?: unknown}|
                         {id: number, ok: false, error: {name: string, message: string, stack?: string}};

/** A two-way message channel to or from a shard (MessagePort, Worker, worker global scope). */
export interface ShardPort {
  /** Sends a message, moving the `transfer` buffers. */
  post(message: unknown, transfer?: ArrayBuffer[]): void;
  /** Calls `handler` with every message that arrives. */
  onMessage(handler: (message: unknown) => void): void;
  /** Ends the channel. */
  close(): void;
}

/** A tensor's values (float32) and shape, copied. */
export function toWire(t: tf.Tensor): WireTensor {
  const v = t.dataSync();
  return {data: v instanceof Float32Array ? v.slice() : Float32Array.from(v), shape: t.shape.slice()};
}

/** A unit's weights on the wire. */
export function weightsToWire(w: UnitWeights): WireWeights {
  return {kernel: toWire(w.kernel), bias: w.bias != null ? toWire(w.bias) : null};
}

/** A tensor from the wire (a new tensor the caller owns). */
export function fromWire(w: WireTensor): tf.Tensor {
  return tf.tensor(w.data, w.shape, 'float32');
}

/** The buffers of every typed array inside `value` (to transfer them). */
export function buffersOf(value: unknown, out: ArrayBuffer[] = []): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    const b = value.buffer as ArrayBuffer;
    if (!out.includes(b) && b.byteLength > 0) out.push(b);
  } else if (Array.isArray(value)) {
    for (const v of value) buffersOf(v, out);
  } else if (value != null && typeof value === 'object') {
    for (const v of Object.values(value)) buffersOf(v, out);
  }
  return out;
}

/** The wire form of an error (its class name is kept so the coordinator can rebuild it). */
export function errorToWire(e: unknown): {name: string, message: string, stack?: string} {
  const err = e instanceof Error ? e : new Error(String(e));
  return {name: err.name, message: err.message, stack: err.stack};
}

/** An error from its wire form, prefixed with where it happened; keeps tfjs-er's error classes. */
export function errorFromWire(w: {name: string, message: string}, where: string): Error {
  const message = `${where}: ${w.message}`;
  if (w.name === 'ERInputError') return new ERInputError(message);
  if (w.name === 'ERNumericalError') return new ERNumericalError(message);
  const e = new Error(message);
  e.name = w.name;
  return e;
}

/** Whether `stats` came back intact (a type guard for replies). */
export function isPassStats(v: unknown): v is PassStats {
  return v != null && typeof v === 'object' && typeof (v as PassStats).rows === 'number';
}
