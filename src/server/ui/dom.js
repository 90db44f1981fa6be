// DOM helpers shared by the dashboard's pages: elements built with textContent only (no HTML
// injection), times in the browser's time zone, sizes, digests and badges.

export const $ = (id) => document.getElementById(id);

/** h('a', {href: '/'}, 'text', child...): an element; attributes starting with "on" are listeners. */
export function h(tag, attrs, ...children) {
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

export const link = (href, text, attrs = {}) => h('a', { href, 'data-link': true, ...attrs }, text);
export const modelUrl = (name) => `/models/${encodeURIComponent(name)}`;
export const promotionUrl = (id) => `/promotions/${id}`;
export const short = (digest) => (digest ? digest.replace(/^sha256:/, '').slice(0, 12) : '');
export const dash = (v) => (v === undefined || v === null || v === '' ? '–' : v);

export const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
/** A time in the browser's time zone, machine-readable in datetime and title. */
export function time(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return '–';
  const d = new Date(ms);
  return h('time', { datetime: d.toISOString(), title: d.toISOString() }, dateFmt.format(d));
}

export function bytes(n) {
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

export function seconds(ms) {
  if (ms === undefined || ms === null) return '';
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

export const badge = (word, kind = word) => h('span', { class: `badge b-${kind}` }, word);

export function digestCell(digest, image) {
  if (!digest) return '–';
  return h('code', { title: image ?? digest, class: 'digest' }, short(digest));
}

export function yesNo(v, yes, no) {
  if (v === true) return badge(yes, 'ok');
  if (v === false) return badge(no, 'warn');
  return h('span', { class: 'muted' }, 'unknown');
}

export function scanCell(scan) {
  if (!scan) return h('span', { class: 'muted' }, 'not scanned');
  return h('span', { title: scan.detail }, badge(scan.verdict, scan.verdict === 'passed' ? 'ok' : 'bad'));
}

export function slot(s) {
  if (!s) return h('span', { class: 'muted' }, 'nothing');
  return h('span', {}, s.version ? `v${s.version} ` : 'v? ', digestCell(s.digest, s.image), ` ${s.percent}%`);
}

export function section(title, ...content) {
  return h('section', {}, h('h2', {}, title), ...content);
}

export function table(headers, rows, empty) {
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
