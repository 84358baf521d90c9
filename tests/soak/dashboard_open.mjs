// dashboard_open.mjs URL — keeps the fa-insightd dashboard open in headless
// chromium (Debian's, driven by playwright-core, as tests/web/run.mjs) until
// SIGTERM or stdin closes, for make soak. Every 10 s it prints one JSON line:
// the page's stream counters, the sessions it lists, its requests to
// /api/v1/sessions and console errors.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(ROOT, 'web/package.json'));
const { chromium } = require('playwright-core');

const url = process.argv[2];
const browser = await chromium.launch({
  executablePath: process.env.FA_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-extensions'],
});
const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
let errors = 0;
let listRequests = 0;
page.on('console', (m) => {
  if (m.type() === 'error') errors++;
});
page.on('pageerror', () => errors++);
page.on('request', (r) => {
  if (new URL(r.url()).pathname === '/api/v1/sessions') listRequests++;
});
await page.goto(url);

let done = false;
async function finish() {
  if (done) return;
  done = true;
  await browser.close().catch(() => {});
  process.exit(0);
}
process.on('SIGTERM', finish);
process.stdin.on('end', finish);
process.stdin.resume();

for (;;) {
  await new Promise((r) => setTimeout(r, 10000));
  const s = await page
    .evaluate(() => ({ wsOpens: window.__fa.stats.wsOpens, received: window.__fa.socket.received, sessions: window.__fa.state.sessions.length, sid: window.__fa.state.sid }))
    .catch((e) => ({ error: String(e) }));
  console.log(JSON.stringify({ ...s, errors, listRequests }));
}
