// Node test setup: registers the cpu and wasm backends.
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

globalThis.__ER_BACKENDS__ = (process.env.ER_TEST_BACKENDS ?? 'cpu,wasm').split(',');
