// tests/web/harness.mjs — what the browser tests share: the tree's paths and
// programs from the environment (FA_INSIGHTD, FA_CHROMIUM, FA_SCREENSHOTS),
// chromium's launch flags, named steps that count passes and failures, and
// axe-core's WCAG 2.1 A/AA check of a page.

import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const require = createRequire(path.join(ROOT, 'web/package.json'));
export const { chromium } = require('playwright-core');
export const INSIGHTD = path.resolve(ROOT, process.env.FA_INSIGHTD || 'build/fa-insightd');
export const CHROMIUM = process.env.FA_CHROMIUM || '/usr/bin/chromium';
export const SHOTS = path.resolve(ROOT, process.env.FA_SCREENSHOTS || 'build/web-screenshots');
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

// step(name, fn) runs one named check; counts.passed / counts.failed; end()
// prints the last line ("N passed, N failed") and exits 1 on any failure.
export const counts = { passed: 0, failed: 0 };
export async function step(name, fn) {
  const t = Date.now();
  try {
    await fn();
    counts.passed++;
    console.log(`ok   ${name} (${Date.now() - t} ms)`);
  } catch (e) {
    counts.failed++;
    console.log(`FAIL ${name} (${Date.now() - t} ms): ${e && e.message ? e.message : e}`);
  }
}
export function end() {
  console.log(`${counts.passed} passed, ${counts.failed} failed`);
  process.exit(counts.failed ? 1 : 0);
}

// WCAG 2.1 A/AA violations of the page, one line each.
export async function axeViolations(page) {
  const src = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  return page.evaluate(async (code) => {
    if (!window.axe) (0, eval)(code);
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }, resultTypes: ['violations'] });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  }, src);
}
