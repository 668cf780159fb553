#!/usr/bin/env node
// `npm test`: every spec in Node (cpu, wasm), then in headless Chromium (webgl, cpu)
// through karma, then the browser demo end to end (Playwright on the same Chromium).
// Ends with one line "tests: N passed, M failed" and exits non-zero on any failure,
// or when no browser can be found.
//   --node-only     only the Node part (npm run test:node)
//   --browser-only  only the browser parts
import {spawnSync} from 'node:child_process';
import {existsSync, mkdirSync, readFileSync, rmSync} from 'node:fs';
import {createRequire} from 'node:module';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const runNode = !args.has('--browser-only');
const runBrowser = !args.has('--node-only');
const totals = {passed: 0, failed: 0};
const problems = [];
mkdirSync(path.join(root, 'test', 'artifacts'), {recursive: true});

function findChrome() {
  const candidates = [process.env.CHROME_BIN, '/usr/bin/chromium', '/usr/bin/chromium-browser',
                      '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];
  return candidates.find(c => c && existsSync(c));
}

if (runNode) {
  const summary = path.join(root, 'test', 'artifacts', 'node-summary.json');
  rmSync(summary, {force: true});
  console.log('== Node: cpu and wasm backends ==');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/node/run.ts'], {
    cwd: root, stdio: 'inherit',
    env: {...process.env, ER_TEST_SUMMARY: summary},
  });
  if (existsSync(summary)) {
    const c = JSON.parse(readFileSync(summary, 'utf8'));
    totals.passed += c.passed;
    totals.failed += c.failed;
  } else {
    problems.push('the Node test run did not finish');
  }
  if (r.status !== 0) problems.push(`Node specs exited with ${r.status}`);
}

if (runBrowser) {
  console.log('== Chromium: webgl and cpu backends (karma) ==');
  const chrome = findChrome();
  if (!chrome) {
    problems.push('no Chromium found: install one (Debian: apt-get install -y chromium) ' +
                  'or set CHROME_BIN to a Chrome/Chromium binary');
  } else {
    process.env.CHROME_BIN = chrome;
    // dist/ first: the Web Worker specs load dist/tfjs-er.worker.js and the demo loads dist/
    const build = spawnSync('npm', ['run', '-s', 'build'], {cwd: root, stdio: 'inherit'});
    const built = build.status === 0;
    if (!built) problems.push('npm run build failed (the browser specs and the demo load dist/)');
    // karma-esbuild writes its bundle to os.tmpdir() and imports the entry by a relative
    // path without "./" when the repo itself lies under the temp dir: keep it inside.
    const tmp = path.join(root, '.cache', 'karma-tmp');
    mkdirSync(tmp, {recursive: true});
    process.env.TMPDIR = tmp;
    const require = createRequire(import.meta.url);
    const karma = require('karma');
    const cfg = await karma.config.parseConfig(path.join(root, 'karma.conf.js'), {},
                                               {promiseConfig: true, throwErrors: true});
    const browserResult = await new Promise(resolve => {
      let results = null;
      const server = new karma.Server(cfg, exitCode => resolve({exitCode, results}));
      server.on('run_complete', (_browsers, r) => { results = r; });
      server.start();
    });
    const res = browserResult.results;
    if (res == null) {
      problems.push('the browser test run did not complete');
    } else {
      totals.passed += res.success;
      totals.failed += res.failed;
      if (res.error) problems.push('karma reported an error (see above)');
    }
    if (browserResult.exitCode !== 0) problems.push(`karma exited with ${browserResult.exitCode}`);

    console.log('== Chromium: the browser demo end to end (playwright-core) ==');
    if (built) {
      const {runDemoE2E} = await import('../test/e2e/demo.e2e.mjs');
      const e2e = await runDemoE2E(chrome);
      totals.passed += e2e.passed;
      totals.failed += e2e.failed;
    }
  }
}

if (totals.passed + totals.failed === 0) problems.push('no test ran');
for (const p of problems) console.error(`error: ${p}`);
console.log(`tests: ${totals.passed} passed, ${totals.failed} failed`);
process.exit(problems.length || totals.failed ? 1 : 0);
