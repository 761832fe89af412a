/**
 * The web console in a real headless Chromium against a real PostgreSQL,
 * hub and agent: sign in with an API token, create a pipeline through the
 * form, and watch the rows the source receives show up as applied events of
 * the pipeline's sink (and in the destination table). Screenshots of every
 * view are saved under .tmp/artifacts/console/.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, pageProblems, screenshot } from './support/browser.js';
import { startPostgres, type PgInstance } from './support/postgres.js';
import { agentProcess, apiFetch, freePort, httpJson, ManagedProcess, TEST_ADMIN_TOKEN, tempDir, waitFor } from './support/pipeline.js';

const ROWS = 600;

let browser: Browser;
let pgi: PgInstance;
let src: pg.Pool;
let dst: pg.Pool;
let hub: ManagedProcess;
let agent: ManagedProcess;
let dir: string;
let httpPort: number;
const shots: string[] = [];

/** A hub with a PostgreSQL sink and no pipeline: the console creates it. */
function consoleHub(grpcPort: number): ManagedProcess {
  const hubDir = join(dir, 'hub');
  mkdirSync(hubDir, { recursive: true });
  const config = {
    hubId: 'console-hub',
    grpc: { listen: `127.0.0.1:${grpcPort}` },
    http: { listen: `127.0.0.1:${httpPort}` },
    log: { kind: 'embedded', path: join(hubDir, 'log') },
    sinks: [{ name: 'warehouse', kind: 'postgres', host: '127.0.0.1', port: pgi.port, database: 'dst', user: 'postgres', schema: 'public' }],
    pipelines: [],
    security: { plaintext: true, adminTokens: [{ workspace: 'default', token: TEST_ADMIN_TOKEN }] },
    // A stopped agent is an alert within seconds (the default waits two minutes).
    alerts: { evaluateSeconds: 1, rules: { agentDisconnected: { seconds: 1 } } },
    logLevel: 'info',
  };
  const path = join(hubDir, 'hub.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return new ManagedProcess('hub', ['hub', '--config', path], join(hubDir, 'hub.log'));
}

before(async () => {
  // First, so a machine without Chromium fails at once and says how to fix it.
  browser = await launchChromium();
  pgi = await startPostgres({ walLevel: 'logical' });
  await pgi.createDatabase('src');
  await pgi.createDatabase('dst');
  src = new pg.Pool({ connectionString: pgi.connectionString('src'), max: 2 });
  dst = new pg.Pool({ connectionString: pgi.connectionString('dst'), max: 2 });
  // An idle pooled connection ended by the server's shutdown is no test failure.
  src.on('error', () => undefined);
  dst.on('error', () => undefined);
  await src.query('CREATE TABLE public.orders (id int PRIMARY KEY, item text NOT NULL, qty int NOT NULL)');
  dir = tempDir('console');
  const grpcPort = await freePort();
  httpPort = await freePort();
  hub = consoleHub(grpcPort);
  agent = agentProcess({ dir: join(dir, 'agent'), hubPort: grpcPort, sourcePort: pgi.port, sourceDatabase: 'src', agentId: 'edge-1', sourceId: 'shop', slot: 'tributary_console' });
  hub.start();
  await waitFor('the hub API', async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok, 60_000, 200);
  agent.start();
  await waitFor(
    'the agent to connect',
    async () => (await httpJson<{ agents: { agentId: string; connected: boolean }[] }>(httpPort, '/v1/agents')).agents.some((a) => a.agentId === 'edge-1' && a.connected),
    90_000,
    250,
  );
});

after(async () => {
  await browser?.close();
  await agent?.stop();
  await hub?.stop();
  agent?.close();
  hub?.close();
  await src?.end();
  await dst?.end();
  await pgi?.stop();
  // The paths are the artifacts of this test: print them for whoever reads the run.
  for (const s of shots) console.log(`console screenshot: ${s}`);
});

async function shot(page: Page, name: string): Promise<void> {
  shots.push(await screenshot(page, name));
}

async function appliedEvents(page: Page): Promise<number> {
  const text = (await page.getByTestId('applied-orders-warehouse').textContent()) ?? '';
  return Number(text.replace(/[^0-9]/g, '') || '0');
}

test('console: sign in, create a pipeline, see its rows arrive, every view renders', { timeout: 600_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  try {
    await clickThrough(page);
  } catch (e) {
    // What the browser showed when it failed: the quickest way to see why.
    await shot(page, 'failure').catch(() => undefined);
    throw e;
  }
});

async function clickThrough(page: Page): Promise<void> {
  const problems = pageProblems(page);
  page.setDefaultTimeout(60_000);
  const response = await page.goto(`http://127.0.0.1:${httpPort}/console`);
  assert.equal(response?.status(), 200);
  assert.match(response?.headers()['content-security-policy'] ?? '', /script-src 'self'/);

  // A wrong token is refused and nothing is kept.
  await page.getByLabel('API token').fill('not-a-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('That token was not accepted.').waitFor();
  assert.equal(await page.evaluate('sessionStorage.length'), 0);
  await shot(page, 'sign-in');

  await page.getByLabel('API token').fill(TEST_ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('pipelines').waitFor();
  await page.getByText('No pipelines yet.').waitFor();

  await page.getByRole('link', { name: 'Agents' }).click();
  const agentsPanel = page.getByTestId('agents');
  await agentsPanel.getByText('edge-1').waitFor();
  await agentsPanel.getByText('connected', { exact: true }).waitFor();
  // The doctor's findings: the agent checks its source as it starts.
  await agentsPanel.getByRole('button', { name: 'Source checks' }).click();
  await page.getByTestId('doctor').getByRole('row', { name: /wal_level/ }).waitFor();
  await shot(page, 'agents');

  // The form: a bad table name comes back from the hub naming the field, shown as text.
  await page.getByRole('link', { name: 'New pipeline', exact: true }).first().click();
  await page.getByTestId('new-pipeline').waitFor();
  await page.getByLabel('Name').fill('orders');
  await page.getByLabel('Agent and source').selectOption({ label: 'edge-1 / shop' });
  await page.getByRole('checkbox', { name: 'warehouse' }).check();
  await page.getByLabel('Tables').fill('<img/src/onerror=alert(1)>');
  await page.getByRole('button', { name: 'Create pipeline' }).click();
  const message = page.getByTestId('form-message');
  await message.getByText('tables[0]', { exact: false }).waitFor();
  assert.match((await message.textContent()) ?? '', /<img\/src\/onerror=alert\(1\)>/);
  assert.equal(await page.locator('main img').count(), 0, 'an API string became markup');
  assert.equal(await page.getByLabel('Tables').getAttribute('aria-invalid'), 'true');

  await page.getByLabel('Tables').fill('public.orders');
  await shot(page, 'new-pipeline');
  await page.getByRole('button', { name: 'Create pipeline' }).click();
  const panel = page.getByTestId('pipeline-orders');
  await panel.waitFor();
  await panel.getByText('public.orders', { exact: false }).waitFor();

  // Rows arrive: written at the source in several transactions, shown as the sink's applied events.
  for (let i = 0; i < ROWS; i += 50) {
    await src.query(`INSERT INTO public.orders SELECT g, 'item ' || g, g % 7 FROM generate_series(${i + 1}, ${i + 50}) g`);
    // Spread over several polls, so the throughput chart has a shape.
    await new Promise((r) => setTimeout(r, 1000));
  }
  await waitFor('the console to show every row applied', async () => (await appliedEvents(page)) >= ROWS, 180_000, 500);
  const landed = await dst.query<{ n: string }>('SELECT count(*) AS n FROM public.orders');
  assert.equal(Number(landed.rows[0]?.n), ROWS);
  assert.equal(await appliedEvents(page), ROWS);
  // The charts have drawn lines from the polls (lag and throughput of the sink).
  await waitFor('a throughput line', async () => ((await page.getByTestId('throughput-chart-orders').locator('path').first().getAttribute('d')) ?? '').includes('L'), 30_000, 500);
  await shot(page, 'pipelines');

  // Views whose API this hub may not serve render a state, never an error.
  // Pause and resume from the pipeline's panel.
  await panel.getByRole('button', { name: 'Pause' }).click();
  await panel.getByText('paused', { exact: true }).waitFor();
  await panel.getByRole('button', { name: 'Resume' }).click();
  await panel.getByText('streaming', { exact: true }).waitFor();

  // Snapshot a table from the console: the request goes to the pipeline's agent as a command,
  // and the agent copies the table beside the stream, reporting progress until done.
  await page.getByRole('link', { name: 'Snapshots' }).click();
  const form = page.getByTestId('snapshot-start');
  await form.getByLabel('Pipeline').selectOption('orders');
  await form.getByLabel('Table').fill('public.orders');
  const requestedAt = Date.now();
  await form.getByRole('button', { name: 'Start snapshot' }).click();
  await page.getByText("snapshot of public.orders requested from pipeline orders's agent").waitFor();
  // This request's run (the pipeline's initial load of the table ran before it), done.
  await waitFor(
    'the requested snapshot to finish',
    async () => {
      const { snapshots } = (await (await apiFetch(httpPort, '/v1/snapshots')).json()) as { snapshots: { table: string; state: string; startedAt: string | null }[] };
      const s = snapshots.find((x) => x.table === 'public.orders');
      return s !== undefined && s.state === 'done' && Date.parse(s.startedAt ?? '') >= requestedAt - 1000;
    },
    120_000,
    500,
  );
  await page.getByTestId('snapshots').getByRole('row', { name: /public\.orders/ }).getByText('done', { exact: true }).waitFor();
  await shot(page, 'snapshots');

  // The table's schema history.
  await page.getByRole('link', { name: 'Schema changes' }).click();
  await page.getByTestId('schemas').getByRole('row', { name: /public\.orders/ }).getByRole('button', { name: 'History' }).click();
  await page.getByTestId('schema-history').getByText(/^\+ qty /).waitFor();
  await shot(page, 'schemas');

  await page.getByRole('link', { name: 'Alerts' }).click();
  await page.getByTestId('alerts').waitFor();
  assert.equal(await page.locator('[data-state="error"], [data-state="unavailable"]').count(), 0, await page.locator('main').textContent() ?? '');

  // A stopped agent raises an alert; acknowledging it from the console changes its state.
  await agent.stop();
  const row = page.getByTestId('alerts').getByRole('row', { name: /Agent edge-1 disconnected/ });
  await row.getByRole('button', { name: 'Acknowledge' }).waitFor({ timeout: 120_000 });
  // Open alerts are counted beside the Alerts link, whatever the page.
  await page.getByTestId('open-alerts').waitFor();
  await row.getByRole('button', { name: 'Acknowledge' }).click();
  await row.getByText('acknowledged', { exact: true }).waitFor();
  await page.getByRole('group', { name: 'Show alerts' }).getByRole('button', { name: 'Acknowledged', exact: true }).click();
  await page.getByTestId('alerts').getByRole('row', { name: /Agent edge-1 disconnected/ }).waitFor();
  const feed = (await (await apiFetch(httpPort, '/v1/alerts')).json()) as { alerts: { rule: string; state: string }[] };
  assert.equal(feed.alerts.find((a) => a.rule === 'agentDisconnected')?.state, 'acknowledged');
  await shot(page, 'alerts');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByTestId('sign-in').waitFor();
  assert.equal(await page.evaluate('sessionStorage.length'), 0);
  assert.deepEqual(problems, []);
}
