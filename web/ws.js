// ws.js — the daemon's live stream (/ws) with reconnection.
//
// LiveSocket keeps one WebSocket open to the page's own origin. When it
// closes (daemon restarted, network hiccup) it retries with a capped
// exponential back-off and says so through onstate, so the header can show
// "reconnecting" instead of silently freezing. Messages are JSON objects; a
// message that does not parse is counted, never thrown.

import { token } from './auth.js';

export class LiveSocket {
  constructor({ path = '/ws', onmessage, onstate, onopen } = {}) {
    this.path = path;
    this.onmessage = onmessage || (() => {});
    this.onstate = onstate || (() => {});
    this.onopen = onopen || (() => {});
    this.ws = null;
    this.state = 'idle';
    this.retryMs = 250;
    this.retryTimer = 0;
    this.attempts = 0;
    this.badMessages = 0;
    this.received = 0;
    this.openedAt = 0;
    this.stopped = false;
  }

  // nng binds the WebSocket route to the exact host of the daemon's
  // --listen address: a page opened as http://localhost:7878/ must still
  // dial ws://127.0.0.1:7878/ws. app.js sets wsUrl from /api/v1/health.
  // A daemon with a bearer token takes it from the query (a browser cannot
  // send headers on a WebSocket).
  url() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const base = this.wsUrl || `${proto}//${location.host}${this.path}`;
    return token() ? `${base}?token=${encodeURIComponent(token())}` : base;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.ws) this.ws.close();
  }

  send(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(obj));
      return true;
    }
    return false;
  }

  setState(s, detail) {
    this.state = s;
    this.onstate(s, detail);
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.attempts++;
    this.setState('connecting', { attempts: this.attempts });
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.retryMs = 250;
      this.attempts = 0;
      this.openedAt = Date.now();
      this.setState('open');
      this.onopen();
    };
    ws.onmessage = (ev) => {
      this.received++;
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        this.badMessages++;
        return;
      }
      if (msg && typeof msg === 'object') this.onmessage(msg);
    };
    ws.onerror = () => {
      // The close event follows and does the work; an error alone says
      // nothing more (browsers hide the reason).
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) {
        this.setState('closed');
        return;
      }
      this.scheduleRetry();
    };
  }

  scheduleRetry() {
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, 4000);
    this.setState('reconnecting', { inMs: wait, attempts: this.attempts });
    this.retryTimer = setTimeout(() => this.connect(), wait);
  }
}
