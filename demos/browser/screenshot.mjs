#!/usr/bin/env node
// Makes docs/demo.png for the README from a real run of the demo: trains ER, then Adam,
// draws a digit, screenshots. Uses Debian's Chromium via playwright-core.
//   node demos/browser/screenshot.mjs   (after npm run build)
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {chromium} from 'playwright-core';
import {serveDemo} from './build.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const server = await serveDemo(0);
const browser = await chromium.launch({
  executablePath: process.env.CHROME_BIN || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-background-networking', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
         '--ignore-gpu-blocklist'],
});
try {
  const page = await browser.newPage({viewport: {width: 1280, height: 1150}});
  await page.goto(server.url);
  await page.waitForFunction(() => window.__demo?.state.ready, null, {timeout: 60000});
  for (const button of ['#train-er', '#train-adam']) {
    const before = await page.evaluate(() => window.__demo.state.results.length);
    await page.click(button);
    await page.waitForFunction(n => window.__demo.state.results.length > n && !window.__demo.state.training,
                               before, {timeout: 900000, polling: 1000});
  }
  const box = await page.locator('#pad').boundingBox();
  const pts = [[0.3, 0.25], [0.5, 0.15], [0.68, 0.25], [0.6, 0.5], [0.4, 0.75], [0.3, 0.85], [0.72, 0.85]];
  await page.mouse.move(box.x + box.width * pts[0][0], box.y + box.height * pts[0][1]);
  await page.mouse.down();
  for (const [x, y] of pts.slice(1)) await page.mouse.move(box.x + box.width * x, box.y + box.height * y, {steps: 6});
  await page.mouse.up();
  await page.waitForSelector('#pad-digit', {timeout: 30000});
  await page.screenshot({path: path.join(root, 'docs', 'demo.png'), fullPage: true});
  console.log(JSON.stringify(await page.evaluate(() => window.__demo.state.results)));
} finally {
  await browser.close();
  await server.stop();
}
