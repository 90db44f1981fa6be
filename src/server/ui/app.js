// kiln's dashboard: renders the JSON of /api/... (docs/dashboard.md) and nothing else, so a script
// and a person see the same facts. No framework and no build step: three read-mostly pages of
// tables, a few buttons and a 2 s poll fit in a few small ES modules that ship as they are, work
// offline and have no dependency to audit or update. This file routes, polls and navigates; each
// page has its own module. Every text goes through textContent (no HTML injection).
// Polling, not server-sent events: the answers carry an ETag, so an unchanged poll is a bodyless
// 304; it survives proxies and ingresses that buffer or cut long-lived responses; and each poll
// reads the same /api URL a script would.

import { $, h, link } from './dom.js';
import { modelPage } from './model-page.js';
import { modelsPage } from './models-page.js';
import { promotionPage } from './promotion-page.js';
import { loadSession, onChange } from './session.js';

const POLL_MS = 2000;

function route() {
  const p = location.pathname;
  let m = /^\/models\/([^/]+)\/?$/.exec(p);
  if (m) return { page: 'model', name: decodeURIComponent(m[1]), api: `/api/models/${m[1]}` };
  m = /^\/promotions\/(\d+)\/?$/.exec(p);
  if (m) return { page: 'promotion', id: m[1], api: `/api/promotions/${m[1]}` };
  return { page: 'models', api: '/api/models' };
}

const state = { etag: null, api: null, data: null };

// --- polling and navigation --------------------------------------------------------------------

let timer;
let inFlight = false;

async function render(force) {
  const r = route();
  if (r.api !== state.api) {
    state.api = r.api;
    state.etag = null;
    state.data = null;
    force = true;
    $('main').replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
  }
  if (inFlight) return;
  inFlight = true;
  try {
    // The poll is conditional by hand (not left to the HTTP cache): an unchanged answer is a 304.
    const headers = { accept: 'application/json' };
    if (!force && state.etag) headers['if-none-match'] = state.etag;
    const res = await fetch(r.api, { headers, cache: 'no-store' });
    if (res.status === 304) {
      $('live').textContent = `live · ${new Date().toLocaleTimeString()}`;
      $('live').className = '';
      return;
    }
    if (res.status === 404) {
      const body = await res.json().catch(() => ({}));
      $('main').replaceChildren(
        h('h1', {}, 'Not found'),
        h('p', {}, body.message ?? r.api),
        link('/', 'All models'),
      );
      return;
    }
    if (!res.ok) throw new Error(`${r.api}: HTTP ${res.status}`);
    const etag = res.headers.get('etag');
    const data = await res.json();
    if (route().api !== r.api) return; // navigated meanwhile
    if (force || etag === null || etag !== state.etag) {
      state.etag = etag;
      state.data = data;
      // A re-render must not take the keyboard focus or a chosen rollback target away.
      const focused = document.activeElement?.id;
      const target = $('rollback-target')?.value;
      // User Timing marks: a profiler (or bench/dashboard.ts) sees what each render costs.
      performance.mark('kiln:render:start');
      if (r.page === 'models') modelsPage(data);
      if (r.page === 'model') modelPage(data);
      if (r.page === 'promotion') promotionPage(data);
      performance.measure(`kiln:render:${r.page}`, 'kiln:render:start');
      const select = $('rollback-target');
      if (select && target && [...select.options].some((o) => o.value === target)) select.value = target;
      if (focused && document.activeElement?.id !== focused) $(focused)?.focus({ preventScroll: true });
      document.title =
        r.page === 'models'
          ? 'kiln · models'
          : r.page === 'model'
            ? `kiln · ${r.name}`
            : `kiln · promotion ${r.id}`;
    }
    $('live').textContent = `live · ${new Date().toLocaleTimeString()}`;
    $('live').className = '';
  } catch (e) {
    $('live').textContent = `connection lost, retrying (${e.message})`;
    $('live').className = 'error';
  } finally {
    inFlight = false;
  }
}

function poll() {
  clearTimeout(timer);
  timer = setTimeout(async () => {
    if (!document.hidden) await render(false);
    poll();
  }, POLL_MS);
}

function navigate(href) {
  history.pushState(null, '', href);
  render(true);
  $('main').focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

document.addEventListener('click', (e) => {
  const a = e.target.closest?.('a[data-link]');
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  navigate(a.getAttribute('href'));
});
window.addEventListener('popstate', () => render(true));
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) render(false);
});
document.addEventListener('keydown', (e) => {
  const typing = e.target.closest?.('input, textarea, select');
  if (e.key === '/' && !typing && $('filter')) {
    e.preventDefault();
    $('filter').focus();
  }
});

$('tz').textContent = `Times in ${Intl.DateTimeFormat().resolvedOptions().timeZone}`;
onChange(() => render(true));
loadSession()
  .catch(() => {})
  .finally(() => {
    render(true);
    poll();
  });
