// Karma runs the same specs in headless Chromium on the webgl and cpu backends.
// CHROME_BIN selects the browser (scripts/test.mjs finds /usr/bin/chromium).
module.exports = function(config) {
  config.set({
    basePath: __dirname,
    frameworks: ['jasmine'],
    files: [
      'test/browser/index.ts',
      {pattern: 'test/fixtures/*', included: false, served: true, watched: false},
    ],
    preprocessors: {'test/browser/index.ts': ['esbuild']},
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
