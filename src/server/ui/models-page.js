// The models page: one row per watched model, kept between polls and rebuilt only when its
// model changed, so 200 rows re-render cheaply and keyboard focus stays where it was.
import { $, badge, dash, h, link, modelUrl, promotionUrl, scanCell, slot, time, yesNo } from './dom.js';

let filterText = '';
let rows = new Map();

export function modelsPage(data) {
  const main = $('main');
  let table = main.querySelector('#models-table');
  if (!table) {
    const filter = h('input', {
      type: 'search',
      id: 'filter',
      placeholder: 'Filter models (press /)',
      'aria-label': 'Filter models',
      value: filterText,
      oninput: (e) => {
        filterText = e.target.value.toLowerCase();
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
    rows = new Map();
  }
  const tbody = table.tBodies[0];
  // Rows are kept and rebuilt only when their model changed: 200 models re-render cheaply and
  // keyboard focus stays where it was between polls.
  const seen = new Set();
  let previous = null;
  for (const m of data.models) {
    seen.add(m.name);
    const key = JSON.stringify(m);
    let entry = rows.get(m.name);
    if (!entry || entry.key !== key) {
      const tr = modelRow(m);
      if (entry) entry.tr.replaceWith(tr);
      entry = { key, tr };
      rows.set(m.name, entry);
    }
    const want = previous ? previous.nextSibling : tbody.firstChild;
    if (want !== entry.tr) tbody.insertBefore(entry.tr, want);
    previous = entry.tr;
  }
  for (const [name, entry] of rows) {
    if (!seen.has(name)) {
      entry.tr.remove();
      rows.delete(name);
    }
  }
  $('count').textContent = `${data.models.length} watched`;
  applyFilter();
}

function applyFilter() {
  for (const [name, entry] of rows)
    entry.tr.hidden = filterText !== '' && !name.toLowerCase().includes(filterText);
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
