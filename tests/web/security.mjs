// tests/web/security.mjs — who may read fa-insightd from a browser (issues
// 14 and 20), in Debian's headless chromium driven by playwright-core; run
// by `make test-web-security`.
//
//   1. A page on another origin (a small server of this test on another
//      port) opens the daemon's WebSocket: it is refused (origin_not_allowed,
//      then closed, no hello, no session data), and cannot read the API
//      either; the dashboard's own page connects.
//   2. A daemon with --token-file: the dashboard asks for the token once
//      (a dialog), keeps it in the tab's sessionStorage and then connects;
//      without it the API answers 401.
//
// Environment: FA_INSIGHTD, FA_CHROMIUM, FA_SCREENSHOTS. Last line: "N passed, N failed".

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { check, end, step } from './harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(ROOT, 'web/package.json'));
const { chromium } = require('playwright-core');

const INSIGHTD = path.resolve(ROOT, process.env.FA_INSIGHTD || 'build/fa-insightd');
const CHROMIUM = process.env.FA_CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.resolve(ROOT, process.env.FA_SCREENSHOTS || 'build/web-screenshots');
const TOKEN = 'browser-token-0123456789abcdef';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fa-web-sec-'));
fs.mkdirSync(SHOTS, { recursive: true });
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const children = [];
async function startDaemon(name, extra) {
  const log = path.join(tmp, `${name}.log`);
  const out = fs.openSync(log, 'a');
  const p = spawn(INSIGHTD, ['--ingest', 'tcp://127.0.0.1:0', '--db', path.join(tmp, `${name}.db`), '--web-root', path.join(ROOT, 'web'), ...extra], { stdio: ['ignore', 'pipe', out] });
  children.push(p);
  let text = '';
  p.stdout.on('data', (d) => (text += d));
  for (let i = 0; i < 300; i++) {
    const m = /ready http=http:\/\/(\S+)/.exec(text);
    if (m) return { p, hostport: m[1], log };
    if (p.exitCode !== null) throw new Error(`fa-insightd exited ${p.exitCode}: ${fs.readFileSync(log, 'utf8')}`);
    await sleep(50);
  }
  throw new Error('fa-insightd did not become ready');
}
process.on('exit', () => children.forEach((p) => p.kill('SIGKILL')));

async function stopDaemon(d) {
  d.p.kill('SIGTERM');
  const code = await new Promise((r) => (d.p.exitCode !== null ? r(d.p.exitCode) : d.p.on('exit', (c) => r(c))));
  check(code === 0, `fa-insightd exit code ${code}`);
}

async function health(hostport, token) {
  const r = await fetch(`http://${hostport}/api/v1/health`, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
  check(r.ok, `health: ${r.status}`);
  return r.json();
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

try {
  // ---- 1. a page on another origin ---------------------------------------
  const d = await startDaemon('origin', ['--listen', '127.0.0.1:0']);
  const evilPort = await freePort();
  const evilPage = `<!doctype html><title>elsewhere</title><script>
    window.seen = { messages: [], opened: false, closed: false, api: null };
    const ws = new WebSocket('ws://${d.hostport}/ws');
    ws.onopen = () => { seen.opened = true; };
    ws.onmessage = (e) => { seen.messages.push(JSON.parse(e.data)); };
    ws.onclose = () => { seen.closed = true; };
    fetch('http://${d.hostport}/api/v1/sessions').then((r) => r.text()).then((t) => { seen.api = t; }, () => { seen.api = 'blocked'; });
  </script>`;
  const evil = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(evilPage);
  });
  await new Promise((r) => evil.listen(evilPort, '127.0.0.1', r));

  await step('a page on another origin gets no WebSocket and no API data', async () => {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${evilPort}/`);
    await page.waitForFunction(() => window.seen.closed && window.seen.api !== null, null, { timeout: 10000 });
    const seen = await page.evaluate(() => window.seen);
    check(!seen.messages.some((m) => m.type === 'hello' || m.type === 'frame' || m.type === 'session'), `session data reached the page: ${JSON.stringify(seen.messages)}`);
    check(seen.messages.length === 1 && seen.messages[0].code === 'origin_not_allowed', `refusal message: ${JSON.stringify(seen.messages)}`);
    check(seen.api === 'blocked', `the API was readable: ${seen.api}`);
    await page.screenshot({ path: path.join(SHOTS, 'security-other-origin.png') });
    await page.close();
    const h = await health(d.hostport);
    check(h.ws.refused_origin >= 1, `ws.refused_origin ${h.ws.refused_origin}`);
  });

  await step("the dashboard's own page connects", async () => {
    const page = await browser.newPage();
    await page.goto(`http://${d.hostport}/`);
    await page.waitForFunction(() => window.__fa && window.__fa.socket && window.__fa.socket.received > 0, null, { timeout: 10000 });
    await page.close();
  });
  evil.close();
  await stopDaemon(d);

  // ---- 2. the token prompt ------------------------------------------------
  const tokenFile = path.join(tmp, 'token');
  fs.writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  await step('a daemon with a token: the dashboard asks once, keeps it in the tab, connects', async () => {
    const t = await startDaemon('token', ['--listen', '0.0.0.0:0', '--allow-remote', '--token-file', tokenFile]);
    const port = t.hostport.split(':').pop();
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/sessions`);
    check(r.status === 401, `without the token: ${r.status}`);
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    const dialog = page.locator('#token-dialog');
    await dialog.waitFor({ state: 'visible', timeout: 10000 });
    await page.screenshot({ path: path.join(SHOTS, 'security-token-prompt.png') });
    check((await page.locator('#token-dialog').count()) === 1, 'one prompt');
    await page.fill('#token-dialog input', TOKEN);
    await page.click('#token-dialog button');
    await page.waitForFunction(() => window.__fa && window.__fa.socket && window.__fa.socket.received > 0, null, { timeout: 10000 });
    check(!(await dialog.isVisible()), 'the prompt is gone');
    check((await page.evaluate(() => sessionStorage.getItem('fa-insight-token'))) === TOKEN, 'kept in sessionStorage');
    // A reload in the same tab does not ask again.
    await page.reload();
    await page.waitForFunction(() => window.__fa && window.__fa.socket && window.__fa.socket.received > 0, null, { timeout: 10000 });
    check((await page.locator('#token-dialog').count()) === 0, 'not asked again in the same tab');
    await page.screenshot({ path: path.join(SHOTS, 'security-token-connected.png') });
    await ctx.close();
    const h = await health(`127.0.0.1:${port}`, TOKEN);
    check(h.http.refused_token >= 2, `http.refused_token ${h.http.refused_token}`);
    await stopDaemon(t);
  });
} finally {
  await browser.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}
end();
