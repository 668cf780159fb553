/**
 * Runs one spec definition on every backend of the current environment:
 * cpu and wasm in Node (test/node/setup.ts), webgl and cpu in Chromium
 * (test/browser/index.ts).
 */
import * as tf from '@tensorflow/tfjs';

declare global {
  // eslint-disable-next-line no-var
  var __ER_BACKENDS__: string[]|undefined;
}

export function testBackends(): string[] {
  return globalThis.__ER_BACKENDS__ ?? ['cpu'];
}

/** `describe(name [backend])` once per backend, with the backend set for its specs. */
export function describeBackends(name: string, fn: (backend: string) => void): void {
  for (const backend of testBackends()) {
    describe(`${name} [${backend}]`, () => {
      beforeAll(async () => {
        if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} failed to init`);
        await tf.ready();
      });
      fn(backend);
    });
  }
}

/** Asserts that `fn` leaves the number of live tensors unchanged. */
export async function expectNoLeak<T>(fn: () => T|Promise<T>): Promise<T> {
  const before = tf.memory().numTensors;
  const r = await fn();
  expect(tf.memory().numTensors - before).withContext('tensor leak').toBe(0);
  return r;
}
