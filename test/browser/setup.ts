// Imported first by test/browser/index.ts: the backends every spec runs on.
import '@tensorflow/tfjs';

globalThis.__ER_BACKENDS__ = ['webgl', 'cpu'];
