// Karma runs the same specs in headless Chromium on the webgl and cpu backends.
// CHROME_BIN selects the browser (scripts/test.mjs finds /usr/bin/chromium).
// ER_KARMA_ENTRY picks another entry (e.g. one spec file) while developing.
const entry = process.env.ER_KARMA_ENTRY || 'test/browser/index.ts';

module.exports = function(config) {
  config.set({
    basePath: __dirname,
    frameworks: ['jasmine'],
    files: [
      entry,
      {pattern: 'test/fixtures/*', included: false, served: true, watched: false},
      // what the Web Worker specs' workers load (dist/ is built first by scripts/test.mjs)
      {pattern: 'dist/tfjs-er.worker.js', included: false, served: true, watched: false},
      {pattern: 'node_modules/@tensorflow/tfjs/dist/tf.min.js', included: false, served: true, watched: false},
      {pattern: 'node_modules/@tensorflow/tfjs-backend-wasm/dist/*.{js,wasm}', included: false, served: true,
       watched: false},
    ],
    mime: {'application/wasm': ['wasm']},
    // cross-origin isolation (what a page needs for SharedArrayBuffer): the Web Worker
    // pool then shares the solves' factorisations with its workers
    customHeaders: [
      {match: '.*', name: 'Cross-Origin-Opener-Policy', value: 'same-origin'},
      {match: '.*', name: 'Cross-Origin-Embedder-Policy', value: 'require-corp'},
    ],
    preprocessors: {[entry]: ['esbuild']},
    esbuild: {
      target: 'es2019',
      external: ['fs', 'path', 'worker_threads', 'perf_hooks'],
      sourcemap: false,
    },
    plugins: ['karma-jasmine', 'karma-chrome-launcher', 'karma-esbuild'],
    reporters: ['dots'],
    browsers: ['ChromeHeadlessER'],
    customLaunchers: {
      ChromeHeadlessER: {
        base: 'ChromeHeadless',
        flags: [
          '--no-sandbox', '--disable-dev-shm-usage', '--disable-background-networking',
          '--disable-component-update', '--disable-sync', '--no-first-run',
          '--disable-quic', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
          '--ignore-gpu-blocklist',
        ],
      },
    },
    client: {jasmine: {random: false, timeoutInterval: 600000}},
    browserNoActivityTimeout: 600000,
    browserDisconnectTimeout: 60000,
    // Software WebGL on a loaded 2-core machine can keep the page busy for a while.
    pingTimeout: 120000,
    captureTimeout: 120000,
    singleRun: true,
    concurrency: 1,
  });
};
