// kiln's dashboard: renders the JSON of /api/... (docs/dashboard.md) and nothing else, so a script
// and a person see the same facts. No framework and no build step: three read-mostly pages of
// tables, a few buttons and a 2 s poll fit in one small file that ships as is, works offline and
// has no dependency to audit or update. Every text goes through textContent (no HTML injection).
// Polling, not server-sent events: the answers carry an ETag, so an unchanged poll is a bodyless
// 304; it survives proxies and ingresses that buffer or cut long-lived responses; and each poll
// reads the same /api URL a script would.

const POLL_MS = 2000;
const TOKEN_KEY = 'kiln.dashboard.token';
const STAGES = ['resolve', 'download', 'bake', 'push', 'sign', 'deploy'];

const $ = (id) => document.getElementById(id);

/** h('a', {href: '/'}, 'text', child...): an element; attributes starting with "on" are listeners. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const link = (href, text, attrs = {}) => h('a', { href, 'data-link': true, ...attrs }, text);
const modelUrl = (name) => `/models/${encodeURIComponent(name)}`;
const promotionUrl = (id) => `/promotions/${id}`;
const short = (digest) => (digest ? digest.replace(/^sha256:/, '').slice(0, 12) : '');
const dash = (v) => (v === undefined || v === null || v === '' ? '–' : v);

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
/** A time in the browser's time zone, machine-readable in datetime and title. */
function time(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return '–';
  const d = new Date(ms);
  return h('time', { datetime: d.toISOString(), title: d.toISOString() }, dateFmt.format(d));
}

function bytes(n) {
  if (n === undefined || n === null) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function seconds(ms) {
  if (ms === undefined || ms === null) return '';
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

const badge = (word, kind = word) => h('span', { class: `badge b-${kind}` }, word);

function digestCell(digest, image) {
  if (!digest) return '–';
  return h('code', { title: image ?? digest, class: 'digest' }, short(digest));
}

function yesNo(v, yes, no) {
  if (v === true) return badge(yes, 'ok');
  if (v === false) return badge(no, 'warn');
  return h('span', { class: 'muted' }, 'unknown');
}

function scanCell(scan) {
  if (!scan) return h('span', { class: 'muted' }, 'not scanned');
  return h('span', { title: scan.detail }, badge(scan.verdict, scan.verdict === 'passed' ? 'ok' : 'bad'));
}

// --- session: is acting possible, and as whom -------------------------------------------------

const session = { mode: 'disabled', who: null };

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

async function loadSession() {
  const t = token();
  const res = await fetch('/api/session', { headers: t ? { authorization: `Bearer ${t}` } : {} });
  const s = await res.json();
  session.mode = s.actions;
  session.who = s.who;
  if (t && !s.who) sessionStorage.removeItem(TOKEN_KEY);
  renderSession();
}

function renderSession() {
  const el = $('session');
  el.replaceChildren();
  if (session.mode === 'disabled') {
    el.append(
      h(
        'span',
        { class: 'muted', title: 'no dashboard tokens are configured for this kiln serve' },
        'read-only',
      ),
    );
  } else if (session.who) {
    el.append(
      h('span', {}, 'acting as ', h('strong', {}, session.who), ' '),
      h('button', { type: 'button', onclick: signOut }, 'Sign out'),
    );
  } else {
    el.append(h('button', { type: 'button', onclick: () => askToken() }, 'Sign in to act'));
  }
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  session.who = null;
  renderSession();
  render(true);
}

/** Resolves true once a valid token is stored. */
function askToken() {
  const dialog = $('token-dialog');
  const input = $('token-input');
  const error = $('token-error');
  error.hidden = true;
  input.value = '';
  return new Promise((resolve) => {
    const done = (ok) => {
      $('token-form').onsubmit = null;
      $('token-cancel').onclick = null;
      dialog.onclose = null;
      if (dialog.open) dialog.close();
      resolve(ok);
    };
    $('token-cancel').onclick = () => done(false);
    dialog.onclose = () => done(false);
    $('token-form').onsubmit = async (e) => {
      e.preventDefault();
      const res = await fetch('/api/session', { headers: { authorization: `Bearer ${input.value}` } });
      const s = await res.json();
      if (!s.who) {
        error.textContent = 'That token is not one of the configured tokens.';
        error.hidden = false;
        input.select();
        return;
      }
      sessionStorage.setItem(TOKEN_KEY, input.value);
      session.who = s.who;
      renderSession();
      done(true);
      render(true);
    };
    dialog.showModal();
    input.focus();
  });
}

/** A modal confirmation, optionally with a reason; resolves {ok, reason}. */
function confirmAction(title, text, withReason) {
  const dialog = $('confirm-dialog');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-reason-label').hidden = !withReason;
  $('confirm-reason').value = '';
  return new Promise((resolve) => {
    const done = (ok) => {
      $('confirm-form').onsubmit = null;
      $('confirm-cancel').onclick = null;
      dialog.onclose = null;
      if (dialog.open) dialog.close();
      resolve({ ok, reason: $('confirm-reason').value.trim() || undefined });
    };
    $('confirm-cancel').onclick = () => done(false);
    dialog.onclose = () => done(false);
    $('confirm-form').onsubmit = (e) => {
      e.preventDefault();
      done(true);
    };
    dialog.showModal();
    (withReason ? $('confirm-reason') : $('confirm-ok')).focus();
  });
}

function notice(text, kind) {
  const el = $('notice');
  el.className = kind;
  el.replaceChildren(
    h('span', {}, text),
    h(
      'button',
      {
        type: 'button',
        onclick: () => {
          el.hidden = true;
        },
      },
      'Dismiss',
    ),
  );
  el.hidden = false;
}

/** POST an action; asks for a token first when none is stored. */
async function act(path, body, what) {
  if (!session.who && !(await askToken())) return;
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token()}` },
    body: JSON.stringify(body ?? {}),
  });
  const out = await res.json().catch(() => ({}));
  if (res.status === 401) {
    signOut();
    notice('Your token was refused: sign in again.', 'bad');
    return;
  }
  if (!res.ok) {
    notice(`${what} failed: ${out.message ?? res.statusText}${out.hint ? ` (${out.hint})` : ''}`, 'bad');
  } else {
    const r = out.rollout;
    const detail = r
      ? ` ${r.namespace}/${r.name} now ${r.canaryPercent === undefined ? '100%' : `${r.canaryPercent}% canary`} on ${short(r.digest)}.`
      : out.promotionId
        ? ` Promotion ${out.promotionId} ${out.decision}.`
        : ` ${out.decision ?? ''}`;
    notice(`${what} done by ${out.who}.${detail}`, 'ok');
  }
  render(true);
}

// --- pages -------------------------------------------------------------------------------------

function route() {
  const p = location.pathname;
  let m = /^\/models\/([^/]+)\/?$/.exec(p);
  if (m) return { page: 'model', name: decodeURIComponent(m[1]), api: `/api/models/${m[1]}` };
  m = /^\/promotions\/(\d+)\/?$/.exec(p);
  if (m) return { page: 'promotion', id: m[1], api: `/api/promotions/${m[1]}` };
  return { page: 'models', api: '/api/models' };
}

const state = { etag: null, api: null, data: null, filter: '', rows: new Map() };

function modelsPage(data) {
  const main = $('main');
  let table = main.querySelector('#models-table');
  if (!table) {
    const filter = h('input', {
      type: 'search',
      id: 'filter',
      placeholder: 'Filter models (press /)',
      'aria-label': 'Filter models',
      value: state.filter,
      oninput: (e) => {
        state.filter = e.target.value.toLowerCase();
        applyFilter();
      },
    });
    table = h(
      'table',
      { id: 'models-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Model', 'Alias → MLflow', 'Serving', 'Canary', 'Last promotion', 'Signed', 'Scan'].map((t) =>
            h('th', { scope: 'col' }, t),
          ),
        ),
      ),
      h('tbody'),
    );
    main.replaceChildren(
      h('div', { class: 'title' }, h('h1', {}, 'Models'), h('span', { id: 'count', class: 'muted' }), filter),
      table,
    );
    state.rows = new Map();
  }
  const tbody = table.tBodies[0];
  // Rows are kept and rebuilt only when their model changed: 200 models re-render cheaply and
  // keyboard focus stays where it was between polls.
  const seen = new Set();
  let previous = null;
  for (const m of data.models) {
    seen.add(m.name);
    const key = JSON.stringify(m);
    let entry = state.rows.get(m.name);
    if (!entry || entry.key !== key) {
      const tr = modelRow(m);
      if (entry) entry.tr.replaceWith(tr);
      entry = { key, tr };
      state.rows.set(m.name, entry);
    }
    const want = previous ? previous.nextSibling : tbody.firstChild;
    if (want !== entry.tr) tbody.insertBefore(entry.tr, want);
    previous = entry.tr;
  }
  for (const [name, entry] of state.rows) {
    if (!seen.has(name)) {
      entry.tr.remove();
      state.rows.delete(name);
    }
  }
  $('count').textContent = `${data.models.length} watched`;
  applyFilter();
}

function applyFilter() {
  for (const [name, entry] of state.rows)
    entry.tr.hidden = state.filter !== '' && !name.toLowerCase().includes(state.filter);
}

function slot(s) {
  if (!s) return h('span', { class: 'muted' }, 'nothing');
  return h('span', {}, s.version ? `v${s.version} ` : 'v? ', digestCell(s.digest, s.image), ` ${s.percent}%`);
}

function modelRow(m) {
  const canary = m.canary
    ? h(
        'span',
        { class: 'canary' },
        slot(m.canary),
        m.canary.percent === 0 ? [' ', badge('aborted', 'warn')] : '',
        m.canary.analysis
          ? [
              ' ',
              badge(
                `${m.canary.analysis.state}${m.canary.analysis.step !== undefined ? ` · step ${m.canary.analysis.step}` : ''}`,
                'info',
              ),
            ]
          : '',
      )
    : h('span', { class: 'muted' }, 'none');
  const p = m.lastPromotion;
  const last = p
    ? h(
        'span',
        {},
        link(promotionUrl(p.id), `#${p.id}`),
        ' ',
        badge(p.status),
        ` v${p.version} `,
        h('span', { class: 'muted' }, time(p.finishedAt ?? p.queuedAt)),
      )
    : h('span', { class: 'muted' }, 'none yet');
  // Signed and scanned: what serves; for a model kiln does not deploy to a cluster, the alias's image.
  const serving = m.serving ?? m.canary ?? (m.aliasImage?.digest ? m.aliasImage : undefined);
  const aliasCell = m.mlflow.aliasMissing
    ? h('span', { class: 'muted', title: m.mlflow.error }, `@${m.alias} not set`)
    : m.mlflow.error
      ? h('span', { class: 'error', title: m.mlflow.error }, `@${m.alias}: MLflow unreachable`)
      : h('span', {}, `@${m.alias} → v${dash(m.mlflow.version)}`);
  const pending = m.running ? ` (v${m.running} running)` : m.queued ? ` (v${m.queued} queued)` : '';
  return h(
    'tr',
    { 'data-model': m.name },
    h('th', { scope: 'row' }, link(modelUrl(m.name), m.name)),
    h('td', {}, aliasCell, pending ? h('span', { class: 'muted' }, pending) : ''),
    h(
      'td',
      {},
      m.cluster.error
        ? h('span', { class: 'error', title: m.cluster.error }, 'cluster unreadable')
        : m.inferenceService
          ? slot(m.serving)
          : h('span', { class: 'muted' }, m.gitops ? `GitOps: ${m.gitops}` : 'no cluster target'),
    ),
    h('td', {}, canary),
    h('td', {}, last),
    h('td', {}, serving ? yesNo(serving.signed, 'signed', 'unsigned') : '–'),
    h('td', {}, serving ? scanCell(serving.scan) : '–'),
  );
}

function section(title, ...content) {
  return h('section', {}, h('h2', {}, title), ...content);
}

function table(headers, rows, empty) {
  if (rows.length === 0) return h('p', { class: 'muted' }, empty);
  return h(
    'table',
    {},
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map((t) => h('th', { scope: 'col' }, t)),
      ),
    ),
    h('tbody', {}, rows),
  );
}

function modelPage(data) {
  const m = data.model;
  const canActions = session.mode !== 'disabled' && m.inferenceService;
  const actions = [];
  if (canActions && m.canary && m.canary.percent > 0) {
    actions.push(
      h(
        'button',
        {
          type: 'button',
          id: 'promote-btn',
          class: 'primary',
          onclick: async () => {
            const c = await confirmAction(
              'Promote the canary',
              `Send 100% of ${m.inferenceService} to v${m.canary.version} (${short(m.canary.digest)})?`,
              false,
            );
            if (c.ok) await act(`/api/models/${encodeURIComponent(m.name)}/promote`, {}, 'Promote');
          },
        },
        'Promote canary',
      ),
      h(
        'button',
        {
          type: 'button',
          id: 'abort-btn',
          class: 'danger',
          onclick: async () => {
            const c = await confirmAction(
              'Abort the canary',
              `Send 0% to v${m.canary.version} (${short(m.canary.digest)}); all traffic back on the previous revision?`,
              true,
            );
            if (c.ok)
              await act(`/api/models/${encodeURIComponent(m.name)}/abort`, { reason: c.reason }, 'Abort');
          },
        },
        'Abort canary',
      ),
    );
  }
  if (canActions && data.rollbackTargets.length > 0) {
    const select = h(
      'select',
      { id: 'rollback-target', 'aria-label': 'Digest to roll back to' },
      data.rollbackTargets.map((t) =>
        h(
          'option',
          { value: t.digest },
          `v${dash(t.version)} ${short(t.digest)} (${dateFmt.format(new Date(t.at))})`,
        ),
      ),
    );
    actions.push(
      h(
        'span',
        { class: 'rollback' },
        select,
        h(
          'button',
          {
            type: 'button',
            id: 'rollback-btn',
            onclick: async () => {
              const digest = select.value;
              const c = await confirmAction(
                'Roll back',
                `Point ${m.inferenceService} at ${short(digest)}, no rebuild, canary removed?`,
                true,
              );
              if (c.ok)
                await act(
                  `/api/models/${encodeURIComponent(m.name)}/rollback`,
                  { digest, reason: c.reason },
                  'Rollback',
                );
            },
          },
          'Roll back',
        ),
      ),
    );
  }
  const s = data.status;
  const revisions = (s?.revisions ?? []).map((r) =>
    h(
      'tr',
      {},
      h('td', {}, r.revision),
      h('td', {}, r.percent === undefined ? '–' : `${r.percent}%`),
      h('td', {}, digestCell(r.digest, r.image)),
      h('td', {}, r.version ? `v${r.version}` : '–'),
      h('td', {}, r.roles.join(', ')),
    ),
  );
  const versions = data.versions.map((v) =>
    h(
      'tr',
      { 'data-version': v.version },
      h(
        'th',
        { scope: 'row' },
        `v${v.version}`,
        v.role ? [' ', badge(v.role, v.role === 'canary' ? 'info' : 'ok')] : '',
        v.aliases.length ? h('div', { class: 'muted' }, v.aliases.map((a) => `@${a}`).join(' ')) : '',
      ),
      h('td', {}, time(v.createdAt)),
      h('td', {}, digestCell(v.digest, v.reference)),
      h('td', {}, v.digest ? yesNo(v.signed, 'signed', 'unsigned') : '–'),
      h('td', {}, scanCell(v.scan)),
      h(
        'td',
        {},
        v.deployments.length
          ? h(
              'ul',
              {},
              v.deployments.map((d) =>
                h(
                  'li',
                  {},
                  time(d.at),
                  ` → ${dash(d.to)}`,
                  d.promotionId
                    ? [' ', link(promotionUrl(d.promotionId), `#${d.promotionId}`)]
                    : h('span', { class: 'muted' }, ` (${d.by})`),
                ),
              ),
            )
          : '–',
      ),
      h(
        'td',
        {},
        v.decisions.length
          ? h(
              'ul',
              { class: 'decisions' },
              v.decisions.map((d) =>
                h(
                  'li',
                  {},
                  badge(d.kind, decisionKind(d)),
                  ` ${d.by} `,
                  h('span', { class: 'muted' }, time(d.at)),
                  d.reason ? h('div', { class: 'reason' }, d.reason) : '',
                  d.promotionId ? [' ', link(promotionUrl(d.promotionId), `#${d.promotionId}`)] : '',
                ),
              ),
            )
          : '–',
      ),
    ),
  );
  const promos = data.promotions.map((p) =>
    h(
      'tr',
      {},
      h('td', {}, link(promotionUrl(p.id), `#${p.id}`)),
      h('td', {}, `v${p.version}`),
      h('td', {}, badge(p.status)),
      h('td', {}, digestCell(p.digest)),
      h('td', {}, time(p.queuedAt)),
      h('td', {}, time(p.finishedAt)),
      h('td', { class: 'error' }, dash(p.error)),
    ),
  );
  const acts = data.actions.map((a) =>
    h(
      'tr',
      {},
      h('td', {}, time(a.at)),
      h('td', {}, a.who),
      h('td', {}, a.action),
      h('td', {}, a.version ? `v${a.version}` : '–'),
      h('td', {}, a.target ? digestCell(a.target) : '–'),
      h('td', {}, badge(a.result, a.result === 'done' ? 'ok' : 'bad')),
      h('td', {}, dash(a.error ?? a.reason)),
    ),
  );
  $('main').replaceChildren(
    h(
      'div',
      { class: 'title' },
      h('h1', {}, m.name),
      h('span', { class: 'muted' }, `@${m.alias} → v${dash(m.mlflow.version)}`),
    ),
    m.mlflow.error ? h('p', { class: 'error' }, `MLflow: ${m.mlflow.error}`) : '',
    data.mlflowError ? h('p', { class: 'error' }, `MLflow versions: ${data.mlflowError}`) : '',
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'InferenceService'),
      h('dd', {}, m.inferenceService ?? (m.gitops ? `GitOps: ${m.gitops}` : 'not deployed by kiln serve')),
      h('dt', {}, 'Serving'),
      h(
        'dd',
        { id: 'serving' },
        m.cluster.error ? h('span', { class: 'error' }, m.cluster.error) : slot(m.serving),
      ),
      h('dt', {}, 'Canary'),
      h(
        'dd',
        { id: 'canary' },
        m.canary
          ? [
              slot(m.canary),
              m.canary.percent === 0 ? [' ', badge('aborted', 'warn')] : '',
              m.canary.analysis
                ? [
                    ' ',
                    badge(m.canary.analysis.state, 'info'),
                    ` ${dash(m.canary.analysis.lastDecision)} ${m.canary.analysis.reason ?? ''}`,
                  ]
                : '',
            ]
          : 'none',
      ),
      h('dt', {}, 'Cluster'),
      h(
        'dd',
        {},
        s
          ? `ready: ${dash(s.ready)}, generation ${dash(s.generation)}${s.reconciled ? '' : ' (controller has not caught up)'}`
          : '–',
      ),
    ),
    actions.length ? h('div', { class: 'actions', role: 'group', 'aria-label': 'Actions' }, actions) : '',
    section(
      'Revisions (KServe status)',
      table(
        ['Revision', 'Traffic', 'Digest', 'Version', 'Roles'],
        revisions,
        'KServe has reported no revisions yet.',
      ),
    ),
    section(
      'Versions, newest first',
      table(
        ['Version', 'Created', 'Digest', 'Signature', 'Scan', 'Deployed', 'Decisions'],
        versions,
        'No versions.',
      ),
      data.moreVersions ? h('p', { class: 'muted' }, 'Older versions not shown.') : '',
    ),
    section(
      'Promotions',
      table(
        ['#', 'Version', 'Status', 'Digest', 'Queued', 'Finished', 'Error'],
        promos,
        'No promotions yet.',
      ),
    ),
    section(
      'Actions taken',
      table(
        ['When', 'Who', 'Action', 'Version', 'Target', 'Result', 'Reason / error'],
        acts,
        'No actions yet.',
      ),
    ),
  );
}

function decisionKind(d) {
  if (d.result === 'failed') return 'bad';
  if (['failed', 'aborted', 'blocked', 'rolled-back'].includes(d.kind)) return 'warn';
  return 'ok';
}

function promotionPage(data) {
  const p = data.promotion;
  const attempt = Math.max(0, ...data.stages.map((s) => s.attempt));
  const stages = STAGES.map((name) =>
    data.stages.find((s) => s.stage === name && s.attempt === attempt),
  ).filter(Boolean);
  const t0 = Math.min(...stages.map((s) => s.startedAt));
  const t1 = Math.max(...stages.map((s) => s.finishedAt ?? Date.now()));
  const span = Math.max(1, t1 - t0);
  const rows = stages.map((s) => {
    const bar = h('div', { class: `bar${s.error ? ' bar-bad' : s.skipped ? ' bar-skip' : ''}` });
    bar.style.marginLeft = `${((s.startedAt - t0) / span) * 100}%`;
    bar.style.width = `${Math.max(0.5, (((s.finishedAt ?? Date.now()) - s.startedAt) / span) * 100)}%`;
    return h(
      'tr',
      { 'data-stage': s.stage },
      h('th', { scope: 'row' }, s.stage),
      h(
        'td',
        { class: 'num' },
        s.skipped ? '' : s.finishedAt ? seconds(s.finishedAt - s.startedAt) : 'running',
      ),
      h('td', { class: 'num' }, bytes(s.bytes)),
      h(
        'td',
        {},
        s.skipped ? h('span', { class: 'muted' }, `skipped: ${s.skipped}`) : dash(s.detail),
        s.error ? h('div', { class: 'error' }, s.error) : '',
      ),
      h('td', { class: 'waterfall', 'aria-hidden': 'true' }, bar),
    );
  });
  const logs = data.logs.map((l) =>
    h(
      'li',
      { class: `log-${l.level}` },
      h('span', { class: 'muted' }, time(l.at)),
      ` ${l.level} `,
      l.msg,
      l.fields ? h('code', { class: 'fields' }, ` ${JSON.stringify(l.fields)}`) : '',
    ),
  );
  const retry =
    data.retryable && session.mode !== 'disabled'
      ? h(
          'button',
          {
            type: 'button',
            id: 'retry-btn',
            class: 'primary',
            onclick: async () => {
              const c = await confirmAction(
                'Retry the promotion',
                `Queue ${p.name} version ${p.version} again?`,
                false,
              );
              if (c.ok) await act(`/api/promotions/${p.id}/retry`, {}, 'Retry');
            },
          },
          'Retry promotion',
        )
      : '';
  $('main').replaceChildren(
    h(
      'div',
      { class: 'title' },
      h('h1', {}, `Promotion #${p.id}`),
      link(modelUrl(p.name), p.name),
      h('span', {}, ` v${p.version} `),
      badge(p.status),
    ),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Trigger'),
      h('dd', {}, `${p.source}${p.deliveryId ? ` (delivery ${p.deliveryId})` : ''}, attempt ${p.attempts}`),
      h('dt', {}, 'Queued / started / finished'),
      h('dd', {}, time(p.queuedAt), ' / ', time(p.startedAt), ' / ', time(p.finishedAt)),
      h('dt', {}, 'Image'),
      h('dd', {}, p.reference ? h('code', {}, p.reference) : '–'),
      h('dt', {}, 'Signed · deployed to'),
      h('dd', {}, p.signed === undefined ? '–' : p.signed ? 'signed' : 'unsigned', ' · ', dash(p.deployedTo)),
      h('dt', {}, 'Pushed'),
      h(
        'dd',
        {},
        p.bytesPushed === undefined ? '–' : `${bytes(p.bytesPushed)}${p.reused ? ' (image reused)' : ''}`,
      ),
    ),
    data.error
      ? h(
          'div',
          { class: 'errorbox', role: 'note' },
          h('strong', {}, data.error.code ?? 'error'),
          h('p', {}, data.error.message),
          data.error.hint ? h('p', {}, h('strong', {}, 'Hint: '), data.error.hint) : '',
          retry,
        )
      : '',
    section(
      'Stages',
      table(
        ['Stage', 'Time', 'Size', 'Detail', 'Timeline'],
        rows,
        'No stages recorded (promotions run by a Job or a --promoter module record none).',
      ),
      stages.length
        ? h('p', { class: 'muted' }, 'Download, bake and push are one streamed pass: their times overlap.')
        : '',
    ),
    section(
      'Log',
      logs.length ? h('ol', { class: 'logs' }, logs) : h('p', { class: 'muted' }, 'No log lines recorded.'),
    ),
  );
}

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
loadSession()
  .catch(() => {})
  .finally(() => {
    render(true);
    poll();
  });
