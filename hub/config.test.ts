import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { parseHubConfig, Secret, type PostgresSinkConfig, type SinkConfig } from './config.js';
import { HubError } from './errors.js';

function asPostgres(s: SinkConfig | undefined): PostgresSinkConfig {
  assert.equal(s?.kind, 'postgres');
  return s as PostgresSinkConfig;
}

const PASSWORD = 'w4rehouse-pa55';

type Json = Record<string, unknown>;

function valid(): Json {
  return {
    hubId: 'hub-eu-1',
    grpc: { listen: '0.0.0.0:7400', maxMessageBytes: 4 << 20 },
    http: { listen: '127.0.0.1:8080' },
    log: { kind: 'embedded', path: '/var/lib/tributary/log' },
    sinks: [
      { kind: 'postgres', name: 'warehouse', host: 'wh.internal', port: 5433, database: 'dw', user: 'loader', password: { env: 'WH_PASSWORD' }, schema: 'raw' },
      { kind: 'postgres', name: 'replica', database: 'copy', user: 'u', password: 'literal-pw' },
    ],
    pipelines: [
      { name: 'orders', agent: 'edge-01', source: 'orders-db', sinks: ['warehouse', 'replica'] },
      { name: 'crm', agent: 'edge-02', source: 'crm', sinks: ['replica'] },
    ],
    logLevel: 'warn',
  };
}

interface Editable {
  [k: string]: unknown;
  sinks: Json[];
  pipelines: Array<Json & { sinks: unknown[] }>;
  grpc: Json;
  http: Json;
  log: Json;
}

function withEdit(edit: (c: Editable) => void): Json {
  const c = structuredClone(valid()) as Editable;
  edit(c);
  return c;
}

function problems(json: unknown, env: NodeJS.ProcessEnv = { WH_PASSWORD: PASSWORD }, label = ''): string[] {
  try {
    parseHubConfig(json, env);
  } catch (e) {
    assert.ok(e instanceof HubError, String(e));
    assert.equal(e.kind, 'config');
    const [head, ...lines] = e.message.split('\n');
    assert.equal(head, 'invalid hub configuration:');
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

describe('parseHubConfig', () => {
  it('parses a valid configuration', () => {
    const c = parseHubConfig(valid(), { WH_PASSWORD: PASSWORD });
    assert.equal(c.hubId, 'hub-eu-1');
    assert.deepEqual(c.grpc, { listen: '0.0.0.0:7400', maxMessageBytes: 4 << 20 });
    assert.deepEqual(c.http, { listen: '127.0.0.1:8080' });
    assert.deepEqual(c.log, { kind: 'embedded', path: '/var/lib/tributary/log' });
    assert.equal(c.logLevel, 'warn');
    assert.equal(c.sinks.length, 2);
    const [wh, replica] = c.sinks.map(asPostgres);
    assert.equal(wh?.name, 'warehouse');
    assert.equal(wh?.host, 'wh.internal');
    assert.equal(wh?.port, 5433);
    assert.equal(wh?.database, 'dw');
    assert.equal(wh?.user, 'loader');
    assert.equal(wh?.schema, 'raw');
    assert.ok(wh?.password instanceof Secret);
    assert.equal(wh.password.reveal(), PASSWORD);
    assert.equal(replica?.password?.reveal(), 'literal-pw');
    assert.deepEqual(c.pipelines, [
      { name: 'orders', workspace: 'default', agent: 'edge-01', source: 'orders-db', sinks: ['warehouse', 'replica'] },
      { name: 'crm', workspace: 'default', agent: 'edge-02', source: 'crm', sinks: ['replica'] },
    ]);
  });

  it('fills defaults for optional fields', () => {
    const c = parseHubConfig({ log: { path: './log' } }, {});
    assert.equal(c.hubId, 'hub');
    assert.deepEqual(c.grpc, { listen: '127.0.0.1:7400', maxMessageBytes: 32 << 20 });
    assert.deepEqual(c.http, { listen: '127.0.0.1:7401' });
    assert.deepEqual(c.log, { kind: 'embedded', path: './log' });
    assert.deepEqual(c.sinks, []);
    assert.deepEqual(c.pipelines, []);
    assert.equal(c.logLevel, 'info');
    const withSink = parseHubConfig({ log: { path: './log' }, sinks: [{ kind: 'postgres', name: 's', database: 'd', user: 'u' }] }, {});
    const pgSink = asPostgres(withSink.sinks[0]);
    assert.equal(pgSink.host, '127.0.0.1');
    assert.equal(pgSink.port, 5432);
    assert.equal(pgSink.schema, 'public');
    assert.equal(pgSink.password, null);
  });

  it('names the path of each wrong field', () => {
    const cases: Array<[string, (c: Editable) => void, RegExp?]> = [
      ['config.hubId', (c) => (c['hubId'] = 'bad id'), /is not a name/],
      ['config.logLevel', (c) => (c['logLevel'] = 'trace')],
      ['grpc', (c) => (c.grpc = [] as never), /expected an object/],
      ['grpc.listen', (c) => (c.grpc['listen'] = '7400'), /host:port/],
      ['grpc.maxMessageBytes', (c) => (c.grpc['maxMessageBytes'] = 10), /from 1024/],
      ['grpc.maxMessageBytes', (c) => (c.grpc['maxMessageBytes'] = (256 << 20) + 1)],
      ['http.listen', (c) => (c.http['listen'] = 80)],
      ['log', (c) => delete (c as Json)['log'], /expected an object/],
      ['log.path', (c) => delete c.log['path'], /missing/],
      ['log.kind', (c) => (c.log['kind'] = 'pulsar'), /not supported/],
      ['sinks', (c) => (c['sinks'] = {} as never), /expected an array/],
      ['sinks[0]', (c) => (c.sinks[0] = 'warehouse' as never), /expected an object/],
      ['sinks[0].kind', (c) => (c.sinks[0]!['kind'] = 'oracle'), /not supported/],
      ['sinks[0].kind', (c) => delete c.sinks[0]!['kind'], /missing/],
      ['sinks[0].name', (c) => (c.sinks[0]!['name'] = '')],
      ['sinks[0].name', (c) => (c.sinks[0]!['name'] = 'has/slash')],
      ['sinks[1].name', (c) => (c.sinks[1]!['name'] = 'warehouse'), /used twice/],
      ['sinks[0].port', (c) => (c.sinks[0]!['port'] = 0), /1 to 65535/],
      ['sinks[1].port', (c) => (c.sinks[1]!['port'] = '5432')],
      ['sinks[0].database', (c) => delete c.sinks[0]!['database'], /missing/],
      ['sinks[1].user', (c) => (c.sinks[1]!['user'] = 3)],
      ['sinks[0].schema', (c) => (c.sinks[0]!['schema'] = 'with"quote')],
      ['sinks[0].schema', (c) => (c.sinks[0]!['schema'] = 'x'.repeat(64))],
      ['sinks[0].password', (c) => (c.sinks[0]!['password'] = 7), /expected an object/],
      ['sinks[0].password.env', (c) => (c.sinks[0]!['password'] = { env: 'not valid' }), /environment variable name/],
      ['pipelines', (c) => (c['pipelines'] = 'orders' as never), /expected an array/],
      ['pipelines[0]', (c) => (c.pipelines[0] = null as never), /expected an object/],
      ['pipelines[0].name', (c) => delete c.pipelines[0]!['name']],
      ['pipelines[1].agent', (c) => (c.pipelines[1]!['agent'] = 'a b')],
      ['pipelines[0].source', (c) => (c.pipelines[0]!['source'] = '')],
      ['pipelines[0].sinks', (c) => (c.pipelines[0]!.sinks = 'warehouse' as never), /expected an array/],
      ['pipelines[0].sinks[0]', (c) => (c.pipelines[0]!.sinks = ['nowhere']), /not a configured sink/],
      ['pipelines[1].sinks[1]', (c) => (c.pipelines[1]!.sinks = ['replica', 5]), /not a configured sink/],
      ['pipelines[0].tables', (c) => (c.pipelines[0]!['tables'] = 'public.*'), /expected an array/],
      ['pipelines[0].tables[1]', (c) => (c.pipelines[0]!['tables'] = ['public.*', 'nodot']), /expected "schema.table" or "schema.\*"/],
    ];
    for (const [path, edit, also] of cases) assertProblem(withEdit(edit), path, also);
  });

  it('lists the configured sinks when a pipeline names an unknown one', () => {
    assertProblem(
      withEdit((c) => (c.pipelines[0]!.sinks = ['warehous'])),
      'pipelines[0].sinks[0]',
      /"warehous" is not a configured sink \(warehouse, replica\)/,
    );
    assertProblem(
      withEdit((c) => {
        c['sinks'] = [];
        c.pipelines = [{ name: 'p', agent: 'a', source: 's', sinks: ['x'] }];
      }),
      'pipelines[0].sinks[0]',
      /none configured/,
    );
  });

  it('names unknown fields at every level, including inside a secret reference', () => {
    const list = problems(
      withEdit((c) => {
        c['kafka'] = {};
        c.grpc['tls'] = true;
        c.http['cors'] = '*';
        c.log['retention'] = '7d';
        c.sinks[0]!['sslmode'] = 'require';
        c.sinks[0]!['password'] = { env: 'WH_PASSWORD', default: 'x' };
        c.pipelines[1]!['filter'] = 'x';
      }),
    );
    for (const path of ['config.kafka', 'grpc.tls', 'http.cors', 'log.retention', 'sinks[0].sslmode', 'sinks[0].password.default', 'pipelines[1].filter']) {
      assert.ok(
        list.some((p) => p.startsWith(`${path}: unknown field`)),
        `${path} not reported in:\n${list.join('\n')}`,
      );
    }
  });

  it('reads { "env": NAME } secrets from the env object passed in and reports missing ones', () => {
    assert.deepEqual(problems(valid(), {}), ['sinks[0].password.env: environment variable WH_PASSWORD is not set']);
    process.env['TRIBUTARY_HUB_TEST_ONLY_IN_PROCESS_ENV'] = 'from-process';
    try {
      const json = withEdit((c) => (c.sinks[0]!['password'] = { env: 'TRIBUTARY_HUB_TEST_ONLY_IN_PROCESS_ENV' }));
      assertProblem(json, 'sinks[0].password.env', /not set/);
      assert.equal(asPostgres(parseHubConfig(json, { TRIBUTARY_HUB_TEST_ONLY_IN_PROCESS_ENV: 'from-object' }).sinks[0]).password?.reveal(), 'from-object');
    } finally {
      delete process.env['TRIBUTARY_HUB_TEST_ONLY_IN_PROCESS_ENV'];
    }
  });

  it('never prints a secret: JSON, util.inspect, String', () => {
    const c = parseHubConfig(valid(), { WH_PASSWORD: PASSWORD });
    const password = asPostgres(c.sinks[0]).password;
    const renderings = [
      JSON.stringify(c),
      JSON.stringify(c, null, 2),
      inspect(c, { depth: null }),
      inspect(c, { depth: null, showHidden: true }),
      inspect(password, { customInspect: false, showHidden: true }),
      String(password),
      JSON.stringify({ ...c.sinks[0] }),
      Object.keys(password ?? {}).join(','),
    ];
    for (const r of renderings) {
      assert.ok(!r.includes(PASSWORD), `secret leaked in: ${r}`);
      assert.ok(!r.includes('literal-pw'), `literal secret leaked in: ${r}`);
    }
    assert.match(JSON.stringify(c), /"password":"\[secret\]"/);
  });

  it('reports every problem together', () => {
    const list = problems(
      {
        hubId: '!',
        grpc: { listen: 'x', maxMessageBytes: 'big' },
        log: {},
        sinks: [{ kind: 'mysql', name: 'a', password: { env: 'NOPE' } }, { name: 'a' }],
        pipelines: [{ sinks: ['b'] }],
        logLevel: 'loud',
        extra: true,
      },
      {},
    );
    const expectedPaths = [
      'config.extra',
      'config.hubId',
      'config.logLevel',
      'grpc.listen',
      'grpc.maxMessageBytes',
      'log.path',
      'sinks[0].kind',
      'sinks[0].database',
      'sinks[0].user',
      'sinks[0].password.env',
      'sinks[1].kind',
      'sinks[1].name',
      'pipelines[0].sinks[0]',
      'pipelines[0].name',
      'pipelines[0].agent',
      'pipelines[0].source',
    ];
    for (const path of expectedPaths) assert.ok(list.some((p) => p.startsWith(`${path}:`)), `${path} missing from:\n${list.join('\n')}`);
  });

  it('refuses a non-object root', () => {
    for (const root of [null, 1, 'x', []]) assert.ok(problems(root, {}).some((p) => p.startsWith('config: expected an object')), JSON.stringify(root));
  });
});
