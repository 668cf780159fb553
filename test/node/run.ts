/**
 * Runs every test/*.spec.ts in Node with jasmine, on the backends in
 * ER_TEST_BACKENDS (default cpu,wasm), and writes the counts to
 * ER_TEST_SUMMARY (JSON) for scripts/test.mjs. ER_TEST_FILTER runs only the specs whose
 * full name matches it (a regular expression).
 */
import * as fs from 'fs';
import * as path from 'path';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const Jasmine = require('jasmine');

async function main() {
  const root = path.resolve(__dirname, '..', '..');
  const runner = new Jasmine({projectBaseDir: root});
  runner.exitOnCompletion = false;
  runner.loadConfig({
    spec_dir: 'test',
    spec_files: process.argv.slice(2).length ? process.argv.slice(2) : ['*.spec.ts'],
    helpers: ['node/setup.ts'],
    random: false,
    stopSpecOnExpectationFailure: false,
  });
  runner.jasmine.DEFAULT_TIMEOUT_INTERVAL = 600000;
  const counts = {passed: 0, failed: 0, skipped: 0};
  runner.addReporter({
    specDone(r: {status: string}) {
      if (r.status === 'passed') counts.passed++;
      else if (r.status === 'failed') counts.failed++;
      else counts.skipped++;
    },
    suiteDone(r: {status: string, failedExpectations: Array<{message: string}>}) {
      // Failures in beforeAll/afterAll count as failures too.
      if (r.failedExpectations && r.failedExpectations.length) counts.failed++;
    },
  });
  const result = await runner.execute(undefined, process.env.ER_TEST_FILTER);
  if (process.env.ER_TEST_SUMMARY) {
    fs.writeFileSync(process.env.ER_TEST_SUMMARY, JSON.stringify(counts));
  }
  process.exitCode = result.overallStatus === 'passed' ? 0 : 1;
}

main().catch(e => {
  console.error(e);
  process.exitCode = 1;
});
