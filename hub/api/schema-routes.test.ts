import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { Hono } from 'hono';
import { ColumnSchema, TableSchemaSchema, ValueKind } from '../../proto/gen/tributary/v1/change_pb.js';
import type { SchemaRecord } from '../log/change-log.js';
import type { ApiEnv } from './auth-middleware.js';
import { schemaErrors } from '../../test/support/check-schema.js';
import { OPERATIONS_ROUTES } from './openapi/routes-operations.js';
import { schemaRoutes } from './schema-routes.js';

/** The response schema the OpenAPI document gives the route. */
function documented(path: string): Record<string, unknown> {
  const r = OPERATIONS_ROUTES.find((x) => x.path === path);
  if (r === undefined || r.response === 'text') throw new Error(`${path} is not documented`);
  return r.response as Record<string, unknown>;
}

const rec = (sourceKey: string, table: string, version: number, cols: [string, string, boolean?][], seenUs: number): SchemaRecord => ({
  sourceKey,
  firstSeenUs: seenUs,
  schema: create(TableSchemaSchema, {
    schema: 'public',
    table,
    version,
    sincePosition: BigInt(version * 1000),
    columns: cols.map(([name, sourceType, key]) => create(ColumnSchema, { name, sourceType, kind: ValueKind.INT32, key: key === true, nullable: key !== true })),
  }),
});

const records = [
  rec('edge/db', 'orders', 2, [['id', 'integer', true], ['qty', 'bigint']], 2_000_000),
  rec('edge/db', 'orders', 1, [['id', 'integer', true], ['qty', 'integer'], ['note', 'text']], 1_000_000),
  rec('edge/db', 'items', 1, [['id', 'integer', true]], 1_500_000),
  rec('other/db', 'secret', 1, [['id', 'integer', true]], 1_000_000),
];

function app(workspace: string) {
  const a = new Hono<ApiEnv>();
  a.use('*', async (c, next) => {
    c.set('principal', { workspace, scope: 'read' } as ApiEnv['Variables']['principal']);
    await next();
  });
  a.route('/', schemaRoutes({ log: { schemaRecords: () => records }, workspaceOf: (k) => (k.startsWith('edge/') ? 'default' : 'other') }));
  return a;
}

describe('schema routes', () => {
  it('lists the workspace\'s tables with their current version', async () => {
    const res = await app('default').request('/v1/schemas');
    assert.equal(res.status, 200);
    const body = (await res.json()) as { tables: { table: string; version: number; versions: number; firstSeenAt: string; changedAt: string }[] };
    assert.deepEqual(schemaErrors(documented('/v1/schemas'), body, {}), [], 'the answer has the documented shape');
    assert.deepEqual(body.tables.map((t) => [t.table, t.version, t.versions]), [['items', 1, 1], ['orders', 2, 2]]);
    assert.equal(body.tables[1]?.firstSeenAt, '1970-01-01T00:00:01.000Z');
    assert.equal(body.tables[1]?.changedAt, '1970-01-01T00:00:02.000Z');
  });

  it('returns every version with columns, key, since position and diff', async () => {
    const res = await app('default').request('/v1/schemas/edge/db/public/orders');
    assert.equal(res.status, 200);
    const body = (await res.json()) as { versions: { version: number; sincePosition: string; key: string[]; columns: { name: string; type: string }[]; diff: { added: unknown[]; dropped: { name: string }[]; typeChanged: unknown[] } }[] };
    assert.deepEqual(schemaErrors(documented('/v1/schemas/{agent}/{source}/{schema}/{table}'), body, {}), [], 'the answer has the documented shape');
    assert.deepEqual(body.versions.map((v) => v.version), [1, 2]);
    assert.equal(body.versions[0]?.diff.added.length, 3);
    assert.deepEqual(body.versions[1]?.key, ['id']);
    assert.equal(body.versions[1]?.sincePosition, '2000');
    assert.deepEqual(body.versions[1]?.diff.dropped.map((c) => c.name), ['note']);
    assert.deepEqual(body.versions[1]?.diff.typeChanged, [{ column: 'qty', from: 'integer', to: 'bigint', change: 'widened' }]);
  });

  it('hides other workspaces\' tables and answers 404 with a stable code', async () => {
    const list = (await (await app('default').request('/v1/schemas')).json()) as { tables: { table: string }[] };
    assert.ok(!list.tables.some((t) => t.table === 'secret'));
    const res = await app('default').request('/v1/schemas/other/db/public/secret');
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
  });
});
