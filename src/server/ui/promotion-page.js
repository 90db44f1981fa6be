// One promotion: trigger and times, the error with its hint (and Retry), stages with durations,
// sizes and a timeline, and the log.
import { $, badge, bytes, dash, h, link, modelUrl, seconds, section, table, time } from './dom.js';
import { act, confirmAction, session } from './session.js';

const STAGES = ['resolve', 'download', 'bake', 'push', 'sign', 'deploy'];

export function promotionPage(data) {
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
