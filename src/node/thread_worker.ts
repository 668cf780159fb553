/**
 * The worker-thread side of `threadPool()`: a piscina task that serves one
 * shard of a run over the MessagePort it is given, with this thread's own
 * tfjs and backend, until the coordinator closes the run. It imports only
 * the engine and the shard server (not the whole library: no tfjs-layers here).
 */
import * as tf from '@tensorflow/tfjs-core';
import {MessagePort} from 'worker_threads';
import {workerData} from 'piscina';
import {serveShard} from '../executors/shard_server';

/** What the pool passes each thread. */
export interface ThreadWorkerData {
  backend: 'wasm'|'cpu';
}

async function initBackend(name: 'wasm'|'cpu'): Promise<void> {
  // tslint:disable-next-line:no-require-imports
  require('@tensorflow/tfjs-backend-cpu');
  if (name === 'wasm') require('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name} failed to initialise in a worker thread`);
  await tf.ready();
}

const ready = initBackend(((workerData ?? {}) as ThreadWorkerData).backend ?? 'wasm');

/** Serves one shard; resolves when the run is closed. */
export default async function serve({port}: {port: MessagePort}): Promise<void> {
  await ready;
  await new Promise<void>(resolve => serveShard({
    post: (m, transfer) => port.postMessage(m, transfer ?? []),
    onMessage: h => port.on('message', h),
    close: () => port.close(),
  }, resolve, () => process.exit(1)));  // a backend that aborted ends the thread (piscina replaces it)
}
