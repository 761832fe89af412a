// @ts-check
/**
 * Building DOM nodes without markup: every string becomes a text node or an
 * attribute value, never HTML, so data from the API cannot turn into markup
 * or script (the console never parses a string as HTML).
 */

/** @typedef {Node | string | number | null | undefined | false} Child */
/** @typedef {Record<string, string | number | boolean | null | undefined | ((e: Event) => void)>} Attrs */

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * @param {Element} node
 * @param {Attrs} attrs
 */
function setAttrs(node, attrs) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') {
      if (!name.startsWith('on')) throw new Error(`handler ${name} must start with "on"`);
      node.addEventListener(name.slice(2), value);
    } else if (name === 'style' || name.startsWith('on')) {
      // Inline styles and handler strings are what the Content-Security-Policy forbids.
      throw new Error(`attribute ${name} is not allowed`);
    } else {
      node.setAttribute(name, value === true ? '' : String(value));
    }
  }
}

/**
 * @param {Node} parent
 * @param {Child[]} children
 */
function append(parent, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/**
 * An HTML element: `h('td', { class: 'num' }, value)`.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs} [attrs]
 * @param {Child[]} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

/**
 * An SVG element.
 * @param {string} tag
 * @param {Attrs} [attrs]
 * @param {Child[]} children
 * @returns {SVGElement}
 */
export function s(tag, attrs = {}, ...children) {
  const node = /** @type {SVGElement} */ (document.createElementNS(SVG_NS, tag));
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

/**
 * Replaces a node's children.
 * @param {Node} parent
 * @param {Child[]} children
 */
export function replace(parent, ...children) {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, children);
}

/**
 * A coloured badge: `badge('critical', 'failing')`.
 * @param {string} kind
 * @param {string} text
 */
export function badge(kind, text) {
  return h('span', { class: `badge ${kind}` }, text);
}

/**
 * A panel that says a feature is not served by this hub (its API route is absent).
 * @param {string} what
 * @param {string} route
 */
export function unavailable(what, route) {
  return h('div', { class: 'panel unavailable', 'data-state': 'unavailable' }, h('h2', {}, `${what}: not available`), h('p', {}, `This hub does not serve ${route} yet.`));
}

/**
 * A table from column headers and rows of cells.
 * @param {string[]} headers
 * @param {Child[][]} rows
 * @param {(string | null)[]} [classes] class per column (e.g. "num")
 */
export function table(headers, rows, classes = []) {
  return h(
    'table',
    {},
    h('thead', {}, h('tr', {}, ...headers.map((t, i) => h('th', { class: classes[i] ?? null }, t)))),
    h('tbody', {}, ...rows.map((cells) => h('tr', {}, ...cells.map((c, i) => h('td', { class: classes[i] ?? null }, c))))),
  );
}
