// tests/web/run.mjs — browser tests of the dashboard (web/), run by
// `make test-web`.
//
// A real fa-insightd (free ports, a temporary database, --web-root web) is
// fed by a real agent (tests/web/feeder: a game loop with physics,
// physics/contacts, render, ... and 200 extra tags, breaking the physics
// budget after a few seconds). Debian's chromium, driven headless by
// playwright-core, loads the page; each step checks one thing a person
// would look at. Every console error and page error is recorded, and every
// request to anything but the daemon is blocked and recorded: both must
// stay empty (the only exception: the browser's own "connection refused"
// lines while the test has deliberately stopped the daemon). Screenshots go
// to $FA_SCREENSHOTS (build/web-screenshots).
//
// Environment: FA_INSIGHTD, FA_FEEDER, FA_CHROMIUM, FA_SCREENSHOTS,
// FA_WEB_HEADED=1 (watch it), FA_WEB_KEEP=1 (keep the temp dir).
// Last line: "N passed, N failed".

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { axeViolations as axeOf } from './harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(ROOT, 'web/package.json'));
const { chromium } = require('playwright-core');

const INSIGHTD = path.resolve(ROOT, process.env.FA_INSIGHTD || 'build/fa-insightd');
const FEEDER = path.resolve(ROOT, process.env.FA_FEEDER || 'build/tests/web/feeder');
const SENDER = path.resolve(ROOT, process.env.FA_SENDER || 'build/default/tests/insightd_sender');
const CHROMIUM = process.env.FA_CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.resolve(ROOT, process.env.FA_SCREENSHOTS || 'build/web-screenshots');
const T0 = Date.now();

// ---- tiny harness ----------------------------------------------------------

const results = [];
async function step(name, fn) {
  const t = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${Date.now() - t} ms)`);
  } catch (e) {
    results.push({ name, ok: false, error: e });
    console.log(`FAIL ${name} (${Date.now() - t} ms): ${e && e.message ? e.message : e}`);
    // What the page believed at that moment.
    const seen = page
      ? await page
          .evaluate(() => {
            const f = window.__fa;
            if (!f) return 'no window.__fa';
            const st = f.state;
            return JSON.stringify({ sid: st.sid, pinned: st.pinned, conn: st.conn, frame: st.frame, session: st.session && { id: st.session.id, live: st.session.live }, sessions: st.sessions.map((x) => [x.id, x.app, x.live]), stats: f.stats, ws: { state: f.socket.state, received: f.socket.received } });
          })
          .catch((err) => `page state unavailable: ${err.message}`)
      : 'no page';
    console.log(`     page state: ${seen}`);
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, timeoutMs = 10000, everyMs = 100) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? ` (${last.message})` : ''}`);
    await sleep(everyMs);
  }
}

// ---- processes -------------------------------------------------------------

const children = new Set();
function start(name, cmd, args, logFile) {
  const out = fs.openSync(logFile, 'a');
  const p = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', out] });
  p.stdoutText = '';
  p.stdout.on('data', (d) => {
    p.stdoutText += d;
    fs.appendFileSync(logFile, d);
  });
  p.exited = new Promise((resolve) => p.on('exit', (code, sig) => resolve({ code, sig })));
  p.exited.then(() => children.delete(p));
  p.label = name;
  children.add(p);
  return p;
}
async function stop(p, sig = 'SIGTERM', timeoutMs = 8000) {
  if (!p || p.exitCode !== null || p.signalCode !== null) return p ? p.exited : null;
  p.kill(sig);
  const r = await Promise.race([p.exited, sleep(timeoutMs).then(() => null)]);
  if (r) return r;
  p.kill('SIGKILL');
  return p.exited;
}
process.on('exit', () => {
  for (const p of children) {
    try {
      p.kill('SIGKILL');
    } catch {}
  }
});

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// ---- the scenario ------------------------------------------------------------

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fa-web-'));
fs.rmSync(SHOTS, { recursive: true, force: true });
fs.mkdirSync(SHOTS, { recursive: true });
const httpPort = await freePort();
let ingestPort = await freePort();
while (ingestPort === httpPort) ingestPort = await freePort();
const HOST = `127.0.0.1:${httpPort}`;
const BASE = `http://${HOST}`;
const INGEST = `tcp://127.0.0.1:${ingestPort}`;
const DB = path.join(tmp, 'insight.db');
const DAEMON_LOG = path.join(tmp, 'fa-insightd.log');
const FEEDER_LOG = path.join(tmp, 'feeder.log');

for (const f of [INSIGHTD, FEEDER, SENDER, CHROMIUM]) {
  if (!fs.existsSync(f)) {
    console.log(`web tests: ${f} is missing (make all; .ci/deps installs chromium)`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}

let daemon = null;
async function startDaemon() {
  daemon = start('fa-insightd', INSIGHTD, ['--listen', HOST, '--ingest', INGEST, '--db', DB, '--web-root', path.join(ROOT, 'web'), '--session-timeout', '5s', '--log-level', 'info'], DAEMON_LOG);
  await until('the daemon to answer /api/v1/health', async () => {
    if (daemon.exitCode !== null) throw new Error(`fa-insightd exited (${daemon.exitCode}); log: ${DAEMON_LOG}`);
    const r = await fetch(`${BASE}/api/v1/health`);
    return r.ok;
  }, 15000);
}

// Console and network records. Network errors are expected from the browser
// itself only while the daemon is down on purpose (downWindow).
const consoleErrors = [];
const expectedNetErrors = [];
const foreignRequests = [];
const sessionListRequests = []; // the query strings of /api/v1/sessions requests
let downWindow = false;

function isOwnUrl(u) {
  try {
    const url = new URL(u);
    return (url.host === HOST || url.host === `localhost:${httpPort}`) && (url.protocol === 'http:' || url.protocol === 'ws:');
  } catch {
    return u.startsWith('data:') || u === 'about:blank';
  }
}

const shot = async (page, name) => {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
};

let browser;
let page;
let feeder;
let sid;
const pageText = (sel) => page.locator(sel).first().textContent();
const axeViolations = () => axeOf(page);
const fa = (fn, arg) => page.evaluate(fn, arg);

try {
  await step('format.js: units, percentages and budget states', async () => {
    const f = await import(path.join(ROOT, 'web/format.js'));
    const cases = [
      [f.fmtBytes(0), '0 B'], [f.fmtBytes(1023), '1023 B'], [f.fmtBytes(1536), '1.50 KiB'], [f.fmtBytes(4 * 1048576), '4.00 MiB'],
      [f.fmtBytes(123.4 * 1048576), '123 MiB'], [f.fmtBytes(null), '—'], [f.fmtBytesShort(4 * 1048576), '4 MiB'],
      [f.fmtBytesShort(1.5 * 1048576), '1.5 MiB'], [f.fmtBytesShort(1.53 * 1048576), '1.53 MiB'], [f.fmtBytesShort(128 * 1024), '128 KiB'],
      [f.fmtPct(8.04), '8.0 %'], [f.fmtPct(123.6), '124 %'], [f.budgetState(79.9), 'ok'], [f.budgetState(80), 'warn'],
      [f.budgetState(100), 'crit'], [f.budgetState(null), 'none'], [f.fmtDuration(65000), '1 min'],
      // Issue 14: a rounded figure never claims a threshold the usage has not reached.
      [f.fmtPct(99.7), '99.7 %'], [f.fmtPct(99.96), '99.9 %'], [f.fmtPct(79.6), '79.6 %'], [f.fmtPct(100), '100 %'],
      [f.fmtPct(80.4), '80 %'], [f.fmtPct(99.4), '99 %'], [f.tagName(''), '(root)'], [f.tagName('physics'), 'physics'],
      [f.niceTicks(0, 4.3 * 1048576).map(f.fmtBytesShort).join(' '), '0 B 1 MiB 2 MiB 3 MiB 4 MiB'],
      [f.niceTicks(0, 650 * 1024).map(f.fmtBytesShort).join(' '), '0 B 200 KiB 400 KiB 600 KiB'],
    ];
    const bad = cases.filter(([got, want]) => got !== want).map(([got, want]) => `'${got}' != '${want}'`);
    assert(bad.length === 0, bad.join(', '));
  });

  await step('daemon starts on free ports with a temporary database', startDaemon);

  await step('chromium starts headless, offline except for the daemon', async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: process.env.FA_WEB_HEADED !== '1',
      // playwright adds --headless and a fresh --user-data-dir itself.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-default-apps', '--disable-extensions', '--metrics-recording-only', '--no-default-browser-check'],
    });
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1, serviceWorkers: 'block' });
    await context.route('**/*', (route) => {
      const u = route.request().url();
      if (isOwnUrl(u)) return route.continue();
      foreignRequests.push(u);
      return route.abort('blockedbyclient');
    });
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      const text = m.text();
      const net = /net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|EMPTY_RESPONSE|CONNECTION_CLOSED)|WebSocket connection to .* failed/.test(text);
      if (downWindow && net) expectedNetErrors.push(text);
      else consoleErrors.push(`${text} @ ${JSON.stringify(m.location())}`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    page.on('websocket', (ws) => {
      if (!isOwnUrl(ws.url())) foreignRequests.push(ws.url());
    });
    page.on('request', (r) => {
      if (!isOwnUrl(r.url())) foreignRequests.push(r.url());
      const u = new URL(r.url());
      if (u.pathname === '/api/v1/sessions') sessionListRequests.push(u.search);
    });
  });

  await step('with no session yet the page says so', async () => {
    await page.goto(`${BASE}/`);
    await until('the "no sessions yet" banner', async () => (await page.locator('#banner[data-kind="empty"]').isVisible()) && /No sessions yet/.test(await pageText('#banner')));
    await until('the connection pill to say connected', async () => (await page.getAttribute('#conn', 'data-state')) === 'open');
    await shot(page, '01-no-sessions');
  });

  await step('a real agent starts: the session appears with app, host, frame and fps', async () => {
    feeder = start('feeder', FEEDER, ['--url', INGEST, '--extra-tags', '200', '--breach-at', '4', '--breach-hold', '10', '--fps', '60'], FEEDER_LOG);
    sid = await until('the feeder to print its session id', () => (/session ([0-9a-f]{16})/.exec(feeder.stdoutText) || [])[1], 5000);
    await until('the session in the picker', async () => (await page.locator(`#session-select option[value="${sid}"]`).count()) === 1, 10000);
    await until('the header to show the live session', async () => (await pageText('#h-app')).startsWith('web-feeder') && (await pageText('#h-session-state')) === 'live', 10000);
    const host = await pageText('#h-host');
    assert(host === os.hostname() || host.length > 0, `host shows '${host}'`);
    const f1 = await until('a frame number', async () => Number((await pageText('#h-frame')).replace(/,/g, '')) || 0, 5000);
    await sleep(600);
    const f2 = Number((await pageText('#h-frame')).replace(/,/g, ''));
    assert(f2 > f1 && f1 > 0, `the frame number moves (${f1} -> ${f2})`);
    const fps = await until('an fps figure', async () => Number(await pageText('#h-fps')) || 0, 5000);
    assert(fps > 30 && fps < 90, `fps ${fps} is near the feeder's 60`);
    assert((await page.locator('#banner').isHidden()), 'no banner while live');
    assert((await page.inputValue('#session-select')) === sid, 'the picker selects the live session');
  });

  await step('totals show frame, pool and heap bytes in use and peak, live', async () => {
    const read = () => fa(() => ['all', 'frame', 'pool', 'heap'].map((k) => [document.getElementById(`t-${k}-cur`).textContent, document.getElementById(`t-${k}-peak`).textContent]));
    const a = await until('totals', async () => {
      const v = await read();
      return v.every(([c]) => /\d/.test(c)) && v;
    }, 5000);
    for (const [cur, peak] of a) assert(/ (B|KiB|MiB|GiB)$/.test(cur) && / (B|KiB|MiB|GiB)$/.test(peak), `totals are in bytes: ${cur} / ${peak}`);
    await until('the totals to change', async () => JSON.stringify(await read()) !== JSON.stringify(a), 5000);
  });

  await step('the tag tree shows the tags with current, peak, budget bar and sparkline', async () => {
    for (const p of ['physics', 'physics/contacts', 'render', 'audio', 'assets']) await until(`row ${p}`, () => page.locator(`#tag-grid [role="row"][data-path="${p}"]`).isVisible(), 8000);
    const row = page.locator('#tag-grid [role="row"][data-path="physics"]');
    assert(/\d/.test(await row.locator('.cur').textContent()), 'physics has a current figure');
    assert(/\d/.test(await row.locator('.peak').textContent()), 'physics has a peak figure');
    assert(/of 4 MiB/.test(await row.locator(".budget-of").textContent()), "physics shows its 4 MiB budget");
    assert(/%/.test(await row.locator('.pct').textContent()), 'physics shows a percentage');
    assert((await row.getAttribute('data-state')) !== 'none', 'physics has a budget state');
    // A sparkline has been drawn: some pixels are not transparent.
    await until('a drawn sparkline', () => fa(() => {
      const c = document.querySelector('[role="row"][data-path="physics"] canvas.spark');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < d.length; i += 4) if (d[i]) return true;
      return false;
    }), 5000);
    // Collapse and expand with the keyboard.
    await page.locator('#tag-grid [role="row"][data-path="physics"] .tag-name').focus();
    await page.keyboard.press('ArrowLeft');
    await until('physics/contacts hidden', async () => (await page.locator('#tag-grid [role="row"][data-path="physics/contacts"]').count()) === 0, 2000);
    await page.keyboard.press('ArrowRight');
    await until('physics/contacts shown', () => page.locator('#tag-grid [role="row"][data-path="physics/contacts"]').isVisible(), 2000);
    await shot(page, '02-session-live');
  });

  await step('the root tag is "(root)", the name fa-cli and the API use', async () => {
    // The feeder's arena overflow is found on the root tag (untagged frame memory).
    const tags = await until('a finding on the root tag', async () => {
      const t = await page.locator('#finding-list .finding[data-code="6"] .ftag').allTextContents();
      return t.length && t;
    }, 10000);
    assert(tags.includes('(root)') && !tags.includes('(untagged)'), `the root tag is shown as ${tags.join(', ')}`);
  });

  await step('sparklines fill their cell within a second of opening the page', async () => {
    // Issue 14: they stayed empty (a sliver at the right edge) for seconds.
    const p3 = await page.context().newPage();
    try {
      await p3.goto(`${BASE}/`);
      const row = p3.locator('#tag-grid [role="row"][data-path="assets"]');
      await until('the assets row', () => row.isVisible(), 8000, 20);
      const t0 = Date.now();
      const span = await until('a sparkline across its cell', () => p3.evaluate(() => {
        // assets has no budget: no dashed budget line across the cell.
        const c = document.querySelector('[role="row"][data-path="assets"] canvas.spark');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let left = c.width;
        for (let i = 3; i < d.length; i += 4) if (d[i]) left = Math.min(left, ((i - 3) / 4) % c.width);
        return left <= c.width * 0.1 ? c.width - left : 0;
      }), 3000, 50);
      const ms = Date.now() - t0;
      assert(ms <= 1000, `the sparkline took ${ms} ms to span its cell`);
      console.log(`     the assets sparkline spans ${span} px ${ms} ms after the row appeared`);
    } finally {
      await p3.close();
    }
  });

  await step('tag names are shown as text, never as markup', async () => {
    await page.click('#expand-all');
    const odd = page.locator('#tag-grid [role="row"][data-path*="<b>"]');
    await until('the tag with markup characters', async () => (await odd.count()) === 1, 5000);
    assert((await odd.locator('.tag-name').textContent()) === `<b>"q" & 'a'`, 'the name shows literally');
    assert((await page.locator('#tag-grid b').count()) === 0, 'no <b> element was created');
  });

  await step('200 tags at 60 fps: all rows present, rendering stays within the frame budget', async () => {
    await until('all tags in the tree', async () => {
      const c = await page.locator('#tag-grid .rows > [role="row"]').count();
      return c >= 205 && c;
    }, 8000);
    // Measure animation-frame gaps and our render cost for 3 s, everything
    // expanded and sorted by size (the heaviest case).
    await page.click('#tag-grid .head button[data-sort="size"]');
    try {
      // The size order is refreshed once a second (rows must not jump under
      // the pointer), so two tags whose live bytes cross between refreshes
      // are briefly out of order: the order must match the figures at some
      // moment, not at an arbitrary one.
      let sizes = [];
      await until('top-level tags sorted by size', async () => {
        sizes = await fa(() => window.__fa.tree.visible.filter((n) => n.depth === 1).map((n) => n.live));
        return sizes.length > 1 && sizes.every((v, i) => i === 0 || sizes[i - 1] >= v);
      }, 6000, 50).catch((e) => { throw new Error(`${e.message}: last sizes ${sizes}`); });
      assert((await page.getAttribute('#tag-grid [role="columnheader"]:has(button[data-sort="size"])', 'aria-sort')) === 'descending', 'aria-sort says descending');
      await measureLoad();
    } finally {
      await page.click('#tag-grid .head button[data-sort="name"]');
      await page.click('#collapse-all');
      await page.locator('#tag-grid [role="row"][data-path="physics"] button.twisty').click();
    }
  });

  // The machine may be shared (other builds, benchmarks): a measurement
  // that misses is taken once more before it counts, and both are printed.
  async function measureLoad() {
    let m;
    let why = '';
    for (let attempt = 1; attempt <= 2; attempt++) {
      m = await measureOnce();
      const rows = await page.locator('#tag-grid .rows > [role="row"]').count();
      console.log(`     ${rows} rows; ${m.frames} animation frames in 3 s (median gap ${m.medianGap.toFixed(1)} ms, p95 ${m.p95Gap.toFixed(1)} ms); ${m.messages} live messages; ${m.renders} renders, avg ${m.avgRender.toFixed(2)} ms, max ${m.maxRender.toFixed(1)} ms`);
      // make test never gates on the machine's timing: animation-frame gaps
      // depend on how busy the CI machine is, so they are printed, not
      // asserted. What is asserted is the page's own behaviour: updates keep
      // arriving, rendering is coalesced to animation frames (never more
      // renders than frames), and one render costs less than a 60 fps frame.
      why = '';
      if (m.messages < 20) why = `live messages keep coming (${m.messages} in 3 s)`;
      else if (m.renders > m.frames) why = `renders coalesced to animation frames (${m.renders} renders, ${m.frames} frames)`;
      else if (m.avgRender > 16) why = `average render ${m.avgRender.toFixed(2)} ms < one 60 fps frame (16 ms)`;
      if (!why) break;
    }
    assert(!why, why);
    await shot(page, '03-200-tags-by-size');
  }

  function measureOnce() {
    return fa(
      () =>
        new Promise((resolve) => {
          const s = window.__fa.stats;
          const r0 = s.renders;
          const tot0 = s.renderMsTotal;
          s.renderMsMax = 0;
          const msgs0 = s.frames;
          const gaps = [];
          let last = performance.now();
          const end = last + 3000;
          const tick = (t) => {
            gaps.push(t - last);
            last = t;
            if (t < end) requestAnimationFrame(tick);
            else {
              gaps.sort((a, b) => a - b);
              resolve({
                renders: s.renders - r0,
                avgRender: (s.renderMsTotal - tot0) / Math.max(1, s.renders - r0),
                maxRender: s.renderMsMax,
                medianGap: gaps[Math.floor(gaps.length / 2)],
                p95Gap: gaps[Math.floor(gaps.length * 0.95)],
                frames: gaps.length,
                messages: s.frames - msgs0,
              });
            }
          };
          requestAnimationFrame(tick);
        }),
    );
  }

  await step('a budget breach produces toasts (80 % and 100 %) and an alert row', async () => {
    const crit = page.locator('.toast[data-level="critical"]', { hasText: 'physics' });
    await until('a critical toast for physics', async () => (await crit.count()) > 0, 15000, 50);
    const all = await page.locator('.toast').allTextContents();
    assert(all.some((t) => /passed 80 %/.test(t)) || (await page.locator('#alert-rows tr[data-level="warning"]').count()) > 0 || all.some((t) => /over its budget/.test(t)), `a warning preceded it: ${all.join(' | ')}`);
    const row = page.locator('#alert-rows tr', { hasText: 'physics' }).first();
    await until('an alert row for physics', () => row.isVisible(), 5000);
    assert(/\d\d:\d\d:\d\d/.test(await row.locator('.raised').textContent()), 'the row has a raise time');
    const prow = page.locator('#tag-grid [role="row"][data-path="physics"]');
    await prow.scrollIntoViewIfNeeded();
    await until('the physics bar to turn red', async () => (await prow.getAttribute('data-state')) === 'crit', 3000);
    await shot(page, '04-budget-breach');
  });

  await step('the trend chart has data for a selected tag, with the budget line', async () => {
    await page.locator('#tag-grid [role="row"][data-path="physics"] .tag-name').click();
    await until('the trend title', async () => (await pageText('#trend-tag')) === 'physics', 3000);
    await until('the chart to hold physics', async () => (await page.getAttribute('#chart', 'data-tag')) === 'physics', 5000);
    const pts = await until('points in the chart', async () => {
      const n = Number(await page.getAttribute('#chart', 'data-points'));
      return n >= 5 && n;
    }, 8000);
    assert((await fa(() => window.__fa.chart.budget)) === 4 * 1024 * 1024, 'the budget line is at 4 MiB');
    assert((await fa(() => window.__fa.chart.buds.filter((v) => v === 4 * 1024 * 1024).length)) >= 5, 'the budget series is drawn');
    // It appends live: more points a second later (1 min window: 250 ms each).
    await until('live appending', async () => Number(await page.getAttribute('#chart', 'data-points')) > pts, 4000);
    // Another window from the rollups, then back.
    await page.click('#trend-windows button:has-text("5 min")');
    await until('the 5 min window', async () => /5 min from/.test(await pageText('#trend-note')), 5000);
    assert(Number(await page.getAttribute('#chart', 'data-points')) >= 1, 'the 5 min window has data');
    await page.click('#trend-windows button:has-text("1 min")');
    await until('the 1 min window', async () => /1 min from/.test(await pageText('#trend-note')), 5000);
    await shot(page, '05-trend-physics');
    // A smaller laptop screen: everything still fits side by side.
    await page.setViewportSize({ width: 1366, height: 768 });
    await sleep(300);
    const overflow = await fa(() => document.documentElement.scrollWidth > window.innerWidth);
    assert(!overflow, 'no horizontal scrolling at 1366 x 768');
    await shot(page, '05b-laptop-1366x768');
    await page.setViewportSize({ width: 1440, height: 900 });
  });

  await step('99.7 % of a budget reads 99.7 %, not 100 %', async () => {
    const txt = await fa(() => {
      const t = window.__fa.tree;
      const n = [...t.nodes.values()].find((x) => x.path === 'audio');
      t.update(n.id, { live: 997 * 1024, hard: 1000 * 1024, dirty: true }, Date.now());
      t.paintRow(n);
      return [n.row.querySelector('.pct').textContent, n.row.querySelector('.budget').dataset.state];
    });
    assert(txt[0] === '99.7 %' && txt[1] === 'warn', `audio at 99.7 % shows '${txt[0]}' (${txt[1]})`);
  });

  await step('the trend chart ticks are round numbers of their unit', async () => {
    const labels = await fa(() => window.__fa.chart.plot.axes[1]._values.filter(Boolean));
    const toBytes = (l) => {
      const m = /^([\d.]+) (B|KiB|MiB|GiB)$/.exec(l);
      return m ? Number(m[1]) * 1024 ** ['B', 'KiB', 'MiB', 'GiB'].indexOf(m[2]) : NaN;
    };
    const v = labels.map(toBytes);
    assert(v.length >= 3 && v.every(Number.isFinite), `tick labels: ${labels.join(', ')}`);
    const step = v[1] - v[0];
    const unit = 1024 ** Math.max(0, Math.floor(Math.log(Math.max(...v)) / Math.log(1024)));
    const m = step / unit / 10 ** Math.floor(Math.log10(step / unit));
    assert([1, 2, 2.5, 5].some((x) => Math.abs(m - x) < 1e-9), `the tick step ${step} B is not a round number of ${unit} B (${labels.join(', ')})`);
    assert(v.every((x, i) => i === 0 || Math.abs(x - v[i - 1] - step) < 1e-6 * step) && v.every((x) => Math.abs(x / step - Math.round(x / step)) < 1e-9), `ticks are not multiples of one step: ${labels.join(', ')}`);
  });

  // Issue 14: three screens, each looked at (screenshots) and audited.
  for (const [w, h] of [[390, 844], [1400, 900], [1920, 1080]]) {
    await step(`at ${w} x ${h}: nothing collapses or overflows, no empty box, axe finds nothing`, async () => {
      await page.setViewportSize({ width: w, height: h });
      await sleep(400);
      const m = await fa(() => {
        const r = (sel) => document.querySelector(sel).getBoundingClientRect();
        const tagCell = document.querySelector('#tag-grid .rows [role="row"][data-path="physics"] .tag');
        const name = tagCell.querySelector('.tag-name');
        const list = document.getElementById('finding-list');
        const panel = list.closest('.panel');
        const left = document.querySelector('.col-left').getBoundingClientRect();
        const right = document.querySelector('.col-right').getBoundingClientRect();
        return {
          overflowX: document.documentElement.scrollWidth - window.innerWidth,
          tagCell: tagCell.getBoundingClientRect().width,
          nameShown: name.clientWidth,
          nameFull: name.scrollWidth,
          listScrolls: list.scrollHeight > list.clientHeight + 1,
          panelBottom: panel.getBoundingClientRect().bottom,
          colBottoms: [left.bottom, right.bottom],
          pageBottom: document.documentElement.scrollHeight,
          viewport: window.innerHeight,
          sideBySide: Math.abs(left.top - right.top) < 2,
          gridRow: r('#tag-grid .rows [role="row"][data-path="physics"]').width,
        };
      });
      await page.screenshot({ path: path.join(SHOTS, `10-${w}x${h}.png`), fullPage: true });
      if (w < 700) {
        // The tree paints the rows on screen only: look at it there.
        await page.locator('#tags-panel').scrollIntoViewIfNeeded();
        await sleep(400);
        const shown = await page.locator('#tag-grid [role="row"][data-path="physics"] .cur').textContent();
        assert(/\d/.test(shown), `the physics row shows no figure at ${w} px ('${shown}')`);
        await page.screenshot({ path: path.join(SHOTS, `10-${w}x${h}-tags.png`) });
        await page.evaluate(() => window.scrollTo(0, 0));
      }
      console.log(`     ${w}x${h}: ${JSON.stringify(m)}`);
      assert(m.overflowX <= 0, `the page scrolls sideways by ${m.overflowX} px`);
      assert(m.tagCell >= Math.min(140, m.gridRow * 0.3), `the tag column is ${m.tagCell} px wide`);
      assert(m.nameShown >= Math.min(m.nameFull, 60), `'physics' shows ${m.nameShown} of ${m.nameFull} px`);
      // A findings list that scrolls inside a fixed box while the screen
      // below it is empty: the box must use the room there is.
      if (m.listScrolls && m.pageBottom <= m.viewport) {
        const room = m.viewport - m.panelBottom;
        assert(room < 40, `the findings box scrolls but leaves ${Math.round(room)} px of screen empty below it`);
      }
      const res = await axeViolations();
      assert(res.length === 0, `axe at ${w} x ${h}:\n       ${res.join('\n       ')}`);
    });
  }
  await page.setViewportSize({ width: 1440, height: 900 });

  await step('behaviour findings show their code and advice', async () => {
    const f = page.locator('#finding-list .finding[data-code="4"]');
    await until('finding code 4 (heap in hot path)', async () => (await f.count()) > 0, 10000);
    const text = await f.first().textContent();
    assert(/code 4/.test(text) && /FA_FIND_HEAP_IN_HOT_PATH/.test(text), `code and name: ${text}`);
    assert(/Advice: use a pool for small blocks/.test(text), `advice: ${text}`);
    assert(/render/.test(text), `tag: ${text}`);
  });

  await step('every control has an accessible name; tab order reaches the tree', async () => {
    const unnamed = await fa(() =>
      [...document.querySelectorAll('button, select, [role="radio"]')]
        .filter((b) => b.offsetParent !== null || b.closest('#tag-grid'))
        .filter((b) => !(b.getAttribute('aria-label') || b.textContent.trim() || (b.id && document.querySelector(`label[for="${b.id}"]`))))
        .map((b) => b.outerHTML.slice(0, 80)),
    );
    assert(unnamed.length === 0, `controls without a name: ${unnamed.join(', ')}`);
    const stops = await fa(() => document.querySelectorAll('#tag-grid .rows .tag-name[tabindex="0"]').length);
    assert(stops === 1, `one tab stop in the tree (roving), got ${stops}`);
    const lang = await fa(() => document.documentElement.lang);
    assert(lang === 'en', 'the page declares its language');
  });

  await step('axe-core finds no WCAG 2.1 A/AA violation (contrast, labels, roles)', async () => {
    // Evaluated through the debugging protocol: the page's CSP forbids
    // inline scripts, and that is not to be weakened for a test.
    const res = await axeViolations();
    assert(res.length === 0, `violations:\n       ${res.join('\n       ')}`);
  });

  await step('opened as http://localhost:PORT the page still reaches the stream (ws_url from health)', async () => {
    const p2 = await page.context().newPage();
    const errs = [];
    p2.on('console', (m) => m.type() === 'error' && errs.push(m.text()));
    p2.on('pageerror', (e) => errs.push(e.message));
    try {
      await p2.goto(`http://localhost:${httpPort}/`);
      await until('the stream to connect', async () => (await p2.getAttribute('#conn', 'data-state')) === 'open', 8000);
      await until('frames on that page', async () => Number((await p2.locator('#h-frame').textContent()).replace(/,/g, '')) > 0, 8000);
      assert(errs.length === 0, `console errors on the localhost page: ${errs.join(' | ')}`);
    } finally {
      await p2.close();
    }
  });

  await step('the session picker lists live sessions first and switches sessions', async () => {
    const other = start('feeder-2', FEEDER, ['--url', INGEST, '--app', 'second-game', '--label', 'short run', '--extra-tags', '0', '--breach-at', '1000', '--seconds', '1.5'], FEEDER_LOG);
    const sid2 = await until('the second feeder', () => (/session ([0-9a-f]{16})/.exec(other.stdoutText) || [])[1], 5000);
    await until('the second session in the picker', async () => (await page.locator(`#session-select option[value="${sid2}"]`).count()) === 1, 8000);
    assert((await page.inputValue('#session-select')) === sid, 'the page stays on the session it shows');
    const r = await other.exited;
    assert(r.code === 0, `the second feeder ended cleanly (${JSON.stringify(r)})`);
    await until('the second session under "Ended"', async () => (await page.locator(`#session-select optgroup[label="Ended"] option[value="${sid2}"]`).count()) === 1, 12000);
    const groups = await fa(() => [...document.querySelectorAll('#session-select optgroup')].map((g) => [g.label, [...g.children].map((o) => o.value)]));
    assert(groups[0][0] === 'Live' && groups[0][1][0] === sid, `live sessions come first: ${JSON.stringify(groups)}`);
    try {
      await page.selectOption('#session-select', sid2);
      await until('the ended session shown', async () => (await pageText('#h-app')).startsWith('second-game') && (await page.locator('#banner[data-kind="ended"]').isVisible()), 5000);
      await until('the banner to point to the live session', async () => /A live session is in the picker/.test(await pageText('#banner')), 3000);
      assert(/ended/.test(await pageText('#h-session-state')), 'the header says ended');
      await shot(page, '06-picker-ended-session');
    } finally {
      await page.selectOption('#session-select', sid);
    }
    await until('back on the live session', async () => (await fa(() => window.__fa.state.sid)) === sid && (await pageText('#h-app')).startsWith('web-feeder') && (await pageText('#h-session-state')) === 'live', 5000);
    await until('its trend history back in the chart', async () => (await page.getAttribute('#chart', 'data-tag')) === 'physics' && Number(await page.getAttribute('#chart', 'data-points')) >= 20, 5000);
  });

  await step('the daemon restarts: the page shows it and recovers by itself', async () => {
    const before = Number((await pageText('#h-frame')).replace(/,/g, ''));
    downWindow = true;
    await stop(daemon, 'SIGKILL');
    await until('the page to notice', async () => ['reconnecting', 'unreachable'].includes(await page.getAttribute('#conn', 'data-state')), 5000);
    await until('"daemon unreachable"', async () => (await page.getAttribute('#conn', 'data-state')) === 'unreachable', 5000);
    assert(await page.locator('#banner[data-kind="unreachable"]').isVisible(), 'the unreachable banner is shown');
    await shot(page, '07-daemon-down');
    await startDaemon();
    await until('the page to reconnect', async () => (await page.getAttribute('#conn', 'data-state')) === 'open', 15000);
    await until('frames to flow again', async () => Number((await pageText('#h-frame')).replace(/,/g, '')) > before + 30 && (await pageText('#h-session-state')) === 'live', 15000);
    downWindow = false;
    assert(await page.locator('#banner').isHidden(), 'the banner is gone');
    await until('the tag tree back', () => page.locator('#tag-grid [role="row"][data-path="physics"]').isVisible(), 5000);
    await shot(page, '08-after-restart');
  });

  await step('the session ends: the page says so and keeps the last figures', async () => {
    const r = await stop(feeder, 'SIGTERM');
    assert(r && r.code === 0, `the feeder stopped cleanly (${JSON.stringify(r)})`);
    await until('the ended banner', async () => (await page.locator('#banner[data-kind="ended"]').isVisible()) && /ended/.test(await pageText('#h-session-state')), 12000);
    assert(/\d/.test(await pageText('#t-pool-cur')), 'the last totals stay');
    await until('every alert of the session cleared, with its time', async () => {
      const rows = await fa(() => [...document.querySelectorAll('#alert-rows tr[data-state]')].map((tr) => [tr.dataset.state, tr.querySelector('.cleared').textContent]));
      return rows.length > 0 && rows.every(([st, t]) => st === 'cleared' && /\d\d:\d\d:\d\d/.test(t));
    }, 8000);
    await shot(page, '09-session-ended');
    const res = await axeViolations();
    assert(res.length === 0, `axe on the ended state:\n       ${res.join('\n       ')}`);
  });

  await step('the session list is asked for one page, never in full, and not every poll', async () => {
    assert(sessionListRequests.length > 0, 'the page asked for the session list');
    const unpaged = sessionListRequests.filter((q) => !/[?&]limit=\d+/.test(q));
    assert(unpaged.length === 0, `requests for the whole list: ${JSON.stringify(unpaged)}`);
    // Boot, each (re)connection of the stream, and one poll per 30 s: a
    // poll every 5 s (the full list, before issue 13) is well beyond.
    const wsOpens = await page.evaluate(() => window.__fa.stats.wsOpens);
    const bound = 2 + wsOpens + Math.floor((Date.now() - T0) / 30000);
    assert(sessionListRequests.length <= bound, `${sessionListRequests.length} list requests in ${((Date.now() - T0) / 1000).toFixed(0)} s (${wsOpens} stream opens; at most ${bound} expected)`);
  });

  // Issue 20: the Fleet page. Sessions of one app from the daemon tests'
  // sender: build 1.0 within budget, build 1.1 with one session over it.
  await step('the Fleet page: builds x tags coloured against budgets; a cell opens its worst session', async () => {
    const games = [
      ['1.0', 'host-a', '40x60'], ['1.0', 'host-b', '50x60'],
      ['1.1', 'host-a', '60x60'], ['1.1', 'host-b', '60x20,120x10,60x30'], ['1.1', 'host-c', '85x60'],
    ];
    for (const [build, host, usage] of games) {
      const g = start(`sender-${build}-${host}`, SENDER, ['--url', INGEST, '--app', 'fleet-web', '--build', build, '--host', host,
        '--tags', '5', '--budget', '200000', '--usage', usage, '--frames', '60', '--fps', '0', '--fast', '--bye'], FEEDER_LOG);
      const r = await g.exited;
      assert(r.code === 0, `the sender ran (${JSON.stringify(r)})`);
    }
    await until('the five sessions in the fleet view', async () => {
      const r = await fetch(`${BASE}/api/v1/fleet?app=fleet-web`);
      return r.ok && (await r.json()).sessions === 5;
    }, 10000);
    const fp = await page.context().newPage();
    const errs = [];
    fp.on('console', (m) => m.type() === 'error' && errs.push(m.text()));
    fp.on('pageerror', (e) => errs.push(e.message));
    try {
      await fp.setViewportSize({ width: 1400, height: 900 });
      await fp.goto(`${BASE}/fleet.html`);
      await until('the app offered and chosen', async () => (await fp.locator('#fleet-app option[value="fleet-web"]').count()) === 1, 8000);
      await fp.selectOption('#fleet-app', 'fleet-web');
      await until('two builds in the table', async () => (await fp.locator('#fleet-table tbody tr').count()) === 2, 8000);
      const builds = await fp.evaluate(() => [...document.querySelectorAll('#fleet-table tbody tr')].map((r) => r.dataset.build));
      assert(builds.join() === '1.1,1.0', `the newest build first: ${builds}`);
      const heads = await fp.evaluate(() => [...document.querySelectorAll('#fleet-table thead th[data-tag]')].map((t) => t.textContent));
      assert(heads.join() === '(root),physics,physics/contacts,render,t4', `one column per tag: ${heads}`);
      const cell = (build, tag) => fp.locator(`#fleet-table tr[data-build="${build}"] td[data-tag="${tag}"]`);
      assert((await cell('1.1', 'physics').getAttribute('data-state')) === 'critical', 'a session of 1.1 went over its budget: red');
      assert(/1 of 3 over/.test(await cell('1.1', 'physics').textContent()), 'and says how many');
      assert((await cell('1.0', 'physics').getAttribute('data-state')) === 'ok', '1.0 stays within budget: green');
      assert((await cell('1.0', 'render').getAttribute('data-state')) === 'no_budget', 'a tag without a budget is not coloured');
      const doc = await (await fetch(`${BASE}/api/v1/fleet?app=fleet-web&tag=physics`)).json();
      const worst = doc.builds[0].tags.find((t) => t.tag === 'physics').worst[0];
      assert(worst.host === 'host-b' && Math.round(worst.used_pct) === 120, `the worst session of 1.1: ${JSON.stringify(worst)}`);
      const href = await cell('1.1', 'physics').locator('a').getAttribute('href');
      assert(href === `./#session=${worst.session}`, `the cell links to it: ${href}`);
      await fp.screenshot({ path: path.join(SHOTS, '11-fleet-all-tags.png'), fullPage: true });
      await fp.fill('#fleet-tag', 'physics');
      await until('the tag filter', async () => (await fp.locator('#fleet-table thead th[data-tag]').count()) === 2, 5000);
      assert(/tag=physics/.test(fp.url()), `the choice is in the address: ${fp.url()}`);
      await fp.screenshot({ path: path.join(SHOTS, '11-fleet.png'), fullPage: true });
      const res = await fp.evaluate(async (code) => {
        if (!window.axe) (0, eval)(code);
        const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }, resultTypes: ['violations'] });
        return r.violations.map((v) => `${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
      }, fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'));
      assert(res.length === 0, `axe on the Fleet page:\n       ${res.join('\n       ')}`);
      await cell('1.1', 'physics').locator('a').click();
      await until('the worst session on the session page', async () => /#session=/.test(fp.url()) && (await fp.locator('#h-app').textContent()).startsWith('fleet-web') && (await fp.locator('#h-host').textContent()) === 'host-b', 8000);
      await fp.screenshot({ path: path.join(SHOTS, '12-fleet-worst-session.png') });
      assert(errs.length === 0, `console errors: ${errs.join(' | ')}`);
    } finally {
      await fp.close();
    }
  });

  await step('no console errors, no request beyond the daemon', async () => {
    assert(consoleErrors.length === 0, `console errors: ${consoleErrors.join(' | ')}`);
    assert(foreignRequests.length === 0, `requests to other hosts: ${foreignRequests.join(', ')}`);
    if (expectedNetErrors.length) console.log(`     (${expectedNetErrors.length} connection-refused lines from chromium while the daemon was down on purpose)`);
  });
} finally {
  if (browser) await browser.close().catch(() => {});
  await stop(feeder, 'SIGTERM');
  await stop(daemon, 'SIGTERM');
  if (results.some((r) => !r.ok)) {
    console.log(`     logs kept in ${tmp}`);
    for (const f of [DAEMON_LOG, FEEDER_LOG]) {
      if (!fs.existsSync(f)) continue;
      const lines = fs.readFileSync(f, 'utf8').trim().split('\n').slice(-15);
      console.log(`     --- ${path.basename(f)} (last lines)\n     ${lines.join('\n     ')}`);
    }
  } else if (process.env.FA_WEB_KEEP !== '1') fs.rmSync(tmp, { recursive: true, force: true });
  console.log(`     screenshots: ${path.relative(ROOT, SHOTS)}/*.png; ${((Date.now() - T0) / 1000).toFixed(1)} s`);
  const passed = results.filter((r) => r.ok).length;
  console.log(`${passed} passed, ${results.length - passed} failed`);
  process.exitCode = results.length - passed ? 1 : 0;
}
