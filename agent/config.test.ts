import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { parseAgentConfig, Secret } from './config.js';
import { AgentError } from './errors.js';

const PASSWORD = 'hunter2-s3cr3t';

function valid(): Record<string, unknown> {
  return {
    agentId: 'edge-01',
    hub: { address: 'hub.example.com:7400', plaintext: true },
    spool: { path: '/var/lib/tributary/spool', maxBytes: 8 << 20, batchEvents: 500 },
    source: {
      kind: 'postgres',
      id: 'orders-db',
      host: 'db.internal',
      port: 6543,
      database: 'shop',
      user: 'replicator',
      password: { env: 'PG_PASSWORD' },
      slot: 'tributary_orders',
      publication: 'tributary_pub',
      tables: ['public.orders', 'sales.*'],
      createPublication: false,
    },
    logLevel: 'debug',
  };
}

/** A deep copy of the valid config with `edit` applied. */
function withEdit(edit: (c: Record<string, Record<string, unknown>>) => void): Record<string, unknown> {
  const c = structuredClone(valid()) as Record<string, Record<string, unknown>>;
  edit(c);
  return c;
}

/** The problems listed by a config error, one per line. */
function problems(json: unknown, env: NodeJS.ProcessEnv = { PG_PASSWORD: PASSWORD }, label = ''): string[] {
  try {
    parseAgentConfig(json, env);
  } catch (e) {
    assert.ok(e instanceof AgentError, String(e));
    assert.equal(e.kind, 'config');
    const [head, ...lines] = e.message.split('\n');
    assert.equal(head, 'invalid agent configuration:');
    return lines.map((l) => l.trim());
  }
  assert.fail(`expected a config error ${label}`);
}

function assertProblem(json: unknown, path: string, also?: RegExp): void {
  const list = problems(json, undefined, path);
  const hit = list.find((p) => p.startsWith(`${path}:`));
  assert.ok(hit !== undefined, `no problem at ${path} in:\n${list.join('\n')}`);
  if (also) assert.match(hit, also);
}

describe('parseAgentConfig', () => {
  it('parses a valid configuration', () => {
    const c = parseAgentConfig(valid(), { PG_PASSWORD: PASSWORD });
    assert.equal(c.agentId, 'edge-01');
    assert.deepEqual(c.hub, { address: 'hub.example.com:7400', plaintext: true, credentials: null, enrollmentToken: null });
    assert.deepEqual(c.spool, { path: '/var/lib/tributary/spool', maxBytes: 8 << 20, batchEvents: 500, batchBytes: 4 << 20, encryptionKey: null });
    assert.equal(c.logLevel, 'debug');
    const s = c.source;
    assert.equal(s.kind, 'postgres');
    assert.equal(s.id, 'orders-db');
    assert.equal(s.host, 'db.internal');
    assert.equal(s.port, 6543);
    assert.equal(s.database, 'shop');
    assert.equal(s.user, 'replicator');
    assert.ok(s.password instanceof Secret);
    assert.equal(s.password.reveal(), PASSWORD);
    assert.equal(s.slot, 'tributary_orders');
    assert.equal(s.publication, 'tributary_pub');
    assert.deepEqual(s.tables, ['public.orders', 'sales.*']);
    assert.equal(s.createPublication, false);
  });

  it('fills defaults for optional fields', () => {
    const c = parseAgentConfig(
      {
        agentId: 'a',
        hub: { address: '127.0.0.1:7400', plaintext: true },
        spool: { path: './spool' },
        source: { kind: 'postgres', id: 's', database: 'db', user: 'u', slot: 'slot', publication: 'pub' },
      },
      {},
    );
    assert.equal(c.logLevel, 'info');
    assert.equal(c.spool.maxBytes, 1 << 30);
    assert.equal(c.spool.batchEvents, 10_000);
    assert.equal(c.spool.batchBytes, 4 << 20);
    assert.equal(c.source.host, '127.0.0.1');
    assert.equal(c.source.port, 5432);
    assert.equal(c.source.password, null);
    assert.deepEqual(c.source.tables, []);
    assert.equal(c.source.kind === 'postgres' && c.source.createPublication, true);
    assert.equal(c.source.kind === 'postgres' && c.source.heartbeatIntervalMs, 10_000);
  });

  it('reads the heartbeat interval: 0 switches heartbeats off, below 100 ms is refused by name', () => {
    const at = (v: unknown): unknown =>
      withEdit((c) => {
        (c['source'] as Record<string, unknown>)['heartbeatIntervalMs'] = v;
      });
    const off = parseAgentConfig(at(0), { PG_PASSWORD: PASSWORD });
    assert.equal(off.source.kind === 'postgres' && off.source.heartbeatIntervalMs, 0);
    const fast = parseAgentConfig(at(500), { PG_PASSWORD: PASSWORD });
    assert.equal(fast.source.kind === 'postgres' && fast.source.heartbeatIntervalMs, 500);
    assertProblem(at(50), 'source.heartbeatIntervalMs', /0 \(off\) or at least 100/);
    assertProblem(at('10s'), 'source.heartbeatIntervalMs', /integer/);
  });

  it('accepts a literal password and IPv6 hub addresses', () => {
    const c = parseAgentConfig(
      withEdit((c) => {
        (c['source'] as Record<string, unknown>)['password'] = 'literal';
        (c['hub'] as Record<string, unknown>)['address'] = '[::1]:7400';
      }),
      {},
    );
    assert.equal(c.source.password?.reveal(), 'literal');
    assert.equal(c.hub.address, '[::1]:7400');
  });

  it('names the path of each wrong field', () => {
    const cases: Array<[string, (c: Record<string, Record<string, unknown>>) => void, RegExp?]> = [
      ['config.agentId', (c) => (c['agentId'] = 'has space' as never), /is not a name/],
      ['config.agentId', (c) => delete c['agentId'], /missing/],
      ['config.logLevel', (c) => (c['logLevel'] = 'verbose' as never), /debug, info, warn, error/],
      ['hub', (c) => (c['hub'] = 'hub:1' as never), /expected an object/],
      ['hub.address', (c) => (c['hub']!['address'] = 'no-port'), /host:port/],
      ['hub.address', (c) => (c['hub']!['address'] = 7400)],
      ['hub.plaintext', (c) => (c['hub']!['plaintext'] = 'yes'), /true or false/],
      ['spool.path', (c) => (c['spool']!['path'] = '')],
      ['spool.maxBytes', (c) => (c['spool']!['maxBytes'] = 1000), /from 1048576/],
      ['spool.maxBytes', (c) => (c['spool']!['maxBytes'] = (1 << 20) + 0.5)],
      ['spool.batchEvents', (c) => (c['spool']!['batchEvents'] = 0)],
      ['spool.batchEvents', (c) => (c['spool']!['batchEvents'] = '500')],
      ['spool.batchBytes', (c) => (c['spool']!['batchBytes'] = 1000), /from 65536/],
      ['spool.batchBytes', (c) => (c['spool']!['batchBytes'] = 64 << 20), /33554432/],
      ['source', (c) => (c['source'] = [] as never), /expected an object/],
      ['source.kind', (c) => (c['source']!['kind'] = 'oracle'), /not supported/],
      ['source.id', (c) => (c['source']!['id'] = '-bad')],
      ['source.host', (c) => (c['source']!['host'] = 5)],
      ['source.port', (c) => (c['source']!['port'] = 70000), /1 to 65535/],
      ['source.port', (c) => (c['source']!['port'] = '5432')],
      ['source.database', (c) => delete c['source']!['database'], /missing/],
      ['source.user', (c) => (c['source']!['user'] = '')],
      ['source.slot', (c) => (c['source']!['slot'] = 'Has-Caps'), /lower-case identifier/],
      ['source.publication', (c) => (c['source']!['publication'] = 'x'.repeat(64))],
      ['source.tables', (c) => (c['source']!['tables'] = 'public.orders')],
      ['source.tables[1]', (c) => (c['source']!['tables'] = ['public.a', 'no_schema'])],
      ['source.tables[0]', (c) => (c['source']!['tables'] = [42])],
      ['source.createPublication', (c) => (c['source']!['createPublication'] = 1)],
      ['source.password', (c) => (c['source']!['password'] = 12)],
      ['source.password.env', (c) => (c['source']!['password'] = { env: '1BAD' }), /environment variable name/],
    ];
    for (const [path, edit, also] of cases) assertProblem(withEdit(edit), path, also);
  });

  it('names unknown fields at every level', () => {
    const list = problems(
      withEdit((c) => {
        c['extra'] = 1 as never;
        c['hub']!['tls'] = true;
        c['spool']!['size'] = 1;
        c['source']!['sslmode'] = 'require';
      }),
    );
    for (const path of ['config.extra', 'hub.tls', 'spool.size', 'source.sslmode']) {
      assert.ok(
        list.some((p) => p.startsWith(`${path}: unknown field`)),
        `${path} not reported in:\n${list.join('\n')}`,
      );
    }
  });

  it('reads { "env": NAME } secrets from the env object passed in, not process.env', () => {
    process.env['TRIBUTARY_TEST_ONLY_IN_PROCESS_ENV'] = 'from-process';
    try {
      const json = withEdit((c) => (c['source']!['password'] = { env: 'TRIBUTARY_TEST_ONLY_IN_PROCESS_ENV' }));
      assertProblem(json, 'source.password.env', /TRIBUTARY_TEST_ONLY_IN_PROCESS_ENV is not set/);
      const c = parseAgentConfig(json, { TRIBUTARY_TEST_ONLY_IN_PROCESS_ENV: 'from-object' });
      assert.equal(c.source.password?.reveal(), 'from-object');
    } finally {
      delete process.env['TRIBUTARY_TEST_ONLY_IN_PROCESS_ENV'];
    }
  });

  it('reports a missing environment variable', () => {
    const list = problems(valid(), {});
    assert.deepEqual(list, ['source.password.env: environment variable PG_PASSWORD is not set']);
  });

  it('never prints a secret: JSON, util.inspect, String, template strings', () => {
    const c = parseAgentConfig(valid(), { PG_PASSWORD: PASSWORD });
    const renderings = [
      JSON.stringify(c),
      JSON.stringify(c, null, 2),
      inspect(c, { depth: null }),
      inspect(c, { depth: null, showHidden: true }),
      inspect(c.source.password, { customInspect: false, showHidden: true }),
      String(c.source.password),
      `${String(c.source.password)}`,
      JSON.stringify({ ...c.source }),
      Object.keys(c.source.password ?? {}).join(','),
    ];
    for (const r of renderings) assert.ok(!r.includes(PASSWORD), `secret leaked in: ${r}`);
    assert.match(JSON.stringify(c), /"password":"\[secret\]"/);
    assert.match(inspect(c, { depth: null }), /\[secret\]/);
  });

  it('takes an optional spool encryption key of 64 hex characters, as a secret', () => {
    const key = 'a1'.repeat(32);
    const c = parseAgentConfig(withEdit((c) => (c['spool']!['encryptionKey'] = { env: 'SPOOL_KEY' })), { PG_PASSWORD: PASSWORD, SPOOL_KEY: key });
    assert.equal(c.spool.encryptionKey?.reveal(), key);
    assert.equal(JSON.stringify(c).includes(key), false);
    assertProblem(withEdit((c) => (c['spool']!['encryptionKey'] = 'short')), 'spool.encryptionKey', /64 hexadecimal/);
  });

  it('uses TLS by default and then requires a credentials directory', () => {
    const list = problems(withEdit((c) => delete c['hub']!['plaintext']));
    assert.equal(list.length, 1);
    assert.match(list[0] ?? '', /^hub\.credentials: required/);
    const c = parseAgentConfig(
      withEdit((c) => {
        delete c['hub']!['plaintext'];
        c['hub']!['credentials'] = '/var/lib/tributary/credentials';
        c['hub']!['enrollmentToken'] = { env: 'ENROLL' };
      }),
      { PG_PASSWORD: 'pw', ENROLL: 'tre1.x' },
    );
    assert.equal(c.hub.plaintext, false);
    assert.equal(c.hub.credentials, '/var/lib/tributary/credentials');
    assert.equal(c.hub.enrollmentToken?.reveal(), 'tre1.x');
    assert.equal(JSON.stringify(c.hub).includes('tre1.x'), false);
  });

  it(
    'refuses plaintext combined with TLS credentials, together with other problems',
    () => {
      const list = problems(
        withEdit((c) => {
          c['hub']!['credentials'] = '/tmp/creds';
          c['source']!['port'] = 0;
        }),
      );
      assert.ok(list.some((p) => p.startsWith('source.port:')));
      assert.ok(list.some((p) => p.startsWith('hub.plaintext:')), list.join('\n'));
    },
  );

  it(
    'names unknown fields inside a { "env": NAME } secret reference',
    () => {
      assertProblem(
        withEdit((c) => (c['source']!['password'] = { env: 'PG_PASSWORD', fallback: 'plain' })),
        'source.password.fallback',
        /unknown field/,
      );
    },
  );

  it('reports every problem together', () => {
    const list = problems(
      {
        agentId: '',
        hub: { address: 'nope', plaintext: 'x' },
        spool: { maxBytes: 1 },
        source: { kind: 'oracle', port: 0, tables: ['x'], password: { env: 'MISSING_VAR' }, bogus: true },
        logLevel: 'loud',
        surprise: {},
      },
      {},
    );
    const expectedPaths = [
      'config.surprise',
      'config.logLevel',
      'config.agentId',
      'hub.address',
      'hub.plaintext',
      'spool.path',
      'spool.maxBytes',
      'source.kind',
      'source.bogus',
      'source.tables[0]',
      'source.id',
      'source.port',
      'source.database',
      'source.user',
      'source.password.env',
      'source.slot',
      'source.publication',
    ];
    for (const path of expectedPaths) assert.ok(list.some((p) => p.startsWith(`${path}:`)), `${path} missing from:\n${list.join('\n')}`);
    assert.ok(list.length >= expectedPaths.length);
  });

  it('refuses a non-object root', () => {
    for (const root of [null, 42, 'config', []]) assert.ok(problems(root).some((p) => p.startsWith('config: expected an object')), JSON.stringify(root));
  });
});
