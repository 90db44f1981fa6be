// Acting from the page: is it possible, as whom (a named token kept in this tab), and the
// confirmation and token dialogs every action goes through.
import { $, h, short } from './dom.js';

const TOKEN_KEY = 'kiln.dashboard.token';
let rerender = () => {};
/** What to run after the session or the data changed (app.js renders the page again). */
export function onChange(fn) {
  rerender = fn;
}

export const session = { mode: 'disabled', who: null };

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export async function loadSession() {
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
  rerender();
}

/** Resolves true once a valid token is stored. */
export function askToken() {
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
      rerender();
    };
    dialog.showModal();
    input.focus();
  });
}

/** A modal confirmation, optionally with a reason; resolves {ok, reason}. */
export function confirmAction(title, text, withReason) {
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
export async function act(path, body, what) {
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
  rerender();
}
