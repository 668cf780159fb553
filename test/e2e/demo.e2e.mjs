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
    const isolated = await page.evaluate(() => window.crossOriginIsolated);
    check('the page is cross-origin isolated (COOP/COEP: the Web Workers can share factorisations)', isolated === true,
          `crossOriginIsolated = ${isolated}`);

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
    check('the first ER run used the default, 2 wasm Web Workers', st.r?.where === '2 wasm Web Workers',
          `runs on ${st.r?.where}`);

    // the same training on 1 worker: the same update, so the same accuracy; the page reports the time
    await page.selectOption('#er-executor', '1');
    await page.click('#train-er');
    await page.waitForFunction(() => !window.__demo.state.training && window.__demo.state.results.length === 2 ||
                                     window.__demo.state.error, null, {timeout: 900000, polling: 1000});
    const one = await page.evaluate(() => ({r: window.__demo.state.lastResult, e: window.__demo.state.error,
                                            status: document.getElementById('status').textContent}));
    check('ER on 1 wasm Web Worker completes', one.r?.where === '1 wasm Web Worker' && one.e == null,
          one.e ?? one.status);
    check('1 worker gives the accuracy of 2 workers', one.r != null && Math.abs(one.r.accuracy - st.r.accuracy) <= 0.002,
          `${one.r?.accuracy} vs ${st.r?.accuracy}`);
    check('the page reports each run\'s time', one.r?.seconds > 0 && /in [\d.]+ s/.test(one.status) &&
          (await page.locator('#results tbody tr').count()) === 2, one.status);
    await page.selectOption('#er-executor', '2');

    const box = await page.locator('#pad').boundingBox();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.15);
    await page.mouse.down();
    for (let i = 1; i <= 10; i++) await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * (0.15 + 0.07 * i));
    await page.mouse.up();
    await page.waitForSelector('#pad-digit', {timeout: 30000}).catch(() => null);
    const drawn = await page.evaluate(() => window.__demo.state.padPrediction);
    check('drawing on the pad gives a prediction', Number.isInteger(drawn) && drawn >= 0 && drawn <= 9,
          `predicted ${drawn}`);
    // Teach new symbols: a few drawings each, one ER solve, then predictions of new drawings.
    const stroke = async pts => {
      // clicks elsewhere may scroll the page: locate the pad again for every stroke
      await page.locator('#teach-pad').scrollIntoViewIfNeeded();
      const tbox = await page.locator('#teach-pad').boundingBox();
      await page.mouse.move(tbox.x + tbox.width * pts[0][0], tbox.y + tbox.height * pts[0][1]);
      await page.mouse.down();
      for (const [u, v] of pts.slice(1)) await page.mouse.move(tbox.x + tbox.width * u, tbox.y + tbox.height * v);
      await page.mouse.up();
    };
    const circle = (cx, cy, r) => Array.from({length: 25}, (_, i) => [cx + r * Math.cos(i / 24 * 2 * Math.PI),
                                                                     cy + r * Math.sin(i / 24 * 2 * Math.PI)]);
    const line = (u0, v0, u1, v1) => Array.from({length: 9}, (_, i) => [u0 + (u1 - u0) * i / 8, v0 + (v1 - v0) * i / 8]);
    const symbols = {
      circle: async j => stroke(circle(0.5 + 0.04 * j, 0.5 - 0.03 * j, 0.28 - 0.03 * j)),
      dash: async j => stroke(line(0.2 + 0.03 * j, 0.5 + 0.05 * j, 0.8 - 0.02 * j, 0.5 + 0.05 * j)),
      cross: async j => {
        await stroke(line(0.25 + 0.02 * j, 0.25, 0.75, 0.75 - 0.02 * j));
        await stroke(line(0.75 - 0.02 * j, 0.25, 0.25, 0.75));
      },
    };
    const slot = {circle: 0, dash: 1, cross: 2};
    const addExamples = async (name, n) => {
      for (let j = 0; j < n; j++) {
        await symbols[name](j);
        await page.click(`#add-${slot[name]}`);
      }
    };
    const teachAndWait = async () => {
      await page.click('#teach');
      await page.waitForFunction(() => /taught|error/.test(document.querySelector('#teach-status').textContent),
                                 null, {timeout: 120000});
      const status = await page.textContent('#teach-status');
      await page.evaluate(() => { document.querySelector('#teach-status').textContent = ''; });
      return status;
    };
    const predictNew = async (name, j) => {
      await page.click('#teach-clear');
      await symbols[name](j);
      await page.waitForFunction(() => window.__demo.state.teach.prediction != null, null, {timeout: 30000});
      return page.evaluate(() => window.__demo.state.teach.prediction);
    };
    await addExamples('circle', 3);
    await addExamples('dash', 3);
    const taught = await teachAndWait();
    check('teach mode: an ER head learns 2 new symbols from 3 drawings each', /taught 6 new drawing\(s\).*2 symbols/.test(taught),
          taught);
    const p1 = await predictNew('circle', 4), p2 = await predictNew('dash', 4);
    check('teach mode: new drawings of the 2 symbols are recognised', p1 === 'circle' && p2 === 'dash',
          `circle → ${p1}, dash → ${p2}`);
    await page.click('#teach-clear');
    await addExamples('cross', 3);
    const grown = await teachAndWait();
    check('teach mode: a 3rd symbol is added from its drawings alone (head extended)', /taught 3 new drawing\(s\).*9 in all, 3 symbols/.test(grown),
          grown);
    const p3 = await predictNew('cross', 4), p4 = await predictNew('circle', 5), p5 = await predictNew('dash', 5);
    check('teach mode: all 3 symbols recognised after the extension', p3 === 'cross' && p4 === 'circle' && p5 === 'dash',
          `cross → ${p3}, circle → ${p4}, dash → ${p5}`);

    // "teach objects": an ER head on the real MobileNetV2, taught from image files made here
    // (drawn on a canvas in the page, encoded as PNG): red discs, blue stripes, later green triangles.
    const images = (kind, seeds) => page.evaluate(async ({kind, seeds}) => {
      const out = [];
      for (const seed of seeds) {
        let s = seed * 7919 + 17;
        const r = () => (s = (s * 16807) % 2147483647) / 2147483647;
        const c = new OffscreenCanvas(160, 160), g = c.getContext('2d');
        g.fillStyle = `rgb(${225 + 30 * r()}, ${225 + 30 * r()}, ${215 + 40 * r()})`;
        g.fillRect(0, 0, 160, 160);
        if (kind === 'disc') {
          g.fillStyle = `rgb(${190 + 60 * r()}, ${20 + 40 * r()}, ${20 + 40 * r()})`;
          g.beginPath();
          g.arc(50 + 60 * r(), 50 + 60 * r(), 25 + 20 * r(), 0, 2 * Math.PI);
          g.fill();
        } else if (kind === 'stripes') {
          g.fillStyle = `rgb(${20 + 40 * r()}, ${40 + 60 * r()}, ${180 + 70 * r()})`;
          const w = 8 + 8 * r(), off = 20 * r();
          for (let y = off; y < 160; y += 2 * w) g.fillRect(0, y, 160, w);
        } else {
          g.fillStyle = `rgb(${20 + 40 * r()}, ${150 + 80 * r()}, ${30 + 40 * r()})`;
          const x = 40 + 70 * r(), y = 40 + 70 * r(), h = 35 + 25 * r();
          g.beginPath();
          g.moveTo(x, y - h);
          g.lineTo(x - h, y + h * 0.7);
          g.lineTo(x + h, y + h * 0.7);
          g.closePath();
          g.fill();
        }
        const bytes = new Uint8Array(await (await c.convertToBlob({type: 'image/png'})).arrayBuffer());
        let bin = '';
        for (const b of bytes) bin += String.fromCharCode(b);
        out.push({name: `${kind}-${seed}.png`, b64: btoa(bin)});
      }
      return out;
    }, {kind, seeds}).then(list => list.map(f => ({name: f.name, mimeType: 'image/png', buffer: Buffer.from(f.b64, 'base64')})));
    const clearStatus = () => page.evaluate(() => { document.querySelector('#object-status').textContent = ''; });
    const addFiles = async (slot, files) => {
      await clearStatus();
      await page.setInputFiles(`#object-files-${slot}`, files);
      return objectStatus(`added ${files.length} image|error`, 300000);
    };
    const teachObjects = async () => {
      await clearStatus();
      await page.click('#object-teach');
      return objectStatus('taught|error', 300000);
    };
    const objectStatus = async (pattern, timeout) => {
      await page.waitForFunction(p => new RegExp(p).test(document.querySelector('#object-status').textContent) &&
                                      !window.__demo.objects.busy, pattern, {timeout, polling: 500});
      return page.textContent('#object-status');
    };
    const classifyFiles = async files => {
      await page.evaluate(() => { window.__demo.objects.predictions = []; });
      await page.setInputFiles('#object-test', files);
      await page.waitForFunction(n => window.__demo.objects.predictions.length === n && !window.__demo.objects.busy ||
                                      window.__demo.objects.error, files.length, {timeout: 300000, polling: 500});
      return page.evaluate(() => window.__demo.objects.predictions.map(p => `${p.file}→${p.label}`));
    };
    await page.locator('#objects-card').scrollIntoViewIfNeeded();
    await page.fill('#object-0', 'disc');
    await page.fill('#object-1', 'stripes');
    await page.fill('#object-2', 'triangle');
    await addFiles(0, await images('disc', [1, 2, 3, 4]));
    await addFiles(1, await images('stripes', [1, 2, 3, 4]));
    const objTaught = await teachObjects();
    check('teach objects: an ER head on MobileNetV2 learns 2 objects from 4 image files each',
          /taught 8 new image\(s\).*2 objects/.test(objTaught), objTaught);
    const held = await classifyFiles([...await images('disc', [11, 12]), ...await images('stripes', [11, 12])]);
    const heldOk = held.every(p => p.split('→')[0].split('-')[0] === p.split('→')[1]);
    check('teach objects: held-out images of both objects are recognised', heldOk && held.length === 4, held.join(', '));
    await addFiles(2, await images('triangle', [1, 2, 3, 4]));
    const objGrown = await teachObjects();
    check('teach objects: a 3rd object is added from its images alone (head extended)',
          /taught 4 new image\(s\).*12 in all, 3 objects/.test(objGrown), objGrown);
    const held3 = await classifyFiles([...await images('triangle', [11, 12]), ...await images('disc', [13]),
                                       ...await images('stripes', [13])]);
    const held3Ok = held3.every(p => p.split('→')[0].split('-')[0] === p.split('→')[1]);
    check('teach objects: all 3 objects recognised after the extension', held3Ok && held3.length === 4, held3.join(', '));

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
