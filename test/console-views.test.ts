/**
 * Every console view in a real headless Chromium against API answers made
 * up here (the hub's console files served in-process, /v1 answered by the
 * browser's request interception): strings that are markup show as text and
 * never run; a route the hub lacks shows "not available"; a failing one an
 * error; a revoked token returns to sign-in. No database or agent needed.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { serve } from '@hono/node-server';
import type { Browser, Page, Route } from 'playwright-core';
import { consoleRoutes } from '../hub/api/console-routes.js';
import { launchChromium, pageProblems, screenshot } from './support/browser.js';

const HOSTILE = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>`;
const NOW = new Date().toISOString();

/** Answers of a hub whose every string field carries markup. */
const HOSTILE_API: Record<string, unknown> = {
  '/v1/agents': { agents: [{ agentId: HOSTILE, sourceId: HOSTILE, sourceKind: HOSTILE, version: HOSTILE, connected: true, lastSeen: NOW, ackedSequence: 3, spool: { bytes: 1024, limitBytes: 4096, backPressure: false }, sourcePosition: { lagBytes: 10 } }] },
  '/v1/sinks': { sinks: [{ name: HOSTILE }] },
  '/v1/pipelines': {
    pipelines: [{
      name: HOSTILE, agent: HOSTILE, source: HOSTILE, state: 'active', tables: [HOSTILE], connected: true, lagSeconds: 1.5,
      agentTables: { status: HOSTILE }, ingest: { ackedSequence: 1, sourcePosition: HOSTILE },
      sinks: [{ name: HOSTILE, offset: 3, lagBatches: 0, lagSeconds: 0.5, lagBytes: 0, eventsApplied: 42, lastAppliedAt: NOW, failing: true, lastError: HOSTILE }],
    }],
  },
  '/v1/snapshots': { snapshots: [{ source: HOSTILE, table: HOSTILE, state: 'running', rowsDone: 10, rowsEstimate: 100, chunksDone: 1, updatedAt: NOW, error: HOSTILE, etaSeconds: 9 }] },
  '/v1/schemas': { tables: [{ agent: 'edge-1', source: 'shop', schema: 'public', table: HOSTILE, version: 2, versions: 2, changedAt: NOW }] },
  '/v1/alerts': { alerts: [{ id: 'a1', rule: HOSTILE, severity: 'critical', state: 'open', title: HOSTILE, message: HOSTILE, source: HOSTILE, sink: null, table: null, openedAt: NOW }] },
};
const HISTORY = {
  versions: [{ version: 2, sincePosition: HOSTILE, firstSeenAt: NOW, columns: [{ name: HOSTILE, type: HOSTILE, key: true }], key: [HOSTILE], diff: { added: [{ name: HOSTILE, type: HOSTILE }], dropped: [], typeChanged: [], renamed: [], keyChanged: null } }],
};

const DOCTOR = {
  agent: HOSTILE,
  sources: [{ source: HOSTILE, checkedAt: NOW, receivedAt: NOW, status: 'critical', findings: [{ check: HOSTILE, severity: 'critical', message: HOSTILE, fix: HOSTILE }] }],
};

const VIEWS = ['pipelines', 'agents', 'snapshots', 'schemas', 'alerts', 'new-pipeline'] as const;

let browser: Browser;
let server: ReturnType<typeof serve>;
let origin: string;
const shots: string[] = [];

before(async () => {
  browser = await launchChromium();
  const app = consoleRoutes();
  server = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const a = server.address();
  origin = `http://127.0.0.1:${typeof a === 'object' && a !== null ? a.port : 0}`;
});

after(async () => {
  await browser?.close();
  for (const s of shots) console.log(`console screenshot: ${s}`);
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

function json(route: Route, status: number, body: unknown): Promise<void> {
  return route.fulfill({ status, contentType: 'application/json', body: JSON.stringify(body) });
}

/** A signed-in page whose /v1 requests `answer` handles. */
async function consolePage(answer: (path: string, route: Route) => Promise<void>): Promise<{ page: Page; problems: string[]; posts: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = pageProblems(page);
  const posts: string[] = [];
  page.setDefaultTimeout(30_000);
  await page.route(`${origin}/v1/**`, (route) => {
    const url = new URL(route.request().url());
    if (route.request().method() === 'POST') posts.push(url.pathname);
    return answer(url.pathname, route);
  });
  await page.goto(`${origin}/console`);
  await page.getByLabel('API token').fill('some-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return { page, problems, posts };
}

async function noMarkupRan(page: Page): Promise<void> {
  assert.equal(await page.locator('main img, main script').count(), 0, 'a string from the API became an element');
  assert.equal(await page.evaluate('window.__xss'), undefined, 'a string from the API ran as script');
}

test('every view shows strings from the API as text, never as markup', { timeout: 300_000 }, async () => {
  const { page, problems, posts } = await consolePage((path, route) => {
    if (path.startsWith('/v1/schemas/')) return json(route, 200, HISTORY);
    if (path === `/v1/agents/${encodeURIComponent(HOSTILE)}/doctor`) return json(route, 200, DOCTOR);
    if (route.request().method() === 'POST') return json(route, 202, {});
    const body = HOSTILE_API[path];
    return body === undefined ? json(route, 404, { error: { code: 'NOT_FOUND', message: HOSTILE } }) : json(route, 200, body);
  });
  for (const view of VIEWS) {
    await page.goto(`${origin}/console#/${view}`);
    await page.getByTestId(view).waitFor();
    // The page's text holds the markup verbatim: it was shown, not parsed.
    if (view !== 'new-pipeline') await page.getByTestId(view).getByText(HOSTILE).first().waitFor();
    await noMarkupRan(page);
  }
  await page.goto(`${origin}/console#/schemas`);
  await page.getByRole('button', { name: 'History' }).click();
  // (long values are cut to their first characters, still as text)
  await page.getByTestId('schema-history').getByText('+ <img src=x onerror="window.__xss=1">').first().waitFor();
  await noMarkupRan(page);
  await page.goto(`${origin}/console#/agents`);
  await page.getByRole('button', { name: 'Source checks' }).click();
  await page.getByTestId('doctor').getByRole('row', { name: /critical/ }).getByText(HOSTILE).first().waitFor();
  await noMarkupRan(page);
  // Actions put hostile names into the path escaped, as one segment each.
  await page.goto(`${origin}/console#/alerts`);
  await page.getByRole('button', { name: 'Acknowledge', exact: true }).click();
  await page.getByText('alert acknowledged').waitFor();
  await page.goto(`${origin}/console#/pipelines`);
  await page.getByRole('button', { name: 'Pause' }).click();
  await page.getByText(/paused$/).waitFor();
  assert.deepEqual(posts, ['/v1/alerts/a1/ack', `/v1/pipelines/${encodeURIComponent(HOSTILE)}/pause`]);
  shots.push(await screenshot(page, 'hostile-strings'));
  assert.deepEqual(problems, []);
  await page.close();
});

test('views whose route the hub lacks say "not available"; a failing route shows its error', { timeout: 300_000 }, async () => {
  const { page, problems } = await consolePage((path, route) => {
    if (path === '/v1/agents') return json(route, 200, { agents: [] });
    if (path === '/v1/alerts') return json(route, 500, { error: { code: 'INTERNAL', message: 'internal error' } });
    return json(route, 404, { error: { code: 'NOT_FOUND', message: `no route GET ${path}` } });
  });
  for (const [view, title] of [['pipelines', 'Pipelines'], ['snapshots', 'Snapshots'], ['schemas', 'Schema changes']] as const) {
    await page.goto(`${origin}/console#/${view}`);
    await page.getByText(`${title}: not available`).waitFor();
  }
  await page.goto(`${origin}/console#/alerts`);
  await page.getByText('Alerts: the hub answered with an error').waitFor();
  await page.getByText('INTERNAL: internal error').waitFor();
  await page.goto(`${origin}/console#/agents`);
  await page.getByText('No agent has connected yet.').waitFor();
  shots.push(await screenshot(page, 'not-available'));
  assert.deepEqual(problems, []);
  await page.close();
});

test('a token that stops being accepted returns to sign-in and is forgotten', { timeout: 300_000 }, async () => {
  let revoked = false;
  const { page, problems } = await consolePage((path, route) => {
    if (revoked) return json(route, 401, { error: { code: 'UNAUTHENTICATED', message: 'a valid API token is required' } });
    return json(route, 200, HOSTILE_API[path] ?? {});
  });
  await page.getByTestId('pipelines').waitFor();
  revoked = true;
  // The next poll (every 3 s) finds the token refused.
  await page.getByText('The token is no longer accepted: sign in again.').waitFor();
  assert.equal(await page.evaluate('sessionStorage.length'), 0);
  assert.deepEqual(problems, []);
  await page.close();
});
