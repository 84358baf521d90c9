// tests/web/compare.mjs — the dashboard's compare view in headless chromium
// (make test-web-compare).
//
// fa-demo runs twice, captured to files (the second with a scripted leak and
// an app name full of markup); fa-insightd --import loads both as sessions
// and then serves them (free port, temporary database). The page compares
// them: the diff table is the daemon's /api/v1/compare (fa-cli compare's
// code), sorted by growth, the regressions marked in words, the leaking
// call site named; the trends of the leaking tag are overlaid; names from
// the daemon stay text; axe-core finds no WCAG 2.1 A/AA violation; no
// console error, nothing fetched from elsewhere. Screenshots go to
// $FA_SCREENSHOTS (compare-*.png).
//
// Environment: FA_INSIGHTD, FA_DEMO, FA_CHROMIUM, FA_SCREENSHOTS.
// Last line: "N passed, N failed".

import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(ROOT, 'web/package.json'));
const { chromium } = require('playwright-core');

const INSIGHTD = path.resolve(ROOT, process.env.FA_INSIGHTD || 'build/fa-insightd');
const DEMO = path.resolve(ROOT, process.env.FA_DEMO || 'build/fa-demo');
const CHROMIUM = process.env.FA_CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.resolve(ROOT, process.env.FA_SCREENSHOTS || 'build/web-screenshots');
const DEMO_ARGS = ['--deterministic', '--frames', '600', '--entities', '800', '--seed', '7', '--quiet'];
const EVIL_APP = 'fa-demo<img src=x onerror="window.__pwned=1">&amp;';
const LEAK_LINE = fs.readFileSync(path.join(ROOT, 'examples/fa-demo.c'), 'utf8').split('\n').findIndex((l) => l.includes('fa_heap_alloc(g->fa, g->opt.scripted_leak')) + 1;
const LEAK_SITE = `scripted_leak examples/fa-demo.c:${LEAK_LINE}`;

const results = [];
async function step(name, fn) {
  const t = Date.now();
  try {
    await fn();
    results.push(true);
    console.log(`ok   ${name} (${Date.now() - t} ms)`);
  } catch (e) {
    results.push(false);
    console.log(`FAIL ${name} (${Date.now() - t} ms): ${e && e.message ? e.message : e}`);
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, timeoutMs = 15000) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last instanceof Error ? ` (${last.message})` : ''}`);
    await sleep(100);
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fa-web-compare-'));
fs.mkdirSync(SHOTS, { recursive: true });
for (const f of [INSIGHTD, DEMO, CHROMIUM]) {
  if (!fs.existsSync(f)) {
    console.log(`compare web test: ${f} is missing`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}

let daemon = null;
let browser = null;
let page = null;
let BASE = '';
let HOST = '';
const ids = {};
const consoleErrors = [];
let expect400 = false;
const foreign = [];

function capture(name, extra) {
  const out = path.join(tmp, `${name}.facap`);
  const p = spawnSync(DEMO, [...DEMO_ARGS, ...extra], { env: { ...process.env, FA_INSIGHT_URL: `file:${out}` }, encoding: 'utf8', timeout: 120000 });
  assert(p.status === 0, `fa-demo ${name}: ${p.stderr}`);
  return out;
}

async function axeViolations() {
  const src = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  return page.evaluate(async (code) => {
    if (!window.axe) (0, eval)(code);
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }, resultTypes: ['violations'] });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  }, src);
}

async function compare(base, candidate) {
  await page.selectOption('#cmp-base', base);
  await page.selectOption('#cmp-candidate', candidate);
  const before = await page.evaluate(() => window.__fa.compare.seq);
  await page.click('#cmp-run');
  await until('the comparison', async () => (await page.evaluate((b) => window.__fa.compare.seq > b && document.querySelector('#compare-panel').dataset.state === 'done', before)));
}

try {
  await step('two demo runs captured (the second leaking, its app name full of markup) and imported', async () => {
    const base = capture('base', []);
    const leak = capture('leak', ['--scripted-leak', '4096', '--app', EVIL_APP]);
    const db = path.join(tmp, 'insight.db');
    const p = spawnSync(INSIGHTD, ['--db', db, '--import', base, leak], { encoding: 'utf8', timeout: 60000 });
    assert(p.status === 0, p.stderr);
    const m = [...(p.stderr + p.stdout).matchAll(/(base|leak)\.facap: session ([0-9a-f]{16}) imported/g)];
    for (const [, name, id] of m) ids[name] = id;
    assert(ids.base && ids.leak, p.stderr);
    const log = fs.openSync(path.join(tmp, 'daemon.log'), 'a');
    daemon = spawn(INSIGHTD, ['--db', db, '--listen', '127.0.0.1:0', '--ingest', 'tcp://127.0.0.1:0', '--web-root', path.join(ROOT, 'web')], { stdio: ['ignore', 'pipe', log] });
    let out = '';
    daemon.stdout.on('data', (d) => (out += d));
    BASE = await until('the daemon to be ready', async () => (/ready http=(http:\/\/\S+)/.exec(out) || [])[1]);
    HOST = new URL(BASE).host;
  });

  await step('chromium opens the dashboard; the compare view lists both sessions, names as text', async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
    await context.route('**/*', (route) => {
      const u = new URL(route.request().url());
      if (u.host === HOST || u.protocol === 'data:') return route.continue();
      foreign.push(u.href);
      return route.abort('blockedbyclient');
    });
    page = await context.newPage();
    // The browser logs the 400 that the bad-threshold step asks for.
    page.on('console', (m) => m.type() === 'error' && !(expect400 && /status of 400/.test(m.text())) && consoleErrors.push(m.text()));
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    await page.goto(`${BASE}/`);
    await until('the session lists', async () => (await page.locator('#cmp-base option').count()) === 2 && !(await page.isDisabled('#cmp-run')));
    const texts = await page.locator('#cmp-candidate option').allTextContents();
    assert(texts.some((t) => t.includes(EVIL_APP)), `the app name shown as text: ${texts}`);
    assert((await page.locator('#compare-panel img').count()) === 0, 'markup in a name became an element');
  });

  await step('compare base -> leak: the table is the API\'s diff, sorted by growth, regressions marked, the leaking line named', async () => {
    await compare(ids.base, ids.leak);
    const api = await (await fetch(`${BASE}/api/v1/compare?base=${ids.base}&candidate=${ids.leak}`)).json();
    const rows = await page.locator('#cmp-rows tr').evaluateAll((trs) => trs.map((tr) => ({ status: tr.dataset.status, kind: tr.dataset.kind, name: tr.querySelector('th').title, label: tr.lastElementChild.textContent })));
    assert(rows.length === api.rows.length && rows.length === Math.min(200, api.rows_total), `${rows.length} rows, the API has ${api.rows.length}`);
    rows.forEach((r, i) => {
      const a = api.rows[i];
      const want = a.kind === 'site' ? `${a.tag || '(root)'} · ${a.site}` : a.key || '(root)';
      assert(r.name === want && r.status === a.status, `row ${i}: ${JSON.stringify(r)} vs ${want} ${a.status}`);
    });
    const failed = rows.filter((r) => r.status === 'regression');
    assert(failed.length === 4 && rows.slice(0, 4).every((r) => r.status === 'regression'), 'the 4 regressions first');
    assert(failed.every((r) => r.label === 'Regression'), 'regressions said in words');
    assert(failed.some((r) => r.kind === 'site' && r.name === `ai/pathfinding · ${LEAK_SITE}`), `the leaking line: ${JSON.stringify(failed)}`);
    // After the regressions: growth never increases down the table.
    const growth = api.rows.map((a) => Math.max(...['peak', 'p50', 'p95', 'p99', 'frame_bytes_per_frame'].map((m) => a.metrics[m].change ?? -Infinity)));
    for (let i = 5; i < growth.length; i++) assert(growth[i] <= growth[i - 1], `row ${i} grew more than row ${i - 1}`);
    const status = await page.textContent('#cmp-status');
    assert(/^4 regressions · 52 rows compared/.test(status) && (await page.getAttribute('#cmp-status', 'data-kind')) === 'regression', status);
    const failedCells = await page.locator('#cmp-rows tr[data-status="regression"] td.failed').count();
    assert(failedCells >= 4, `failed figures marked: ${failedCells}`);
  });

  await step('the trends of the leaking tag are overlaid: the candidate climbs above the base', async () => {
    await until('the chart', async () => Number(await page.getAttribute('#cmp-chart', 'data-points')) >= 5);
    assert((await page.textContent('#cmp-chart-tag')) === 'ai/pathfinding', await page.textContent('#cmp-chart-tag'));
    const [base, cand] = await page.evaluate(() => {
      const s = window.__fa.compare.series;
      const last = (a) => a.filter((v) => v !== null).slice(-1)[0];
      return [last(s[1]), last(s[2])];
    });
    assert(cand > base + 1.5 * 1048576, `candidate ${cand} vs base ${base}`);
    await page.locator('#compare-panel').scrollIntoViewIfNeeded();
    await page.locator('#compare-panel').screenshot({ path: path.join(SHOTS, 'compare-leak.png') });
  });

  await step('choosing a row charts its tag', async () => {
    await page.locator('#cmp-rows tr[data-kind="tag"] button', { hasText: 'render' }).first().click();
    await until('the render trend', async () => (await page.textContent('#cmp-chart-tag')) === 'render' && Number(await page.getAttribute('#cmp-chart', 'data-points')) >= 5);
    assert((await page.inputValue('#cmp-tag')) === 'render', 'the tag picker follows');
  });

  await step('the same session twice: no regression, said so', async () => {
    await compare(ids.base, ids.base);
    const status = await page.textContent('#cmp-status');
    assert(status.startsWith('No regression') && (await page.locator('#cmp-rows tr[data-status="regression"]').count()) === 0, status);
  });

  await step('a bad threshold is refused with the daemon\'s message', async () => {
    await page.fill('#cmp-growth', 'lots');
    expect400 = true;
    await page.click('#cmp-run');
    await until('the error', async () => (await page.getAttribute('#compare-panel', 'data-state')) === 'error');
    expect400 = false;
    assert(/max_growth/.test(await page.textContent('#cmp-status')), await page.textContent('#cmp-status'));
    await page.fill('#cmp-growth', '');
  });

  await step('axe-core finds no WCAG 2.1 A/AA violation with the diff shown; narrow screen too', async () => {
    await compare(ids.base, ids.leak);
    let res = await axeViolations();
    assert(res.length === 0, res.join('\n       '));
    await page.setViewportSize({ width: 800, height: 900 });
    await sleep(300);
    await page.locator('#compare-panel .cmp-scroll').evaluate((n) => (n.scrollTop = 0));
    // Names keep a readable column (the table scrolls sideways in its box).
    const nameWidth = await page.locator('#cmp-rows th').first().evaluate((n) => n.getBoundingClientRect().width);
    assert(nameWidth >= 250, `the name column is ${nameWidth} px wide`);
    await page.locator('#compare-panel').screenshot({ path: path.join(SHOTS, 'compare-800.png') });
    res = await axeViolations();
    assert(res.length === 0, res.join('\n       '));
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert(overflow <= 0, `the page scrolls sideways by ${overflow} px`);
  });

  await step('no console error, no script from a name ran, nothing fetched from elsewhere', async () => {
    assert(consoleErrors.length === 0, consoleErrors.join('\n'));
    assert(!(await page.evaluate(() => window.__pwned)), 'markup in a name ran');
    assert(foreign.length === 0, foreign.join(', '));
  });
} finally {
  if (browser) await browser.close().catch(() => {});
  if (daemon) {
    daemon.kill('SIGTERM');
    await Promise.race([new Promise((r) => daemon.on('exit', r)), sleep(10000)]);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}
const passed = results.filter(Boolean).length;
console.log(`${passed} passed, ${results.length - passed} failed`);
process.exit(passed === results.length ? 0 : 1);
