// @ts-check
/**
 * What every view receives: the API result of its route classified into
 * "render the data", "this hub has no such route" and "an error to show".
 */
import { h, unavailable } from '../dom.js';

/**
 * @typedef {object} ViewContext
 * @property {number} now           time of this render (ms)
 * @property {(hash: string) => void} navigate
 * @property {() => void} refresh     render the current view again now
 * @property {(message: string, kind?: 'info' | 'error') => void} flash
 */

/**
 * @typedef {object} View
 * @property {string} title
 * @property {boolean} live          re-rendered on every poll
 * @property {(ctx: ViewContext) => Promise<Node>} render
 */

/**
 * @param {import('../api.js').ApiFail} fail
 * @param {string} what
 * @param {string} route
 * @returns {Node}
 */
export function failed(fail, what, route) {
  if (fail.unavailable) return unavailable(what, route);
  return h('div', { class: 'panel error', 'data-state': 'error' }, h('h2', {}, `${what}: the hub answered with an error`), h('p', {}, `${fail.code}: ${fail.message}`));
}

/**
 * A button that runs an API action, disables itself meanwhile, then reports and refreshes.
 * @param {string} label
 * @param {() => Promise<import('../api.js').ApiResult>} action
 * @param {ViewContext} ctx
 * @param {string} done message after success
 * @param {Record<string, string>} [attrs]
 */
export function actionButton(label, action, ctx, done, attrs = {}) {
  const button = h('button', {
    type: 'button',
    ...attrs,
    onclick: () => {
      button.disabled = true;
      void action().then((r) => {
        if (r.ok) ctx.flash(done);
        else ctx.flash(`${label} failed: ${r.code}: ${r.message}`, 'error');
        ctx.refresh();
      });
    },
  }, label);
  return button;
}
