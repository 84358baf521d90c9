// app.js — the dashboard's state and its one render loop.
//
// Data flow: the JSON API gives the starting picture of a session (sessions,
// tag tree, alerts, findings, trend); the WebSocket stream then updates it
// (frames, alerts, sessions starting and ending). Every incoming message
// only changes state and asks for a render; render() runs at most once per
// animation frame and writes only what changed, so 200 tags at 60 fps stay
// cheap.
//
// Bad states are shown, not hidden: the daemon unreachable (banner + red
// connection pill, the page retries by itself), no sessions yet, and a
// session that ended (its last figures stay, marked as such).

import { api, ApiError } from './api.js';
import { LiveSocket } from './ws.js';
import { WherePanel } from './where.js';
import { TagTree } from './tree.js';
import { TrendChart, WINDOWS, POINTS } from './chart.js';
import { AlertList, FindingList, Toasts } from './alerts.js';
import { el, fmtBytes, fmtClock, fmtDateTime, fmtInt, setText } from './format.js';
import { mountCompare } from './compare.js';
import { StaticFindings } from './lint.js';

const $ = (id) => document.getElementById(id);

const state = {
  sessions: [],
  sessionsLoaded: false,
  sid: null, // the session shown
  pinned: false, // chosen by the user (else: follow the newest live session)
  session: null,
  conn: 'connecting',
  unreachableSince: 0,
  totals: null, // {frame:{in_use,peak}, pool:..., heap:...}
  root: null, // the root tag: live/peak of all memory
  frame: null,
  fpsSamples: [], // [t_ms, frame]
  fps: null,
  trendPath: '', // '' = all memory
  trendWindow: WINDOWS[0].ms,
  trendSeq: 0,
  lastMessageAt: 0,
  loadSeq: 0,
  tagReloadAt: 0,
};

// Counters for the tests and for a curious human (window.__fa in devtools).
const stats = { messages: 0, frames: 0, renders: 0, renderMsMax: 0, renderMsTotal: 0, wsOpens: 0 };

const tree = new TagTree($('tag-grid'), { onselect: (path) => selectTrend(path) });
const chart = new TrendChart($('chart'));
const where = new WherePanel($('where-panel')); // the selected tag's call sites (where.js)
const showWhere = () => where.show(state.sid, state.trendPath, state.trendWindow).catch(handleError);
const toasts = new Toasts($('toasts'));
const alertList = new AlertList($('alert-rows'), $('alert-count'), toasts);
const findings = new FindingList($('finding-list'), $('finding-count'));
const lint = new StaticFindings($('lint-panel')); // fa-lint's report beside the call sites (lint.js)

// ---- render loop ---------------------------------------------------------

let renderQueued = false;
const dirty = { header: true, totals: true, banner: true, picker: true };

function requestRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(render);
}
tree.requestRender = requestRender;

function render() {
  renderQueued = false;
  const t0 = performance.now();
  if (dirty.picker) renderPicker();
  if (dirty.header) renderHeader();
  if (dirty.totals) renderTotals();
  if (dirty.banner) renderBanner();
  dirty.picker = dirty.header = dirty.totals = dirty.banner = false;
  tree.render(t0);
  chart.render();
  $('chart').dataset.points = String(chart.pointsWithData());
  alertList.render();
  findings.render((id) => tagPathOf(id));
  setText($('tag-count'), tree.size ? `${tree.size}` : '');
  $('tag-empty').hidden = tree.size > 0 || !state.sid;
  const dt = performance.now() - t0;
  stats.renders++;
  stats.renderMsTotal += dt;
  if (dt > stats.renderMsMax) stats.renderMsMax = dt;
  // Sparklines wait for their own interval: come back for them.
  if (tree.sparkDirty) setTimeout(requestRender, 260);
}

function renderPicker() {
  const sel = $('session-select');
  const list = state.sessions;
  const opts = [];
  const live = list.filter((s) => s.live);
  const ended = list.filter((s) => !s.live);
  const label = (s) => {
    const name = s.app || '(unnamed)';
    const extra = s.label ? ` · ${s.label}` : '';
    const when = s.live ? 'live' : `ended ${fmtDateTime(s.ended_ms || s.last_frame_ms)}`;
    return `${name}${extra} — ${s.host || '?'} · pid ${s.pid} · ${when}`;
  };
  // Same sessions in the same groups: only the texts change, in place (a
  // rebuilt <select> would close under the user's pointer).
  const shape = `${live.map((s) => s.id)}|${ended.map((s) => s.id)}|${state.sessionsLoaded}`;
  if (sel.dataset.shape === shape && list.length) {
    for (const o of sel.options) {
      const s = list.find((x) => x.id === o.value);
      if (s) setText(o, label(s));
    }
    if (state.sid) sel.value = state.sid;
    return;
  }
  sel.dataset.shape = shape;
  if (live.length) opts.push(el('optgroup', { label: 'Live' }, ...live.map((s) => el('option', { value: s.id }, label(s)))));
  if (ended.length) opts.push(el('optgroup', { label: 'Ended' }, ...ended.map((s) => el('option', { value: s.id }, label(s)))));
  if (!list.length) opts.push(el('option', { value: '' }, state.sessionsLoaded ? 'no sessions yet' : 'loading…'));
  sel.replaceChildren(...opts);
  sel.disabled = !list.length;
  if (state.sid) sel.value = state.sid;
}

function renderHeader() {
  const s = state.session;
  setText($('h-app'), s ? s.app + (s.label ? ` · ${s.label}` : '') : '—');
  $('h-app').title = s ? `${s.app} (pid ${s.pid}, build ${s.build_id || '?'}, framealloc ${s.lib_version || '?'})` : '';
  setText($('h-host'), s ? s.host || '—' : '—');
  setText($('h-frame'), state.frame !== null ? fmtInt(state.frame) : '—');
  setText($('h-fps'), s && s.live && state.fps !== null ? state.fps.toFixed(state.fps < 10 ? 1 : 0) : '—');
  const ss = $('h-session-state');
  if (!s) {
    setText(ss, '—');
    ss.dataset.state = '';
  } else if (s.live) {
    setText(ss, 'live');
    ss.dataset.state = 'live';
  } else {
    setText(ss, `ended ${fmtClock(s.ended_ms || s.last_frame_ms)}`);
    ss.dataset.state = 'ended';
  }
  const conn = $('conn');
  conn.dataset.state = state.conn;
  const text = {
    open: 'connected',
    connecting: 'connecting…',
    reconnecting: 'reconnecting…',
    unreachable: 'daemon unreachable',
  }[state.conn];
  setText($('conn-text'), text || state.conn);
  document.title = s ? `${s.live ? '' : '(ended) '}${s.app} — framealloc insight` : 'framealloc insight';
}

function renderTotals() {
  const t = state.totals;
  const get = (k, f) => (t && t[k] ? Number(t[k][f]) : null);
  for (const k of ['frame', 'pool', 'heap']) {
    setText($(`t-${k}-cur`), fmtBytes(get(k, 'in_use')));
    setText($(`t-${k}-peak`), fmtBytes(get(k, 'peak')));
  }
  let cur = state.root ? state.root.live : null;
  let peak = state.root ? state.root.peak : null;
  if (cur === null && t) cur = ['frame', 'pool', 'heap'].reduce((a, k) => a + (get(k, 'in_use') || 0), 0);
  setText($('t-all-cur'), fmtBytes(cur));
  setText($('t-all-peak'), fmtBytes(peak));
}

function renderBanner() {
  const b = $('banner');
  let kind = '';
  let title = '';
  let text = '';
  if (state.conn === 'unreachable') {
    kind = 'unreachable';
    title = 'The daemon does not answer.';
    text = `fa-insightd at ${location.host} is unreachable since ${fmtClock(state.unreachableSince)}; the page retries by itself. Figures below are the last ones received.`;
  } else if (state.sessionsLoaded && !state.sessions.length) {
    kind = 'empty';
    title = 'No sessions yet.';
    text = 'Start a game linked with fa-agent (fa_agent_start); it sends to tcp://127.0.0.1:7879 unless FA_INSIGHT_URL says otherwise. It appears here by itself.';
  } else if (state.session && !state.session.live) {
    kind = 'ended';
    title = 'This session has ended.';
    const s = state.session;
    const reason = s.end_reason ? ` (${s.end_reason.replace(/_/g, ' ')})` : '';
    const live = state.sessions.find((x) => x.live);
    text = `${s.app} on ${s.host} stopped at ${fmtDateTime(s.ended_ms || s.last_frame_ms)}${reason}. The figures are its last ones.${live ? ' A live session is in the picker.' : ''}`;
  }
  b.hidden = !kind;
  b.dataset.kind = kind;
  setText($('banner-title'), title);
  setText($('banner-text'), text);
}

// ---- data loading --------------------------------------------------------

// Flattens the tags answer (a nested `tree`, or a flat list) into rows
// {id, parent_id, path, depth, live, peak, soft, hard}.
function flattenTags(doc) {
  const out = [];
  const walk = (node, depth) => {
    out.push({
      id: Number(node.id),
      parent_id: Number(node.parent_id),
      path: node.path,
      depth,
      live: num(node.live_bytes),
      peak: num(node.peak_bytes),
      soft: num(node.budget_soft) || 0,
      hard: num(node.budget_hard) || 0,
    });
    for (const c of node.children || []) walk(c, depth + 1);
  };
  const roots = doc.tree || doc.tags || [];
  for (const r of roots) walk(r, r.path === '' ? 0 : r.path.split('/').length);
  return out;
}

const num = (v) => (v === null || v === undefined ? null : Number(v));

const tagIndex = new Map(); // id -> path, for findings and alerts

function tagPathOf(id) {
  return tagIndex.get(Number(id));
}

// Session events from the stream win over a list that was asked for
// before they arrived (the answer may cross the event on the way).
const sessionEventAt = new Map(); // id -> performance.now() of its last event

function keepNewerEvent(s, asked) {
  const t = sessionEventAt.get(s.id);
  const mine = t !== undefined && t > asked ? state.sessions.find((x) => x.id === s.id) : null;
  return mine ? { ...s, live: mine.live, ended_ms: mine.ended_ms, end_reason: mine.end_reason } : s;
}

async function loadSessions() {
  const asked = performance.now();
  const doc = await api.sessions();
  const fresh = (doc.sessions || []).map((s) => keepNewerEvent(s, asked));
  // A session shown from beyond the newest page stays in the picker.
  const shown = state.session && state.session.id === state.sid && !fresh.some((s) => s.id === state.sid);
  state.sessions = shown ? [...fresh, state.session] : fresh;
  state.sessionsLoaded = true;
  dirty.picker = dirty.banner = true;
  chooseSession();
  requestRender();
}

// Follows the newest live session unless the user picked one.
function chooseSession() {
  const list = state.sessions;
  let want = state.sid;
  const cur = list.find((s) => s.id === state.sid);
  if (!state.pinned) {
    const live = list.find((s) => s.live);
    if (live && (!cur || !cur.live)) want = live.id;
    else if (!cur) want = list.length ? list[0].id : null;
  } else if (!want && list.length) {
    // A pinned session beyond the newest page stays; a deleted one is a
    // 404 (handleError unpins it).
    want = list[0].id;
  }
  if (want !== state.sid) showSession(want);
  else if (cur) {
    state.session = { ...state.session, ...cur };
    dirty.header = dirty.banner = true;
  }
}

async function showSession(sid) {
  const seq = ++state.loadSeq;
  state.sid = sid;
  state.session = state.sessions.find((s) => s.id === sid) || null;
  state.frame = state.session ? num(state.session.last_frame) : null;
  state.fps = null;
  state.fpsSamples = [];
  state.totals = null;
  state.root = null;
  tree.clear();
  tagIndex.clear();
  alertList.clear();
  findings.clear();
  chart.reset();
  chart.dirty = true;
  where.show(sid, null, state.trendWindow); // empty until the tag is known to be the session's
  dirty.header = dirty.totals = dirty.banner = dirty.picker = true;
  if (sid) history.replaceState(null, '', `#session=${sid}`);
  requestRender();
  lint.show(sid).catch(handleError);
  if (!sid) return;
  subscribe();
  try {
    await Promise.all([loadSessionDetail(seq), loadTags(seq), loadAlerts(seq), loadFindings(seq)]);
    await loadTrend();
    if (seq === state.loadSeq) showWhere();
  } catch (e) {
    handleError(e);
  }
}

async function loadSessionDetail(seq) {
  const asked = performance.now();
  const s = keepNewerEvent(await api.session(state.sid), asked);
  if (seq !== state.loadSeq) return;
  state.session = s;
  if (s.totals) state.totals = s.totals;
  if (s.last_frame !== null && s.last_frame !== undefined) state.frame = Number(s.last_frame);
  dirty.header = dirty.totals = dirty.banner = true;
  requestRender();
}

async function loadTags(seq) {
  const doc = await api.tags(state.sid);
  if (seq !== state.loadSeq) return;
  const rows = flattenTags(doc);
  tagIndex.clear();
  for (const r of rows) tagIndex.set(r.id, r.path);
  const root = rows.find((r) => r.depth === 0);
  if (root) state.root = { live: root.live, peak: root.peak, hard: root.hard };
  tree.load(rows);
  if (tree.selectedPath !== null) tree.select(tree.selectedPath, false);
  dirty.totals = true;
  requestRender();
}

async function loadAlerts(seq) {
  const doc = await api.alerts(state.sid);
  if (seq !== state.loadSeq) return;
  alertList.load(doc.alerts || []);
  requestRender();
}

async function loadFindings(seq) {
  const doc = await api.findings(state.sid);
  if (seq !== state.loadSeq) return;
  for (const f of doc.summary || []) findings.upsert({ ...f, count: f.count_max, value: f.value_max, t_ms: f.last_ms });
  requestRender();
}

async function loadTrend() {
  if (!state.sid) return;
  const seq = ++state.trendSeq;
  const path = state.trendPath;
  const windowMs = state.trendWindow;
  if (path !== '' && tree.size && !tree.byPath.has(path)) {
    // Another session without this tag (its tags are loaded): chart all
    // memory instead, without asking for a trend that is not there.
    tree.select('');
    return;
  }
  let doc;
  try {
    doc = await api.trend(state.sid, path, windowMs, POINTS);
  } catch (e) {
    if (e instanceof ApiError && e.code === 'tag_not_found' && path !== '') {
      // Another session without this tag: chart all memory instead.
      tree.select('');
      return;
    }
    if (e instanceof ApiError && e.status === 404) {
      setText($('trend-note'), `No history for ${path || 'all memory'} yet.`);
      return;
    }
    throw e;
  }
  if (seq !== state.trendSeq) return;
  const hard = budgetOf(path);
  chart.load(doc, windowMs, hard);
  $('chart').dataset.tag = path === '' ? '/' : path;
  $('chart').dataset.window = String(windowMs);
  const src = { raw: 'raw frames', '1s': 'per-second rollups', '10s': '10-second rollups', '1m': 'per-minute rollups' }[doc.source] || doc.source;
  setText($('trend-note'), `${WINDOWS.find((w) => w.ms === windowMs).label} from ${src}, ${fmtDuration(Number(doc.step_ms))} per point; band = min…max, line = average${hard ? ', dashed = hard budget' : ''}.`);
  requestRender();
}

function fmtDuration(ms) {
  return ms < 1000 ? `${ms} ms` : ms < 60000 ? `${(ms / 1000).toFixed(ms % 1000 ? 1 : 0)} s` : `${(ms / 60000).toFixed(ms % 60000 ? 1 : 0)} min`;
}

function budgetOf(path) {
  if (path === '') return state.root ? state.root.hard || 0 : 0;
  const n = tree.byPath.get(path);
  return n ? n.hard || 0 : 0;
}

function selectTrend(path) {
  state.trendPath = path;
  // Another tag's curve must not stay under this title while loading.
  chart.reset();
  chart.budget = budgetOf(path);
  chart.dirty = true;
  $('chart').dataset.tag = '';
  requestRender();
  setText($('trend-tag'), path === '' ? 'All memory' : path);
  $('trend-total').setAttribute('aria-pressed', path === '' ? 'true' : 'false');
  loadTrend().catch(handleError);
  showWhere();
}

// ---- the live stream -----------------------------------------------------

const socket = new LiveSocket({
  onstate: (s) => {
    if (s === 'open') {
      state.conn = 'open';
      state.unreachableSince = 0;
    } else if (s === 'reconnecting' || s === 'connecting') {
      // The first retry says "reconnecting"; once a retry has failed too,
      // the daemon is down for real.
      if (state.conn === 'open' || state.conn === 'connecting') state.conn = s === 'connecting' && !stats.wsOpens ? 'connecting' : 'reconnecting';
      else if (socket.attempts > 1 && state.conn !== 'unreachable') {
        state.conn = 'unreachable';
        state.unreachableSince = Date.now();
      }
    }
    dirty.header = dirty.banner = true;
    requestRender();
  },
  onopen: () => {
    stats.wsOpens++;
    // After a (re)connection nothing is assumed: reload everything.
    subscribe();
    loadSessions()
      .then(() => {
        if (state.sid) {
          const seq = state.loadSeq;
          return Promise.all([loadSessionDetail(seq), loadTags(seq), loadAlerts(seq), loadFindings(seq)]).then(loadTrend);
        }
      })
      .catch(handleError);
  },
  onmessage: (m) => onMessage(m),
});

// The stream sends every session's frames until told otherwise; frames of
// the session shown are all this page needs.
function subscribe() {
  socket.send({ subscribe: state.sid || '*' });
}

function onMessage(m) {
  stats.messages++;
  state.lastMessageAt = Date.now();
  switch (m.type) {
    case 'frame':
      onFrame(m);
      break;
    case 'alert':
      if (m.alert ? m.alert.session === state.sid : m.session === state.sid) alertList.upsert(m.alert || m, m.event);
      break;
    case 'session':
      onSessionEvent(m);
      // A session we asked for before its HELLO arrived: ask again.
      if (m.session && m.session.id === state.sid && m.event === 'start') subscribe();
      break;
    case 'error':
      // session_not_found: subscribed too early (daemon restarted, the
      // agent has not said HELLO yet); the session's start event retries.
      break;
    default:
      break;
  }
  requestRender();
}

function onSessionEvent(m) {
  const s = m.session && typeof m.session === 'object' ? m.session : m;
  sessionEventAt.set(s.id, performance.now());
  const i = state.sessions.findIndex((x) => x.id === s.id);
  if (i >= 0) state.sessions[i] = { ...state.sessions[i], ...s };
  else state.sessions.unshift(s);
  state.sessions.sort((a, b) => (b.live === true) - (a.live === true) || Number(b.last_frame_ms || b.started_ms || 0) - Number(a.last_frame_ms || a.started_ms || 0));
  state.sessionsLoaded = true;
  dirty.picker = dirty.banner = dirty.header = true;
  chooseSession();
}

function onFrame(m) {
  if (m.session !== state.sid) return;
  stats.frames++;
  const t = Number(m.t_ms) || Date.now();
  if (m.frame !== undefined && m.frame !== null) {
    state.frame = Number(m.frame);
    const fs = state.fpsSamples;
    fs.push([t, state.frame]);
    while (fs.length > 2 && t - fs[0][0] > 2000) fs.shift();
    if (fs.length >= 2 && t > fs[0][0]) state.fps = ((state.frame - fs[0][1]) * 1000) / (t - fs[0][0]);
  }
  if (m.totals) state.totals = m.totals;
  let unknown = false;
  const watchAlerts = alertList.activeCount() > 0;
  for (const r of m.tags || []) {
    const id = Number(r.id);
    const live = num(r.live_bytes);
    const values = { live, peak: num(r.peak_bytes) };
    if (r.budget_hard !== undefined) values.hard = num(r.budget_hard) || 0;
    if (id === 0) {
      state.root = { ...(state.root || {}), live, peak: values.peak };
      dirty.totals = true;
    } else if (!tree.update(id, values, t)) unknown = true;
    if (watchAlerts && live !== null) alertList.observe(id, live);
    const path = id === 0 ? '' : tagPathOf(id);
    if (path === state.trendPath && live !== null) chart.append(t, live, id === 0 ? undefined : values.hard);
  }
  for (const f of m.findings || []) findings.upsert({ ...f, t_ms: t });
  if (unknown && Date.now() - state.tagReloadAt > 2000) {
    state.tagReloadAt = Date.now();
    loadTags(state.loadSeq).catch(handleError);
  }
  dirty.header = dirty.totals = true;
}

function handleError(e) {
  if (e instanceof ApiError && e.status === 0) {
    // The socket's state machine reports reachability; nothing to add.
    return;
  }
  if (e instanceof ApiError && e.status === 404 && e.code === 'session_not_found') {
    state.pinned = false;
    loadSessions().catch(() => {});
    return;
  }
  setText($('trend-note'), `Error: ${e.message}`);
  console.warn('dashboard:', e);
}

// ---- controls ------------------------------------------------------------

function buildControls() {
  const seg = $('trend-windows');
  for (const w of WINDOWS) {
    const b = el('button', { type: 'button', role: 'radio', 'aria-checked': w.ms === state.trendWindow ? 'true' : 'false', dataset: { ms: String(w.ms) }, tabindex: w.ms === state.trendWindow ? '0' : '-1' }, w.label);
    b.addEventListener('click', () => setWindow(w.ms, b));
    seg.append(b);
  }
  seg.addEventListener('keydown', (ev) => {
    if (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft') return;
    const i = WINDOWS.findIndex((w) => w.ms === state.trendWindow);
    const j = (i + (ev.key === 'ArrowRight' ? 1 : WINDOWS.length - 1)) % WINDOWS.length;
    const b = seg.children[j];
    setWindow(WINDOWS[j].ms, b);
    b.focus();
    ev.preventDefault();
  });
  $('trend-total').addEventListener('click', () => {
    tree.select('');
  });
  $('expand-all').addEventListener('click', () => tree.expandAll(true));
  $('collapse-all').addEventListener('click', () => tree.expandAll(false));
  $('session-select').addEventListener('change', (ev) => {
    state.pinned = true;
    showSession(ev.target.value);
  });
}

function setWindow(ms, btn) {
  state.trendWindow = ms;
  for (const b of $('trend-windows').children) {
    const on = b === btn;
    b.setAttribute('aria-checked', on ? 'true' : 'false');
    b.tabIndex = on ? 0 : -1;
  }
  loadTrend().catch(handleError);
  showWhere();
}

// The stream announces sessions starting and ending (timeouts included);
// a slow poll of the newest page (never the whole list) mends anything
// missed. Findings are not in the stream's frame messages: they are read
// every poll.
let polls = 0;
function poll() {
  if (state.conn !== 'open') return;
  if (state.sid && state.session && state.session.live) where.refresh().catch(handleError);
  if (++polls % 6 === 0) loadSessions().catch(handleError);
  if (state.sid && state.session && state.session.live) loadFindings(state.loadSeq).catch(handleError);
  lint.refresh().catch(handleError);
}

function isLoopback(host) {
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\./.test(host);
}

// ---- start ---------------------------------------------------------------

function boot() {
  const m = /session=([0-9a-f]{16})/.exec(location.hash);
  if (m) {
    state.sid = null;
    state.pinned = true;
    state.sessions = [];
    showSession(m[1]);
  }
  buildControls();
  tree.selectedPath = '';
  // The stream's address comes from the daemon (see ws.js); without an
  // answer the page's own host is tried, and the socket keeps retrying.
  api
    .health()
    .then((h) => {
      if (h.ws_url && new URL(h.ws_url).host !== location.host && isLoopback(new URL(h.ws_url).hostname)) socket.wsUrl = h.ws_url;
    })
    .catch(() => {})
    .finally(() => socket.start());
  loadSessions().catch(handleError);
  lint.refresh().catch(handleError);
  setInterval(poll, 5000);
  // Figures keep moving between messages (the "ended" clock, ages).
  setInterval(() => {
    dirty.header = true;
    requestRender();
  }, 1000);
  const compare = mountCompare($('compare-panel'));
  window.__fa = { state, stats, tree, chart, alerts: alertList, findings, toasts, socket, compare, lint };
  requestRender();
}

boot();
