/**
 * The Web Worker script of `webWorkerPool()` (built to `dist/tfjs-er.worker.js`).
 * Its banner loads the tfjs scripts named in the URL's `tfjs` parameter
 * (`importScripts`) before this code runs; the first message sets the
 * backend; every later one is a shard request (`shard_server.ts`).
 */
import * as tf from '@tensorflow/tfjs-core';
import {serveShard} from './shard_server';

interface WorkerScope {
  postMessage(message: unknown, transfer?: ArrayBuffer[]): void;
  addEventListener(type: 'message', listener: (e: {data: unknown}) => void): void;
  removeEventListener(type: 'message', listener: (e: {data: unknown}) => void): void;
}
declare const self: WorkerScope;

const onInit = async (e: {data: unknown}) => {
  const init = (e.data as {init?: {backend: string, wasmPaths: string|null}}).init;
  if (init == null) return;
  self.removeEventListener('message', onInit);
  try {
    if (init.backend === 'wasm') {
      // tslint:disable-next-line:no-any
      const wasm = (globalThis as any).tf?.wasm;
      if (wasm?.setWasmPaths == null) throw new Error('the wasm backend script was not loaded (tfjsUrls)');
      if (init.wasmPaths != null) wasm.setWasmPaths(init.wasmPaths);
    }
    if (!(await tf.setBackend(init.backend))) throw new Error(`backend ${init.backend} failed to initialise`);
    await tf.ready();
    serveShard({
      post: (m, transfer) => self.postMessage(m, transfer ?? []),
      onMessage: h => self.addEventListener('message', ev => {
        if ((ev.data as {init?: unknown}).init == null) h(ev.data);
      }),
      close: () => undefined,  // the worker serves the next run
    }, () => undefined, () => {
      // a backend that aborted: an uncaught error makes the pool terminate and replace this worker
      setTimeout(() => { throw new Error('the backend aborted; this worker cannot serve again'); });
    });
    self.postMessage({initialised: true});
  } catch (err) {
    self.postMessage({initError: err instanceof Error ? err.message : String(err)});
  }
};
self.addEventListener('message', onInit);
