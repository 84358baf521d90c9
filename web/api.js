// api.js — the daemon's JSON API (/api/v1, see fa-insightd/API.md). Same
// origin only: the page is served by fa-insightd and talks to nothing else.
// A daemon with a bearer token answers 401 until the page has it (auth.js).

import { askToken, token } from './auth.js';

export class ApiError extends Error {
  // status 0 means the daemon could not be reached at all.
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const TIMEOUT_MS = 5000;

export async function getJSON(path, params, timeoutMs = TIMEOUT_MS) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await getOnce(path, params, timeoutMs);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401 || attempt > 3) throw e;
      await askToken(token() !== '');
    }
  }
}

async function getOnce(path, params, timeoutMs) {
  const url = new URL(path, location.origin);
  if (params) {
    for (const [k, v] of Object.entries(params)) {
      if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
    }
  }
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  let res;
  try {
    const headers = { Accept: 'application/json' };
    if (token()) headers.Authorization = `Bearer ${token()}`;
    res = await fetch(url, { signal: ctl.signal, cache: 'no-store', headers });
  } catch (e) {
    throw new ApiError(0, 'unreachable', `daemon unreachable (${e.name === 'AbortError' ? 'timed out' : 'connection failed'})`);
  } finally {
    clearTimeout(timer);
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (!res.ok) {
    const err = body && body.error ? body.error : {};
    throw new ApiError(res.status, err.code || `http_${res.status}`, err.message || `HTTP ${res.status}`);
  }
  if (body === null) throw new ApiError(res.status, 'bad_json', 'the daemon answered with something that is not JSON');
  return body;
}

const sid = (id) => encodeURIComponent(id);

export const SESSION_PAGE = 50;

export const api = {
  health: () => getJSON('/api/v1/health'),
  // The newest page only: the daemon pages /sessions (API.md); the picker
  // offers the newest sessions, fa-cli sessions lists the rest.
  sessions: () => getJSON('/api/v1/sessions', { limit: SESSION_PAGE }),
  session: (id) => getJSON(`/api/v1/sessions/${sid(id)}`),
  tags: (id) => getJSON(`/api/v1/sessions/${sid(id)}/tags`),
  // tag: a tag path ("" or "/" for the whole session); windowMs; points.
  trend: (id, tag, windowMs, points) =>
    getJSON(`/api/v1/sessions/${sid(id)}/trend`, { tag: tag === '' ? '/' : tag, window: `${Math.round(windowMs / 1000)}s`, points }),
  alerts: (id) => getJSON('/api/v1/alerts', { session: id }),
  findings: (id) => getJSON(`/api/v1/sessions/${sid(id)}/findings`),
  // Call sites (API.md /sites): params {tag, window, limit, sort}; one
  // site's tags, trend and source lines: {tag, window, points, context}.
  sites: (id, params) => getJSON(`/api/v1/sessions/${sid(id)}/sites`, params),
  site: (id, site, params) => getJSON(`/api/v1/sessions/${sid(id)}/sites/${encodeURIComponent(site)}`, params),
  // { app, build, tag, since }: builds x tags across sessions (every host
  // writing to the daemon's store).
  fleet: (q) => getJSON('/api/v1/fleet', q),
  // Two sessions compared (fa-cli compare's diff): reads up to 20 000 frames
  // of each, so it may take longer than the other queries.
  compare: (params) => getJSON('/api/v1/compare', params, 60000),
};
