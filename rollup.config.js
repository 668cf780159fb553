// Builds dist/: ESM, CommonJS and a UMD bundle (global `tfER`) plus .d.ts.
// tfjs is never bundled: it is a peer dependency, the global `tf` in the UMD build.
const typescript = require('@rollup/plugin-typescript');

const external = id => id.startsWith('@tensorflow/');
const globals = {'@tensorflow/tfjs-core': 'tf', '@tensorflow/tfjs-layers': 'tf'};
const banner = `/** tfjs-er ${require('./package.json').version} | Apache-2.0 */`;

const ts = (declarations, tsconfig = './tsconfig.build.json') => typescript({
  tsconfig,
  compilerOptions: {
    declaration: declarations,
    declarationDir: declarations ? 'dist/types' : undefined,
    sourceMap: true,
  },
});

// Node-only code (CLI, loaders): its own CommonJS files, never in the browser bundles.
const nodeExternal = id => external(id) || !id.startsWith('.') && !id.startsWith('/') &&
    !id.startsWith('\0') && !/^[A-Za-z]:/.test(id);

module.exports = [
  {
    input: 'src/index.ts',
    external,
    plugins: [ts(true)],
    output: [
      {file: 'dist/tfjs-er.esm.js', format: 'es', sourcemap: true, banner},
    ],
  },
  {
    input: 'src/index.ts',
    external,
    plugins: [ts(false)],
    output: [
      {file: 'dist/tfjs-er.cjs', format: 'cjs', sourcemap: true, banner, exports: 'named'},
      {file: 'dist/tfjs-er.umd.js', format: 'umd', name: 'tfER', globals, sourcemap: true,
       banner, exports: 'named'},
    ],
  },

  // The Web Worker script of webWorkerPool(): its banner loads the tfjs scripts named in its URL.
  {
    input: 'src/executors/worker_entry.ts',
    external,
    plugins: [ts(false)],
    output: {file: 'dist/tfjs-er.worker.js', format: 'iife', globals, sourcemap: true,
             banner: `${banner}\n(function () { var s = new URLSearchParams(self.location.search).get('tfjs'); ` +
                     `if (s) importScripts.apply(self, JSON.parse(s)); })();`},
  },

  {
    input: {node: 'src/node/index.ts', cli: 'src/node/cli.ts', thread_worker: 'src/node/thread_worker.ts'},
    external: nodeExternal,
    plugins: [ts(false, './tsconfig.node.json')],
    output: {dir: 'dist', format: 'cjs', entryFileNames: '[name].cjs', chunkFileNames: '[name]-[hash].cjs',
             sourcemap: true, banner,
             exports: 'named'},
  },
];
