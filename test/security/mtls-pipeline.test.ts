/**
 * The real processes over real mutual TLS: an agent enrolled through the
 * API streams a PostgreSQL source to a PostgreSQL destination while its
 * certificate rotates several times, with no row lost; hostile table and
 * column names arrive intact and harm nothing; a revoked agent is cut off
 * and refused on restart; the source password is nowhere in the hub's
 * storage or logs, nor in what the agent sends (checked on a plaintext
 * connection, where a recording proxy sees every byte).
 */
import assert from 'node:assert/strict';
import { createServer, connect, type Server } from 'node:net';
import { readdirSync, readFileSync, statSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startPostgres, type PgInstance } from '../support/postgres.js';
import { agentProcess, apiFetch, freePort, hubProcess, tempDir, TEST_ADMIN_TOKEN, waitFor, type ManagedProcess } from '../support/pipeline.js';

const PASSWORD = 'Src-Pa55word-3f9c2a71e4d8b6';
const USER = 'tributary_src';
const SPOOL_MARKER = 'row-marker-spool-at-rest-5e2b';
const HOSTILE_TABLE = 'we"ird; DROP TABLE public.orders;--';
const HOSTILE_COLUMNS = ['col"quote', 'sp ace', 'ünïcødé', 'select'];
const q = (id: string): string => `"${id.replace(/"/g, '""')}"`;

/** A source role that must authenticate with its password (SCRAM), so the agent really uses it. */
async function passwordRole(pgi: PgInstance, admin: pg.Pool): Promise<void> {
  await admin.query(`CREATE ROLE ${USER} LOGIN SUPERUSER REPLICATION PASSWORD '${PASSWORD}'`);
  const hba = join(pgi.dataDir, 'pg_hba.conf');
  const rest = readFileSync(hba, 'utf8');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(hba, `host all ${USER} 127.0.0.1/32 scram-sha-256\nhost replication ${USER} 127.0.0.1/32 scram-sha-256\n${rest}`);
  await admin.query('SELECT pg_reload_conf()');
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

async function count(pool: pg.Pool, table: string): Promise<number> {
  const r = await pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`).catch(() => ({ rows: [{ n: '-1' }] }));
  return Number(r.rows[0]?.n ?? -1);
}

describe('agent and hub over mutual TLS', () => {
  let pgi: PgInstance;
  let src: pg.Pool;
  let dst: pg.Pool;
  const procs: ManagedProcess[] = [];

  before(async () => {
    pgi = await startPostgres({ walLevel: 'logical' });
    await pgi.createDatabase('src');
    await pgi.createDatabase('dst');
    await pgi.createDatabase('src2');
    src = new pg.Pool({ connectionString: pgi.connectionString('src'), max: 2 });
    dst = new pg.Pool({ connectionString: pgi.connectionString('dst'), max: 2 });
    src.on('error', () => undefined);
    dst.on('error', () => undefined);
    await passwordRole(pgi, src);
  });

  after(async () => {
    for (const p of procs) {
      await p.stop();
      p.close();
    }
    await src.end();
    await dst.end();
    await pgi.stop();
  });

  it('enrolls, streams through certificate rotations without loss, then is revoked and refused', async () => {
    const dir = tempDir('security-mtls');
    const grpcPort = await freePort();
    const httpPort = await freePort();
    const hubDir = join(dir, 'hub');
    const hub = hubProcess({
      dir: hubDir, grpcPort, httpPort, sinkPort: pgi.port, sinkDatabase: 'dst', agentId: 'agent-1', sourceId: 'src',
      security: { path: join(hubDir, 'security'), certificateTtlSeconds: 12, adminTokens: [{ workspace: 'default', token: TEST_ADMIN_TOKEN }] },
    });
    procs.push(hub);
    hub.start();
    await waitFor('hub API', async () => (await apiFetch(httpPort, '/v1/agents')).ok, 60_000);
    const post = (path: string, body?: unknown) => apiFetch(httpPort, path, { method: 'POST', ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
    assert.equal((await post('/v1/agents', { id: 'agent-1' })).status, 201);
    const { token } = (await (await post('/v1/agents/agent-1/enrollment-tokens')).json()) as { token: string };

    await src.query(`CREATE TABLE public.orders (id bigint PRIMARY KEY, note text)`);
    await src.query(`CREATE TABLE public.${q(HOSTILE_TABLE)} (id int PRIMARY KEY, ${HOSTILE_COLUMNS.map((c) => `${q(c)} text`).join(', ')})`);
    const agent = agentProcess({
      dir: join(dir, 'agent'), hubPort: grpcPort, sourcePort: pgi.port, sourceDatabase: 'src', agentId: 'agent-1', sourceId: 'src', slot: 'tributary_mtls',
      hub: { credentials: join(dir, 'agent', 'credentials'), enrollmentToken: { env: 'TRIBUTARY_ENROLLMENT_TOKEN' } },
      source: { user: USER, password: { env: 'SRC_PASSWORD' } },
      spool: { encryptionKey: { env: 'SPOOL_KEY' } },
      env: { TRIBUTARY_ENROLLMENT_TOKEN: token, SRC_PASSWORD: PASSWORD, SPOOL_KEY: 'c0ffee'.repeat(10) + 'beef' },
    });
    procs.push(agent);
    agent.start();
    await waitFor('the agent to stream', async () => (await src.query<{ active: boolean }>("SELECT active FROM pg_replication_slots WHERE slot_name = 'tributary_mtls'")).rows[0]?.active === true, 90_000);

    // Rows keep arriving for longer than two certificate lifetimes' renewal points (at 8 s, 16 s, ...).
    const started = Date.now();
    let id = 0;
    while (Date.now() - started < 20_000) {
      await src.query('INSERT INTO public.orders SELECT g, $2 FROM generate_series($1::bigint + 1, $1::bigint + 20) g', [id, SPOOL_MARKER]);
      id += 20;
      await new Promise((r) => setTimeout(r, 100));
    }
    await src.query(`INSERT INTO public.${q(HOSTILE_TABLE)} VALUES (1, 'a', 'b', 'c', 'd'), (2, '"; DROP TABLE x;--', NULL, 'ü', 'from')`);
    await waitFor(`all ${id} rows at the destination`, async () => (await count(dst, 'public.orders')) === id, 120_000, 250);
    const hostile = await waitFor('the hostile table at the destination', async () => {
      const r = await dst.query(`SELECT id, ${HOSTILE_COLUMNS.map(q).join(', ')} FROM public.${q(HOSTILE_TABLE)} ORDER BY id`).catch(() => null);
      return r !== null && r.rows.length === 2 ? r.rows : undefined;
    }, 60_000);
    assert.deepEqual(hostile[1], { id: 2, 'col"quote': '"; DROP TABLE x;--', 'sp ace': null, 'ünïcødé': 'ü', select: 'from' });
    assert.equal(await count(dst, 'public.orders'), id, 'the destination orders table survived the hostile name');

    const agentLog = readFileSync(agent.logPath, 'utf8');
    const renewals = agentLog.split('\n').filter((l) => l.includes('client certificate renewed')).length;
    assert.ok(renewals >= 2, `certificate renewed ${renewals} times:\n${agentLog.slice(-3000)}`);
    assert.match(agentLog, /enrolled with the hub/);

    // Revoke: the connected agent is cut off, exits (an operator must act), and is refused again on restart.
    assert.equal((await post('/v1/agents/agent-1/revoke')).status, 200);
    await waitFor('the revoked agent to exit', () => !agent.running, 60_000);
    assert.match(readFileSync(agent.logPath, 'utf8'), /REVOKED/);
    agent.start();
    await waitFor('the restarted revoked agent to exit', () => !agent.running, 60_000);
    assert.equal(agent.exits, 2);
    assert.equal(readFileSync(agent.logPath, 'utf8').split('\n').filter((l) => l.includes('REVOKED')).length >= 2, true);

    // The spool was encrypted at rest: none of the rows it carried is readable in its files.
    const spoolFiles = filesUnder(join(dir, 'agent', 'spool'));
    assert.ok(spoolFiles.length > 0);
    assert.deepEqual(spoolFiles.filter((f) => readFileSync(f).includes(SPOOL_MARKER)), [], 'plaintext rows in the encrypted spool');
    assert.equal(await count(dst, `public.orders WHERE note = '${SPOOL_MARKER}'`), id, 'the marker is the value every row carried');
    await hub.stop();
    const leaks = filesUnder(hubDir).filter((f) => readFileSync(f).includes(PASSWORD));
    assert.deepEqual(leaks, [], 'the source password is in hub files');
    assert.ok(readFileSync(hub.logPath, 'utf8').length > 0);
  });

  it('the agent never sends the source password: a recording proxy sees every plaintext byte', async () => {
    const dir = tempDir('security-wire');
    const grpcPort = await freePort();
    const httpPort = await freePort();
    const proxyPort = await freePort();
    const recorded: Buffer[] = [];
    const proxy: Server = createServer((client) => {
      const upstream = connect(grpcPort, '127.0.0.1');
      client.on('data', (d: Buffer) => recorded.push(Buffer.from(d)));
      upstream.on('data', (d: Buffer) => recorded.push(Buffer.from(d)));
      client.pipe(upstream).on('error', () => undefined);
      upstream.pipe(client).on('error', () => undefined);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    proxy.listen(proxyPort, '127.0.0.1');
    const hub = hubProcess({ dir: join(dir, 'hub'), grpcPort, httpPort, sinkPort: pgi.port, sinkDatabase: 'dst', sinkSchema: 'wire', agentId: 'agent-w', sourceId: 'src2' });
    procs.push(hub);
    hub.start();
    const src2 = new pg.Pool({ connectionString: pgi.connectionString('src2'), max: 1 });
    src2.on('error', () => undefined); // an idle connection the server ends must not crash the test process
    await src2.query('CREATE TABLE public.marker (id int PRIMARY KEY, v text)');
    const agent = agentProcess({
      dir: join(dir, 'agent'), hubPort: proxyPort, sourcePort: pgi.port, sourceDatabase: 'src2', agentId: 'agent-w', sourceId: 'src2', slot: 'tributary_wire',
      source: { user: USER, password: { env: 'SRC_PASSWORD' } },
      env: { SRC_PASSWORD: PASSWORD },
    });
    procs.push(agent);
    agent.start();
    await waitFor('the agent to stream', async () => (await src2.query<{ active: boolean }>("SELECT active FROM pg_replication_slots WHERE slot_name = 'tributary_wire'")).rows[0]?.active === true, 90_000);
    await src2.query("INSERT INTO public.marker VALUES (1, 'visible-on-the-wire-7d1e')");
    await waitFor('the marker row at the destination', async () => (await count(dst, 'wire.marker')) === 1, 60_000);
    await agent.stop();
    await hub.stop();
    proxy.close();
    await src2.end();
    const wire = Buffer.concat(recorded);
    appendFileSync(join(dir, 'wire.bin'), wire);
    assert.ok(wire.includes('visible-on-the-wire-7d1e'), 'the recording holds the plaintext payload (so the check below means something)');
    assert.equal(wire.includes(PASSWORD), false, 'the password went over the wire');
    assert.equal(wire.includes(USER), false, 'even the source user name stays home');
    const leaks = filesUnder(join(dir, 'hub')).filter((f) => readFileSync(f).includes(PASSWORD));
    assert.deepEqual(leaks, []);
  });
});
