/**
 * The agent and hub images, run as `docker run` would run them (their own
 * ENTRYPOINT, CMD, user, environment, volume and HEALTHCHECK command) with
 * buildah instead of a Docker engine, against a private PostgreSQL on the
 * host, with the production security setup of the example configurations:
 * the hub generates its CA in its volume and serves mutual TLS, the agent is
 * registered and gets a one-time enrollment token through the API (admin
 * token from the hub's environment) and enrolls on first start, keeping its
 * credentials in its volume. Rows arrive, both report healthy, SIGTERM stops
 * both cleanly with the source position confirmed, and a new agent container
 * on the same volume reconnects with its stored certificate (the token spent)
 * and resumes from the spool. Prints the agent's start-up time and idle memory.
 *
 * Needs the images: `npm run test:image` builds them first (scripts/image/build.sh).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { tableText } from '../support/e2e.js';
import { freePort, tempDir, waitFor } from '../support/pipeline.js';
import { startPostgres, type PgInstance } from '../support/postgres.js';
import { Container, imageConfig, type ImageConfig, type RunOptions, type Running } from './buildah.js';

const AGENT_IMAGE = process.env['TRIBUTARY_AGENT_IMAGE'] ?? 'localhost/tributary-agent:dev';
const HUB_IMAGE = process.env['TRIBUTARY_HUB_IMAGE'] ?? 'localhost/tributary-hub:dev';
const STATE = '/var/lib/tributary';
const AGENT_EXAMPLE = resolve(import.meta.dirname, '../../scripts/image/agent.example.json');
const HUB_EXAMPLE = resolve(import.meta.dirname, '../../scripts/image/hub.example.json');
const COLUMNS = ['id', 'customer', 'amount', 'placed_at'];

const command = (c: ImageConfig): string[] => [...c.Entrypoint, ...(c.Cmd ?? [])];
const healthCommand = (c: ImageConfig): string[] => {
  const t = c.Healthcheck?.Test ?? [];
  assert.equal(t[0], 'CMD', 'HEALTHCHECK in exec form');
  return t.slice(1);
};

/** A host directory the image's user (uid/gid 1000, `node`) can write, as a volume. */
function volume(path: string): string {
  mkdirSync(path, { recursive: true });
  chownSync(path, 1000, 1000);
  return path;
}

/** Polls `probe` like waitFor, but fails at once, with its log, if the process exits. */
async function whileRunning(r: Running, what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    what,
    async () => {
      if (r.hasExited) return 'exited';
      return (await probe()) ? 'ok' : false;
    },
    timeoutMs,
    50,
  ).then((state) => {
    if (state === 'exited') throw new Error(`exited while waiting for ${what}:\n${r.log}`);
  });
}

async function insertOrders(src: pg.Pool, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i += 100) {
    await src.query(
      `INSERT INTO orders SELECT g, 'customer ' || g, g * 1.25, timestamptz '2026-01-01' + g * interval '1 minute' FROM generate_series($1::int, $2::int) g`,
      [i, Math.min(i + 99, from + count - 1)],
    );
  }
}

async function sameRows(src: pg.Pool, dst: pg.Pool, what: string): Promise<void> {
  let last = '';
  await waitFor(
    what,
    async () => {
      const [a, b] = await Promise.all([tableText(src, 'orders', COLUMNS), tableText(dst, 'orders', COLUMNS).catch(() => [])]);
      last = `source ${a.length} rows, destination ${b.length} rows`;
      return JSON.stringify(a) === JSON.stringify(b);
    },
    120_000,
    250,
  ).catch((e: unknown) => {
    throw new Error(`${String(e)} (${last})`);
  });
}

async function confirmedFlush(src: pg.Pool, slot: string): Promise<string> {
  const r = await src.query<{ lsn: string | null }>('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  return r.rows[0]?.lsn ?? 'none';
}

/** Inserts one row and returns a WAL position inside its transaction, so before its commit. */
async function markedChange(src: pg.Pool): Promise<string> {
  const c = await src.connect();
  try {
    await c.query('BEGIN');
    await c.query("INSERT INTO orders VALUES (100000, 'last', 0, now())");
    const r = await c.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
    await c.query('COMMIT');
    return r.rows[0]?.lsn ?? '0/0';
  } finally {
    c.release();
  }
}

const lsnValue = (text: string): bigint => {
  const [hi = '0', lo = '0'] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
};

interface Site {
  readonly dir: string;
  readonly pgi: PgInstance;
  readonly src: pg.Pool;
  readonly dst: pg.Pool;
  readonly httpPort: number;
  /** The hub's bootstrap admin token (`TRIBUTARY_ADMIN_TOKEN`), for the API. */
  readonly adminToken: string;
  readonly hubRun: RunOptions;
  readonly agentRun: RunOptions;
}

/** A private PostgreSQL with the source and destination databases, and both containers' configuration. */
async function site(dir: string, pgi: PgInstance): Promise<Site> {
  await pgi.createDatabase('shop');
  await pgi.createDatabase('warehouse');
  const src = new pg.Pool({ connectionString: pgi.connectionString('shop'), max: 2 });
  const dst = new pg.Pool({ connectionString: pgi.connectionString('warehouse'), max: 2 });
  src.on('error', () => undefined); // an idle connection's error at shutdown; queries report their own
  dst.on('error', () => undefined);
  await src.query('CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL, amount numeric(12,2), placed_at timestamptz)');
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  // The README's hub example with this test's ports and database (the host network is shared).
  const hubExample = JSON.parse(readFileSync(HUB_EXAMPLE, 'utf8')) as { sinks: Record<string, unknown>[] };
  const hub = {
    ...hubExample,
    grpc: { listen: `127.0.0.1:${grpcPort}` },
    http: { listen: `127.0.0.1:${httpPort}` },
    sinks: [{ ...hubExample.sinks[0], host: '127.0.0.1', port: pgi.port, user: 'postgres' }],
  };
  writeFileSync(join(dir, 'hub.json'), JSON.stringify(hub));
  // The test cluster trusts local connections, so the passwords only prove the {"env"} path.
  const adminToken = randomBytes(32).toString('hex');
  const hubRun: RunOptions = {
    mounts: [[volume(join(dir, 'hub-state')), STATE], [join(dir, 'hub.json'), '/etc/tributary/hub.json', 'ro']],
    env: { DW_PASSWORD: 'unused-with-trust-auth', TRIBUTARY_ADMIN_TOKEN: adminToken, TRIBUTARY_HEALTH_URL: `http://127.0.0.1:${httpPort}/healthz` },
  };
  // The README's agent example file as it is, everything site-specific from the environment
  // (the enrollment token is added once the hub has issued it).
  const agentRun: RunOptions = {
    mounts: [[volume(join(dir, 'agent-state')), STATE], [AGENT_EXAMPLE, '/etc/tributary/agent.json', 'ro']],
    env: {
      TRIBUTARY_AGENT_ID: 'agent-1',
      TRIBUTARY_HUB_ADDRESS: `127.0.0.1:${grpcPort}`,
      SOURCE_HOST: '127.0.0.1',
      SOURCE_PORT: String(pgi.port),
      SOURCE_DATABASE: 'shop',
      SOURCE_USER: 'postgres',
      SOURCE_PASSWORD: 'unused-with-trust-auth',
    },
  };
  return { dir, pgi, src, dst, httpPort, adminToken, hubRun, agentRun };
}

/** Containers started by the test, all removed at the end whatever happens. */
class Launcher {
  private readonly containers: Container[] = [];
  private readonly running: Running[] = [];

  launch(image: string, run: RunOptions, log: string): { container: Container; process: Running } {
    const container = Container.create(image);
    this.containers.push(container);
    const process = container.start(command(imageConfig(image)), run, log);
    this.running.push(process);
    return { container, process };
  }

  async close(): Promise<void> {
    for (const r of this.running) r.kill();
    await Promise.all(this.running.map((r) => r.exited));
    for (const c of this.containers) c.remove();
  }
}

const SLOT = 'tributary_shop'; // as in the example configuration
const AGENT_ID = 'agent-1'; // the agent of the example hub configuration's pipeline

/** An admin request to the hub's API, as an operator makes it with curl. */
async function adminPost(s: Site, path: string, body?: unknown): Promise<unknown> {
  const r = await fetch(`http://127.0.0.1:${s.httpPort}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${s.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  assert.equal(r.status, 201, `POST ${path}: ${r.status} ${text}`);
  return JSON.parse(text) as unknown;
}

/** Registers the agent and returns the agent's run options with a one-time enrollment token. */
async function enrollmentRun(s: Site): Promise<RunOptions> {
  await adminPost(s, '/v1/agents', { id: AGENT_ID });
  const { token } = (await adminPost(s, `/v1/agents/${AGENT_ID}/enrollment-tokens`)) as { token: string };
  assert.match(token, /^tre1\./, 'an enrollment token');
  return { ...s.agentRun, env: { ...s.agentRun.env, TRIBUTARY_ENROLLMENT_TOKEN: token } };
}

/** A file's permission bits and owner, as the images' user left them in a volume. */
function fileMode(path: string): { mode: number; uid: number } {
  const st = statSync(path);
  return { mode: st.mode & 0o777, uid: st.uid };
}
const mb = (kb: string | undefined): string => `${(Number.parseInt(kb ?? '', 10) / 1024).toFixed(1)} MB`;

/** Starts the agent container and waits until it streams; returns its start-up times. */
async function startAgent(s: Site, run: RunOptions, launcher: Launcher, log: string): Promise<{ container: Container; agent: Running; started: number; streaming: number }> {
  const { container, process: agent } = launcher.launch(AGENT_IMAGE, run, join(s.dir, log));
  await whileRunning(agent, 'the agent log to say it started', () => agent.log.includes('"agent starting"'));
  const started = performance.now() - agent.spawnedAt;
  await whileRunning(agent, 'the agent to stream from its slot', async () => {
    const r = await s.src.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [SLOT]);
    return r.rows[0]?.active === true;
  });
  const streaming = performance.now() - agent.spawnedAt;
  await whileRunning(agent, 'the agent to connect to the hub', () => agent.log.includes('"connected to hub"'));
  return { container, agent, started, streaming };
}

test('the images carry changes PostgreSQL → hub → PostgreSQL, report health and stop cleanly on SIGTERM', async (t) => {
  const [agentConfig, hubConfig] = [imageConfig(AGENT_IMAGE), imageConfig(HUB_IMAGE)];
  const dir = tempDir('image');
  chmodSync(dir, 0o755); // the images' user reaches its mounted files and volumes through it
  const launcher = new Launcher();
  const pgi = await startPostgres({ walLevel: 'logical' });
  let s: Site | undefined;
  try {
    s = await site(dir, pgi);
    const { container: hubC, process: hub } = launcher.launch(HUB_IMAGE, s.hubRun, join(dir, 'hub.log'));
    await whileRunning(hub, 'the hub to answer /healthz', async () => (await fetch(`http://127.0.0.1:${s?.httpPort}/healthz`).catch(() => undefined))?.ok === true);
    const hubHealth = hubC.run(healthCommand(hubConfig), s.hubRun);
    assert.equal(hubHealth.status, 0, `hub HEALTHCHECK: ${hubHealth.output}`);
    // Mutual TLS by default: a CA generated on first start, kept in the hub's volume.
    assert.match(hub.log, /"gRPC listener uses mutual TLS"/);
    assert.doesNotMatch(hub.log, /PLAINTEXT/);
    assert.deepEqual(fileMode(join(dir, 'hub-state', 'hub-security', 'ca.key')), { mode: 0o600, uid: 1000 }, 'the CA key in the volume, 0600, owned by the image user');
    const unauthenticated = await fetch(`http://127.0.0.1:${s.httpPort}/v1/agents`);
    assert.equal(unauthenticated.status, 401, 'the API refuses a request without a token');
    const consolePage = await fetch(`http://127.0.0.1:${s.httpPort}/console/js/main.js`);
    assert.equal(consolePage.status, 200, 'the image serves the console');

    const agentRun = await enrollmentRun(s);
    const { container: agentC, agent, started, streaming } = await startAgent(s, agentRun, launcher, 'agent.log');
    assert.match(agent.log, /"enrolled with the hub"/);
    assert.deepEqual(fileMode(join(dir, 'agent-state', 'credentials', 'agent.key')), { mode: 0o600, uid: 1000 }, 'the agent key in the volume, 0600, owned by the image user');
    assert.match(agent.nodeStatus()['Uid'] ?? '', /^1000\s/, 'the agent runs as uid 1000, not root');
    assert.match(hub.nodeStatus()['Uid'] ?? '', /^1000\s/, 'the hub runs as uid 1000, not root');
    await insertOrders(s.src, 1, 2000);
    await s.src.query('UPDATE orders SET amount = amount + 1 WHERE id % 10 = 0');
    await s.src.query('DELETE FROM orders WHERE id % 50 = 0');
    await sameRows(s.src, s.dst, 'the destination to equal the source');
    const agentHealth = agentC.run(healthCommand(agentConfig), agentRun);
    assert.equal(agentHealth.status, 0, `agent HEALTHCHECK: ${agentHealth.output}`);
    assert.match(agentHealth.output, /healthy: status refreshed/);
    await new Promise((r) => setTimeout(r, 5000)); // idle
    const idle = agent.nodeStatus();

    // SIGTERM while changes are in flight: a clean exit, the position confirmed for what is spooled.
    await insertOrders(s.src, 3001, 1000);
    assert.equal(await agent.stop(), 0, `the agent exits 0 on SIGTERM:\n${agent.log}`);
    assert.match(agent.log, /"agent stopped"/);
    assert.notEqual(await confirmedFlush(s.src, SLOT), 'none');
    const stoppedHealth = agentC.run(healthCommand(agentConfig), agentRun);
    assert.equal(stoppedHealth.status, 1, `agent HEALTHCHECK after stop: ${stoppedHealth.output}`);
    assert.match(stoppedHealth.output, /agent stopped/);

    // Changes while no agent runs; then a new container on the same volume (docker rm + docker run
    // with the same line, so the spent token is still in its environment): it authenticates with
    // the certificate stored in the volume and does not enroll again.
    await insertOrders(s.src, 5001, 500);
    const lastChange = await markedChange(s.src);
    const { agent: agent2 } = await startAgent(s, agentRun, launcher, 'agent2.log');
    assert.match(agent2.log, /"using TLS client certificate"/);
    assert.doesNotMatch(agent2.log, /"enrolled with the hub"/, 'the replaced container reuses its stored credentials');
    await sameRows(s.src, s.dst, 'the destination to catch up after the agent container was replaced');
    assert.equal(await agent2.stop(), 0, `the second agent exits 0 on SIGTERM:\n${agent2.log}`);
    const confirmed = await confirmedFlush(s.src, SLOT);
    assert.ok(lsnValue(confirmed) > lsnValue(lastChange), `confirmed ${confirmed}, past the last change at ${lastChange}`);
    assert.equal(await hub.stop(), 0, `the hub exits 0 on SIGTERM:\n${hub.log}`);
    assert.match(hub.log, /"hub stopped"/);

    t.diagnostic(`agent start-up in the image: "agent starting" logged ${started.toFixed(0)} ms, streaming from its slot ${streaming.toFixed(0)} ms after \`buildah run\``);
    t.diagnostic(`agent idle RSS in the image: ${mb(idle['VmRSS'])} (anonymous ${mb(idle['RssAnon'])}, file ${mb(idle['RssFile'])}); high-water ${mb(idle['VmHWM'])}`);
  } finally {
    await launcher.close();
    await s?.src.end();
    await s?.dst.end();
    await pgi.stop();
  }
});
