// @ts-check
/**
 * The console's shell: sign-in with an API token, hash routes to the views,
 * and a poll that re-renders live views every few seconds.
 */
import { call, forgetToken, get, listOf, storedToken, storeToken } from './api.js';
import { h, replace } from './dom.js';
import { agentsView } from './views/agents.js';
import { alertsView } from './views/alerts.js';
import { newPipelineView } from './views/new-pipeline.js';
import { pipelinesView } from './views/pipelines.js';
import { schemasView } from './views/schemas.js';
import { snapshotsView } from './views/snapshots.js';

const POLL_MS = 3000;

/** @type {Record<string, import('./views/context.js').View>} */
const VIEWS = {
  pipelines: pipelinesView,
  agents: agentsView,
  snapshots: snapshotsView,
  schemas: schemasView,
  alerts: alertsView,
  'new-pipeline': newPipelineView,
};

/** @param {string} id */
function byId(id) {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el;
}

const main = byId('main');
const nav = byId('nav');
const who = byId('who');
const signOut = /** @type {HTMLButtonElement} */ (byId('sign-out'));
const status = byId('status');

/** Increases on every render; a slow answer for an older render is dropped. */
let generation = 0;
let timer = /** @type {ReturnType<typeof setTimeout> | undefined} */ (undefined);

/**
 * @param {string} message
 * @param {'info' | 'error'} [kind]
 */
function flash(message, kind = 'info') {
  status.textContent = message;
  status.className = kind === 'error' ? 'error' : 'muted';
  // A message belongs to the moment: it goes after a while unless a newer one replaced it.
  setTimeout(() => {
    if (status.textContent === message) status.textContent = '';
  }, 10_000);
}

function currentView() {
  const name = location.hash.replace(/^#\/?/, '') || 'pipelines';
  return { name, view: VIEWS[name] };
}

/** @param {string} [message] */
function showSignIn(message) {
  clearTimeout(timer);
  generation++;
  nav.hidden = true;
  signOut.hidden = true;
  who.textContent = '';
  const token = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', required: true, 'aria-describedby': 'token-hint' });
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'sign-in-error' }, message ?? '');
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', {
    class: 'stack',
    onsubmit: (e) => {
      e.preventDefault();
      const value = token.value.trim();
      if (value === '') {
        error.textContent = 'Enter an API token.';
        return;
      }
      button.disabled = true;
      // The token is checked with a read every token may do before it is kept.
      void call('GET', '/v1/agents', undefined, value).then((r) => {
        button.disabled = false;
        if (r.ok) {
          storeToken(value);
          void render();
        } else {
          error.textContent = r.status === 401 ? 'That token was not accepted.' : `The hub answered ${r.code}: ${r.message}`;
        }
      });
    },
  },
  h('div', { class: 'field' }, h('label', { for: 'token' }, 'API token'), token,
    h('span', { class: 'hint', id: 'token-hint' }, 'Kept in this browser tab only (sessionStorage) and sent as a bearer token.')),
  button,
  error);
  replace(main, h('div', { class: 'panel sign-in', 'data-testid': 'sign-in' }, h('h1', {}, 'Sign in'), form));
  token.focus();
}

async function render() {
  clearTimeout(timer);
  if (storedToken() === null) {
    showSignIn();
    return;
  }
  const mine = ++generation;
  const { name, view } = currentView();
  nav.hidden = false;
  signOut.hidden = false;
  who.textContent = 'signed in';
  for (const a of nav.querySelectorAll('a')) a.classList.toggle('active', a.dataset.view === name);
  if (view === undefined) {
    replace(main, h('div', { class: 'panel' }, h('h1', {}, 'Not found'), h('p', {}, 'There is no such page in the console.')));
    return;
  }
  document.title = `${view.title} · Tributary`;
  /** @type {Node} */
  let content;
  try {
    content = await view.render({
      now: Date.now(),
      navigate: (hash) => {
        location.hash = hash;
      },
      refresh: () => void render(),
      flash,
    });
  } catch (e) {
    content = h('div', { class: 'panel error' }, h('h2', {}, `${view.title}: the console failed to show this page`), h('code', {}, String(e)));
  }
  if (mine !== generation) return;
  // A token revoked meanwhile: every call now answers 401.
  if (content instanceof HTMLElement && content.dataset.state === 'error') {
    const check = await get('/v1/agents');
    if (!check.ok && check.status === 401) {
      forgetToken();
      showSignIn('The token is no longer accepted: sign in again.');
      return;
    }
  }
  if (mine !== generation) return;
  replace(main, content);
  void countOpenAlerts(mine);
  if (view.live) timer = setTimeout(poll, POLL_MS);
}

/**
 * Open alerts counted beside the Alerts link on every render, so a problem shows on any page.
 * @param {number} mine the render it belongs to
 */
async function countOpenAlerts(mine) {
  const link = nav.querySelector('a[data-view="alerts"]');
  const r = await get('/v1/alerts?state=open');
  if (link === null || mine !== generation) return;
  const n = r.ok ? listOf(r.data, 'alerts').length : 0;
  replace(link, 'Alerts', n > 0 ? h('span', { class: 'badge critical count', 'data-testid': 'open-alerts' }, String(n)) : null);
}

/** The next poll of a live view; not while someone types into one of its fields, nor in a hidden tab. */
function poll() {
  const active = document.activeElement;
  const typing = active !== null && main.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
  if (typing || document.hidden) {
    timer = setTimeout(poll, POLL_MS);
    return;
  }
  void render();
}

signOut.addEventListener('click', () => {
  forgetToken();
  showSignIn('Signed out.');
});
window.addEventListener('hashchange', () => void render());
void render();
