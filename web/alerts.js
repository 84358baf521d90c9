// alerts.js — budget alerts (toasts and the alert list) and the behaviour
// filter's findings with their code and advice.
//
// Alerts come from the daemon (its budget rules have hysteresis: raised at
// 80 % / 100 % of the hard budget, cleared below 75 %), never from the page's
// own arithmetic, so the page, fa-cli and the database agree. A toast is
// shown when an alert is raised or escalates while the page watches; alerts
// that were already open when the page loaded only fill the list.

import { el, fmtBytes, fmtClock, fmtDateTime, fmtInt, fmtPct, setText, tagName } from './format.js';

// docs/behaviour.md, "Codes": name, meaning, how to fix. The daemon sends
// the code and name (and the meaning in summaries); the advice lives here.
export const FINDINGS = {
  1: ['FA_FIND_FRAME_RETAINED_OFTEN', 'frame data promoted or retained in most frames', 'allocate it from a pool or the heap in the first place', 'bytes marked'],
  2: ['FA_FIND_POOL_SAME_FRAME_FREE', 'pool blocks freed in the frame they were allocated', 'use frame memory (fa_frame_alloc) for data that dies with the frame', 'bytes'],
  3: ['FA_FIND_PROMOTION_CHURN', 'promoted blocks freed again within a few frames', 'keep the data for N frames (FA_RETAIN_FRAMES) or do not promote it', 'bytes'],
  4: ['FA_FIND_HEAP_IN_HOT_PATH', 'heap allocations inside most frames', 'use a pool for small blocks, or allocate once outside the frame loop', 'bytes'],
  5: ['FA_FIND_OUTSIDE_FRAME', 'frame allocations outside fa_begin_frame/fa_end_frame', 'bracket the code with fa_begin_frame/fa_end_frame, or use the pool', 'bytes'],
  6: ['FA_FIND_ARENA_OVERFLOW', 'the frame arena overflows its first chunk in most frames', 'raise frame_chunk_bytes to at least the reported peak', 'peak arena bytes'],
  7: ['FA_FIND_BUDGET_BREACH', 'a budget was exceeded or refused an allocation', 'raise the budget or reduce the tag\u2019s memory', 'peak usage'],
};

const MAX_TOASTS = 4;

export class Toasts {
  constructor(host) {
    this.host = host;
    this.shown = 0;
  }

  // level: 'warning' | 'critical' | 'info'. key: a toast with the same key
  // (the tag) is replaced, so an escalation does not stack a second toast.
  show(level, title, detail, key) {
    if (key !== undefined) {
      for (const old of this.host.children) if (old.dataset.key === key) old.remove();
    }
    const close = el('button', { class: 'toast-close', type: 'button', 'aria-label': 'Dismiss notification' }, '\u00d7');
    const t = el(
      'div',
      { class: 'toast', role: level === 'critical' ? 'alert' : 'status', dataset: { level, key: key ?? '' } },
      el('div', { class: 'toast-body' }, el('strong', { class: 'toast-title' }, title), detail ? el('div', { class: 'toast-detail' }, detail) : null),
      close,
    );
    let timer = 0;
    const dismiss = () => {
      clearTimeout(timer);
      t.classList.add('leaving');
      setTimeout(() => t.remove(), 200);
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(dismiss, level === 'critical' ? 12000 : 8000);
    };
    close.addEventListener('click', dismiss);
    t.addEventListener('mouseenter', () => clearTimeout(timer));
    t.addEventListener('mouseleave', arm);
    t.addEventListener('focusin', () => clearTimeout(timer));
    t.addEventListener('focusout', arm);
    arm();
    this.host.prepend(t);
    while (this.host.children.length > MAX_TOASTS) this.host.lastElementChild.remove();
    this.shown++;
    return t;
  }
}

export class AlertList {
  constructor(tbody, countEl, toasts) {
    this.tbody = tbody;
    this.countEl = countEl;
    this.toasts = toasts;
    this.alerts = new Map(); // id -> alert
    this.rows = new Map(); // id -> tr
    this.dirty = false;
    this.live = false; // true once the initial list is loaded: later raises toast
  }

  clear() {
    this.alerts.clear();
    this.rows.clear();
    this.tbody.replaceChildren();
    this.live = false;
    this.dirty = true;
  }

  // The API's list (replaces what is known; no toasts).
  load(list) {
    this.alerts.clear();
    for (const a of list) this.alerts.set(String(a.id), a);
    this.live = true;
    this.dirty = true;
  }

  // One alert from the stream. event: 'raised' | 'escalated' | 'cleared' |
  // undefined (then derived from what was known).
  upsert(a, event) {
    const key = String(a.id);
    const before = this.alerts.get(key);
    this.alerts.set(key, a);
    this.dirty = true;
    if (!this.live) return;
    const active = a.state !== 'cleared';
    let ev = event;
    if (!ev) {
      if (!before && active) ev = 'raised';
      else if (before && before.level !== a.level && active) ev = 'escalated';
    }
    if (!active || (ev !== 'raised' && ev !== 'escalated')) return;
    const used = Number(a.live_bytes ?? a.raised_bytes);
    const pct = a.budget_hard ? (100 * used) / Number(a.budget_hard) : null;
    const detail = `${fmtBytes(used)} of ${fmtBytes(a.budget_hard)} (${fmtPct(pct)}) · ${fmtClock(a.raised_ms)}`;
    const name = tagName(a.tag);
    if (a.level === 'critical') this.toasts.show('critical', `${name} is over its budget`, detail, a.tag);
    else this.toasts.show('warning', `${name} passed 80 % of its budget`, detail, a.tag);
  }

  // The daemon sends an alert when it is raised, escalated or cleared; the
  // episode's peak in between is followed here from the live tag figures.
  observe(tagId, live) {
    for (const a of this.alerts.values()) {
      if (a.tag_id !== tagId || a.state === 'cleared' || !(live > Number(a.peak_bytes))) continue;
      a.peak_bytes = live;
      if (Number(a.budget_hard) > 0) a.peak_pct = (100 * live) / Number(a.budget_hard);
      this.dirty = true;
    }
  }

  activeCount() {
    let n = 0;
    for (const a of this.alerts.values()) if (a.state !== 'cleared') n++;
    return n;
  }

  render() {
    if (!this.dirty) return;
    this.dirty = false;
    const list = [...this.alerts.values()].sort((a, b) => (a.state === 'cleared') - (b.state === 'cleared') || Number(b.raised_ms) - Number(a.raised_ms));
    const frag = document.createDocumentFragment();
    const keep = new Set();
    for (const a of list.slice(0, 200)) {
      const key = String(a.id);
      keep.add(key);
      let tr = this.rows.get(key);
      if (!tr) {
        tr = el('tr', {}, el('td', { class: 'level' }, el('span', { class: 'badge' })), el('th', { scope: 'row', class: 'alert-tag' }), el('td', { class: 'raised' }), el('td', { class: 'cleared' }), el('td', { class: 'num apeak' }));
        this.rows.set(key, tr);
      }
      const [lv, tag, raised, cleared, peak] = tr.children;
      const active = a.state !== 'cleared';
      tr.dataset.level = a.level;
      tr.dataset.state = active ? 'active' : 'cleared';
      setText(lv.firstChild, a.level === 'critical' ? '≥ 100 %' : '≥ 80 %');
      lv.firstChild.dataset.level = a.level;
      setText(tag, tagName(a.tag));
      setText(raised, fmtDateTime(a.raised_ms));
      raised.title = new Date(Number(a.raised_ms)).toString();
      setText(cleared, active ? 'active' : fmtDateTime(a.cleared_ms));
      cleared.classList.toggle('is-active', active);
      setText(peak, `${fmtBytes(a.peak_bytes)} · ${fmtPct(Number(a.peak_pct))}`);
      frag.append(tr);
    }
    for (const [key, tr] of this.rows) if (!keep.has(key)) {
      tr.remove();
      this.rows.delete(key);
    }
    this.tbody.append(frag);
    if (!this.alerts.size) this.tbody.replaceChildren(el('tr', { class: 'empty-row' }, el('td', { colspan: '5' }, 'No budget alerts in this session.')));
    else this.tbody.querySelector('.empty-row')?.remove();
    const active = this.activeCount();
    setText(this.countEl, this.alerts.size ? `${active} active · ${this.alerts.size} total` : 'none');
    this.tbody.closest('section').dataset.active = String(active);
  }
}

export class FindingList {
  constructor(list, countEl) {
    this.list = list;
    this.countEl = countEl;
    this.items = new Map(); // "code/tag/kind" -> finding
    this.dirty = false;
  }

  clear() {
    this.items.clear();
    this.dirty = true;
  }

  // One finding: {code, name?, tag (path) or tag_id, kind, count, value, t_ms}.
  upsert(f) {
    const key = `${f.code}/${f.tag_id}/${f.kind}`;
    const before = this.items.get(key);
    const merged = { ...before, ...f };
    if (before) {
      merged.frames = Math.max(Number(before.frames || 0), Number(f.frames || 0));
      merged.first_ms = before.first_ms || f.first_ms || f.t_ms;
    }
    merged.last_ms = Math.max(Number(f.last_ms || f.t_ms || 0), Number(before ? before.last_ms || 0 : 0));
    this.items.set(key, merged);
    this.dirty = true;
  }

  render(tagPath) {
    if (!this.dirty) return;
    this.dirty = false;
    const items = [...this.items.values()].sort((a, b) => Number(b.last_ms || 0) - Number(a.last_ms || 0) || a.code - b.code);
    const nodes = items.slice(0, 50).map((f) => {
      const info = FINDINGS[f.code] || [f.name || `code ${f.code}`, f.meaning || 'unknown finding', 'see docs/behaviour.md', 'value'];
      const path = f.tag ?? tagPath(f.tag_id) ?? `#${f.tag_id}`;
      return el(
        'li',
        { class: 'finding', dataset: { code: String(f.code) } },
        el('div', { class: 'finding-head' }, el('span', { class: 'code', title: 'behaviour code (docs/behaviour.md)' }, `code ${f.code}`), el('strong', { class: 'fname' }, f.name || info[0]), el('span', { class: 'ftag' }, tagName(path)), el('span', { class: 'fkind' }, f.kind)),
        el('div', { class: 'meaning' }, f.meaning || info[1]),
        el('div', { class: 'figures' }, `${fmtInt(f.count_max ?? f.count)} times in the window · ${info[3]}: ${fmtBytes(f.value_max ?? f.value)}`, f.last_ms ? ` · last ${fmtClock(f.last_ms)}` : ''),
        el('div', { class: 'advice' }, el('span', { class: 'advice-label' }, 'Advice: '), info[2]),
      );
    });
    this.list.replaceChildren(...(nodes.length ? nodes : [el('li', { class: 'empty' }, 'No findings. The behaviour filter reports wasteful patterns here when the game turns it on (docs/behaviour.md).')]));
    setText(this.countEl, items.length ? String(items.length) : 'none');
  }
}
