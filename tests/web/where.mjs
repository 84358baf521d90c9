// tests/web/where.mjs — the dashboard's "Where" panel (web/where.js, issue 15
// item 5) in Debian's headless chromium driven by playwright-core; run by
// `make test-web-where`.
//
// A real fa-insightd runs with --source-root at the source tree. Two real
// programs stream to it through the agent:
//   - tests/insightd/sites_game.c: allocations at known lines (each marked
//     "site: NAME" in the source) in three functions under two tags, the same
//     every frame. The panel must list exactly those function and file:line
//     rows with their bytes and allocations per frame and shares, draw a
//     sparkline per row, chart the site chosen (keyboard and pointer), and
//     show its line and neighbours from the source tree with the figures
//     above the line.
//   - tests/web/feeder.c: a tag and a call site whose tag, file and function
//     names are markup; the panel shows them as text and creates no element
//     from them.
// axe-core then audits the page at the three sizes of run.mjs with a site
// charted and its source shown; screenshots go to $FA_SCREENSHOTS
// (where-*.png; where-panel.png is the README's picture, docs/where.png).
// Console errors, dialogs and requests beyond the daemon fail the run.
//
// Environment: FA_INSIGHTD, FA_CHROMIUM, FA_SCREENSHOTS, FA_SITES_GAME,
// FA_FEEDER. Last line: "N passed, N failed".

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ROOT, INSIGHTD, SHOTS, CHROMIUM, CHROMIUM_ARGS, chromium, sleep, check, step, counts, end, axeViolations, daemonPorts, until } from './harness.mjs';

const SITES_GAME = path.resolve(ROOT, process.env.FA_SITES_GAME || 'build/default/tests/insightd_sites_game');
const FEEDER = path.resolve(ROOT, process.env.FA_FEEDER || 'build/tests/web/feeder');
const SENDER = path.resolve(ROOT, process.env.FA_SENDER || 'build/default/tests/insightd_sender');
const GAME_SRC = 'tests/insightd/sites_game.c';
const HOSTILE_TAG = `assets/g00/<b>"q" & 'a'`; // feeder.c, extra tag 7
const HOSTILE_FN = '<img src=x onerror=alert(2)>';
const HOSTILE_FILE = 'web/<svg onload=alert(1)>.c';

// The lines of the game's call sites, found by their "site:" comments.
const srcLines = fs.readFileSync(path.join(ROOT, GAME_SRC), 'utf8').split('\n');
const lineOf = (name) => {
  const i = srcLines.findIndex((l) => l.includes(`/* site: ${name} */`));
  if (i < 0) throw new Error(`no "site: ${name}" in ${GAME_SRC}`);
  return i + 1;
};
const SITE = {
  contacts: { fn: 'physics_step', line: lineOf('physics_contacts'), bytes: '300 B', count: '3', share: '36 %' },
  body: { fn: 'physics_step', line: lineOf('physics_body'), bytes: '64 B', count: '1', share: '7.6 %' },
  nodes: { fn: 'plan_paths', line: lineOf('plan_nodes'), bytes: '480 B', count: '1', share: '57 %' },
  commands: { fn: 'draw_frame', line: lineOf('draw_commands'), bytes: '4.88 KiB', count: '1', share: '100 %' },
};



const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fa-web-where-'));
fs.mkdirSync(SHOTS, { recursive: true });
const log = fs.openSync(path.join(tmp, 'logs.txt'), 'a');
const children = [];
const run = (cmd, args) => {
  const p = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', log] });
  p.out = '';
  p.stdout.on('data', (d) => (p.out += d));
  children.push(p);
  return p;
};

const { host: HOST, base: BASE, ingest: INGEST } = await daemonPorts();
const getJSON = async (p) => (await fetch(`${BASE}${p}`)).json();

const consoleErrors = [];
const foreign = [];
let browser;
let page;
let gameSid;
let feederSid;
const fa = (fn, arg) => page.evaluate(fn, arg);
const shot = (name, opts = {}) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), ...opts });

// The panel's rows as the page shows them.
const panelRows = () =>
  fa(() =>
    [...document.querySelectorAll('#where-panel .where-table > tbody > tr')].map((tr) => ({
      fn: tr.querySelector('.site-fn').textContent,
      tag: tr.querySelector('.site-tag').textContent,
      file: tr.querySelector('td.c-file').textContent,
      cells: [...tr.querySelectorAll('td.num')].map((td) => td.textContent),
      sparkPoints: Number(tr.querySelector('svg.site-spark')?.dataset.points || 0),
      polyline: tr.querySelector('svg.site-spark polyline')?.getAttribute('points') || '',
      pressed: tr.querySelector('button.site-pick')?.getAttribute('aria-pressed') || null,
    })),
  );
const chooseTag = async (p) => {
  await page.locator(`#tag-grid [role="row"][data-path="${p.replace(/"/g, '\\"')}"] .tag-name`).click();
  await until(`the Where panel on ${p}`, async () => (await page.getAttribute('#where-panel', 'data-tag')) === p && (await page.getAttribute('#where-panel', 'data-state')) === 'ok', 8000);
};

try {
  for (const f of [INSIGHTD, SITES_GAME, FEEDER, SENDER, CHROMIUM]) check(fs.existsSync(f), `${f} is missing (make all)`);

  await step('a daemon with --source-root, the sites game and the feeder stream to it', async () => {
    run(INSIGHTD, ['--listen', HOST, '--ingest', INGEST, '--db', path.join(tmp, 'insight.db'), '--web-root', path.join(ROOT, 'web'), '--source-root', ROOT, '--session-timeout', '5s']);
    await until('the daemon', async () => (await fetch(`${BASE}/api/v1/health`)).ok, 15000);
    const game = run(SITES_GAME, [INGEST, '1000000']);
    const feeder = run(FEEDER, ['--url', INGEST, '--extra-tags', '10', '--breach-at', '100000', '--fps', '30']);
    feederSid = await until('the feeder to print its session', () => (/session ([0-9a-f]{16})/.exec(feeder.out) || [])[1], 8000);
    gameSid = await until('the sites game in /sessions', async () => {
      const doc = await getJSON('/api/v1/sessions?limit=50');
      const s = (doc.sessions || []).find((x) => x.app === `sites-game-${game.pid}`);
      return s && s.id;
    }, 8000);
    // A few seconds of frames with their site rows.
    await until('site rows of the game', async () => {
      const d = await getJSON(`/api/v1/sessions/${gameSid}/sites?tag=physics&window=60s`);
      return d.frames >= 100 && d.sites && d.sites.length === 3;
    }, 15000);
  });

  await step('chromium opens the dashboard on the sites game', async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, deviceScaleFactor: 1, serviceWorkers: 'block' });
    await context.route('**/*', (route) => {
      const u = new URL(route.request().url());
      if (u.host === HOST) return route.continue();
      foreign.push(u.href);
      return route.abort('blockedbyclient');
    });
    page = await context.newPage();
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    page.on('dialog', (d) => {
      consoleErrors.push(`a dialog opened: ${d.message()}`);
      d.dismiss().catch(() => {});
    });
    await page.goto(`${BASE}/#session=${gameSid}`);
    await until('the game in the header', async () => (await page.locator('#h-app').textContent()).startsWith('sites-game-'), 8000);
    // With no tag chosen the panel covers all memory: all four sites.
    await until('the panel on all memory', async () => (await page.getAttribute('#where-panel', 'data-state')) === 'ok' && (await panelRows()).length === 4, 8000);
  });

  await step('physics: exactly its three call sites, by file:line, with bytes, count and share per frame', async () => {
    await chooseTag('physics');
    const rows = await until('three rows with sparklines', async () => {
      const r = await panelRows();
      return r.length === 3 && r.every((x) => x.sparkPoints > 0) && r;
    }, 8000);
    const want = [SITE.nodes, SITE.contacts, SITE.body];
    rows.forEach((r, i) => {
      const w = want[i];
      check(r.fn === w.fn && r.file === `${GAME_SRC}:${w.line}`, `row ${i}: ${r.fn} ${r.file}, want ${w.fn} ${GAME_SRC}:${w.line}`);
      check(r.cells.join('|') === `${w.bytes}|${w.count}|${w.share}`, `row ${i} (${w.fn}:${w.line}) figures ${r.cells.join('|')}, want ${w.bytes}|${w.count}|${w.share}`);
      check(r.tag === '', `row ${i} names no other tag (${r.tag})`);
      check(/^[\d.]+,[\d.]+( [\d.]+,[\d.]+)+$/.test(r.polyline), `row ${i} sparkline: '${r.polyline}'`);
    });
    // The page says what the API says.
    const api = await getJSON(`/api/v1/sessions/${gameSid}/sites?tag=physics&window=60s&limit=10`);
    check(api.sites.map((s) => `${s.function}:${s.line}`).join() === rows.map((r) => `${r.fn}:${r.file.split(':').pop()}`).join(), `API order ${api.sites.map((s) => s.line)}`);
    check(/3 call sites of physics, 844 B\/frame/.test(await page.locator('#where-panel .where-note').textContent()), `note: ${await page.locator('#where-panel .where-note').textContent()}`);
    check(await page.locator('#where-panel .where-site').isHidden(), 'no site is charted before one is chosen');
  });

  await step('keyboard: one tab stop, Down moves, Enter charts the site and shows its source', async () => {
    check((await page.locator('#where-panel button.site-pick[tabindex="0"]').count()) === 1, 'one tab stop in the table');
    await page.locator('#where-panel button.site-pick[tabindex="0"]').focus();
    await page.keyboard.press('ArrowDown');
    check((await fa(() => document.activeElement.closest('tr').dataset.site)) === String((await getJSON(`/api/v1/sessions/${gameSid}/sites?tag=physics&window=60s`)).sites[1].site_id), 'Down moved to the second site');
    await page.keyboard.press('Enter');
    await until('the chart of the site', async () => Number(await page.getAttribute('#where-panel .where-chart', 'data-points')) >= 1, 8000);
    const rows = await panelRows();
    check(rows[1].pressed === 'true' && rows[0].pressed === 'false', `the chosen row is pressed: ${rows.map((r) => r.pressed)}`);
    check((await page.locator('#where-panel .where-site-title').textContent()) === `physics_step \u2014 ${GAME_SRC}:${SITE.contacts.line} (physics)`, 'the chart is titled with the site');
    // The chart has drawn something: pixels on its canvas.
    await until('a drawn site chart', () => fa(() => {
      const c = document.querySelector('#where-panel .where-chart canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
      return n > 200;
    }), 5000);
    await checkSource(SITE.contacts, '300 B/frame \u00b7 3 allocations/frame \u00b7 36 % of physics');
  });

  async function checkSource(site, lens) {
    await until('source lines', async () => (await page.getAttribute('#where-panel .where-source', 'data-status')) === 'ok' && Number(await page.getAttribute('#where-panel .src-line.at', 'data-line')) === site.line, 8000);
    const shown = await fa(() => [...document.querySelectorAll('#where-panel .src > div')].map((d) => [d.className, d.dataset.line || '', (d.querySelector('code, .lens-text') || {}).textContent]));
    const code = shown.filter(([c]) => c.startsWith('src-line'));
    check(code.length === 7, `3 lines either side of the site: ${code.length} lines`);
    for (const [, n, text] of code) check(text === srcLines[Number(n) - 1], `line ${n} shows '${text}', the file has '${srcLines[Number(n) - 1]}'`);
    check(Number(code[3][1]) === site.line && code[3][0].includes('at'), `the site's line is the marked one: ${code[3]}`);
    // The lens: right above the site's line, with the figures of the row.
    const i = shown.findIndex(([c]) => c === 'src-line at');
    check(i > 0 && shown[i - 1][0] === 'lens' && shown[i - 1][2].startsWith(lens), `the lens above the line reads '${i > 0 ? shown[i - 1][2] : ''}', want '${lens}…'`);
  }

  await step('pointer: choosing another site charts it and shows its line', async () => {
    await page.locator('#where-panel .where-table > tbody > tr', { hasText: 'plan_paths' }).locator('button.site-pick').click();
    await checkSource(SITE.nodes, '480 B/frame \u00b7 1 allocation/frame \u00b7 57 % of physics');
    check(Number(await page.getAttribute('#where-panel .where-chart', 'data-points')) >= 1, 'the chart has points');
    // Without the pointer over it, the chart's legend reads the newest point.
    await page.mouse.move(0, 0);
    await until('the legend to show the newest figures', async () => {
      const v = await page.locator('#where-panel .where-chart .u-legend .u-value').allTextContents();
      return v.length === 3 && v[1] === '480 B' && v[2] === '480 B';
    }, 5000);
    await shot('where-1400x900');
    await page.locator('#where-panel').screenshot({ path: path.join(SHOTS, 'where-panel.png') });
  });

  await step('the panel follows the trend window', async () => {
    await page.click('#trend-windows button:has-text("5 min")');
    await until('the 5 min window', async () => /^5 min from /.test(await page.locator('#where-panel .where-note').textContent()), 8000);
    await until('the chart over 5 min', async () => /^5 min, 60 points/.test(await page.locator('#where-panel .where-chart-note').textContent()), 8000);
    check((await panelRows()).length === 3, 'the same three sites');
    await page.click('#trend-windows button:has-text("1 min")');
    await until('back to 1 min', async () => /^1 min from /.test(await page.locator('#where-panel .where-note').textContent()), 8000);
  });

  await step('render: its one heap site; the charted site goes with the tag', async () => {
    await chooseTag('render');
    const rows = await until('the render row', async () => {
      const r = await panelRows();
      return r.length === 1 && r[0].sparkPoints > 0 && r;
    }, 8000);
    const w = SITE.commands;
    check(rows[0].fn === w.fn && rows[0].file === `${GAME_SRC}:${w.line}` && rows[0].cells.join('|') === `${w.bytes}|${w.count}|${w.share}`, `render row: ${JSON.stringify(rows[0])}`);
    check(await page.locator('#where-panel .where-site').isHidden(), 'the physics site is no longer charted');
    await page.locator('#where-panel button.site-pick').click();
    await checkSource(w, '4.88 KiB/frame \u00b7 1 allocation/frame \u00b7 100 % of render \u00b7 max 4.88 KiB \u00b7 heap');
  });

  for (const [w, h] of [[390, 844], [1400, 900], [1920, 1080]]) {
    await step(`at ${w} x ${h} with a site charted: no sideways scrolling, axe finds nothing`, async () => {
      await page.setViewportSize({ width: w, height: h });
      await sleep(400);
      await page.locator('#where-panel .where-source').scrollIntoViewIfNeeded();
      await sleep(300);
      const over = await fa(() => document.documentElement.scrollWidth - window.innerWidth);
      // The site's line is on screen, at its place, not covered.
      const at = await fa(() => {
        const c = document.querySelector('#where-panel .src-line.at code');
        const r = c.getBoundingClientRect();
        const hit = document.elementFromPoint(r.left + 4, r.top + r.height / 2);
        return { inside: !!hit && c.contains(hit), text: c.textContent, top: r.top, bottom: r.bottom };
      });
      check(at.inside && at.top >= 0 && at.bottom <= h, `the site's line is not on screen at ${w} px: ${JSON.stringify(at)}`);
      await shot(`where-${w}x${h}-panel`);
      check(over <= 0, `the page scrolls sideways by ${over} px`);
      const v = await axeViolations(page);
      check(v.length === 0, `axe at ${w} x ${h}:\n       ${v.join('\n       ')}`);
    });
  }
  await page.setViewportSize({ width: 1400, height: 900 });

  await step('hostile names (tag, function, file) are shown as text, never as markup', async () => {
    await page.selectOption('#session-select', feederSid);
    await until('the feeder shown', async () => (await page.locator('#h-app').textContent()).startsWith('web-feeder'), 8000);
    await page.locator('#expand-all').click();
    await chooseTag(HOSTILE_TAG);
    const rows = await until('the hostile site', async () => {
      const r = await panelRows();
      return r.some((x) => x.fn === HOSTILE_FN) && r;
    }, 8000);
    const r = rows.find((x) => x.fn === HOSTILE_FN);
    check(r.file === `${HOSTILE_FILE}:7`, `the file shows literally: ${r.file}`);
    check((await page.locator('#where-panel .where-tag').textContent()) === HOSTILE_TAG, 'the title shows the tag literally');
    await page.locator('#where-panel .where-table > tbody > tr', { hasText: HOSTILE_FN }).locator('button.site-pick').click();
    await until('the site charted', async () => (await page.getAttribute('#where-panel .where-source', 'data-status')) === 'not_found', 8000);
    check((await page.locator('#where-panel .where-site-title').textContent()) === `${HOSTILE_FN} \u2014 ${HOSTILE_FILE}:7 (${HOSTILE_TAG})`, 'the chart title shows the names literally');
    check((await page.locator('#where-panel .where-source').textContent()).includes(HOSTILE_FILE), 'the source note names the file literally');
    const made = await fa(() => ({ img: document.querySelectorAll('img').length, b: document.querySelectorAll('#where-panel b').length, svg: [...document.querySelectorAll('svg')].filter((s) => !s.classList.contains('site-spark')).length }));
    check(made.img === 0 && made.b === 0 && made.svg === 0, `elements made from names: ${JSON.stringify(made)}`);
    await shot('where-hostile');
    const v = await axeViolations(page);
    check(v.length === 0, `axe with hostile names:\n       ${v.join('\n       ')}`);
  });

  await step('a daemon without --source-root: the panel says how to see the line', async () => {
    const { host: host2, ingest: ingest2 } = await daemonPorts();
    run(INSIGHTD, ['--listen', host2, '--ingest', ingest2, '--db', path.join(tmp, 'plain.db'), '--web-root', path.join(ROOT, 'web')]);
    await until('the second daemon', async () => (await fetch(`http://${host2}/api/v1/health`)).ok, 15000);
    const game = run(SITES_GAME, [ingest2, '300']);
    await new Promise((r) => game.on('exit', r));
    const p2 = await page.context().newPage();
    try {
      await page.context().route(`http://${host2}/**`, (route) => route.continue());
      await p2.goto(`http://${host2}/`);
      await p2.locator('#tag-grid [role="row"][data-path="physics"] .tag-name').click();
      await until('the sites of physics', async () => (await p2.locator('#where-panel button.site-pick').count()) === 3, 8000);
      await p2.locator('#where-panel button.site-pick').first().click();
      await until('the source status', async () => (await p2.getAttribute('#where-panel .where-source', 'data-status')) === 'off', 8000);
      const note = await p2.locator('#where-panel .where-source').textContent();
      check(/--source-root DIR/.test(note), `the note: ${note}`);
      check(Number(await p2.getAttribute('#where-panel .where-chart', 'data-points')) >= 1, 'the site is charted all the same');
    } finally {
      await p2.close();
    }
  });

  await step('an agent without call sites (protocol 1.0): the panel says why it is empty', async () => {
    const old = run(SENDER, ['--url', INGEST, '--app', 'old-agent', '--proto-1.0', '--tags', '3', '--frames', '120', '--fps', '60', '--fast']);
    await new Promise((r) => old.on('exit', r));
    const s = await until('the 1.0 session', async () => ((await getJSON('/api/v1/sessions?limit=50')).sessions || []).find((x) => x.app === 'old-agent'), 8000);
    await page.selectOption('#session-select', s.id);
    await until('the old agent shown', async () => (await page.locator('#h-app').textContent()).startsWith('old-agent'), 8000);
    await page.locator('#tag-grid [role="row"][data-path="physics"] .tag-name').click();
    await until('the empty state of physics', async () => (await page.getAttribute('#where-panel', 'data-tag')) === 'physics' && (await page.getAttribute('#where-panel', 'data-state')) === 'empty', 8000);
    const note = await page.locator('#where-panel .where-note').textContent();
    check(/No call sites for physics/.test(note) && /older than protocol 1\.1/.test(note), `the note: ${note}`);
    check((await panelRows()).length === 0 && (await page.locator('#where-panel .where-site').isHidden()), 'no rows, no chart');
  });

  await step('no console error, no dialog, no request beyond the daemon', async () => {
    check(consoleErrors.length === 0, `console: ${consoleErrors.join(' | ')}`);
    check(foreign.length === 0, `requests to other hosts: ${foreign.join(', ')}`);
  });
} catch (e) {
  await step('the run itself', () => {
    throw e;
  });
} finally {
  if (browser) await browser.close().catch(() => {});
  for (const p of children.reverse()) {
    if (p.exitCode !== null || p.signalCode !== null) continue;
    p.kill('SIGTERM');
    await Promise.race([new Promise((r) => p.on('exit', r)), sleep(8000)]);
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }
  if (counts.failed) console.log(`     logs kept: ${path.join(tmp, 'logs.txt')}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
  console.log(`     screenshots: ${path.relative(ROOT, SHOTS)}/where-*.png`);
  end();
}
