// One model: serving, canary and actions; KServe revisions; versions newest first with their
// deployments and decisions; promotions; actions taken.
import {
  $,
  badge,
  dash,
  dateFmt,
  digestCell,
  h,
  link,
  promotionUrl,
  scanCell,
  section,
  short,
  slot,
  table,
  time,
  yesNo,
} from './dom.js';
import { act, confirmAction, session } from './session.js';

export function modelPage(data) {
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
