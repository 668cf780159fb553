// End-to-end test of the browser demo in real headless Chromium (playwright-core,
// Debian's /usr/bin/chromium; never a downloaded browser). Run by scripts/test.mjs;
// prints one line per check and returns {passed, failed}.
import {mkdirSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {chromium} from 'playwright-core';
import {serveDemo} from '../../demos/browser/build.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export async function runDemoE2E(executablePath) {
  const results = {passed: 0, failed: 0};
  const check = (name, ok, detail = '') => {
    results[ok ? 'passed' : 'failed']++;
    console.log(`${ok ? '  ✓' : '  ✗'} ${name}${detail ? ` — ${detail}` : ''}`);
  };
  const server = await serveDemo(0);
  const browser = await chromium.launch({
    executablePath, headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update',
           '--disable-sync', '--no-first-run', '--disable-quic', '--use-angle=swiftshader',
           '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist'],
  });
  try {
    const page = await browser.newPage({viewport: {width: 1280, height: 1400}});
    const errors = [];
    page.on('pageerror', e => errors.push(String(e)));
    await page.goto(server.url);
    await page.waitForFunction(() => window.__demo?.state.ready || window.__demo?.state.error, null, {timeout: 60000});
    const backend = await page.evaluate(() => window.__demo.tf.getBackend());
    check('the demo runs on the webgl backend', backend === 'webgl', `tf.getBackend() = ${backend}`);

    await page.click('#train-er');
    await page.waitForFunction(() => !window.__demo.state.training && (window.__demo.state.lastResult || window.__demo.state.error),
                               null, {timeout: 900000, polling: 1000});
    const st = await page.evaluate(() => ({r: window.__demo.state.lastResult, e: window.__demo.state.error}));
    check('Train with ER completes', st.r != null && st.e == null, st.e ?? `${st.r?.seconds.toFixed(1)} s`);
    check('ER test accuracy ≥ 0.90 on the bundled 2k test digits', (st.r?.accuracy ?? 0) >= 0.90,
          `accuracy ${st.r?.accuracy}`);
    const chart = await page.locator('#accuracy-chart canvas, #accuracy-chart svg').count();
    check('accuracy chart rendered', chart > 0, `${chart} chart element(s)`);
    const confusion = await page.locator('#confusion canvas, #confusion svg').count();
    check('confusion matrix rendered', confusion > 0, `${confusion} element(s)`);
    const digits = await page.locator('#digits figure').count();
    check('grid of test digits with predictions', digits === 32, `${digits} digits`);

    const box = await page.locator('#pad').boundingBox();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.15);
    await page.mouse.down();
    for (let i = 1; i <= 10; i++) await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * (0.15 + 0.07 * i));
    await page.mouse.up();
    await page.waitForSelector('#pad-digit', {timeout: 30000}).catch(() => null);
    const drawn = await page.evaluate(() => window.__demo.state.padPrediction);
    check('drawing on the pad gives a prediction', Number.isInteger(drawn) && drawn >= 0 && drawn <= 9,
          `predicted ${drawn}`);
    mkdirSync(path.join(root, 'test', 'artifacts'), {recursive: true});
    await page.screenshot({path: path.join(root, 'test', 'artifacts', 'demo.png'), fullPage: true});
    check('no uncaught page errors', errors.length === 0, errors.join('; '));

    const umd = await browser.newPage();
    await umd.goto(server.url + 'umd.html');
    await umd.waitForFunction(() => window.__umdResult, null, {timeout: 300000});
    const u = await umd.evaluate(() => window.__umdResult);
    check('UMD page: tfjs-er from plain <script> tags trains with ER', !u.error && u.accuracy >= 0.9,
          u.error ?? `backend ${u.backend}, accuracy ${u.accuracy?.toFixed(3)}`);
  } catch (e) {
    check('demo end-to-end run', false, String(e));
  } finally {
    await browser.close();
    await server.stop();
  }
  return results;
}
