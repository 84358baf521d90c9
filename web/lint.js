// lint.js — static findings (fa-lint's SARIF report, GET /api/v1/lint) listed
// by file, each next to the runtime call site of the same line when the
// shown session has one (GET /api/v1/sessions/{id}/sites): "this line is
// flagged FA602 and allocated 256 KiB/frame in the last run".
//
// The join. A finding's file and a call site's file name the same source
// from different places (the report's paths are relative to its project
// root, a site's path is the compiler's __FILE__, cut to its end by the
// agent), so they are compared from the end, component by component
// (pathSuffixMatch: "\" reads as "/", empty and "." components are skipped,
// a file:// prefix is dropped; different file names never match). A
// finding joins the sites at the same line whose path shares the most
// trailing components with its own; ties (the same line under two tags, two
// sites of one line) are all kept and their figures added. fa-insightd's
// ?file= filter and fa-cli findings use the same rule, in C
// (lib/text/pathmatch.h).
//
// Pure functions (pathSuffixMatch, joinSites) are exported for the tests;
// StaticFindings is the panel (app.js creates it and tells it the session).

import { getJSON, ApiError } from './api.js';
import { el, fmtBytes, fmtDateTime, setText } from './format.js';

const SITES_LIMIT = 1000; // the sites route's maximum
const SITES_WINDOW = '60s'; // the last minute of the run
const SITES_EVERY_MS = 15000; // call sites are database work: read again at most this often, or on a new report

function components(path) {
  const p = String(path || '').replace(/^file:\/\//, '').split(/[\\/]+/);
  return p.filter((c) => c !== '' && c !== '.');
}

// Number of trailing path components a and b share; 0 when their file names
// differ. ".." never counts: it says nothing of where a file is.
export function pathSuffixMatch(a, b) {
  const x = components(a);
  const y = components(b);
  let n = 0;
  while (n < x.length && n < y.length) {
    const cx = x[x.length - 1 - n];
    if (cx !== y[y.length - 1 - n] || cx === '..') break;
    n++;
  }
  return n;
}

// findings: rows of /api/v1/lint; sites: rows of /sites (site_id, file,
// line, function, kind, tag, bytes_per_frame.avg, count_per_frame.avg).
// Returns one entry per finding: {finding, sites: [rows], bytesPerFrame,
// countPerFrame, score}.
export function joinSites(findings, sites) {
  const byLine = new Map();
  for (const s of sites || []) {
    if (s.other || s.file === null || s.file === undefined || !s.line) continue;
    const k = Number(s.line);
    if (!byLine.has(k)) byLine.set(k, []);
    byLine.get(k).push(s);
  }
  return (findings || []).map((f) => {
    let best = 0;
    let matched = [];
    for (const s of byLine.get(Number(f.line)) || []) {
      const score = pathSuffixMatch(f.file, s.file);
      if (score === 0 || score < best) continue;
      if (score > best) matched = [];
      best = score;
      matched.push(s);
    }
    let bytes = 0;
    let count = 0;
    for (const s of matched) {
      bytes += Number(s.bytes_per_frame?.avg ?? 0);
      count += Number(s.count_per_frame?.avg ?? 0);
    }
    return { finding: f, sites: matched, bytesPerFrame: bytes, countPerFrame: count, score: best };
  });
}

const fmtCount = (n) => (n >= 10 ? String(Math.round(n)) : n.toFixed(n >= 1 ? 1 : 2).replace(/\.?0+$/, '') || '0');

export class StaticFindings {
  constructor(section) {
    this.section = section;
    this.list = section.querySelector('.lint-files');
    this.countEl = section.querySelector('.count');
    this.note = section.querySelector('.lint-note');
    this.sid = null;
    this.report = null;
    this.sites = null; // null: no call sites (none yet, or a daemon without the route)
    this.sitesState = 'none'; // 'none' | 'ok' | 'absent' | 'error'
    this.seq = 0;
    this.shape = '';
    this.sitesAt = 0; // when the call sites were read (performance.now())
    this.reportKey = '';
  }

  // The session whose call sites are joined (null: none).
  show(sid) {
    if (sid === this.sid) return this.refresh();
    this.sid = sid;
    this.sites = null;
    this.sitesState = 'none';
    this.sitesAt = 0;
    return this.refresh();
  }

  async refresh() {
    const seq = ++this.seq;
    let report;
    try {
      report = await getJSON('/api/v1/lint');
    } catch (e) {
      if (e instanceof ApiError && e.code === 'not_found') report = null; // a daemon before /lint
      else throw e;
    }
    const key = report && report.report ? `${report.report.received_ms}|${report.accepted}` : '';
    let sites = this.sites;
    let state = this.sitesState;
    let readAt = this.sitesAt;
    const stale = key !== this.reportKey || performance.now() - this.sitesAt >= SITES_EVERY_MS;
    if (!this.sid || !report || !report.findings.length) {
      sites = null;
      state = 'none';
    } else if (stale) {
      readAt = performance.now();
      try {
        const doc = await getJSON(`/api/v1/sessions/${encodeURIComponent(this.sid)}/sites`, { limit: SITES_LIMIT, window: SITES_WINDOW });
        sites = doc.sites || [];
        state = 'ok';
      } catch (e) {
        // A daemon without call sites answers its generic 404.
        state = e instanceof ApiError && e.code === 'not_found' ? 'absent' : 'error';
        sites = null;
      }
    }
    if (seq !== this.seq) return;
    this.reportKey = key;
    this.sitesAt = readAt;
    this.report = report;
    this.sites = sites;
    this.sitesState = state;
    this.render();
  }

  render() {
    const doc = this.report;
    const findings = doc ? doc.findings : [];
    const joined = joinSites(findings, this.sites);
    const shape = JSON.stringify([doc && doc.report, joined.map((j) => [j.finding.fingerprint, j.finding.line, j.bytesPerFrame, j.countPerFrame]), this.sitesState]);
    if (shape === this.shape) return;
    this.shape = shape;
    setText(this.countEl, findings.length ? String(findings.length) : '');
    this.section.dataset.findings = String(findings.length);
    this.section.dataset.joined = String(joined.filter((j) => j.sites.length).length);
    if (!doc || !doc.report) {
      setText(this.note, 'No static report yet: fa-lint --all --format sarif -o fa-lint.sarif, then curl -T fa-lint.sarif http://127.0.0.1:7878/api/v1/lint (or start fa-insightd with --lint-report fa-lint.sarif).');
      this.list.replaceChildren();
      return;
    }
    const r = doc.report;
    const at = joined.filter((j) => j.sites.length).length;
    const sitesNote = {
      ok: ` · ${at} at a call site of this session`,
      absent: ' · this daemon has no call sites to compare with',
      error: ' · call sites could not be read',
      none: this.sid ? '' : ' · choose a session to see its call sites',
    }[this.sitesState];
    setText(this.note, `${r.tool} ${r.tool_version} · ${r.source === 'file' ? r.path : 'sent'} ${fmtDateTime(r.received_ms)} · ${findings.length} finding${findings.length === 1 ? '' : 's'}${r.truncated ? ` (of ${r.results})` : ''}${sitesNote}`);
    const byFile = new Map();
    for (const j of joined) {
      const f = j.finding.file || '(no file)';
      if (!byFile.has(f)) byFile.set(f, []);
      byFile.get(f).push(j);
    }
    const groups = [];
    for (const [file, rows] of byFile) {
      groups.push(
        el(
          'li',
          { class: 'lint-file' },
          el('h3', { class: 'lint-path' }, file, el('span', { class: 'count' }, String(rows.length))),
          el('ul', { class: 'lint-rows' }, ...rows.map((j) => this.row(j))),
        ),
      );
    }
    this.list.replaceChildren(...groups);
  }

  row(j) {
    const f = j.finding;
    const where = f.line ? `${f.file}:${f.line}` : f.file;
    const children = [
      el(
        'div',
        { class: 'finding-head' },
        el('span', { class: 'code' }, f.rule || '?'),
        el('span', { class: 'badge', dataset: { level: f.level === 'error' ? 'critical' : f.level === 'warning' ? 'warning' : 'info' } }, f.level),
        el('span', { class: 'fname' }, where),
        f.function ? el('span', { class: 'fkind' }, `in ${f.function}()`) : null,
      ),
      el('p', { class: 'lint-message' }, f.message),
    ];
    if (j.sites.length) {
      const kinds = [...new Set(j.sites.map((s) => s.kind).filter(Boolean))].join(', ');
      const tags = [...new Set(j.sites.map((s) => s.tag).filter((t) => t !== null && t !== undefined))].map((t) => t || '(root)').join(', ');
      children.push(
        el(
          'p',
          { class: 'lint-runtime' },
          el('span', { class: 'lint-runtime-label' }, 'Runtime: '),
          `this line is flagged ${f.rule} and allocated ${fmtBytes(j.bytesPerFrame)}/frame (${fmtCount(j.countPerFrame)} allocation${j.countPerFrame === 1 ? '' : 's'}/frame) in the last run`,
          kinds || tags ? el('span', { class: 'fkind' }, ` · ${[kinds, tags && `tag ${tags}`].filter(Boolean).join(' · ')}`) : null,
        ),
      );
    }
    return el('li', { class: 'finding lint-finding', dataset: { rule: f.rule, file: f.file, line: String(f.line ?? ''), joined: j.sites.length ? '1' : '0' } }, ...children);
  }
}
