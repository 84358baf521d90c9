// tests/web/demo-shot.mjs — screenshots of the dashboard with the demo game
// (build/fa-demo) running, for a human to look at: `make web-demo-shot`.
// Not a test: it starts a daemon on free ports with a temporary database,
// runs fa-demo for FA_DEMO_SECONDS (default 30), and saves
// build/web-screenshots/demo-*.png along the way; at the end, the Where
// panel with physics' top call site charted and its source (the daemon runs
// with --source-root at the tree): demo-where.png, the README's docs/where.png,
// and `fa-cli sites --tag physics` of the same run in demo-sites.txt.

import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(ROOT, 'web/package.json'));
const { chromium } = require('playwright-core');
const INSIGHTD = path.resolve(ROOT, process.env.FA_INSIGHTD || 'build/fa-insightd');
const DEMO = path.resolve(ROOT, process.env.FA_DEMO || 'build/fa-demo');
const CLI = path.resolve(ROOT, process.env.FA_CLI || 'build/fa-cli');
const SHOTS = path.resolve(ROOT, process.env.FA_SCREENSHOTS || 'build/web-screenshots');
const SECONDS = Number(process.env.FA_DEMO_SECONDS || 30);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fa-web-demo-'));
fs.mkdirSync(SHOTS, { recursive: true });
const http = `127.0.0.1:${await freePort()}`;
const ingest = `tcp://127.0.0.1:${await freePort()}`;
const log = fs.openSync(path.join(tmp, 'logs.txt'), 'a');
const daemon = spawn(INSIGHTD, ['--listen', http, '--ingest', ingest, '--db', path.join(tmp, 'db'), '--web-root', path.join(ROOT, 'web'), '--source-root', ROOT], { stdio: ['ignore', log, log] });
let demo = null;
let browser = null;
try {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://${http}/api/v1/health`)).ok) break;
    } catch {}
    await sleep(100);
  }
  demo = spawn(DEMO, ['--url', ingest, '--fps', '60', '--quiet'], { stdio: ['ignore', log, log] });
  browser = await chromium.launch({
    executablePath: process.env.FA_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on('console', (m) => m.type() === 'error' && console.log(`console error: ${m.text()}`));
  await page.goto(`http://${http}/`);
  await page.waitForSelector('#tag-grid [role="row"][data-path="physics"]', { timeout: 15000 });
  await page.locator('#tag-grid [role="row"][data-path="physics"] .tag-name').click();
  const shots = [];
  const t0 = Date.now();
  for (let k = 1; Date.now() - t0 < SECONDS * 1000; k++) {
    await sleep(Math.min(10000, SECONDS * 1000 - (Date.now() - t0)));
    const file = path.join(SHOTS, `demo-${String(k).padStart(2, '0')}.png`);
    await page.screenshot({ path: file });
    shots.push(path.relative(ROOT, file));
  }
  const pick = page.locator('#where-panel button.site-pick').first();
  await pick.click();
  await page.waitForSelector('#where-panel .where-source[data-status="ok"] .src-line.at', { timeout: 10000 });
  await page.waitForFunction(() => Number(document.querySelector('#where-panel .where-chart').dataset.points) > 1, null, { timeout: 10000 });
  // Tall enough that the panel is on screen without scrolling under the
  // sticky header.
  await page.setViewportSize({ width: 1440, height: 2000 });
  await page.mouse.move(0, 0); // the legends show the newest point, not the pointer's
  await sleep(500);
  const where = path.join(SHOTS, 'demo-where.png');
  await page.locator('#where-panel').screenshot({ path: where });
  shots.push(path.relative(ROOT, where));
  // The same figures in the terminal, for the README beside the picture.
  const sites = path.join(SHOTS, 'demo-sites.txt');
  fs.writeFileSync(sites, execFileSync(CLI, ['--server', `http://${http}`, '--no-color', 'sites', '--tag', 'physics'], { encoding: 'utf8' }));
  shots.push(path.relative(ROOT, sites));
  console.log(`demo screenshots: ${shots.join(' ')}`);
} finally {
  if (browser) await browser.close();
  if (demo) demo.kill('SIGINT');
  await sleep(1500);
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.on('exit', r));
  fs.rmSync(tmp, { recursive: true, force: true });
}
